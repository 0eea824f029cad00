/**
 * S3Store behaviour that s3rver cannot show: how S3's error answers map to the archiver's errors,
 * the exact requests sent, URL parsing and client configuration. The SDK is mocked at `send`,
 * rejecting with real SDK exception objects.
 */
import {
  DeleteObjectCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  NoSuchBucket,
  NoSuchKey,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
} from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createS3Client, parseS3Url, S3Store } from '../../functions/adapters/s3/s3-store.ts';
import { ConfigError, PreconditionFailedError, StorageError } from '../../functions/domain/errors.ts';
import { listAll } from '../helpers/archive.ts';
import { rejection } from '../helpers/assertions.ts';

const BUCKET = 'archive-bucket';
const ACCESS_KEY_ID = 'AKIAEXAMPLEKEYID0001';
const SECRET_KEY = 'example/secret/key/that/must/never/leak';

/** A real SDK exception, as the deserializer builds it from an S3 error answer. */
function s3Error(
  name: string,
  status: number,
  fault: 'client' | 'server' = status >= 500 ? 'server' : 'client',
) {
  return new S3ServiceException({
    name,
    $fault: fault,
    $metadata: { httpStatusCode: status },
    message: name,
  });
}

describe('S3Store', () => {
  const client = new S3Client({
    region: 'eu-west-1',
    credentials: { accessKeyId: ACCESS_KEY_ID, secretAccessKey: SECRET_KEY },
  });
  const s3 = mockClient(client);
  const store = new S3Store({ client, bucket: BUCKET, prefix: 'runs', pageSize: 2 });
  const body = new Uint8Array([0x1f, 0x8b, 0x08, 0x00, 0xff]);

  beforeEach(() => {
    s3.reset();
  });

  describe('construction', () => {
    it.each([
      [undefined, 's3://archive-bucket'],
      ['', 's3://archive-bucket'],
      ['runs', 's3://archive-bucket/runs'],
      ['runs/nightly/', 's3://archive-bucket/runs/nightly'],
    ])('shows prefix %j as location %s', (prefix, location) => {
      expect(new S3Store({ client, bucket: BUCKET, prefix }).location).toBe(location);
    });

    it.each(['/runs', 'a//b', '../up'])('refuses the prefix %j with a ConfigError', (prefix) => {
      expect(() => new S3Store({ client, bucket: BUCKET, prefix })).toThrow(ConfigError);
    });
  });

  describe('put', () => {
    it('sends the bytes, the conditions and the headers under the prefixed key', async () => {
      // Prepare
      s3.on(PutObjectCommand).resolves({ ETag: '"abc"' });

      // Act
      const result = await store.put('events/part-0.json.gz', body, {
        ifNoneMatch: '*',
        contentType: 'application/x-ndjson',
        contentEncoding: 'gzip',
      });

      // Assess
      expect(result).toEqual({ etag: '"abc"' });
      const [call] = s3.commandCalls(PutObjectCommand);
      expect(call?.args[0].input).toEqual({
        Bucket: BUCKET,
        Key: 'runs/events/part-0.json.gz',
        Body: body,
        IfNoneMatch: '*',
        IfMatch: undefined,
        ContentType: 'application/x-ndjson',
        ContentEncoding: 'gzip',
      });
      // The very bytes, not a stream: a stream would need chunked signing.
      expect(call?.args[0].input.Body).toBe(body);
    });

    it('fails with a StorageError when S3 returns no ETag', async () => {
      s3.on(PutObjectCommand).resolves({});
      const error = await rejection(store.put('state.json', body));
      expect(error).toBeInstanceOf(StorageError);
      expect((error as StorageError).message).toContain('returned no ETag');
    });

    it.each([
      ['PreconditionFailed', 412, { ifMatch: '"old"' }],
      ['PreconditionFailed', 412, { ifNoneMatch: '*' as const }],
      ['ConditionalRequestConflict', 409, { ifNoneMatch: '*' as const }],
      ['NoSuchKey', 404, { ifMatch: '"old"' }],
    ])('maps %s (HTTP %i) with %j to PreconditionFailedError', async (name, status, options) => {
      // Prepare
      const cause = s3Error(name, status);
      s3.on(PutObjectCommand).rejects(cause);

      // Act
      const error = await rejection(store.put('state.json', body, options));

      // Assess
      expect(error).toBeInstanceOf(PreconditionFailedError);
      expect((error as PreconditionFailedError).key).toBe('state.json');
      expect((error as PreconditionFailedError).cause).toBe(cause);
    });

    it('maps 404 on an unconditional put to a StorageError, not a lost race', async () => {
      s3.on(PutObjectCommand).rejects(s3Error('NoSuchKey', 404));
      const error = await rejection(store.put('state.json', body));
      expect(error).toBeInstanceOf(StorageError);
    });
  });

  describe('error mapping', () => {
    it('maps AccessDenied to a non-retryable StorageError naming the object and the policy to check', async () => {
      // Prepare
      const cause = s3Error('AccessDenied', 403);
      s3.on(PutObjectCommand).rejects(cause);

      // Act
      const error = await rejection(store.put('state.json', body));

      // Assess
      expect(error).toBeInstanceOf(StorageError);
      const storageError = error as StorageError;
      expect(storageError.retryable).toBe(false);
      expect(storageError.key).toBe('state.json');
      expect(storageError.cause).toBe(cause);
      expect(storageError.message).toBe(
        'S3 PutObject s3://archive-bucket/runs/state.json failed (AccessDenied, HTTP 403): access denied: ' +
          'check the IAM policy / bucket policy allows s3:PutObject on arn:aws:s3:::archive-bucket/runs/state.json ' +
          '(and KMS access if the bucket is encrypted with a customer key)',
      );
    });

    it.each([
      ['SlowDown', 503],
      ['ServiceUnavailable', 503],
      ['InternalError', 500],
      ['ThrottlingException', 400],
      ['SomethingNew', 502],
    ])('maps %s (HTTP %i), left after the SDK retries, to a retryable StorageError', async (name, status) => {
      // Prepare
      s3.on(PutObjectCommand).rejects(s3Error(name, status));

      // Act
      const error = await rejection(store.put('state.json', body));

      // Assess
      expect(error).toBeInstanceOf(StorageError);
      expect((error as StorageError).retryable).toBe(true);
      expect((error as StorageError).message).toContain(`(${name}, HTTP ${status})`);
      expect((error as StorageError).message).toContain("SDK's retries ran out");
    });

    it('maps a dropped connection to a retryable StorageError', async () => {
      s3.on(GetObjectCommand).rejects(Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }));
      const error = await rejection(store.get('state.json'));
      expect(error).toBeInstanceOf(StorageError);
      expect((error as StorageError).retryable).toBe(true);
    });

    it.each([
      ['InvalidAccessKeyId', 403],
      ['SignatureDoesNotMatch', 403],
      ['ExpiredToken', 400],
    ])('maps %s to a non-retryable StorageError that never shows the credentials', async (name, status) => {
      // Prepare
      s3.on(PutObjectCommand).rejects(s3Error(name, status));

      // Act
      const error = await rejection(store.put('state.json', body));

      // Assess
      expect(error).toBeInstanceOf(StorageError);
      const { message, retryable } = error as StorageError;
      expect(retryable).toBe(false);
      expect(message).toContain('credentials are missing, invalid or expired');
      expect(message).not.toContain(ACCESS_KEY_ID);
      expect(message).not.toContain(SECRET_KEY);
    });
  });

  describe('get', () => {
    it('returns undefined for NoSuchKey', async () => {
      s3.on(GetObjectCommand).rejects(
        new NoSuchKey({ $metadata: { httpStatusCode: 404 }, message: 'no such key' }),
      );
      expect(await store.get('state.json')).toBeUndefined();
    });

    it('fails with a StorageError when S3 returns no ETag (a later ifMatch would be impossible)', async () => {
      // Prepare: a body stream stand-in with the one method the store uses.
      const stream = { transformToByteArray: async () => new Uint8Array([1, 2, 3]) };
      s3.on(GetObjectCommand).resolves({ Body: stream as never });

      // Act
      const error = await rejection(store.get('state.json'));

      // Assess
      expect(error).toBeInstanceOf(StorageError);
      expect((error as StorageError).message).toBe(
        'S3 GetObject s3://archive-bucket/runs/state.json returned no ETag',
      );
    });

    it('reports a missing bucket instead of an absent object', async () => {
      // Prepare: NoSuchBucket is also a 404, but it must not read as "no state yet".
      s3.on(GetObjectCommand).rejects(
        new NoSuchBucket({ $metadata: { httpStatusCode: 404 }, message: 'no bucket' }),
      );

      // Act
      const error = await rejection(store.get('state.json'));

      // Assess
      expect(error).toBeInstanceOf(StorageError);
      expect((error as StorageError).message).toContain('the bucket "archive-bucket" does not exist');
      expect((error as StorageError).retryable).toBe(false);
    });

    it('asks for the prefixed key and names s3:GetObject when denied', async () => {
      // Prepare
      s3.on(GetObjectCommand).rejects(s3Error('AccessDenied', 403));

      // Act
      const error = await rejection(store.get('state.json'));

      // Assess
      expect(s3.commandCalls(GetObjectCommand)[0]?.args[0].input).toEqual({
        Bucket: BUCKET,
        Key: 'runs/state.json',
      });
      expect((error as StorageError).message).toContain(
        's3:GetObject on arn:aws:s3:::archive-bucket/runs/state.json',
      );
    });
  });

  describe('delete', () => {
    it('deletes the prefixed key and ignores a 404', async () => {
      // Prepare
      s3.on(DeleteObjectCommand).rejects(s3Error('NoSuchKey', 404));

      // Act
      await store.delete('reports/old.json');

      // Assess
      expect(s3.commandCalls(DeleteObjectCommand)[0]?.args[0].input).toEqual({
        Bucket: BUCKET,
        Key: 'runs/reports/old.json',
      });
    });

    it('maps AccessDenied to a StorageError naming s3:DeleteObject', async () => {
      s3.on(DeleteObjectCommand).rejects(s3Error('AccessDenied', 403));
      const error = await rejection(store.delete('reports/old.json'));
      expect((error as StorageError).message).toContain('s3:DeleteObject');
    });
  });

  describe('list', () => {
    it('follows continuation tokens, strips the prefix and skips folder markers', async () => {
      // Prepare: copy each input when sent (the paginator reuses one input object between pages).
      const pages = [
        {
          Contents: [{ Key: 'runs/events/' }, { Key: 'runs/events/a' }],
          IsTruncated: true,
          NextContinuationToken: 'page-2',
        },
        { Contents: [{ Key: 'runs/events/b' }], IsTruncated: false },
      ];
      const inputs: unknown[] = [];
      s3.on(ListObjectsV2Command).callsFake((input: object) => {
        inputs.push({ ...input });
        return pages.shift();
      });

      // Act
      const keys = await listAll(store, 'events/');

      // Assess
      expect(keys).toEqual(['events/a', 'events/b']);
      expect(inputs).toEqual([
        { Bucket: BUCKET, Prefix: 'runs/events/', MaxKeys: 2 },
        { Bucket: BUCKET, Prefix: 'runs/events/', MaxKeys: 2, ContinuationToken: 'page-2' },
      ]);
    });

    it('maps AccessDenied to a StorageError naming s3:ListBucket on the bucket', async () => {
      s3.on(ListObjectsV2Command).rejects(s3Error('AccessDenied', 403));
      const error = await rejection(listAll(store, 'events/'));
      expect(error).toBeInstanceOf(StorageError);
      expect((error as StorageError).message).toContain(
        'S3 ListObjectsV2 s3://archive-bucket/runs/events/ failed (AccessDenied, HTTP 403)',
      );
      expect((error as StorageError).message).toContain('s3:ListBucket on arn:aws:s3:::archive-bucket ');
    });
  });
});

