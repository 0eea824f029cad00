/**
 * The identity capture (functions/engine/identity-capture.ts) through runArchive over the in-memory
 * fakes: the rows of a first run, no row (and no write) on a rerun without changes, exactly the
 * changed rows after renames, batching at 100 / 50, the budget and the pending carried to the next
 * run, gone / dissolved / left rows once, the roll call, and a commit killed half-way finished by
 * the next run, each change once.
 */
import { describe, expect, it } from 'vitest';
import {
  capWork,
  identityHeadKey,
  pickRollCall,
  planGroupedLookups,
  planLookups,
} from '../../../functions/domain/identity-capture.ts';
import { gunzipNdjson } from '../../../functions/domain/ndjson-gzip.ts';
import type { GroupInfo, GroupMember, RawMessage } from '../../../functions/domain/tencent-types.ts';
import { DEFAULT_IDENTITY_OPTIONS, type IdentityReport } from '../../../functions/engine/identity-capture.ts';
import { type ArchiveOptions, runArchive } from '../../../functions/engine/run-archive.ts';
import {
  FakeChatApi,
  FakeClock,
  MemoryStore,
  silentLogger,
  testRunOptions,
  textMessage,
} from '../../helpers/engine-fakes.ts';

const APP = 1400000001;
const DAY = 86_400;
const NOW_SEC = Date.UTC(2026, 0, 1) / 1000;

/** The fake API with group names and owners (FakeChatApi answers infos without them). */
class NamedApi extends FakeChatApi {
  public readonly names: Record<string, string> = {};
  public override async getGroupInfo(groupIds: readonly string[]): Promise<GroupInfo[]> {
    const infos = await super.getGroupInfo(groupIds);
    return infos.map((info) =>
      info.ok
        ? { ...info, name: this.names[info.groupId] ?? `name of ${info.groupId}`, ownerAccount: 'owner' }
        : info,
    );
  }
}

/** `count` messages from `senders` in turn, seqs from `firstSeq`. */
function messagesFrom(senders: readonly string[], count: number, firstSeq = 1): RawMessage[] {
  return Array.from({ length: count }, (_, i) =>
    textMessage(
      firstSeq + i,
      NOW_SEC - DAY + (firstSeq + i) * 60,
      `m${firstSeq + i}`,
      senders[i % senders.length],
    ),
  );
}

const member = (account: string, role = 'Member', nameCard = ''): GroupMember => ({
  account,
  role,
  nameCard,
  joinTime: undefined,
});

function world() {
  const groups: Record<string, RawMessage[]> = {
    '@TGS#a': messagesFrom(['alice', 'bob'], 10),
    '@TGS#b': messagesFrom(['bob', 'carol'], 6),
  };
  const nicks: Record<string, string> = { alice: 'Alice', bob: 'Bob', carol: 'Carol' };
  const members: Record<string, GroupMember[]> = {
    '@TGS#a': [member('alice', 'Owner'), member('bob', 'Member', 'Bobby')],
    '@TGS#b': [member('bob', 'Admin'), member('carol')],
  };
  const api = new NamedApi({ groups, nicks, members });
  const store = new MemoryStore();
  const clock = new FakeClock(NOW_SEC * 1000);
  let runs = 0;
  const run = async (over: Partial<ArchiveOptions> = {}) => {
    runs++;
    const options: ArchiveOptions = {
      ...testRunOptions(APP, { runId: `run${runs}`, observedAtSec: NOW_SEC + runs * 3600 }),
      identities: { ...DEFAULT_IDENTITY_OPTIONS, maxCallShare: 0.5 },
      ...over,
    };
    const report = await runArchive({ api, store, clock, logger: silentLogger }, options);
    return (report as typeof report & { identities: IdentityReport }).identities;
  };
  /** Adds `count` messages from `senders` to `group`. */
  const post = (group: string, senders: readonly string[], count: number) => {
    const list = groups[group] ?? [];
    list.push(...messagesFrom(senders, count, list.length + 1));
    groups[group] = list;
  };
  return { api, store, groups, nicks, members, run, post };
}

type Row = Record<string, unknown>;

