/**
 * `npm run bench`: throughput, call efficiency and memory of the client and the engine against the
 * simulator with realistic latency (80 ± 20 ms, the jitter on the way in, so requests arrive out of
 * order) and long messages (pages cut short at 12 KB). Prints a table; nothing here is asserted by
 * tests.
 *
 *   client-alone            sustained calls/s at the configured limit, over-limit answers
 *   realistic-app           archive CLI, realistic app: 2,000 groups, 10% active, ~200k messages
 *   one-million-messages    archive CLI, one group with 1,000,000 messages
 *   naive-sequential-pager  naive sequential pager (one group, one request at a time) on
 *                           realistic-app's data, time-boxed
 *   objects-vs-groups       objects written vs number of groups for the same data volume
 *   rescan-run              rescan: one group, 600,000 messages over 3 days, 1% changed between two
 *                           runs (calls, time, RSS)
 *   rescan-memory           one day of 1,000,000 fingerprints loaded and merged in process
 *   media-copy              `npm run archive` on a group whose one message holds a 100 MB file (MB/s,
 *                           peak RSS of the archive process), then the copier alone (HTTP → SHA-256 →
 *                           temp file → store) on one 100 MB file and on many small files (files/s),
 *                           in a process of its own
 *   many-groups             one app with many groups (BENCH_GROUPS, default 200,000), 0.2% active, at
 *                           the documented limits (list 1/s, info 200/s): planning time vs the API
 *                           floor, state bytes per checkpoint (first run, then an incremental run
 *                           touching 20 groups), peak RSS of `npm run archive`
 *
 * The names and their order are in bench/sections.ts. realistic-app and one-million-messages run
 * twice: on the simulator's strict default (at most 200 requests ARRIVING in any 1000 ms window) and
 * on the lenient token-bucket reading, side by side. The archive runs as users run it
 * (`node --import tsx functions/cli/main.ts archive`), in its own process, whose peak RSS is reported.
 *
 * BENCH_SCALE (default 1) shrinks realistic-app, one-million-messages and objects-vs-groups for a
 * quick look, e.g. BENCH_SCALE=0.1. BENCH_ONLY picks sections by name, comma-separated (e.g.
 * BENCH_ONLY=client-alone,one-million-messages); BENCH_MODES picks readings (sliding,token-bucket).
 * BENCH_MEM_TRACE=<module> is preloaded into the archive process too and its stderr shown.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { promisify } from 'node:util';
import { createConsoleLogger } from '../functions/adapters/logging/console-logger.ts';
import { systemClock } from '../functions/adapters/system-clock.ts';
import { TencentClient } from '../functions/adapters/tencent/client.ts';
import { userSigFromKey } from '../functions/adapters/tencent/user-sig.ts';
import type { C2cReport } from '../functions/engine/c2c-report.ts';
import type { RunReport } from '../functions/engine/report.ts';
import {
  type C2cConversationSpec,
  type DatasetSpec,
  type Simulator,
  type SimulatorOptions,
  startSimulator,
} from '../functions/simulator/index.ts';
import { mediaBytes } from '../functions/simulator/media-files.ts';
import type { RateLimitMode } from '../functions/simulator/rate-limit.ts';
import { identitiesSection } from './identities.ts';
import { atNormalPriority, priorityNote, raiseSimulatorPriority } from './priority.ts';
import { receiverSection } from './receiver.ts';
import { type SectionName, selectSections } from './sections.ts';
import { CallTrace, describeTrace, type TraceSummary } from './trace.ts';

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
  extra: Pick<SimulatorOptions, 'mediaMessages' | 'latencyMs' | 'jitterMs' | 'c2c'> = {},
): Promise<T> {
  const sim = await startSimulator({
    ...LATENCY,
    ...extra,
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
  /** The whole `npm run archive` process, from its start to its exit (ms). */
  processMs: number;
  trace: TraceSummary | undefined;
}

interface EngineOptions {
  /** Archive into this folder and keep it (an incremental run follows). */
  keep?: { dir: string };
  /** Copy media from the simulator's media listener (default off: history figures alone). */
  withMedia?: boolean;
  /** Sample the simulator's call counters while the process runs (bench/trace.ts). */
  trace?: boolean;
  /** The app's `c2c` section (docs/configuration.md): archive one-to-one conversations too. */
  c2c?: Record<string, unknown>;
}

