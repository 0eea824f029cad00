/**
 * The paging loop: round-robin over the targets, many pages in flight under the client's rate
 * limit (each target's spans paged in parallel, each span sequentially by following), every page's
 * records handed to the writer as they come, and checkpoints written while paging goes on (the
 * last one after every page has settled).
 */
import type { RangeProgress } from '../domain/continuation.ts';
import { AbortedError, GiveUpError } from '../domain/errors.ts';
import { checkpointDue, commitCheckpoint, snapshotCheckpoint, writeCheckpoint } from './checkpoint.ts';
import { describeError as describe } from './errors.ts';
import { fetchPage } from './fetch-window.ts';
import type { PartitionWriter } from './partition-writer.ts';
import { PLANNING_CALLS_IN_FLIGHT } from './plan-targets.ts';
import { noteQuarantined, type RunReport } from './report.ts';
import type { RunDeps, RunOptions } from './run-options.ts';
import type { StateKeeper } from './state-keeper.ts';
import type { PageResult, Span, TargetWork } from './target-work.ts';
import type { WorkFeed } from './work-feed.ts';

/** Uncompressed bytes that may wait for the gzip streams before paging pauses. */
const MAX_COMPRESSION_BACKLOG_BYTES = 8 * 1024 * 1024;

/** The paging loop: round-robin over targets, many pages in flight, checkpoints alongside. */
export async function pageTargets(
  deps: RunDeps,
  options: RunOptions,
  keeper: StateKeeper,
  writer: PartitionWriter,
  targets: TargetWork[],
  report: RunReport,
  signal: AbortSignal | undefined,
  control: {
    /** Runs before every object write and state commit; throws to stop (lease lost, hard stop). */
    fence: () => Promise<void>;
    /** Soft stop (Ctrl-C): like the deadline, no new page; drain, commit, report. */
    stop?: AbortSignal | undefined;
    /**
     * Planning still going on: `targets` is its feed's list and grows. Paging waits for more
     * until the feed closes, and leaves planning its share of the client's slots meanwhile.
     */
    planning?: WorkFeed | undefined;
  } = { fence: async () => undefined },
): Promise<void> {
  const { clock } = deps;
  const inFlight = new Set<Promise<void>>();
  let lastCheckpoint = clock.now();
  let cursor = 0;
  let fatal: unknown;
  const progress = (): void =>
    deps.onProgress?.({
      targetsTotal: targets.length,
      targetsDone: report.groups.archived,
      messages: report.messages,
      pages: report.pages,
      objects: report.objectsWritten,
    });

  const finishIfDone = (target: TargetWork): void => {
    while (target.rangeDone && target.failed === undefined && !target.interrupted) {
      target.finishRange();
      if (target.finished) {
        report.groups.archived++;
        break;
      }
    }
  };

  /** A page settled: its records go to the writer at once, and its span moves down. */
  const settle = (target: TargetWork, span: Span, result: PageResult | undefined, error: unknown): void => {
    span.inFlight = false;
    target.inFlight--;
    if (result !== undefined) {
      writer.addAll(result.records, result.filedAt);
      for (const record of result.records) {
        report.messages++;
        if (record.is_place_msg === 1) report.placeholders++;
        if (record.is_place_msg === 2) report.recalled++;
        if (record.quarantined) noteQuarantined(report, record);
      }
      report.inconsistentAnswers += result.inconsistent ?? 0;
      report.pages += result.calls;
      if (result.short) report.shortPages++;
      // Written records are claimed even if the target failed meanwhile: the state must match the files.
      target.applyPage(span, result);
    } else if (target.failed === undefined && !target.interrupted) {
      if (error instanceof AbortedError) {
        target.interrupted = true;
      } else if (error instanceof GiveUpError && isRunFatal(error)) {
        fatal ??= error;
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
    finishIfDone(target);
    progress();
  };

  const dispatch = (target: TargetWork, span: Span): void => {
    span.inFlight = true;
    target.inFlight++;
    const range = target.range as RangeProgress;
    // A snapshot: a stop elsewhere in the target may drop the live span meanwhile.
    const window = { lo: span.lo, hi: span.hi };
    const request = target.request(span);
    const task = fetchPage(
      deps.api,
      options,
      {
        ref: target.ref,
        floorTime: range.floorTime,
        span: window,
        request,
        generation: target.state.generation,
      },
      signal,
    ).then(
      (result) => settle(target, span, result, undefined),
      (error: unknown) => settle(target, span, undefined, error),
    );
    const tracked = task.then(() => {
      inFlight.delete(tracked);
    });
    inFlight.add(tracked);
  };

  /**
   * The checkpoint being written while paging goes on, if any (it never rejects: a failure is
   * `commitFailure`). Only one at a time: the next snapshot waits for it.
   */
  let committing: Promise<void> | undefined;
  let commitFailure: { error: unknown } | undefined;
  /** Snapshot now (records settled so far, the states that claim them) and write it meanwhile. */
  const startCheckpoint = (): void => {
    const snapshot = snapshotCheckpoint(keeper, writer, targets);
    lastCheckpoint = clock.now();
    committing = writeCheckpoint(keeper, writer, snapshot, report, control.fence)
      .then(
        () => progress(),
        (error: unknown) => {
          commitFailure ??= { error };
        },
      )
      .finally(() => {
        committing = undefined;
      });
  };
  /** Waits for whatever settles first: a page, the checkpoint being written, or (optionally) planning. */
  const settled = (withPlanning: boolean): Promise<unknown> =>
    Promise.race([
      ...inFlight,
      ...(committing ? [committing] : []),
      ...(withPlanning && planning?.open ? [planning.changed()] : []),
    ]);

  /** Round robin over the targets: the next one with a span free to page, and that span. */
  const pick = (): { target: TargetWork; span: Span } | undefined => {
    for (let i = 0; i < targets.length; i++) {
      const target = targets[(cursor + i) % targets.length] as TargetWork;
      const span = target.nextSpan();
      if (span === undefined) continue;
      cursor = (cursor + i + 1) % targets.length;
      return { target, span };
    }
    return undefined;
  };

  // A range with nothing left to fetch (resumed at its very end) completes at once; so does each
  // target planning adds later, as it comes.
  let absorbed = 0;
  const absorb = (): void => {
    for (; absorbed < targets.length; absorbed++) finishIfDone(targets[absorbed] as TargetWork);
  };
  const planning = control.planning;
  // While planning runs, its calls (get_group_info, get_topic, the listing) need the client's
  // slots too: pages waiting for their own rate limit must not hold every one. Paging leaves them
  // as many as planning has out (at most its own cap), and one more for the listing; while
  // planning waits for the listing's next page (1/s), paging may use the rest.
  const planningShare = (): number =>
    Math.min(PLANNING_CALLS_IN_FLIGHT + 1, options.concurrency - 1, 1 + (planning?.callsInFlight ?? 0));
  const maxInFlight = (): number =>
    planning?.open ? Math.max(1, options.concurrency - planningShare()) : options.concurrency;
  for (;;) {
    absorb();
    if (fatal !== undefined || commitFailure !== undefined || signal?.aborted) break;
    // Planning failed or was stopped: commit what was fetched, and stop.
    if (planning?.incomplete) break;
    if (options.deadlineMs !== null && clock.now() >= options.deadlineMs) break;
    if (control.stop?.aborted) break;
    if (checkpointDue(writer, options, lastCheckpoint, clock.now())) {
      if (committing === undefined) {
        startCheckpoint();
        continue;
      }
      // The last checkpoint is still being written: page on, but never buffer past the flush size.
      if (writer.bufferedBytes >= options.flushBytes) {
        await committing;
        continue;
      }
    }
    if (writer.backlogBytes > MAX_COMPRESSION_BACKLOG_BYTES) {
      // The compressor is behind: fetch no more until it catches up (memory bounded by bytes).
      await writer.drain(MAX_COMPRESSION_BACKLOG_BYTES / 2);
      continue;
    }
    if (inFlight.size >= maxInFlight()) {
      await settled(true);
      continue;
    }
    const next = pick();
    if (next) {
      dispatch(next.target, next.span);
      continue;
    }
    if (planning?.open) {
      await settled(true);
      continue;
    }
    if (inFlight.size === 0) break;
    await settled(false);
  }
  // The last checkpoint: after every page has settled and the one being written has committed.
  await Promise.all(inFlight);
  await committing;
  if (commitFailure !== undefined) throw commitFailure.error;
  await commitCheckpoint(keeper, writer, targets, report, control.fence);
  progress();
  reportRemaining(targets, report);
  report.done =
    report.remainingTargets === 0 && fatal === undefined && !signal?.aborted && planning?.open !== true;
  if (planning?.incomplete) report.done = false;
  if (fatal !== undefined) throw fatal;
}

/**
 * What is left of `targets` for the next run, into the report: how many, how far behind. Paging
 * calls it as it ends; the run calls it again with the whole plan when planning finished after
 * paging (the deadline came first), so the targets decided since are counted too.
 */
export function reportRemaining(targets: readonly TargetWork[], report: RunReport): void {
  // A group that cannot be archived (dissolved mid-run, invalid id) is settled for this run; one that
  // failed transiently is not, so the next invocation tries it again.
  const remaining = targets.filter((t) => !t.finished && !isSkipped(t.failed));
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

function isSkipped(error: unknown): boolean {
  return error instanceof GiveUpError && error.action === 'skip-group';
}

/** Errors that stop the whole run rather than one group. */
function isRunFatal(error: GiveUpError): boolean {
  return error.action === 'fatal' || error.action === 'fatal-config';
}
