/**
 * fetchPage (functions/engine/fetch-window.ts) over a scripted ChatApi: one page of a span, a
 * 10018 answer asked again smaller, a seq too big even alone kept as a flagged row, an answer
 * that contradicts itself asked again and then refused, expired history and the look-back.
 */
import { describe, expect, it } from 'vitest';
import { GiveUpError, InconsistentAnswerError } from '../../../functions/domain/errors.ts';
import { EXTRA_REASON_KEY } from '../../../functions/domain/record.ts';
import type { HistoryPage, HistoryRequest } from '../../../functions/domain/tencent-types.ts';
import { fetchPage, type PageFetch } from '../../../functions/engine/fetch-window.ts';
import { FakeChatApi, messageRun, testRunOptions } from '../../helpers/engine-fakes.ts';

const APP = 1400000001;
const GROUP = '@TGS#fetch';
const NOW_MS = Date.UTC(2026, 0, 1);
const NOW_SEC = NOW_MS / 1000;
/** 30 messages, seqs 1..30, a minute apart, the newest an hour before the server's now. */
const MESSAGES = messageRun(30, NOW_SEC - 3600 - 29 * 60);

function job(over: Partial<PageFetch> = {}): PageFetch {
  return {
    ref: { groupId: GROUP, topicId: null },
    floorTime: null,
    span: { lo: 1, hi: 30 },
    request: { reqMsgSeq: 30, reqMsgNumber: 20 },
    ...over,
  };
}

function shrink(): GiveUpError {
  return new GiveUpError('shrink-request', 'group_msg_get_simple: 10018 answer too big', { attempts: 1 });
}

const options = testRunOptions(APP, { retentionDays: 7, observedAtSec: NOW_SEC });

