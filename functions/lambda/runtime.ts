/**
 * The Lambda's `Runtime` (see composition.ts): the system clock, Powertools Logger behind the
 * `Logger` port with every message and field scrubbed of secrets, and a secret resolver that
 * returns what @middy/ssm already fetched (no second SSM call, no other secret source).
 */
import { redactSecrets } from '../adapters/logging/redact.ts';
import { hostProcesses } from '../adapters/process/host-processes.ts';
import { systemClock } from '../adapters/system-clock.ts';
import { type Runtime, SecretRegistry } from '../composition.ts';
import type { SecretSource } from '../config/schema.ts';
import { ConfigError } from '../domain/errors.ts';
import type { LogFields, Logger } from '../domain/ports.ts';

/** The part of Powertools Logger the port uses (a fake in unit tests). */
export interface StructuredLogger {
  debug(message: string, ...extra: LogFields[]): void;
  info(message: string, ...extra: LogFields[]): void;
  warn(message: string, ...extra: LogFields[]): void;
  error(message: string, ...extra: LogFields[]): void;
}

const MAX_DEPTH = 8;

/**
 * A copy of `value` with every string passed through {@link redactSecrets}. Errors become
 * `{ name, message }`: their stacks repeat the message and add nothing a log reader needs.
 */
export function redactFields(value: unknown, secrets: readonly string[], depth = 0): unknown {
  if (typeof value === 'string') return redactSecrets(value, secrets);
  if (typeof value === 'bigint') return value.toString();
  if (value === null || typeof value !== 'object') return value;
  if (depth >= MAX_DEPTH) return '[nested too deep]';
  if (value instanceof Error) {
    return { name: value.name, message: redactSecrets(value.message, secrets) };
  }
  if (Array.isArray(value)) return value.map((item) => redactFields(item, secrets, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value)) {
    out[redactSecrets(key, secrets)] = redactFields(item, secrets, depth + 1);
  }
  return out;
}

/**
 * The `Logger` port over a structured logger. Secrets are read per line, so UserSigs signed
 * mid-run are masked from the moment they exist.
 */
export function redactingLogger(target: StructuredLogger, secrets: () => Iterable<string>): Logger {
  const emit =
    (level: keyof StructuredLogger) =>
    (message: string, fields?: LogFields): void => {
      const current = [...secrets()];
      const text = redactSecrets(message, current);
      if (fields === undefined) target[level](text);
      else target[level](text, redactFields(fields, current) as LogFields);
    };
  return { debug: emit('debug'), info: emit('info'), warn: emit('warn'), error: emit('error') };
}

/**
 * A runtime for one invocation. `secretValues` maps SSM parameter names to the values middy
 * fetched for this invocation's app; they are registered for redaction before anything logs.
 */
export function lambdaRuntime(args: {
  logger: StructuredLogger;
  secretValues: ReadonlyMap<string, string>;
}): Runtime {
  const secrets = new SecretRegistry();
  secrets.add(() => args.secretValues.values());
  const resolveSecret = async (source: SecretSource, field: string): Promise<string> => {
    if (!('ssmParameter' in source)) {
      throw new ConfigError(`${field}: the Lambda reads secrets only from SSM Parameter Store`, { field });
    }
    const value = args.secretValues.get(source.ssmParameter)?.trim();
    if (value === undefined || value === '') {
      throw new ConfigError(`${field}: SSM parameter ${source.ssmParameter} was not fetched or is empty`, {
        field,
      });
    }
    return value;
  };
  return {
    clock: systemClock,
    random: Math.random,
    logger: redactingLogger(args.logger, () => secrets.all()),
    resolveSecret,
    secrets,
    // Sandboxes share hostnames and pids; the log stream names one sandbox.
    processes: hostProcesses({ host: `lambda:${process.env.AWS_LAMBDA_LOG_STREAM_NAME ?? 'unknown'}` }),
  };
}
