/**
 * The archive use case: plan the targets, page every target's new history newest-first under the
 * app's rate limit, buffer records across groups, and commit checkpoints exactly once:
 *
 *   1. drain: stop dispatching and let in-flight pages finish;
 *   2. intent: write the object keys about to be written into the state (conditional write);
 *   3. write the objects (create-only);
 *   4. commit: advance the cursors and clear the intent (conditional write).
 *
 * A run that dies anywhere leaves either nothing, or an intent whose objects the next run deletes
 * before it continues from the last committed cursors. So every message lands exactly once.
 */
import {
  type ArchiveState,
  advanceTarget,
  evaluatePage,
  inWindow,
  type RangeProgress,
  rangesToArchive,
  type SeqWindow,
  type TargetRef,
  type TargetState,
  targetKey,
  windowsBelow,
} from '../domain/continuation.ts';
import { AbortedError, ArchiverError, GiveUpError } from '../domain/errors.ts';
import { runReportKey } from '../domain/partition.ts';
import { batches, decideGroup, type GroupSelection, selectsGroupId } from '../domain/planner.ts';
import type { Clock, Logger } from '../domain/ports.ts';
import { type ArchiveRecord, toRecord } from '../domain/record.ts';
import type { ObjectStore } from '../domain/storage.ts';
import type { ChatApi, RawMessage } from '../domain/tencent-types.ts';
import { PartitionWriter } from './partition-writer.ts';
import { emptyReport, type RunReport } from './report.ts';
import { StateKeeper } from './state-keeper.ts';

export interface RunOptions {
  sdkAppId: number;
  runId: string;
  /** Configured group ids (no discovery), or undefined to discover with `get_appid_group_list`. */
  groupIds: readonly string[] | undefined;
  selection: GroupSelection;
  withRecalledMsg: boolean;
  timeZone: string;
  /** First run of a target: archive only this many days back (null = all retained history). */
  initialLookbackDays: number | null;
  /** Flush buffered records when this many uncompressed bytes are buffered. */
  flushBytes: number;
  /** Commit a checkpoint at least this often (also renews the lease). */
  checkpointIntervalMs: number;
  leaseMs: number;
  /** Epoch ms after which no new page is started; the run then flushes, commits and reports `done: false`. */
  deadlineMs: number | null;
  /** Windows (page requests) in flight at once. */
  concurrency: number;
}

export interface Progress {
  targetsTotal: number;
  targetsDone: number;
  messages: number;
  pages: number;
  objects: number;
}

export interface RunDeps {
  api: ChatApi;
  store: ObjectStore;
  clock: Clock;
  logger: Logger;
  /** Counters of the API client, copied into the report. */
  apiStats?: () => { requests: Record<string, number>; retries: number; throttles: number };
  onProgress?: (progress: Progress) => void;
}

/** A fatal failure after which the run committed what it safely could and stopped. */
export class RunFailedError extends ArchiverError {
  public readonly report: RunReport;
  public constructor(message: string, report: RunReport, options?: ErrorOptions) {
    super(message, options);
    this.name = 'RunFailedError';
    this.report = report;
  }
}

interface Slot {
  readonly window: SeqWindow;
  settled: boolean;
  result?: WindowResult;
  error?: unknown;
}

interface WindowResult {
  records: ArchiveRecord[];
  pages: number;
  stop: false | 'expired' | 'before-floor-time';
}

/** One target's work during this run. */
class TargetWork {
  public state: TargetState;
  public readonly ranges: RangeProgress[];
  public windows: Generator<SeqWindow> | undefined;
  public readonly slots: Slot[] = [];
  public failed: unknown;
  public interrupted = false;

  public constructor(
    public readonly ref: TargetRef,
    state: TargetState,
    ranges: RangeProgress[],
    /** Upper bound of the newest message not yet archived (epoch seconds; starts as the group's LastMsgTime). */
    public newestPendingTime: number,
  ) {
    this.state = state;
    this.ranges = ranges;
    this.startRange();
  }

  public get range(): RangeProgress | undefined {
    return this.ranges[0];
  }

