/**
 * A throwaway local S3 (s3rver) on a loopback port, for integration tests.
 *
 * s3rver 3.7 ignores `If-None-Match` / `If-Match` on PutObject and silently overwrites, so a small
 * middleware answers them the way S3 does (412 PreconditionFailed, 404 NoSuchKey). It checks and
 * then lets s3rver write, which is not atomic: fine for tests, which never race on one server.
 *
 * List pagination needs `NODE_OPTIONS=--openssl-legacy-provider` (s3rver encrypts continuation
 * tokens with DES); `npm test` sets it.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import S3rver from 's3rver';

export interface S3rverHandle {
  /** `http://127.0.0.1:<port>` */
  endpoint: string;
  bucket: string;
  /** A client configured for this server (path style, WHEN_REQUIRED checksums, s3rver's keys). */
  client: S3Client;
  /** s3rver's data folder. */
  dir: string;
  /** Stops the server and deletes its data folder. */
  stop(): Promise<void>;
}

/** The parts of Koa's context the conditional-write middleware uses (s3rver ships no Koa types). */
interface KoaContext {
  method: string;
  path: string;
  query: Record<string, unknown>;
  get(header: string): string;
  status: number;
  type: string;
  body: unknown;
}
type KoaMiddleware = (ctx: KoaContext, next: () => Promise<void>) => Promise<void>;

/** The s3rver internals the shim reaches into (not in its typings). */
interface S3rverInternals {
  middleware: KoaMiddleware[];
  store: { getMetadata(bucket: string, key: string): Promise<{ etag: string }> };
}

/**
 * Starts s3rver on 127.0.0.1 (a free port) in a fresh temp folder, with one bucket.
 * @param bucket the bucket to create (s3rver rejects names shorter than 3 characters)
 */
export async function startS3rver(bucket = 'archive-test'): Promise<S3rverHandle> {
  const dir = await mkdtemp(join(tmpdir(), 's3rver-'));
  const server = new S3rver({ address: '127.0.0.1', port: 0, silent: true, directory: dir });
  installConditionalWrites(server as unknown as S3rverInternals);
  const { port } = await server.run();
  const endpoint = `http://127.0.0.1:${port}`;
  const client = new S3Client({
    region: 'us-east-1',
    endpoint,
    forcePathStyle: true,
    credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
  await client.send(new CreateBucketCommand({ Bucket: bucket }));
  return {
    endpoint,
    bucket,
    client,
    dir,
    stop: async () => {
      client.destroy();
      await server.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** Adds S3's conditional PutObject semantics in front of s3rver's own routes. */
function installConditionalWrites(server: S3rverInternals): void {
  server.middleware.unshift(async (ctx, next) => {
    const target = ctx.method === 'PUT' ? objectTarget(ctx) : undefined;
    const ifNoneMatch = ctx.get('if-none-match');
    const ifMatch = ctx.get('if-match');
    if (!target || (!ifNoneMatch && !ifMatch)) return next();

    const current = await server.store.getMetadata(target.bucket, target.key).catch(() => undefined);
    if (ifNoneMatch === '*' && current) return answerError(ctx, 412, 'PreconditionFailed', 'If-None-Match');
    if (ifMatch && !current) return answerError(ctx, 404, 'NoSuchKey', 'If-Match');
    if (ifMatch && current && unquote(current.etag) !== unquote(ifMatch)) {
      return answerError(ctx, 412, 'PreconditionFailed', 'If-Match');
    }
    return next();
  });
}

/** `/bucket/some/key` (path style) → its bucket and decoded key; not for bucket-level or multipart-part requests. */
function objectTarget(ctx: KoaContext): { bucket: string; key: string } | undefined {
  if ('uploadId' in ctx.query) return undefined;
  const [, bucket, ...keyParts] = ctx.path.split('/');
  if (!bucket || keyParts.length === 0 || keyParts.join('') === '') return undefined;
  return { bucket: decodeURIComponent(bucket), key: keyParts.map(decodeURIComponent).join('/') };
}

function answerError(ctx: KoaContext, status: number, code: string, condition: string): void {
  const message =
    code === 'PreconditionFailed'
      ? 'At least one of the pre-conditions you specified did not hold'
      : 'The specified key does not exist.';
  ctx.status = status;
  ctx.type = 'application/xml';
  ctx.body = `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${message}</Message><Condition>${condition}</Condition></Error>`;
}

function unquote(etag: string): string {
  return etag.replace(/^"(.*)"$/, '$1');
}
