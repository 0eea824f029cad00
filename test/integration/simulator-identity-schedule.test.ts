/**
 * The simulator's scheduled identity changes (functions/simulator/identity-schedule.ts) over HTTP
 * with the real client: each change takes effect at the first request at or after its time on the
 * simulator's clock, so a run spanning that time sees the old value, then the new one.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Simulator, startSimulator } from '../../functions/simulator/index.ts';
import { clientFor } from '../helpers/tencent.ts';

const PLAIN = '@TGS#1SCHEDULE';
const DATASET = {
  groups: 1,
  activeFraction: 1,
  messagesPerActiveGroup: [5, 5] as [number, number],
  historyDays: 3,
  extraGroups: [{ groupId: PLAIN, type: 'Public' as const, messages: 5, name: 'Plain group' }],
};
let nowMs = Date.now();
const T0 = nowMs;
let sim: Simulator;
let member = '';
let owner = '';

beforeAll(async () => {
  const probe = await startSimulator({
    seed: 11,
    media: false,
    dataset: DATASET,
  });
  const members = probe.identities.members(PLAIN);
  await probe.stop();
  owner = members[0]?.account as string;
  member = members.find((m) => m.role === 'Member')?.account as string;
  sim = await startSimulator({
    seed: 11,
    media: false,
    now: () => nowMs,
    dataset: DATASET,
    identitySchedule: [
      // Out of time order on purpose: applied by time.
      { atMs: T0 + 30_000, kind: 'dissolve-group', groupId: PLAIN },
      { atMs: T0 + 10_000, kind: 'rename-user', account: member, nick: 'Alice ‮Chen' },
      { atMs: T0 + 10_000, kind: 'rename-group', groupId: PLAIN, name: 'Renamed group' },
      { atMs: T0 + 20_000, kind: 'name-card', groupId: PLAIN, account: member, nameCard: 'Card' },
      { atMs: T0 + 20_000, kind: 'role', groupId: PLAIN, account: member, role: 'Admin' },
      { atMs: T0 + 30_000, kind: 'delete-account', account: owner },
    ],
  });
});
afterAll(async () => {
  await sim.stop();
});

describe('scheduled identity changes', () => {
  it('serve the old values before their time, and the new ones from the first request after it', async () => {
    const { client } = clientFor(sim);
    const nickBefore = sim.identities.nick(member);
    const [profile0] = await client.getProfiles([member]);
    const [group0] = await client.getGroupInfo([PLAIN]);
    expect(profile0).toMatchObject({ ok: true, nick: nickBefore });
    expect(group0).toMatchObject({ ok: true, name: 'Plain group' });

    nowMs = T0 + 10_000;
    const [profile1] = await client.getProfiles([member]);
    const [group1] = await client.getGroupInfo([PLAIN]);
    const { members: members1 } = await client.getGroupMembers(PLAIN, [member]);
    expect(profile1).toMatchObject({ ok: true, nick: 'Alice ‮Chen' });
    expect(group1).toMatchObject({ ok: true, name: 'Renamed group' });
    expect(members1[0]?.role).toBe('Member');

    nowMs = T0 + 25_000;
    const { members: members2 } = await client.getGroupMembers(PLAIN, [member]);
    expect(members2[0]).toMatchObject({ role: 'Admin', nameCard: 'Card' });

    nowMs = T0 + 30_000;
    const [gone] = await client.getProfiles([owner]);
    const [dissolved] = await client.getGroupInfo([PLAIN]);
    expect(gone?.ok).toBe(false);
    expect(dissolved).toMatchObject({ ok: false, errorCode: 10010 });
  });
});