/** Runs `npm run archive` (the CLI as users run it) against `sim` in its own process. */
async function engine(sim: Simulator, label: string, options: EngineOptions = {}): Promise<EngineResult> {
  const { keep, withMedia = false } = options;
  const dir = keep?.dir ?? (await mkdtemp(join(tmpdir(), 'bench-')));
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
          ...(options.c2c === undefined ? {} : { c2c: options.c2c }),
        },
      ],
      archive: { out: join(dir, 'archive') },
      // History figures alone; the media-copy section measures media copying.
      media: withMedia
        ? {
            enabled: true,
            allowedHosts: [
              { host: new URL(sim.mediaUrl ?? '').host, allowHttp: true, allowPrivateAddresses: true },
            ],
          }
        : { enabled: false },
    };
    await writeFile(join(dir, 'config.json'), JSON.stringify(config));
    process.stderr.write(`${label}: running npm run archive…\n`);
    // One file per run: a kept folder (an incremental run) must not report an earlier run's peak.
    const rssFile = join(dir, `rss-${Date.now()}`);
    const preload = [join(process.cwd(), 'bench/rss-probe.mjs'), process.env.BENCH_MEM_TRACE]
      .filter((m): m is string => m !== undefined)
      .map((m) => `--import=${m.startsWith('.') ? join(process.cwd(), m) : m}`);
    const trace = options.trace ? new CallTrace(sim) : undefined;
    const started = performance.now();
    const [command, args] = atNormalPriority('npm', [
      'run',
      '--silent',
      'archive',
      '--',
      '--config',
      join(dir, 'config.json'),
    ]);
    const { stderr } = await run(command, args, {
      maxBuffer: 64 * 1024 * 1024,
      env: {
        ...process.env,
        AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
        BENCH_RSS_FILE: rssFile,
        NODE_OPTIONS: [process.env.NODE_OPTIONS, ...preload].filter(Boolean).join(' '),
      },
    });
    const processMs = performance.now() - started;
    const traced = trace?.stop();
    if (process.env.BENCH_MEM_TRACE) process.stderr.write(stderr);
    const runsDir = join(dir, 'archive', 'runs');
    const reports = (await readdir(runsDir, { recursive: true })).filter((f) => f.endsWith('.json'));
    // Run ids start with the UTC time: the last name is this run's report (a kept folder holds earlier ones).
    const latest = reports.sort().at(-1);
    if (latest === undefined) throw new Error('the run wrote no report');
    const report = JSON.parse(await readFile(join(runsDir, latest), 'utf8')) as RunReport;
    const rssKb = (await readFile(rssFile, 'utf8')).split('\n').filter(Boolean).map(Number);
    const maxRssMb = Math.max(...rssKb) / 1024;
    return { report, maxRssMb, processMs, trace: traced };
  } finally {
    if (keep === undefined) await rm(dir, { recursive: true, force: true });
  }
}

/** One engine run's figures, for the side-by-side table. */
interface Figures {
  messages: string;
  wall: string;
  planning: string;
  pulls: string;
  limitAnswers: string;
  rate: string;
  rss: string;
  objects: string;
}