  public get finished(): boolean {
    return this.ranges.length === 0;
  }

  public get canDispatch(): boolean {
    return !this.finished && this.failed === undefined && !this.interrupted && this.windows !== undefined;
  }

  public nextWindow(): SeqWindow | undefined {
    const next = this.windows?.next();
    if (!next || next.done) {
      this.windows = undefined;
      return undefined;
    }
    return next.value;
  }

  /** Move to the next range once the current one is complete. */
  public finishRange(): void {
    const range = this.ranges.shift();
    if (range) this.state = advanceTarget(this.state, range, range.cursor, true);
    this.slots.length = 0;
    this.startRange();
  }

  private startRange(): void {
    const range = this.range;
    this.windows = range ? windowsBelow(range.cursor, this.state.highWater + 1) : undefined;
  }
}

/**
 * Archive one app until every selected target is caught up or the deadline comes.
 * @throws LeaseHeldError when another run is archiving the app (nothing written)
 * @throws RunFailedError on a fatal error, after committing what was safely archived
 */
export async function runArchive(
  deps: RunDeps,
  options: RunOptions,
  signal?: AbortSignal,
): Promise<RunReport> {
  const { clock, logger, store } = deps;
  const report = emptyReport(options.runId, options.sdkAppId, clock.now());
  const keeper = await StateKeeper.open({
    store,
    sdkAppId: options.sdkAppId,
    runId: options.runId,
    clock,
    logger,
    leaseMs: options.leaseMs,
  });
  await rollBackPendingWrite(keeper, store, logger, report);

  const writer = new PartitionWriter({
    sdkAppId: options.sdkAppId,
    runId: options.runId,
    timeZone: options.timeZone,
    store,
  });
  let fatal: unknown;
  try {
    const targets = await planTargets(deps, options, keeper.state, report, signal);
    report.planMs = clock.now() - report.startedAtMs;
    await pageTargets(deps, options, keeper, writer, targets, report, signal);
  } catch (error) {
    fatal = error;
  }
  report.finishedAtMs = clock.now();
  report.elapsedMs = report.finishedAtMs - report.startedAtMs;
  const stats = deps.apiStats?.();
  if (stats) {
    report.calls = { ...stats.requests };
    report.retries = stats.retries;
    report.throttles = stats.throttles;
  }
  if (fatal !== undefined) {
    report.done = false;
    report.fatalError = describe(fatal);
    await writeReport(store, report, options.timeZone, logger);
    await keeper.release().catch(() => undefined);
    if (fatal instanceof ArchiverError && !(fatal instanceof GiveUpError)) throw fatal;
    throw new RunFailedError(`Run ${options.runId} stopped: ${describe(fatal)}`, report, { cause: fatal });
  }
  await writeReport(store, report, options.timeZone, logger);
  await keeper.release();
  return report;
}

/** Keep the report beside the archive (`runs/…`), so every run leaves evidence. Best effort. */
async function writeReport(
  store: ObjectStore,
  report: RunReport,
  timeZone: string,
  logger: Logger,
): Promise<void> {
  const key = runReportKey({
    sdkAppId: report.sdkAppId,
    runId: report.runId,
    startedAtSeconds: Math.floor(report.startedAtMs / 1000),
    timeZone,
  });
  try {
    await store.put(key, new TextEncoder().encode(`${JSON.stringify(report)}\n`), {
      ifNoneMatch: '*',
      contentType: 'application/json',
    });
  } catch (error) {
    logger.warn('could not write the run report', { key, error: describe(error) });
  }
}

/** Delete the objects of a checkpoint that never committed, then clear the intent. */
async function rollBackPendingWrite(
  keeper: StateKeeper,
  store: ObjectStore,
  logger: Logger,
  report: RunReport,
): Promise<void> {
  const pending = keeper.state.pending;
  if (!pending) return;
  logger.warn('rolling back an uncommitted checkpoint of an earlier run', {
    runId: pending.runId,
    objects: pending.objects.length,
  });
  for (const key of pending.objects) await store.delete(key);
  await keeper.update((s) => ({ ...s, pending: null }));
  report.rolledBackObjects += pending.objects.length;
}

