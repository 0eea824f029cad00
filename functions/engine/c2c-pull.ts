/**
 * The pull of one pair (issue 26; docs/one-to-one.md "The pass"): its window paged backwards with
 * `LastMsgKey`, as one span, or as several spans paged at once once the pair proves big and the
 * pass has request slots no other pair needs (functions/domain/c2c-pairs.ts `splitSpan`). A big
 * pair paged one page at a time is bound by round trips (about 11 pages/s at 80 ± 20 ms); split,
 * it can use every idle slot, so the last big pairs of a night do not finish alone.
 *
 * Each page's rows and the pair's new state (the span's cursor) are taken in one synchronous step,
 * as the pass requires (functions/engine/c2c-pass.ts): a checkpoint holds both or neither, and each
 * span's continuation is in the pair's state, so a run that stops or dies mid-span continues every
 * span where its last committed page left it.
 */
import {
  applyPage,
  type C2cPairState,
  estimatePagesLeft,
  openWindow,
  type PageOutcome,
  splitSpan,
  windowSpans,
} from '../domain/c2c-pairs.ts';
import type { RoamApi } from '../domain/ports.ts';
import { isSkipTarget } from '../domain/retry-policy.ts';
import type { RoamPage } from '../domain/tencent-types.ts';
import { type C2cReport, noteSkipped } from './c2c-report.ts';
import type { C2cPairSlot } from './c2c-rescan.ts';

/** `MaxCnt` of every call: the sample's; the 13 KiB answer cap decides the page size anyway. */
const MAX_CNT = 100;

/**
 * A span is split only into parts of at least this many pages (estimated): each part costs up to
 * one partial page more than paging it whole, so the extra calls stay under 1/20 of the pages of
 * the spans split, which only happens when slots would otherwise be idle (the night's tail).
 */
export const MIN_SPAN_PAGES = 20;

/**
 * Spans a pass may add by splitting: one per request slot, and this many per page it has read.
 * Each costs at most one call more than paging its range whole (a partial last page, or one call
 * for a range with no message: the estimate cannot tell a window reaching back past a pair's
 * first message), so past a few thousand pages the calls stay within about 1.03x the minimum
 * whatever the estimates.
 */
export const SPLIT_BUDGET = 0.03;

/** What a pull needs of the pass. */
export interface C2cPullHost {
  /** The pass's API, its calls bounded by the pass's request slots. */
  readonly roam: RoamApi;
  readonly signal: AbortSignal;
  readonly report: C2cReport;
  readonly retentionDays: number;
  /** The server's now, epoch seconds. */
  nowSec(): number;
  /** The run stops (failure, abort, stop, deadline). */
  stopped(): boolean;
  /** Buffers a page's fresh rows; returns the pair's next state (`outcome.next` with their prints). */
  takePage(before: C2cPairState, page: RoamPage, outcome: PageOutcome): C2cPairState;
  /** Starts a checkpoint when one is due (the pass's rule). */
  checkpointIfDue(): void;
  /** Request slots that nothing waits for (no pair left to hand out takes them): 0 when busy. */
  idleSlots(): number;
  /** The pass's request slots. */
  readonly slots: number;
}

interface Pull {
  readonly host: C2cPullHost;
  readonly slot: C2cPairSlot;
  readonly conversation: string;
  /** The identities this run took for the pair (`applyPage`'s `seen`). */
  readonly seen: Set<string>;
  /** The spans being paged (by `maxTime`), and their runs. */
  readonly running: Map<number, Promise<void>>;
  /** What the spans threw; the first stops the others and is thrown once they all ended. */
  readonly failures: unknown[];
}

/** Pages one pair's window until it closes, or the run stops (each span's cursor is kept for the next). */
export async function pullPair(host: C2cPullHost, slot: C2cPairSlot, conversation: string): Promise<void> {
  const { report } = host;
  if (host.stopped()) return;
  report.pairsPulled++;
  let resumed = slot.get().window !== null;
  slot.set(openWindow(slot.get(), host.nowSec(), host.retentionDays));
  const pull: Pull = { host, slot, conversation, seen: new Set(), running: new Map(), failures: [] };
  while (slot.get().window !== null && !host.stopped()) {
    await pageWindow(pull);
    const pair = slot.get();
    if (pair.skipped !== null) return;
    // A window an earlier run opened ends at that run's now: read on to this run's now.
    if (resumed && pair.window === null) {
      resumed = false;
      slot.set(openWindow(pair, host.nowSec(), host.retentionDays));
    }
  }
  if (slot.get().window === null) report.pairsCaughtUp++;
  else report.pairsLeftOpen++;
}

