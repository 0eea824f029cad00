/**
 * Checkpoints are written while paging goes on: the records settled so far and the states that
 * claim them are taken in one step, and the pages in flight land in the next checkpoint. Held
 * object writes show that paging does not wait for them, and that nothing is lost or doubled,
 * also when a held write fails. The simulator over real HTTP, a real folder.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { LocalFolderStore } from '../../functions/adapters/local-folder/local-folder-store.ts';
import { systemClock } from '../../functions/adapters/system-clock.ts';
import { StorageError } from '../../functions/domain/errors.ts';
import type { ObjectStore, PutOptions } from '../../functions/domain/storage.ts';
import type { Simulator } from '../../functions/simulator/index.ts';
import { exactlyOnceProblems, expectedIdentities, readArchive } from '../helpers/archive.ts';
import { rejection } from '../helpers/assertions.ts';
import { engineRun, startEngineSimulator } from '../helpers/engine.ts';

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()?.();
});

/** Pages the simulator answered so far. */
const pulls = (sim: Simulator): number => sim.stats().perApi.group_msg_get_simple.calls;

/**
 * A folder whose first message-object write waits until the simulator has answered `pages` more
 * history calls (at most 10 s: a run that pauses paging for its checkpoints never gets there), and
 * then lands or fails.
 */
async function heldStore(sim: Simulator, pages: number, outcome: 'land' | 'fail') {
  const dir = await mkdtemp(join(tmpdir(), 'ckpt-overlap-'));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  const inner = new LocalFolderStore(dir);
  const held: { atHold?: number; atRelease?: number } = {};
  const store: ObjectStore = {
    location: inner.location,
    get: (key) => inner.get(key),
    delete: (key) => inner.delete(key),
    list: (prefix) => inner.list(prefix),
    put: async (key: string, body: Uint8Array, options?: PutOptions) => {
      if (held.atHold === undefined && key.endsWith('.ndjson.gz')) {
        held.atHold = pulls(sim);
        const giveUpAt = Date.now() + 10_000;
        while (pulls(sim) < held.atHold + pages && Date.now() < giveUpAt) await systemClock.sleep(5);
        held.atRelease = pulls(sim);
        if (outcome === 'fail') throw new StorageError('Access denied (held write)', { retryable: false });
      }
      return inner.put(key, body, options);
    },
  };
  return { inner, store, held };
}

/** A simulator with latency (so paging lasts several checkpoint intervals) and a held store. */
async function heldSetup(seed: number, outcome: 'land' | 'fail') {
  const sim = await startEngineSimulator({
    seed,
    retentionDays: 365,
    latencyMs: 20,
    dataset: { groups: 6, activeFraction: 1, messagesPerActiveGroup: [600, 900], historyDays: 6 },
  });
  cleanups.push(() => sim.stop());
  return { sim, ...(await heldStore(sim, 15, outcome)) };
}

describe('checkpoints alongside paging', () => {
  it('pages on while a checkpoint is written, and commits every message exactly once', async () => {
    // Prepare
    const { sim, inner, store, held } = await heldSetup(21, 'land');

    // Act
    const report = await engineRun(sim, store, { checkpointIntervalMs: 50, concurrency: 8 }).run();

    // Assess: 15 pages were answered while the first object write was held.
    expect((held.atRelease ?? 0) - (held.atHold ?? 0)).toBeGreaterThanOrEqual(15);
    expect(report.done).toBe(true);
    expect(report.checkpoints).toBeGreaterThan(2);
    expect(exactlyOnceProblems(await readArchive(inner), expectedIdentities(sim), 'UTC')).toEqual([]);
    const again = await engineRun(sim, inner).run();
    expect([again.done, again.messages]).toEqual([true, 0]);
  });

  it('stops on a checkpoint write that fails while paging went on; the next run completes it exactly once', async () => {
    // Prepare
    const { sim, inner, store, held } = await heldSetup(22, 'fail');

    // Act
    const failure = await rejection(
      engineRun(sim, store, { checkpointIntervalMs: 50, concurrency: 8 }).run(),
    );
    const after = await engineRun(sim, inner).run();

    // Assess: the failure is the storage error, reported with nothing claimed that was not committed.
    expect((held.atRelease ?? 0) - (held.atHold ?? 0)).toBeGreaterThanOrEqual(15);
    expect(String(failure)).toMatch(/Access denied \(held write\)/);
    expect(after.done).toBe(true);
    expect(after.rolledBackObjects).toBeGreaterThan(0);
    expect(exactlyOnceProblems(await readArchive(inner), expectedIdentities(sim), 'UTC')).toEqual([]);
  });
});
