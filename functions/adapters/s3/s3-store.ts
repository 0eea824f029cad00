/**
 * An ObjectStore on an S3 bucket prefix (or any S3-compatible endpoint, e.g. s3rver in tests).
 *
 * Conditional writes are S3's own `If-None-Match: *` / `If-Match: <etag>` on PutObject, so the
 * state object is safe against concurrent runs without any lock. Throttling and 5xx answers are
 * retried by the SDK (see {@link createS3Client}); what still fails afterwards becomes a
 * StorageError with `retryable: true`. Messages name the bucket and key, never credentials.
 */
import { type Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import {
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  PutObjectCommand,
  paginateListObjectsV2,
  S3Client,
  type S3ClientConfig,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import {
  ArchivedObjectError,
  ConfigError,
  PreconditionFailedError,
  StorageError,
} from '../../domain/errors.ts';
import {
  ARCHIVED_STORAGE_CLASSES,
  type ObjectHead,
  type PutOptions,
  type PutStreamOptions,
  type StoredObject,
  type StreamingObjectStore,
} from '../../domain/storage.ts';
import { listPrefixProblem, validateListPrefix, validateObjectKey } from '../object-key.ts';

export interface S3StoreOptions {
  client: S3Client;
  bucket: string;
  /** Key prefix inside the bucket (`archive` or `archive/`); keys are relative to it. */
  prefix?: string;
  /** ListObjectsV2 page size (MaxKeys); S3's maximum and default is 1000. Tests use a tiny one. */
  pageSize?: number;
}

/** The operations this store performs, with the IAM action each one needs. */
const IAM_ACTIONS = {
  PutObject: 's3:PutObject',
  Upload: 's3:PutObject (multipart: also s3:AbortMultipartUpload)',
  HeadObject: 's3:GetObject',
  GetObject: 's3:GetObject',
  DeleteObject: 's3:DeleteObject',
  ListObjectsV2: 's3:ListBucket',
} as const;
type S3Operation = keyof typeof IAM_ACTIONS;

/** What an SDK failure means to this store. */
type FailureKind =
  | 'precondition'
  | 'not-found'
  | 'no-bucket'
  | 'access-denied'
  | 'bad-credentials'
  | 'transient'
  | 'other';

const ACCESS_DENIED_NAMES = new Set(['AccessDenied', 'Forbidden', 'AllAccessDisabled']);
const BAD_CREDENTIALS_NAMES = new Set([
  'InvalidAccessKeyId',
  'SignatureDoesNotMatch',
  'ExpiredToken',
  'InvalidToken',
  'TokenRefreshRequired',
  'CredentialsProviderError',
]);
const TRANSIENT_NAMES = new Set([
  'SlowDown',
  'ServiceUnavailable',
  'InternalError',
  'RequestTimeout',
  'Throttling',
  'ThrottlingException',
  'RequestLimitExceeded',
  'TooManyRequestsException',
  'TimeoutError',
]);
/** Socket-level failures (no HTTP answer at all): worth another try later. */
const TRANSIENT_ERRNOS = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ETIMEDOUT',
  'EPIPE',
  'EAI_AGAIN',
  'ENETUNREACH',
]);

/**
 * Builds the S3 client the archiver uses.
 *
 * `AWS_ENDPOINT_URL_S3` (or `AWS_ENDPOINT_URL`) is honoured by the SDK itself; it is only read here
 * to know that a custom endpoint is in use, which turns on path-style addressing and
 * `WHEN_REQUIRED` checksums.
 */
