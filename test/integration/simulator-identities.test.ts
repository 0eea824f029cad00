/**
 * The identity APIs end to end over HTTP: the real client against the simulator's `portrait_get`,
 * `get_group_member_info` and `get_specified_group_member_info` (functions/simulator/api-identities.ts),
 * with batching at the API maximums, strict request schemas, renames, deleted accounts and hostile
 * names (functions/simulator/identities.ts).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GiveUpError } from '../../functions/domain/errors.ts';
import type { GroupMember } from '../../functions/domain/tencent-types.ts';
import {
  HOSTILE_NAMES,
  type SimMember,
  type Simulator,
  startSimulator,
} from '../../functions/simulator/index.ts';
import { clientFor, signedDemoQuery } from '../helpers/tencent.ts';

const PLAIN = '@TGS#1NAMES';
const COMMUNITY = '@TGS#2NAMESCOMM';
const LIVE = '@TGS#aNAMESLIVE';
const DATASET = {
  groups: 3,
  activeFraction: 1,
  messagesPerActiveGroup: [5, 10] as [number, number],
  historyDays: 3,
  extraGroups: [
    { groupId: PLAIN, type: 'Public' as const, messages: 5, name: 'Plain group' },
    { groupId: COMMUNITY, type: 'Community' as const, messages: 5 },
    { groupId: LIVE, type: 'AVChatRoom' as const, messages: 5 },
  ],
};

let sim: Simulator;
beforeAll(async () => {
  sim = await startSimulator({ seed: 11, retentionDays: 3650, dataset: DATASET, media: false });
});
afterAll(async () => {
  await sim.stop();
});

/** `count` distinct accounts of the numeric shape every generated app knows. */
function numericAccounts(count: number, from = 0): string[] {
  return Array.from({ length: count }, (_, i) => `1441151${String(from + i).padStart(11, '0')}`);
}

/** What the client should report for a simulator member. */
function expected(member: SimMember): GroupMember {
  return { account: member.account, role: member.role, nameCard: member.nameCard, joinTime: member.joinTime };
}

const PATHS = {
  portrait_get: 'profile/portrait_get',
  get_group_member_info: 'group_open_http_svc/get_group_member_info',
  get_specified_group_member_info: 'group_open_http_svc/get_specified_group_member_info',
  get_group_info: 'group_open_http_svc/get_group_info',
} as const;

/** One signed POST of `body` as JSON; the parsed answer. */
async function post(api: keyof typeof PATHS, body: object): Promise<Record<string, unknown>> {
  const query = signedDemoQuery('9');
  const response = await fetch(`${sim.url}/v4/${PATHS[api]}?${query}`, {
    method: 'POST',
    body: JSON.stringify(body),
  });
  expect(response.status).toBe(200);
  return (await response.json()) as Record<string, unknown>;
}

describe('identity APIs: batching at the maximums', () => {
  it('reads 250 profiles in 3 portrait_get calls of at most 100, each nickname as the world has it', async () => {
    // Arrange
    const { client } = clientFor(sim);
    const accounts = numericAccounts(250);
    const callsBefore = sim.stats().perApi.portrait_get.calls;

    // Act
    const profiles = await client.getProfiles(accounts);

    // Assess
    expect(client.stats().requests.portraitGet).toBe(3);
    expect(sim.stats().perApi.portrait_get.calls - callsBefore).toBe(3);
    expect(profiles.map((p) => p.account)).toEqual(accounts);
    expect(profiles.map((p) => (p.ok ? p.nick : undefined))).toEqual(
      accounts.map((a) => sim.identities.nick(a)),
    );
  });

  it('sends 100 accounts in one call and repeated accounts once', async () => {
    // Arrange
    const { client } = clientFor(sim);
    const accounts = numericAccounts(100, 1000);

    // Act
    const profiles = await client.getProfiles([...accounts, ...accounts.slice(0, 10)]);

    // Assess
    expect(client.stats().requests.portraitGet).toBe(1);
    expect(profiles).toHaveLength(100);
  });

  it('asks for 120 named members in 3 calls of at most 50: members with role and card, the others missing', async () => {
    // Arrange
    const { client } = clientFor(sim);
    const members = sim.identities.members(PLAIN);
    const strangers = numericAccounts(120 - members.length, 5000);
    const asked = [...strangers.slice(0, 30), ...members.map((m) => m.account), ...strangers.slice(30)];

    // Act
    const result = await client.getGroupMembers(PLAIN, asked);

    // Assess
    expect(client.stats().requests.getSpecifiedGroupMemberInfo).toBe(3);
    expect(sortByAccount(result.members)).toEqual(sortByAccount(members.map(expected)));
    expect(result.missing).toEqual(strangers);
  });

  it('pages through an ordinary group by Offset and a Community group by Next, each member once', async () => {
    for (const groupId of [PLAIN, COMMUNITY]) {
      // Arrange
      const { client } = clientFor(sim);
      const seen: GroupMember[] = [];
      // A Community group's first page asks with an empty Next, an ordinary group's with Offset 0.
      let following: { offset: number } | { next: string } | undefined =
        groupId === COMMUNITY ? { next: '' } : { offset: 0 };

      // Act
      while (following !== undefined) {
        const page = await client.getGroupMemberPage({ groupId, limit: 7, ...following });
        seen.push(...page.members);
        following = page.following;
        if (groupId === COMMUNITY && following !== undefined) expect(following).toHaveProperty('next');
      }

      // Assess
      expect(seen).toEqual(sim.identities.members(groupId).map(expected));
      expect(client.stats().requests.getGroupMemberInfo).toBe(Math.ceil(seen.length / 7));
    }
  });
});

