/**
 * The simulator's `admin_getroammsg` over HTTP (functions/simulator/api-roam.ts, docs/tencent-api.md,
 * admin_getroammsg): paging a conversation backwards with `LastMsgKey` from either side gives every
 * message once, with the same `MsgKey` on both sides, newest first; pages stop at `MaxCnt` or 13 KB;
 * recalls read as `MsgFlagBits` 8; bad requests are refused with the openim codes; the API has its
 * own rate budget.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RoamMessage } from '../../functions/domain/tencent-types.ts';
import { MAX_ROAM_COUNT, ROAM_PAGE_BYTES } from '../../functions/simulator/api-roam.ts';
import { type Simulator, startSimulator } from '../../functions/simulator/index.ts';
import { signedDemoQuery } from '../helpers/tencent.ts';

const ALICE = 'alice.c2c';
const BOB = 'bob,"c2c"';
const CAROL = 'carol.c2c';
const LONELY = 'lonely.c2c';
const DAVE = 'dave.c2c';
const ERIN = 'erin.c2c';
const MESSAGES = 400;

let sim: Simulator;
beforeAll(async () => {
  sim = await startSimulator({
    seed: 26,
    media: false,
    c2c: {
      generated: 0,
      conversations: [
        { accounts: [ALICE, BOB], messages: MESSAGES },
        { accounts: [ALICE, CAROL], messages: 30 },
        { accounts: [LONELY, CAROL], messages: 0 },
        { accounts: [DAVE, ERIN], messages: 60 },
      ],
    },
    // Raw requests are not paced here: only the API's own rules refuse anything.
    rateLimits: { admin_getroammsg: 100_000 },
  });
});
afterAll(async () => {
  await sim.stop();
});

interface RoamAnswer {
  ActionStatus: string;
  ErrorCode: number;
  ErrorInfo: string;
  Complete: number;
  MsgCnt: number;
  LastMsgTime: number;
  LastMsgKey: string;
  MsgList: RoamMessage[];
}

/** One signed POST; the answer and its size in bytes. */
async function roam(target: Simulator, body: object): Promise<{ answer: RoamAnswer; bytes: number }> {
  const query = signedDemoQuery('26');
  const response = await fetch(`${target.url}/v4/openim/admin_getroammsg?${query}`, {
    method: 'POST',
    body: JSON.stringify(body),
  });
  expect(response.status).toBe(200);
  const text = await response.text();
  return { answer: JSON.parse(text) as RoamAnswer, bytes: Buffer.byteLength(text) };
}

/** Follows the documented continuation until `Complete` is 1; every page as answered. */
async function pullAll(operator: string, peer: string, maxCnt: number, window = { min: 0, max: 2 ** 31 }) {
  const pages: { answer: RoamAnswer; bytes: number }[] = [];
  let body: Record<string, unknown> = {
    Operator_Account: operator,
    Peer_Account: peer,
    MaxCnt: maxCnt,
    MinTime: window.min,
    MaxTime: window.max,
  };
  for (;;) {
    const page = await roam(sim, body);
    expect(page.answer).toMatchObject({ ActionStatus: 'OK', ErrorCode: 0 });
    pages.push(page);
    if (page.answer.Complete === 1) break;
    expect(pages.length).toBeLessThan(2_000);
    body = { ...body, MaxTime: page.answer.LastMsgTime, LastMsgKey: page.answer.LastMsgKey };
  }
  return { pages, messages: pages.flatMap((p) => p.answer.MsgList) };
}

const keys = (messages: readonly RoamMessage[]): string[] => messages.map((m) => m.MsgKey);
const newestFirst = (messages: readonly RoamMessage[]): RoamMessage[] => [...messages].reverse();

