/**
 * `npm run bench`: throughput, call efficiency and memory of the client and the engine against the
 * simulator with realistic latency (80 ± 20 ms, the jitter on the way in, so requests arrive out of
 * order) and long messages (pages cut short at 12 KB). Prints a table; nothing here is asserted by
 * tests.
 *
 *   A  client alone: sustained calls/s at the configured limit, over-limit answers
 *   B  archive CLI, realistic app: 2,000 groups, 10% active, ~200k messages
 *   C  archive CLI, one group with 1,000,000 messages
 *   D  naive sequential pager (one group, one request at a time) on B's data, time-boxed
 *   E  objects written vs number of groups for the same data volume
 *
 * B and C run twice: on the simulator's strict default (at most 200 requests ARRIVING in any 1000 ms
 * window) and on the lenient token-bucket reading, side by side. The archive runs as users run it
 * (`tsx functions/cli/main.ts archive`), in its own process, whose peak RSS is reported.
 *
 * BENCH_SCALE (default 1) shrinks B, C and E for a quick look, e.g. BENCH_SCALE=0.1.
 * BENCH_ONLY picks sections (e.g. BENCH_ONLY=AC); BENCH_MODES picks readings (sliding,token-bucket).
 * BENCH_MEM_TRACE=<module> is preloaded into the archive process too and its stderr shown.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { createConsoleLogger } from '../functions/adapters/logging/console-logger.ts';
import { systemClock } from '../functions/adapters/system-clock.ts';
import { TencentClient } from '../functions/adapters/tencent/client.ts';
import { userSigFromKey } from '../functions/adapters/tencent/user-sig.ts';
import type { RunReport } from '../functions/engine/report.ts';
import { type DatasetSpec, type Simulator, startSimulator } from '../functions/simulator/index.ts';
import type { RateLimitMode } from '../functions/simulator/rate-limit.ts';

const run = promisify(execFile);
const SCALE = Number(process.env.BENCH_SCALE ?? '1');
const RATE = 200;
const LATENCY = { latencyMs: 80, jitterMs: 20 }; // 80 ms ± 20 ms round trip, the jitter on the way in
/** Long messages: a page is cut short once its JSON passes this (about 7% of pages here). */
const MAX_PAGE_BYTES = 12_000;
const MODES = (process.env.BENCH_MODES ?? 'sliding,token-bucket').split(',') as RateLimitMode[];
const quiet = createConsoleLogger({ level: 'error' });

const rows: [string, string, string][] = [];
const row = (what: string, value: string, note = '') => {
  rows.push([what, value, note]);
  process.stderr.write(`  ${what}: ${value} ${note}\n`);
};

async function withSim<T>(
  dataset: DatasetSpec,
  body: (sim: Simulator) => Promise<T>,
  rateLimitMode: RateLimitMode = 'sliding',
): Promise<T> {
  const sim = await startSimulator({
    ...LATENCY,
    dataset,
    seed: 3,
    retentionDays: 3650,
    maxPageBytes: MAX_PAGE_BYTES,
    rateLimitMode,
  });
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

/** Minimum pull calls: what a sequential page-follower needs for every group and topic. */
function minimumCalls(sim: Simulator): number {
  let calls = 0;
  for (const g of sim.groups()) {
    if (g.deleted || g.type === 'AVChatRoom' || g.type === 'BChatRoom') continue;
    if (!g.topicsEnabled) calls += sim.sequentialPulls(g.groupId);
    for (const t of g.topics) calls += sim.sequentialPulls(g.groupId, { topicId: t.topicId });
  }
  return calls;
}

interface EngineResult {
  report: RunReport;
  maxRssMb: number;
}

/** Runs `npm run archive` (the CLI as users run it) against `sim` in its own process. */
async function engine(sim: Simulator, label: string): Promise<EngineResult> {
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
          retentionDays: 3650,
        },
      ],
      archive: { out: join(dir, 'archive') },
    };
    await writeFile(join(dir, 'config.json'), JSON.stringify(config));
    process.stderr.write(`${label}: running npm run archive…\n`);
    const rssFile = join(dir, 'rss');
    const preload = [join(process.cwd(), 'bench/rss-probe.mjs'), process.env.BENCH_MEM_TRACE]
      .filter((m): m is string => m !== undefined)
      .map((m) => `--import=${m.startsWith('.') ? join(process.cwd(), m) : m}`);
    const { stderr } = await run(
      'npm',
      ['run', '--silent', 'archive', '--', '--config', join(dir, 'config.json')],
      {
        maxBuffer: 64 * 1024 * 1024,
        env: {
          ...process.env,
          AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
          BENCH_RSS_FILE: rssFile,
          NODE_OPTIONS: [process.env.NODE_OPTIONS, ...preload].filter(Boolean).join(' '),
        },
      },
    );
    if (process.env.BENCH_MEM_TRACE) process.stderr.write(stderr);
    const runsDir = join(dir, 'archive', 'runs');
    const reports = (await readdir(runsDir, { recursive: true })).filter((f) => f.endsWith('.json'));
    if (reports.length !== 1) throw new Error(`expected one run report, found ${reports.length}`);
    const report = JSON.parse(await readFile(join(runsDir, reports[0] as string), 'utf8')) as RunReport;
    const rssKb = (await readFile(rssFile, 'utf8')).split('\n').filter(Boolean).map(Number);
    const maxRssMb = Math.max(...rssKb) / 1024;
    return { report, maxRssMb };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** One engine run's figures, for the side-by-side table. */
