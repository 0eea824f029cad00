/**
 * The paging loop: round-robin over the targets, many windows in flight under the client's rate
 * limit, results released in order per target, and checkpoints as barriers.
 */
import { advanceTarget, type RangeProgress, type SeqWindow } from '../domain/continuation.ts';
import { AbortedError, GiveUpError } from '../domain/errors.ts';
import { checkpointDue, commitCheckpoint } from './checkpoint.ts';
import { describeError as describe } from './errors.ts';
import { fetchWindow } from './fetch-window.ts';
import type { PartitionWriter } from './partition-writer.ts';
import type { RunReport } from './report.ts';
import type { RunDeps, RunOptions } from './run-options.ts';
import type { StateKeeper } from './state-keeper.ts';
import type { Slot, TargetWork, WindowResult } from './target-work.ts';

/** The paging loop: round-robin over targets, many windows in flight, checkpoints as barriers. */
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

  const settle = (target: TargetWork): void => {
    // Release settled windows in order: the buffer only ever holds a contiguous prefix of each range.
    while (target.slots[0]?.settled) {
      const head = target.slots.shift() as Slot;
      if (fatal !== undefined || target.failed !== undefined || target.interrupted) continue;
      if (head.error !== undefined) {
        if (head.error instanceof AbortedError) {
          target.interrupted = true;
        } else if (head.error instanceof GiveUpError && isRunFatal(head.error)) {
          fatal = head.error;
        } else {
          target.failed = head.error;
          report.groups.failed++;
          report.errors.push({
            groupId: target.ref.groupId,
            topicId: target.ref.topicId,
            error: describe(head.error),
          });
        }
        continue;
      }
      const result = head.result as WindowResult;
      writer.addAll(result.records);
      for (const record of result.records) {
        report.messages++;
        if (record.is_place_msg === 1) report.placeholders++;
        if (record.is_place_msg === 2) report.recalled++;
        if (record.quarantined) report.quarantined++;
      }
      report.inconsistentAnswers += result.inconsistent ?? 0;
      report.pages += result.pages;
      report.shortPages += result.pages - 1;
      const range = target.range as RangeProgress;
      range.cursor = head.window.lo - 1;
      if (result.records.length > 0) {
        const times = result.records.map((r) => r.msg_time);
        range.topTime ??= Math.max(...times);
        target.newestPendingTime = Math.min(target.newestPendingTime, ...times);
      }
      if (result.stop !== false || (target.windows === undefined && target.slots.length === 0)) {
        target.finishRange();
        if (target.finished) report.groups.archived++;
      } else {
        target.state = advanceTarget(target.state, range, range.cursor, false);
      }
    }
    progress();
  };

  const dispatch = (target: TargetWork, window: SeqWindow): void => {
    const slot: Slot = { window, settled: false };
    target.slots.push(slot);
    const range = target.range as RangeProgress;
    const task = fetchWindow(
      deps.api,
      options,
      target.ref,
      range.floorTime,
      window,
      signal,
      target.state.generation,
    ).then(
      (result) => {
        slot.result = result;
      },
      (error: unknown) => {
        slot.error = error;
      },
    );
    const tracked = task.then(() => {
      slot.settled = true;
      inFlight.delete(tracked);
      settle(target);
    });
    inFlight.add(tracked);
  };

  const checkpoint = async (): Promise<void> => {
    await Promise.all(inFlight);
    await commitCheckpoint(keeper, writer, targets, report, control.fence);
    lastCheckpoint = clock.now();
    progress();
  };

  const pickTarget = (): TargetWork | undefined => {
    for (let i = 0; i < targets.length; i++) {
      const target = targets[(cursor + i) % targets.length] as TargetWork;
      if (!target.canDispatch) continue;
      cursor = (cursor + i + 1) % targets.length;
      return target;
    }
    return undefined;
  };

  for (;;) {
    if (fatal !== undefined || signal?.aborted) break;
    if (options.deadlineMs !== null && clock.now() >= options.deadlineMs) break;
    if (control.stop?.aborted) break;
    if (checkpointDue(writer, options, lastCheckpoint, clock.now())) {
      await checkpoint();
      continue;
    }
    if (inFlight.size >= options.concurrency) {
      await Promise.race(inFlight);
      continue;
    }
    const target = pickTarget();
    const window = target?.nextWindow();
    if (target && window) {
      dispatch(target, window);
      continue;
    }
    if (target) {
      // Its range has no more windows; once its slots settle, settle() finishes the range.
      if (target.slots.length === 0) {
        target.finishRange();
        if (target.finished) report.groups.archived++;
      }
      continue;
    }
    if (inFlight.size === 0) break;
    await Promise.race(inFlight);
  }
  await checkpoint();
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
  report.done = report.remainingTargets === 0 && fatal === undefined && !signal?.aborted;
  if (fatal !== undefined) throw fatal;
}

function isSkipped(error: unknown): boolean {
  return error instanceof GiveUpError && error.action === 'skip-group';
}

/** Errors that stop the whole run rather than one group. */
function isRunFatal(error: GiveUpError): boolean {
  return error.action === 'fatal' || error.action === 'fatal-config';
}
