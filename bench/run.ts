/**
 * `npm run bench`: throughput, call efficiency and memory of the client and the engine against the
 * simulator with realistic latency. Prints a table; nothing here is asserted by tests.
 *
 *   A  client alone: sustained calls/s at the configured limit, over-limit answers
 *   B  engine, realistic app: 2,000 groups, 10% active, ~200k messages
 *   C  engine, one group with 1,000,000 messages (peak RSS)
 *   D  naive sequential pager (one group, one request at a time) on B's data, time-boxed
 *   E  objects written vs number of groups for the same data volume
 *
 * BENCH_SCALE (default 1) shrinks B, C and E for a quick look, e.g. BENCH_SCALE=0.1.
 * BENCH_ONLY picks sections (e.g. BENCH_ONLY=AC). BENCH_MEM_TRACE=<module> is preloaded into the
 * engine process (e.g. one that logs process.memoryUsage() every few seconds) and its stderr shown.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { createConsoleLogger } from '../functions/adapters/logging/console-logger.ts';
import { systemClock } from '../functions/adapters/system-clock.ts';
import { TencentClient } from '../functions/adapters/tencent/client.ts';
import { userSigFromKey } from '../functions/adapters/tencent/user-sig.ts';
import type { RunReport } from '../functions/engine/report.ts';
import { type DatasetSpec, type Simulator, startSimulator } from '../functions/simulator/index.ts';

const run = promisify(execFile);
const SCALE = Number(process.env.BENCH_SCALE ?? '1');
const RATE = 200;
const LATENCY = { latencyMs: 80, jitterMs: 20 }; // 80 ms ± 20 ms round trip, the jitter on the way in
const quiet = createConsoleLogger({ level: 'error' });

const rows: [string, string, string][] = [];
const row = (what: string, value: string, note = '') => {
  rows.push([what, value, note]);
  process.stderr.write(`  ${what}: ${value} ${note}\n`);
};

async function withSim<T>(dataset: DatasetSpec, body: (sim: Simulator) => Promise<T>): Promise<T> {
  const sim = await startSimulator({ ...LATENCY, dataset, seed: 3, retentionDays: 3650 });
  try {
    return await body(sim);
  } finally {
    await sim.stop();
  }
}

function clientFor(sim: Simulator, concurrency = 64): TencentClient {
  const app = sim.apps[0];
  if (!app) throw new Error('no app');
  return new TencentClient({
    sdkAppId: app.sdkAppId,
    adminIdentifier: app.adminIdentifier,
    endpoint: sim.url,
    userSig: userSigFromKey({
      sdkAppId: app.sdkAppId,
      key: app.secretKey,
      identifier: app.adminIdentifier,
      clock: systemClock,
    }),
    clock: systemClock,
    random: Math.random,
    logger: quiet,
    rateLimits: { groupMsgGetSimple: RATE },
    maxConcurrency: concurrency,
  });
}

/** Minimum pull calls: ceil(messages / 20) per group and topic. */
function minimumCalls(sim: Simulator): number {
  let calls = 0;
  for (const g of sim.groups()) {
    if (g.deleted || g.type === 'AVChatRoom' || g.type === 'BChatRoom') continue;
    calls += Math.ceil((g.nextMsgSeq - 1) / 20);
    for (const t of g.topics) calls += Math.ceil((t.nextMsgSeq - 1) / 20);
  }
  return calls;
}

