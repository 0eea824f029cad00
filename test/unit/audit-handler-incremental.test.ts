/**
 * The audit function's incremental mode (functions/lambda/audit-event.ts): the schedule's
 * `{ incremental: true }` keeps running totals under `audits/totals/`, so a second audit with
 * nothing new runs no query; `full: true` reads every partition again. Athena is mocked at the SDK
 * level and answers the audit's SQL for a one-object archive (test/helpers/athena.ts); the archive
 * is a local folder standing in for the bucket.
 */
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AthenaClient, StartQueryExecutionCommand } from '@aws-sdk/client-athena';
import type { Context } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { LocalFolderStore } from '../../functions/adapters/local-folder/local-folder-store.ts';
import { auditTotalsKey } from '../../functions/domain/partition.ts';
import type { createAuditHandler as CreateAuditHandler } from '../../functions/lambda/audit-handler.ts';
import { answerBySql, auditAnswers, seedThreeMessages } from '../helpers/athena.ts';
import { FakeClock } from '../helpers/fake-clock.ts';

const athena = mockClient(AthenaClient);
const APP = 1400000000;
const OTHER_APP = 1400000001;
const KEY = `messages/sdkappid=${APP}/dt=2024-03-01/part-r1-00000.ndjson.gz`;
const ENV = {
  ARCHIVER_CONFIG: JSON.stringify({
    apps: [APP, OTHER_APP].map((sdkAppId) => ({
      sdkAppId,
      region: 'singapore',
      secretKey: { ssmParameter: `/tencent-chat-archiver/${sdkAppId}/secret-key` },
    })),
    archive: { timeZone: 'Asia/Shanghai' },
  }),
  ARCHIVE_BUCKET: 'bucket',
  ARCHIVE_PREFIX: 'archive/',
  ATHENA_WORKGROUP: 'chat-archive',
  GLUE_DATABASE: 'chat_archive',
};

let dir = '';
let store: LocalFolderStore;
let createAuditHandler: typeof CreateAuditHandler;
/** Every line the function wrote to stdout or stderr. */
const stdout: string[] = [];

function context(): Context {
  return {
    callbackWaitsForEmptyEventLoop: true,
    functionName: 'audit',
    functionVersion: '$LATEST',
    invokedFunctionArn: 'arn:aws:lambda:us-east-1:123456789012:function:audit',
    memoryLimitInMB: '1024',
    awsRequestId: randomUUID(),
    logGroupName: '/aws/lambda/audit',
    logStreamName: '2026/12/01/[$LATEST]0123',
    getRemainingTimeInMillis: () => 900_000,
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}

beforeEach(async () => {
  athena.reset();
  stdout.length = 0;
  dir = await mkdtemp(join(tmpdir(), 'audit-handler-incremental-'));
  store = new LocalFolderStore(dir);
  await seedThreeMessages(store, {
    sdkAppId: APP,
    groupId: '@TGS#B',
    key: KEY,
    from: 'bob',
    text: (seq) => `seq ${seq}`,
    atMs: (seq) => Date.UTC(2024, 2, 1, 2, seq),
    random: (seq) => 100 + seq,
  });
  // The module builds its default handler from process.env on import.
  for (const [name, value] of Object.entries(ENV)) vi.stubEnv(name, value);
  ({ createAuditHandler } = await import('../../functions/lambda/audit-handler.ts'));
  // Captured (not echoed): logs and EMF metrics go to stdout, warnings to stderr (Lambda keeps both).
  for (const stream of [process.stdout, process.stderr]) {
    vi.spyOn(stream, 'write').mockImplementation(((chunk: string | Uint8Array) => {
      stdout.push(...String(chunk).split('\n').filter(Boolean));
      return true;
    }) as typeof process.stdout.write);
  }
});
afterEach(async () => {
  vi.restoreAllMocks();
  vi.unstubAllEnvs();
  athena.reset();
  await rm(dir, { recursive: true, force: true });
});

async function invoke(event: Record<string, unknown>) {
  athena.resetHistory();
  stdout.length = 0;
  const handler = createAuditHandler({
    env: ENV,
    athenaClient: () => new AthenaClient({ region: 'eu-central-1' }),
    store,
    clock: new FakeClock(Date.UTC(2026, 11, 1, 2, 0)),
  });
  const result = await handler(event, context());
  const done = stdout
    .filter((l) => l.startsWith('{') && !l.includes('"CloudWatchMetrics"'))
    .map((l) => JSON.parse(l))
    .find((l) => String(l.message).startsWith('audit done'));
  const queries = athena.commandCalls(StartQueryExecutionCommand).map((c) => c.args[0].input);
  return { result, done, queries };
}

describe('audit function, incremental', () => {
  it('keeps running totals: a second audit with nothing new runs no query; full: true reads every partition', async () => {
    answerBySql(athena, auditAnswers(`s3://bucket/archive/${KEY}`, '@TGS#B'));

    const first = await invoke({ source: 'audit-schedule', incremental: true });
    expect(first.result.unexplained).toBe(0);
    // No totals yet: every partition, no dt filter (objects, seq ranges, exceptional rows).
    expect(first.queries).toHaveLength(3);
    const params = first.queries.flatMap((q) => q.ExecutionParameters ?? []);
    expect(params.filter((p) => /^'\d{4}-\d{2}-\d{2}'$/.test(p))).toEqual([]);
    expect(first.done.partitions).toEqual([{ sdkAppId: APP, total: 1, read: 1, full: true }]);
    expect(await store.get(auditTotalsKey(APP))).toBeDefined();

    const second = await invoke({ source: 'audit-schedule', incremental: true });
    expect(second.queries).toEqual([]);
    expect(second.result.unexplained).toBe(0);
    expect(second.done.partitions).toEqual([{ sdkAppId: APP, total: 1, read: 0, full: false }]);

    const full = await invoke({ incremental: true, full: true });
    expect(full.queries).toHaveLength(3);
    expect(full.done.partitions).toEqual([{ sdkAppId: APP, total: 1, read: 1, full: true }]);

    // Without `incremental`: the full audit (its six queries), totals neither read nor needed.
    const plain = await invoke({ source: 'manual' });
    expect(plain.queries).toHaveLength(6);
    expect(plain.done.partitions).toBeUndefined();
  });
});
