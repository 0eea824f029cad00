/**
 * Planning (functions/engine/plan-targets.ts) against a scripted ChatApi: discovery of groups and
 * topics, the selection, dissolved groups, the paged group list, and a carried plan's work. In
 * memory only (test/helpers/engine-fakes.ts): no simulator, no store, no network.
 */
import { describe, expect, it } from 'vitest';
import type { CarriedPlan } from '../../../functions/domain/carried-plan.ts';
import { type TargetState, targetKey } from '../../../functions/domain/continuation.ts';
import { GiveUpError, InconsistentAnswerError } from '../../../functions/domain/errors.ts';
import type { GroupListPage, TopicInfo } from '../../../functions/domain/tencent-types.ts';
import {
  carryPlan,
  type PlanContext,
  type Planned,
  planTargets,
} from '../../../functions/engine/plan-targets.ts';
import { emptyReport } from '../../../functions/engine/report.ts';
import type { RunOptions } from '../../../functions/engine/run-options.ts';
import { WorkFeed } from '../../../functions/engine/work-feed.ts';
import {
  FakeChatApi,
  type FakeChatApiOptions,
  FakeClock,
  MemoryStore,
  messageRun,
  silentLogger,
  testRunOptions,
} from '../../helpers/engine-fakes.ts';

const APP = 1400000001;
/** 2025-12-31T00:00:00Z: a day before the fake API's server time. */
const T0 = Date.UTC(2025, 11, 31) / 1000;

function context(
  api: FakeChatApi,
  over: Partial<RunOptions> = {},
  known: ReadonlyMap<string, TargetState> = new Map(),
): PlanContext {
  return {
    deps: { api, store: new MemoryStore(), clock: new FakeClock(), logger: silentLogger },
    options: testRunOptions(APP, over),
    known,
    report: emptyReport('run-test', APP, 0),
  };
}

/** `groupId` or `groupId/topicId` of each planned target, with the top seq of each range. */
function targets(planned: Planned): string[] {
  return planned.work
    .map(
      (w) =>
        `${w.ref.topicId === null ? w.ref.groupId : `${w.ref.groupId}/${w.ref.topicId}`}:${w.ranges.map((r) => r.top).join(',')}`,
    )
    .sort();
}

function callsOf(api: FakeChatApi, name: string): unknown[] {
  return api.calls.filter((c) => c.api === name).map((c) => c.args);
}

describe('planTargets: discovery', () => {
  it('lists every group page by page, reads each page’s info, expands the topics of a Community', async () => {
    // Prepare: five groups listed two a page (three pages), one of them a topic-enabled Community
    // whose own history is empty and whose two topics have messages.
    const api = new FakeChatApi({
      listPageSize: 2,
      groups: {
        g1: messageRun(5, T0),
        g2: messageRun(3, T0),
        g3: messageRun(7, T0),
        g4: messageRun(1, T0),
        '@TGS#_c1': [],
        t1: messageRun(4, T0),
        t2: messageRun(2, T0),
      },
      types: { '@TGS#_c1': 'Community' },
      topics: { '@TGS#_c1': ['t1', 't2'] },
    });
    const ctx = context(api);

    // Act
    const planned = await planTargets(ctx);

    // Assert: every group with messages and every topic is planned, down from its newest seq.
    expect(targets(planned)).toEqual(['@TGS#_c1/t1:4', '@TGS#_c1/t2:2', 'g1:5', 'g2:3', 'g3:7', 'g4:1']);
    expect(planned.entries).toHaveLength(6);
    expect(planned.entries.find((e) => e.groupId === 'g3')).toEqual({
      groupId: 'g3',
      topicId: null,
      newestSeq: 7,
      lastMsgTime: T0 + 6 * 60,
    });
    // One info call per listed page (each page is read as it arrives), one get_topic call.
    expect(callsOf(api, 'listGroups')).toHaveLength(1);
    expect(callsOf(api, 'getGroupInfo')).toEqual([['g1', 'g2'], ['g3', 'g4'], ['@TGS#_c1']]);
    expect(callsOf(api, 'getTopics')).toEqual(['@TGS#_c1']);
    expect(ctx.report.groups.seen).toBe(5);
    expect(ctx.report.topics).toBe(2);
    // The Community's own (empty) history has no work.
    expect(ctx.report.groups.idle).toBe(1);
    expect(ctx.report.targetsWithWork).toBe(6);
    expect(planned.floorTime).toBeNull();
  });

  it('hands each target to the feed as it is decided, and counts planning’s calls out and back', async () => {
    const api = new FakeChatApi({ groups: { g1: messageRun(2, T0), g2: messageRun(9, T0) } });
    const feed = new WorkFeed();
    const ctx = { ...context(api), feed };

    const planned = await planTargets(ctx);

    // The work list is the feed's own list, and no planning call is left counted as in flight.
    expect(planned.work).toBe(feed.work);
    expect(feed.work.map((w) => w.ref.groupId).sort()).toEqual(['g1', 'g2']);
    expect(feed.callsInFlight).toBe(0);
  });

  it('cuts a first run at the look-back, on the server’s clock', async () => {
    const serverNowMs = Date.UTC(2026, 0, 10, 12);
    const api = new FakeChatApi({ groups: { g1: messageRun(3, T0) }, serverNowMs: () => serverNowMs });

    const planned = await planTargets(context(api, { initialLookbackDays: 2 }));

    const floor = serverNowMs / 1000 - 2 * 86_400;
    expect(planned.floorTime).toBe(floor);
    expect(planned.work[0]?.ranges).toEqual([{ top: 3, cursor: 3, floorTime: floor, topTime: null }]);
  });

  it('plans nothing for a target archived up to its newest seq, and resumes one archived in part', async () => {
    const api = new FakeChatApi({ groups: { done: messageRun(6, T0), part: messageRun(10, T0) } });
    const known = new Map<string, TargetState>();
    for (const [groupId, highWater] of [
      ['done', 6],
      ['part', 4],
    ] as const) {
      const ref = { groupId, topicId: null };
      known.set(targetKey(ref), { ...ref, highWater, highWaterTime: T0, inProgress: null, generation: 0 });
    }
    const ctx = context(api, {}, known);

    const planned = await planTargets(ctx);

    expect(targets(planned)).toEqual(['part:10']);
    // The new range starts above the high-water mark: seqs 5..10 only.
    expect(planned.work[0]?.state.highWater).toBe(4);
    expect(planned.work[0]?.spans.map((s) => [s.lo, s.hi])).toEqual([[5, 10]]);
    expect(ctx.report.groups.idle).toBe(1);
  });

  it('archives a target whose newest seq went below its high-water mark as a new generation', async () => {
    const api = new FakeChatApi({ groups: { g1: messageRun(3, T0) } });
    const ref = { groupId: 'g1', topicId: null };
    const known = new Map([
      [targetKey(ref), { ...ref, highWater: 50, highWaterTime: T0, inProgress: null, generation: 0 }],
    ]);
    const ctx = context(api, {}, known);

    const planned = await planTargets(ctx);

    expect(ctx.report.seqResets).toEqual([
      { groupId: 'g1', topicId: null, highWater: 50, newestSeq: 3, generation: 1 },
    ]);
    expect(planned.work[0]?.state).toMatchObject({ highWater: 0, generation: 1 });
    expect(targets(planned)).toEqual(['g1:3']);
  });
});