describe('fetchPage', () => {
  it('returns one page of the span newest first and continues below its smallest seq', async () => {
    const api = new FakeChatApi({ groups: { [GROUP]: MESSAGES }, serverNowMs: () => NOW_MS });

    const page = await fetchPage(api, options, job({ generation: 3 }), undefined);

    expect(page.records.map((r) => r.msg_seq)).toEqual(Array.from({ length: 20 }, (_, i) => 30 - i));
    expect(page.records.every((r) => r.group_id === GROUP && r.generation === 3)).toBe(true);
    expect(page).toMatchObject({ calls: 1, next: 10, short: false, stop: false, inconsistent: 0 });
    expect(api.historyRequests).toEqual([
      { groupId: GROUP, topicId: undefined, reqMsgSeq: 30, reqMsgNumber: 20, withRecalledMsg: true },
    ]);
  });

  it('keeps only the seqs inside the span and ends the span at its low end', async () => {
    const api = new FakeChatApi({ groups: { [GROUP]: MESSAGES }, serverNowMs: () => NOW_MS });

    const page = await fetchPage(
      api,
      options,
      job({ span: { lo: 21, hi: 30 }, request: { reqMsgSeq: 30, reqMsgNumber: 10 } }),
      undefined,
    );

    expect(page.records.map((r) => r.msg_seq)).toEqual([30, 29, 28, 27, 26, 25, 24, 23, 22, 21]);
    expect(page.next).toBe(20);
    expect(page.stop).toBe(false);
  });

  it('asks again for half as many messages after a 10018 answer (too large)', async () => {
    const api = new FakeChatApi({
      groups: { [GROUP]: MESSAGES },
      serverNowMs: () => NOW_MS,
      history: (request) => {
        if (request.reqMsgNumber > 10) throw shrink();
        return undefined;
      },
    });

    const page = await fetchPage(api, options, job(), undefined);

    expect(api.historyRequests.map((r) => r.reqMsgNumber)).toEqual([20, 10]);
    expect(page.calls).toBe(2);
    expect(page.records.map((r) => r.msg_seq)).toEqual([30, 29, 28, 27, 26, 25, 24, 23, 22, 21]);
    expect(page.next).toBe(20);
  });

  it('gives up on a seq too big even alone: a flagged row for it, and the span goes on below it', async () => {
    const api = new FakeChatApi({
      groups: { [GROUP]: MESSAGES },
      serverNowMs: () => NOW_MS,
      history: () => {
        throw shrink();
      },
    });

    const page = await fetchPage(
      api,
      options,
      job({ request: { reqMsgSeq: 30, reqMsgNumber: 4 } }),
      undefined,
    );

    expect(api.historyRequests.map((r) => r.reqMsgNumber)).toEqual([4, 2, 1]);
    expect(page.next).toBe(29);
    expect(page.records).toHaveLength(1);
    expect(page.records[0]).toMatchObject({ msg_seq: 30, group_id: GROUP });
    expect(page.records[0]?.quarantined).toBe(true);
    expect(page.records[0]?.extra?.[EXTRA_REASON_KEY]).toMatch(/10018 \(answer too big\) for this seq alone/);
  });

  it('asks again smaller after an answer that contradicts itself, and refuses one that persists at a single seq', async () => {
    // IsFinished 0 with no message: "more below" and nothing here.
    const empty = (request: HistoryRequest): HistoryPage => ({
      groupId: request.groupId,
      isFinished: 0,
      messages: [],
    });
    const api = new FakeChatApi({ groups: { [GROUP]: MESSAGES }, serverNowMs: () => NOW_MS, history: empty });

    const error = await fetchPage(
      api,
      options,
      job({ request: { reqMsgSeq: 30, reqMsgNumber: 4 } }),
      undefined,
    ).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(InconsistentAnswerError);
    expect((error as Error).message).toMatch(/ReqMsgSeq 30 of @TGS#fetch, even for a single seq/);
    expect(api.historyRequests.map((r) => r.reqMsgNumber)).toEqual([4, 2, 1]);
  });

  it('counts a one-off contradiction and takes the answer asked again', async () => {
    const api = new FakeChatApi({
      groups: { [GROUP]: MESSAGES },
      serverNowMs: () => NOW_MS,
      history: (request, call) =>
        call === 0 ? { groupId: request.groupId, isFinished: 0, messages: [] } : undefined,
    });

    const page = await fetchPage(api, options, job(), undefined);

    expect(page.inconsistent).toBe(1);
    expect(page.calls).toBe(2);
    expect(page.records.map((r) => r.msg_seq)).toEqual([30, 29, 28, 27, 26, 25, 24, 23, 22, 21]);
  });

  it('ends the target at expired history (IsFinished 2 over placeholders older than retention)', async () => {
    const old = NOW_SEC - 30 * 86_400;
    const placeholders = messageRun(5, old).map((m) => ({ ...m, IsPlaceMsg: 1, MsgBody: [] }));
    const api = new FakeChatApi({
      serverNowMs: () => NOW_MS,
      history: (request) => ({ groupId: request.groupId, isFinished: 2, messages: placeholders }),
    });

    const page = await fetchPage(
      api,
      options,
      job({ span: { lo: 1, hi: 5 }, request: { reqMsgSeq: 5, reqMsgNumber: 5 } }),
      undefined,
    );

    expect(page.stop).toBe('expired');
    expect(page.next).toBe(0);
  });

  it('keeps no message older than the look-back, and ends the target there', async () => {
    const api = new FakeChatApi({ groups: { [GROUP]: MESSAGES }, serverNowMs: () => NOW_MS });
    // The look-back reaches seq 25's time: 30..25 are kept, 24..11 are older.
    const floorTime = (MESSAGES[24]?.MsgTimeStamp ?? 0) as number;

    const page = await fetchPage(api, options, job({ floorTime }), undefined);

    expect(page.records.map((r) => r.msg_seq)).toEqual([30, 29, 28, 27, 26, 25]);
    expect(page.stop).toBe('before-floor-time');
    expect(page.next).toBe(0);
  });

  it('lets a run-fatal error through', async () => {
    const fatal = new GiveUpError('fatal-config', 'bad UserSig', { attempts: 1 });
    const api = new FakeChatApi({
      history: () => {
        throw fatal;
      },
    });

    await expect(fetchPage(api, options, job(), undefined)).rejects.toBe(fatal);
    expect(api.historyRequests).toHaveLength(1);
  });
});
