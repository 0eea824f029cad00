/**
 * The hourly files under kills (issue 26; docs/one-to-one.md, Witnesses): the real CLI with
 * `c2c.fromHistoryFiles`, SIGKILLed at named points (functions/adapters/pause-at.ts) before its
 * second raw file and before its witness cursor, then rerun: every file is kept once (the same
 * key, create-only), the pair only the files name is archived, and every message exactly once.
 */
import { describe, expect, it } from 'vitest';
import {
  c2cIds,
  listKeys,
  readC2cHead,
  rerunUntilDone,
  startC2cProcessArchive,
  visibleC2cIds,
} from '../helpers/c2c.ts';
import { runKilledAt, useProcessCleanups } from '../helpers/process-archive.ts';

const cleanups = useProcessCleanups();

const ALICE = 'alice.hk';
const BOB = 'bob.hk';
const DAVE = 'dave.hk';
const ERIN = 'erin "hk"';

describe('the hourly files, killed', () => {
  it.each(['its second raw file', 'its witness cursor'])(
    'killed with SIGKILL before the run writes %s, rerun: each file kept once, every message once',
    async (point) => {
      const t = await startC2cProcessArchive(cleanups, {
        tempPrefix: 'c2c-history-kill-',
        seed: 266,
        c2c: {
          spanDays: 2,
          conversations: [
            { accounts: [ALICE, BOB], messages: 20 },
            { accounts: [DAVE, ERIN], messages: 300 },
          ],
        },
        app: { pairs: [[ALICE, BOB]], fromHistoryFiles: true },
        archive: {},
      });
      const at =
        point === 'its second raw file' ? 'history-files/:2' : `state/c2c/sdkappid=${t.sdkAppId}/witness/`;
      const killed = await runKilledAt(t, at, { timeoutMs: 180_000 });
      expect(killed.paused).toBe(true);
      expect(killed.result.signal).toBe('SIGKILL');
      const before = await listKeys(t.store, 'history-files/');
      expect(before.length).toBeGreaterThan(0);

      await rerunUntilDone(t, { timeoutMs: 180_000 });
      const after = await listKeys(t.store, 'history-files/');
      // The files kept before the kill are the same objects; one key per file of each hour.
      expect(after).toEqual(expect.arrayContaining(before));
      const perFile = after.map((k) => k.replace(/-[0-9a-f]{32}\.json\.gz$/, ''));
      expect(perFile.length).toBe(new Set(perFile).size);
      const head = await readC2cHead(t);
      expect(head.pending).toBeNull();
      const ids = await c2cIds(t.store);
      expect(ids.length).toBe(new Set(ids).size);
      const expected = visibleC2cIds(t.sim, [
        [ALICE, BOB],
        [DAVE, ERIN],
      ]);
      expect(ids.sort()).toEqual(expected.sort());
    },
    // Real processes on a shared machine: two archive runs, each up to a few minutes when busy.
    360_000,
  );
});
