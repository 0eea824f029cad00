/**
 * The audit function's handler, middy stack included: Athena is mocked at the SDK level
 * (aws-sdk-client-mock; no local Athena exists) and answers the audit's SQL, the archive is a local
 * folder standing in for the bucket. It must write the report under `audits/`, log a summary, and
 * publish EMF metrics whose unexplained count follows the findings.
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
const SCANNED_PER_QUERY = 1_000_000;
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
  dir = await mkdtemp(join(tmpdir(), 'audit-handler-'));
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

/** Athena answers each query by its SQL; every query scans {@link SCANNED_PER_QUERY} bytes. */
function answer(gap: boolean) {
  answerBySql(athena, auditAnswers(`s3://bucket/archive/${KEY}`, '@TGS#B', gap), {
    scannedBytes: SCANNED_PER_QUERY,
  });
}

async function invoke(
  env: Record<string, string> = ENV,
  event: Record<string, unknown> = { source: 'audit-schedule' },
) {
  const handler = createAuditHandler({
    env,
    athenaClient: () => new AthenaClient({ region: 'eu-central-1' }),
    store,
    clock: new FakeClock(Date.UTC(2026, 11, 1, 2, 0)),
  });
  const ctx = context();
  const result = await handler(event, ctx);
  const emf = stdout.filter((l) => l.includes('"CloudWatchMetrics"')).map((l) => JSON.parse(l));
  const logs = stdout
    .filter((l) => l.startsWith('{') && !l.includes('"CloudWatchMetrics"'))
    .map((l) => JSON.parse(l));
  const queries = athena.commandCalls(StartQueryExecutionCommand).map((c) => c.args[0].input);
  return { result, emf, logs, queries, requestId: ctx.awsRequestId };
}

/** One invocation with `event`, its queries and log lines only (the earlier ones forgotten). */
async function invokeAlone(event: Record<string, unknown>) {
  athena.resetHistory();
  stdout.length = 0;
  const { result, logs, queries } = await invoke(ENV, event);
  return { result, queries, done: logs.find((l) => String(l.message).startsWith('audit done')) };
}

/** The value of `metric` in the EMF lines with exactly these dimensions. */
function metricValues(emf: Record<string, unknown>[], metric: string, dimensions: string[]): unknown[] {
  return emf
    .filter((m) => metric in m)
    .filter((m) => {
      const meta = (m._aws as { CloudWatchMetrics: { Dimensions: string[][] }[] }).CloudWatchMetrics[0];
      return JSON.stringify(meta?.Dimensions) === JSON.stringify([dimensions]);
    })
    .map((m) => m[metric]);
}