describe('simulator: admin_getroammsg paging', () => {
  it('gives every message once from either side, the same MsgKey on both, newest first', async () => {
    const truth = newestFirst(sim.c2c.visible(ALICE, BOB));
    expect(truth).toHaveLength(MESSAGES);
    // The dataset has several messages in one second: the case LastMsgKey exists for.
    expect(new Set(truth.map((m) => m.MsgTimeStamp)).size).toBeLessThan(MESSAGES);

    const fromAlice = await pullAll(ALICE, BOB, MAX_ROAM_COUNT);
    const fromBob = await pullAll(BOB, ALICE, MAX_ROAM_COUNT);

    expect(keys(fromAlice.messages)).toEqual(keys(truth));
    expect(fromBob.messages).toEqual(fromAlice.messages);
    expect(new Set(keys(fromAlice.messages)).size).toBe(MESSAGES);
    expect(fromAlice.pages.length).toBeGreaterThan(MESSAGES / MAX_ROAM_COUNT);
    for (const { answer } of fromAlice.pages) {
      expect(answer.MsgCnt).toBe(answer.MsgList.length);
      expect(answer.LastMsgKey).toBe(answer.MsgList.at(-1)?.MsgKey);
      expect(answer.LastMsgTime).toBe(answer.MsgList.at(-1)?.MsgTimeStamp);
    }
  });

  it('counts in process the pages a sequential pager takes over HTTP (the bench minimum)', async () => {
    const fromAlice = await pullAll(ALICE, BOB, MAX_ROAM_COUNT);
    expect(sim.c2c.sequentialPulls(ALICE, BOB)).toBe(fromAlice.pages.length);
    expect(sim.c2c.sequentialPulls(DAVE, ERIN)).toBe(
      (await pullAll(DAVE, ERIN, MAX_ROAM_COUNT)).pages.length,
    );
    // An empty conversation still takes one call.
    expect(sim.c2c.sequentialPulls(LONELY, CAROL)).toBe(1);
  });

  it('continues inside one second: one message a page still gives each once', async () => {
    const { pages, messages } = await pullAll(CAROL, ALICE, 1);
    expect(keys(messages)).toEqual(keys(newestFirst(sim.c2c.visible(ALICE, CAROL))));
    expect(pages).toHaveLength(30);
  });

  it('cuts pages at MaxCnt or 13 KB of answer, never at zero messages', async () => {
    const { pages } = await pullAll(ALICE, BOB, MAX_ROAM_COUNT);
    for (const { answer, bytes } of pages) {
      expect(answer.MsgCnt).toBeLessThanOrEqual(MAX_ROAM_COUNT);
      expect(answer.MsgCnt).toBeGreaterThan(0);
      if (answer.MsgCnt > 1) expect(bytes).toBeLessThanOrEqual(ROAM_PAGE_BYTES);
    }
    // Some pages stop for size before MaxCnt, with more to come.
    expect(pages.some(({ answer }) => answer.Complete === 0 && answer.MsgCnt < MAX_ROAM_COUNT)).toBe(true);
    const small = await pullAll(ALICE, BOB, 7);
    expect(small.pages.every(({ answer }) => answer.MsgCnt <= 7)).toBe(true);
    expect(small.messages).toHaveLength(MESSAGES);
  });

  it('takes both ends of the window as inclusive', async () => {
    const truth = newestFirst(sim.c2c.visible(ALICE, BOB));
    const burst = truth.find((m, i) => truth[i + 1]?.MsgTimeStamp === m.MsgTimeStamp) as RoamMessage;
    const second = burst.MsgTimeStamp;
    const { messages } = await pullAll(ALICE, BOB, MAX_ROAM_COUNT, { min: second, max: second });
    expect(keys(messages)).toEqual(keys(truth.filter((m) => m.MsgTimeStamp === second)));
    expect(messages.length).toBeGreaterThan(1);
  });

  it('answers a pair that never talked with an empty, complete page', async () => {
    const { pages, messages } = await pullAll(LONELY, ALICE, 10);
    expect(messages).toEqual([]);
    expect(pages[0]?.answer).toMatchObject({ Complete: 1, MsgCnt: 0, LastMsgKey: '', LastMsgTime: 0 });
  });

  it('serves a recall as MsgFlagBits 8 with the same MsgKey from both sides', async () => {
    const target = sim.c2c.visible(ALICE, CAROL).find((m) => m.MsgFlagBits === 0) as RoamMessage;
    sim.c2c.recall(CAROL, ALICE, target.MsgKey);
    for (const [operator, peer] of [
      [ALICE, CAROL],
      [CAROL, ALICE],
    ] as const) {
      const { messages } = await pullAll(operator, peer, MAX_ROAM_COUNT);
      const served = messages.find((m) => m.MsgKey === target.MsgKey);
      expect(served).toMatchObject({ MsgFlagBits: 8, MsgBody: [], From_Account: target.From_Account });
      expect(served?.MsgTimeStamp).toBe(target.MsgTimeStamp);
      expect(messages).toHaveLength(30);
    }
  });
});

