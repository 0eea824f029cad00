/**
 * What the audit needs from S3 for archived storage classes: a GetObject refused with
 * `InvalidObjectState` becomes an ArchivedObjectError (a StorageError naming the class), and
 * `listArchived` names the keys ListObjectsV2 reports in Glacier Flexible Retrieval or Deep Archive.
 * The SDK is mocked at `send`, rejecting with the SDK's own exception.
 */
import { GetObjectCommand, InvalidObjectState, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { S3Store } from '../../functions/adapters/s3/s3-store.ts';
import { ArchivedObjectError, StorageError } from '../../functions/domain/errors.ts';

const client = new S3Client({
  region: 'eu-west-1',
  credentials: { accessKeyId: 'AKIAEXAMPLEKEYID0001', secretAccessKey: 'example-secret' },
});
const s3 = mockClient(client);
const store = new S3Store({ client, bucket: 'archive-bucket', prefix: 'chat', pageSize: 2 });

beforeEach(() => {
  s3.reset();
});

describe('S3Store and archived storage classes', () => {
  it('refuses a GET of an archived object with an ArchivedObjectError naming the class', async () => {
    s3.on(GetObjectCommand).rejects(
      new InvalidObjectState({
        $metadata: { httpStatusCode: 403 },
        message: 'The operation is not valid for the object storage class',
        StorageClass: 'DEEP_ARCHIVE',
      }),
    );
    const error = await store.get('messages/sdkappid=1/dt=2025-01-01/a.ndjson.gz').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ArchivedObjectError);
    expect(error).toBeInstanceOf(StorageError);
    expect(error).toMatchObject({
      storageClass: 'DEEP_ARCHIVE',
      key: 'messages/sdkappid=1/dt=2025-01-01/a.ndjson.gz',
      retryable: false,
    });
    expect((error as Error).message).toContain(
      's3://archive-bucket/chat/messages/sdkappid=1/dt=2025-01-01/a.ndjson.gz',
    );
  });

  it('keeps any other 403 an access-denied StorageError', async () => {
    const denied = Object.assign(new Error('denied'), {
      name: 'AccessDenied',
      $metadata: { httpStatusCode: 403 },
    });
    s3.on(GetObjectCommand).rejects(denied);
    const error = await store.get('a').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StorageError);
    expect(error).not.toBeInstanceOf(ArchivedObjectError);
  });

  it('lists only the keys in Glacier Flexible Retrieval or Deep Archive, page by page', async () => {
    const pages = [
      {
        Contents: [
          { Key: 'chat/messages/a', StorageClass: 'STANDARD' },
          { Key: 'chat/messages/b', StorageClass: 'GLACIER' },
        ],
        IsTruncated: true,
        NextContinuationToken: 'p2',
      },
      {
        Contents: [
          { Key: 'chat/messages/c', StorageClass: 'GLACIER_IR' },
          { Key: 'chat/messages/d', StorageClass: 'DEEP_ARCHIVE' },
          { Key: 'chat/messages/e' },
        ],
        IsTruncated: false,
      },
    ];
    s3.on(ListObjectsV2Command).callsFake(() => pages.shift());
    const keys: string[] = [];
    for await (const key of store.listArchived('messages/')) keys.push(key);
    expect(keys).toEqual(['messages/b', 'messages/d']);
  });
});
