/**
 * The paging loop: the longest chains first (functions/engine/span-queue.ts), many pages in flight
 * under the client's rate limit (each target's spans paged in parallel, each span sequentially by
 * following), every page's
 * records handed to the writer as they come, and checkpoints written while paging goes on (the
 * last one after every page has settled).
 */
import type { RangeProgress, TargetRef } from '../domain/continuation.ts';
import { AbortedError } from '../domain/errors.ts';
import { isRunFatal, isSkipTarget } from '../domain/retry-policy.ts';
import {
  type CheckpointParts,
  checkpointDue,
  commitCheckpoint,
  snapshotCheckpoint,
  writeCheckpoint,
} from './checkpoint.ts';
import { describeError as describe } from './errors.ts';
import { fetchPage } from './fetch-window.ts';
import { PLANNING_CALLS_IN_FLIGHT } from './plan-targets.ts';
import { noteQuarantined, type RunReport } from './report.ts';
import type { RunDeps, RunOptions } from './run-options.ts';
import { SpanQueue } from './span-queue.ts';
import type { PageResult, Span, TargetWork } from './target-work.ts';
import type { WorkFeed } from './work-feed.ts';

/** Uncompressed bytes that may wait for the gzip streams before paging pauses. */
const MAX_COMPRESSION_BACKLOG_BYTES = 8 * 1024 * 1024;

/**
 * What a run pages (and rescans) with: its ports and options, its state, writer and report, and
 * the fence run before every object write and state commit (it throws to stop: lease lost, hard
 * stop).
 */
export interface RunContext extends CheckpointParts {
  readonly deps: RunDeps;
  readonly options: RunOptions;
  /** Aborts at once, in-flight requests too. */
  readonly signal: AbortSignal | undefined;
  /** Told of each target paging takes on and of each it pages to its end (the identity capture's). */
  readonly observer?: TargetObserver | undefined;
}

/** What the paging loop tells about its targets (functions/engine/identity-prefetch.ts listens). */
export interface TargetObserver {
  /** A target was handed to paging. */
  added(ref: TargetRef): void;
  /** A target was paged to its end (not called for a failed or stopped one). */
  finished(ref: TargetRef): void;
}

/** How paging is stopped, and whether planning still feeds it. */
export interface PagingControl {
  /** Soft stop (Ctrl-C): like the deadline, no new page; drain, commit, report. */
  readonly stop?: AbortSignal | undefined;
  /**
   * Planning still going on: `targets` is its feed's list and grows. Paging waits for more
   * until the feed closes, and leaves planning its share of the client's slots meanwhile.
   */
  readonly planning?: WorkFeed | undefined;
}

/** The paging loop: longest spans first, many pages in flight, checkpoints alongside. */
export async function pageTargets(
  run: RunContext,
  targets: TargetWork[],
  control: PagingControl = {},
): Promise<void> {
  await new PageLoop(run, targets, control).page();
}

/** The loop's state: the pages in flight, the spans waiting, the checkpoint being written. */
class PageLoop {
  private readonly inFlight = new Set<Promise<void>>();
  private lastCheckpoint: number;
  /** The spans with seqs left and no page in flight, longest first. */
  private readonly waiting = new SpanQueue();
  /** Targets checked for a range with nothing left to fetch (see `absorb`). */
  private absorbed = 0;
  /** The first run-fatal error of a page: no new page; the run throws it after the last commit. */
  private fatal: unknown;
  /**
   * The checkpoint being written while paging goes on, if any (it never rejects: a failure is
   * `commitFailure`). Only one at a time: the next snapshot waits for it.
   */
  private committing: Promise<void> | undefined;
  private commitFailure: { error: unknown } | undefined;

  public constructor(
    private readonly run: RunContext,
    private readonly targets: TargetWork[],
    private readonly control: PagingControl,
  ) {
    this.lastCheckpoint = run.deps.clock.now();
  }

  public async page(): Promise<void> {
    for (;;) {
      this.absorb();
      if (this.stopping()) break;
      const next = this.step();
      if (next === 'done') break;
      if (next !== undefined) await next;
    }
    await this.finish();
  }

  /** No new page: a fatal error, a failed commit, the signal, planning cut short, the deadline or a stop. */
  private stopping(): boolean {
    const { options, signal, deps } = this.run;
    if (this.fatal !== undefined || this.commitFailure !== undefined || signal?.aborted) return true;
    // Planning failed or was stopped: commit what was fetched, and stop.
    if (this.control.planning?.incomplete) return true;
    if (options.deadlineMs !== null && deps.clock.now() >= options.deadlineMs) return true;
    return this.control.stop?.aborted === true;
  }

