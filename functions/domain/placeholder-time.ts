/**
 * Placeholders without a time. A deleted or expired message reads as an `IsPlaceMsg` 1
 * placeholder with an empty `MsgBody`; under the strictest reading the server also zeroes its
 * other fields (`MsgTimeStamp` 0, `From_Account` "", `MsgRandom` 0). A zeroed time says nothing
 * about the message, so no decision may rest on it (the row itself keeps it, exactly as served):
 *
 * - For a message the archive already holds, its time is the fingerprint log's (the time it was
 *   filed under when first archived): see `judgeRescanned` in `rescan-plan.ts`.
 * - For a placeholder never archived before, paging knows only its neighbours. Seqs are given out
 *   in send order, so every newer message (a higher seq) was sent no earlier: the nearest newer
 *   message with a time is an upper bound of its time ({@link newerBounds}). That bound may end a
 *   range as expired (it is beyond retention, so is everything below it); the absence of a time
 *   never does.
 * - Such a placeholder is filed ({@link filingTimes}: the `dt` partition, and the time its
 *   fingerprint-log entry keeps) under its nearest newer neighbour's time on the same page, else
 *   its nearest older neighbour's there, else a newer message's time from an earlier page or the
 *   group's last message time, else the run's observation time.
 *
 * Pure.
 */

/** Whether a served `MsgTimeStamp` is no time at all (a zeroed placeholder: 0, or anything before 1970). */
export function isZeroedTime(time: number): boolean {
  return !(time > 0);
}

/** One page item as these rules need it. */
export interface TimedItem {
  readonly seq: number;
  /** The served `MsgTimeStamp` (0 for a zeroed placeholder). */
  readonly time: number;
}

/**
 * For each item (any order), an upper bound of its time: its own time when it has one, else the
 * oldest time among the newer items (the nearest newer one, as times rise with seqs), else `newerSec` (the oldest time known above the
 * page, say from earlier pages of the same run), else null (nothing is known). Keyed by seq.
 */
export function newerBounds(
  items: readonly TimedItem[],
  newerSec: number | null,
): Map<number, number | null> {
  const bySeq = [...items].sort((a, b) => b.seq - a.seq);
  const out = new Map<number, number | null>();
  let bound = newerSec !== null && !isZeroedTime(newerSec) ? newerSec : null;
  for (const item of bySeq) {
    if (!isZeroedTime(item.time)) bound = bound === null ? item.time : Math.min(bound, item.time);
    out.set(item.seq, isZeroedTime(item.time) ? bound : item.time);
  }
  return out;
}

/**
 * The time each item is filed under (its `dt` partition and its fingerprint-log time), keyed by
 * seq, for the items whose served time is zeroed: the nearest newer time on the page, else the
 * nearest older time on the page, else `newerSec` (a newer message's time from outside the page),
 * else `observedSec`. Neighbours on the page come first: they are the message's own neighbours,
 * whatever order pages were fetched in. Items with a time of their own are filed under it and are
 * not in the map.
 */
export function filingTimes(
  items: readonly TimedItem[],
  newerSec: number | null,
  observedSec: number,
): Map<number, number> {
  const onPage = newerBounds(items, null);
  const outside = newerSec !== null && !isZeroedTime(newerSec) ? newerSec : null;
  const bySeq = [...items].sort((a, b) => a.seq - b.seq);
  const out = new Map<number, number>();
  let older: number | null = null;
  for (const item of bySeq) {
    if (!isZeroedTime(item.time)) {
      older = item.time;
      continue;
    }
    out.set(item.seq, onPage.get(item.seq) ?? older ?? outside ?? observedSec);
  }
  return out;
}
