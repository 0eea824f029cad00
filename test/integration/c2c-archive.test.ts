/**
 * One-to-one history archived by the real CLI over the simulator (issue 26; docs/one-to-one.md):
 * pairs from the config (both orders, and every pair among `accounts`) give each message once, as
 * either side sees it; a later run adds only the new messages, a recalled one as recalled; and runs
 * SIGKILLed at named points before a c2c object or a write of the pass's state
 * (functions/adapters/pause-at.ts), then rerun, leave every message exactly once.
 */
import { describe, expect, it } from 'vitest';
import type { LocalFolderStore } from '../../functions/adapters/local-folder/local-folder-store.ts';
import { type C2cRecord, conversationOf } from '../../functions/domain/c2c-record.ts';
import type { Simulator } from '../../functions/simulator/index.ts';
import { c2cRows, readC2cHead, rerunUntilDone, startC2cProcessArchive } from '../helpers/c2c.ts';
import { runKilledAt, useProcessCleanups } from '../helpers/process-archive.ts';

const cleanups = useProcessCleanups();

const ALICE = 'alice.c2c';
const BOB = 'bob,"c2c"';
const CAROL = 'carol.c2c';
const DAVE = 'dave.c2c';
const ERIN = 'erin.c2c';
const PAIRS = [
  [ALICE, BOB],
  [ALICE, CAROL],
  [DAVE, ERIN],
] as const;

function start(prefix: string) {
  return startC2cProcessArchive(cleanups, {
    tempPrefix: prefix,
    seed: 26,
    dataset: { groups: 2, activeFraction: 1, messagesPerActiveGroup: [5, 10], historyDays: 2 },
    c2c: {
      conversations: [
        { accounts: [ALICE, BOB], messages: 400 },
        { accounts: [ALICE, CAROL], messages: 60 },
        { accounts: [DAVE, ERIN], messages: 150 },
        { accounts: [BOB, CAROL], messages: 0 },
      ],
    },
    // Both orders of a pair and every pair among the accounts: each conversation read once.
    app: {
      pairs: [
        [BOB, ALICE],
        [ALICE, BOB],
        [ERIN, DAVE],
      ],
      accounts: [ALICE, BOB, CAROL],
    },
  });
}

/** Every message once: the archive's identities are exactly what each pair's both sides see now. */
async function expectExactlyOnce(sim: Simulator, store: LocalFolderStore): Promise<C2cRecord[]> {
  const rows = await c2cRows(store);
  const ids = rows.map((r) => `${r.conversation} ${r.msg_key}`);
  expect(ids.length).toBe(new Set(ids).size);
  const expected: string[] = [];
  for (const [a, b] of PAIRS) {
    const fromA = sim.c2c.visible(a, b).map((m) => m.MsgKey);
    // Both perspectives serve the same messages under the same MsgKey.
    expect(sim.c2c.visible(b, a).map((m) => m.MsgKey)).toEqual(fromA);
    expected.push(...fromA.map((k) => `${conversationOf(a, b)} ${k}`));
  }
  expect(ids.sort()).toEqual(expected.sort());
  return rows;
}

describe('one-to-one history through the CLI', () => {
  it('archives each conversation once from the config pairs, then only what is new, a recall as recalled', async () => {
    const t = await start('c2c-archive-');
    const first = await t.spawnArchive({ timeoutMs: 120_000 }).done;
    expect(first.code, first.stderr).toBe(0);
    const rows = await expectExactlyOnce(t.sim, t.store);
    expect(new Set(rows.map((r) => r.conversation))).toEqual(
      new Set(PAIRS.map(([a, b]) => conversationOf(a, b))),
    );

    t.sim.c2c.append(ALICE, BOB, 25);
    const appended = t.sim.c2c.visible(ALICE, BOB).at(-1)?.MsgKey as string;
    t.sim.c2c.recall(ALICE, BOB, appended);
    const second = await t.spawnArchive({ timeoutMs: 120_000 }).done;
    expect(second.code, second.stderr).toBe(0);
    const after = await expectExactlyOnce(t.sim, t.store);
    expect(after.length - rows.length).toBe(25);
    expect(after.find((r) => r.msg_key === appended)?.msg_flag_bits).toBe(8);
  });

  it.each(['c2c/:2', 'state/c2c/:3', 'c2c/:5'])(
    'killed with SIGKILL before write %s, rerun: every message exactly once',
    async (point) => {
      const t = await start('c2c-kill-');
      const killed = await runKilledAt(t, point, { timeoutMs: 120_000 });
      expect(killed.paused).toBe(true);
      expect(killed.result.signal).toBe('SIGKILL');
      if (point.startsWith('c2c/')) {
        // Killed mid-checkpoint: its intent names objects it did not all write.
        expect((await readC2cHead(t)).pending).not.toBeNull();
      }
      // The killed run left an intent (or a committed cursor); new messages arrive meanwhile.
      t.sim.c2c.append(DAVE, ERIN, 12);
      await rerunUntilDone(t);
      const head = await readC2cHead(t);
      expect(head.pending).toBeNull();
      await expectExactlyOnce(t.sim, t.store);
    },
  );
});
