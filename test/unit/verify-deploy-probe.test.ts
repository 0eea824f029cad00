/**
 * The archiver function's store probe (`{ "selfCheck": true }`, sent by `npm run verify-deploy`):
 * through the real S3 store on a mocked S3 client (no local server answers 403 for a missing key),
 * and through the Lambda handler, which answers it before the event check, SSM and the engine.
 */
import {
  DeleteObjectCommand,
  GetObjectCommand,
  NoSuchKey,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
} from '@aws-sdk/client-s3';
import type { Context } from 'aws-lambda';
import { type AwsClientStub, mockClient } from 'aws-sdk-client-mock';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { S3Store } from '../../functions/adapters/s3/s3-store.ts';
import { storeProbeVerdicts } from '../../functions/domain/deploy-verdicts.ts';
import { runStoreSelfCheck } from '../../functions/engine/store-self-check.ts';

const denied = () =>
  new S3ServiceException({
    name: 'AccessDenied',
    $fault: 'client',
    $metadata: { httpStatusCode: 403 },
    message: 'Access Denied',
  });
const noSuchKey = () => new NoSuchKey({ $metadata: { httpStatusCode: 404 }, message: 'no such key' });

/** S3 that keeps what is put and answers GetObject like S3 (404 for an absent key). */
function workingS3(s3: AwsClientStub<S3Client>): Map<string, Uint8Array> {
  const objects = new Map<string, Uint8Array>();
  s3.on(PutObjectCommand).callsFake((input: { Key: string; Body: Uint8Array }) => {
    objects.set(input.Key, input.Body);
    return { ETag: '"e1"' };
  });
  s3.on(GetObjectCommand).callsFake((input: { Key: string }) => {
    const body = objects.get(input.Key);
    if (body === undefined) throw noSuchKey();
    return { ETag: '"e1"', Body: { transformToByteArray: async () => body } as never };
  });
  s3.on(DeleteObjectCommand).callsFake((input: { Key: string }) => {
    objects.delete(input.Key);
    return {};
  });
  return objects;
}

describe('the store probe', () => {
  const client = new S3Client({
    region: 'us-east-1',
    credentials: { accessKeyId: 'AKIAEXAMPLEKEYID0001', secretAccessKey: 'not/a/real/secret/key' },
  });
  const s3 = mockClient(client);
  const store = new S3Store({ client, bucket: 'archive-bucket', prefix: 'archive/' });
  beforeEach(() => s3.reset());
  // The handler's tests mock every S3Client: this one's mock must be gone by then.
  afterAll(() => s3.restore());

  it('passes both checks when the role can write, read, delete and list its prefix', async () => {
    const objects = workingS3(s3);
    const report = await runStoreSelfCheck(store, 'n1');
    expect(report.steps.map((s) => [s.step, s.ok])).toEqual([
      ['put', true],
      ['get', true],
      ['delete', true],
      ['get-missing', true],
    ]);
    expect(s3.commandCalls(PutObjectCommand)[0]?.args[0].input.Key).toBe('archive/verify-deploy/n1.probe');
    expect(objects.size).toBe(0);
    const verdicts = storeProbeVerdicts(report);
    expect(verdicts.map((v) => [v.check, v.pass])).toEqual([
      ['archiver-store', true],
      ['archiver-missing-key', true],
    ]);
    expect(verdicts[1]?.detail).toContain('s3://archive-bucket/archive/verify-deploy/n1.missing');
  });

  it('fails the missing-key check, naming s3:ListBucket, when S3 answers 403 instead of 404', async () => {
    workingS3(s3);
    s3.on(GetObjectCommand, { Key: 'archive/verify-deploy/n2.missing' }).rejects(denied());
    const [storeCheck, missing] = storeProbeVerdicts(await runStoreSelfCheck(store, 'n2'));
    expect(storeCheck?.pass).toBe(true);
    expect(missing?.pass).toBe(false);
    expect(missing?.detail).toContain('HTTP 403');
    expect(missing?.fix).toContain('s3:ListBucket');
  });

  it('fails the read/write check, naming the step and the grant, when a put is denied', async () => {
    workingS3(s3);
    s3.on(PutObjectCommand).rejects(denied());
    const [storeCheck, missing] = storeProbeVerdicts(await runStoreSelfCheck(store, 'n3'));
    expect(storeCheck?.pass).toBe(false);
    expect(storeCheck?.detail).toMatch(
      /^put s3:\/\/archive-bucket\/archive\/verify-deploy\/n3\.probe: .*HTTP 403/,
    );
    expect(storeCheck?.fix).toContain('s3:PutObject');
    // The missing key is still asked: one answer shows every missing permission.
    expect(missing?.pass).toBe(true);
  });

  it('fails both checks when the function answers something else (an older function)', () => {
    const verdicts = storeProbeVerdicts({ sdkAppId: 1, done: true });
    expect(verdicts.map((v) => v.pass)).toEqual([false, false]);
    expect(verdicts[0]?.fix).toContain('deploy this version');
  });
});

describe('the archiver handler and the self-check event', () => {
  const env = {
    ARCHIVER_CONFIG: JSON.stringify({
      apps: [{ sdkAppId: 1400000000, region: 'singapore', secretKey: { ssmParameter: '/k' } }],
    }),
    ARCHIVE_BUCKET: 'bucket',
    ARCHIVE_PREFIX: 'archive/',
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: 'AKIAEXAMPLEKEYID0002',
    AWS_SECRET_ACCESS_KEY: 'not/a/real/secret/key/either',
  };
  // Every S3Client: the handler builds its own.
  let s3: AwsClientStub<S3Client>;
  beforeAll(() => {
    s3 = mockClient(S3Client);
  });
  afterAll(() => s3.restore());
  beforeEach(() => {
    s3.reset();
    for (const [name, value] of Object.entries(env)) vi.stubEnv(name, value);
  });
  afterEach(() => vi.unstubAllEnvs());

  it('answers the probe report on its own role, without an app, SSM or a run', async () => {
    workingS3(s3);
    const { createHandler } = await import('../../functions/lambda/handler.ts');
    const handler = createHandler({ env });
    const context = {
      functionName: 'archiver',
      awsRequestId: 'r1',
      getRemainingTimeInMillis: () => 60_000,
    } as unknown as Context;
    const answer = await handler({ selfCheck: true } as never, context);
    expect(storeProbeVerdicts(answer).map((v) => v.pass)).toEqual([true, true]);
    const keys = s3.calls().map((c) => (c.args[0].input as { Key?: string }).Key);
    expect(keys.every((k) => k?.startsWith('archive/verify-deploy/'))).toBe(true);
  });
});
