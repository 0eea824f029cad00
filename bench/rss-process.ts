/**
 * Peak RSS of `npm run archive` as users run it (issue 23, deliverable 3), for the bench and by hand.
 *
 * {@link runArchiveProcess} starts `npm run archive` against a simulator in its own process tree
 * (npm → the node process that runs functions/cli/main.ts with tsx's loader, `node --import tsx`) with
 * bench/rss-probe-process.mjs preloaded into each, and reports every process's peak RSS by name: the
 * figure that counts is the process that does the work ({@link ArchiveProcessResult.workerRssMb}).
 *
 * By hand: `npx tsx bench/rss-process.ts busy-50k` (50,000 groups, two runs) or
 * `npx tsx bench/rss-process.ts one-million` (one group with 1,000,000 messages), both at 20 ± 10 ms
 * latency on the strict default; BENCH_SCALE shrinks them; BENCH_RSS_TRACE=<file> samples
 * process.memoryUsage() of the archive process every second into that file. BENCH_RSS_MEDIA:
 * `off` (default: history alone), `default` (a user's config: copying on, every reference refused)
 * or `copy` (the simulator's files allowed and copied; for one-million, folded below
 * BENCH_RSS_MEDIA_BYTES, default 16,000, so the run's files fit the disk).
 */
import { spawn } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RunReport } from '../functions/engine/report.ts';
import { type DatasetSpec, type Simulator, startSimulator } from '../functions/simulator/index.ts';
import { atNormalPriority, priorityNote, raiseSimulatorPriority } from './priority.ts';

/** One Node process of the `npm run archive` tree, as the probe saw it when it exited. */
export interface ProcessPeak {
  pid: number;
  ppid: number;
  script: string;
  maxRssKb: number;
  /** User and system CPU time. */
  cpuMs: number;
}

export interface ArchiveProcessResult {
  report: RunReport;
  /** Peak RSS of the process that ran functions/cli/main.ts (the one doing the work), MB. */
  workerRssMb: number;
  /** Its CPU time (user and system), ms. */
  workerCpuMs: number;
  /** Every Node process of the tree (npm, the worker). */
  processes: ProcessPeak[];
  wallMs: number;
}

/**
 * How the archive is configured: media copying off (history alone), the config's default (on, the
 * simulator's host not allowed: every reference refused), or `copy` (on, the simulator's media
 * listener allowed: every file it serves is downloaded and stored).
 */
export type MediaSetting = 'off' | 'default' | 'copy';

/** Media settings of the config: none for the default, as a user's first config. */
function mediaConfig(sim: Simulator, media: MediaSetting): Record<string, unknown> {
  if (media === 'off') return { media: { enabled: false } };
  if (media === 'default') return {};
  const host = new URL(sim.mediaUrl ?? '').host;
  return { media: { enabled: true, allowedHosts: [{ host, allowHttp: true, allowPrivateAddresses: true }] } };
}

/**
 * The archive config for the simulator's first app, archiving into `dir/archive`. With media
 * `default` the config says nothing about media, as a user's first config: copying is on, and the
 * simulator's media host (http on 127.0.0.1) is not allowed, so every reference is refused.
 */
async function writeConfig(sim: Simulator, dir: string, media: MediaSetting): Promise<string> {
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
    ...mediaConfig(sim, media),
    // An experiment: BENCH_RSS_IDENTITIES=off leaves the identity capture out.
    ...(process.env.BENCH_RSS_IDENTITIES === 'off' ? { identities: { enabled: false } } : {}),
  };
  const path = join(dir, 'config.json');
  await writeFile(path, JSON.stringify(config));
  return path;
}

/**
 * `npm run archive` with the package's flags; with BENCH_RSS_NODE_FLAGS (an experiment with other
 * Node flags) the same command line as the script's, with those flags instead.
 */
function runNpmArchive(configPath: string, env: NodeJS.ProcessEnv): Promise<void> {
  const flags = process.env.BENCH_RSS_NODE_FLAGS;
  const [command, args] =
    flags === undefined
      ? ['npm', ['run', '--silent', 'archive', '--', '--config', configPath]]
      : [
          process.execPath,
          [
            '--import',
            'tsx',
            ...flags.split(' ').filter(Boolean),
            'functions/cli/main.ts',
            'archive',
            '--config',
            configPath,
          ],
        ];
  const [niced, nicedArgs] = atNormalPriority(command as string, args as string[]);
  return new Promise((resolve, reject) => {
    const child = spawn(niced, nicedArgs, {
      env,
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => {
      stderr = (stderr + d.toString()).slice(-8_000);
    });
    child.on('error', reject);
    child.on('exit', (code) =>
      code === 0 ? resolve() : reject(new Error(`${command} exited ${code}: ${stderr}`)),
    );
  });
}

/**
 * Runs `npm run archive` once against `sim`, archiving into `dir` (kept: a second call on the same
 * folder is an incremental run), and reads every process's peak RSS.
 */
export async function runArchiveProcess(
  sim: Simulator,
  dir: string,
  media: MediaSetting = 'off',
): Promise<ArchiveProcessResult> {
  const configPath = await writeConfig(sim, dir, media);
  const rssFile = join(dir, `rss-${Date.now()}.jsonl`);
  const probe = `--import=${join(process.cwd(), 'bench/rss-probe-process.mjs')}`;
  const started = performance.now();
  await runNpmArchive(configPath, {
    ...process.env,
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    BENCH_RSS_FILE: rssFile,
    NODE_OPTIONS: [process.env.NODE_OPTIONS, probe].filter(Boolean).join(' '),
  });
  const wallMs = performance.now() - started;
  const processes = (await readFile(rssFile, 'utf8'))
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as ProcessPeak);
  // The worker runs main.ts as its script (a launcher, if any, would name it further along its argv).
  const worker = processes.find((p) => p.script.split(' ')[0]?.endsWith('functions/cli/main.ts'));
  if (worker === undefined) throw new Error(`no archive process among ${JSON.stringify(processes)}`);
  const runsDir = join(dir, 'archive', 'runs');
  const reports = (await readdir(runsDir, { recursive: true })).filter((f) => f.endsWith('.json'));
  const latest = reports.sort().at(-1);
  if (latest === undefined) throw new Error('the run wrote no report');
  const report = JSON.parse(await readFile(join(runsDir, latest), 'utf8')) as RunReport;
  return { report, workerRssMb: worker.maxRssKb / 1024, workerCpuMs: worker.cpuMs, processes, wallMs };
}