  /**
   * One turn of the loop: start a checkpoint or a page (undefined: go on at once), or return what to
   * wait for before the next turn, or 'done' when nothing is left in flight or to page.
   */
  private step(): Promise<unknown> | undefined | 'done' {
    const { writer, options, deps } = this.run;
    if (checkpointDue(writer, options, this.lastCheckpoint, deps.clock.now())) {
      if (this.committing === undefined) {
        this.startCheckpoint();
        return undefined;
      }
      // The last checkpoint is still being written: page on, but never buffer past the flush size.
      if (writer.bufferedBytes >= options.flushBytes) return this.committing;
    }
    // The compressor is behind: fetch no more until it catches up (memory bounded by bytes).
    if (writer.backlogBytes > MAX_COMPRESSION_BACKLOG_BYTES)
      return writer.drain(MAX_COMPRESSION_BACKLOG_BYTES / 2);
    if (this.inFlight.size >= this.maxInFlight()) return this.settled(true);
    const next = this.pick();
    if (next) {
      this.dispatch(next.target, next.span);
      return undefined;
    }
    if (this.control.planning?.open) return this.settled(true);
    if (this.inFlight.size === 0) return 'done';
    return this.settled(false);
  }

  /** The last checkpoint: after every page has settled and the one being written has committed. */
  private async finish(): Promise<void> {
    const { report, signal } = this.run;
    const planning = this.control.planning;
    await Promise.all(this.inFlight);
    await this.committing;
    if (this.commitFailure !== undefined) throw this.commitFailure.error;
    await commitCheckpoint(this.run, this.targets);
    this.progress();
    reportRemaining(this.targets, report);
    report.done =
      report.remainingTargets === 0 &&
      this.fatal === undefined &&
      !signal?.aborted &&
      planning?.open !== true;
    if (planning?.incomplete) report.done = false;
    if (this.fatal !== undefined) throw this.fatal;
  }

  private progress(): void {
    const { deps, report } = this.run;
    deps.onProgress?.({
      targetsTotal: this.targets.length,
      targetsDone: report.groups.archived,
      messages: report.messages,
      pages: report.pages,
      objects: report.objectsWritten,
    });
  }

  private finishIfDone(target: TargetWork): void {
    while (target.rangeDone && target.failed === undefined && !target.interrupted) {
      target.finishRange();
      if (target.finished) {
        this.run.report.groups.archived++;
        this.run.observer?.finished(target.ref);
        break;
      }
    }
  }

  /**
   * A range with nothing left to fetch (resumed at its very end) completes at once; so does each
   * target planning adds later, as it comes.
   */
  private absorb(): void {
    for (; this.absorbed < this.targets.length; this.absorbed++) {
      const target = this.targets[this.absorbed] as TargetWork;
      this.run.observer?.added(target.ref);
      this.finishIfDone(target);
      this.queueSpans(target);
    }
  }

  /** Queues the spans of `target` that have seqs left and no page in flight. */
  private queueSpans(target: TargetWork): void {
    if (target.finished || target.failed !== undefined || target.interrupted) return;
    for (const span of target.spans)
      if (!span.inFlight && span.hi >= span.lo) this.waiting.push(target, span);
  }

  /**
   * The waiting span with the most seqs left, and its target. Entries gone stale while they waited
   * (the target failed or was stopped, a stop dropped the span, its range was finished) are skipped.
   */
  private pick(): { target: TargetWork; span: Span } | undefined {
    for (let next = this.waiting.pop(); next !== undefined; next = this.waiting.pop()) {
      const { target, span } = next;
      if (target.failed !== undefined || target.interrupted || target.finished) continue;
      if (span.inFlight || span.hi < span.lo || !target.spans.includes(span)) continue;
      return next;
    }
    return undefined;
  }

  /**
   * While planning runs, its calls (get_group_info, get_topic, the listing) need the client's
   * slots too: pages waiting for their own rate limit must not hold every one. Paging leaves them
   * as many as planning has out (at most its own cap), and one more for the listing; while
   * planning waits for the listing's next page (1/s), paging may use the rest.
   */
  private maxInFlight(): number {
    const { concurrency } = this.run.options;
    const planning = this.control.planning;
    if (!planning?.open) return concurrency;
    const share = Math.min(PLANNING_CALLS_IN_FLIGHT + 1, concurrency - 1, 1 + planning.callsInFlight);
    return Math.max(1, concurrency - share);
  }