/** Every identity row of `kind` in the store, in key order. */
function rowsOf(store: MemoryStore, kind: 'users' | 'groups' | 'members'): Row[] {
  return store
    .keys(`identities/${kind}/`)
    .flatMap((key) => gunzipNdjson(store.body(key) as Uint8Array).filter((l) => l !== ''))
    .map((line) => JSON.parse(line) as Row);
}

const identityCalls = (api: FakeChatApi) =>
  api.calls.filter((c) => c.api === 'getProfiles' || c.api === 'getGroupMembers').length;

describe('identity capture', () => {
  it('records the senders, groups and members of a first run, and nothing on a rerun without changes', async () => {
    const w = world();
    const first = await w.run();
    expect(first.rows).toEqual({ users: 3, groups: 2, members: 4 });
    expect(rowsOf(w.store, 'users').map((r) => [r.account, r.nick, r.status])).toEqual([
      ['alice', 'Alice', 'active'],
      ['bob', 'Bob', 'active'],
      ['carol', 'Carol', 'active'],
    ]);
    expect(rowsOf(w.store, 'groups').map((r) => [r.group_id, r.name, r.type, r.owner_account])).toEqual([
      ['@TGS#a', 'name of @TGS#a', 'Public', 'owner'],
      ['@TGS#b', 'name of @TGS#b', 'Public', 'owner'],
    ]);
    expect(
      rowsOf(w.store, 'members').map((r) => [r.group_id, r.account, r.role, r.name_card, r.status]),
    ).toEqual(
      expect.arrayContaining([
        ['@TGS#a', 'alice', 'Owner', '', 'member'],
        ['@TGS#a', 'bob', 'Member', 'Bobby', 'member'],
        ['@TGS#b', 'bob', 'Admin', '', 'member'],
        ['@TGS#b', 'carol', 'Member', '', 'member'],
      ]),
    );
    // Group names came with planning's own info call: no extra get_group_info.
    expect(first.groupsFromPlanning).toBe(2);
    expect(first.calls.groupInfo).toBe(0);
    for (const row of rowsOf(w.store, 'users')) expect(row.observed_at).toBe(NOW_SEC + 3600);

    // New messages, same names: looked up again, nothing written (no rows, no state object).
    w.post('@TGS#a', ['alice', 'bob'], 4);
    const callsBefore = w.store.calls.length;
    const second = await w.run();
    expect(second.rows).toEqual({ users: 0, groups: 0, members: 0 });
    expect(second.calls.profiles + second.calls.members).toBeGreaterThan(0);
    expect(w.store.keys('identities/')).toHaveLength(3);
    const identityWrites = w.store.calls
      .slice(callsBefore)
      .filter((c) => c.op !== 'get' && c.op !== 'list' && c.key.includes('identities/'));
    expect(identityWrites).toEqual([]);
  });

  it('writes exactly the changed rows after renames, a new name card and a promotion', async () => {
    const w = world();
    await w.run();
    w.nicks.alice = 'Alice Chen';
    w.api.names['@TGS#a'] = 'Renamed 群';
    const bob = w.members['@TGS#b']?.find((m) => m.account === 'bob');
    if (bob) bob.nameCard = 'Bob in b';
    const carol = w.members['@TGS#b']?.find((m) => m.account === 'carol');
    if (carol) carol.role = 'Admin';
    w.post('@TGS#a', ['alice'], 2);
    w.post('@TGS#b', ['bob', 'carol'], 2);
    const second = await w.run();
    expect(second.rows).toEqual({ users: 1, groups: 1, members: 2 });
    const users = rowsOf(w.store, 'users').filter((r) => r.observed_at === NOW_SEC + 2 * 3600);
    expect(users.map((r) => [r.account, r.nick])).toEqual([['alice', 'Alice Chen']]);
    const groups = rowsOf(w.store, 'groups').filter((r) => r.observed_at === NOW_SEC + 2 * 3600);
    expect(groups.map((r) => [r.group_id, r.name])).toEqual([['@TGS#a', 'Renamed 群']]);
    const members = rowsOf(w.store, 'members').filter((r) => r.observed_at === NOW_SEC + 2 * 3600);
    expect(members.map((r) => [r.account, r.role, r.name_card]).sort()).toEqual([
      ['bob', 'Admin', 'Bob in b'],
      ['carol', 'Admin', ''],
    ]);
  });

  it("records an idle group's rename from planning's info call, at no call", async () => {
    const w = world();
    await w.run();
    w.api.names['@TGS#b'] = 'Quiet group, renamed';
    const calls = w.api.calls.length;
    const second = await w.run();
    expect(second.rows).toEqual({ users: 0, groups: 1, members: 0 });
    expect(
      w.api.calls.slice(calls).filter((c) => c.api !== 'listGroups' && c.api !== 'getGroupInfo'),
    ).toEqual([]);
    const renamed = rowsOf(w.store, 'groups').filter((r) => r.observed_at === NOW_SEC + 2 * 3600);
    expect(renamed.map((r) => [r.group_id, r.name])).toEqual([['@TGS#b', 'Quiet group, renamed']]);
  });

  it('writes a gone, a dissolved and a left row once each', async () => {
    const w = world();
    await w.run();
    delete w.nicks.carol;
    w.members['@TGS#b'] = [member('carol')];
    w.post('@TGS#b', ['bob', 'carol'], 2);
    const second = await w.run();
    expect(second.rows).toEqual({ users: 1, groups: 0, members: 1 });
    expect(rowsOf(w.store, 'users').find((r) => r.account === 'carol' && r.status === 'gone')).toMatchObject({
      nick: null,
      image: null,
      result_code: 40003,
    });
    expect(rowsOf(w.store, 'members').filter((r) => r.status === 'left')).toEqual([
      expect.objectContaining({ group_id: '@TGS#b', account: 'bob', role: null, name_card: null }),
    ]);
    // Dissolved: the group is no longer listed; the roll call finds it.
    delete w.groups['@TGS#b'];
    w.post('@TGS#a', ['carol'], 1);
    const third = await w.run();
    expect(third.rollCall).toBeGreaterThan(0);
    expect(rowsOf(w.store, 'groups').filter((r) => r.status === 'dissolved')).toEqual([
      expect.objectContaining({
        group_id: '@TGS#b',
        name: null,
        error_code: 10010,
        observed_at: NOW_SEC + 3 * 3600,
      }),
    ]);
    w.post('@TGS#a', ['carol', 'bob'], 2);
    const fourth = await w.run();
    expect(fourth.rows).toEqual({ users: 0, groups: 0, members: 0 });
    expect(rowsOf(w.store, 'users').filter((r) => r.status === 'gone')).toHaveLength(1);
    expect(rowsOf(w.store, 'groups').filter((r) => r.status === 'dissolved')).toHaveLength(1);
  });

  it('batches at the API maximums: 100 accounts a profile call, 50 a member call', async () => {
    const senders = Array.from({ length: 230 }, (_, i) => `u${String(i).padStart(3, '0')}`);
    const w = world();
    w.groups['@TGS#a'] = messagesFrom(senders, 230);
    for (const s of senders) w.nicks[s] = `nick ${s}`;
    w.members['@TGS#a'] = senders.map((s) => member(s));
    await w.run({ groupIds: ['@TGS#a'] });
    const profileSizes = w.api.calls
      .filter((c) => c.api === 'getProfiles')
      .map((c) => (c.args as string[]).length);
    expect(profileSizes.sort((a, b) => b - a)).toEqual([100, 100, 30]);
    const memberSizes = w.api.calls
      .filter((c) => c.api === 'getGroupMembers')
      .map((c) => (c.args as { accounts: string[] }).accounts.length);
    expect(memberSizes.sort((a, b) => b - a)).toEqual([50, 50, 50, 50, 30]);
    expect(rowsOf(w.store, 'users')).toHaveLength(230);
    expect(rowsOf(w.store, 'members')).toHaveLength(230);
  });

  it('keeps to the budget and looks up what is pending first in the next run', async () => {
    const senders = Array.from({ length: 230 }, (_, i) => `u${String(i).padStart(3, '0')}`);
    const w = world();
    w.groups['@TGS#a'] = messagesFrom(senders, 230);
    for (const s of senders) w.nicks[s] = `nick ${s}`;
    w.members['@TGS#a'] = senders.map((s) => member(s));
    const tight = { ...DEFAULT_IDENTITY_OPTIONS, maxCallShare: 0.1, minCalls: 0 };
    const first = await w.run({ groupIds: ['@TGS#a'], identities: tight });
    // 12 history pages and 1 info call: at most 10 % of all calls go to names.
    expect(first.budget).toBe(1);
    expect(identityCalls(w.api)).toBe(1);
    expect(first.pending).toEqual({ users: 130, groups: 0, members: 230 });
    const head = JSON.parse(new TextDecoder().decode(w.store.body(identityHeadKey(APP)) as Uint8Array));
    const pendingUsers = head.pending.users as string[];
    expect(pendingUsers).toHaveLength(130);

    // The next run has no new messages: only the pending work, first, within its budget.
    const calls = w.api.calls.length;
    const second = await w.run({ groupIds: ['@TGS#a'], identities: { ...tight, minCalls: 2 } });
    expect(second.budget).toBe(2);
    const next = w.api.calls.slice(calls).filter((c) => c.api === 'getProfiles');
    expect(next[0]?.args).toEqual(pendingUsers.slice(0, 100));
    expect(second.pending).toEqual({ users: 0, groups: 0, members: 230 });
    // Then everything, each row once.
    for (let i = 0; i < 5; i++) await w.run({ groupIds: ['@TGS#a'], identities: { ...tight, minCalls: 2 } });
    expect(rowsOf(w.store, 'users')).toHaveLength(230);
    expect(rowsOf(w.store, 'members')).toHaveLength(230);
    expect(new Set(rowsOf(w.store, 'members').map((r) => r.account)).size).toBe(230);
  });

  it('finishes a commit a killed run left half-applied: each change once', async () => {
    const w = world();
    // The first run dies after its intent and the users' rows object, before the members' object.
    w.store.fail({ op: 'put', key: (k) => k.startsWith('identities/members/') });
    await expect(w.run()).rejects.toThrow();
    expect(rowsOf(w.store, 'users')).toHaveLength(3);
    expect(rowsOf(w.store, 'members')).toHaveLength(0);
    // Meanwhile Alice renames: the rolled-forward commit still writes what the first run saw, then
    // this run's own lookups write the change.
    w.nicks.alice = 'Alice Chen';
    w.post('@TGS#a', ['alice'], 1);
    const second = await w.run();
    expect(second.rolledForward).toBe(true);
    expect(rowsOf(w.store, 'users').map((r) => [r.account, r.nick])).toEqual([
      ['alice', 'Alice'],
      ['bob', 'Bob'],
      ['carol', 'Carol'],
      ['alice', 'Alice Chen'],
    ]);
    expect(rowsOf(w.store, 'members')).toHaveLength(4);
    expect(rowsOf(w.store, 'groups')).toHaveLength(2);
    expect(w.store.keys('state/identities/').filter((k) => k.includes('intent-'))).toEqual([]);
  });
});