export function createS3Client(options: { region?: string; endpoint?: string } = {}): S3Client {
  const customEndpoint = options.endpoint ?? process.env.AWS_ENDPOINT_URL_S3 ?? process.env.AWS_ENDPOINT_URL;
  const config: S3ClientConfig = {
    // Throttling (SlowDown, 503) and 5xx retries are the SDK's job: adaptive mode also slows the
    // client down when S3 throttles. Only what still fails after 8 attempts reaches the store.
    maxAttempts: 8,
    retryMode: 'adaptive',
  };
  if (options.region) config.region = options.region;
  if (options.endpoint) config.endpoint = options.endpoint;
  if (customEndpoint) {
    // S3-compatible servers (s3rver, MinIO) are addressed by path: `bucket.localhost` does not resolve.
    config.forcePathStyle = true;
    // With the default (WHEN_SUPPORTED) the SDK sends aws-chunked bodies with trailing checksums,
    // which s3rver stores verbatim, framing included. Real S3 keeps the default integrity checks.
    config.requestChecksumCalculation = 'WHEN_REQUIRED';
    config.responseChecksumValidation = 'WHEN_REQUIRED';
  }
  return new S3Client(config);
}

/**
 * Parses `s3://bucket` or `s3://bucket/some/prefix` into a bucket and a prefix that is empty or
 * ends with `/`. The prefix is taken literally (not percent-decoded): it is an S3 key prefix.
 * @throws ConfigError naming the URL and what is wrong with it
 */
