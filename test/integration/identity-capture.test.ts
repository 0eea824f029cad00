/**
 * The identity capture over HTTP (issue 24): runArchive with the real client against the simulator
 * (functions/simulator/identities.ts). Renames between runs give exactly the changed rows, each
 * with the value the server serves; a rerun without changes writes no row; a dissolved group gets
 * one `dissolved` row; no row claims a value the server never served.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gunzipNdjson } from '../../functions/domain/ndjson-gzip.ts';
import { DEFAULT_IDENTITY_OPTIONS, type IdentityReport } from '../../functions/engine/identity-capture.ts';
import type { RunOptions } from '../../functions/engine/run-archive.ts';
import type { Simulator } from '../../functions/simulator/index.ts';
import { engineRun, startEngineSimulator } from '../helpers/engine.ts';
import { MemoryStore } from '../helpers/engine-fakes.ts';

const DATASET = {
  groups: 6,
  activeFraction: 1,
  messagesPerActiveGroup: [20, 40] as [number, number],
  historyDays: 3,
};

let sim: Simulator;
beforeAll(async () => {
  sim = await startEngineSimulator({ seed: 24, retentionDays: 3650, dataset: DATASET, media: false });
});
afterAll(async () => {
  await sim.stop();
});

type Row = Record<string, unknown>;

function rowsOf(store: MemoryStore, prefix: string): Row[] {
  return store
    .keys(prefix)
    .flatMap((key) => gunzipNdjson(store.body(key) as Uint8Array).filter((l) => l !== ''))
    .map((line) => JSON.parse(line) as Row);
}

describe('identity capture over the simulator', () => {
  it('writes exactly the changed rows after renames between runs, and none on a rerun without changes', async () => {
    const store = new MemoryStore();
    const engine = engineRun(sim, store);
    const t0 = Math.floor(Date.now() / 1000);
    const runAt = async (observedAtSec: number): Promise<IdentityReport> => {
      const identities = { ...DEFAULT_IDENTITY_OPTIONS, maxCallShare: 0.5 };
      const runId = `ids${observedAtSec - t0}`;
      const report = await engine.run({ runId, observedAtSec, identities } as Partial<RunOptions>);
      expect(report.fatalError).toBeUndefined();
      return (report as typeof report & { identities: IdentityReport }).identities;
    };
    const first = await runAt(t0);
    expect(first.pending).toEqual({ users: 0, groups: 0, members: 0 });
    const groups = sim.groups().filter((g) => !g.deleted && g.nextMsgSeq > 1 && g.type !== 'AVChatRoom');
    const users = rowsOf(store, 'identities/users/');
    const senders = new Set(
      rowsOf(store, 'messages/')
        .map((r) => r.from_account as string | null)
        .filter((a) => a !== null && a !== ''),
    );
    expect(new Set(users.map((r) => r.account))).toEqual(senders);
    // Every row holds what the server serves: the nick, or gone for an account it does not know.
    for (const row of users) {
      const nick = sim.identities.nick(row.account as string);
      expect(row.nick).toBe(nick ?? null);
      expect(row.status).toBe(nick === undefined ? 'gone' : 'active');
    }
    for (const row of rowsOf(store, 'identities/groups/'))
      expect(row.name).toBe(sim.identities.groupName(row.group_id as string));

    // Renames: one group, every member of it, one name card, one promotion; then new messages there.
    const target = groups[0];
    if (!target) throw new Error('no group');
    const members = sim.identities.members(target.groupId);
    for (const m of members)
      if (sim.identities.nick(m.account) !== undefined)
        sim.identities.renameUser(m.account, `${m.account} v2`);
    sim.identities.renameGroup(target.groupId, 'Renamed \u202Egroup\u202C');
    const second = await (async () => {
      sim.appendMessages(target.groupId, 30);
      return runAt(t0 + 60);
    })();
    const newUsers = rowsOf(store, 'identities/users/').filter((r) => r.observed_at === t0 + 60);
    const newSenders = new Set(
      rowsOf(store, 'messages/')
        .filter((r) => r.observed_at === t0 + 60)
        .map((r) => r.from_account as string)
        .filter((a) => a !== null && a !== ''),
    );
    const renamed = [...newSenders].filter((a) => sim.identities.nick(a) === `${a} v2`);
    expect(newUsers.map((r) => r.account).sort()).toEqual(renamed.sort());
    for (const row of newUsers) expect(row.nick).toBe(`${row.account} v2`);
    const newGroups = rowsOf(store, 'identities/groups/').filter((r) => r.observed_at === t0 + 60);
    expect(newGroups.map((r) => [r.group_id, r.name])).toEqual([
      [target.groupId, 'Renamed \u202Egroup\u202C'],
    ]);
    // Members: name cards and roles did not change; only senders new to the group get a first row.
    const before = rowsOf(store, 'identities/members/').filter((r) => r.observed_at === t0);
    const known = new Set(before.filter((r) => r.group_id === target.groupId).map((r) => r.account));
    const newMembers = rowsOf(store, 'identities/members/').filter((r) => r.observed_at === t0 + 60);
    expect(newMembers.map((r) => r.account).sort()).toEqual(
      [...newSenders].filter((a) => !known.has(a)).sort(),
    );
    expect(second.rows.members).toBe(newMembers.length);

    // New messages, no rename since: looked up again; a row only where the archive's last value
    // differs (an account first seen, or one renamed above that had not posted since).
    const lastNick = new Map(rowsOf(store, 'identities/users/').map((r) => [r.account, r.nick]));
    sim.appendMessages(target.groupId, 5);
    const third = await runAt(t0 + 120);
    expect(third.calls.profiles).toBeGreaterThan(0);
    expect(third.rows.groups).toBe(0);
    const thirdUsers = rowsOf(store, 'identities/users/').filter((r) => r.observed_at === t0 + 120);
    for (const row of thirdUsers) expect(lastNick.get(row.account)).not.toBe(row.nick);
    // No new message: no row.
    const fourth = await runAt(t0 + 150);
    expect(fourth.rows).toEqual({ users: 0, groups: 0, members: 0 });

    // A dissolved group: one dissolved row, once.
    const dissolved = groups[1];
    if (!dissolved) throw new Error('no second group');
    sim.deleteGroup(dissolved.groupId);
    await runAt(t0 + 180);
    await runAt(t0 + 240);
    const rows = rowsOf(store, 'identities/groups/').filter((r) => r.group_id === dissolved.groupId);
    expect(rows.map((r) => [r.status, r.observed_at])).toEqual([
      ['active', t0],
      ['dissolved', t0 + 180],
    ]);
  });
});
