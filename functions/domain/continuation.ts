/**
 * The continuation: what has been archived per target (a group, or a topic of a Community group)
 * and where an interrupted range resumes. Pure data and pure transitions; the engine persists it
 * with conditional writes (see `functions/engine/state-keeper.ts`).
 *
 * Invariant per target: every seq `<= highWater` is archived, and while a range is in progress,
 * every seq in `(cursor, top]` is archived too. When the range carries a `todo` list (several spans
 * of one target paged in parallel), every seq in `[highWater + 1, top]` that lies in no `todo`
 * interval is archived as well, and `cursor` is the `hi` of the highest one; without `todo`, the
 * rest is the single interval `[highWater + 1, cursor]`. The range is done when nothing is left to
 * do; only then does `highWater` advance to `top`. Nothing is ever claimed that was not written.
 */
import * as z from 'zod';
import { StateCorruptError } from './errors.ts';
import type { Lease, RolledBackKey } from './lease.ts';

export const STATE_VERSION = 1;

export interface TargetRef {
  readonly groupId: string;
  /** Set for a topic of a topic-enabled Community group; seqs are per topic. */
  readonly topicId: string | null;
}

export interface RangeProgress {
  /** Newest seq of the range, snapshotted when the range started (so a run always ends). */
  top: number;
  /** Next seq to fetch, going down; `(cursor, top]` is archived. */
  cursor: number;
  /** Messages older than this (epoch seconds) are out of scope (first-run look-back), or null. */
  floorTime: number | null;
  /** `MsgTimeStamp` of the newest message archived in this range, once known. */
  topTime: number | null;
  /**
   * Seqs still to fetch below `cursor`, as disjoint inclusive intervals, highest first (the first
   * one's `hi` is `cursor`). Absent: everything from `cursor` down to `highWater + 1`.
   */
  todo?: SeqWindow[];
}

export interface TargetState extends TargetRef {
  /** Every seq `<= highWater` is archived (0: nothing yet). */
  highWater: number;
  /** `MsgTimeStamp` of the newest archived message, once known (for lag and retention headroom). */
  highWaterTime: number | null;
  inProgress: RangeProgress | null;
  /**
   * Which incarnation of the target's seq space: 0, bumped when its newest seq went below the
   * archived high-water mark (dissolved and re-created under the same id, or a server reset).
   */
  generation: number;
}

export type { Lease } from './lease.ts';

/** Objects a checkpoint is about to write; cleared when the checkpoint commits. */
export interface PendingWrite {
  runId: string;
  objects: string[];
}

export interface ArchiveState {
  version: typeof STATE_VERSION;
  sdkAppId: number;
  lease: Lease | null;
  pending: PendingWrite | null;
  /** Keys of rolled-back checkpoints, deleted again by every run until they expire (see lease.ts). */
  rolledBack: RolledBackKey[];
  targets: TargetState[];
}

const seq = z.number().int().nonnegative();
/** One target's state, as stored (also in the objects of the base-plus-deltas layout, state-layout.ts). */
export const TargetSchema = z.object({
  groupId: z.string().min(1),
  topicId: z.string().min(1).nullable(),
  highWater: seq,
  // Added after the first release of version 1; absent in older documents.
  highWaterTime: z.number().int().nullable().default(null),
  generation: z.number().int().nonnegative().default(0),
  inProgress: z
    .object({
      top: seq,
      cursor: seq,
      floorTime: z.number().int().nullable(),
      topTime: z.number().int().nullable().default(null),
      // Added with parallel spans per target; absent in older documents.
      todo: z
        .array(z.object({ lo: seq, hi: seq }).refine((w) => w.lo <= w.hi, 'lo must not exceed hi'))
        .optional(),
    })
    .refine((r) => r.cursor <= r.top, 'cursor must not exceed top')
    .refine(
      (r) =>
        r.todo === undefined ||
        r.todo.every((w, i) => (i === 0 ? w.hi === r.cursor : w.hi < (r.todo?.[i - 1]?.lo ?? 0))),
      'todo must be disjoint, highest first, and start at cursor',
    )
    .nullable(),
});

/** The fields of the state's head besides the targets (shared by both layouts, see state-layout.ts). */
export const HeadFieldsShape = {
  sdkAppId: z.number().int().positive(),
  lease: z
    .object({
      owner: z.string().min(1),
      expiresAtMs: z.number(),
      // Added after the first release of version 1; absent in older documents.
      holder: z
        .object({ host: z.string(), pid: z.number().int(), startedAt: z.string() })
        .nullable()
        .default(null),
    })
    .nullable(),
  pending: z.object({ runId: z.string().min(1), objects: z.array(z.string().min(1)) }).nullable(),
  rolledBack: z.array(z.object({ key: z.string().min(1), untilMs: z.number() })).default([]),
};

const StateSchema = z.object({
  version: z.literal(STATE_VERSION),
  ...HeadFieldsShape,
  targets: z.array(TargetSchema),
});

/** A fresh state for an app that was never archived. */
export function emptyState(sdkAppId: number): ArchiveState {
  return { version: STATE_VERSION, sdkAppId, lease: null, pending: null, rolledBack: [], targets: [] };
}

