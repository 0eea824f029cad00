import { parse } from 'lossless-json';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { genUserSig } from '../../functions/adapters/tencent/user-sig.ts';
import type { RawMessage } from '../../functions/domain/tencent-types.ts';
import {
  type DatasetSpec,
  DEMO_APP,
  type Simulator,
  type SimulatorApp,
  type SimulatorOptions,
  startSimulator,
} from '../../functions/simulator/index.ts';

const DAY_MS = 86_400_000;
const T0 = Date.UTC(2026, 0, 15, 12, 0, 0);
const TOPIC_A = '@TGS#_@TGS#cTOPICS@TOPIC#_@TOPIC#cAAA';
const TOPIC_B = '@TGS#_@TGS#cTOPICS@TOPIC#_@TOPIC#cBBB';

const SPEC: DatasetSpec = {
  groups: 6,
  activeFraction: 1,
  messagesPerActiveGroup: [30, 60],
  historyDays: 45,
  deletedFraction: 0.02,
  recalledFraction: 0.04,
  extraGroups: [
    // 450 messages over 45 days: about the oldest third is beyond the 30-day retention.
    { groupId: '@TGS#1PAGING', type: 'Public', messages: 450 },
    { groupId: '@TGS#aLIVE', type: 'AVChatRoom', messages: 10 },
    { groupId: '@TGS#3PLAIN', type: 'Community', messages: 5 },
    {
      groupId: '@TGS#_@TGS#cTOPICS',
      type: 'Community',
      messages: 0,
      topics: [
        { topicId: TOPIC_A, messages: 45, topicName: '话题 A' },
        { topicId: TOPIC_B, messages: 3 },
      ],
    },
  ],
};

/** A simulator with its own controllable clock. */
interface TestSim {
  sim: Simulator;
  clock: { now: number };
}

async function start(options: SimulatorOptions = {}): Promise<TestSim> {
  const clock = { now: T0 };
  const sim = await startSimulator({ dataset: SPEC, seed: 11, now: () => clock.now, ...options });
  return { sim, clock };
}

function sig(
  clock: { now: number },
  overrides: Partial<{
    app: SimulatorApp;
    identifier: string;
    key: string;
    issuedMs: number;
    expireSeconds: number;
  }> = {},
): string {
  const app = overrides.app ?? DEMO_APP;
  return genUserSig({
    sdkAppId: app.sdkAppId,
    key: overrides.key ?? app.secretKey,
    identifier: overrides.identifier ?? app.adminIdentifier,
    expireSeconds: overrides.expireSeconds ?? 7 * 86_400,
    nowSeconds: Math.floor((overrides.issuedMs ?? clock.now) / 1000),
  });
}

const PATHS = {
  list: 'group_open_http_svc/get_appid_group_list',
  info: 'group_open_http_svc/get_group_info',
  history: 'group_open_http_svc/group_msg_get_simple',
  topic: 'million_group_open_http_svc/get_topic',
} as const;

interface CallOptions {
  /** Query overrides; `undefined` removes the parameter. */
  query?: Record<string, string | undefined>;
  method?: string;
  /** Sent verbatim instead of JSON.stringify(body). */
  rawBody?: string;
  signal?: AbortSignal;
}

interface Reply {
  status: number;
  text: string;
  // biome-ignore lint/suspicious/noExplicitAny: test responses are inspected field by field
  json: any;
  headers: Headers;
}

async function call(t: TestSim, path: string, body: unknown, options: CallOptions = {}): Promise<Reply> {
  const query: Record<string, string | undefined> = {
    sdkappid: String(DEMO_APP.sdkAppId),
    identifier: DEMO_APP.adminIdentifier,
    usersig: sig(t.clock),
    random: '4294967295',
    contenttype: 'json',
    ...options.query,
  };
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(query)) if (value !== undefined) params.set(name, value);
  const method = options.method ?? 'POST';
  const response = await fetch(`${t.sim.url}/v4/${path}?${params}`, {
    method,
    body: method === 'GET' ? undefined : (options.rawBody ?? JSON.stringify(body)),
    signal: options.signal,
  });
  const text = await response.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: response.status, text, json, headers: response.headers };
}

/** Pages a stream from the newest message down to seq 1 the documented way. */
async function pageAll(
  t: TestSim,
  groupId: string,
  options: { withRecalled?: boolean; topicId?: string } = {},
): Promise<{ messages: RawMessage[]; pages: Array<{ isFinished: number; count: number }> }> {
  const messages: RawMessage[] = [];
  const pages: Array<{ isFinished: number; count: number }> = [];
  let reqMsgSeq: number | undefined;
  for (let guard = 0; guard < 1000; guard++) {
    const body = {
      GroupId: groupId,
      ReqMsgNumber: 20,
      ...(reqMsgSeq === undefined ? {} : { ReqMsgSeq: reqMsgSeq }),
      ...(options.withRecalled ? { WithRecalledMsg: 1 } : {}),
      ...(options.topicId === undefined ? {} : { TopicId: options.topicId }),
    };
    const { json } = await call(t, PATHS.history, body);
    expect(json.ErrorCode).toBe(0);
    const list = json.RspMsgList as RawMessage[];
    pages.push({ isFinished: json.IsFinished, count: list.length });
    messages.push(...list);
    const top = reqMsgSeq ?? Number.POSITIVE_INFINITY;
    if (list.length === 0 && top === Number.POSITIVE_INFINITY) break;
    const lowest = list.length > 0 ? Math.min(...list.map((m) => m.MsgSeq)) : top - 19;
    if (lowest <= 1) break;
    reqMsgSeq = lowest - 1;
  }
  return { messages, pages };
}

