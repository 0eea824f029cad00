/** Fetching one seq window of a target: one or more `group_msg_get_simple` pages. */
import { evaluatePage, inWindow, type SeqWindow, type TargetRef } from '../domain/continuation.ts';
import { GiveUpError } from '../domain/errors.ts';
import { toRecord } from '../domain/record.ts';
import type { ChatApi, RawMessage } from '../domain/tencent-types.ts';
import type { RunOptions } from './run-options.ts';
import type { WindowResult } from './target-work.ts';

/** Fetch one window, following short pages, filtering to the window and the look-back. */
export async function fetchWindow(
  api: ChatApi,
  options: RunOptions,
  ref: TargetRef,
  floorTime: number | null,
  window: SeqWindow,
  signal: AbortSignal | undefined,
): Promise<WindowResult> {
  const bySeq = new Map<number, RawMessage>();
  let reqMsgSeq = window.hi;
  let reqMsgNumber = window.hi - window.lo + 1;
  let pages = 0;
  let stop: WindowResult['stop'] = false;
  for (;;) {
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
    pages++;
    const inside = inWindow(window, page.messages);
    for (const m of inside) if (floorTime === null || m.MsgTimeStamp >= floorTime) bySeq.set(m.MsgSeq, m);
    const outcome = evaluatePage({
      window,
      reqMsgSeq,
      reqMsgNumber,
      isFinished: page.isFinished,
      seqs: inside.map((m) => m.MsgSeq),
      oldestTime: inside.length === 0 ? undefined : Math.min(...inside.map((m) => m.MsgTimeStamp)),
      floorTime,
    });
    if (outcome.kind === 'window-done') {
      if (outcome.stopTarget) stop = outcome.reason;
      break;
    }
    if (outcome.reqMsgSeq >= reqMsgSeq) break; // no progress: never loop forever on an odd answer
    reqMsgSeq = outcome.reqMsgSeq;
    reqMsgNumber = outcome.reqMsgNumber;
  }
  const records = [...bySeq.values()]
    .sort((a, b) => b.MsgSeq - a.MsgSeq)
    .map((m) =>
      toRecord(m, {
        sdkAppId: options.sdkAppId,
        groupId: ref.groupId,
        topicId: ref.topicId,
        observedAt: options.observedAtSec ?? null,
      }),
    );
  return { records, pages, stop };
}
