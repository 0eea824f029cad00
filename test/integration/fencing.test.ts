/**
 * Fenced writes: a run frozen past its lease (a sleeping laptop, a frozen Lambda sandbox) must not
 * write once another run took over, and an object that still lands late (frozen between the fence
 * and the write) is deleted again by the next run. The simulator over real HTTP, a real folder.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { LocalFolderStore } from '../../functions/adapters/local-folder/local-folder-store.ts';
import { systemClock } from '../../functions/adapters/system-clock.ts';
import type { Clock } from '../../functions/domain/ports.ts';
import type { ObjectStore } from '../../functions/domain/storage.ts';
import { LeaseLostError } from '../../functions/engine/errors.ts';
import { exactlyOnceProblems, expectedIdentities, listAll, readArchive } from '../helpers/archive.ts';
import { rejection } from '../helpers/assertions.ts';
import { engineRun, startEngineSimulator } from '../helpers/engine.ts';
import { readState as readStoredTestState } from '../helpers/state.ts';

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()?.();
});

const LEASE_MS = 60_000;

describe('fenced object writes', () => {
  it('a run frozen past its lease writes nothing after a takeover; a late write is deleted by the next run', async () => {
    const sim = await startEngineSimulator({
      seed: 5,
      retentionDays: 365,
      dataset: { groups: 8, activeFraction: 1, messagesPerActiveGroup: [60, 200], historyDays: 12 },
    });
    cleanups.push(() => sim.stop());
    const dir = await mkdtemp(join(tmpdir(), 'fencing-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    const inner = new LocalFolderStore(dir);
    // Every run shares one clock; "freezing" a run moves it past the lease for everyone.
    let frozenMs = 0;
    const clock: Clock = { now: () => Date.now() + frozenMs, sleep: (ms, s) => systemClock.sleep(ms, s) };

    let takeover: Promise<unknown> | undefined;
    // The whole process freezes, not one call: once it froze, every store call of run "frozen"
    // waits until the takeover is over (its object writes run several at a time).
    const thawed = async (): Promise<void> => {
      await takeover?.catch(() => undefined);
    };
    const frozenStore: ObjectStore = {
      location: inner.location,
      get: async (key) => {
        await thawed();
        return inner.get(key);
      },
      delete: async (key) => {
        await thawed();
        return inner.delete(key);
      },
      list: (prefix) => inner.list(prefix),
      put: async (key, body, options) => {
        if (key.includes('part-frozen-') && key.endsWith('.ndjson.gz') && takeover === undefined) {
          // Run "frozen" stalls right before its first object lands: its lease runs out, another run
          // takes over, rolls back the checkpoint and archives everything; then this write lands late.
          frozenMs += LEASE_MS + 1_000;
          takeover = run('taker');
        }
        await thawed();
        return inner.put(key, body, options);
      },
    };
    const run = (runId: string) =>
      engineRun(sim, runId === 'frozen' ? frozenStore : inner, {
        clock,
        runId,
        leaseMs: LEASE_MS,
        checkpointIntervalMs: 600_000,
        concurrency: 8,
      }).run();

    const frozen = await rejection(run('frozen'));
    expect(frozen).toBeInstanceOf(LeaseLostError);
    // Only the writes already past their fence when it froze landed (the message object it froze
    // on, and at most the rest of the flush's 8 in flight, message or fingerprint objects); every
    // later one was refused.
    const frozenKeys = (await listAll(inner, '')).filter((k) => k.includes('part-frozen-'));
    expect(frozenKeys.filter((k) => k.endsWith('.ndjson.gz')).length).toBeGreaterThanOrEqual(1);
    expect(frozenKeys.length).toBeLessThanOrEqual(8);
    expect(
      exactlyOnceProblems(await readArchive(inner), expectedIdentities(sim), 'UTC').length,
    ).toBeGreaterThan(0);

    const state = await readStoredTestState(inner, 1400000000);
    if (state === undefined) throw new Error('no state');
    for (const key of frozenKeys) expect(state.rolledBack.map((k) => k.key)).toContain(key);
    expect(state.rolledBack.every((k) => k.untilMs >= clock.now() + 6 * 86_400_000)).toBe(true);

    // The next run deletes the late object again: every message exactly once, no stray object.
    const report = await run('after');
    expect(report.done).toBe(true);
    for (const key of frozenKeys) expect(await inner.get(key)).toBeUndefined();
    expect(exactlyOnceProblems(await readArchive(inner), expectedIdentities(sim), 'UTC')).toEqual([]);
  });
});