export function parseS3Url(url: string): { bucket: string; prefix: string } {
  const match = /^s3:\/\/([^/]*)(?:\/(.*))?$/s.exec(url);
  if (!match) throw badUrl(url, 'it must look like s3://bucket or s3://bucket/some/prefix');
  const bucket = match[1] ?? '';
  const path = match[2] ?? '';
  if (bucket === '') throw badUrl(url, 'the bucket name is missing');
  if (!isValidBucketName(bucket)) {
    throw badUrl(
      url,
      `"${bucket}" is not a valid bucket name (3-63 characters: lowercase letters, digits, dots and hyphens, starting and ending with a letter or digit)`,
    );
  }
  if (/[?#]/.test(path)) throw badUrl(url, 'a query string or fragment is not allowed');
  return { bucket, prefix: normalizePrefix(path, (reason) => badUrl(url, reason)) };
}

/** Multipart part size of streamed uploads: S3's minimum, so memory per upload stays ~2 parts. */
const PART_SIZE = 5 * 1024 * 1024;

export class S3Store implements StreamingObjectStore {
  public readonly location: string;
  private readonly client: S3Client;
  private readonly bucket: string;
  private readonly prefix: string;
  private readonly pageSize: number | undefined;

  /** @throws ConfigError for an invalid prefix */
  public constructor(options: S3StoreOptions) {
    this.client = options.client;
    this.bucket = options.bucket;
    this.prefix = normalizePrefix(
      options.prefix ?? '',
      (reason) => new ConfigError(`Invalid S3 prefix ${JSON.stringify(options.prefix)}: ${reason}`),
    );
    this.pageSize = options.pageSize;
    this.location = `s3://${this.bucket}/${this.prefix}`.replace(/\/$/, '');
  }

  /**
   * PutObject with the body as bytes (a stream would need a known length and chunked signing).
   * @throws PreconditionFailedError when `ifNoneMatch`/`ifMatch` does not hold (412, 409, or 404 on `ifMatch`)
   * @throws StorageError for anything else, `retryable` after throttling or 5xx
   */
  public async put(key: string, body: Uint8Array, options: PutOptions = {}): Promise<{ etag: string }> {
    const fullKey = this.fullKey(key);
    const command = new PutObjectCommand({
      Bucket: this.bucket,
      Key: fullKey,
      Body: body,
      IfNoneMatch: options.ifNoneMatch,
      IfMatch: options.ifMatch,
      ContentType: options.contentType,
      ContentEncoding: options.contentEncoding,
    });
    let etag: string | undefined;
    try {
      etag = (await this.client.send(command)).ETag;
    } catch (error) {
      if (lostConditionalRace(error, options)) throw new PreconditionFailedError(key, { cause: error });
      throw this.storageError('PutObject', fullKey, key, error);
    }
    if (!etag) throw new StorageError(`S3 PutObject ${this.url(fullKey)} returned no ETag`, { key });
    return { etag };
  }

  /**
   * Streams `body` with @aws-sdk/lib-storage's Upload: one PutObject for small bodies, else a
   * multipart upload (5 MiB parts, two in flight) that is aborted on failure, so nothing partial
   * is ever visible. `ifNoneMatch` goes on the PutObject or the CompleteMultipartUpload.
   * Metadata values are percent-encoded (S3 metadata is ASCII only).
   * @throws PreconditionFailedError when `ifNoneMatch` is set and the key exists
   * @throws StorageError for anything else
   */
  public async putStream(
    key: string,
    body: Readable,
    options: PutStreamOptions = {},
  ): Promise<{ bytes: number }> {
    const fullKey = this.fullKey(key);
    let bytes = 0;
    const counted = new Transform({
      transform(chunk: Buffer, _encoding, callback) {
        bytes += chunk.length;
        callback(null, chunk);
      },
    });
    // pipeline() destroys `counted` with the body's error, which fails the upload.
    pipeline(body, counted).catch(() => undefined);
    const metadata = Object.fromEntries(
      Object.entries(options.metadata ?? {}).map(([k, v]) => [k, encodeMetadataValue(v)]),
    );
    const upload = new Upload({
      client: this.client,
      partSize: PART_SIZE,
      queueSize: 2,
      leavePartsOnError: false,
      params: {
        Bucket: this.bucket,
        Key: fullKey,
        Body: counted,
        ContentType: options.contentType,
        Metadata: metadata,
        IfNoneMatch: options.ifNoneMatch,
      },
    });
    const abort = (): void => {
      void upload.abort().catch(() => undefined);
    };
    options.signal?.addEventListener('abort', abort, { once: true });
    try {
      await upload.done();
    } catch (error) {
      if (options.ifNoneMatch !== undefined && lostConditionalRace(error, { ifNoneMatch: '*' })) {
        throw new PreconditionFailedError(key, { cause: error });
      }
      if (options.signal?.aborted)
        throw new StorageError(`S3 upload ${this.url(fullKey)} aborted`, { cause: error, key });
      throw this.storageError('Upload', fullKey, key, error);
    } finally {
      options.signal?.removeEventListener('abort', abort);
    }
    return { bytes };
  }

  /** HeadObject: size, type and (decoded) metadata, or `undefined` when absent. */
  public async head(key: string): Promise<ObjectHead | undefined> {
    const fullKey = this.fullKey(key);
    try {
      const res = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: fullKey }));
      const metadata = Object.fromEntries(
        Object.entries(res.Metadata ?? {}).map(([k, v]) => [k, decodeMetadataValue(v)]),
      );
      return { bytes: res.ContentLength ?? 0, contentType: res.ContentType, metadata };
    } catch (error) {
      if (classifyS3Failure(error) === 'not-found') return undefined;
      throw this.storageError('HeadObject', fullKey, key, error);
    }
  }

  /**
   * The object's exact bytes and ETag, or `undefined` when absent. A `Content-Encoding: gzip`
   * object comes back still gzipped: the SDK's Node HTTP handler never decodes bodies.
   * @throws StorageError for anything but a missing key
   */
  public async get(key: string): Promise<StoredObject | undefined> {
    const fullKey = this.fullKey(key);
    let stored: StoredObject;
    try {
      const response = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: fullKey }));
      const bytes = (await response.Body?.transformToByteArray()) ?? new Uint8Array();
      stored = { body: plainBytes(bytes), etag: response.ETag ?? '' };
    } catch (error) {
      if (classifyS3Failure(error) === 'not-found') return undefined;
      if (nameOf(error) === 'InvalidObjectState') throw this.archivedError(fullKey, key, error);
      throw this.storageError('GetObject', fullKey, key, error);
    }
    // Without an ETag the caller could never make a conditional write on this object.
    if (!stored.etag) throw new StorageError(`S3 GetObject ${this.url(fullKey)} returned no ETag`, { key });
    return stored;
  }

  /**
   * DeleteObject; S3 answers 204 for an absent key, and a 404 from a compatible server is ignored too.
   * @throws StorageError on failure
   */
  public async delete(key: string): Promise<void> {
    const fullKey = this.fullKey(key);
    try {
      await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: fullKey }));
    } catch (error) {
      if (classifyS3Failure(error) === 'not-found') return;
      throw this.storageError('DeleteObject', fullKey, key, error);
    }
  }

  /**
   * Every key under `prefix`, relative to the store's prefix, in S3's (byte) order, page by page.
   * @throws StorageError for an invalid prefix or a failed page
   */
  public async *list(prefix: string): AsyncIterable<string> {
    for await (const object of this.listObjects(prefix)) yield object.key;
  }

  /**
   * The keys under `prefix` in a storage class GetObject refuses until restored (ListObjectsV2
   * names each object's class), relative to the store's prefix.
   * @throws StorageError for an invalid prefix or a failed page
   */
  public async *listArchived(prefix: string): AsyncIterable<string> {
    for await (const object of this.listObjects(prefix))
      if (ARCHIVED_STORAGE_CLASSES.has(object.storageClass)) yield object.key;
  }

  /**
   * Every object under `prefix` with its storage class (`''` when S3 names none), page by page.
   * @throws StorageError for an invalid prefix or a failed page
   */
  private async *listObjects(prefix: string): AsyncIterable<{ key: string; storageClass: string }> {
    validateListPrefix(prefix);
    const pages = paginateListObjectsV2(
      { client: this.client, pageSize: this.pageSize },
      { Bucket: this.bucket, Prefix: `${this.prefix}${prefix}` },
    );
    try {
      for await (const page of pages) {
        for (const object of page.Contents ?? []) {
          // Keys ending in `/` are "folder" markers made by the S3 console, not objects.
          if (object.Key && !object.Key.endsWith('/'))
            yield { key: object.Key.slice(this.prefix.length), storageClass: object.StorageClass ?? '' };
        }
      }
    } catch (error) {
      throw this.storageError('ListObjectsV2', `${this.prefix}${prefix}`, undefined, error);
    }
  }

  /** GetObject's `InvalidObjectState`: the object is archived and must be restored first. */
  private archivedError(fullKey: string, key: string, error: unknown): ArchivedObjectError {
    const storageClass = (error as { StorageClass?: unknown }).StorageClass;
    const named = typeof storageClass === 'string' ? storageClass : undefined;
    return new ArchivedObjectError(
      `S3 GetObject ${this.url(fullKey)}: the object is archived (${named ?? 'an archive tier'}) and must be restored before it can be read`,
      { cause: error, key, ...(named === undefined ? {} : { storageClass: named }) },
    );
  }

  private fullKey(key: string): string {
    validateObjectKey(key);
    return `${this.prefix}${key}`;
  }

  private url(fullKey: string): string {
    return `s3://${this.bucket}/${fullKey}`;
  }

  private storageError(
    operation: S3Operation,
    fullKey: string,
    key: string | undefined,
    error: unknown,
  ): StorageError {
    const kind = classifyS3Failure(error);
    const what = `S3 ${operation} ${this.url(fullKey)} failed (${describeFailure(error)})`;
    return new StorageError(`${what}: ${hintFor(kind, operation, this.bucket, fullKey)}`, {
      cause: error,
      key,
      retryable: kind === 'transient',
    });
  }
}

