/**
 * The storage port: one object store (a local folder or an S3 bucket prefix) holds the archive,
 * the continuation state and the run reports. Keys are `/`-separated and relative to the
 * configured root. Conditional writes make the state safe against concurrent runs.
 */

export interface PutOptions {
  /** `'*'`: create only if absent (S3 `If-None-Match: *`). */
  ifNoneMatch?: '*';
  /** Replace only if the current ETag equals this (S3 `If-Match`). */
  ifMatch?: string;
  contentType?: string;
  contentEncoding?: string;
}

export interface StoredObject {
  body: Uint8Array;
  etag: string;
}

export interface ObjectStore {
  /** Human-readable location for messages, e.g. `./archive` or `s3://bucket/prefix`. */
  readonly location: string;
  /**
   * Write an object atomically (readers never see a partial body).
   * @throws PreconditionFailedError when `ifNoneMatch`/`ifMatch` does not hold
   * @throws StorageError for anything else (with `retryable` set for throttling/5xx)
   */
  put(key: string, body: Uint8Array, options?: PutOptions): Promise<{ etag: string }>;
  /** The object, or `undefined` if absent. */
  get(key: string): Promise<StoredObject | undefined>;
  /** Delete if present; deleting an absent key is not an error. */
  delete(key: string): Promise<void>;
  /** Every key under `prefix` (recursive), in lexicographic order. */
  list(prefix: string): AsyncIterable<string>;
}
