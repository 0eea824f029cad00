/**
 * The setup the real-process archive tests share (kill-resume, takeover, rescan-kill): a simulator
 * allowing exactly the rates the CLI's config asks for, a temp folder with the key and the config,
 * the archive's local store and state, CLI runs, and a kill once a run has taken the lease. Each
 * test registers its teardown with {@link useProcessCleanups}.
 */
import { mkdtemp, rm } from 'node:fs/promises';
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

/**
 * SIGKILLs `run` `ms` after it took the lease (a lease owner other than `previousOwner` appears),
 * or at once once it has ended; with `afterLease: false`, `ms` after now.
 */
export async function killAfterLease(
  archive: Pick<ProcessArchive, 'readState'>,
  run: CliProcess,
  previousOwner: string | undefined,
  ms: number,
  afterLease = true,
): Promise<void> {
  while (afterLease && !run.exited) {
    const state = await archive.readState().catch(() => undefined);
    if (state?.lease && state.lease.owner !== previousOwner) break;
    await sleep(5);
  }
  await Promise.race([sleep(ms), run.done.catch(() => undefined)]);
  run.kill();
}

/** A run killed at a pause point, or the run that ended before reaching it. */
export interface PausedKill {
  result: CliResult;
  /** True when the run was blocked at the point when it was killed. */
  paused: boolean;
}

/**
 * Starts a run armed to pause at `point` (`<key prefix>[:<nth>]`, see
 * functions/adapters/pause-at.ts) and SIGKILLs it while it is blocked there: before that write,
 * after every earlier matching one, whatever the speed of this machine. A run that ends without
 * reaching the point is not killed (`paused` false).
 */
export async function runKilledAt(
  archive: Pick<ProcessArchive, 'spawnArchive'>,
  point: string,
  options: CliOptions = {},
): Promise<PausedKill> {
  const parsed = parsePauseAt(point);
  if (parsed === undefined) throw new Error('runKilledAt needs a pause point');
  const run = archive.spawnArchive({ ...options, env: { ...options.env, [PAUSE_AT_ENV]: point } });
  const paused = await run.waitForStderr(`${PAUSED_MARKER} ${parsed.prefix}:${parsed.nth} `);
  if (paused) run.kill();
  return { result: await run.done, paused };
}
