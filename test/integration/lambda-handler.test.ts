/**
 * The real Lambda handler, middy stack included, driven the way the state machine drives it:
 * invoked again and again with a fake Lambda context whose remaining time is short, until it
 * reports `done`. SSM is mocked at the SDK level (GetParameters), S3 is s3rver, Tencent is the
 * simulator. The archive must end up complete and exactly once, and no log line may carry a secret.
 */
import { randomUUID } from 'node:crypto';
import { GetParametersCommand, SSMClient } from '@aws-sdk/client-ssm';
import type { Context } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { S3Store } from '../../functions/adapters/s3/s3-store.ts';
import { systemClock } from '../../functions/adapters/system-clock.ts';
import { PAGE_SIZE } from '../../functions/domain/continuation.ts';
import type { ArchiveResult } from '../../functions/lambda/contract.ts';
import { timeBudget } from '../../functions/lambda/time-budget.ts';
import { type Simulator, type SimulatorOptions, startSimulator } from '../../functions/simulator/index.ts';
import { exactlyOnceProblems, expectedIdentities, readArchive } from '../helpers/archive.ts';
import { rejection } from '../helpers/assertions.ts';
import { type S3rverHandle, startS3rver } from '../helpers/s3rver.ts';

const PARAMETER = '/tencent-chat-archiver/1400000000/secret-key';
/** History pages per second (the app's plan rate): what bounds an invocation's work. */
const PAGE_RATE = 3;
/**
 * The remaining time of each invocation of the deadline test, and its hard stop: the soft deadline
 * comes a quarter (2.5 s) before the end, 2.3 s before the hard stop (time-budget.ts), room for the
 * last checkpoint on a loaded machine.
 */
const REMAINING_MS = 10_000;
/** History calls of one invocation in flight at once. */
const MAX_CONCURRENCY = 4;
const HARD_STOP_MS = 200;
const PREFIX = 'archive/';

const DATASET: SimulatorOptions['dataset'] = {
  groups: 12,
  activeFraction: 0.9,
  messagesPerActiveGroup: [40, 220],
  historyDays: 10,
  extraGroups: [
    {
      groupId: '@TGS#_@TGS#cLAMBDATOPIC',
      type: 'Community',
      messages: 0,
      topics: [{ topicId: '@TGS#_@TGS#cLAMBDATOPIC@TOPIC#_@TOPIC#cA', messages: 60 }],
    },
  ],
};

let sim: Simulator;
let s3: S3rverHandle;
const ssm = mockClient(SSMClient);
let handlerModule: typeof import('../../functions/lambda/handler.ts');
const savedEnv = { ...process.env };
/** Every line written to stdout (Powertools logs and EMF metrics) during the tests. */
const stdout: string[] = [];