/**
 * Parse and validate a stored state document.
 * @throws StateCorruptError naming the problem and the way out (restore a previous version of the object).
 */
export function parseState(text: string, expectedSdkAppId: number, location: string): ArchiveState {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (cause) {
    throw new StateCorruptError(
      `The state object ${location} is not valid JSON. Restore it from a previous version (S3 versioning) or a backup; ` +
        'deleting it makes the next run re-archive all retained history.',
      { cause },
    );
  }
  const version = (json as { version?: unknown } | null)?.version;
  if (version !== STATE_VERSION) {
    throw new StateCorruptError(
      `The state object ${location} has version ${JSON.stringify(version)}, but this archiver reads version ${STATE_VERSION}. ` +
        'Use the archiver release that wrote it, or restore an older state object.',
    );
  }
  const parsed = StateSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new StateCorruptError(
      `The state object ${location} is damaged (${issue?.path.join('.') || '(root)'}: ${issue?.message}). ` +
        'Restore it from a previous version (S3 versioning) or a backup.',
      { cause: parsed.error },
    );
  }
  if (parsed.data.sdkAppId !== expectedSdkAppId) {
    throw new StateCorruptError(
      `The state object ${location} belongs to SDKAppID ${parsed.data.sdkAppId}, not ${expectedSdkAppId}.`,
    );
  }
  return parsed.data as ArchiveState;
}

/** Serialise a state document (stable key order, readable). */
export function serializeState(state: ArchiveState): string {
  return `${JSON.stringify(state, null, 2)}\n`;
}

/** The identity of a target as a map key. */
export function targetKey(ref: TargetRef): string {
  return JSON.stringify([ref.groupId, ref.topicId]);
}

/** A contiguous block of seqs fetched by one or more `group_msg_get_simple` calls. */
export interface SeqWindow {
  /** Inclusive bounds, `lo <= hi`. */
  readonly lo: number;
  readonly hi: number;
}

/** `group_msg_get_simple` returns at most 20 messages a call. */
export const PAGE_SIZE = 20;

/**
 * A span this short or shorter is never split: 100 pages, so the one extra call a span boundary
 * can cost (its last page asks for fewer than 20 seqs) is at most 1% of the span's calls.
 */
export const MIN_SPAN_SEQS = 100 * PAGE_SIZE;

/** The seqs of a range still to fetch, highest first (`floor` is `highWater + 1`). */
export function pendingSpans(range: RangeProgress, floor: number): SeqWindow[] {
  const todo = range.todo ?? [{ lo: floor, hi: range.cursor }];
  return todo.filter((w) => w.hi >= floor).map((w) => ({ lo: Math.max(w.lo, floor), hi: w.hi }));
}

/**
 * Split what is left of a range into at most `maxSpans` spans of at least {@link MIN_SPAN_SEQS}
 * seqs, highest first, each to be paged sequentially by following (the next request starts below
 * the smallest seq returned). Spans are fetched in parallel, so a large target keeps many requests
 * in flight, and extra calls occur only at span boundaries. Existing intervals are kept (a resumed
 * run continues exactly where each one stopped); only intervals large enough are cut, at multiples
 * of {@link PAGE_SIZE} below their top, so full pages end exactly on a boundary.
 */
export function planSpans(pending: readonly SeqWindow[], maxSpans: number): SeqWindow[] {
  const total = pending.reduce((sum, w) => sum + (w.hi - w.lo + 1), 0);
  const wanted = Math.max(1, Math.min(Math.floor(maxSpans), Math.floor(total / MIN_SPAN_SEQS)));
  if (pending.length >= wanted) return pending.map((w) => ({ ...w }));
  const spans: SeqWindow[] = [];
  for (const w of pending) {
    const size = w.hi - w.lo + 1;
    const parts = Math.max(
      1,
      Math.min(Math.floor(size / MIN_SPAN_SEQS), Math.round((size / total) * wanted)),
    );
    const step = Math.ceil(size / parts / PAGE_SIZE) * PAGE_SIZE;
    for (let hi = w.hi; hi >= w.lo; hi -= step) spans.push({ lo: Math.max(w.lo, hi - step + 1), hi });
  }
  return spans;
}

/**
 * The progress of a range whose remaining work is `spans` (any order; empty or exhausted spans,
 * `hi < lo`, are done). Returns null when nothing is left: the range is complete.
 */
export function rangeWithSpans(
  range: RangeProgress,
  spans: readonly SeqWindow[],
  floor: number,
): RangeProgress | null {
  const left = spans.filter((w) => w.hi >= w.lo && w.hi >= floor).sort((a, b) => b.hi - a.hi);
  const first = left[0];
  if (first === undefined) return null;
  const { todo: _old, ...rest } = range;
  const single = left.length === 1 && first.lo <= floor;
  return single
    ? { ...rest, cursor: first.hi }
    : { ...rest, cursor: first.hi, todo: left.map((w) => ({ lo: Math.max(w.lo, floor), hi: w.hi })) };
}

