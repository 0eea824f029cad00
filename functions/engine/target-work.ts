/**
 * One target's work during a run: its ranges, the spans of the current range (each paged
 * sequentially by following, several in parallel) and the pages in flight.
 */
import {
  completeRange,
  pageRequest,
  pendingSpans,
  planSpans,
  type RangeProgress,
  rangeWithSpans,
  type SeqWindow,
  type TargetRef,
  type TargetState,
} from '../domain/continuation.ts';
import { isZeroedTime } from '../domain/placeholder-time.ts';
import type { ArchiveRecord } from '../domain/record.ts';

/** A block of seqs paged downward: `hi` is the next seq to request; done when `hi < lo`. */
export interface Span {
  readonly lo: number;
  hi: number;
  inFlight: boolean;
  /** Waiting in the page loop's queue (functions/engine/span-queue.ts). */
  queued: boolean;
  /** Oldest `MsgTimeStamp` archived from this span so far (zeroed placeholders have none). */
  oldestTime: number | null;
}

/** What one page brought for its span. */
export interface PageResult {
  records: ArchiveRecord[];
  /** The time records are filed under when it is not their `msg_time` (zeroed placeholders). */
  filedAt?: ReadonlyMap<ArchiveRecord, number>;
  /** Requests made (more than 1 after a 10018 shrink). */
  calls: number;
  /** The span's next `hi`: below the smallest seq returned, or `lo - 1` when the span is done. */
  next: number;
  /** The page came back cut short (IsFinished 0 with the span not done). */
  short: boolean;
  stop: false | 'expired' | 'before-floor-time';
  /** Answers that contradicted their data and were asked again smaller (see page-trust.ts). */
  inconsistent?: number;
}

/** What a target's work starts from. */
export interface TargetWorkInit {
  ref: TargetRef;
  /** The target's committed state (or a new target's empty one). */
  state: TargetState;
  ranges: RangeProgress[];
  /** Upper bound of the newest message not yet archived (epoch seconds; starts as the group's LastMsgTime). */
  lastMsgTime: number;
  /** Spans of one range paged in parallel, at most. */
  maxSpans: number;
}

/** One target's work during this run. */
export class TargetWork {
  public readonly ref: TargetRef;
  private base: TargetState;
  public readonly ranges: RangeProgress[];
  public spans: Span[] = [];
  public inFlight = 0;
  public failed: unknown;
  public interrupted = false;
  /** Upper bound of the newest message not yet archived (epoch seconds; starts as the group's LastMsgTime). */
  private readonly lastMsgTime: number;
  /** Spans of one range paged in parallel, at most. */
  private readonly maxSpans: number;

  public constructor(init: TargetWorkInit) {
    this.ref = init.ref;
    this.base = init.state;
    this.ranges = init.ranges;
    this.lastMsgTime = init.lastMsgTime;
    this.maxSpans = init.maxSpans;
    this.startRange();
  }

  public get range(): RangeProgress | undefined {
    return this.ranges[0];
  }

  public get finished(): boolean {
    return this.ranges.length === 0;
  }

  private get floor(): number {
    return this.base.highWater + 1;
  }

  /**
   * The state to commit: what has been archived so far, a copy that later pages do not change.
   * Checkpoints take it while pages are in flight: a span's `hi` moves only when its page settles,
   * so the seqs of a page in flight are still named as to fetch.
   */
  public get state(): TargetState {
    const range = this.range;
    if (range === undefined) return this.base;
    const inProgress = rangeWithSpans(range, this.spans, this.floor);
    // Nothing left to fetch, with pages still in flight: only pages of spans a stop dropped (their
    // seqs are out of scope, expired or older than the look-back), so the range is complete.
    if (inProgress === null) return completeRange(this.base, range);
    return { ...this.base, inProgress };
  }

  /** A span with no page in flight and seqs left, highest first. */
  public nextSpan(): Span | undefined {
    if (this.finished || this.failed !== undefined || this.interrupted) return undefined;
    return this.spans.find((s) => !s.inFlight && s.hi >= s.lo);
  }

  /**
   * The request for the span's next page, with `newerSec`: the oldest time archived this run from
   * this span or the spans above it, else the group's last message time. Every message of the
   * request is no newer (seqs are given out in send order), so it bounds a zeroed placeholder's
   * time (see `functions/domain/placeholder-time.ts`).
   */
  public request(span: Span): { reqMsgSeq: number; reqMsgNumber: number; newerSec: number | null } {
    let newerSec = isZeroedTime(this.lastMsgTime) ? null : this.lastMsgTime;
    for (const other of this.spans) {
      if (other.lo < span.lo || other.oldestTime === null) continue;
      newerSec = newerSec === null ? other.oldestTime : Math.min(newerSec, other.oldestTime);
    }
    return { ...pageRequest(span), newerSec };
  }

  /** A page of `span` settled successfully: the span moves down; a stop ends everything below it. */
  public applyPage(span: Span, result: PageResult): void {
    if (span.hi < span.lo) return; // dropped by a stop meanwhile; its records are still written
    span.hi = Math.min(span.hi, result.next);
    const range = this.range as RangeProgress;
    for (const record of result.records) {
      const t = record.msg_time;
      // A zeroed placeholder's 0 is no time: it must not pose as the range's oldest or newest.
      if (isZeroedTime(t)) continue;
      if (range.topTime === null || t > range.topTime) range.topTime = t;
      if (span.oldestTime === null || t < span.oldestTime) span.oldestTime = t;
    }
    if (result.stop !== false) {
      // Everything below this page is out of scope (expired, or older than the look-back).
      span.hi = span.lo - 1;
      for (const other of this.spans) if (other.lo < span.lo) other.hi = other.lo - 1;
    }
  }

  /** True when the current range has nothing left to fetch and no page in flight. */
  public get rangeDone(): boolean {
    return this.range !== undefined && this.inFlight === 0 && this.spans.every((s) => s.hi < s.lo);
  }

  /** Move to the next range once the current one is complete. */
  public finishRange(): void {
    const range = this.ranges.shift();
    if (range) this.base = completeRange(this.base, range);
    this.startRange();
  }

  /**
   * Upper bound of the newest message not yet archived: the oldest archived time of the highest
   * span with work left, or of the finished spans above it.
   */
  public get newestPendingTime(): number {
    let bound = this.lastMsgTime;
    // A later range (newer messages) is still to come: nothing better than the group's last time.
    if (this.ranges.length > 1) return bound;
    for (const span of this.spans) {
      if (span.oldestTime !== null) bound = Math.min(bound, span.oldestTime);
      if (span.hi >= span.lo) break;
    }
    return bound;
  }

  private startRange(): void {
    const range = this.range;
    const spans: SeqWindow[] = range ? planSpans(pendingSpans(range, this.floor), this.maxSpans) : [];
    this.spans = spans.map((w) => ({ lo: w.lo, hi: w.hi, inFlight: false, queued: false, oldestTime: null }));
  }
}