describe('simulator (over real HTTP)', () => {
  let t: TestSim;
  beforeAll(async () => {
    t = await start({ rateLimits: { get_appid_group_list: 1000, group_msg_get_simple: 10_000 } });
  });
  afterAll(async () => {
    await t.sim.stop();
  });

  describe('gateway and authentication', () => {
    const history = { GroupId: '@TGS#1PAGING', ReqMsgNumber: 1 };

    it('accepts a valid admin sig with HTTP 200 and the OK envelope', async () => {
      const reply = await call(t, PATHS.history, history);
      expect(reply.status).toBe(200);
      expect(reply.json).toMatchObject({
        ActionStatus: 'OK',
        ErrorInfo: '',
        ErrorCode: 0,
        GroupId: '@TGS#1PAGING',
      });
      expect(reply.headers.get('connection')).toBe('keep-alive');
    });

    it.each([
      [
        'expired sig',
        () => ({ usersig: sig(t.clock, { issuedMs: T0 - 10 * DAY_MS, expireSeconds: 86_400 }) }),
        70001,
      ],
      ['empty usersig', () => ({ usersig: '' }), 70002],
      ['tampered (undecodable) sig', () => ({ usersig: `A${sig(t.clock).slice(3)}` }), 70003],
      ['sig signed with another key', () => ({ usersig: sig(t.clock, { key: 'f'.repeat(64) }) }), 70009],
      ['identifier differs from the sig', () => ({ identifier: 'bob' }), 70013],
      [
        'sig issued for another SDKAppID',
        () => ({ usersig: sig(t.clock, { app: { ...DEMO_APP, sdkAppId: 1400000001 } }) }),
        70014,
      ],
      ['unknown sdkappid', () => ({ sdkappid: '1400999999' }), 70020],
      [
        'valid sig of a non-admin account',
        () => ({ identifier: 'bob', usersig: sig(t.clock, { identifier: 'bob' }) }),
        60010,
      ],
      ['missing sdkappid', () => ({ sdkappid: undefined }), 60012],
      ['random above uint32', () => ({ random: '4294967296' }), 60002],
      ['missing random', () => ({ random: undefined }), 60002],
      ['contenttype other than json', () => ({ contenttype: 'xml' }), 60002],
    ])('answers %s with the documented code', async (_name, query, code) => {
      const reply = await call(t, PATHS.history, history, { query: query() });
      expect(reply.status).toBe(200);
      expect(reply.json).toMatchObject({ ActionStatus: 'FAIL', ErrorCode: code });
      expect(reply.json.ErrorInfo.length).toBeGreaterThan(0);
    });

    it('rejects bad bodies, methods and URLs', async () => {
      expect((await call(t, PATHS.history, null, { rawBody: '' })).json.ErrorCode).toBe(60003);
      expect((await call(t, PATHS.history, null, { rawBody: '{"GroupId":' })).json.ErrorCode).toBe(60003);
      expect((await call(t, PATHS.history, null, { rawBody: '[]' })).json.ErrorCode).toBe(60003);
      expect((await call(t, PATHS.history, null, { method: 'GET' })).json.ErrorCode).toBe(60002);
      expect((await call(t, 'no_such_svc/get_topic', {})).json.ErrorCode).toBe(60009);
      expect((await call(t, 'group_open_http_svc/no_such_command', {})).json.ErrorCode).toBe(10003);
      // get_topic lives under million_group_open_http_svc, not group_open_http_svc.
      expect((await call(t, 'group_open_http_svc/get_topic', {})).json.ErrorCode).toBe(10003);
    });
  });

  describe('group_msg_get_simple', () => {
    it('pages a group from the top down to seq 1: every seq once, descending, equal to groundTruth', async () => {
      const { messages, pages } = await pageAll(t, '@TGS#1PAGING', { withRecalled: true });
      const seqs = messages.map((m) => m.MsgSeq);
      expect(seqs).toEqual(Array.from({ length: 450 }, (_, i) => 450 - i));
      expect(messages).toEqual([...t.sim.groundTruth('@TGS#1PAGING', { withRecalledMsg: true })]);
      expect(pages[0]).toEqual({ isFinished: 1, count: 20 });
      // Newest pages are live (1); the oldest are wholly beyond retention (2).
      expect(pages.at(-1)?.isFinished).toBe(2);
      expect(new Set(pages.map((p) => p.isFinished))).toEqual(new Set([1, 2]));
      expect(messages.some((m) => m.IsPlaceMsg === 2)).toBe(true);
    });

    it('shows beyond-retention and deleted seqs as IsPlaceMsg 1 placeholders with an empty body (placeholders: kept)', async () => {
      const kept = await start({ placeholders: 'kept' });
      try {
        const truth = [...kept.sim.groundTruth('@TGS#1PAGING')];
        const cutoff = Math.floor((kept.clock.now - 30 * DAY_MS) / 1000);
        const old = truth.filter((m) => m.MsgTimeStamp < cutoff);
        expect(old.length).toBeGreaterThan(100);
        for (const m of old) expect(m).toMatchObject({ IsPlaceMsg: 1, MsgBody: [] });
        const recentPlaceholders = truth.filter((m) => m.MsgTimeStamp >= cutoff && m.IsPlaceMsg === 1);
        expect(recentPlaceholders.length).toBeGreaterThan(0); // deleted seqs
        expect(truth.filter((m) => m.MsgTimeStamp >= cutoff && m.IsPlaceMsg === 0).length).toBeGreaterThan(
          200,
        );
      } finally {
        await kept.sim.stop();
      }
    });

    it('zeroes every field of a deleted or expired placeholder but MsgSeq and IsPlaceMsg by default', async () => {
      const truth = [...t.sim.groundTruth('@TGS#1PAGING')];
      const placeholders = truth.filter((m) => m.IsPlaceMsg === 1);
      for (const m of placeholders)
        expect(m).toEqual({
          From_Account: '',
          IsPlaceMsg: 1,
          MsgBody: [],
          MsgRandom: 0,
          MsgSeq: m.MsgSeq,
          MsgTimeStamp: 0,
        });
      // Beyond retention (below the oldest live message), and deleted among live ones.
      const oldestLive = Math.min(...truth.filter((m) => m.IsPlaceMsg !== 1).map((m) => m.MsgSeq));
      expect(placeholders.filter((m) => m.MsgSeq < oldestLive).length).toBeGreaterThan(100);
      expect(placeholders.filter((m) => m.MsgSeq > oldestLive).length).toBeGreaterThan(0);
    });

    it('leaves recalled messages out unless WithRecalledMsg is 1, without refilling the page', async () => {
      const withRecalled = [...t.sim.groundTruth('@TGS#1PAGING', { withRecalledMsg: true })];
      const recalled = withRecalled.filter((m) => m.IsPlaceMsg === 2);
      expect(recalled.length).toBeGreaterThan(3);
      for (const m of recalled) expect(m.MsgBody).toEqual([]);
      const { messages, pages } = await pageAll(t, '@TGS#1PAGING');
      expect(messages).toEqual([...t.sim.groundTruth('@TGS#1PAGING')]);
      expect(messages.map((m) => m.MsgSeq)).toEqual(
        withRecalled.filter((m) => m.IsPlaceMsg !== 2).map((m) => m.MsgSeq),
      );
      // A page can be short (recalled seqs skipped) yet complete.
      expect(pages.some((p) => p.isFinished === 1 && p.count < 20)).toBe(true);
    });

    it('sets IsFinished per window and validates parameters', async () => {
      const page = async (body: object) =>
        (await call(t, PATHS.history, { GroupId: '@TGS#1PAGING', ...body })).json;
      const big = await page({ ReqMsgNumber: 25, WithRecalledMsg: 1 });
      expect(big.RspMsgList.map((m: RawMessage) => m.MsgSeq)).toEqual(
        Array.from({ length: 20 }, (_, i) => 450 - i),
      );
      expect(big.IsFinished).toBe(0);
      const small = await page({ ReqMsgNumber: 5, ReqMsgSeq: 400, WithRecalledMsg: 1 });
      expect(small.RspMsgList.map((m: RawMessage) => m.MsgSeq)).toEqual([400, 399, 398, 397, 396]);
      expect(small.IsFinished).toBe(1);
      const bottom = await page({ ReqMsgNumber: 25, ReqMsgSeq: 10, WithRecalledMsg: 1 });
      expect(bottom.RspMsgList).toHaveLength(10);
      expect(bottom.IsFinished).toBe(2); // seqs 1..10 are all beyond retention
      const beyondTop = await page({ ReqMsgNumber: 2, ReqMsgSeq: 10_000, WithRecalledMsg: 1 });
      expect(beyondTop.RspMsgList.map((m: RawMessage) => m.MsgSeq)).toEqual([450, 449]);
      const zero = await page({ ReqMsgNumber: 20, ReqMsgSeq: 0 });
      expect(zero).toMatchObject({ ErrorCode: 0, IsFinished: 1, RspMsgList: [] });
      expect((await page({ ReqMsgNumber: 0 })).ErrorCode).toBe(10004);
      expect((await page({})).ErrorCode).toBe(10004);
      expect((await page({ ReqMsgNumber: '20' })).ErrorCode).toBe(10004);
      expect((await page({ ReqMsgNumber: 20, ReqMsgSeq: -1 })).ErrorCode).toBe(10004);
      expect((await call(t, PATHS.history, { ReqMsgNumber: 20 })).json.ErrorCode).toBe(10004);
    });

    it('answers 10044 for AVChatRoom and 10015 for unknown groups', async () => {
      expect((await call(t, PATHS.history, { GroupId: '@TGS#aLIVE', ReqMsgNumber: 20 })).json.ErrorCode).toBe(
        10044,
      );
      expect((await call(t, PATHS.history, { GroupId: '@TGS#1NOPE', ReqMsgNumber: 20 })).json.ErrorCode).toBe(
        10015,
      );
    });

    it('reads topic history only with a TopicId', async () => {
      const { messages } = await pageAll(t, '@TGS#_@TGS#cTOPICS', { topicId: TOPIC_A, withRecalled: true });
      expect(messages.map((m) => m.MsgSeq)).toEqual(Array.from({ length: 45 }, (_, i) => 45 - i));
      expect(messages).toEqual([
        ...t.sim.groundTruth('@TGS#_@TGS#cTOPICS', { topicId: TOPIC_A, withRecalledMsg: true }),
      ]);
      const noTopic = await call(t, PATHS.history, { GroupId: '@TGS#_@TGS#cTOPICS', ReqMsgNumber: 20 });
      expect(noTopic.json).toMatchObject({ ErrorCode: 0, IsFinished: 1, RspMsgList: [] });
      const badTopic = { GroupId: '@TGS#_@TGS#cTOPICS', ReqMsgNumber: 20, TopicId: `${TOPIC_A}X` };
      expect((await call(t, PATHS.history, badTopic)).json.ErrorCode).toBe(110003);
      const topicOnPlain = { GroupId: '@TGS#1PAGING', ReqMsgNumber: 20, TopicId: TOPIC_A };
      expect((await call(t, PATHS.history, topicOnPlain)).json.ErrorCode).toBe(10004);
    });
  });

  describe('get_appid_group_list', () => {
    it('pages with a uint64 Next above 2^53 that must be sent back exactly', async () => {
      const listed: string[] = [];
      let nextText = '0';
      let pages = 0;
      do {
        const reply = await call(t, PATHS.list, null, { rawBody: `{"Limit":4,"Next":${nextText}}` });
        expect(reply.json.ErrorCode).toBe(0);
        expect(reply.json.TotalCount).toBe(10);
        listed.push(...reply.json.GroupIdList.map((g: { GroupId: string }) => g.GroupId));
        const match = /"Next":(\d+)/.exec(reply.text);
        nextText = match?.[1] ?? 'missing';
        if (nextText !== '0') {
          expect(BigInt(nextText)).toBeGreaterThan(2n ** 53n);
          // The lossless parse agrees with the raw text; a double would not.
          expect((parse(reply.text, null, (n) => BigInt(n)) as { Next: bigint }).Next).toBe(BigInt(nextText));
          expect(String(Number(nextText))).not.toBe(nextText);
        }
        pages++;
      } while (nextText !== '0' && pages < 10);
      expect(pages).toBe(3);
      expect(listed).toEqual(t.sim.groups().map((g) => g.groupId));
    });

    it('rejects a Next that went through a double, a Limit above 10000 and unknown GroupTypes', async () => {
      const first = await call(t, PATHS.list, { Limit: 2 });
      const next = /"Next":(\d+)/.exec(first.text)?.[1] ?? '';
      const rounded = await call(t, PATHS.list, null, { rawBody: `{"Limit":2,"Next":${Number(next)}}` });
      expect(rounded.json.ErrorCode).toBe(10004);
      expect((await call(t, PATHS.list, { Limit: 10_001 })).json.ErrorCode).toBe(10004);
      expect((await call(t, PATHS.list, { GroupType: 'Work' })).json.ErrorCode).toBe(10004);
      expect((await call(t, PATHS.list, { Next: 12345 })).json.ErrorCode).toBe(10004);
    });

    it('filters by GroupType and counts only that type', async () => {
      const reply = await call(t, PATHS.list, { GroupType: 'Community' });
      const communities = t.sim.groups().filter((g) => g.type === 'Community');
      expect(reply.json.TotalCount).toBe(communities.length);
      expect(reply.json.GroupIdList).toEqual(communities.map((g) => ({ GroupId: g.groupId })));
      expect(reply.json.Next).toBe(0);
    });
  });

  describe('get_group_info', () => {
    it('returns all base fields, or only the filtered ones, with per-group errors', async () => {
      const full = await call(t, PATHS.info, { GroupIdList: ['@TGS#1PAGING', '@TGS#1NOPE'] });
      const [paging, missing] = full.json.GroupInfo;
      const summary = t.sim.groups().find((g) => g.groupId === '@TGS#1PAGING');
      expect(paging).toMatchObject({
        GroupId: '@TGS#1PAGING',
        ErrorCode: 0,
        Type: 'Public',
        NextMsgSeq: 451,
        LastMsgTime: summary?.lastMsgTime,
      });
      expect(paging.CreateTime).toBeLessThan(paging.LastMsgTime);
      expect(missing).toMatchObject({ GroupId: '@TGS#1NOPE', ErrorCode: 10015 });
      const filtered = await call(t, PATHS.info, {
        GroupIdList: ['@TGS#1PAGING'],
        ResponseFilter: { GroupBaseInfoFilter: ['Type', 'NextMsgSeq'] },
      });
      expect(filtered.json.GroupInfo).toEqual([
        { GroupId: '@TGS#1PAGING', ErrorCode: 0, ErrorInfo: '', Type: 'Public', NextMsgSeq: 451 },
      ]);
    });

    it('accepts 1..50 ids only', async () => {
      const ids = Array.from({ length: 51 }, (_, i) => `@TGS#1X${i}`);
      expect((await call(t, PATHS.info, { GroupIdList: ids })).json.ErrorCode).toBe(10004);
      expect((await call(t, PATHS.info, { GroupIdList: ids.slice(0, 50) })).json.GroupInfo).toHaveLength(50);
      expect((await call(t, PATHS.info, { GroupIdList: [] })).json.ErrorCode).toBe(10004);
    });
  });

  describe('get_topic', () => {
    it('lists the topics with their own ErrorCode, SelfInfo and TopicInfo', async () => {
      const reply = await call(t, PATHS.topic, { GroupId: '@TGS#_@TGS#cTOPICS', From_Account: '1400187352' });
      expect(reply.json.ErrorCode).toBe(0);
      const entries = reply.json.TopicAndSelfInfo;
      expect(entries.map((e: { TopicInfo: { TopicId: string } }) => e.TopicInfo.TopicId)).toEqual([
        TOPIC_A,
        TOPIC_B,
      ]);
      expect(entries[0]).toMatchObject({
        ErrorCode: 0,
        ErrorInfo: '',
        SelfInfo: { MsgFlag: 'AcceptAndNotify' },
        TopicInfo: { TopicName: '话题 A', GroupID: '@TGS#_@TGS#cTOPICS', NextMsgSeq: 46 },
      });
      const summary = t.sim.groups().find((g) => g.groupId === '@TGS#_@TGS#cTOPICS');
      expect(entries[0].TopicInfo.LastMsgTime).toBe(summary?.topics[0]?.lastMsgTime);
    });

    it('filters fields, flags unknown topics per entry and rejects groups without topics', async () => {
      const reply = await call(t, PATHS.topic, {
        GroupId: '@TGS#_@TGS#cTOPICS',
        From_Account: 'administrator',
        TopicIdList: [TOPIC_B, 'nope'],
        ResponseFilter: ['TopicName'],
      });
      expect(reply.json.TopicAndSelfInfo[0].TopicInfo).toEqual({
        TopicId: TOPIC_B,
        TopicName: `Topic ${TOPIC_B.slice(-6)}`,
      });
      expect(reply.json.TopicAndSelfInfo[1]).toMatchObject({
        ErrorCode: 110003,
        TopicInfo: { TopicId: 'nope' },
      });
      const topicCall = async (body: object) => (await call(t, PATHS.topic, body)).json.ErrorCode;
      expect(await topicCall({ GroupId: '@TGS#3PLAIN', From_Account: 'a' })).toBe(11000);
      expect(await topicCall({ GroupId: '@TGS#1PAGING', From_Account: 'a' })).toBe(10004);
      expect(await topicCall({ GroupId: '@TGS#_@TGS#cTOPICS' })).toBe(10004);
      expect(await topicCall({ GroupId: '@TGS#1NOPE', From_Account: 'a' })).toBe(10015);
    });
  });

  it('is deterministic: same seed, same data; another seed, other data', async () => {
    const twin = await start({ rateLimits: { get_appid_group_list: 1000 } });
    const other = await start({ seed: 12 });
    try {
      expect(twin.sim.groups()).toEqual(t.sim.groups());
      const body = { GroupId: '@TGS#1PAGING', ReqMsgNumber: 20 };
      // Media URLs point at each simulator's own media listener: only the port may differ.
      const page = async (s: typeof t) =>
        (await call(s, PATHS.history, body)).text.replaceAll(s.sim.mediaUrl ?? '-', 'MEDIA');
      expect(await page(twin)).toBe(await page(t));
      expect(await page(t)).toContain('MEDIA/');
      expect((await call(other, PATHS.history, body)).text).not.toBe(
        (await call(t, PATHS.history, body)).text,
      );
      expect(other.sim.groups().map((g) => g.groupId)).not.toEqual(t.sim.groups().map((g) => g.groupId));
    } finally {
      await twin.sim.stop();
      await other.sim.stop();
    }
  });
});