describe('identity capture in slices', () => {
  const isIdentityWrite = (key: string) =>
    key.startsWith('state/identities/') || key.startsWith('identities/');
  const slices = (over: Partial<ArchiveOptions> = {}) => ({
    identities: { ...DEFAULT_IDENTITY_OPTIONS, maxCallShare: 0.5, sliceRows: 2 },
    ...over,
  });

  it('commits 2 rows at a time, a version each, and writes what one commit would', async () => {
    const w = world();
    const first = await w.run(slices());
    expect(first.rows).toEqual({ users: 3, groups: 2, members: 4 });
    // 9 rows, 2 a slice (a slice taken while others are added may hold more: never fewer than 2).
    const versions = w.store.keys('identities/').map((k) => k.split('/').at(-1));
    expect(new Set(versions).size).toBeGreaterThanOrEqual(3);
    const head = JSON.parse(new TextDecoder().decode(w.store.body(identityHeadKey(APP)) as Uint8Array));
    expect(head.version).toBeGreaterThanOrEqual(3);
    expect(rowsOf(w.store, 'users').map((r) => r.account)).toEqual(['alice', 'bob', 'carol']);
    expect(rowsOf(w.store, 'members')).toHaveLength(4);
    expect(w.store.keys('state/identities/').filter((k) => k.includes('intent-'))).toEqual([]);
  });

  it('killed at any write of any slice, then rerun: every row once, no commit left half-done', async () => {
    const clean = world();
    await clean.run(slices());
    const writes = clean.store.calls.filter(
      (c) => c.op !== 'get' && c.op !== 'list' && isIdentityWrite(c.key),
    );
    expect(writes.length).toBeGreaterThan(10);
    for (let n = 1; n <= writes.length; n++) {
      const w = world();
      let seen = 0;
      // The n-th identity write of the run fails (and the run with it), as if killed right before it.
      w.store.fail({ op: 'put', key: (key) => isIdentityWrite(key) && ++seen === n });
      w.store.fail({ op: 'delete', key: (key) => isIdentityWrite(key) && ++seen === n });
      await expect(w.run(slices()), `killed at write ${n}`).rejects.toThrow();
      // Everyone posts again: the rerun looks every key up again (what the killed slice had not
      // committed is written now, what it had is not written twice).
      w.post('@TGS#a', ['alice', 'bob'], 2);
      w.post('@TGS#b', ['bob', 'carol'], 2);
      await w.run(slices());
      const users = rowsOf(w.store, 'users').map((r) => r.account);
      expect(users.sort(), `killed at write ${n}`).toEqual(['alice', 'bob', 'carol']);
      const members = rowsOf(w.store, 'members').map((r) => `${r.group_id}/${r.account}`);
      expect(members.sort(), `killed at write ${n}`).toEqual([
        '@TGS#a/alice',
        '@TGS#a/bob',
        '@TGS#b/bob',
        '@TGS#b/carol',
      ]);
      expect(rowsOf(w.store, 'groups'), `killed at write ${n}`).toHaveLength(2);
      expect(w.store.keys('state/identities/').filter((k) => k.includes('intent-'))).toEqual([]);
    }
  }, 120_000);
});