function figures(sim: Simulator, min: number, { report, maxRssMb }: EngineResult): Figures {
  const pulls = report.calls.groupMsgGetSimple ?? 0;
  // Over the whole run: paging overlaps planning, so planning's time is not taken out.
  const pagingSeconds = Math.max(0.001, report.elapsedMs / 1000);
  const floor = min / RATE;
  const stats = sim.stats();
  return {
    messages: `${report.messages}${report.done ? '' : ' (NOT done)'}`,
    wall: `${(report.elapsedMs / 1000).toFixed(1)} s / ${floor.toFixed(1)} s = ${(report.elapsedMs / 1000 / floor).toFixed(3)}x`,
    planning: `${(report.planMs / 1000).toFixed(1)} s`,
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
  ['planning', 'planning (paging overlaps it)', ''],
  ['limitAnswers', 'frequency-limit answers', '(target 0)'],
  ['pulls', 'pull calls / minimum', '(target <= 1.01x)'],
  ['rate', 'achieved pull rate, whole run', `(of ${RATE}/s)`],
  ['rss', 'peak RSS (archive process)', '(target < 256 MB)'],
  ['objects', 'objects written', ''],
];

/** Runs the engine on `dataset` under every reading of the limit and prints the figures side by side. */
async function engineSection(section: SectionName, title: string, dataset: DatasetSpec): Promise<void> {
  const results: Figures[] = [];
  for (const mode of MODES) {
    await withSim(
      dataset,
      async (sim) => {
        const min = minimumCalls(sim);
        const measured = await engine(sim, `${section}: ${title}, ${mode}`, { trace: true });
        const result = figures(sim, min, measured);
        results.push(result);
        process.stderr.write(`  ${section} ${mode}: ${JSON.stringify(result)}\n`);
        if (measured.trace)
          process.stderr.write(`  ${section} ${mode}: trace: ${describeTrace(measured.trace)}\n`);
      },
      mode,
    );
  }
  for (const [key, what, note] of FIGURE_ROWS) {
    row(`${section}: ${what}`, results.map((r) => r[key]).join('  |  '), note);
  }
}

async function manyGroups(): Promise<void> {
  const groups = Number(process.env.BENCH_GROUPS ?? '200000');
  const spec: DatasetSpec = {
    groups,
    activeFraction: 0.002,
    messagesPerActiveGroup: [1, 30],
    historyDays: 5,
    typeWeights: { Public: 1, Private: 0, ChatRoom: 0, Community: 0, TopicCommunity: 0, AVChatRoom: 0 },
  };
  await withSim(spec, async (sim) => {
    const dir = await mkdtemp(join(tmpdir(), 'bench-many-groups-'));
    try {
      const result = await engine(sim, `many-groups: ${groups} groups in one app`, { keep: { dir } });
      const { report } = result;
      // The floors overlap: info calls run while the listing goes on (the client's documented limits).
      const listFloor = Math.ceil(groups / 10_000) + 1;
      const infoFloor = groups / 50 / 200;
      row(
        'many-groups: planning time vs API floor',
        `${(report.planMs / 1000).toFixed(1)} s vs ${Math.max(listFloor, infoFloor).toFixed(1)} s`,
        `(list ${listFloor} calls at 1/s, info ${groups / 50} calls at 200/s; sequential ${(listFloor + infoFloor).toFixed(1)} s)`,
      );
      row(
        'many-groups: first run: state bytes per checkpoint',
        `${Math.round(report.stateBytesWritten / Math.max(1, report.checkpoints))} B`,
        `(${report.checkpoints} checkpoints, ${report.targetsWithWork} targets with work; message objects ${Math.round(report.bytesWritten / Math.max(1, report.checkpoints))} B per checkpoint)`,
      );
      row('many-groups: peak RSS (npm run archive)', `${result.maxRssMb.toFixed(0)} MB`, '(target < 512 MB)');
      row(
        'many-groups: done',
        String(report.done),
        `${report.groups.idle} idle, ${report.targetsWithWork} with work`,
      );
      // An incremental run that touches few targets: its checkpoints write only those.
      const touched: string[] = [];
      for (const g of sim.eachGroup()) {
        if (g.nextMsgSeq > 1) touched.push(g.groupId);
        if (touched.length === 20) break;
      }
      for (const id of touched) sim.appendMessages(id, 5);
      const again = await engine(sim, `many-groups: ${groups} groups, ${touched.length} touched`, {
        keep: { dir },
      });
      const r2 = again.report;
      row(
        `many-groups: incremental run (${touched.length} targets touched): state bytes per checkpoint`,
        `${Math.round(r2.stateBytesWritten / Math.max(1, r2.checkpoints))} B`,
        `(${r2.checkpoints} checkpoints, ${r2.messages} messages; planning ${(r2.planMs / 1000).toFixed(1)} s, peak RSS ${again.maxRssMb.toFixed(0)} MB)`,
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
}

async function clientAlone(): Promise<void> {
  process.stderr.write('client-alone: client at 200/s with 80 ms ± 20 ms latency…\n');
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
      row('client-alone: client calls', String(n));
      row(
        'client-alone: achieved rate',
        `${(n / seconds).toFixed(1)}/s`,
        `(${((n / seconds / RATE) * 100).toFixed(1)}% of ${RATE}/s)`,
      );
      row('client-alone: over-limit answers', String(sim.stats().overLimit), '(target 0)');
      row('client-alone: peak requests in flight', String(sim.stats().peakInFlight));
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

async function realisticApp(): Promise<void> {
  await engineSection('realistic-app', 'realistic app', realistic(2_000, 200_000 * SCALE));
}

async function oneMillionMessages(): Promise<void> {
  await engineSection('one-million-messages', 'one group with 1M messages', {
    groups: 0,
    activeFraction: 0,
    messagesPerActiveGroup: [0, 0],
    historyDays: 30,
    extraGroups: [{ groupId: '@TGS#1MILLION', type: 'Public', messages: Math.round(1_000_000 * SCALE) }],
  });
}

async function naiveSequentialPager(): Promise<void> {
  const budgetMs = 30_000;
  process.stderr.write('naive-sequential-pager: naive sequential pager, 30 s…\n');
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
    row(
      'naive-sequential-pager: pages/s',
      (pages / seconds).toFixed(1),
      `(${messages} messages in ${seconds.toFixed(0)} s)`,
    );
    row(
      'naive-sequential-pager: projected wall time for realistic-app',
      `${(projected / 60).toFixed(1)} min`,
    );
  });
}

async function objectsVsGroups(): Promise<void> {
  const messages = Math.round(20_000 * Math.max(SCALE, 0.25));
  for (const groups of [100, 1_000]) {
    await withSim(realistic(groups, messages, 0), async (sim) => {
      const { report } = await engine(sim, `objects-vs-groups: ${groups} groups`);
      row(
        `objects-vs-groups: objects for ${report.messages} messages in ${groups} groups`,
        String(report.objectsWritten),
        '(same days: 30)',
      );
    });
  }
}

async function rescanRun(): Promise<void> {
  const messages = Math.round(600_000 * SCALE);
  const spec: DatasetSpec = {
    groups: 0,
    activeFraction: 0,
    messagesPerActiveGroup: [0, 0],
    historyDays: 2.9,
    extraGroups: [{ groupId: '@TGS#1RESCAN', type: 'Public', messages }],
  };
  const dir = await mkdtemp(join(tmpdir(), 'bench-rescan-'));
  try {
    await withSim(spec, async (sim) => {
      const first = await engine(sim, 'rescan-run: first archive', { keep: { dir } });
      const firstCalls = first.report.calls.groupMsgGetSimple ?? 0;
      row(
        'rescan-run: first archive (for comparison)',
        `${(first.report.elapsedMs / 1000).toFixed(1)} s`,
        `(${firstCalls} calls, ${(firstCalls / (first.report.elapsedMs / 1000)).toFixed(1)} calls/s)`,
      );
      // 1% of the messages change between the runs: a third edited, recalled, deleted each.
      const changed = Math.floor(messages / 100);
      for (let i = 0; i < changed; i++) {
        const seq = 1 + Math.floor((i * messages) / changed);
        try {
          if (i % 3 === 0) sim.modifyMessage('@TGS#1RESCAN', seq);
          else if (i % 3 === 1) sim.recallMessage('@TGS#1RESCAN', seq);
          else sim.deleteMessage('@TGS#1RESCAN', seq);
        } catch {
          // Already a placeholder in the dataset: nothing to change.
        }
      }
      await new Promise((resolve) => setTimeout(resolve, 1_100));
      const { report, maxRssMb } = await engine(sim, 'rescan-run: rescan run', { keep: { dir } });
      const { rescan } = report;
      const seconds = report.elapsedMs / 1000;
      row('rescan-run: messages checked', String(rescan.checked), `(${messages} in the window)`);
      row(
        'rescan-run: rescan calls vs minimum',
        `${rescan.calls} / ${Math.ceil(messages / 20)} = ${(rescan.calls / Math.ceil(messages / 20)).toFixed(3)}x`,
      );
      row(
        'rescan-run: changes found',
        `${rescan.modified} modified, ${rescan.recalled} recalled, ${rescan.deleted} deleted`,
        `(${changed} applied, placeholders skipped)`,
      );
      row(
        'rescan-run: rescan run wall time',
        `${seconds.toFixed(1)} s`,
        `(${(rescan.calls / seconds).toFixed(1)} calls/s)`,
      );
      row('rescan-run: rescan peak RSS (engine process)', `${maxRssMb.toFixed(0)} MB`, '(target < 256 MB)');
    });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function rescanMemory(): Promise<void> {
  const { FingerprintLogBuilder, FingerprintTable } = await import('../functions/domain/fingerprint-log.ts');
  const { toRecord } = await import('../functions/domain/record.ts');
  const entries = 1_000_000;
  const perLog = 50_000;
  const logs: string[] = [];
  for (let start = 0; start < entries; start += perLog) {
    const builder = new FingerprintLogBuilder();
    for (let seq = start + 1; seq <= start + perLog; seq++) {
      const raw = {
        MsgSeq: seq,
        MsgTimeStamp: 1_764_000_000 + seq,
        MsgBody: [],
        From_Account: `u${seq % 97}`,
      };
      builder.add(toRecord(raw, { sdkAppId: 1, groupId: `@TGS#${seq % 10}`, topicId: null, observedAt: 1 }));
    }
    logs.push(builder.build());
  }
  const textMb = logs.reduce((n, t) => n + t.length, 0) / 1e6;
  globalThis.gc?.();
  const before = process.memoryUsage();
  const started = performance.now();
  const table = new FingerprintTable();
  for (const [i, text] of logs.entries()) table.addLog(text, `log${i}`);
  const targets = table.targets();
  const ms = performance.now() - started;
  globalThis.gc?.();
  const after = process.memoryUsage();
  const held = (after.heapUsed + after.arrayBuffers - before.heapUsed - before.arrayBuffers) / 1e6;
  row(
    'rescan-memory: fingerprints of one day loaded',
    `${entries} in ${targets.length} targets`,
    `(${textMb.toFixed(0)} MB of log text)`,
  );
  row('rescan-memory: load + merge time', `${(ms / 1000).toFixed(2)} s`);
  row(
    'rescan-memory: memory held by the merged table',
    `${held.toFixed(0)} MB`,
    globalThis.gc ? '' : '(run with --expose-gc for exact figures)',
  );
}

/** Serves `/f/<id>-<bytes>` with deterministic bytes generated while sending (never held whole). */
async function mediaOrigin(): Promise<{ origin: string; close: () => Promise<void> }> {
  const server = createServer((req, res) => {
    const match = /^\/f\/(\d+)-(\d+)$/.exec(req.url ?? '');
    if (!match) {
      res.writeHead(404);
      res.end();
      return;
    }
    const length = Number(match[2]);
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': length });
    Readable.from(mediaBytes(3, `${match[1]}`.padStart(32, '0'), length)).pipe(res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    origin: `http://127.0.0.1:${port}`,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

async function mediaCopy(origin: string, count: number, bytes: number) {
  const dir = await mkdtemp(join(tmpdir(), 'bench-media-'));
  try {
    const { stdout } = await run(
      'npx',
      ['tsx', 'bench/media-worker.ts', origin, String(count), String(bytes), dir],
      {
        maxBuffer: 16 * 1024 * 1024,
      },
    );
    return JSON.parse(stdout.trim().split('\n').at(-1) ?? '{}') as {
      files: number;
      bytes: number;
      seconds: number;
      maxRssMb: number;
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** One group whose only message carries one file of `bytes`, on the strict default simulation. */
const BIG_FILE_GROUP = '@TGS#2BENCHBIGFILE';

async function mediaCopySection(): Promise<void> {
  const bytes = 100 * 1024 * 1024;
  await withSim(
    {
      groups: 0,
      activeFraction: 1,
      messagesPerActiveGroup: [0, 0],
      historyDays: 1,
      extraGroups: [{ groupId: BIG_FILE_GROUP, type: 'Public', messages: 1 }],
    },
    async (sim) => {
      const { report, maxRssMb } = await engine(sim, 'media-copy: npm run archive, one 100 MB file', {
        withMedia: true,
      });
      const media = report.media;
      if (media?.archived !== 1 || media.bytes !== bytes) {
        throw new Error(`media-copy: the 100 MB file was not archived: ${JSON.stringify(media)}`);
      }
      const seconds = report.elapsedMs / 1000;
      row(
        'media-copy: npm run archive, one 100 MB file',
        `${(media.bytes / 1024 / 1024 / seconds).toFixed(1)} MB/s`,
        `(${seconds.toFixed(1)} s for the whole run, get_cos_sig and manifest included)`,
      );
      row(
        'media-copy: peak RSS of the archive process (100 MB file)',
        `${maxRssMb.toFixed(0)} MB`,
        '(target < 256 MB)',
      );
    },
    'sliding',
    { mediaMessages: [{ groupId: BIG_FILE_GROUP, files: [{ kind: 'file', id: 'bench-100mb', bytes }] }] },
  );
  const server = await mediaOrigin();
  try {
    process.stderr.write('media-copy: copying one 100 MB file in the copier alone…\n');
    const big = await mediaCopy(server.origin, 1, bytes);
    row(
      'media-copy: copier alone, one 100 MB file',
      `${(big.bytes / 1024 / 1024 / big.seconds).toFixed(1)} MB/s`,
      `(${big.seconds.toFixed(1)} s, peak RSS ${big.maxRssMb.toFixed(0)} MB)`,
    );
    const count = Math.max(50, Math.round(1_000 * SCALE));
    process.stderr.write(`media-copy: copying ${count} files of 50 KB…\n`);
    const small = await mediaCopy(server.origin, count, 50 * 1024);
    row(
      `media-copy: copier alone, ${count} files of 50 KB`,
      `${(small.files / small.seconds).toFixed(0)} files/s`,
      `(${(small.bytes / 1024 / 1024 / small.seconds).toFixed(1)} MB/s, concurrency 16, peak RSS ${small.maxRssMb.toFixed(0)} MB)`,
    );
  } finally {
    await server.close();
  }
}

/**
 * Issue 23's busy app: 2,000 groups of which 86% have messages (Communities with topics among
 * them, AVChatRoom groups skipped), 6 days of history, about 180,000 messages, the largest group
 * 12,000 (three big groups among the 2,000).
 */
const BUSY_BIG_GROUPS = [12_000, 8_000, 5_000];
const busyDataset = (): DatasetSpec => ({
  groups: 2_000 - BUSY_BIG_GROUPS.length,
  activeFraction: 0.86,
  messagesPerActiveGroup: [1, Math.max(1, Math.round(200 * SCALE))],
  historyDays: 6,
  extraGroups: BUSY_BIG_GROUPS.map((messages, i) => ({
    groupId: `@TGS#1BUSY${i}`,
    type: 'Public',
    messages: Math.max(1, Math.round(messages * SCALE)),
  })),
});

/** Simulator calls so far (all, get_topic, get_group_info) and frequency-limit answers. */
function callCounts(sim: Simulator): { all: number; topics: number; infos: number; overLimit: number } {
  const { perApi, totalCalls, overLimit } = sim.stats();
  return { all: totalCalls, topics: perApi.get_topic.calls, infos: perApi.get_group_info.calls, overLimit };
}

/** One busy run's figures, each in a row of its own (`label` names the run). */
function busyRows(
  label: string,
  sim: Simulator,
  result: EngineResult,
  /** The minimum pulls for the run, and the simulator's counts before it. */
  baseline: { min: number; before: ReturnType<typeof callCounts> },
): void {
  const { report, maxRssMb, processMs, trace } = result;
  const { min, before } = baseline;
  const after = callCounts(sim);
  const pulls = report.calls.groupMsgGetSimple ?? 0;
  const floor = min / RATE;
  const seconds = processMs / 1000;
  row(
    `${label}: messages, targets`,
    `${report.messages}${report.done ? '' : ' (NOT done)'} in ${report.targetsWithWork} targets`,
    `(${report.groups.seen} groups seen, ${report.topics} topics)`,
  );
  row(
    `${label}: wall (whole npm run archive process) / rate floor`,
    `${seconds.toFixed(1)} s / ${floor.toFixed(1)} s = ${(seconds / floor).toFixed(3)}x`,
    `(target <= 1.10x; the run itself ${(report.elapsedMs / 1000).toFixed(1)} s, planning ${(report.planMs / 1000).toFixed(1)} s)`,
  );
  row(
    `${label}: requests/s, whole process`,
    `${((after.all - before.all) / seconds).toFixed(1)}/s`,
    `(${after.all - before.all} requests: ${after.infos - before.infos} get_group_info, ${after.topics - before.topics} get_topic)`,
  );
  row(
    `${label}: frequency-limit answers`,
    `${after.overLimit - before.overLimit}`,
    `(client saw ${report.throttles}; target 0)`,
  );
  // The rescan's pages (rescan.days of history read again for changes) are not new history.
  const fresh = pulls - report.rescan.calls;
  row(
    `${label}: pull calls / minimum`,
    `${fresh} / ${min} = ${(fresh / Math.max(1, min)).toFixed(4)}x`,
    `(and ${report.rescan.calls} rescan calls, ${report.rescan.days} days)`,
  );
  row(`${label}: peak RSS (archive process)`, `${maxRssMb.toFixed(0)} MB`, '(target < 256 MB)');
  if (trace) row(`${label}: trace`, describeTrace(trace));
}

/** Issue 23's 2,000-group busy app, on the strict reading, traced (bench/trace.ts). */
async function busyApp(): Promise<void> {
  await withSim(busyDataset(), async (sim) => {
    const min = minimumCalls(sim);
    const before = callCounts(sim);
    const result = await engine(sim, 'busy-app: 2,000 groups, 86% active, strict', { trace: true });
    busyRows('busy-app', sim, result, { min, before });
  });
}

/**
 * New messages for the second run of `busy-50k`: 3 in 8 of the archived streams (a group's own, or
 * each topic of a topic community) get 1 to 39 (about 20 on average). Returns how many streams and
 * messages, and the minimum pulls they need (20 a page).
 */
function appendToStreams(sim: Simulator): { streams: number; messages: number; minimum: number } {
  let streams = 0;
  let messages = 0;
  let minimum = 0;
  let i = 0;
  const add = (groupId: string, topicId?: string) => {
    i++;
    if (i % 8 >= 3) return; // 3 streams in 8
    const n = 1 + ((i * 7919) % 39); // 1..39, about 20 on average
    sim.appendMessages(groupId, n, topicId === undefined ? undefined : { topicId });
    streams++;
    messages += n;
    minimum += Math.ceil(n / 20);
  };
  for (const g of sim.eachGroup()) {
    if (g.deleted || g.type === 'AVChatRoom' || g.type === 'BChatRoom') continue;
    if (!g.topicsEnabled) add(g.groupId);
    for (const t of g.topics) add(g.groupId, t.topicId);
  }
  return { streams, messages, minimum };
}

/** Issue 23's 50,000-group app, 20 ± 10 ms: a first run, then a second one with many new messages. */
async function busy50k(): Promise<void> {
  const groups = Math.max(100, Math.round(50_000 * SCALE));
  const spec: DatasetSpec = { groups, activeFraction: 0.62, messagesPerActiveGroup: [1, 7], historyDays: 6 };
  const dir = await mkdtemp(join(tmpdir(), 'bench-busy-50k-'));
  try {
    await withSim(
      spec,
      async (sim) => {
        const min1 = minimumCalls(sim);
        const before1 = callCounts(sim);
        const first = await engine(sim, `busy-50k: ${groups} groups, run 1`, { keep: { dir }, trace: true });
        busyRows('busy-50k run 1', sim, first, { min: min1, before: before1 });
        const added = appendToStreams(sim);
        process.stderr.write(`busy-50k: ${added.messages} new messages in ${added.streams} targets\n`);
        // The simulator's window must not hold run 1's last requests when run 2 starts.
        await new Promise((resolve) => setTimeout(resolve, 1_100));
        const before2 = callCounts(sim);
        const second = await engine(sim, `busy-50k: ${groups} groups, run 2`, { keep: { dir }, trace: true });
        busyRows('busy-50k run 2', sim, second, { min: added.minimum, before: before2 });
      },
      'sliding',
      { latencyMs: 20, jitterMs: 10 },
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * Issue 26's one-to-one scenario: 2,000 pairs, 1 in 50 with 2,000 to 4,999 messages and the rest
 * with 1 to 12, 5 days of history, no groups; about 150,000 messages, about 9,000 calls at 200/s.
 * BENCH_SCALE scales the pairs and the big pairs' messages.
 */
function c2cDataset(): { pairs: [string, string][]; conversations: C2cConversationSpec[] } {
  const count = Math.max(50, Math.round(2_000 * SCALE));
  const conversations: C2cConversationSpec[] = [];
  for (let i = 0; i < count; i++) {
    const n = String(i).padStart(4, '0');
    const big = i % 50 === 7;
    const messages = big
      ? Math.max(1, Math.round((2_000 + ((i * 7919) % 3_000)) * SCALE))
      : 1 + ((i * 31) % 12);
    conversations.push({ accounts: [`buyer-${n}`, `seller-${n}`], messages });
  }
  const pairs = conversations.map((c) => [...c.accounts].sort() as [string, string]);
  return { pairs, conversations };
}

/** One-to-one (issue 26): `npm run archive` with the pairs in the config, strict reading. */
async function c2cSection(): Promise<void> {
  const { pairs, conversations } = c2cDataset();
  const dataset: DatasetSpec = {
    groups: 0,
    activeFraction: 0,
    messagesPerActiveGroup: [0, 0],
    historyDays: 1,
  };
  const c2c = { generated: 0, conversations, spanDays: 5 };
  await withSim(
    dataset,
    async (sim) => {
      // The pass reads each pair from the side of its first account, sorted (docs/one-to-one.md).
      const min = pairs.reduce((n, [a, b]) => n + sim.c2c.sequentialPulls(a, b), 0);
      const before = callCounts(sim);
      const result = await engine(sim, `c2c: ${pairs.length} pairs, strict`, { c2c: { pairs } });
      const { report, maxRssMb, processMs } = result;
      const pass = (report as RunReport & { c2c?: C2cReport }).c2c;
      if (pass === undefined) throw new Error('c2c: the run report has no c2c section');
      const calls = report.calls.adminGetRoamMsg ?? 0;
      const seconds = processMs / 1000;
      const floor = min / RATE;
      row(
        'c2c: messages, pairs',
        `${pass.messages}${report.done ? '' : ' (NOT done)'} in ${pass.pairsPulled} pairs`,
        `(${pass.pairsCaughtUp} caught up, ${pass.duplicates} duplicates dropped, ${pass.recalled} recalled)`,
      );
      row(
        'c2c: admin_getroammsg calls / minimum',
        `${calls} / ${min} = ${(calls / Math.max(1, min)).toFixed(4)}x`,
        `(target <= 1.05x; ${((calls / Math.max(1, pass.messages)) * 1000).toFixed(1)} calls per 1,000 messages, minimum ${((min / Math.max(1, pass.messages)) * 1000).toFixed(1)})`,
      );
      row(
        'c2c: spans split, most pair states held, checkpoints',
        `${pass.spansSplit ?? 0} spans, ${pass.peakPairsLoaded} pair states, ${pass.checkpoints} checkpoints, ${pass.objectsWritten} row objects`,
        '(big pairs split to use idle request slots; states bounded by DEFAULT_MAX_PAIR_STATES)',
      );
      row(
        'c2c: wall (whole npm run archive process) / rate floor',
        `${seconds.toFixed(1)} s / ${floor.toFixed(1)} s = ${(seconds / floor).toFixed(3)}x`,
        `(target <= 1.15x; the run itself ${(report.elapsedMs / 1000).toFixed(1)} s)`,
      );
      row(
        'c2c: frequency-limit answers',
        `${callCounts(sim).overLimit - before.overLimit}`,
        `(client saw ${report.throttles}; target 0)`,
      );
      row('c2c: peak RSS (archive process)', `${maxRssMb.toFixed(0)} MB`, '(target < 256 MB)');
    },
    'sliding',
    { c2c },
  );
}

const sections: Record<SectionName, () => Promise<void>> = {
  'client-alone': clientAlone,
  'realistic-app': realisticApp,
  'one-million-messages': oneMillionMessages,
  'naive-sequential-pager': naiveSequentialPager,
  'objects-vs-groups': objectsVsGroups,
  'rescan-run': rescanRun,
  'rescan-memory': rescanMemory,
  'media-copy': mediaCopySection,
  'many-groups': manyGroups,
  'busy-app': busyApp,
  'busy-50k': busy50k,
  identities: () => identitiesSection(row, SCALE),
  receiver: () => receiverSection(row, SCALE),
  c2c: c2cSection,
};
raiseSimulatorPriority();
process.stderr.write(`${priorityNote()}\n`);
for (const name of selectSections(process.env.BENCH_ONLY)) await sections[name]();

const width = Math.max(...rows.map((r) => r[0].length));
process.stdout.write(
  `\nbenchmark (scale ${SCALE}, rate ${RATE}/s, latency 80 ± 20 ms, pages cut at ${MAX_PAGE_BYTES} bytes; ` +
    `realistic-app and one-million-messages: ${MODES.join('  |  ')}; ${priorityNote()})\n`,
);
for (const [what, value, note] of rows) process.stdout.write(`${what.padEnd(width)}  ${value} ${note}\n`);