async function engine(sim: Simulator, label: string): Promise<{ report: RunReport; maxRssMb: number }> {
  const dir = await mkdtemp(join(tmpdir(), 'bench-'));
  try {
    const app = sim.apps[0];
    if (!app) throw new Error('no app');
    await writeFile(join(dir, 'key'), app.secretKey, { mode: 0o600 });
    const config = {
      apps: [
        {
          sdkAppId: app.sdkAppId,
          endpoint: sim.url,
          adminIdentifier: app.adminIdentifier,
          secretKey: { file: join(dir, 'key') },
          maxConcurrency: 64,
        },
      ],
      archive: { out: join(dir, 'archive') },
    };
    await writeFile(join(dir, 'config.json'), JSON.stringify(config));
    process.stderr.write(`${label}: running the engine…\n`);
    const { stdout, stderr } = await run(
      'npx',
      [
        'tsx',
        ...(process.env.BENCH_MEM_TRACE ? ['--import', process.env.BENCH_MEM_TRACE] : []),
        'bench/engine-worker.ts',
        join(dir, 'config.json'),
      ],
      {
        maxBuffer: 64 * 1024 * 1024,
        env: { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
      },
    );
    if (process.env.BENCH_MEM_TRACE) process.stderr.write(stderr);
    return JSON.parse(stdout.trim().split('\n').at(-1) ?? '{}');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

function reportEngine(label: string, sim: Simulator, result: { report: RunReport; maxRssMb: number }): void {
  const { report } = result;
  const pulls = report.calls.groupMsgGetSimple ?? 0;
  const min = minimumCalls(sim) + report.shortPages;
  const pagingSeconds = Math.max(0.001, (report.elapsedMs - report.planMs) / 1000);
  const stats = sim.stats();
  row(`${label} messages archived`, String(report.messages), report.done ? '(done)' : '(NOT done)');
  row(
    `${label} pull calls vs minimum`,
    `${pulls} / ${min} = ${(pulls / min).toFixed(3)}x`,
    `(target <= 1.02x; ${report.shortPages} short pages)`,
  );
  row(
    `${label} info + list + topic calls`,
    `${report.calls.getGroupInfo} + ${report.calls.getAppidGroupList} + ${report.calls.getTopic}`,
  );
  row(
    `${label} pull rate while pulling`,
    `${(pulls / pagingSeconds).toFixed(1)}/s`,
    `(${((pulls / pagingSeconds / RATE) * 100).toFixed(1)}% of ${RATE}/s; target >= 90%)`,
  );
  row(
    `${label} wall time vs rate floor`,
    `${(report.elapsedMs / 1000).toFixed(1)} s vs ${(min / RATE).toFixed(1)} s`,
  );
  row(`${label} over-limit answers`, String(stats.overLimit), '(target 0)');
  row(`${label} peak RSS (engine process)`, `${result.maxRssMb.toFixed(0)} MB`, '(target < 256 MB)');
  row(`${label} objects written`, String(report.objectsWritten), `(${report.checkpoints} checkpoints)`);
}

async function sectionA(): Promise<void> {
  process.stderr.write('A: client at 200/s with 80 ms ± 20 ms latency…\n');
  await withSim(
    { groups: 50, activeFraction: 1, messagesPerActiveGroup: [200, 400], historyDays: 10 },
    async (sim) => {
      const client = clientFor(sim);
      const ids = sim
        .groups()
        .filter((g) => g.type !== 'AVChatRoom' && !g.topicsEnabled && g.nextMsgSeq > 1)
        .map((g) => g.groupId);
      const n = Math.round(2_000 * Math.max(SCALE, 0.25));
      const started = performance.now();
      await Promise.all(
        Array.from({ length: n }, (_, i) =>
          client.getHistory({
            groupId: ids[i % ids.length] as string,
            reqMsgNumber: 20,
            withRecalledMsg: true,
          }),
        ),
      );
      const seconds = (performance.now() - started) / 1000;
      row('A client calls', String(n));
      row(
        'A achieved rate',
        `${(n / seconds).toFixed(1)}/s`,
        `(${((n / seconds / RATE) * 100).toFixed(1)}% of ${RATE}/s)`,
      );
      row('A over-limit answers', String(sim.stats().overLimit), '(target 0)');
      row('A peak requests in flight', String(sim.stats().peakInFlight));
    },
  );
}

/** 10% of the groups active; `spread` 0 gives every active group the same number of messages. */
const realistic = (groups: number, messages: number, spread = 0.5): DatasetSpec => {
  const active = Math.max(1, Math.round(groups * 0.1));
  const perGroup = Math.round(messages / active);
  return {
    groups,
    activeFraction: 0.1,
    messagesPerActiveGroup: [Math.round(perGroup * (1 - spread)), Math.round(perGroup * (1 + spread))],
    historyDays: 30,
  };
};

async function sectionB(): Promise<void> {
  await withSim(realistic(2_000, 200_000 * SCALE), async (sim) => {
    reportEngine('B', sim, await engine(sim, 'B: realistic app'));
  });
}

async function sectionC(): Promise<void> {
  const spec: DatasetSpec = {
    groups: 0,
    activeFraction: 0,
    messagesPerActiveGroup: [0, 0],
    historyDays: 30,
    extraGroups: [{ groupId: '@TGS#1MILLION', type: 'Public', messages: Math.round(1_000_000 * SCALE) }],
  };
  await withSim(spec, async (sim) =>
    reportEngine('C', sim, await engine(sim, 'C: one group with 1M messages')),
  );
}

async function sectionD(): Promise<void> {
  const budgetMs = 30_000;
  process.stderr.write('D: naive sequential pager, 30 s…\n');
  await withSim(realistic(2_000, 200_000 * SCALE), async (sim) => {
    const client = clientFor(sim, 1);
    const targets = sim
      .groups()
      .filter((g) => g.type !== 'AVChatRoom' && !g.topicsEnabled && g.nextMsgSeq > 1);
    const started = performance.now();
    let pages = 0;
    let messages = 0;
    outer: for (const g of targets) {
      let seq: number | undefined;
      for (;;) {
        if (performance.now() - started > budgetMs) break outer;
        const page = await client.getHistory({
          groupId: g.groupId,
          reqMsgSeq: seq,
          reqMsgNumber: 20,
          withRecalledMsg: true,
        });
        pages++;
        messages += page.messages.length;
        const min = Math.min(...page.messages.map((m) => m.MsgSeq));
        if (page.messages.length === 0 || page.isFinished === 2 || min <= 1) break;
        seq = min - 1;
      }
    }
    const seconds = (performance.now() - started) / 1000;
    const projected = minimumCalls(sim) / (pages / seconds);
    row('D naive pages/s', (pages / seconds).toFixed(1), `(${messages} messages in ${seconds.toFixed(0)} s)`);
    row('D naive projected wall time for B', `${(projected / 60).toFixed(1)} min`);
  });
}

async function sectionE(): Promise<void> {
  const messages = Math.round(20_000 * Math.max(SCALE, 0.25));
  for (const groups of [100, 1_000]) {
    await withSim(realistic(groups, messages, 0), async (sim) => {
      const { report } = await engine(sim, `E: ${groups} groups`);
      row(
        `E objects for ${report.messages} messages in ${groups} groups`,
        String(report.objectsWritten),
        '(same days: 30)',
      );
    });
  }
}

const sections: Record<string, () => Promise<void>> = {
  A: sectionA,
  B: sectionB,
  C: sectionC,
  D: sectionD,
  E: sectionE,
};
const only = (process.env.BENCH_ONLY ?? 'ABCDE').split('');
for (const name of only) await sections[name]?.();

const width = Math.max(...rows.map((r) => r[0].length));
process.stdout.write(`\nbenchmark (scale ${SCALE}, rate ${RATE}/s, latency 80 ± 20 ms)\n`);
for (const [what, value, note] of rows) process.stdout.write(`${what.padEnd(width)}  ${value} ${note}\n`);