describe('parseS3Url', () => {
  it.each([
    ['s3://my-bucket', { bucket: 'my-bucket', prefix: '' }],
    ['s3://my-bucket/', { bucket: 'my-bucket', prefix: '' }],
    ['s3://my-bucket/archive', { bucket: 'my-bucket', prefix: 'archive/' }],
    ['s3://my.bucket-1/chat/history/', { bucket: 'my.bucket-1', prefix: 'chat/history/' }],
    ['s3://abc/dt=2026-01-01', { bucket: 'abc', prefix: 'dt=2026-01-01/' }],
  ])('parses %s', (url, expected) => {
    expect(parseS3Url(url)).toEqual(expected);
  });

  it.each([
    ['https://my-bucket/archive', 'it must look like s3://bucket'],
    ['s3:/my-bucket', 'it must look like s3://bucket'],
    ['my-bucket/archive', 'it must look like s3://bucket'],
    ['s3://', 'the bucket name is missing'],
    ['s3:///archive', 'the bucket name is missing'],
    ['s3://My_Bucket', '"My_Bucket" is not a valid bucket name'],
    ['s3://ab', '"ab" is not a valid bucket name'],
    ['s3://bucket-/x', '"bucket-" is not a valid bucket name'],
    ['s3://a..b/x', '"a..b" is not a valid bucket name'],
    ['s3://bucket/archive?versionId=1', 'a query string or fragment is not allowed'],
    ['s3://bucket/a//b', 'empty segment'],
    ['s3://bucket//archive', 'absolute'],
    ['s3://bucket/../archive', '".." segment'],
  ])('refuses %s', (url, reason) => {
    // Act
    let error: unknown;
    try {
      parseS3Url(url);
    } catch (caught) {
      error = caught;
    }

    // Assess
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).message).toContain(`Invalid S3 URL ${JSON.stringify(url)}: `);
    expect((error as ConfigError).message).toContain(reason);
  });
});

