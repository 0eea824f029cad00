/**
 * Fetching one page of a span of a target: one `group_msg_get_simple` call (more after a 10018 or
 * an answer that contradicts itself, each asked again smaller).
 */
import { evaluatePage, inWindow, type SeqWindow, type TargetRef } from '../domain/continuation.ts';
import { InconsistentAnswerError } from '../domain/errors.ts';
import { judgePage, retentionHorizonSec } from '../domain/page-trust.ts';
import { filingTimes, newerBounds } from '../domain/placeholder-time.ts';
import type { ChatApi } from '../domain/ports.ts';
import { type ArchiveRecord, type RecordContext, toQuarantinedRecord, toRecord } from '../domain/record.ts';
import { isShrinkRequest } from '../domain/retry-policy.ts';
import type { RawMessage, RejectedItem } from '../domain/tencent-types.ts';
import { TENCENT_APIS } from '../domain/tencent-types.ts';
import type { RunOptions } from './run-options.ts';
import type { PageResult } from './target-work.ts';

/** Which page of which target to fetch. */
export interface PageFetch {
  readonly ref: TargetRef;
  /** The look-back: messages older than this (epoch seconds) are not archived; null = none. */
  readonly floorTime: number | null;
  /** The span being paged: only messages inside it are kept. */
  readonly span: SeqWindow;
  /** `newerSec`: the oldest time known above the request (an upper bound of its messages' times). */
  readonly request: { reqMsgSeq: number; reqMsgNumber: number; newerSec?: number | null };
  /** The target's seq-space incarnation (see continuation.ts), written into every record (default 0). */
  readonly generation?: number;
}

/**
 * Fetch the next page of `span` (from `request.reqMsgSeq` down, at most 20 seqs), keep the messages
 * inside the span and the look-back, and say where the span continues: below the smallest seq
 * returned, so a page cut short costs no extra call (docs/tencent-api.md, Paging rules).
 *
 * A zeroed placeholder (`MsgTimeStamp` 0, see `functions/domain/placeholder-time.ts`) decides
 * nothing by its 0: it is beyond retention or the look-back only when a newer message's time
 * (`request.newerSec`, or a newer item of the page) says so, and it is filed under its
 * neighbours' time (`PageResult.filedAt`), its row kept exactly as served.
 */
