/**
 * The one-to-one rescan under kills (issue 26, deliverable 4; docs/one-to-one.md): the real CLI
 * over the simulator (`rescan.days` its default 3) archives the conversations; messages inside the
 * window are then recalled, and the next run is SIGKILLed at a named point (functions/adapters/pause-at.ts)
 * before its revision rows or its state are written; rerun: each recall is one revision row.
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

const ALICE = 'alice.rk';
const BOB = 'bob.rk';
const DAVE = 'dave.rk';
const ERIN = 'erin.rk';

function start() {
  return startTwoPairRescanArchive(cleanups, {
    tempPrefix: 'c2c-rescan-kill-',
    seed: 2627,
    pairs: [
      [ALICE, BOB],
      [DAVE, ERIN],
    ],
  });
}

describe('the one-to-one rescan under kills', () => {
  it.each(['c2c/:1', 'state/c2c/:2'])(
    'killed with SIGKILL before write %s of the rescanning run, rerun: each recall one revision row',
    async (point) => {
      const t = await start();
      const first = await t.spawnArchive({ timeoutMs: 120_000 }).done;
      expect(first.code, first.stderr).toBe(0);
      const archived = await c2cRows(t.store);
      expect(archived.length).toBe(420);

      // Recall messages of both pairs well inside the window (3 days back, minus margins).
      const nowSec = Math.floor(Date.now() / 1000);
      const recalled: string[] = [];
      for (const [a, b] of [
        [ALICE, BOB],
        [DAVE, ERIN],
      ] as const) {
        const inWindow = inRescanWindow(t.sim, [a, b], nowSec);
        expect(inWindow.length).toBeGreaterThan(3);
        for (const m of [inWindow[0], inWindow[Math.floor(inWindow.length / 2)], inWindow.at(-1)]) {
          const key = m?.MsgKey as string;
          t.sim.c2c.recall(a, b, key);
          recalled.push(key);
        }
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
      expect(revisions.map((r) => r.msg_key).sort()).toEqual([...recalled].sort());
      for (const r of revisions)
        expect(r).toMatchObject({ revision: 1, change: 'recalled', msg_flag_bits: 8 });
      expect(rows.filter((r) => r.revision === 0)).toHaveLength(420);

      // The prints committed with the rows: a further run finds nothing new.
      const again = await t.spawnArchive({ timeoutMs: 120_000 }).done;
      expect(again.code, again.stderr).toBe(0);
      expect((await c2cRows(t.store)).length).toBe(rows.length);
    },
    360_000,
  );
});