describe('planTargets: selection', () => {
  const groups: FakeChatApiOptions = {
    groups: {
      'team-a': messageRun(2, T0),
      'team-b': messageRun(2, T0),
      'team-private': messageRun(2, T0),
      'team-live': messageRun(2, T0),
      other: messageRun(2, T0),
    },
    types: { 'team-private': 'Private', 'team-live': 'AVChatRoom' },
  };

  it('applies include and exclude to the listed ids before reading their info', async () => {
    const api = new FakeChatApi(groups);
    const ctx = context(api, { selection: { include: ['team-*'], exclude: ['team-b'], types: [] } });

    const planned = await planTargets(ctx);

    expect(targets(planned)).toEqual(['team-a:2', 'team-private:2']);
    // `other` and `team-b` were never asked about; the AVChatRoom keeps no history.
    const asked = callsOf(api, 'getGroupInfo').flat();
    expect(asked).not.toContain('other');
    expect(asked).not.toContain('team-b');
    expect(ctx.report.groups.seen).toBe(3);
    expect(ctx.report.groups.skipped).toEqual({ 'no-history-type': 1 });
  });

  it('skips the types not selected (Work counts as Private)', async () => {
    const api = new FakeChatApi(groups);
    const ctx = context(api, { selection: { include: [], exclude: [], types: ['Work'] } });

    const planned = await planTargets(ctx);

    expect(targets(planned)).toEqual(['team-private:2']);
    expect(ctx.report.groups.skipped).toEqual({ 'type-filtered': 3, 'no-history-type': 1 });
  });
});