/**
 * Sorts an SDK failure by what the store should do about it. Names are checked before status
 * codes because statuses are shared (404 is both NoSuchKey and NoSuchBucket).
 */
function classifyS3Failure(error: unknown): FailureKind {
  const name = nameOf(error);
  const status = statusOf(error);
  if (name === 'PreconditionFailed' || name === 'ConditionalRequestConflict' || status === 412)
    return 'precondition';
  if (name === 'NoSuchBucket') return 'no-bucket';
  if (name === 'NoSuchKey' || name === 'NotFound' || status === 404) return 'not-found';
  if (BAD_CREDENTIALS_NAMES.has(name)) return 'bad-credentials';
  if (ACCESS_DENIED_NAMES.has(name) || status === 403) return 'access-denied';
  if (TRANSIENT_NAMES.has(name) || TRANSIENT_ERRNOS.has(codeOf(error))) return 'transient';
  if (status !== undefined && (status >= 500 || status === 429)) return 'transient';
  return 'other';
}

/** 412, 409 to a conditional put, or 404 to an If-Match put (the object to replace is gone). */
function lostConditionalRace(error: unknown, options: PutOptions): boolean {
  const kind = classifyS3Failure(error);
  if (kind === 'precondition') return true;
  if (options.ifMatch !== undefined && kind === 'not-found') return true;
  const conditional = options.ifNoneMatch !== undefined || options.ifMatch !== undefined;
  return conditional && statusOf(error) === 409;
}

