/**
 * The storage port: one object store (a local folder or an S3 bucket prefix) holds the archive,
 * the continuation state and the run reports. Keys are `/`-separated and relative to the
 * configured root. Conditional writes make the state safe against concurrent runs.
 */
import type { Readable } from 'node:stream';

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
  /**
   * The object, or `undefined` if absent.
   * @throws ArchivedObjectError when the object must be restored before it can be read
   * @throws StorageError for anything else
   */
  get(key: string): Promise<StoredObject | undefined>;
  /** Delete if present; deleting an absent key is not an error. */
  delete(key: string): Promise<void>;
  /** Every key under `prefix` (recursive), in lexicographic order. */
  list(prefix: string): AsyncIterable<string>;
  /**
   * The keys under `prefix` whose storage class cannot be read without a restore (S3 Glacier
   * Flexible Retrieval and Deep Archive, see {@link ARCHIVED_STORAGE_CLASSES}); absent on stores
   * without storage classes (a local folder).
   */
  listArchived?(prefix: string): AsyncIterable<string>;
}

/**
 * S3 storage classes (as ListObjectsV2 names them) whose objects GetObject refuses until restored,
 * and that Athena skips (docs/audit.md).
 */
export const ARCHIVED_STORAGE_CLASSES: ReadonlySet<string> = new Set(['GLACIER', 'DEEP_ARCHIVE']);

/** Options of {@link StreamingObjectStore.putStream}. */
export interface PutStreamOptions {
  /** `'*'`: create only if absent. */
  ifNoneMatch?: '*';
  contentType?: string;
  /** User metadata (S3 `x-amz-meta-*`); values are stored percent-encoded where not plain ASCII. */
  metadata?: Record<string, string>;
  /** Aborts the upload; nothing is published. */
  signal?: AbortSignal;
}

/** What {@link StreamingObjectStore.head} tells about an object. */
export interface ObjectHead {
  bytes: number;
  contentType: string | undefined;
  metadata: Record<string, string>;
}

/**
 * A store that can also take bodies too large to hold in memory (media files up to the configured
 * maximum), streamed: a local temp file and a rename, or an S3 multipart upload.
 */
export interface StreamingObjectStore extends ObjectStore {
  /**
   * Streams `body` into `key`; readers never see a partial object, and an aborted or failed upload
   * leaves nothing behind.
   * @throws PreconditionFailedError when `ifNoneMatch` is set and the key exists
   * @throws StorageError for anything else
   */
  putStream(key: string, body: Readable, options?: PutStreamOptions): Promise<{ bytes: number }>;
  /** Size, type and metadata of the object, or `undefined` if absent. */
  head(key: string): Promise<ObjectHead | undefined>;
}