describe('simulator: admin_getroammsg perspectives', () => {
  it('hides what one side deleted from that side only: both sides together still give every message once', async () => {
    const all = [...sim.c2c.visible(DAVE, ERIN)].reverse();
    const deleted = all.filter((_, i) => i % 4 === 1).map((m) => m.MsgKey);
    sim.c2c.deleteFor(DAVE, ERIN, deleted);
    const fromDave = await pullAll(DAVE, ERIN, 13);
    const fromErin = await pullAll(ERIN, DAVE, 13);
    expect(keys(fromErin.messages)).toEqual(keys(all));
    expect(keys(fromDave.messages)).toEqual(keys(all).filter((k) => !deleted.includes(k)));
    const union = new Map([...fromDave.messages, ...fromErin.messages].map((m) => [m.MsgKey, m]));
    expect(union.size).toBe(all.length);
    // A side that cleared the conversation sees nothing; the other side still sees it all.
    sim.c2c.deleteFor(ERIN, DAVE);
    expect((await pullAll(ERIN, DAVE, 13)).messages).toEqual([]);
    expect(keys((await pullAll(DAVE, ERIN, 13)).messages)).toEqual(keys(fromDave.messages));
  });
});

describe('simulator: what a side sees of a message it deleted (c2c.deletedView)', () => {
  it('nothing by default; a placeholder (IsPlaceMsg 1, no content) when asked; the peer sees the message', async () => {
    const views = new Map<string, RoamMessage[][]>();
    for (const deletedView of ['absent', 'placeholder'] as const) {
      const other = await startSimulator({
        seed: 27,
        media: false,
        c2c: {
          generated: 0,
          recalledFraction: 0,
          deletedView,
          conversations: [{ accounts: [DAVE, ERIN], messages: 8 }],
        },
      });
      try {
        const all = other.c2c.visible(DAVE, ERIN);
        const gone = all[3] as RoamMessage;
        other.c2c.deleteFor(DAVE, ERIN, [gone.MsgKey]);
        other.c2c.deleteFor(ERIN, DAVE, [gone.MsgKey]);
        other.c2c.deleteFor(ERIN, DAVE, [(all[5] as RoamMessage).MsgKey]);
        views.set(deletedView, [all, other.c2c.visible(DAVE, ERIN), other.c2c.visible(ERIN, DAVE)]);
      } finally {
        await other.stop();
      }
    }
    const [all, dave, erin] = views.get('absent') as RoamMessage[][];
    expect(keys(dave as RoamMessage[])).toEqual(keys(all as RoamMessage[]).filter((_, i) => i !== 3));
    expect(keys(erin as RoamMessage[])).toEqual(
      keys(all as RoamMessage[]).filter((_, i) => i !== 3 && i !== 5),
    );
    const [allP, daveP, erinP] = views.get('placeholder') as RoamMessage[][];
    expect(keys(daveP as RoamMessage[])).toEqual(keys(allP as RoamMessage[]));
    expect(keys(erinP as RoamMessage[])).toEqual(keys(allP as RoamMessage[]));
    const original = allP?.[3] as RoamMessage;
    const { CloudCustomData: _cc, IsPeerRead: _read, ...kept } = original;
    expect(erinP?.[3]).toEqual({ ...kept, MsgFlagBits: 0, IsPlaceMsg: 1, MsgBody: [] });
    expect(daveP?.[5]).toEqual(allP?.[5]);
    expect(erinP?.[5]).toMatchObject({ IsPlaceMsg: 1, MsgBody: [] });
  });
});