describe('simulator page byte budget', () => {
  it('cuts pages short with IsFinished 0 and still pages every seq once', async () => {
    const t = await start({ maxPageBytes: 2500 });
    try {
      const first = await call(t, PATHS.history, {
        GroupId: '@TGS#1PAGING',
        ReqMsgNumber: 20,
        WithRecalledMsg: 1,
      });
      expect(Buffer.byteLength(first.text)).toBeLessThanOrEqual(2500);
      expect(first.json.RspMsgList.length).toBeLessThan(20);
      expect(first.json.RspMsgList.length).toBeGreaterThan(0);
      expect(first.json.IsFinished).toBe(0);
      const { messages, pages } = await pageAll(t, '@TGS#1PAGING', { withRecalled: true });
      expect(messages.map((m) => m.MsgSeq)).toEqual(Array.from({ length: 450 }, (_, i) => 450 - i));
      expect(pages.filter((p) => p.isFinished === 0).length).toBeGreaterThan(5);
    } finally {
      await t.sim.stop();
    }
  });
});

describe('simulator state changes', () => {
  let t: TestSim;
  beforeAll(async () => {
    t = await start({ rateLimits: { get_appid_group_list: 1000 } });
  });
  afterAll(async () => {
    await t.sim.stop();
  });

  it('appends messages at now() to groups and topics', async () => {
    const before = t.sim.groups().find((g) => g.groupId === '@TGS#1PAGING');
    t.clock.now += 3_600_000;
    t.sim.appendMessages('@TGS#1PAGING', 30);
    t.sim.appendMessages('@TGS#_@TGS#cTOPICS', 2, { topicId: TOPIC_B });
    const nowSec = Math.floor(t.clock.now / 1000);
    const page = await call(t, PATHS.history, {
      GroupId: '@TGS#1PAGING',
      ReqMsgNumber: 20,
      WithRecalledMsg: 1,
    });
    expect(page.json.RspMsgList[0]).toMatchObject({ MsgSeq: 480, MsgTimeStamp: nowSec });
    const info = await call(t, PATHS.info, { GroupIdList: ['@TGS#1PAGING'] });
    expect(info.json.GroupInfo[0]).toMatchObject({
      NextMsgSeq: (before?.nextMsgSeq ?? 0) + 30,
      LastMsgTime: nowSec,
    });
    const topics = await call(t, PATHS.topic, {
      GroupId: '@TGS#_@TGS#cTOPICS',
      From_Account: 'a',
      TopicIdList: [TOPIC_B],
    });
    expect(topics.json.TopicAndSelfInfo[0].TopicInfo).toMatchObject({ NextMsgSeq: 6, LastMsgTime: nowSec });
    const truth = [...t.sim.groundTruth('@TGS#1PAGING', { withRecalledMsg: true })];
    expect(truth).toHaveLength(480);
    expect(truth.slice(0, 30).every((m) => m.MsgTimeStamp === nowSec)).toBe(true);
    expect(() => t.sim.appendMessages('@TGS#_@TGS#cTOPICS', 1)).toThrow(/topics enabled/);
  });

  it('turns messages into placeholders as now() moves past retention', async () => {
    t.clock.now += 31 * DAY_MS;
    const page = await call(t, PATHS.history, { GroupId: '@TGS#1PAGING', ReqMsgNumber: 20 });
    expect(page.json.IsFinished).toBe(2);
    for (const m of page.json.RspMsgList) expect(m).toMatchObject({ IsPlaceMsg: 1, MsgBody: [] });
    t.clock.now -= 31 * DAY_MS;
  });

  it('edits, recalls and deletes stored messages: same seq, sender and time kept, shown on the next pull', async () => {
    const group = '@TGS#1PAGING';
    const seqOf = (fate: number) =>
      [...t.sim.groundTruth(group, { withRecalledMsg: true })].find(
        (m) => m.IsPlaceMsg === fate && m.MsgSeq > 400 && m.MsgSeq < 460,
      ) as RawMessage;
    const [edited, recalled, deleted, dataOnly] = [0, 1, 2, 3].map((i) => {
      const normal = [...t.sim.groundTruth(group)].filter((m) => m.IsPlaceMsg === 0 && m.MsgSeq <= 460);
      return normal[i * 3] as RawMessage;
    }) as [RawMessage, RawMessage, RawMessage, RawMessage];
    const before = await call(t, PATHS.history, {
      GroupId: group,
      ReqMsgSeq: edited.MsgSeq,
      ReqMsgNumber: 1,
    });
    expect(before.json.RspMsgList[0]).toEqual(edited);
    t.sim.modifyMessage(group, edited.MsgSeq);
    t.sim.modifyMessage(group, edited.MsgSeq, {
      body: [{ MsgType: 'TIMTextElem', MsgContent: { Text: 'v2' } }],
    });
    t.sim.modifyMessage(group, dataOnly.MsgSeq, { cloudCustomData: '{"edited":true}' });
    t.sim.recallMessage(group, recalled.MsgSeq);
    t.sim.deleteMessage(group, deleted.MsgSeq);
    const one = async (seq: number, withRecalled = true) =>
      (
        await call(t, PATHS.history, {
          GroupId: group,
          ReqMsgSeq: seq,
          ReqMsgNumber: 1,
          ...(withRecalled ? { WithRecalledMsg: 1 } : {}),
        })
      ).json.RspMsgList[0] as RawMessage | undefined;
    expect(await one(edited.MsgSeq)).toEqual({
      ...edited,
      MsgBody: [{ MsgType: 'TIMTextElem', MsgContent: { Text: 'v2' } }],
    });
    expect(await one(dataOnly.MsgSeq)).toEqual({ ...dataOnly, CloudCustomData: '{"edited":true}' });
    expect(await one(recalled.MsgSeq)).toEqual({
      From_Account: recalled.From_Account,
      IsPlaceMsg: 2,
      MsgBody: [],
      MsgPriority: recalled.MsgPriority,
      MsgRandom: recalled.MsgRandom,
      MsgSeq: recalled.MsgSeq,
      MsgTimeStamp: recalled.MsgTimeStamp,
    });
    expect(await one(recalled.MsgSeq, false)).toBeUndefined();
    expect(await one(deleted.MsgSeq)).toMatchObject({ IsPlaceMsg: 1, MsgBody: [], From_Account: '' });
    // Ground truth renders the same state.
    const truth = new Map([...t.sim.groundTruth(group, { withRecalledMsg: true })].map((m) => [m.MsgSeq, m]));
    expect(truth.get(edited.MsgSeq)?.MsgBody).toEqual([
      { MsgType: 'TIMTextElem', MsgContent: { Text: 'v2' } },
    ]);
    expect(truth.get(recalled.MsgSeq)?.IsPlaceMsg).toBe(2);
    // A recalled message can still be deleted; a deleted, recalled or unknown one cannot be edited.
    t.sim.deleteMessage(group, recalled.MsgSeq);
    expect(truth.get(deleted.MsgSeq)?.IsPlaceMsg).toBe(1);
    expect(() => t.sim.modifyMessage(group, recalled.MsgSeq)).toThrow(/cannot change/);
    expect(() => t.sim.recallMessage(group, deleted.MsgSeq)).toThrow(/cannot change/);
    expect(() => t.sim.modifyMessage(group, 99_999)).toThrow(/no message/);
    expect(() => t.sim.recallMessage(group, seqOf(2).MsgSeq)).toThrow(/cannot change/);
    // Beyond retention nothing can change.
    expect(() => t.sim.modifyMessage(group, 1)).toThrow(/cannot change/);
  });

  it('dissolves groups: 10010 everywhere and no longer listed', async () => {
    t.sim.deleteGroup('@TGS#1PAGING');
    t.sim.deleteGroup('@TGS#_@TGS#cTOPICS');
    expect((await call(t, PATHS.history, { GroupId: '@TGS#1PAGING', ReqMsgNumber: 1 })).json.ErrorCode).toBe(
      10010,
    );
    const info = await call(t, PATHS.info, { GroupIdList: ['@TGS#1PAGING'] });
    expect(info.json).toMatchObject({
      ErrorCode: 0,
      GroupInfo: [{ GroupId: '@TGS#1PAGING', ErrorCode: 10010 }],
    });
    expect(
      (await call(t, PATHS.topic, { GroupId: '@TGS#_@TGS#cTOPICS', From_Account: 'a' })).json.ErrorCode,
    ).toBe(10010);
    const list = await call(t, PATHS.list, {});
    expect(list.json.TotalCount).toBe(8);
    expect(list.json.GroupIdList.map((g: { GroupId: string }) => g.GroupId)).not.toContain('@TGS#1PAGING');
    expect(t.sim.groups().find((g) => g.groupId === '@TGS#1PAGING')?.deleted).toBe(true);
  });
});

