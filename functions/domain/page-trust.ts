/**
 * When to believe a page that would end a range (or a window) early. The documentation gives the
 * meanings of `IsFinished` but no proof that the server keeps to them (docs/tencent-api.md, Paging rules and
 * Placeholders), and believing a wrong "nothing left" skips retained history silently. So an early
 * end is trusted only when the data agrees; otherwise the caller asks again with a smaller window
 * and, if the answer stays contradictory, fails the target with a clear error. Pure.
 *
 * - `IsFinished` 2 ("all expired") is trusted when every item is an `IsPlaceMsg` 1 placeholder and,
 *   when the retention horizon is known, the newest of them is beyond it.
 * - `IsFinished` 0 ("cut short") with no item at all is a contradiction: a cut-short page returns
 *   something, or it would never end.
 * - Backstop: a page whose items are all placeholders beyond the retention horizon ends the range
 *   even when the server does not say `IsFinished` 2 (everything below is older still). Live
 *   messages beyond the horizon (a plan keeping more than `retentionDays`) never end it.
 * - A zeroed placeholder (`MsgTimeStamp` 0, see placeholder-time.ts) has no time: it never
 *   contradicts `IsFinished` 2, and it counts towards the backstop only through its `bound` (the
 *   time of a newer message), never through its own zero. A page of zeroed placeholders with no
 *   bound never ends a range by itself.
 */
import { isZeroedTime } from './placeholder-time.ts';

/** What the caller knows about one page, restricted to the window it asked for. */
export interface PageFacts {
  isFinished: number;
  /**
   * `MsgTimeStamp` and `IsPlaceMsg` of the valid items inside the window; `time` is the one the
   * caller decides by (the archive's for a message it holds). A zeroed `time` is unknown; `bound`
   * is then an upper bound of it (see `newerBounds` in placeholder-time.ts), or null / absent.
   */
  items: readonly { time: number; place: number; bound?: number | null }[];
  /** Items the page schema rejected (kept as flagged rows): they count as "something returned". */
  rejected: number;
  /** Epoch seconds before which messages are gone (server clock), or null when unknown. */
  horizonSec: number | null;
}

export type PageVerdict =
  | { kind: 'ok' }
  /** The page contradicts itself: ask again with a smaller window; at one seq, fail the target. */
  | { kind: 'distrust'; reason: string }
  /** Everything here is beyond retention: end the range (the backstop, or a trusted `IsFinished` 2). */
  | { kind: 'expired' };

/**
 * Slack on the retention horizon, a day either way: the server's own word (`IsFinished` 2) is
 * believed up to a day before the horizon (a plan's rounding, an early expiry job), while the
 * backstop, which acts without it, waits until a day after it (a late expiry never ends a range early).
 */
export const HORIZON_SLACK_SEC = 86_400;

/** The retention horizon (epoch seconds) on the server's clock, or null when the retention is unknown. */
export function retentionHorizonSec(
  serverNowMs: number,
  retentionDays: number | null | undefined,
): number | null {
  if (retentionDays === null || retentionDays === undefined) return null;
  return Math.floor(serverNowMs / 1000) - Math.round(retentionDays * 86_400);
}

export function judgePage(facts: PageFacts): PageVerdict {
  const { items, horizonSec } = facts;
  const allPlaceholders = items.length > 0 && items.every((m) => m.place === 1);
  // Only a real time can refute the server's "all expired"; only a real time or an upper bound of
  // one can prove it without the server's word.
  let newest = Number.NEGATIVE_INFINITY;
  let newestBound = Number.NEGATIVE_INFINITY;
  for (const m of items) {
    const known = !isZeroedTime(m.time);
    if (known) newest = Math.max(newest, m.time);
    const bound = known ? m.time : (m.bound ?? Number.POSITIVE_INFINITY);
    newestBound = Math.max(newestBound, isZeroedTime(bound) ? Number.POSITIVE_INFINITY : bound);
  }
  const plausiblyExpired = horizonSec === null || newest < horizonSec + HORIZON_SLACK_SEC;
  const certainlyExpired = horizonSec !== null && newestBound < horizonSec - HORIZON_SLACK_SEC;
  if (facts.isFinished === 2) {
    if (allPlaceholders && plausiblyExpired) return { kind: 'expired' };
    const why = !allPlaceholders
      ? items.length === 0
        ? 'it returned no message'
        : 'it holds messages that are not expired placeholders'
      : `its newest placeholder (${newest}) is more than a day newer than the retention horizon (${horizonSec})`;
    return { kind: 'distrust', reason: `IsFinished 2 ("all expired") but ${why}` };
  }
  if (facts.isFinished === 0 && items.length === 0 && facts.rejected === 0) {
    return { kind: 'distrust', reason: 'IsFinished 0 ("cut short") with no message in the window' };
  }
  if (allPlaceholders && certainlyExpired) return { kind: 'expired' };
  return { kind: 'ok' };
}