describe('identity capture, pure rules', () => {
  it('lists at most keepLeft members left and counts the rest: the same pending and dropped as capping after', () => {
    const members = new Map<string, string[]>();
    const pairs: [string, string][] = [];
    for (let g = 0; g < 40; g++) {
      const accounts = Array.from({ length: 1 + ((g * 37) % 120) }, (_, i) => `a${(g * 13 + i) % 300}`);
      members.set(`g${g}`, accounts);
      for (const account of accounts) pairs.push([`g${g}`, account]);
    }
    const work = { groups: [], users: [] };
    for (const [budget, keep] of [
      [0, 500],
      [7, 500],
      [30, 100],
      [200, 500],
      [3, 0],
    ] as const) {
      const whole = capWork(planLookups({ ...work, members: pairs }, budget).left, keep);
      const grouped = planGroupedLookups({ ...work, members }, budget, keep);
      const capped = capWork(grouped.plan.left, keep);
      expect(capped.work.members, `budget ${budget}`).toEqual(whole.work.members);
      expect(grouped.dropped + capped.dropped, `budget ${budget}`).toBe(whole.dropped);
    }
  });

  it('plans groups, then users, then members within the budget; the rest is left in order', () => {
    const plan = planLookups(
      {
        groups: ['g1'],
        users: Array.from({ length: 150 }, (_, i) => `u${i}`),
        members: [
          ['g1', 'a'],
          ['g1', 'b'],
        ],
      },
      2,
    );
    expect(plan.groupBatches).toEqual([['g1']]);
    expect(plan.userBatches.map((b) => b.length)).toEqual([100]);
    expect(plan.left.users[0]).toBe('u100');
    expect(plan.left.members).toEqual([
      ['g1', 'a'],
      ['g1', 'b'],
    ]);
  });

  it('rolls round every known group in slots, within the capacity', () => {
    const ids = Array.from({ length: 1000 }, (_, i) => `@TGS#${i}`);
    const seen = new Set<string>();
    let cursor = 0;
    for (let run = 0; run < 200 && seen.size < ids.length; run++) {
      const picked = pickRollCall(ids, ids.length, { cursor, capacity: 50 });
      expect(picked.groupIds.length).toBeLessThanOrEqual(50);
      for (const id of picked.groupIds) seen.add(id);
      cursor = picked.cursor;
    }
    expect(seen.size).toBe(ids.length);
  });
});