describe('simulator rate limits', () => {
  it('answers over-limit calls with the configured code and counts them', async () => {
    const t = await start({ rateLimits: { group_msg_get_simple: 5 }, rateLimitErrorCode: 60007 });
    try {
      const body = { GroupId: '@TGS#1PAGING', ReqMsgNumber: 1 };
      const replies = await Promise.all(Array.from({ length: 12 }, () => call(t, PATHS.history, body)));
      const codes = replies.map((r) => r.json.ErrorCode as number);
      const ok = codes.filter((c) => c === 0).length;
      // A burst of 5 is allowed; refill during the burst may add one token at most.
      expect(ok).toBeGreaterThanOrEqual(5);
      expect(ok).toBeLessThanOrEqual(6);
      expect(codes.filter((c) => c === 60007)).toHaveLength(12 - ok);
      const stats = t.sim.stats();
      expect(stats.perApi.group_msg_get_simple).toMatchObject({ calls: 12, ok, overLimit: 12 - ok });
      expect(stats.perApi.group_msg_get_simple.errorCodes).toEqual({ 60007: 12 - ok });
      // Limits are per API: another API still has its own budget.
      expect((await call(t, PATHS.info, { GroupIdList: ['@TGS#1PAGING'] })).json.ErrorCode).toBe(0);
    } finally {
      await t.sim.stop();
    }
  });

  it('allows one get_appid_group_list per second by default and answers 10006 beyond', async () => {
    const t = await start();
    try {
      const codes = [
        (await call(t, PATHS.list, {})).json.ErrorCode,
        (await call(t, PATHS.list, {})).json.ErrorCode,
      ];
      expect(codes).toEqual([0, 10006]);
      expect(t.sim.stats().overLimit).toBe(1);
    } finally {
      await t.sim.stop();
    }
  });
});