const SCALE = Number(process.env.BENCH_SCALE ?? '1');
const MEDIA: MediaSetting =
  process.env.BENCH_RSS_MEDIA === 'default' || process.env.BENCH_RSS_MEDIA === 'copy'
    ? process.env.BENCH_RSS_MEDIA
    : 'off';
/** With media copied, the simulator's files are folded below this (bytes): the run copies them all. */
const COPY_MAX_BYTES = Number(process.env.BENCH_RSS_MEDIA_BYTES ?? '16000');
/** The independent measurement's latency: 20 ± 10 ms, the jitter on the way in. */
const LATENCY = { latencyMs: 20, jitterMs: 10 };

/** 50,000 groups, 62% with messages (1 to 8 each): about 31,000 targets and 135,000 messages. */
export const BUSY_50K_RUN1: DatasetSpec = {
  groups: Math.round(50_000 * SCALE),
  activeFraction: 0.62,
  messagesPerActiveGroup: [1, 8],
  historyDays: 6,
};

/** Run 2's new messages: about 35% of the archivable streams get 5 to 35 each (about 17,000 × 20). */
export function appendBusyRun2(sim: Simulator): { targets: number; messages: number } {
  let targets = 0;
  let messages = 0;
  let i = 0;
  for (const g of sim.eachGroup()) {
    if (g.deleted || g.type === 'AVChatRoom' || g.type === 'BChatRoom') continue;
    const streams = g.topicsEnabled ? g.topics.map((t) => t.topicId) : [undefined];
    for (const topicId of streams) {
      i++;
      // Deterministic: every 20 streams, 7 get new messages (35%); 5..35 of them.
      if (i % 20 >= 7) continue;
      const count = 5 + ((i * 7919) % 31);
      sim.appendMessages(g.groupId, count, topicId === undefined ? {} : { topicId });
      targets++;
      messages += count;
    }
  }
  return { targets, messages };
}

function describe(label: string, r: ArchiveProcessResult): string {
  const tree = r.processes.map(
    (p) => `${p.script.split(' ')[0]?.split('/').at(-1)}=${(p.maxRssKb / 1024).toFixed(0)}`,
  );
  const m = r.report.media;
  const media =
    m === undefined || m === null
      ? ''
      : `, media: ${m.references} references, ${m.archived} archived (${(m.bytes / 1e6).toFixed(0)} MB), ${m.refused} refused, ${m.expired} expired, ${m.retrying} retrying, ${m.pending} pending`;
  return `${label}: ${r.report.messages} messages${media}, ${r.report.targetsWithWork} targets with work, wall ${(r.wallMs / 1000).toFixed(1)} s, peak RSS of the archive process ${r.workerRssMb.toFixed(0)} MB, its CPU ${(r.workerCpuMs / 1000).toFixed(1)} s (tree: ${tree.join(', ')})`;
}

async function busy50k(): Promise<void> {
  const sim = await startSimulator({ ...LATENCY, dataset: BUSY_50K_RUN1, seed: 3, retentionDays: 3650 });
  const dir = await mkdtemp(join(tmpdir(), 'rss-busy-50k-'));
  try {
    console.log(describe('busy-50k run 1', await runArchiveProcess(sim, dir, MEDIA)));
    const added = appendBusyRun2(sim);
    console.log(`busy-50k run 2: ${added.messages} new messages in ${added.targets} streams`);
    console.log(describe('busy-50k run 2', await runArchiveProcess(sim, dir, MEDIA)));
  } finally {
    await sim.stop();
    if (process.env.BENCH_RSS_KEEP) console.log(`kept ${dir}`);
    else await rm(dir, { recursive: true, force: true });
  }
}

async function oneMillion(): Promise<void> {
  const dataset: DatasetSpec = {
    groups: 0,
    activeFraction: 0,
    messagesPerActiveGroup: [0, 0],
    historyDays: 30,
    extraGroups: [{ groupId: '@TGS#1MILLION', type: 'Public', messages: Math.round(1_000_000 * SCALE) }],
    ...(MEDIA === 'copy' ? { mediaMaxBytes: COPY_MAX_BYTES } : {}),
  };
  const sim = await startSimulator({ ...LATENCY, dataset, seed: 3, retentionDays: 3650 });
  const dir = await mkdtemp(join(tmpdir(), 'rss-1m-'));
  try {
    console.log(describe('one-million', await runArchiveProcess(sim, dir, MEDIA)));
  } finally {
    await sim.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const which = process.argv[2];
  raiseSimulatorPriority();
  console.log(priorityNote());
  if (which === 'busy-50k') await busy50k();
  else if (which === 'one-million') await oneMillion();
  else throw new Error('usage: npx tsx bench/rss-process.ts busy-50k | one-million');
}
