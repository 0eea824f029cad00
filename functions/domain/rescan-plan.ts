/**
 * The rescan's plan, pure: which days a rescan cycle covers (on the server's clock), which seqs of
 * a target it re-reads, and the small progress document that lets a cycle continue after a
 * deadline or a kill instead of starting over.
 *
 * Correctness does not rest on the progress document: a revision row and its fingerprint-log entry
 * commit together, so re-reading a message that was already compared finds its latest revision and
 * writes nothing. The progress only saves calls.
 */
import * as z from 'zod';
import { PAGE_SIZE, type SeqWindow } from './continuation.ts';
import type { PrintEntry, TargetPrints } from './fingerprint-log.ts';
import { dateInZone } from './partition.ts';
import type { ChangeKind } from './record.ts';
import { type ContentState, classifyChange } from './revisions.ts';

/**
 * Messages this close to the retention edge are not compared: the server may already show them as
 * expired `IsPlaceMsg` 1 placeholders, which must not be recorded as deletions.
 */
export const RETENTION_MARGIN_SECONDS = 3_600;

/** A cycle older than this is abandoned and a new one starts (its window has moved on). */
export const CYCLE_MAX_AGE_SECONDS = 86_400;

/** One rescan cycle: a fixed window and how far through it the committed work reached. */
export interface RescanCycle {
  /** Local epoch seconds of the run that started it: records observed since are not compared again. */
  startedAtSec: number;
  /** Server epoch seconds: messages older than this are out of the window. */
  windowStartSec: number;
  /** The `dt` partitions the window touches, oldest first. */
  days: string[];
  /** Index into `days` of the day in progress. */
  dayIndex: number;
  /** Targets of that day (in `compareTargets` order) whose rescan is committed. */
  targetsDone: number;
}

export interface RescanProgress {
  version: 1;
  cycle: RescanCycle | null;
  /** Local epoch seconds when the last cycle completed, or null. */
  lastCompletedAtSec: number | null;
}

const ProgressSchema = z.object({
  version: z.literal(1),
  cycle: z
    .object({
      startedAtSec: z.number().int(),
      windowStartSec: z.number().int(),
      days: z.array(z.string().regex(/^\d{4}-\d{2}-\d{2}$/)),
      dayIndex: z.number().int().nonnegative(),
      targetsDone: z.number().int().nonnegative(),
    })
    .nullable(),
  lastCompletedAtSec: z.number().int().nullable(),
});

/** Parses a stored progress document; anything unreadable means "no cycle in progress". */
export function parseRescanProgress(text: string | undefined): RescanProgress {
  const empty: RescanProgress = { version: 1, cycle: null, lastCompletedAtSec: null };
  if (text === undefined) return empty;
  try {
    const parsed = ProgressSchema.safeParse(JSON.parse(text));
    return parsed.success ? parsed.data : empty;
  } catch {
    return empty;
  }
}

/** The window a rescan of `days` covers now, bounded by the retention margin. Server epoch seconds. */
export function rescanWindowStart(serverNowSec: number, days: number, retentionDays: number): number {
  const byDays = serverNowSec - Math.round(days * 86_400);
  const byRetention = serverNowSec - Math.round(retentionDays * 86_400) + RETENTION_MARGIN_SECONDS;
  return Math.max(byDays, byRetention);
}

/** The `dt` dates from `fromSec` to `toSec` in `timeZone`, oldest first, each once. */
export function daysBetween(fromSec: number, toSec: number, timeZone: string): string[] {
  const days: string[] = [];
  // Step by hours so zones with odd offsets and DST changes never skip a date.
  for (let t = fromSec; t <= toSec + 3_600; t += 3_600) {
    const day = dateInZone(Math.min(t, toSec), timeZone);
    if (days[days.length - 1] !== day) days.push(day);
  }
  return days;
}

/**
 * The cycle this run works on: the one in progress when it is recent and its window still lies
 * inside retention, else a new one over the last `days` of the server's clock.
 */
