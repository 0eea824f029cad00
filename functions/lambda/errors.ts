/**
 * What the function throws, as Step Functions sees it: the error's `name` becomes the Lambda
 * `errorType` that Retry/Catch match, and its message is logged by the Lambda runtime, so it is
 * rebuilt here from redacted text only (no cause chain, no stack that could quote a secret).
 */
import { redactSecrets } from '../adapters/logging/redact.ts';
import { ArchiverError, ConfigError, StorageError } from '../domain/errors.ts';
import { isConfigGiveUp, isRetriesExhausted } from '../domain/retry-policy.ts';
import { HardStopError, LeaseHeldError, RunFailedError } from '../engine/errors.ts';
import { ERROR_NAME } from './contract.ts';

/** A failure worth retrying later: throttling or an outage outlasted the in-process retries. */
export class TransientError extends ArchiverError {
  public constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = ERROR_NAME.transient;
  }
}

/** The category name Step Functions will see for `error`. */
export function errorNameFor(error: unknown): string {
  if (error instanceof LeaseHeldError) return ERROR_NAME.leaseHeld;
  if (error instanceof ConfigError) return ERROR_NAME.config;
  if (error instanceof TransientError) return ERROR_NAME.transient;
  if (error instanceof StorageError && error.retryable) return ERROR_NAME.transient;
  // The invocation's time ran out mid-run: the next invocation rolls back and continues.
  if (error instanceof RunFailedError && error.cause instanceof HardStopError) return ERROR_NAME.timeout;
  // A wrong key, region or admin account is configuration, even when found mid-run.
  if (error instanceof RunFailedError && isConfigGiveUp(error.cause)) return ERROR_NAME.config;
  if (error instanceof RunFailedError && isRetriesExhausted(error.cause)) return ERROR_NAME.transient;
  if (error instanceof RunFailedError && error.cause instanceof StorageError && error.cause.retryable) {
    return ERROR_NAME.transient;
  }
  return error instanceof Error ? error.name : 'Error';
}

/** A fresh error with the category name and a redacted message; the stack names only this module. */
export function publicError(error: unknown, secrets: Iterable<string>): Error {
  const message = error instanceof Error ? error.message : String(error);
  const out = new Error(redactSecrets(message, secrets));
  out.name = errorNameFor(error);
  out.stack = `${out.name}: ${out.message}`;
  return out;
}