describe('planTargets: configured ids and failures', () => {
  it('reads configured ids without listing, once each, and skips a dissolved group', async () => {
    const api = new FakeChatApi({ groups: { g1: messageRun(4, T0), g2: messageRun(1, T0) } });
    const ctx = context(api, { groupIds: ['g1', 'gone', 'g1', 'g2'] });

    const planned = await planTargets(ctx);

    expect(callsOf(api, 'listGroups')).toEqual([]);
    expect(callsOf(api, 'getGroupInfo')).toEqual([['g1', 'gone', 'g2']]);
    expect(targets(planned)).toEqual(['g1:4', 'g2:1']);
    // Dissolved (10010): counted as deleted, not as an error.
    expect(ctx.report.groups.skipped).toEqual({ deleted: 1 });
    expect(ctx.report.errors).toEqual([]);
  });

  it('reports a failed topic and a Community whose topics were given up, and plans the rest', async () => {
    class TopicsFail extends FakeChatApi {
      public override async getTopics(groupId: string): Promise<TopicInfo[]> {
        if (groupId === '@TGS#_gone')
          throw new GiveUpError('skip-group', 'group dissolved (10010)', { attempts: 1 });
        return [
          { ok: false, topicId: 'bad', errorCode: 10010, errorInfo: 'topic deleted' },
          ...(await super.getTopics(groupId)),
        ];
      }
    }
    const api = new TopicsFail({
      groups: { '@TGS#_c1': [], '@TGS#_gone': [], t1: messageRun(3, T0) },
      types: { '@TGS#_c1': 'Community', '@TGS#_gone': 'Community' },
      topics: { '@TGS#_c1': ['t1'] },
    });
    const ctx = context(api);

    const planned = await planTargets(ctx);

    expect(targets(planned)).toEqual(['@TGS#_c1/t1:3']);
    expect(ctx.report.errors).toEqual(
      expect.arrayContaining([
        { groupId: '@TGS#_c1', topicId: 'bad', error: 'get_topic ErrorCode 10010' },
        { groupId: '@TGS#_gone', topicId: null, error: 'group dissolved (10010)' },
      ]),
    );
    expect(ctx.report.errors).toHaveLength(2);
    expect(ctx.report.groups.idle).toBe(2);
  });

  it('plans a group once when the listing hands it out twice', async () => {
    class RepeatingList extends FakeChatApi {
      public override async *listGroups(): AsyncIterable<GroupListPage> {
        yield { groupIds: ['g1', 'g2'], totalCount: 3, next: 2n };
        yield { groupIds: ['g1'], totalCount: 3, next: 0n };
      }
    }
    const api = new RepeatingList({ groups: { g1: messageRun(4, T0), g2: messageRun(2, T0) } });
    const ctx = context(api);

    const planned = await planTargets(ctx);

    // Its info is read twice (no Set of every listed id is kept), its work decided once.
    expect(callsOf(api, 'getGroupInfo')).toEqual([['g1', 'g2'], ['g1']]);
    expect(targets(planned)).toEqual(['g1:4', 'g2:2']);
    expect(planned.entries).toHaveLength(2);
  });

  it('fails with InconsistentAnswerError when the listing hands out the same Next twice', async () => {
    class LoopingList extends FakeChatApi {
      public override async *listGroups(): AsyncIterable<GroupListPage> {
        yield { groupIds: ['g1'], totalCount: 3, next: 7n };
        yield { groupIds: ['g2'], totalCount: 3, next: 7n };
        throw new Error('the listing should have stopped at the repeated Next');
      }
    }
    const api = new LoopingList({ groups: { g1: messageRun(1, T0), g2: messageRun(1, T0) } });

    await expect(planTargets(context(api))).rejects.toBeInstanceOf(InconsistentAnswerError);
    // The info calls already handed out settle before planning throws.
    expect(callsOf(api, 'getGroupInfo')).toEqual([['g1'], ['g2']]);
  });
});

describe('carryPlan', () => {
  it('rebuilds the work of a carried plan from the committed state, with no API call', async () => {
    const api = new FakeChatApi({ groups: { g1: messageRun(9, T0) } });
    const done = { groupId: 'g2', topicId: null };
    const part = { groupId: 'g1', topicId: 't9' };
    const known = new Map<string, TargetState>([
      [targetKey(done), { ...done, highWater: 30, highWaterTime: T0, inProgress: null, generation: 0 }],
      [targetKey(part), { ...part, highWater: 12, highWaterTime: T0, inProgress: null, generation: 0 }],
    ]);
    const plan: CarriedPlan = {
      version: 1,
      sdkAppId: APP,
      madeAtMs: 0,
      scope: '',
      floorTime: 1234,
      targets: [
        { ...done, newestSeq: 30, lastMsgTime: T0 },
        { ...part, newestSeq: 20, lastMsgTime: T0 },
        { groupId: 'g3', topicId: null, newestSeq: 5, lastMsgTime: T0 },
      ],
    };
    const ctx = context(api, {}, known);

    const planned = carryPlan(ctx, plan);

    expect(api.calls).toEqual([]);
    expect(targets(planned)).toEqual(['g1/t9:20', 'g3:5']);
    expect(planned.floorTime).toBe(1234);
    // A target new to the state takes the plan's look-back; one archived in part resumes above it.
    expect(planned.work.find((w) => w.ref.groupId === 'g3')?.ranges[0]?.floorTime).toBe(1234);
    expect(planned.work.find((w) => w.ref.groupId === 'g1')?.spans.map((s) => [s.lo, s.hi])).toEqual([
      [13, 20],
    ]);
    expect(ctx.report.groups.idle).toBe(1);
    expect(ctx.report.targetsWithWork).toBe(2);
  });
});