/** Discover groups, read their info, expand topics, and decide each target's work. */
async function planTargets(
  deps: RunDeps,
  options: RunOptions,
  state: ArchiveState,
  report: RunReport,
  signal: AbortSignal | undefined,
): Promise<TargetWork[]> {
  const groupIds = options.groupIds ? [...options.groupIds] : await discoverGroups(deps.api, signal);
  const selected = groupIds.filter((id) => selectsGroupId(options.selection, id));
  report.groups.seen = selected.length;
  const known = new Map(state.targets.map((t) => [targetKey(t), t]));
  const floorTime =
    options.initialLookbackDays === null
      ? null
      : Math.floor(deps.clock.now() / 1000) - Math.round(options.initialLookbackDays * 86_400);
  const work: TargetWork[] = [];
  const consider = (ref: TargetRef, newestSeq: number, lastMsgTime: number) => {
    const current = known.get(targetKey(ref));
    const ranges = rangesToArchive(current, newestSeq, floorTime);
    if (ranges.length === 0) {
      report.groups.idle++;
      return;
    }
    const base: TargetState = current ?? { ...ref, highWater: 0, highWaterTime: null, inProgress: null };
    work.push(new TargetWork(ref, base, ranges, lastMsgTime));
  };

  const infoBatches = batches(selected, 50);
  const infos = (await Promise.all(infoBatches.map((ids) => deps.api.getGroupInfo(ids, signal)))).flat();
  const communities: string[] = [];
  for (const info of infos) {
    const decision = decideGroup(options.selection, info);
    if (decision.kind === 'skip') {
      report.groups.skipped[decision.reason] = (report.groups.skipped[decision.reason] ?? 0) + 1;
      if (decision.reason === 'error')
        report.errors.push({ groupId: info.groupId, topicId: null, error: decision.detail });
      continue;
    }
    if (!info.ok) continue;
    consider({ groupId: info.groupId, topicId: null }, Math.max(0, info.nextMsgSeq - 1), info.lastMsgTime);
    if (decision.hasTopics) communities.push(info.groupId);
  }
  // Topic lists are independent calls: fetch them in parallel under the client's rate limit.
  const topicLists = await Promise.all(
    communities.map((groupId) =>
      deps.api.getTopics(groupId, signal).catch((error: unknown) => {
        if (error instanceof GiveUpError && error.action === 'skip-group') {
          report.errors.push({ groupId, topicId: null, error: error.message });
          return [];
        }
        throw error;
      }),
    ),
  );
  communities.forEach((groupId, i) => {
    for (const topic of topicLists[i] ?? []) {
      if (!topic.ok) {
        report.errors.push({
          groupId,
          topicId: topic.topicId ?? null,
          error: `get_topic ErrorCode ${topic.errorCode}`,
        });
        continue;
      }
      report.topics++;
      consider({ groupId, topicId: topic.topicId }, Math.max(0, topic.nextMsgSeq - 1), topic.lastMsgTime);
    }
  });
  report.targetsWithWork = work.length;
  return work;
}

async function discoverGroups(api: ChatApi, signal: AbortSignal | undefined): Promise<string[]> {
  const ids: string[] = [];
  for await (const page of api.listGroups(signal ? { signal } : {})) ids.push(...page.groupIds);
  return [...new Set(ids)];
}

