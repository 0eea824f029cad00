/**
 * Every error the archiver raises on purpose. All carry `cause` (native `ErrorOptions`) and a
 * stable `name`, so callers can match with `instanceof` and logs keep the chain.
 *
 * Messages never contain a secret: adapters redact URLs and never echo a key or a UserSig.
 */
export class ArchiverError extends Error {
  public constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'ArchiverError';
  }
}

/** Bad configuration or input. `field` names the offending setting (dotted path) when known. */
export class ConfigError extends ArchiverError {
  public readonly field: string | undefined;
  public constructor(message: string, options?: ErrorOptions & { field?: string }) {
    super(message, options);
    this.name = 'ConfigError';
    this.field = options?.field;
  }
}

/** The Tencent REST API answered `ActionStatus: FAIL` (or a non-zero `ErrorCode`). */
export class TencentApiError extends ArchiverError {
  public readonly api: string;
  public readonly code: number;
  public readonly info: string;
  public constructor(api: string, code: number, info: string, options?: ErrorOptions) {
    super(`Tencent API ${api} failed with ErrorCode ${code}: ${info || '(no ErrorInfo)'}`, options);
    this.name = 'TencentApiError';
    this.api = api;
    this.code = code;
    this.info = info;
  }
}

/** What went wrong below the API envelope. */
export type TransportFailure =
  | 'network' // connection refused/reset, DNS, socket hang-up
  | 'timeout' // our per-request timeout fired
  | 'http-status' // a non-200 answer (e.g. 502 with an HTML body)
  | 'malformed-body' // 200 but not the JSON envelope we expect
  | 'too-large'; // the answer passed the size cap (http-post.ts) and was cut off

/** The request did not produce a valid API envelope. */
export class TransportError extends ArchiverError {
  public readonly api: string;
  public readonly failure: TransportFailure;
  public readonly status: number | undefined;
  public constructor(
    api: string,
    failure: TransportFailure,
    message: string,
    options?: ErrorOptions & { status?: number },
  ) {
    super(`Tencent API ${api}: ${message}`, options);
    this.name = 'TransportError';
    this.api = api;
    this.failure = failure;
    this.status = options?.status;
  }
}

/** The retry policy's verdict on a call it gave up on (`functions/domain/retry-policy.ts`). */
export type GiveUpAction = 'skip-group' | 'fatal-config' | 'fatal' | 'retries-exhausted' | 'shrink-request';

/**
 * A failure the retry policy judged not worth retrying (or retries ran out). `action` is the
 * policy's verdict; what it means to a caller (skip the target, ask for less, stop the run) is read
 * with the predicates of `functions/domain/retry-policy.ts`, never by comparing actions.
 */
export class GiveUpError extends ArchiverError {
  public readonly action: GiveUpAction;
  public readonly attempts: number;
  public constructor(
    action: GiveUpError['action'],
    message: string,
    options: ErrorOptions & { attempts: number },
  ) {
    super(message, options);
    this.name = 'GiveUpError';
    this.action = action;
    this.attempts = options.attempts;
  }
}

/** The caller's AbortSignal fired (deadline reached, run cancelled). Never retried. */
export class AbortedError extends ArchiverError {
  public constructor(message = 'Operation aborted', options?: ErrorOptions) {
    super(message, options);
    this.name = 'AbortedError';
  }
}

/** A conditional write lost: the object changed (or appeared) since it was read. */
export class PreconditionFailedError extends ArchiverError {
  public readonly key: string;
  public constructor(key: string, options?: ErrorOptions) {
    super(`conditional write failed for ${key}: it changed since it was read`, options);
    this.name = 'PreconditionFailedError';
    this.key = key;
  }
}

/** The archive storage failed (access denied, throttled beyond retries, disk full, …). */
export class StorageError extends ArchiverError {
  public readonly key: string | undefined;
  public readonly retryable: boolean;
  public constructor(message: string, options?: ErrorOptions & { key?: string; retryable?: boolean }) {
    super(message, options);
    this.name = 'StorageError';
    this.key = options?.key;
    this.retryable = options?.retryable ?? false;
  }
}

/**
 * An object in a storage class that cannot be read without a restore (S3 Glacier Flexible
 * Retrieval, Deep Archive, or an Intelligent-Tiering archive tier: S3 answers `InvalidObjectState`).
 * A StorageError, so callers that do not expect it fail as before; the audit skips such objects.
 */
export class ArchivedObjectError extends StorageError {
  /** The object's storage class, when S3 names it (`GLACIER`, `DEEP_ARCHIVE`, …). */
  public readonly storageClass: string | undefined;
  public constructor(message: string, options: ErrorOptions & { key: string; storageClass?: string }) {
    super(message, options);
    this.name = 'ArchivedObjectError';
    this.storageClass = options.storageClass;
  }
}

/**
 * The API's answer contradicts itself or its documentation in a way that retrying smaller requests
 * did not resolve (a repeated `Next`, `IsFinished` 2 over live messages, …). Names the API and what
 * was seen, so the fix can be found; the caller fails the target (or the listing) instead of
 * silently skipping data.
 */
export class InconsistentAnswerError extends ArchiverError {
  public readonly api: string;
  public constructor(api: string, message: string, options?: ErrorOptions) {
    super(`Tencent API ${api}: ${message}`, options);
    this.name = 'InconsistentAnswerError';
    this.api = api;
  }
}

/** The state object is unreadable or from an unknown version. Never silently restarted from scratch. */
export class StateCorruptError extends ArchiverError {
  public constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'StateCorruptError';
  }
}

/** A fingerprint log that cannot be read: the rescan of that day must not guess. */
export class FingerprintLogError extends ArchiverError {
  public constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'FingerprintLogError';
  }
}