interface Figures {
  messages: string;
  wall: string;
  pulls: string;
  limitAnswers: string;
  rate: string;
  rss: string;
  objects: string;
}

function figures(sim: Simulator, min: number, { report, maxRssMb }: EngineResult): Figures {
  const pulls = report.calls.groupMsgGetSimple ?? 0;
  const pagingSeconds = Math.max(0.001, (report.elapsedMs - report.planMs) / 1000);
  const floor = min / RATE;
  const stats = sim.stats();
  return {
    messages: `${report.messages}${report.done ? '' : ' (NOT done)'}`,
    wall: `${(report.elapsedMs / 1000).toFixed(1)} s / ${floor.toFixed(1)} s = ${(report.elapsedMs / 1000 / floor).toFixed(3)}x`,
    pulls: `${pulls} / ${min} = ${(pulls / min).toFixed(4)}x`,
    limitAnswers: `${stats.overLimit} (client saw ${report.throttles})`,
    rate: `${(pulls / pagingSeconds).toFixed(1)}/s (${((pulls / pagingSeconds / RATE) * 100).toFixed(1)}%)`,
    rss: `${maxRssMb.toFixed(0)} MB`,
    objects: `${report.objectsWritten} (${report.checkpoints} checkpoints)`,
  };
}

const FIGURE_ROWS: [keyof Figures, string, string][] = [
  ['messages', 'messages archived', ''],
  ['wall', 'wall time / rate floor', '(target <= 1.10x)'],
  ['limitAnswers', 'frequency-limit answers', '(target 0)'],
  ['pulls', 'pull calls / minimum', '(target <= 1.01x)'],
  ['rate', 'achieved pull rate', `(of ${RATE}/s)`],
  ['rss', 'peak RSS (archive process)', '(target < 256 MB)'],
  ['objects', 'objects written', ''],
];

/** Runs the engine on `dataset` under every reading of the limit and prints the figures side by side. */
async function engineSection(label: string, title: string, dataset: DatasetSpec): Promise<void> {
  const results: Figures[] = [];
  for (const mode of MODES) {
    await withSim(
      dataset,
      async (sim) => {
        const min = minimumCalls(sim);
        const result = figures(sim, min, await engine(sim, `${label}: ${title}, ${mode}`));
        results.push(result);
        process.stderr.write(`  ${label} ${mode}: ${JSON.stringify(result)}\n`);
      },
      mode,
    );
  }
  for (const [key, what, note] of FIGURE_ROWS) {
    row(`${label} ${what}`, results.map((r) => r[key]).join('  |  '), note);
  }
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
  await engineSection('B', 'realistic app', realistic(2_000, 200_000 * SCALE));
}

async function sectionC(): Promise<void> {
  await engineSection('C', 'one group with 1M messages', {
    groups: 0,
    activeFraction: 0,
    messagesPerActiveGroup: [0, 0],
    historyDays: 30,
    extraGroups: [{ groupId: '@TGS#1MILLION', type: 'Public', messages: Math.round(1_000_000 * SCALE) }],
  });
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
process.stdout.write(
  `\nbenchmark (scale ${SCALE}, rate ${RATE}/s, latency 80 ± 20 ms, pages cut at ${MAX_PAGE_BYTES} bytes; ` +
    `B and C: ${MODES.join('  |  ')})\n`,
);
for (const [what, value, note] of rows) process.stdout.write(`${what.padEnd(width)}  ${value} ${note}\n`);