describe('simulator: admin_getroammsg requests', () => {
  const valid = { Operator_Account: ALICE, Peer_Account: BOB, MaxCnt: 10, MinTime: 0, MaxTime: 2 ** 31 };

  it.each([
    ['MaxCnt as a string', { ...valid, MaxCnt: '10' }, 90001],
    ['MaxCnt 0', { ...valid, MaxCnt: 0 }, 90001],
    [`MaxCnt ${MAX_ROAM_COUNT + 1}`, { ...valid, MaxCnt: MAX_ROAM_COUNT + 1 }, 90001],
    ['MinTime missing', { ...valid, MinTime: undefined }, 90001],
    ['MaxTime as a fraction', { ...valid, MaxTime: 1.5 }, 90001],
    ['MinTime after MaxTime', { ...valid, MinTime: 10, MaxTime: 9 }, 90001],
    ['LastMsgKey of no message', { ...valid, LastMsgKey: '1_2_3' }, 90001],
    ['Operator_Account missing', { ...valid, Operator_Account: undefined }, 90008],
    ['Operator_Account unknown', { ...valid, Operator_Account: 'nobody.c2c' }, 90008],
    ['Peer_Account as a number', { ...valid, Peer_Account: 7 }, 90003],
    ['Peer_Account unknown', { ...valid, Peer_Account: 'nobody.c2c' }, 90003],
  ])('refuses %s with %i', async (_what, body, code) => {
    const { answer } = await roam(sim, body);
    expect(answer).toMatchObject({ ActionStatus: 'FAIL', ErrorCode: code });
    expect(Object.keys(answer).sort()).toEqual(['ActionStatus', 'ErrorCode', 'ErrorInfo']);
    expect((await roam(sim, valid)).answer).toMatchObject({ ActionStatus: 'OK', ErrorCode: 0 });
  });

  it('refuses a LastMsgKey whose message is not at MaxTime', async () => {
    const first = await roam(sim, valid);
    const { LastMsgKey, LastMsgTime } = first.answer;
    const off = await roam(sim, { ...valid, MaxTime: LastMsgTime + 1, LastMsgKey });
    expect(off.answer).toMatchObject({ ActionStatus: 'FAIL', ErrorCode: 90001 });
    const on = await roam(sim, { ...valid, MaxTime: LastMsgTime, LastMsgKey });
    expect(on.answer).toMatchObject({ ActionStatus: 'OK', ErrorCode: 0 });
  });

  it('has a rate budget of its own: over it, frequency-limit answers', async () => {
    const limited = await startSimulator({
      seed: 26,
      media: false,
      c2c: { generated: 0, conversations: [{ accounts: [ALICE, BOB], messages: 5 }] },
      rateLimits: { admin_getroammsg: 5 },
    });
    try {
      const answers = await Promise.all(Array.from({ length: 12 }, () => roam(limited, valid)));
      const codes = answers.map(({ answer }) => answer.ErrorCode);
      expect(codes.filter((c) => c === 0)).toHaveLength(5);
      expect(codes.filter((c) => c === 10006)).toHaveLength(7);
      expect(limited.stats().perApi.admin_getroammsg).toMatchObject({ calls: 12, overLimit: 7 });
    } finally {
      await limited.stop();
    }
  });
});
