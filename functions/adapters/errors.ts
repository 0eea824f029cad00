/**
 * Every error an adapter raises on purpose, in one file: the Tencent transport's answer cap and
 * UserSig decoding, the media downloader's refusals and idle timeout, the post-deploy self-check's
 * failed invocation, and the Athena runner's failed, cancelled, limited or timed-out executions.
 * Domain errors (`functions/domain/errors.ts`) are what adapters raise through the ports; these are
 * the adapters' own. Each message says what happened (and, for the Athena ones, what to do next)
 * and never contains a secret.
 */
import { ArchiverError } from '../domain/errors.ts';

// ---------------------------------------------------------------------------------------------
// Tencent transport and UserSig (adapters/tencent)
// ---------------------------------------------------------------------------------------------

/**
 * The answer passed the cap (`DEFAULT_MAX_ANSWER_BYTES` in `tencent/http-post.ts`) and was cut off
 * unread. The client turns it into a `TransportError` of failure `too-large`, which the retry
 * policy never retries as is (functions/domain/retry-policy.ts).
 */
export class AnswerTooLargeError extends ArchiverError {
  public readonly code = 'EANSWERTOOLARGE';
  public constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'AnswerTooLargeError';
  }
}

/** The UserSig string could not be decoded into a TLSSigAPIv2 document. The message never contains the sig. */
export class UserSigFormatError extends ArchiverError {
  public constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'UserSigFormatError';
  }
}

// ---------------------------------------------------------------------------------------------
// Media downloads (adapters/media/downloader.ts)
// ---------------------------------------------------------------------------------------------

/** A rule broke: the URL must not be fetched or the body must not be kept (recorded as `refused`). */
export class MediaRefusedError extends ArchiverError {
  public constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'MediaRefusedError';
  }
}

/** The downloader's idle timer fired: no data for the idle timeout (a transient `timeout`). */
export class MediaIdleTimeoutError extends ArchiverError {
  public constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'MediaIdleTimeoutError';
  }
}

// ---------------------------------------------------------------------------------------------
// Athena query runner (adapters/aws/athena-runner.ts)
// ---------------------------------------------------------------------------------------------

/** Base of every Athena execution failure; carries the execution id for the console. */
export class QueryExecutionError extends ArchiverError {
  public readonly queryExecutionId: string;
  public constructor(message: string, queryExecutionId: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'QueryExecutionError';
    this.queryExecutionId = queryExecutionId;
  }
}

/** Athena reported FAILED: a syntax error, a missing table, a permission, a bad file. */
export class QueryFailedError extends QueryExecutionError {
  public readonly reason: string;
  public constructor(queryExecutionId: string, reason: string, errorType?: string) {
    super(
      `Athena query ${queryExecutionId} failed: ${reason || '(no reason given)'}${errorType ? ` [${errorType}]` : ''}`,
      queryExecutionId,
    );
    this.name = 'QueryFailedError';
    this.reason = reason;
  }
}

/** Athena reported CANCELLED for a reason other than the bytes limit (a user or admin stopped it). */
export class QueryCancelledError extends QueryExecutionError {
  public constructor(queryExecutionId: string, reason: string) {
    super(
      `Athena query ${queryExecutionId} was cancelled${reason ? `: ${reason}` : ' (by a user or an administrator)'}`,
      queryExecutionId,
    );
    this.name = 'QueryCancelledError';
  }
}

/** The workgroup's per-query bytes-scanned cutoff stopped the query. */
export class BytesScannedLimitError extends QueryExecutionError {
  public readonly cutoffBytes: number | undefined;
  public readonly scannedBytes: number | undefined;
  public constructor(
    queryExecutionId: string,
    details: { workGroup: string; reason: string; cutoffBytes?: number; scannedBytes?: number },
  ) {
    const limit = details.cutoffBytes === undefined ? '' : ` of ${formatBytes(details.cutoffBytes)}`;
    super(
      `Athena stopped query ${queryExecutionId}: it would scan more than the per-query limit${limit} ` +
        `of workgroup "${details.workGroup}" (${details.reason || 'bytes scanned limit exceeded'}). ` +
        'Narrow it by the dt partition, e.g. --params from=2024-03-01 to=2024-03-07 or ' +
        "WHERE dt BETWEEN '2024-03-01' AND '2024-03-07', so only those days are read; " +
        'or ask an administrator to raise BytesScannedCutoffPerQuery on the workgroup.',
      queryExecutionId,
    );
    this.name = 'BytesScannedLimitError';
    this.cutoffBytes = details.cutoffBytes;
    this.scannedBytes = details.scannedBytes;
  }
}

/** The query ran longer than the caller allowed; it was stopped. */
export class QueryTimeoutError extends QueryExecutionError {
  public constructor(queryExecutionId: string, timeoutMs: number) {
    super(
      `Athena query ${queryExecutionId} did not finish within ${Math.round(timeoutMs / 1000)} s and was stopped; ` +
        'narrow it by dt or raise --timeout',
      queryExecutionId,
    );
    this.name = 'QueryTimeoutError';
  }
}

/** `1536` → `1.5 KiB`. */
export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${bytes} B` : `${value.toFixed(1)} ${units[unit]}`;
}

// ---------------------------------------------------------------------------------------------
// Hourly history files (adapters/tencent/history-files.ts)
// ---------------------------------------------------------------------------------------------

/** An hourly file could not be downloaded; the message never holds its URL (it may be signed). */
export class HistoryFileDownloadError extends ArchiverError {
  public constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'HistoryFileDownloadError';
  }
}
