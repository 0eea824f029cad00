/**
 * The setup the real-process archive tests share (kill-resume, takeover, rescan-kill): a simulator
 * allowing exactly the rates the CLI's config asks for, a temp folder with the key and the config,
 * the archive's local store and state, CLI runs, and runs stopped or killed at a named point. Each
 * test registers its teardown with {@link useProcessCleanups}.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach } from 'vitest';
import { LocalFolderStore } from '../../functions/adapters/local-folder/local-folder-store.ts';
import { PAUSE_AT_ENV, PAUSED_MARKER, parsePauseAt } from '../../functions/adapters/pause-at.ts';
import type { Simulator, SimulatorOptions } from '../../functions/simulator/index.ts';
import {
  type CliOptions,
  type CliProcess,
  type CliResult,
  killStrayChildren,
  spawnCli,
  writeSimulatorConfig,
} from './cli.ts';
import { readState as readStoredTestState, type TestState } from './state.ts';
import { type ClientRates, startSimulatorForClient } from './tencent.ts';

/** Real waits: these tests race real processes (never used to time a result). */
export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Message paging rate of the CLI in these tests (well above the documented 200/s, for speed). */
export const PROCESS_PAGE_RATE = 2_000;

/** The CLI's rates in these tests; the simulator allows exactly these. */
export const PROCESS_CLIENT_RATES = {
  groupMsgGetSimple: PROCESS_PAGE_RATE,
  getGroupInfo: 200,
  getAppidGroupList: 1,
  getTopic: 200,
} as const satisfies ClientRates;

/** The `app` config of these tests, before the simulator's retention and each test's own. */
export const PROCESS_APP = {
  planRateLimit: PROCESS_PAGE_RATE,
  rateLimits: PROCESS_CLIENT_RATES,
  maxConcurrency: 16,
} as const;

/**
 * Teardown for the file: after each test, SIGKILL the CLI processes still running, then run the
 * returned list's cleanups (last first). Call once at the file's top level.
 */
export function useProcessCleanups(): (() => Promise<unknown>)[] {
  const cleanups: (() => Promise<unknown>)[] = [];
  afterEach(async () => {
    killStrayChildren();
    while (cleanups.length > 0) await cleanups.pop()?.();
  });
  return cleanups;
}

/** What a real-process archive test works with. */
export interface ProcessArchive {
  readonly sim: Simulator;
  /** The temp folder (key, config, archive). */
  readonly dir: string;
  /** The config file's path. */
  readonly config: string;
  readonly archiveDir: string;
  readonly store: LocalFolderStore;
  readonly sdkAppId: number;
  /** The app's archive state as stored now (undefined when none or unreadable mid-write). */
  readState(): Promise<TestState | undefined>;
  /** Starts `archive --config <config>`. */
  spawnArchive(options?: CliOptions): CliProcess;
}

/**
 * Starts the simulator (with {@link PROCESS_CLIENT_RATES}) and writes the key and a config for it
 * into a new temp folder: `app` on top of those rates (concurrency 16, a plan rate of
 * {@link PROCESS_PAGE_RATE}, the simulator's retention), `archive`, `run` and `media` as given.
 * Both are removed by `cleanups`.
 */
export async function startProcessArchive(
  cleanups: (() => Promise<unknown>)[],
  spec: {
    tempPrefix: string;
    simulator: Omit<SimulatorOptions, 'rateLimits'>;
    app?: Record<string, unknown>;
    archive?: Record<string, unknown>;
    run?: Record<string, unknown>;
    media?: Record<string, unknown>;
  },
): Promise<ProcessArchive> {
  const sim = await startSimulatorForClient(PROCESS_CLIENT_RATES, spec.simulator);
  cleanups.push(() => sim.stop());
  const dir = await mkdtemp(join(tmpdir(), spec.tempPrefix));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  const config = await writeSimulatorConfig(sim, dir, {
    app: {
      ...PROCESS_APP,
      ...(spec.simulator.retentionDays === undefined ? {} : { retentionDays: spec.simulator.retentionDays }),
      ...spec.app,
    },
    ...(spec.archive ? { archive: spec.archive } : {}),
    ...(spec.run ? { run: spec.run } : {}),
    ...(spec.media ? { media: spec.media } : {}),
  });
  const archiveDir = join(dir, 'archive');
  const store = new LocalFolderStore(archiveDir);
  const sdkAppId = sim.apps[0]?.sdkAppId as number;
  return {
    sim,
    dir,
    config,
    archiveDir,
    store,
    sdkAppId,
    readState: async () => {
      return readStoredTestState(store, sdkAppId).catch(() => undefined);
    },
    spawnArchive: (options) => spawnCli(['archive', '--config', config], options),
  };
}

/** A run killed at a pause point, or the run that ended before reaching it. */
export interface PausedKill {
  result: CliResult;
  /** True when the run was stopped at the point when it was killed. */
  paused: boolean;
}

/**
 * Starts a run armed to pause at `point` (`<key prefix>[:<nth>]`, see
 * functions/adapters/pause-at.ts): it stops itself (SIGSTOP) before that write, after every earlier
 * matching one, whatever the speed of this machine. `paused` resolves true once it has stopped
 * there (the test may then SIGKILL it, or SIGCONT it later), false if it ended first.
 */
export function spawnPausedAt(
  archive: Pick<ProcessArchive, 'spawnArchive'>,
  point: string,
  options: CliOptions = {},
): { run: CliProcess; paused: Promise<boolean> } {
  const parsed = parsePauseAt(point);
  if (parsed === undefined) throw new Error('a pause point is needed');
  const run = archive.spawnArchive({ ...options, env: { ...options.env, [PAUSE_AT_ENV]: point } });
  const marked = run.waitForStderr(`${PAUSED_MARKER} ${parsed.prefix}:${parsed.nth} `);
  return { run, paused: marked.then(async (seen) => seen && (await stoppedOrGone(run))) };
}

/**
 * Waits until `run` is really stopped (state `T` in /proc/<pid>/stat): it names its pause point
 * just before it stops itself, and a SIGCONT sent in between would be lost. False if it ended.
 */
async function stoppedOrGone(run: CliProcess): Promise<boolean> {
  for (;;) {
    if (run.exited) return false;
    const stat = await readFile(`/proc/${run.pid}/stat`, 'utf8').catch(() => '');
    // The state follows the command name in parentheses, which may itself contain spaces.
    if (stat.slice(stat.lastIndexOf(')') + 2).startsWith('T')) return true;
    await sleep(2);
  }
}

/** A run SIGKILLed while stopped at `point` ({@link spawnPausedAt}), or not killed if it ended first. */
export async function runKilledAt(
  archive: Pick<ProcessArchive, 'spawnArchive'>,
  point: string,
  options: CliOptions = {},
): Promise<PausedKill> {
  const { run, paused } = spawnPausedAt(archive, point, options);
  const stopped = await paused;
  if (stopped) run.kill();
  return { result: await run.done, paused: stopped };
}