/** The next request of a span: from its top, at most {@link PAGE_SIZE} seqs, never below its bottom. */
export function pageRequest(span: SeqWindow): { reqMsgSeq: number; reqMsgNumber: number } {
  return { reqMsgSeq: span.hi, reqMsgNumber: Math.min(PAGE_SIZE, span.hi - span.lo + 1) };
}

/** What one page means for its window. */
export type PageOutcome =
  | { kind: 'window-done'; stopTarget: false }
  /** Everything below is out of scope (expired or older than the look-back); the range ends here. */
  | { kind: 'window-done'; stopTarget: true; reason: 'expired' | 'before-floor-time' }
  /** The page was cut short (or asked for less than the window); ask again for the rest. */
  | { kind: 'continue'; reqMsgSeq: number; reqMsgNumber: number };

/**
 * Decide how a window continues after one page (docs/tencent-api.md, Paging rules). Pure.
 *
 * `IsFinished` 1 means the requested seqs `[ReqMsgSeq - ReqMsgNumber + 1, ReqMsgSeq]` came back
 * whole (missing seqs no longer exist); 0 means the page was cut short (long messages), so the next
 * request starts below the smallest seq returned; 2 means the requested seqs are all expired, and
 * since retention is by age, everything below is expired too.
 */
export function evaluatePage(args: {
  window: SeqWindow;
  /** `ReqMsgSeq` and `ReqMsgNumber` of this page. */
  reqMsgSeq: number;
  reqMsgNumber: number;
  isFinished: number;
  /** Seqs of the returned messages that fall inside the window (any order). */
  seqs: readonly number[];
  /** `MsgTimeStamp` of the oldest message returned inside the window, if any. */
  oldestTime: number | undefined;
  /** Look-back cut-off (epoch seconds) or null. */
  floorTime: number | null;
}): PageOutcome {
  const { window, isFinished, seqs } = args;
  if (args.floorTime !== null && args.oldestTime !== undefined && args.oldestTime < args.floorTime) {
    return { kind: 'window-done', stopTarget: true, reason: 'before-floor-time' };
  }
  if (isFinished === 2) return { kind: 'window-done', stopTarget: true, reason: 'expired' };
  let coveredDownTo: number;
  if (isFinished === 1) {
    coveredDownTo = args.reqMsgSeq - args.reqMsgNumber + 1;
  } else if (seqs.length === 0) {
    // Cut short with nothing in the window: nothing is left in it.
    return { kind: 'window-done', stopTarget: false };
  } else {
    coveredDownTo = Math.min(...seqs);
  }
  if (coveredDownTo <= window.lo) return { kind: 'window-done', stopTarget: false };
  const next = Math.min(coveredDownTo - 1, args.reqMsgSeq - 1);
  return { kind: 'continue', reqMsgSeq: next, reqMsgNumber: Math.min(PAGE_SIZE, next - window.lo + 1) };
}

/** Keep only the messages inside the window (a page can reach below it when seqs are missing). */
export function inWindow<T extends { MsgSeq: number }>(window: SeqWindow, messages: readonly T[]): T[] {
  return messages.filter((m) => m.MsgSeq >= window.lo && m.MsgSeq <= window.hi);
}

/**
 * Did the target's seqs go backwards? Its newest seq is below what is archived (or in progress):
 * the group was dissolved and re-created under the same id, or the server reset it. Seqs never
 * decrease otherwise (docs/tencent-api.md, Paging rules), so this is never skipped silently: see {@link
 * nextGeneration}.
 */
export function seqWentBack(current: TargetState, newestSeq: number): boolean {
  return newestSeq < Math.max(current.highWater, current.inProgress?.top ?? 0);
}

/** A target's state for a new incarnation of its seq space: nothing archived yet, generation + 1. */
export function nextGeneration(current: TargetState): TargetState {
  return {
    groupId: current.groupId,
    topicId: current.topicId,
    highWater: 0,
    highWaterTime: null,
    inProgress: null,
    generation: current.generation + 1,
  };
}

/**
 * Start (or keep) the work for a target given the newest seq seen now.
 * Returns the ranges still to archive, in the order to process them.
 */
export function rangesToArchive(
  current: TargetState | undefined,
  newestSeq: number,
  floorTime: number | null,
): RangeProgress[] {
  const highWater = current?.highWater ?? 0;
  const ranges: RangeProgress[] = [];
  let covered = highWater;
  if (current?.inProgress) {
    ranges.push({ ...current.inProgress });
    covered = Math.max(covered, current.inProgress.top);
  }
  if (newestSeq > covered) {
    // A new range starts above what is archived or in progress. Its look-back applies only to a
    // target never archived before: later ranges take everything since the last high-water mark.
    const isFirst = highWater === 0 && !current?.inProgress;
    ranges.push({ top: newestSeq, cursor: newestSeq, floorTime: isFirst ? floorTime : null, topTime: null });
  }
  return ranges;
}

/** A range is complete: the high-water mark advances to its top. */
export function completeRange(target: TargetState, range: RangeProgress): TargetState {
  return {
    ...target,
    highWater: Math.max(target.highWater, range.top),
    highWaterTime: range.topTime ?? target.highWaterTime,
    inProgress: null,
  };
}