function sortByAccount(members: GroupMember[]): GroupMember[] {
  return [...members].sort((a, b) => (a.account < b.account ? -1 : 1));
}

describe('identity APIs: strict requests', () => {
  const CASES = [
    {
      api: 'portrait_get' as const,
      code: 40001,
      valid: { To_Account: ['alice1'], TagList: ['Tag_Profile_IM_Nick'] },
      wrongs: [
        { To_Account: ['alice1', 7], TagList: ['Tag_Profile_IM_Nick'] },
        { To_Account: numericAccounts(101), TagList: ['Tag_Profile_IM_Nick'] },
        { To_Account: ['alice1'] },
      ],
    },
    {
      api: 'get_group_member_info' as const,
      code: 10004,
      valid: { GroupId: PLAIN, Limit: 10, Offset: 0 },
      wrongs: [{ GroupId: PLAIN, Limit: '10', Offset: 0 }, { GroupId: PLAIN, Limit: 101 }, { Limit: 10 }],
    },
    {
      api: 'get_specified_group_member_info' as const,
      code: 10004,
      valid: { GroupId: PLAIN, Member_List_Account: ['alice1'] },
      wrongs: [
        { GroupId: PLAIN, Member_List_Account: 'alice1' },
        { GroupId: PLAIN, Member_List_Account: numericAccounts(51) },
        { GroupId: 7, Member_List_Account: ['alice1'] },
      ],
    },
  ];

  it.each(CASES)(
    '$api: a wrong type, too many items or a missing field fail the call with $code',
    async ({ api, code, valid, wrongs }) => {
      // Act
      const accepted = await post(api, valid);
      const refused = await Promise.all(wrongs.map((body) => post(api, body)));

      // Assess
      expect(accepted).toMatchObject({ ActionStatus: 'OK', ErrorCode: 0 });
      for (const answer of refused) expect(answer).toMatchObject({ ActionStatus: 'FAIL', ErrorCode: code });
    },
  );

  it('refuses an Offset for a Community group, which pages with Next', async () => {
    // Act
    const first = await post('get_group_member_info', { GroupId: COMMUNITY, Limit: 5, Next: '' });
    const offset = await post('get_group_member_info', { GroupId: COMMUNITY, Limit: 5, Offset: 5 });

    // Assess
    expect(first).toMatchObject({ ErrorCode: 0, Next: expect.stringMatching(/.+/) });
    expect(offset).toMatchObject({ ActionStatus: 'FAIL', ErrorCode: 10004 });
  });
});

