/**
 * What the one-to-one integration tests share (test/integration/c2c-*.test.ts): a simulator
 * holding a set of conversations, archived by the engine in-process or by the real CLI (a config
 * naming pairs and checkpointing often); the archive's one-to-one rows read back; the stored c2c
 * head; reruns after a kill until one ends.
 */
import { gunzipSync } from 'node:zlib';
import { expect } from 'vitest';
import { systemClock } from '../../functions/adapters/system-clock.ts';
import { configPairs } from '../../functions/domain/c2c-pairs.ts';
import { type C2cRecord, conversationOf, parseC2cRecordLine } from '../../functions/domain/c2c-record.ts';
import { type C2cHead, c2cHeadKey, parseC2cHead } from '../../functions/domain/c2c-state.ts';
import type { ObjectStore } from '../../functions/domain/storage.ts';
import type { RoamMessage } from '../../functions/domain/tencent-types.ts';
import type { C2cReport } from '../../functions/engine/c2c-report.ts';
import { type ArchiveOptions, runArchive } from '../../functions/engine/run-archive.ts';
import type { Simulator, SimulatorOptions } from '../../functions/simulator/index.ts';
import { ENGINE_CLIENT_RATES, silentLogger, startEngineSimulator, testRunOptions } from './engine.ts';
import { type ProcessArchive, startProcessArchive } from './process-archive.ts';
import { clientFor } from './tencent.ts';

type ReadableStore = Pick<ObjectStore, 'list' | 'get'>;

/** The simulator's small default world: one group with a few messages of the last day. */
const ONE_SMALL_GROUP = {
  groups: 1,
  activeFraction: 1,
  messagesPerActiveGroup: [3, 5],
  historyDays: 1,
} as const;

/**
 * A simulator for {@link c2cEngine} holding the given conversations (no generated ones; one small
 * group, no media, 30 days retained unless given; callbacks sent where `callbacks` says).
 */
export function startC2cSimulator(spec: {
  seed: number;
  /** The simulator's `c2c` options; `generated` is 0 unless given. */
  c2c: NonNullable<SimulatorOptions['c2c']>;
  retentionDays?: number;
  callbacks?: SimulatorOptions['callbacks'];
}): Promise<Simulator> {
  return startEngineSimulator({
    seed: spec.seed,
    media: false,
    retentionDays: spec.retentionDays ?? 30,
    dataset: ONE_SMALL_GROUP,
    c2c: { generated: 0, ...spec.c2c },
    ...(spec.callbacks ? { callbacks: spec.callbacks } : {}),
  });
}

/**
 * The engine in-process over `sim` with one client (its rates those the engine simulator allows),
 * one-to-one included: each run has a new run id, 30 days of retention, and `over` on top.
 */
export function c2cEngine(sim: Simulator, store: ObjectStore) {
  const { client, app } = clientFor(sim, { clock: systemClock, rateLimits: ENGINE_CLIENT_RATES });
  return {
    sdkAppId: app.sdkAppId,
    run: (over: Partial<ArchiveOptions>) =>
      runArchive(
        { api: client, roam: client, store, clock: systemClock, logger: silentLogger },
        { ...testRunOptions(app.sdkAppId), retentionDays: 30, ...over },
      ),
  };
}

/** Every key under `prefix`, sorted. */
export async function listKeys(store: Pick<ObjectStore, 'list'>, prefix: string): Promise<string[]> {
  const out: string[] = [];
  for await (const key of store.list(prefix)) out.push(key);
  return out.sort();
}

/** Every one-to-one row of the archive (each `c2c/…ndjson.gz` object, every line), with its object's key. */
export async function c2cRowsWithKeys(store: ReadableStore): Promise<{ key: string; row: C2cRecord }[]> {
  const out: { key: string; row: C2cRecord }[] = [];
  for await (const key of store.list('c2c/')) {
    if (!key.endsWith('.ndjson.gz')) continue;
    const body = (await store.get(key))?.body as Uint8Array;
    for (const line of gunzipSync(body).toString('utf8').split('\n')) {
      if (line !== '') out.push({ key, row: parseC2cRecordLine(line) });
    }
  }
  return out;
}

/** Every one-to-one row of the archive. */
export async function c2cRows(store: ReadableStore): Promise<C2cRecord[]> {
  return (await c2cRowsWithKeys(store)).map((r) => r.row);
}

/** `<conversation> <msg_key>` of every one-to-one row of the archive (duplicates kept). */
export async function c2cIds(store: ReadableStore): Promise<string[]> {
  return (await c2cRows(store)).map((r) => `${r.conversation} ${r.msg_key}`);
}

/** `<conversation> <MsgKey>` of every message the simulator serves now to each pair's first side. */
export function visibleC2cIds(sim: Simulator, pairs: readonly (readonly [string, string])[]): string[] {
  return pairs.flatMap(([a, b]) => sim.c2c.visible(a, b).map((m) => `${conversationOf(a, b)} ${m.MsgKey}`));
}

