/** Fetching one page of a span of a target: one `group_msg_get_simple` call (more after a 10018). */
import { evaluatePage, inWindow, type SeqWindow, type TargetRef } from '../domain/continuation.ts';
import { GiveUpError } from '../domain/errors.ts';
import { toRecord } from '../domain/record.ts';
import type { ChatApi } from '../domain/tencent-types.ts';
import type { RunOptions } from './run-options.ts';
import type { PageResult } from './target-work.ts';

/**
 * Fetch the next page of `span` (its `hi` down, at most 20 seqs), keep the messages inside the
 * span and the look-back, and say where the span continues: below the smallest seq returned, so a
 * page cut short costs no extra call (reference §3.6).
 */
export async function fetchPage(
  api: ChatApi,
  options: RunOptions,
  ref: TargetRef,
  floorTime: number | null,
  span: SeqWindow,
  request: { reqMsgSeq: number; reqMsgNumber: number },
  signal: AbortSignal | undefined,
): Promise<PageResult> {
  const { reqMsgSeq } = request;
  let { reqMsgNumber } = request;
  let calls = 0;
  for (;;) {
    calls++;
    let page: Awaited<ReturnType<ChatApi['getHistory']>>;
    try {
      page = await api.getHistory(
        {
          groupId: ref.groupId,
          topicId: ref.topicId ?? undefined,
          reqMsgSeq,
          reqMsgNumber,
          withRecalledMsg: options.withRecalledMsg,
        },
        signal,
      );
    } catch (error) {
      // 10018: the answer would exceed 1 MB; ask for fewer messages (reference §3.7).
      if (error instanceof GiveUpError && error.action === 'shrink-request' && reqMsgNumber > 1) {
        reqMsgNumber = Math.ceil(reqMsgNumber / 2);
        continue;
      }
      throw error;
    }
    // One message per seq, even if an answer repeated one.
    const inside = [...new Map(inWindow(span, page.messages).map((m) => [m.MsgSeq, m])).values()];
    const kept = floorTime === null ? inside : inside.filter((m) => m.MsgTimeStamp >= floorTime);
    const outcome = evaluatePage({
      window: span,
      reqMsgSeq,
      reqMsgNumber,
      isFinished: page.isFinished,
      seqs: inside.map((m) => m.MsgSeq),
      oldestTime: inside.length === 0 ? undefined : Math.min(...inside.map((m) => m.MsgTimeStamp)),
      floorTime,
    });
    const records = kept
      .sort((a, b) => b.MsgSeq - a.MsgSeq)
      .map((m) => toRecord(m, { sdkAppId: options.sdkAppId, groupId: ref.groupId, topicId: ref.topicId }));
    if (outcome.kind === 'window-done') {
      return {
        records,
        calls,
        next: span.lo - 1,
        short: false,
        stop: outcome.stopTarget ? outcome.reason : false,
      };
    }
    // Never loop on an odd answer: the next request is always strictly below this one.
    const next = Math.min(outcome.reqMsgSeq, reqMsgSeq - 1);
    return { records, calls, next, short: page.isFinished === 0, stop: false };
  }
}
