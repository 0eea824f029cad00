/**
 * Names as of a time (functions/domain/identity-timeline.ts) against expected timelines, by the
 * rule of docs/names.md: the first row stands for the time before it, a row is valid up to the
 * next one (exclusive), name card before nickname before account, and a deleted account or a
 * dissolved group keeps its last known name, marked.
 */
import { describe, expect, it } from 'vitest';
import type { GroupMemberRow, GroupNameRow, UserNameRow } from '../../functions/domain/identity-rows.ts';
import { identityTimeline, periodsOf } from '../../functions/domain/identity-timeline.ts';

const APP = 1400000000;
const G = '@TGS#G1';

function user(
  account: string,
  nick: string | null,
  at: number,
  status: 'active' | 'gone' = 'active',
): UserNameRow {
  return {
    sdk_app_id: APP,
    account,
    nick,
    image: nick === null ? null : '',
    status,
    result_code: status === 'gone' ? 40006 : null,
    observed_at: at,
  };
}

function member(
  account: string,
  card: string | null,
  role: string | null,
  at: number,
  status: 'member' | 'left' = 'member',
): GroupMemberRow {
  return { sdk_app_id: APP, group_id: G, account, role, name_card: card, status, observed_at: at };
}

function group(name: string | null, at: number, status: 'active' | 'dissolved' = 'active'): GroupNameRow {
  return {
    sdk_app_id: APP,
    group_id: G,
    name,
    type: name === null ? null : 'Public',
    owner_account: name === null ? null : 'owner',
    status,
    error_code: status === 'dissolved' ? 10010 : null,
    observed_at: at,
  };
}

describe('periodsOf', () => {
  it('orders rows by observed_at, the first valid from the beginning, each to the next (exclusive)', () => {
    const periods = periodsOf([user('a', 'B', 200), user('a', 'A', 100), user('a', 'C', 300)]);
    expect(periods.map((p) => [p.row.nick, p.validFrom, p.validTo])).toEqual([
      ['A', null, 200],
      ['B', 200, 300],
      ['C', 300, null],
    ]);
  });

  it('counts an exact duplicate row (a rerun that wrote the same row twice) once', () => {
    expect(periodsOf([user('a', 'A', 100), user('a', 'A', 100)])).toHaveLength(1);
  });
});

describe('identityTimeline: senders', () => {
  const timeline = identityTimeline(G, {
    users: [user('alice', 'Alice', 1000), user('alice', 'Alice Chen', 2000), user('bob', '', 1000)],
    groups: [],
    members: [
      member('alice', '', 'Member', 1000),
      member('alice', 'Ali (ops)', 'Admin', 3000),
      member('alice', null, null, 4000, 'left'),
      member('bob', '', 'Owner', 1000),
    ],
  });

  it('names a message by the nickname valid at its time, the first one also before it was seen', () => {
    const at = (t: number) => timeline.senderAt('alice', t);
    expect(at(10)).toMatchObject({ name: 'Alice', source: 'nick', role: 'Member' });
    expect(at(1999)).toMatchObject({ name: 'Alice', source: 'nick' });
    expect(at(2000)).toMatchObject({ name: 'Alice Chen', source: 'nick', role: 'Member' });
  });

  it('prefers the name card, with the role valid then; a member who left has neither', () => {
    expect(timeline.senderAt('alice', 3000)).toMatchObject({
      name: 'Ali (ops)',
      source: 'name_card',
      role: 'Admin',
      left: false,
    });
    expect(timeline.senderAt('alice', 4000)).toMatchObject({
      name: 'Alice Chen',
      source: 'nick',
      role: null,
      left: true,
    });
  });

  it('falls back to the account for an empty nickname and name card, and for an unknown account', () => {
    expect(timeline.senderAt('bob', 5000)).toMatchObject({ name: 'bob', source: 'account', role: 'Owner' });
    expect(timeline.knows('bob')).toBe(true);
    expect(timeline.knows('carol')).toBe(false);
    expect(timeline.senderAt('carol', 5000)).toEqual({
      account: 'carol',
      name: 'carol',
      source: 'account',
      role: null,
      gone: false,
      goneSince: null,
      left: false,
    });
  });

  it('keeps a deleted account’s last known nickname, marked gone, and only from the deletion on', () => {
    const gone = identityTimeline(G, {
      users: [user('dave', 'Dave', 1000), user('dave', null, 2000, 'gone')],
      groups: [],
      members: [],
    });
    // Gone now: every message says the account has since been deleted (the first gone row's time).
    expect(gone.senderAt('dave', 1500)).toMatchObject({
      name: 'Dave',
      source: 'nick',
      gone: false,
      goneSince: 2000,
    });
    expect(gone.senderAt('dave', 2500)).toMatchObject({
      name: 'Dave',
      source: 'nick',
      gone: true,
      goneSince: 2000,
    });
    // Deleted, then known again (an account re-created under the same id): not gone now.
    const back = identityTimeline(G, {
      users: [user('dave', 'Dave', 1000), user('dave', null, 2000, 'gone'), user('dave', 'Dave 2', 3000)],
      groups: [],
      members: [],
    });
    expect(back.senderAt('dave', 2500)).toMatchObject({ name: 'Dave', gone: true, goneSince: null });
    // Never seen alive: no name to carry, the account is shown.
    const never = identityTimeline(G, { users: [user('eve', null, 1000, 'gone')], groups: [], members: [] });
    expect(never.senderAt('eve', 500)).toMatchObject({ name: 'eve', source: 'account', gone: true });
  });

  it('ignores member rows of other groups', () => {
    const other = identityTimeline(G, {
      users: [],
      groups: [],
      members: [{ ...member('alice', 'Elsewhere', 'Owner', 1000), group_id: '@TGS#OTHER' }],
    });
    expect(other.knows('alice')).toBe(false);
    expect(other.senderAt('alice', 2000)).toMatchObject({ name: 'alice', role: null });
  });
});

describe('identityTimeline: the group', () => {
  const timeline = identityTimeline(G, {
    users: [],
    members: [],
    groups: [
      group('Launch', 1000),
      group('Launch (done)', 2000),
      group(null, 3000, 'dissolved'),
      group(null, 4000, 'dissolved'),
    ],
  });

  it('names the group as of a time, and keeps the last known name once dissolved, with since when', () => {
    expect(timeline.groupAt(10)).toEqual({
      groupId: G,
      name: 'Launch',
      type: 'Public',
      dissolved: false,
      dissolvedSince: null,
    });
    expect(timeline.groupAt(2500)).toMatchObject({ name: 'Launch (done)', dissolved: false });
    expect(timeline.groupAt(3500)).toMatchObject({
      name: 'Launch (done)',
      dissolved: true,
      dissolvedSince: 3000,
    });
    expect(timeline.groupAt(Number.POSITIVE_INFINITY)).toMatchObject({ dissolvedSince: 3000 });
  });

  it('knows nothing of a group without rows', () => {
    expect(identityTimeline('@TGS#NONE', { users: [], groups: [], members: [] }).groupAt(1)).toBeUndefined();
  });
});