describe('identity APIs: changes and deleted accounts', () => {
  it('shows a renamed user, a renamed group, a new name card and a promotion and demotion', async () => {
    // Arrange
    const { client } = clientFor(sim);
    const [owner, first, second] = sim.identities.members(COMMUNITY);
    if (!owner || !first || !second) throw new Error('the group needs 3 members');
    sim.identities.renameUser(first.account, 'Alice, later Alice Chen');
    sim.identities.renameGroup(COMMUNITY, 'Renamed 群');
    sim.identities.setNameCard(COMMUNITY, second.account, 'Card of the second');
    sim.identities.setRole(COMMUNITY, first.account, 'Admin');
    sim.identities.setRole(COMMUNITY, second.account, 'Member');

    // Act
    const [profile] = await client.getProfiles([first.account]);
    const info = await post('get_group_info', { GroupIdList: [COMMUNITY] });
    const { members } = await client.getGroupMembers(COMMUNITY, [
      owner.account,
      first.account,
      second.account,
    ]);

    // Assess
    expect(profile).toMatchObject({ ok: true, nick: 'Alice, later Alice Chen' });
    expect(info).toMatchObject({ GroupInfo: [{ GroupId: COMMUNITY, Name: 'Renamed 群' }] });
    expect(members.map((m) => [m.account, m.role, m.nameCard])).toEqual([
      [owner.account, 'Owner', owner.nameCard],
      [first.account, 'Admin', first.nameCard],
      [second.account, 'Member', 'Card of the second'],
    ]);
  });

  it('reports a deleted account as unknown with its own ResultCode, next to known ones, and drops it from the group', async () => {
    // Arrange
    const { client } = clientFor(sim);
    const member = sim.identities.members(PLAIN).find((m) => m.role !== 'Owner');
    if (!member) throw new Error('no member to delete');
    const known = numericAccounts(1, 9000)[0] ?? '';
    sim.identities.deleteAccount(member.account);

    // Act
    const profiles = await client.getProfiles([known, member.account, 'never-imported']);
    const result = await client.getGroupMembers(PLAIN, [member.account]);

    // Assess
    expect(profiles).toEqual([
      { ok: true, account: known, nick: sim.identities.nick(known), image: expect.any(String) },
      { ok: false, account: member.account, resultCode: 40003, resultInfo: expect.any(String) },
      { ok: false, account: 'never-imported', resultCode: 40003, resultInfo: expect.any(String) },
    ]);
    expect(result).toEqual({ groupId: PLAIN, members: [], missing: [member.account] });
  });

  it('fails the member call of a dissolved group and of an AVChatRoom as skippable, after one request each', async () => {
    // Arrange
    const { client } = clientFor(sim);
    const gone = sim.groups().find((g) => g.type !== 'AVChatRoom' && !g.deleted && g.groupId !== PLAIN);
    if (!gone) throw new Error('no group to dissolve');
    sim.deleteGroup(gone.groupId);

    // Act
    const dissolved = await client.getGroupMembers(gone.groupId, ['alice1']).catch((e: unknown) => e);
    const live = await client.getGroupMembers(LIVE, ['alice1']).catch((e: unknown) => e);

    // Assess
    expect(dissolved).toBeInstanceOf(GiveUpError);
    expect(live).toBeInstanceOf(GiveUpError);
    expect((dissolved as GiveUpError).action).toBe('skip-group');
    expect(client.stats().requests.getSpecifiedGroupMemberInfo).toBe(2);
  });
});

describe('identity APIs: hostile names', () => {
  it('generates some hostile nicknames and serves every hostile name byte for byte', async () => {
    // Arrange
    const { client } = clientFor(sim);
    const pool = numericAccounts(400, 20_000);
    const generatedHostile = pool.filter((a) => HOSTILE_NAMES.includes(sim.identities.nick(a) ?? '-'));
    const renamed = HOSTILE_NAMES.map((_, i) => `hostile${i}`);
    HOSTILE_NAMES.forEach((name, i) => {
      sim.identities.renameUser(renamed[i] ?? '', name);
    });
    const [, carded] = sim.identities.members(PLAIN);
    if (!carded) throw new Error('no member');
    const card = HOSTILE_NAMES[0] ?? '';
    sim.identities.setNameCard(PLAIN, carded.account, card);

    // Act
    const profiles = await client.getProfiles([...renamed, ...generatedHostile]);
    const { members } = await client.getGroupMembers(PLAIN, [carded.account]);

    // Assess
    expect(generatedHostile.length).toBeGreaterThan(0);
    expect(profiles.map((p) => (p.ok ? p.nick : undefined))).toEqual([
      ...HOSTILE_NAMES,
      ...generatedHostile.map((a) => sim.identities.nick(a)),
    ]);
    expect(HOSTILE_NAMES.map((n) => n.length)).toContain(5000);
    expect(members[0]?.nameCard).toBe(card);
  });

  it('generates the same names from the same seed', async () => {
    // Arrange
    const again = await startSimulator({ seed: 11, retentionDays: 3650, dataset: DATASET, media: false });
    const twin = await startSimulator({ seed: 11, retentionDays: 3650, dataset: DATASET, media: false });
    const other = await startSimulator({ seed: 12, retentionDays: 3650, dataset: DATASET, media: false });
    const accounts = numericAccounts(50, 40_000);

    // Act
    const nicks = (s: Simulator) => accounts.map((a) => s.identities.nick(a));
    const cards = (s: Simulator) => s.identities.members(LIVE).map((m) => [m.account, m.role, m.nameCard]);

    // Assess
    try {
      expect(nicks(again)).toEqual(nicks(twin));
      expect(cards(again)).toEqual(cards(twin));
      expect(nicks(other)).not.toEqual(nicks(twin));
    } finally {
      await again.stop();
      await twin.stop();
      await other.stop();
    }
  });
});
