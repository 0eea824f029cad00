/**
 * Identity lookups while paging (functions/engine/identity-prefetch.ts), through runArchive over the
 * in-memory fakes: a group's senders are looked up once its paging ends, before the run's last
 * page; nothing is looked up twice after paging; and the budget holds at every moment, not only
 * at the end.
 */
import { describe, expect, it } from 'vitest';
import { AbortedError } from '../../../functions/domain/errors.ts';
import { runCallBudget } from '../../../functions/domain/identity-capture.ts';
import type {
  GroupMember,
  GroupMembersResult,
  HistoryPage,
  HistoryRequest,
  RawMessage,
} from '../../../functions/domain/tencent-types.ts';
import { DEFAULT_IDENTITY_OPTIONS, type IdentityReport } from '../../../functions/engine/identity-capture.ts';
import { IdentityCommits } from '../../../functions/engine/identity-commits.ts';
import { IdentityPrefetch } from '../../../functions/engine/identity-prefetch.ts';
import { IdentityTap, MAX_HELD_GROUPS } from '../../../functions/engine/identity-tap.ts';
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
const NOW_SEC = Date.UTC(2026, 0, 1) / 1000;
const IDENTITY_APIS = new Set(['getProfiles', 'getGroupMembers']);

function messagesFrom(senders: readonly string[], count: number): RawMessage[] {
  return Array.from({ length: count }, (_, i) =>
    textMessage(i + 1, NOW_SEC - 86_400 + i, `m${i + 1}`, senders[i % senders.length]),
  );
}

const member = (account: string): GroupMember => ({
  account,
  role: 'Member',
  nameCard: '',
  joinTime: undefined,
});

async function archive(
  api: FakeChatApi,
  over: Partial<ArchiveOptions> = {},
  clock = new FakeClock(NOW_SEC * 1000),
) {
  const options: ArchiveOptions = {
    ...testRunOptions(APP, { observedAtSec: NOW_SEC, concurrency: 4 }),
    identities: { ...DEFAULT_IDENTITY_OPTIONS, maxCallShare: 0.5 },
    ...over,
  };
  const deps = { api, store: new MemoryStore(), clock, logger: silentLogger };
  const report = await runArchive(deps, options);
  return (report as typeof report & { identities: IdentityReport }).identities;
}