/** A Lambda context whose clock starts now and runs out after `remainingMs`. */
function fakeContext(remainingMs: number): Context {
  const deadline = Date.now() + remainingMs;
  return {
    callbackWaitsForEmptyEventLoop: true,
    functionName: 'archiver',
    functionVersion: '$LATEST',
    invokedFunctionArn: 'arn:aws:lambda:us-east-1:123456789012:function:archiver',
    memoryLimitInMB: '1024',
    awsRequestId: randomUUID(),
    logGroupName: '/aws/lambda/archiver',
    logStreamName: '2026/11/25/[$LATEST]0123',
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}

/** The config the stack would put in ARCHIVER_CONFIG, pointed at the simulator. */
function archiverConfig(over: Record<string, unknown> = {}) {
  return {
    apps: [
      {
        sdkAppId: 1400000000,
        endpoint: sim.url,
        secretKey: { ssmParameter: PARAMETER },
        // Slow enough that one short invocation cannot finish the archive (see minInvocations).
        planRateLimit: PAGE_RATE,
        maxConcurrency: MAX_CONCURRENCY,
        requestTimeoutMs: 4_000,
        retentionDays: 30,
        ...over,
      },
    ],
    archive: { timeZone: 'Asia/Shanghai', flushMegabytes: 0.05 },
    run: { checkpointSeconds: 1, leaseSeconds: 30 },
    // The invocation loop is about new history; the rescan (same engine) has its own tests, and at
    // 20 calls/s it would re-read what earlier invocations archived.
    rescan: { days: 0 },
  };
}

function lambdaEnv(config: unknown, extra: Record<string, string> = {}) {
  return {
    ARCHIVER_CONFIG: JSON.stringify(config),
    ARCHIVE_BUCKET: s3.bucket,
    ARCHIVE_PREFIX: PREFIX,
    ...extra,
  };
}

function answerSsm(value: string) {
  ssm.on(GetParametersCommand).resolves({
    Parameters: [{ Name: PARAMETER, Type: 'SecureString', Value: value, Version: 1 }],
    InvalidParameters: [],
  });
}

const store = () => new S3Store({ client: s3.client, bucket: s3.bucket, prefix: PREFIX });

/** The run reports in the archive (`runs/…/<runId>.json`). */
async function runReports(): Promise<{ runId: string; messages: number }[]> {
  const out: { runId: string; messages: number }[] = [];
  for await (const key of store().list('runs/')) {
    const object = await store().get(key);
    if (object) out.push(JSON.parse(new TextDecoder().decode(object.body)));
  }
  return out;
}

type Handler = ReturnType<typeof handlerModule.createHandler>;

/** Errors the state machine retries (its Retry blocks); anything else fails the app. */
const RETRIED = new Set(['LeaseHeldError', 'TimeoutError', 'TransientError']);

/**
 * The state machine's per-app loop: invoke; on `done` stop; on a retried error pause and invoke
 * again (the real loop waits 30-60 s with backoff, this one 100 ms); bounded like the real one.
 */
async function invokeUntilDone(handler: Handler, sdkAppId: number, remainingMs: number) {
  const results: ArchiveResult[] = [];
  const retried: string[] = [];
  for (let attempt = 0; attempt < 60; attempt++) {
    try {
      const result = (await handler({ sdkAppId }, fakeContext(remainingMs))) as ArchiveResult;
      results.push(result);
      if (result.done) return { results, retried };
    } catch (error) {
      const name = (error as Error).name;
      if (!RETRIED.has(name)) throw error;
      retried.push(name);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
  throw new Error(`not done after 60 attempts: ${results.length} results, retried ${retried.join(', ')}`);
}

beforeAll(async () => {
  sim = await startSimulator({
    seed: 4,
    dataset: DATASET,
    retentionDays: 365,
    rateLimits: {
      get_appid_group_list: 100,
      get_group_info: 1_000,
      group_msg_get_simple: 1_000,
      get_topic: 1_000,
    },
  });
  s3 = await startS3rver('lambda-archive');
  // What the Lambda runtime and the stack provide; s3rver's credentials and endpoint.
  Object.assign(process.env, {
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: 'S3RVER',
    AWS_SECRET_ACCESS_KEY: 'S3RVER',
    AWS_ENDPOINT_URL_S3: s3.endpoint,
    POWERTOOLS_SERVICE_NAME: 'tencent-chat-archiver',
    ...lambdaEnv(archiverConfig()),
  });
  // Captured (not echoed): the Lambda writes its JSON logs and EMF metrics to stdout.
  vi.spyOn(process.stdout, 'write').mockImplementation(((chunk: string | Uint8Array) => {
    stdout.push(...String(chunk).split('\n').filter(Boolean));
    return true;
  }) as typeof process.stdout.write);
  // Importing builds the exported handler from process.env: no network call may happen here.
  handlerModule = await import('../../functions/lambda/handler.ts');
});

afterEach(() => {
  ssm.reset();
});

afterAll(async () => {
  vi.restoreAllMocks();
  process.env = savedEnv;
  await sim?.stop();
  await s3?.stop();
});

/**
 * The fewest invocations of `remainingMs` that can archive the simulator's history, however fast
 * this machine is: each stream takes at least one page per 20 messages, and an invocation starts
 * no history page after its soft deadline: at most PAGE_RATE per started second before it (the
 * client's sliding window: functions/domain/rate-limiter.ts), one more window for pages already
 * waiting for the pacer, and those in flight.
 */
function minInvocations(remainingMs: number): number {
  let pages = 0;
  for (const group of sim.groups()) {
    if (group.deleted || group.type === 'AVChatRoom' || group.type === 'BChatRoom') continue;
    const streams = group.topicsEnabled ? group.topics.map((t) => t.topicId) : [undefined];
    for (const topicId of streams) {
      const messages = [
        ...sim.groundTruth(group.groupId, { ...(topicId ? { topicId } : {}), withRecalledMsg: true }),
      ];
      pages += Math.ceil(messages.length / PAGE_SIZE);
    }
  }
  const { deadlineMs } = timeBudget(0, remainingMs, { hardStopMs: HARD_STOP_MS });
  const perInvocation = PAGE_RATE * (Math.ceil((deadlineMs + 1) / 1000) + 1) + MAX_CONCURRENCY;
  return Math.ceil(pages / perInvocation);
}

describe('the Lambda handler', () => {
  it('makes no network call at init: no SSM read, no Tencent call', () => {
    expect(typeof handlerModule.handler).toBe('function');
    handlerModule.createHandler({ env: lambdaEnv(archiverConfig()) });
    expect(ssm.commandCalls(GetParametersCommand)).toHaveLength(0);
    expect(sim.stats().totalCalls).toBe(0);
  });

  it('run again and again with a short remaining time until done, archives every message exactly once', async () => {
    const app = sim.apps[0];
    if (!app) throw new Error('simulator has no app');
    answerSsm(app.secretKey);
    // The hard stop is scaled down with the short remaining time; production keeps the default.
    const handler = handlerModule.createHandler({
      env: lambdaEnv(archiverConfig()),
      hardStopMs: HARD_STOP_MS,
    });
    const least = minInvocations(REMAINING_MS);
    expect(least).toBeGreaterThanOrEqual(3);
    const { results, retried } = await invokeUntilDone(handler, app.sdkAppId, REMAINING_MS);
    const summary = `at least ${least}: ${results.length} results (${results.map((r) => r.messages).join(', ')} messages), retried ${retried.join(', ')}`;
    if (process.env.LAMBDA_TEST_VERBOSE) console.info(summary);
    expect(results.at(-1)?.done, summary).toBe(true);
    // Several invocations each stopped at their deadline (or at the hard stop, which Step
    // Functions retries) and the next one resumed: at least as many as the page rate forces.
    expect(
      results.length + retried.filter((name) => name === 'TimeoutError').length,
      summary,
    ).toBeGreaterThanOrEqual(least);
    expect(results.length, summary).toBeGreaterThanOrEqual(2);
    expect(retried.every((name) => name === 'TimeoutError' || name === 'LeaseHeldError')).toBe(true);
    // Not done: groups left, or the media of the last checkpoint (queued at the deadline) left.
    expect(results.slice(0, -1).every((r) => !r.done && (r.remainingTargets > 0 || r.mediaPending > 0))).toBe(
      true,
    );
    expect(new Set(results.map((r) => r.runId)).size).toBe(results.length);

    const rows = await readArchive(store());
    expect(exactlyOnceProblems(rows, expectedIdentities(sim), 'Asia/Shanghai')).toEqual([]);
    // Every invocation left its run report; together they account for every archived message
    // (an invocation cut off by the hard stop still commits and reports in the background).
    const reports = await runReports();
    expect(reports.length).toBeGreaterThanOrEqual(results.length);
    expect(reports.reduce((n, r) => n + r.messages, 0)).toBe(rows.length);

    // One batched GetParameters for the configured parameter, with decryption; then the cache.
    const calls = ssm.commandCalls(GetParametersCommand);
    expect(calls).toHaveLength(1);
    expect(calls[0]?.args[0].input).toEqual({ Names: [PARAMETER], WithDecryption: true });

    // EMF metrics per invocation, per app; they add up to what was archived.
    const emf = stdout.filter((l) => l.includes('"CloudWatchMetrics"')).map((l) => JSON.parse(l));
    const archived = emf.filter((m) => m.SdkAppId === String(app.sdkAppId) && 'MessagesArchived' in m);
    const total = archived.flatMap((m) => [m.MessagesArchived].flat() as number[]).reduce((n, v) => n + v, 0);
    expect(total).toBe(rows.length);
    expect(archived.at(-1)).toMatchObject({ LagSeconds: 0, RetentionHeadroomDays: 30, Errors: 0 });
    expect(archived.at(-1)._aws.CloudWatchMetrics[0]).toMatchObject({
      Namespace: 'TencentChatArchiver',
      Dimensions: [['service', 'SdkAppId']],
    });

    // Structured JSON logs with the Lambda context, and no secret anywhere.
    const logs = stdout.filter((l) => l.startsWith('{') && !l.includes('"CloudWatchMetrics"'));
    expect(logs.some((l) => JSON.parse(l).message === 'run done: caught up')).toBe(true);
    expect(JSON.parse(logs[0] as string)).toMatchObject({
      service: 'tencent-chat-archiver',
      function_name: 'archiver',
    });
    for (const line of stdout) {
      expect(line).not.toContain(app.secretKey);
      expect(line).not.toMatch(/usersig=(?!\*\*\*)/i);
    }

    // Once caught up, another invocation finds nothing new and is done at once.
    const again = (await handler({ sdkAppId: app.sdkAppId }, fakeContext(REMAINING_MS))) as ArchiveResult;
    expect(again).toMatchObject({ done: true, messages: 0 });
  }, 300_000);

  it('names the missing SSM parameter and fails without retry value (ConfigError)', async () => {
    ssm.on(GetParametersCommand).resolves({ Parameters: [], InvalidParameters: [PARAMETER] });
    const handler = handlerModule.createHandler({ env: lambdaEnv(archiverConfig()), hardStopMs: 200 });
    const error = (await rejection(handler({ sdkAppId: 1400000000 }, fakeContext(2_000)))) as Error;
    expect(error.name).toBe('ConfigError');
    expect(error.message).toContain(`apps.0.secretKey: cannot read SSM parameter ${PARAMETER} (not found)`);
  });

  it('picks up a rotated secret once the cache expires', async () => {
    const app = sim.apps[0];
    if (!app) throw new Error('simulator has no app');
    const handler = handlerModule.createHandler({
      env: lambdaEnv(archiverConfig(), { SECRET_CACHE_SECONDS: '0' }),
      hardStopMs: 200,
    });
    answerSsm('0000000000000000000000000000000000000000000000000000000000000000');
    const error = (await rejection(handler({ sdkAppId: app.sdkAppId }, fakeContext(2_000)))) as Error;
    // Tencent rejects the old key: a configuration error, and the key is never echoed.
    expect(error.name).toBe('ConfigError');
    expect(error.message).not.toContain('0000000000000000');
    ssm.reset();
    answerSsm(app.secretKey);
    // Time enough to end at its deadline (6 s) on a busy machine, with 1.8 s for the work after it
    // (the last checkpoint, the names, the report): with 2 s, that work outlasted the 0.3 s before
    // the hard stop at a load of 13, and the run failed for a reason this test is not about.
    const result = (await handler({ sdkAppId: app.sdkAppId }, fakeContext(8_000))) as ArchiveResult;
    expect(result.sdkAppId).toBe(app.sdkAppId);
    expect(ssm.commandCalls(GetParametersCommand)).toHaveLength(1);
  });

  it('reports LeaseHeldError (Step Functions retries it) while another run holds the lease', async () => {
    const app = sim.apps[0];
    if (!app) throw new Error('simulator has no app');
    answerSsm(app.secretKey);
    const { StateKeeper } = await import('../../functions/engine/state-keeper.ts');
    const other = await StateKeeper.open({
      store: store(),
      sdkAppId: app.sdkAppId,
      runId: 'another-run',
      clock: systemClock,
      logger: { debug() {}, info() {}, warn() {}, error() {} },
      leaseMs: 60_000,
    });
    try {
      const handler = handlerModule.createHandler({ env: lambdaEnv(archiverConfig()), hardStopMs: 200 });
      const error = (await rejection(handler({ sdkAppId: app.sdkAppId }, fakeContext(2_000)))) as Error;
      expect(error.name).toBe('LeaseHeldError');
      expect(error.message).toContain('another-run');
    } finally {
      await other.release();
    }
  });

  it('returns only after the engine stopped: the hard stop aborts in-flight calls and the lease is released', async () => {
    const app = sim.apps[0];
    if (!app) throw new Error('simulator has no app');
    answerSsm(app.secretKey);
    // New work, and every history answer takes 12 s: the soft deadline cannot drain them in time.
    // The invocation has 8 s: its soft deadline comes after 4 s, so that planning, even on a loaded
    // machine, ends before it; the hard stop after 6 s leaves 2 s to abort and release the lease.
    const group = sim.groups().find((g) => g.type === 'Public' && !g.deleted);
    if (!group) throw new Error('no Public group');
    sim.appendMessages(group.groupId, 30);
    sim.injectFaults({ api: 'group_msg_get_simple', kind: 'slow', delayMs: 12_000, times: 100 });
    try {
      const handler = handlerModule.createHandler({ env: lambdaEnv(archiverConfig()), hardStopMs: 2_000 });
      const started = Date.now();
      const error = (await rejection(handler({ sdkAppId: app.sdkAppId }, fakeContext(8_000)))) as Error;
      const elapsed = Date.now() - started;
      expect(error.name).toBe('TimeoutError');
      // Returned before the invocation's time was up, and not before the engine had stopped:
      // the lease is already given back (a run still working in the background would hold it).
      expect(elapsed).toBeLessThan(8_000);
      const state = await store().get('state/sdkappid=1400000000/state.json');
      const lease = JSON.parse(new TextDecoder().decode(state?.body)).lease;
      expect(lease).toBeNull();
    } finally {
      sim.clearFaults();
    }
    const handler = handlerModule.createHandler({
      env: lambdaEnv(archiverConfig()),
      hardStopMs: HARD_STOP_MS,
    });
    const { results } = await invokeUntilDone(handler, app.sdkAppId, REMAINING_MS);
    expect(results.at(-1)?.done).toBe(true);
    expect(exactlyOnceProblems(await readArchive(store()), expectedIdentities(sim), 'Asia/Shanghai')).toEqual(
      [],
    );
  }, 120_000);

  it('rejects an event for an app that is not configured (ConfigError naming sdkAppId)', async () => {
    const handler = handlerModule.createHandler({ env: lambdaEnv(archiverConfig()), hardStopMs: 200 });
    const error = (await rejection(handler({ sdkAppId: 42 }, fakeContext(2_000)))) as Error;
    expect(error.name).toBe('ConfigError');
    expect(error.message).toContain('sdkAppId 42 is not configured');
    // Checked before anything is fetched.
    expect(ssm.commandCalls(GetParametersCommand)).toHaveLength(0);
  });
});