  /** Waits for whatever settles first: a page, the checkpoint being written, or (optionally) planning. */
  private settled(withPlanning: boolean): Promise<unknown> {
    const planning = this.control.planning;
    return Promise.race([
      ...this.inFlight,
      ...(this.committing ? [this.committing] : []),
      ...(withPlanning && planning?.open ? [planning.changed()] : []),
    ]);
  }

  /** Snapshot now (records settled so far, the states that claim them) and write it meanwhile. */
  private startCheckpoint(): void {
    const { keeper, writer, deps } = this.run;
    const snapshot = snapshotCheckpoint(keeper, writer, this.targets);
    this.lastCheckpoint = deps.clock.now();
    this.committing = writeCheckpoint(this.run, snapshot)
      .then(
        () => this.progress(),
        (error: unknown) => {
          this.commitFailure ??= { error };
        },
      )
      .finally(() => {
        this.committing = undefined;
      });
  }

  private dispatch(target: TargetWork, span: Span): void {
    span.inFlight = true;
    target.inFlight++;
    const range = target.range as RangeProgress;
    // A snapshot: a stop elsewhere in the target may drop the live span meanwhile.
    const window = { lo: span.lo, hi: span.hi };
    const request = target.request(span);
    const { deps, options, signal } = this.run;
    const job = {
      ref: target.ref,
      floorTime: range.floorTime,
      span: window,
      request,
      generation: target.state.generation,
    };
    const task = fetchPage(deps.api, options, job, signal).then(
      (result) => this.settle(target, span, result, undefined),
      (error: unknown) => this.settle(target, span, undefined, error),
    );
    const tracked = task.then(() => {
      this.inFlight.delete(tracked);
    });
    this.inFlight.add(tracked);
  }

  /** A page settled: its records go to the writer at once, and its span moves down. */
  private settle(target: TargetWork, span: Span, result: PageResult | undefined, error: unknown): void {
    span.inFlight = false;
    target.inFlight--;
    if (result !== undefined) {
      this.run.writer.addAll(result.records, result.filedAt);
      countPage(this.run.report, result);
      // Written records are claimed even if the target failed meanwhile: the state must match the files.
      target.applyPage(span, result);
    } else if (target.failed === undefined && !target.interrupted) {
      this.fail(target, error);
    }
    this.finishIfDone(target);
    this.queueSpans(target);
    this.progress();
  }

  /** A page failed: the target stops (interrupted, or failed and reported), or the run does (fatal). */
  private fail(target: TargetWork, error: unknown): void {
    const report = this.run.report;
    if (error instanceof AbortedError) {
      target.interrupted = true;
    } else if (isRunFatal(error)) {
      this.fatal ??= error;
    } else {
      target.failed = error;
      report.groups.failed++;
      report.errors.push({
        groupId: target.ref.groupId,
        topicId: target.ref.topicId,
        error: describe(error),
      });
    }
  }
}

/** A page's records and calls, counted into the report. */
function countPage(report: RunReport, result: PageResult): void {
  for (const record of result.records) {
    report.messages++;
    if (record.is_place_msg === 1) report.placeholders++;
    if (record.is_place_msg === 2) report.recalled++;
    if (record.quarantined) noteQuarantined(report, record);
  }
  report.inconsistentAnswers += result.inconsistent ?? 0;
  report.pages += result.calls;
  if (result.short) report.shortPages++;
}

/**
 * What is left of `targets` for the next run, into the report: how many, how far behind. Paging
 * calls it as it ends; the run calls it again with the whole plan when planning finished after
 * paging (the deadline came first), so the targets decided since are counted too.
 */
export function reportRemaining(targets: readonly TargetWork[], report: RunReport): void {
  // A group that cannot be archived (dissolved mid-run, invalid id) is settled for this run; one that
  // failed transiently is not, so the next invocation tries it again.
  const remaining = targets.filter((t) => !t.finished && !isSkipTarget(t.failed));
  report.remainingTargets = remaining.length;
  // Loops, not spreads: a spread of a million targets overflows the call stack.
  let newest: number | null = null;
  let oldest: number | null = null;
  for (const t of remaining) {
    newest = newest === null ? t.newestPendingTime : Math.max(newest, t.newestPendingTime);
    const time = t.state.highWaterTime;
    if (time !== null) oldest = oldest === null ? time : Math.min(oldest, time);
  }
  report.pendingNewestTime = newest;
  report.pendingOldestTime = oldest;
  report.pendingNeverArchived = remaining.filter((t) => t.state.highWater === 0).length;
}