describe('createS3Client', () => {
  beforeEach(() => {
    vi.stubEnv('AWS_ENDPOINT_URL_S3', undefined);
    vi.stubEnv('AWS_ENDPOINT_URL', undefined);
  });
  afterEach(() => {
    vi.unstubAllEnvs();
  });

  async function settings(client: S3Client) {
    return {
      forcePathStyle: client.config.forcePathStyle ?? false,
      requestChecksumCalculation: await client.config.requestChecksumCalculation(),
      responseChecksumValidation: await client.config.responseChecksumValidation(),
      maxAttempts: await client.config.maxAttempts(),
      retryMode: client.config.retryMode,
    };
  }

  it("keeps S3's defaults for real S3, with adaptive retries and 8 attempts", async () => {
    const client = createS3Client({ region: 'eu-west-1' });
    expect(await settings(client)).toEqual({
      forcePathStyle: false,
      requestChecksumCalculation: 'WHEN_SUPPORTED',
      responseChecksumValidation: 'WHEN_SUPPORTED',
      maxAttempts: 8,
      retryMode: 'adaptive',
    });
    expect(await client.config.region()).toBe('eu-west-1');
  });

  it('uses path style and WHEN_REQUIRED checksums for a custom endpoint', async () => {
    const client = createS3Client({ region: 'us-east-1', endpoint: 'http://127.0.0.1:4568' });
    expect(await settings(client)).toEqual({
      forcePathStyle: true,
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
      maxAttempts: 8,
      retryMode: 'adaptive',
    });
  });

  it('treats AWS_ENDPOINT_URL_S3 as a custom endpoint too', async () => {
    vi.stubEnv('AWS_ENDPOINT_URL_S3', 'http://127.0.0.1:4568');
    const client = createS3Client({ region: 'us-east-1' });
    expect(await settings(client)).toMatchObject({
      forcePathStyle: true,
      requestChecksumCalculation: 'WHEN_REQUIRED',
    });
  });
});