describe('identity lookups while paging', () => {
  it("looks up a group's senders once its paging ends, before the run's last page, and never twice", async () => {
    const short = ['ann', 'ben'];
    const long = Array.from({ length: 120 }, (_, i) => `u${i}`);
    const api = new FakeChatApi({
      groups: { '@TGS#short': messagesFrom(short, 6), '@TGS#long': messagesFrom(long, 600) },
      members: { '@TGS#short': short.map(member), '@TGS#long': long.map(member) },
    });
    const identities = await archive(api);

    const lastPage = api.calls.findLastIndex((c) => c.api === 'getHistory');
    const shortMembers = api.calls.findIndex(
      (c) => c.api === 'getGroupMembers' && (c.args as { groupId: string }).groupId === '@TGS#short',
    );
    expect(shortMembers).toBeGreaterThan(-1);
    expect(shortMembers).toBeLessThan(lastPage);
    // 120 senders of the long group + 2: two full nickname calls would need 200; one of 100 is
    // made while paging (once 100 wait), the rest (22) after it. Members: 1 call for the short
    // group, 3 (50 + 50 + 20) for the long one. Each (group, account) once.
    const memberCalls = api.calls.filter((c) => c.api === 'getGroupMembers');
    const asked = memberCalls.flatMap((c) => {
      const { groupId, accounts } = c.args as { groupId: string; accounts: string[] };
      return accounts.map((a) => `${groupId}/${a}`);
    });
    expect(asked).toHaveLength(122);
    expect(new Set(asked).size).toBe(122);
    const profiles = api.calls.filter((c) => c.api === 'getProfiles').flatMap((c) => c.args as string[]);
    expect(profiles).toHaveLength(122);
    expect(new Set(profiles).size).toBe(122);
    // The fake's infos carry no name, so the group names are asked after paging (1 call of 2).
    expect(identities.calls).toEqual({ groupInfo: 1, profiles: 2, members: 4 });
    expect(identities.rows.users).toBe(122);
    expect(identities.rows.members).toBe(122);
  });

  it('keeps to the budget at every moment: no lookup before the run has made the calls that pay for it', async () => {
    const senders = Array.from({ length: 400 }, (_, i) => `u${i}`);
    const groups: Record<string, RawMessage[]> = {};
    const members: Record<string, GroupMember[]> = {};
    for (let g = 0; g < 8; g++) {
      const own = senders.slice(g * 50, g * 50 + 50);
      groups[`@TGS#g${g}`] = messagesFrom(own, 100 + 40 * g);
      members[`@TGS#g${g}`] = own.map(member);
    }
    const api = new FakeChatApi({ groups, members });
    const share = 0.1;
    const identities = await archive(api, {
      identities: { ...DEFAULT_IDENTITY_OPTIONS, maxCallShare: share, minCalls: 1 },
    });
    let other = 0;
    let own = 0;
    for (const call of api.calls) {
      if (!IDENTITY_APIS.has(call.api)) {
        other++;
        continue;
      }
      own++;
      // The call was allowed by the calls made before it (the prefetch's rule, and the capture's).
      expect(own).toBeLessThanOrEqual(runCallBudget(other, share, 1));
    }
    expect(own).toBe(identities.calls.profiles + identities.calls.members);
    expect(own).toBeLessThanOrEqual(identities.budget);
    expect(identities.pending.members + identities.pending.users).toBeGreaterThan(0);
  });

  it('does not wait for the lookups in flight when paging ends at the deadline: their items stay pending', async () => {
    const clock = new FakeClock(NOW_SEC * 1000);
    const deadlineMs = clock.now() + 60_000;
    /** Member lookups answer only when aborted; the long group's 10th page comes after the deadline. */
    class SlowLookups extends FakeChatApi {
      public pages = 0;
      public override async getHistory(request: HistoryRequest): Promise<HistoryPage> {
        if (request.groupId === '@TGS#long' && ++this.pages === 10) clock.advance(120_000);
        return super.getHistory(request);
      }
      public override getGroupMembers(
        groupId: string,
        accounts: readonly string[],
        signal?: AbortSignal,
      ): Promise<GroupMembersResult> {
        this.calls.push({ api: 'getGroupMembers', args: { groupId, accounts: [...accounts] } });
        return new Promise((_, reject) =>
          signal?.addEventListener('abort', () => reject(new AbortedError('aborted')), { once: true }),
        );
      }
    }
    const api = new SlowLookups({
      groups: { '@TGS#short': messagesFrom(['ann', 'ben'], 6), '@TGS#long': messagesFrom(['cy'], 600) },
      members: { '@TGS#short': [member('ann'), member('ben')] },
    });
    const identities = await archive(api, { deadlineMs }, clock);
    // The short group's lookup was made while paging, then given up at the deadline.
    expect(api.calls.some((c) => c.api === 'getGroupMembers')).toBe(true);
    expect(identities.rows.members).toBe(0);
    expect(identities.pending.members).toBe(3);
  });

  it('hands over the groups read outside paging (the rescan) once the tap holds 1,000: it never holds them all', async () => {
    const groups: Record<string, RawMessage[]> = {};
    for (let g = 0; g < 2_500; g++) groups[`@TGS#r${g}`] = messagesFrom([`s${g}`], 1);
    const api = new FakeChatApi({ groups });
    const tap = new IdentityTap(api);
    const commits = new IdentityCommits({
      store: new MemoryStore(),
      logger: silentLogger,
      fence: async () => undefined,
      sdkAppId: APP,
      timeZone: 'UTC',
      observedAt: NOW_SEC,
    });
    const options = { ...DEFAULT_IDENTITY_OPTIONS, maxCallShare: 0.5 };
    const prefetch = new IdentityPrefetch({
      tap,
      logger: silentLogger,
      sdkAppId: APP,
      observedAt: NOW_SEC,
      options,
      commits,
      mayStart: () => true,
    });
    let most = 0;
    for (const groupId of Object.keys(groups)) {
      await tap.getHistory({ groupId, reqMsgNumber: 20, withRecalledMsg: false });
      most = Math.max(most, tap.senders.size);
    }
    expect(most).toBeLessThanOrEqual(MAX_HELD_GROUPS + 1);
    const done = await prefetch.drain();
    // Every group read is either still held by the tap or was handed to the lookups.
    expect(done.groups.length + tap.senders.size).toBe(2_500);
    const memberCalls = api.calls.filter((c) => c.api === 'getGroupMembers').length;
    let leftMembers = 0;
    for (const text of done.left.members.values()) leftMembers += text.split('\n').length;
    expect(memberCalls + leftMembers).toBe(done.groups.length);
  });

  it('leaves each refused account and pair pending once, though its group is handed over twice', async () => {
    const groups: Record<string, RawMessage[]> = {};
    for (let g = 0; g < 40; g++) groups[`@TGS#d${g}`] = messagesFrom([`s${g}`, `s${g + 1}`], 2);
    const api = new FakeChatApi({ groups });
    const tap = new IdentityTap(api);
    const commits = new IdentityCommits({
      store: new MemoryStore(),
      logger: silentLogger,
      fence: async () => undefined,
      sdkAppId: APP,
      timeZone: 'UTC',
      observedAt: NOW_SEC,
    });
    // No budget: every lookup is refused, its items left pending.
    const options = { ...DEFAULT_IDENTITY_OPTIONS, maxCallShare: 0, minCalls: 0 };
    const prefetch = new IdentityPrefetch({
      tap,
      logger: silentLogger,
      sdkAppId: APP,
      observedAt: NOW_SEC,
      options,
      commits,
      mayStart: () => true,
    });
    for (let round = 0; round < 2; round++) {
      for (const groupId of Object.keys(groups)) {
        const ref = { groupId, topicId: null, generation: 0 };
        prefetch.added(ref);
        await tap.getHistory({ groupId, reqMsgNumber: 20, withRecalledMsg: false });
        prefetch.finished(ref);
      }
    }
    const done = await prefetch.drain();
    const users = done.left.users.flatMap((text) => text.split('\n'));
    expect(users.sort()).toEqual(Array.from({ length: 41 }, (_, i) => `s${i}`).sort());
    const pairs = [...done.left.members].flatMap(([g, text]) => text.split('\n').map((a) => `${g}/${a}`));
    expect(pairs).toHaveLength(80);
    expect(new Set(pairs).size).toBe(80);
    expect(done.left.dropped).toBe(0);
    expect(done.groups).toHaveLength(40);
  });
});