export async function fetchPage(
  api: ChatApi,
  options: RunOptions,
  job: PageFetch,
  signal: AbortSignal | undefined,
): Promise<PageResult> {
  const { ref, floorTime, span, request } = job;
  const generation = job.generation ?? 0;
  let { reqMsgSeq, reqMsgNumber } = request;
  const newerSec = request.newerSec ?? null;
  let calls = 0;
  let inconsistent = 0;
  const bySeq = new Map<number, RawMessage>();
  // Items the page schema rejected, and seqs too big to answer even alone: archived as flagged rows.
  const quarantined = new Map<number, RejectedItem>();
  const result = (next: number, short: boolean, stop: PageResult['stop']): PageResult => {
    const ctx = {
      sdkAppId: options.sdkAppId,
      groupId: ref.groupId,
      topicId: ref.topicId,
      generation,
      observedAt: options.observedAtSec ?? null,
    };
    const nowSec = Math.floor(api.serverNowMs() / 1000);
    const { records, filedAt } = pageRecords(bySeq, quarantined, ctx, { newerSec, nowSec });
    return { records, calls, next, short, stop, inconsistent, ...(filedAt.size > 0 ? { filedAt } : {}) };
  };
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
      // 10018: the answer would exceed 1 MB; ask for fewer messages (docs/tencent-api.md, Error codes).
      if (isShrinkRequest(error) && reqMsgNumber > 1) {
        reqMsgNumber = Math.ceil(reqMsgNumber / 2);
        continue;
      }
      // Too big even alone: record that seq as a flagged row and go on below it (never an endless retry).
      if (isShrinkRequest(error)) {
        quarantined.set(reqMsgSeq, {
          text: '',
          reason: `group_msg_get_simple answered 10018 (answer too big) for this seq alone: ${error.message}`,
          msgSeq: reqMsgSeq,
        });
        return result(reqMsgSeq - 1, false, false);
      }
      throw error;
    }
    // One message per seq, even if an answer repeated one.
    const inside = [...new Map(inWindow(span, page.messages).map((m) => [m.MsgSeq, m])).values()];
    const rejected = (page.rejected ?? []).filter(
      (r) => r.msgSeq === null || (r.msgSeq >= span.lo && r.msgSeq <= span.hi),
    );
    // Upper bounds of the times (a zeroed placeholder's from a newer message): see placeholder-time.ts.
    const bounds = newerBounds(
      inside.map((m) => ({ seq: m.MsgSeq, time: m.MsgTimeStamp })),
      newerSec,
    );
    const verdict = judgePage({
      isFinished: page.isFinished,
      items: inside.map((m) => ({
        time: m.MsgTimeStamp,
        place: Number(m.IsPlaceMsg ?? 0),
        bound: bounds.get(m.MsgSeq) ?? null,
      })),
      rejected: rejected.length,
      horizonSec: retentionHorizonSec(api.serverNowMs(), options.retentionDays),
    });
    if (verdict.kind === 'distrust') {
      inconsistent++;
      if (reqMsgNumber > 1) {
        reqMsgNumber = Math.ceil(reqMsgNumber / 2);
        continue;
      }
      throw new InconsistentAnswerError(
        TENCENT_APIS.groupMsgGetSimple,
        `${verdict.reason} at ReqMsgSeq ${reqMsgSeq} of ${ref.topicId ?? ref.groupId}, even for a single seq; the target is not advanced past it (check the plan's retention against apps[].retentionDays)`,
      );
    }
    // Inside the look-back, or not known to be outside it (a zeroed placeholder with no newer time).
    for (const m of inside) {
      const bound = bounds.get(m.MsgSeq) ?? null;
      if (floorTime === null || bound === null || bound >= floorTime) bySeq.set(m.MsgSeq, m);
    }
    for (const r of rejected) quarantined.set(r.msgSeq ?? 0, r);
    if (verdict.kind === 'expired') return result(span.lo - 1, false, 'expired');
    const outcome = evaluatePage({
      window: span,
      reqMsgSeq,
      reqMsgNumber,
      isFinished: page.isFinished,
      seqs: [
        ...inside.map((m) => m.MsgSeq),
        ...rejected.flatMap((r) => (r.msgSeq === null ? [] : [r.msgSeq])),
      ],
      // An upper bound below the look-back is proof enough that everything below is older still.
      oldestTime: oldestBound(bounds),
      floorTime,
    });
    if (outcome.kind === 'window-done') {
      return result(span.lo - 1, false, outcome.stopTarget ? outcome.reason : false);
    }
    // Never loop on an odd answer: the next request is always strictly below this one.
    return result(Math.min(outcome.reqMsgSeq, reqMsgSeq - 1), page.isFinished === 0, false);
  }
}

/** The oldest of the known times and upper bounds (see placeholder-time.ts), if any. */
function oldestBound(bounds: ReadonlyMap<number, number | null>): number | undefined {
  let oldest: number | undefined;
  for (const bound of bounds.values()) if (bound !== null) oldest = Math.min(oldest ?? bound, bound);
  return oldest;
}

/**
 * The records of a page, newest first, then its flagged rows; and the time each zeroed
 * placeholder is filed under (beside its neighbours, see placeholder-time.ts). A flagged row
 * without a fileable time of its own (none, or after 9999) is filed the same way, as if zeroed.
 */
function pageRecords(
  bySeq: ReadonlyMap<number, RawMessage>,
  quarantined: ReadonlyMap<number, RejectedItem>,
  ctx: RecordContext,
  times: { newerSec: number | null; nowSec: number },
): { records: ArchiveRecord[]; filedAt: Map<ArchiveRecord, number> } {
  const flagged = [...quarantined].filter(([seq]) => !bySeq.has(seq));
  const items = [
    ...[...bySeq.values()].map((m) => ({ seq: m.MsgSeq, time: m.MsgTimeStamp })),
    ...flagged.map(([seq]) => ({ seq, time: 0 })),
  ];
  const observedSec = ctx.observedAt ?? times.nowSec;
  const filing = filingTimes(items, times.newerSec, observedSec);
  const filedAt = new Map<ArchiveRecord, number>();
  const records: ArchiveRecord[] = [...bySeq.values()]
    .sort((a, b) => b.MsgSeq - a.MsgSeq)
    .map((m) => {
      const record = toRecord(m, ctx);
      const time = filing.get(m.MsgSeq);
      if (time !== undefined) filedAt.set(record, time);
      return record;
    });
  for (const [seq, item] of flagged) {
    records.push(toQuarantinedRecord(item, { ...ctx, fallbackTime: filing.get(seq) ?? observedSec }));
  }
  return { records, filedAt };
}