/** The paging loop: round-robin over targets, many windows in flight, checkpoints as barriers. */
async function pageTargets(
  deps: RunDeps,
  options: RunOptions,
  keeper: StateKeeper,
  writer: PartitionWriter,
  targets: TargetWork[],
  report: RunReport,
  signal: AbortSignal | undefined,
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
      }
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
    const task = fetchWindow(deps.api, options, target.ref, range.floorTime, window, signal).then(
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
    await commitCheckpoint(keeper, writer, targets, report, options.leaseMs);
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
    if (
      writer.bufferedBytes >= options.flushBytes ||
      clock.now() - lastCheckpoint >= options.checkpointIntervalMs
    ) {
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
  report.pendingNewestTime =
    remaining.length === 0 ? null : Math.max(...remaining.map((t) => t.newestPendingTime));
  const known = remaining
    .filter((t) => t.state.highWaterTime !== null)
    .map((t) => t.state.highWaterTime as number);
  report.pendingOldestTime = known.length === 0 ? null : Math.min(...known);
  report.pendingNeverArchived = remaining.filter((t) => t.state.highWater === 0).length;
  report.done = report.remainingTargets === 0 && fatal === undefined && !signal?.aborted;
  if (fatal !== undefined) throw fatal;
}

/** Drain is done by the caller. Intent → objects → commit. */
async function commitCheckpoint(
  keeper: StateKeeper,
  writer: PartitionWriter,
  targets: TargetWork[],
  report: RunReport,
  leaseMs: number,
): Promise<void> {
  const planned = writer.planFlush();
  const runId = report.runId;
  if (planned.length > 0) {
    await keeper.update((s) => ({ ...s, pending: { runId, objects: planned.map((p) => p.key) } }));
    // The intent write just renewed the lease; keep a margin that fits inside short leases too.
    keeper.assertLease(Math.min(5_000, leaseMs / 2));
    const flushed = await writer.flush();
    report.objectsWritten += flushed.objects;
    report.bytesWritten += flushed.bytes;
  }
  const updated = new Map(targets.map((t) => [targetKey(t.ref), t.state]));
  await keeper.update((s) => {
    const merged = s.targets.map((t) => updated.get(targetKey(t)) ?? t);
    const known = new Set(s.targets.map((t) => targetKey(t)));
    for (const [key, t] of updated) if (!known.has(key)) merged.push(t);
    return { ...s, pending: null, targets: merged };
  });
  report.checkpoints++;
}

/** Fetch one window, following short pages, filtering to the window and the look-back. */
async function fetchWindow(
  api: ChatApi,
  options: RunOptions,
  ref: TargetRef,
  floorTime: number | null,
  window: SeqWindow,
  signal: AbortSignal | undefined,
): Promise<WindowResult> {
  const bySeq = new Map<number, RawMessage>();
  let reqMsgSeq = window.hi;
  let reqMsgNumber = window.hi - window.lo + 1;
  let pages = 0;
  let stop: WindowResult['stop'] = false;
  for (;;) {
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
      // 10018: the answer would exceed 1 MB; ask for fewer messages (reference §3.7).
      if (error instanceof GiveUpError && error.action === 'shrink-request' && reqMsgNumber > 1) {
        reqMsgNumber = Math.ceil(reqMsgNumber / 2);
        continue;
      }
      throw error;
    }
    pages++;
    const inside = inWindow(window, page.messages);
    for (const m of inside) if (floorTime === null || m.MsgTimeStamp >= floorTime) bySeq.set(m.MsgSeq, m);
    const outcome = evaluatePage({
      window,
      reqMsgSeq,
      reqMsgNumber,
      isFinished: page.isFinished,
      seqs: inside.map((m) => m.MsgSeq),
      oldestTime: inside.length === 0 ? undefined : Math.min(...inside.map((m) => m.MsgTimeStamp)),
      floorTime,
    });
    if (outcome.kind === 'window-done') {
      if (outcome.stopTarget) stop = outcome.reason;
      break;
    }
    if (outcome.reqMsgSeq >= reqMsgSeq) break; // no progress: never loop forever on an odd answer
    reqMsgSeq = outcome.reqMsgSeq;
    reqMsgNumber = outcome.reqMsgNumber;
  }
  const records = [...bySeq.values()]
    .sort((a, b) => b.MsgSeq - a.MsgSeq)
    .map((m) => toRecord(m, { sdkAppId: options.sdkAppId, groupId: ref.groupId, topicId: ref.topicId }));
  return { records, pages, stop };
}

function isSkipped(error: unknown): boolean {
  return error instanceof GiveUpError && error.action === 'skip-group';
}

/** Errors that stop the whole run rather than one group. */
function isRunFatal(error: GiveUpError): boolean {
  return error.action === 'fatal' || error.action === 'fatal-config';
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