/** Pages every span of the open window at once until they end or the run stops; throws the first failure. */
async function pageWindow(pull: Pull): Promise<void> {
  const window = pull.slot.get().window;
  if (window === null) return;
  for (const span of windowSpans(window)) startSpan(pull, span.maxTime);
  // A span split meanwhile starts more runs: wait until none is left.
  while (pull.running.size > 0) await Promise.all([...pull.running.values()]);
  if (pull.failures.length > 0) throw pull.failures[0];
}

function startSpan(pull: Pull, spanMaxTime: number): void {
  if (pull.running.has(spanMaxTime)) return;
  const run = pageSpan(pull, spanMaxTime)
    .catch((error: unknown) => {
      pull.failures.push(error);
    })
    .finally(() => pull.running.delete(spanMaxTime));
  pull.running.set(spanMaxTime, run);
}

/** The span named `spanMaxTime` of the pair's open window, if it is still to read. */
function spanOf(pair: C2cPairState, spanMaxTime: number) {
  if (pair.window === null || pair.skipped !== null) return undefined;
  return windowSpans(pair.window).find((s) => s.maxTime === spanMaxTime);
}

/** Pages one span to its end (or the run's stop), splitting it when slots are idle. */
async function pageSpan(pull: Pull, spanMaxTime: number): Promise<void> {
  const { host, slot, conversation } = pull;
  let pagesRead = 0;
  for (;;) {
    if (pull.failures.length > 0 || host.stopped()) return;
    const pair = slot.get();
    const span = spanOf(pair, spanMaxTime);
    if (span === undefined || pair.window === null) return;
    const operator = pair.window.operator;
    let page: RoamPage;
    try {
      page = await host.roam.getRoamMessages(
        {
          operatorAccount: operator,
          peerAccount: operator === pair.a ? pair.b : pair.a,
          maxCnt: MAX_CNT,
          minTime: span.minTime,
          maxTime: span.cursorTime,
          ...(span.cursorKey === '' ? {} : { lastMsgKey: span.cursorKey }),
        },
        host.signal,
      );
    } catch (error) {
      if (!isSkipTarget(error)) throw error;
      const now = slot.get();
      if (now.skipped === null) {
        noteSkipped(host.report, conversation, error.message);
        slot.set({ ...now, window: null, skipped: error.message });
      }
      return;
    }
    // From here to the end of the loop body nothing awaits: rows and state move together.
    const before = slot.get();
    if (spanOf(before, spanMaxTime) === undefined) return; // the pair was skipped meanwhile
    host.report.pages++;
    pagesRead++;
    const spanned = before.window?.spans === undefined ? page : { ...page, span: spanMaxTime };
    const outcome = applyPage(before, spanned, pull.seen, host.nowSec());
    host.report.duplicates += outcome.duplicates;
    slot.set(host.takePage(before, page, outcome));
    if (page.complete) return;
    maybeSplit(pull, spanMaxTime, pagesRead);
    host.checkpointIfDue();
  }
}

/**
 * Splits the span into as many parts as there are idle request slots (and one for itself), when
 * it has pages enough left for each part and the pass's budget of spans allows: its first part
 * goes on here, the others start now.
 */
function maybeSplit(pull: Pull, spanMaxTime: number, pagesRead: number): void {
  const idle = pull.host.idleSlots();
  if (idle <= 0) return;
  const pair = pull.slot.get();
  const span = spanOf(pair, spanMaxTime);
  if (span === undefined || pair.window === null) return;
  const pagesLeft = estimatePagesLeft(pair.window, span, pagesRead);
  const { report, slots } = pull.host;
  const budget = slots + Math.floor(SPLIT_BUDGET * report.pages) - report.spansSplit;
  const parts = Math.min(idle + 1, Math.floor(pagesLeft / MIN_SPAN_PAGES), budget + 1);
  if (parts < 2) return;
  const next = splitSpan(pair, spanMaxTime, parts);
  if (next === pair || next.window === null) return;
  pull.slot.set(next);
  pull.host.report.spansSplit += windowSpans(next.window).length - windowSpans(pair.window).length;
  for (const s of windowSpans(next.window)) startSpan(pull, s.maxTime);
}