describe('simulator faults, latency and stats', () => {
  let t: TestSim;
  beforeAll(async () => {
    t = await start();
  });
  afterAll(async () => {
    await t.sim.stop();
  });
  const body = { GroupId: '@TGS#1PAGING', ReqMsgNumber: 1 };

  it('injects error codes in order, for the matching API only, `times` times', async () => {
    t.sim.resetStats();
    t.sim.injectFaults(
      { kind: 'error-code', code: 10002, times: 2, api: 'group_msg_get_simple' },
      { kind: 'error-code', code: 70001, info: 'expired!' },
    );
    expect((await call(t, PATHS.info, { GroupIdList: ['@TGS#1PAGING'] })).json).toMatchObject({
      ErrorCode: 70001,
      ErrorInfo: 'expired!',
    });
    expect((await call(t, PATHS.history, body)).json).toMatchObject({
      ActionStatus: 'FAIL',
      ErrorCode: 10002,
    });
    expect((await call(t, PATHS.history, body)).json.ErrorCode).toBe(10002);
    expect((await call(t, PATHS.history, body)).json.ErrorCode).toBe(0);
    const stats = t.sim.stats();
    expect(stats.perApi.group_msg_get_simple).toMatchObject({ calls: 3, ok: 1, errors: 2, faults: 2 });
    expect(stats.errorCodes).toEqual({ 10002: 2, 70001: 1 });
    expect(stats.faults).toBe(3);
  });

  it('injects non-200 statuses with an HTML body', async () => {
    t.sim.injectFaults(
      { kind: 'http-status', status: 502 },
      { kind: 'http-status', status: 503, body: 'busy' },
    );
    const bad = await call(t, PATHS.history, body);
    expect(bad.status).toBe(502);
    expect(bad.text).toContain('<h1>502 Bad Gateway</h1>');
    expect(await call(t, PATHS.history, body)).toMatchObject({ status: 503, text: 'busy' });
  });

  it('injects truncated JSON', async () => {
    t.sim.injectFaults({ kind: 'malformed-json' });
    const reply = await call(t, PATHS.history, body);
    expect(reply.status).toBe(200);
    expect(reply.text.startsWith('{"ActionStatus":"OK"')).toBe(true);
    expect(() => JSON.parse(reply.text)).toThrow(SyntaxError);
  });

  it('injects slow answers that trip client timeouts', async () => {
    t.sim.injectFaults({ kind: 'slow', delayMs: 400 });
    await expect(call(t, PATHS.history, body, { signal: AbortSignal.timeout(50) })).rejects.toThrow();
    expect((await call(t, PATHS.history, body)).json.ErrorCode).toBe(0);
  });

  it('injects connection resets', async () => {
    t.sim.injectFaults({ kind: 'reset' });
    await expect(call(t, PATHS.history, body)).rejects.toThrow(/fetch failed/);
    expect((await call(t, PATHS.history, body)).json.ErrorCode).toBe(0);
  });

  it('delays answers by latency plus or minus jitter and tracks peak concurrency and messages returned', async () => {
    const slow = await start({ latencyMs: 60, jitterMs: 10 });
    try {
      const startedAt = performance.now();
      const replies = await Promise.all(
        Array.from({ length: 6 }, () =>
          call(slow, PATHS.history, { GroupId: '@TGS#1PAGING', ReqMsgNumber: 3, WithRecalledMsg: 1 }),
        ),
      );
      // 60 ± 10 ms: never less than 50.
      expect(performance.now() - startedAt).toBeGreaterThanOrEqual(49);
      expect(replies.every((r) => r.json.RspMsgList.length === 3)).toBe(true);
      const stats = slow.sim.stats();
      expect(stats.peakInFlight).toBe(6);
      expect(stats.inFlight).toBe(0);
      expect(stats.messagesReturned).toBe(18);
      expect(stats.totalCalls).toBe(6);
      slow.sim.resetStats();
      expect(slow.sim.stats()).toMatchObject({ totalCalls: 0, peakInFlight: 0, messagesReturned: 0 });
    } finally {
      await slow.sim.stop();
    }
  });
});

describe('default demo simulator', () => {
  it('serves every documented element type through group_msg_get_simple', async () => {
    const sim = await startSimulator();
    const t: TestSim = { sim, clock: { now: Date.now() } };
    try {
      expect(sim.apps).toEqual([DEMO_APP]);
      const types = new Set<string>();
      for (const group of sim.groups()) {
        if (group.type === 'AVChatRoom') continue;
        const topics = group.topicsEnabled ? group.topics.map((topic) => topic.topicId) : [undefined];
        for (const topicId of topics) {
          const { messages } = await pageAll(t, group.groupId, topicId === undefined ? {} : { topicId });
          for (const m of messages)
            for (const e of m.MsgBody as Array<{ MsgType: string }>) types.add(e.MsgType);
        }
      }
      expect([...types].sort()).toEqual(
        [
          'TIMCustomElem',
          'TIMFaceElem',
          'TIMFileElem',
          'TIMImageElem',
          'TIMLocationElem',
          'TIMRelayElem',
          'TIMSoundElem',
          'TIMTextElem',
          'TIMVideoFileElem',
        ].sort(),
      );
    } finally {
      await sim.stop();
    }
  });
});
