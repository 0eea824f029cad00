/**
 * One-to-one deletions in the rescan under kills (issue 26, deliverable 4; docs/one-to-one.md,
 * functions/engine/c2c-rescan.ts): the real CLI over the simulator (`rescan.days` its default 3)
 * archives the conversations; messages inside the window are then deleted for both sides (and
 * others for one side only), and the next run is SIGKILLed at a named point
 * (functions/adapters/pause-at.ts) before its first revision object, or between two; rerun: each
 * message deleted for both sides is one `deleted` revision row, one side's deletions none.
 */
import { describe, expect, it } from 'vitest';
import {
  c2cRows,
  inRescanWindow,
  readC2cHead,
  rerunUntilDone,
  startTwoPairRescanArchive,
} from '../helpers/c2c.ts';
import { runKilledAt, useProcessCleanups } from '../helpers/process-archive.ts';

const cleanups = useProcessCleanups();

const ALICE = 'alice.dk';
const BOB = 'bob.dk';
const DAVE = 'dave.dk';
const ERIN = 'erin.dk';

function start() {
  return startTwoPairRescanArchive(cleanups, {
    tempPrefix: 'c2c-deletion-kill-',
    seed: 2629,
    pairs: [
      [ALICE, BOB],
      [DAVE, ERIN],
    ],
  });
}

describe('one-to-one deletions in the rescan under kills', () => {
  // Before the first revision object, and between two (the deletions of a pair span several
  // dates: one object each, in one checkpoint). Counted in c2c/ objects, which only revisions make
  // in that run, so the points do not move with the pass's scheduling or checkpoint timing.
  it.each(['c2c/:1', 'c2c/:2'])(
    'killed with SIGKILL before write %s of the rescanning run, rerun: each deletion one revision row',
    async (point) => {
      const t = await start();
      const first = await t.spawnArchive({ timeoutMs: 120_000 }).done;
      expect(first.code, first.stderr).toBe(0);
      const archived = await c2cRows(t.store);
      expect(archived.length).toBe(420);

      // Delete messages of both pairs well inside the window (3 days back, minus margins): three
      // for both sides, one for the first side only.
      const nowSec = Math.floor(Date.now() / 1000);
      const deleted: string[] = [];
      for (const [a, b] of [
        [ALICE, BOB],
        [DAVE, ERIN],
      ] as const) {
        const inWindow = inRescanWindow(t.sim, [a, b], nowSec);
        expect(inWindow.length).toBeGreaterThan(4);
        const keys = [inWindow[0], inWindow[Math.floor(inWindow.length / 2)], inWindow.at(-1)].map(
          (m) => m?.MsgKey as string,
        );
        t.sim.c2c.deleteFor(a, b, keys);
        t.sim.c2c.deleteFor(b, a, keys);
        t.sim.c2c.deleteFor(a, b, [inWindow[1]?.MsgKey as string]);
        deleted.push(...keys);
      }

      const killed = await runKilledAt(t, point, { timeoutMs: 120_000 });
      expect(killed.paused).toBe(true);
      expect(killed.result.signal).toBe('SIGKILL');
      // Killed mid-checkpoint: its intent names the revision rows and shards it did not all write.
      const left = await readC2cHead(t);
      expect(left.pending?.objects.some((k) => k.startsWith('c2c/'))).toBe(true);
      await rerunUntilDone(t);
      const head = await readC2cHead(t);
      expect(head.pending).toBeNull();

      const rows = await c2cRows(t.store);
      const revisions = rows.filter((r) => r.revision > 0);
      expect(revisions.map((r) => r.msg_key).sort()).toEqual([...deleted].sort());
      for (const r of revisions)
        expect(r).toMatchObject({ revision: 1, change: 'deleted', msg_body: null, msg_flag_bits: null });
      // The deletion keeps who sent the message to whom (the print holds the sender).
      for (const r of revisions) {
        const original = rows.find((o) => o.revision === 0 && o.msg_key === r.msg_key);
        expect([r.from_account, r.to_account]).toEqual([original?.from_account, original?.to_account]);
      }
      expect(rows.filter((r) => r.revision === 0)).toHaveLength(420);

      // The prints committed with the rows: a further run finds nothing new.
      const again = await t.spawnArchive({ timeoutMs: 120_000 }).done;
      expect(again.code, again.stderr).toBe(0);
      expect((await c2cRows(t.store)).length).toBe(rows.length);
    },
    360_000,
  );
});