describe('audit function', () => {
  it('audits through Athena in the configured workgroup, writes the report, publishes zero unexplained', async () => {
    answer(false);
    const { result, emf, logs, requestId } = await invoke();
    const starts = athena.commandCalls(StartQueryExecutionCommand).map((c) => c.args[0].input);
    expect(starts).toHaveLength(6);
    expect(starts.every((s) => s.WorkGroup === 'chat-archive')).toBe(true);
    expect(starts.every((s) => s.QueryExecutionContext?.Database === 'chat_archive')).toBe(true);

    // 2026-12-01 02:00 UTC is 10:00 in Shanghai: the report's dt is the archive zone's date.
    const reportKey = `audits/dt=2026-12-01/${requestId}.json`;
    expect(result).toEqual({ reportKey, findings: 0, unexplained: 0, bytesScanned: 6 * SCANNED_PER_QUERY });
    const stored = await store.get(reportKey);
    const report = JSON.parse(new TextDecoder().decode(stored?.body));
    expect(report).toMatchObject({ archive: 's3://bucket/archive/', engine: 'Athena', unexplained: 0 });
    expect(report.apps.map((a: { sdkAppId: number }) => a.sdkAppId)).toEqual([APP]);

    expect(metricValues(emf, 'AuditUnexplainedFindings', ['service'])).toEqual([0]);
    expect(metricValues(emf, 'AuditFindings', ['service'])).toEqual([0]);
    expect(metricValues(emf, 'AuditBytesScanned', ['service'])).toEqual([6 * SCANNED_PER_QUERY]);
    expect(metricValues(emf, 'AuditUnexplainedFindings', ['service', 'SdkAppId'])).toEqual([0]);
    expect(emf[0]?._aws.CloudWatchMetrics[0].Namespace).toBe('TencentChatArchiver');
    expect(logs.find((l) => l.message === 'audit done: every finding explained')).toMatchObject({
      reportKey,
      unexplained: 0,
      function_name: 'audit',
    });
  });

  it("publishes under the stack's name as a dimension, so two stacks' alarms see only their own findings", async () => {
    answer(true);
    const { emf } = await invoke({ ...ENV, ARCHIVER_STACK: 'TeamA' });
    expect(metricValues(emf, 'AuditUnexplainedFindings', ['service', 'Stack'])).toEqual([1]);
    expect(metricValues(emf, 'AuditUnexplainedFindings', ['service', 'Stack', 'SdkAppId'])).toEqual([1]);
    expect(emf.every((m) => m.Stack === 'TeamA')).toBe(true);
  });

  it('audits only the configured apps of the archive; with none other, it also looks for orphaned media', async () => {
    const { auditScope } = await import('../../functions/lambda/audit-handler.ts');
    expect(await auditScope(store, [APP, OTHER_APP])).toEqual({ skipped: [] });
    await seedThreeMessages(store, {
      sdkAppId: 1400000099,
      groupId: '@TGS#X',
      key: 'messages/sdkappid=1400000099/dt=2024-03-01/part-r1-00000.ndjson.gz',
      from: 'carol',
      text: (seq) => `seq ${seq}`,
      atMs: (seq) => Date.UTC(2024, 2, 1, 2, seq),
      random: (seq) => 200 + seq,
    });
    expect(await auditScope(store, [APP, OTHER_APP])).toEqual({ sdkAppIds: [APP], skipped: [1400000099] });
    answer(false);
    const { result, logs } = await invoke();
    const stored = await store.get(result.reportKey);
    const report = JSON.parse(new TextDecoder().decode(stored?.body));
    expect(report.apps.map((a: { sdkAppId: number }) => a.sdkAppId)).toEqual([APP]);
    expect(logs.find((l) => l.skipped)?.skipped).toEqual([1400000099]);
  });

  it('a missing seq makes the unexplained metric 1, for the total and for its app, and names it in the log', async () => {
    answer(true);
    const { result, emf, logs } = await invoke();
    expect(result).toMatchObject({ findings: 1, unexplained: 1 });
    expect(metricValues(emf, 'AuditUnexplainedFindings', ['service'])).toEqual([1]);
    const perApp = emf.filter((m) => 'AuditUnexplainedFindings' in m && m.SdkAppId !== undefined);
    expect(perApp.map((m) => [m.SdkAppId, m.AuditUnexplainedFindings])).toEqual([[String(APP), 1]]);
    const warning = logs.find((l) => l.message === 'audit done: unexplained findings');
    expect(warning?.level).toBe('WARN');
    expect(warning?.unexplainedFindings).toEqual([
      expect.objectContaining({ kind: 'missing-seqs', sdkAppId: APP, groupId: '@TGS#B', seqs: [[2, 2]] }),
    ]);
    const stored = await store.get(result.reportKey);
    expect(JSON.parse(new TextDecoder().decode(stored?.body)).findings).toHaveLength(1);
  });

  it('counts message objects in an archived storage class in its summary, explained, not failing', async () => {
    // The bucket lists the app's object in Glacier Flexible Retrieval and refuses its GET.
    const archivedKey = KEY;
    Object.assign(store, {
      async *listArchived(prefix: string) {
        if (archivedKey.startsWith(prefix)) yield archivedKey;
      },
    });
    answer(false);
    const { result, logs } = await invoke();
    expect(result).toMatchObject({ unexplained: 0 });
    expect(logs.find((l) => l.message === 'audit done: every finding explained')).toMatchObject({
      unreadableArchived: 1,
    });
    const report = JSON.parse(new TextDecoder().decode((await store.get(result.reportKey))?.body));
    expect(report.apps[0].unreadableArchived).toBe(1);
    expect(report.findings).toEqual([
      expect.objectContaining({ kind: 'archived-unreadable', explained: true, objects: [archivedKey] }),
    ]);
  });

  it('an Athena failure fails the invocation (the audit-failed alarm) and writes no report', async () => {
    athena.on(StartQueryExecutionCommand).rejects(new Error('AccessDeniedException: not authorized'));
    await expect(invoke()).rejects.toThrow();
    const keys: string[] = [];
    for await (const key of store.list('audits/')) keys.push(key);
    expect(keys).toEqual([]);
  });
});

// The incremental mode (functions/lambda/audit-event.ts): the schedule's `{ incremental: true }`
// keeps running totals under `audits/totals/`, so a second audit with nothing new runs no query;
// `full: true` reads every partition again.
describe('audit function, incremental', () => {
  it('keeps running totals: a second audit with nothing new runs no query; full: true reads every partition', async () => {
    answerBySql(athena, auditAnswers(`s3://bucket/archive/${KEY}`, '@TGS#B'));

    const first = await invokeAlone({ source: 'audit-schedule', incremental: true });
    expect(first.result.unexplained).toBe(0);
    // No totals yet: every partition, no dt filter (objects, seq ranges, exceptional rows).
    expect(first.queries).toHaveLength(3);
    const params = first.queries.flatMap((q) => q.ExecutionParameters ?? []);
    expect(params.filter((p) => /^'\d{4}-\d{2}-\d{2}'$/.test(p))).toEqual([]);
    expect(first.done.partitions).toEqual([{ sdkAppId: APP, total: 1, read: 1, full: true }]);
    expect(await store.get(auditTotalsKey(APP))).toBeDefined();

    const second = await invokeAlone({ source: 'audit-schedule', incremental: true });
    expect(second.queries).toEqual([]);
    expect(second.result.unexplained).toBe(0);
    expect(second.done.partitions).toEqual([{ sdkAppId: APP, total: 1, read: 0, full: false }]);

    const full = await invokeAlone({ incremental: true, full: true });
    expect(full.queries).toHaveLength(3);
    expect(full.done.partitions).toEqual([{ sdkAppId: APP, total: 1, read: 1, full: true }]);

    // Without `incremental`: the full audit (its six queries), totals neither read nor needed.
    const plain = await invokeAlone({ source: 'manual' });
    expect(plain.queries).toHaveLength(6);
    expect(plain.done.partitions).toBeUndefined();
  });
});