/** The app's c2c head as stored now. */
export async function readC2cHead(t: { store: ReadableStore; sdkAppId: number }): Promise<C2cHead> {
  const stored = await t.store.get(c2cHeadKey(t.sdkAppId));
  return parseC2cHead(new TextDecoder().decode(stored?.body), t.sdkAppId);
}

/**
 * Reruns the archive until a run ends with 0, at most 4 runs: each ends with 0 or 3 (stopped
 * early, work left: the next run continues it), never anything else.
 */
export async function rerunUntilDone(
  t: Pick<ProcessArchive, 'spawnArchive'>,
  options: { timeoutMs: number } = { timeoutMs: 120_000 },
): Promise<void> {
  let code: number | null = null;
  for (let attempt = 0; attempt < 4 && code !== 0; attempt++) {
    const rerun = await t.spawnArchive(options).done;
    code = rerun.code;
    expect([0, 3], rerun.stderr).toContain(code);
  }
  expect(code).toBe(0);
}

/**
 * The real CLI over a simulator with the given conversations (no generated ones, no media, 30 days
 * retained, one small group), its config naming the app's `c2c` section, a checkpoint every 20 KB
 * of rows (unless `archive` says otherwise) or 0.3 s, media copying off.
 */
export function startC2cProcessArchive(
  cleanups: (() => Promise<unknown>)[],
  spec: {
    tempPrefix: string;
    seed: number;
    /** The simulator's `c2c` options; `generated` is 0 unless given. */
    c2c: NonNullable<SimulatorOptions['c2c']>;
    /** The config's `app.c2c`. */
    app: Record<string, unknown>;
    retentionDays?: number;
    dataset?: SimulatorOptions['dataset'];
    /** The config's `archive`; default a flush every 20 KB (`{}`: the config's default). */
    archive?: Record<string, unknown>;
  },
): Promise<ProcessArchive> {
  return startProcessArchive(cleanups, {
    tempPrefix: spec.tempPrefix,
    simulator: {
      seed: spec.seed,
      latencyMs: 2,
      retentionDays: spec.retentionDays ?? 30,
      media: false,
      dataset: spec.dataset ?? {
        groups: 1,
        activeFraction: 1,
        messagesPerActiveGroup: [3, 5],
        historyDays: 1,
      },
      c2c: { generated: 0, ...spec.c2c },
    },
    app: { c2c: spec.app },
    archive: spec.archive ?? { flushMegabytes: 0.02 },
    run: { checkpointSeconds: 0.3, leaseSeconds: 30 },
    media: { enabled: false },
  });
}

/** The rescan tests' window, `rescan.days` its default 3. */
const RESCAN_DAYS = 3;

/**
 * The messages of a pair the simulator serves to `a` now that lie well inside the rescan window
 * (an hour inside its start, ten minutes before `nowSec`), oldest first.
 */
export function inRescanWindow(
  sim: Simulator,
  pair: readonly [string, string],
  nowSec: number,
): RoamMessage[] {
  return sim.c2c
    .visible(pair[0], pair[1])
    .filter((m) => m.MsgTimeStamp > nowSec - RESCAN_DAYS * 86_400 + 3_600 && m.MsgTimeStamp < nowSec - 600);
}

/**
 * The rescan kill tests' archive ({@link startC2cProcessArchive}): two conversations over 5 days
 * (300 and 120 messages, none recalled), both pairs in the config, one pair at a time.
 */
export function startTwoPairRescanArchive(
  cleanups: (() => Promise<unknown>)[],
  spec: {
    tempPrefix: string;
    seed: number;
    pairs: readonly [readonly [string, string], readonly [string, string]];
  },
): Promise<ProcessArchive> {
  const [first, second] = spec.pairs;
  return startC2cProcessArchive(cleanups, {
    tempPrefix: spec.tempPrefix,
    seed: spec.seed,
    c2c: {
      recalledFraction: 0,
      spanDays: 5,
      conversations: [
        { accounts: [...first], messages: 300 },
        { accounts: [...second], messages: 120 },
      ],
    },
    app: { pairs: [[...first], [...second]], maxConcurrency: 1 },
  });
}

/**
 * The rescan tests' in-process runs ({@link c2cEngine}) of one pair, `rescan.days` 3, times in
 * Asia/Shanghai: each run observed at the given time, done, and its c2c report returned.
 */
export function c2cRescanRuns(sim: Simulator, store: ObjectStore, pair: readonly [string, string]) {
  const engine = c2cEngine(sim, store);
  return async (observedAtSec: number): Promise<C2cReport> => {
    const report = await engine.run({
      observedAtSec,
      timeZone: 'Asia/Shanghai',
      c2c: { pairs: configPairs({ pairs: [[...pair]] }), concurrency: 1, rescanDays: RESCAN_DAYS },
    });
    expect(report.done).toBe(true);
    return (report as { c2c?: C2cReport }).c2c as C2cReport;
  };
}