export function chooseCycle(args: {
  progress: RescanProgress;
  localNowSec: number;
  serverNowSec: number;
  days: number;
  retentionDays: number;
  timeZone: string;
}): RescanCycle {
  const current = args.progress.cycle;
  const retentionEdge =
    args.serverNowSec - Math.round(args.retentionDays * 86_400) + RETENTION_MARGIN_SECONDS;
  if (
    current !== null &&
    args.localNowSec - current.startedAtSec <= CYCLE_MAX_AGE_SECONDS &&
    current.windowStartSec >= retentionEdge &&
    current.dayIndex <= current.days.length
  ) {
    return current;
  }
  const windowStartSec = rescanWindowStart(args.serverNowSec, args.days, args.retentionDays);
  return {
    startedAtSec: args.localNowSec,
    windowStartSec,
    days: daysBetween(windowStartSec, args.serverNowSec, args.timeZone),
    dayIndex: 0,
    targetsDone: 0,
  };
}

/** Whether the archive's latest revision of a message is to be compared in this cycle. */
export function isCandidate(entry: PrintEntry, cycle: RescanCycle): boolean {
  return (
    entry.msgTime >= cycle.windowStartSec &&
    (entry.observedAt === null || entry.observedAt < cycle.startedAtSec)
  );
}

/**
 * The seq windows (newest first, at most {@link PAGE_SIZE} seqs each) that cover every candidate
 * of a target. A run of seqs without candidates between two candidates is skipped, so a target
 * costs ceil(candidates / 20) calls when its seqs are dense.
 */
export function rescanWindows(prints: TargetPrints, cycle: RescanCycle): SeqWindow[] {
  const seqs: number[] = [];
  for (let i = 0; i < prints.size; i++) {
    const entry = prints.at(i);
    if (isCandidate(entry, cycle)) seqs.push(entry.seq);
  }
  const windows: SeqWindow[] = [];
  let k = seqs.length - 1;
  while (k >= 0) {
    const hi = seqs[k] as number;
    const lo = Math.max(1, hi - PAGE_SIZE + 1);
    windows.push({ lo, hi });
    while (k >= 0 && (seqs[k] as number) >= lo) k--;
  }
  return windows;
}

/** Keeps, per (group, topic), only the newest generation: older generations' seqs are gone. */
export function currentGenerations(targets: readonly TargetPrints[]): TargetPrints[] {
  const newest = new Map<string, number>();
  const key = (t: TargetPrints) => JSON.stringify([t.target.groupId, t.target.topicId]);
  for (const t of targets) newest.set(key(t), Math.max(newest.get(key(t)) ?? 0, t.target.generation));
  return targets.filter((t) => newest.get(key(t)) === t.target.generation);
}

/** What the rescan does with one message it re-read (see {@link judgeRescanned}). */
export type RescanVerdict =
  /** Not compared: outside this cycle, or too close to the retention edge. */
  | { kind: 'skip' }
  /** Compared, and the same as the archive's latest revision. */
  | { kind: 'same' }
  /** Compared and changed: a revision row `revision` of kind `change`, filed under `filedAt`. */
  | { kind: 'changed'; change: ChangeKind; revision: number; filedAt: number };

/**
 * The rescan's decision about a message the archive holds (`archived`, its latest revision in the
 * fingerprint log) from what the server shows now (`current`). Every time it uses is the
 * archive's, `archived.msgTime`, never the served `MsgTimeStamp`: a deleted message may come back
 * as a placeholder with every field zeroed (placeholder-time.ts), and its 0 would put it beyond
 * the retention horizon and the deletion would go unrecorded. The revision row (which keeps the
 * served fields) is filed under the same time, so it lands in the `dt` of the original message.
 *
 * @param horizonSec - messages older than this (server epoch seconds, margin included) are not
 *   compared: the server may show them as expired placeholders, which are not deletions.
 */
export function judgeRescanned(
  archived: PrintEntry,
  current: ContentState,
  cycle: RescanCycle,
  horizonSec: number,
): RescanVerdict {
  if (!isCandidate(archived, cycle) || archived.msgTime < horizonSec) return { kind: 'skip' };
  const change = classifyChange(archived, current);
  if (change === null) return { kind: 'same' };
  return { kind: 'changed', change, revision: archived.revision + 1, filedAt: archived.msgTime };
}
