/**
 * A pair discovered only through Tencent's hourly files, end to end (issue 26; docs/one-to-one.md,
 * Witnesses): the real CLI with `c2c.fromHistoryFiles` over the simulator's `get_history` asks for
 * every hour of the files' 7 days, checks and keeps each file once under `history-files/`, learns
 * the pair no config names, and archives its whole history once; a second run asks for no hour it
 * fetched and keeps no file again.
 */
import { describe, expect, it } from 'vitest';
import { c2cIds, listKeys, startC2cProcessArchive, visibleC2cIds } from '../helpers/c2c.ts';
import { useProcessCleanups } from '../helpers/process-archive.ts';

const cleanups = useProcessCleanups();

const ALICE = 'alice.hc';
const BOB = 'bob.hc';
const DAVE = 'dave.hc';
const ERIN = 'erin,"hc"';

describe('a pair discovered only through the hourly files', () => {
  it('is archived whole and once by the CLI, and each file is kept once', async () => {
    const t = await startC2cProcessArchive(cleanups, {
      tempPrefix: 'c2c-history-files-',
      seed: 265,
      c2c: {
        spanDays: 2,
        conversations: [
          { accounts: [ALICE, BOB], messages: 30 },
          { accounts: [DAVE, ERIN], messages: 400 },
        ],
      },
      app: { pairs: [[ALICE, BOB]], fromHistoryFiles: true },
      archive: {},
    });
    t.sim.resetStats();

    const first = await t.spawnArchive({ timeoutMs: 180_000 }).done;
    expect(first.code, first.stderr).toBe(0);
    const kept = await listKeys(t.store, 'history-files/');
    expect(kept.length).toBeGreaterThan(0);
    expect(kept.every((k) => k.startsWith(`history-files/sdkappid=${t.sdkAppId}/chat=c2c/hour=`))).toBe(true);
    const ids = await c2cIds(t.store);
    expect(ids.length).toBe(new Set(ids).size);
    const expected = visibleC2cIds(t.sim, [
      [ALICE, BOB],
      [DAVE, ERIN],
    ]);
    expect(ids.sort()).toEqual(expected.sort());
    const asked = t.sim.stats().perApi.get_history.calls;
    expect(asked).toBeGreaterThan(100);

    t.sim.resetStats();
    const second = await t.spawnArchive({ timeoutMs: 180_000 }).done;
    expect(second.code, second.stderr).toBe(0);
    expect(await listKeys(t.store, 'history-files/')).toEqual(kept);
    // Only hours not taken as fetched are asked again (the newest ones, still without a file).
    expect(t.sim.stats().perApi.get_history.calls).toBeLessThan(10);
    expect((await c2cIds(t.store)).length).toBe(expected.length);
  }, 360_000);
});