function hintFor(kind: FailureKind, operation: S3Operation, bucket: string, fullKey: string): string {
  const resource =
    operation === 'ListObjectsV2' ? `arn:aws:s3:::${bucket}` : `arn:aws:s3:::${bucket}/${fullKey}`;
  switch (kind) {
    case 'access-denied':
      return `access denied: check the IAM policy / bucket policy allows ${IAM_ACTIONS[operation]} on ${resource} (and KMS access if the bucket is encrypted with a customer key)`;
    case 'bad-credentials':
      return 'the AWS credentials are missing, invalid or expired: check the credentials the archiver runs with';
    case 'no-bucket':
      return `the bucket "${bucket}" does not exist: check the bucket name and region`;
    case 'transient':
      return "S3 is throttling or unavailable and the SDK's retries ran out: retry later";
    default:
      return 'unexpected S3 error; see the cause';
  }
}

/** `Name (HTTP 403)`: enough to diagnose, and never the request's headers or signature. */
function describeFailure(error: unknown): string {
  const status = statusOf(error);
  const name = nameOf(error) || codeOf(error) || 'unknown error';
  return status === undefined ? name : `${name}, HTTP ${status}`;
}

function nameOf(error: unknown): string {
  const name = (error as { name?: unknown } | null)?.name;
  return typeof name === 'string' ? name : '';
}

function statusOf(error: unknown): number | undefined {
  return (error as { $metadata?: { httpStatusCode?: number } } | null)?.$metadata?.httpStatusCode;
}

function codeOf(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : '';
}

/** S3 user metadata must be ASCII: anything else (a Chinese file name) is percent-encoded. */
function encodeMetadataValue(value: string): string {
  return /^[\x20-\x7e]*$/.test(value) && !value.includes('%') ? value : encodeURIComponent(value);
}

function decodeMetadataValue(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}

/** A plain Uint8Array view: the SDK may hand back a Buffer, which callers' equality checks reject. */
function plainBytes(bytes: Uint8Array): Uint8Array {
  return bytes.constructor === Uint8Array
    ? bytes
    : new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** S3's bucket naming rules (general-purpose buckets), minus the rarely hit IP-address rule. */
function isValidBucketName(bucket: string): boolean {
  return /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(bucket) && !bucket.includes('..');
}

/** `''`, `a` or `a/b/` → `''`, `a/`, `a/b/`; rejects a leading `/` and empty, `.` or `..` segments. */
function normalizePrefix(prefix: string, fail: (reason: string) => Error): string {
  if (prefix === '') return '';
  const withSlash = prefix.endsWith('/') ? prefix : `${prefix}/`;
  const problem = listPrefixProblem(withSlash);
  if (problem !== undefined) throw fail(problem);
  return withSlash;
}

function badUrl(url: string, reason: string): ConfigError {
  return new ConfigError(`Invalid S3 URL ${JSON.stringify(url)}: ${reason}`);
}
