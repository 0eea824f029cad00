/**
 * Planning: discover the groups (or take the configured ones), read their info 50 ids a call,
 * expand the topics of topic-enabled Communities, and decide each target's ranges.
 */

import pLimit from 'p-limit';
import type { CarriedPlan, PlannedTarget } from '../domain/carried-plan.ts';
import {
  nextGeneration,
  rangesToArchive,
  seqWentBack,
  type TargetRef,
  type TargetState,
  targetKey,
} from '../domain/continuation.ts';
import { InconsistentAnswerError } from '../domain/errors.ts';
import {
  batches,
  decideGroup,
  type ListingProgress,
  listingProblem,
  selectsGroupId,
} from '../domain/planner.ts';
import type { ChatApi } from '../domain/ports.ts';
import { isSkipTarget } from '../domain/retry-policy.ts';
import { type GroupInfo, TENCENT_APIS } from '../domain/tencent-types.ts';
import type { RunReport } from './report.ts';
import type { RunDeps, RunOptions } from './run-options.ts';
import { TargetWork } from './target-work.ts';
import type { WorkFeed } from './work-feed.ts';

/**
 * Planning calls (get_group_info, get_topic) handed to the client at once: 200 calls a second at
 * up to 240 ms each, while leaving 16 of the client's default 64 slots to the listing. With fewer
 * slots configured, the listing waits behind at most this many calls (a quarter second at 200/s).
 */
export const PLANNING_CALLS_IN_FLIGHT = 48;

/** The work planning decided, and what it learnt per target (kept as the carried plan). */
export interface Planned {
  work: TargetWork[];
  /** `entries[i]` is what planning saw for `work[i]`. */
  entries: PlannedTarget[];
  /** The first-run look-back cut-off used (epoch seconds, server clock), or null. */
  floorTime: number | null;
}

/** What planning works with; each target goes to `feed` (if given) as soon as it is decided. */
export interface PlanContext {
  deps: RunDeps;
  options: RunOptions;
  /** The committed state of every known target, by `targetKey`. */
  known: ReadonlyMap<string, TargetState>;
  report: RunReport;
  signal?: AbortSignal | undefined;
  feed?: WorkFeed | undefined;
}

/** Decides one target's work from the newest seq and last message time planning saw for it. */
type Consider = (ref: TargetRef, newestSeq: number, lastMsgTime: number) => void;

/** Decides each target's work from what planning saw; shared by fresh and carried plans. */
function decider(ctx: PlanContext, floorTimeNow: () => number | null) {
  const { deps, options, known, report, feed } = ctx;
  // With a feed, the work is the feed's own list: paging sees each target as it is decided.
  const planned: Omit<Planned, 'floorTime'> = { work: feed?.work ?? [], entries: [] };
  // A target is planned once even if the listing hands its group out twice (no Set of every id
  // listed is kept: for a million groups it would hold tens of MB for a rare server fault).
  const plannedKeys = new Set<string>();
  const consider: Consider = (ref, newestSeq, lastMsgTime) => {
    const key = targetKey(ref);
    if (plannedKeys.has(key)) return;
    let current = known.get(key);
    let reset = false;
    if (current !== undefined && seqWentBack(current, newestSeq)) {
      // Never skipped: the new seqs are archived as a new generation of the target.
      const next = nextGeneration(current);
      report.seqResets.push({
        groupId: ref.groupId,
        topicId: ref.topicId,
        highWater: Math.max(current.highWater, current.inProgress?.top ?? 0),
        newestSeq,
        generation: next.generation,
      });
      deps.logger.warn('seq went backwards: archiving the target as a new generation', {
        ...report.seqResets.at(-1),
      });
      current = next;
      reset = true;
    }
    const ranges = rangesToArchive(current, newestSeq, reset ? null : floorTimeNow());
    if (ranges.length === 0 && !reset) {
      report.groups.idle++;
      return;
    }
    const state: TargetState = current ?? {
      ...ref,
      highWater: 0,
      highWaterTime: null,
      inProgress: null,
      generation: 0,
    };
    plannedKeys.add(key);
    const work = new TargetWork({ ref, state, ranges, lastMsgTime, maxSpans: options.concurrency });
    if (feed) feed.push(work);
    else planned.work.push(work);
    planned.entries.push({ groupId: ref.groupId, topicId: ref.topicId, newestSeq, lastMsgTime });
  };
  return { planned, consider };
}

/**
 * The work of a carried plan: each planned target's ranges decided again from the committed state
 * (what earlier invocations archived is not fetched again). No API call.
 */
export function carryPlan(ctx: PlanContext, plan: CarriedPlan): Planned {
  const { planned, consider } = decider(ctx, () => plan.floorTime);
  for (const t of plan.targets)
    consider({ groupId: t.groupId, topicId: t.topicId }, t.newestSeq, t.lastMsgTime);
  ctx.report.targetsWithWork = planned.work.length;
  return { ...planned, floorTime: plan.floorTime };
}

/** get_group_info calls (of 50 ids) that may wait before the listing pauses: two pages of 10,000 ids. */
const MAX_WAITING_INFO_BATCHES = 400;

/**
 * Planning's API calls (get_group_info, get_topic): at most `PLANNING_CALLS_IN_FLIGHT` handed to
 * the client at once, counted on the feed while the client has them (so paging leaves them slots
 * only while needed). Calls not settled yet are kept (settled ones are dropped: a million groups
 * make 20,000 of them), and the first failure.
 */
class PlanningCalls {
  private readonly limited = pLimit(PLANNING_CALLS_IN_FLIGHT);
  private readonly calls = new Set<Promise<void>>();
  public failed: unknown;

  public constructor(private readonly feed: WorkFeed | undefined) {}

  /** Run `call` when one of planning's slots is free. */
  public run<T>(call: () => Promise<T>): Promise<T> {
    return this.limited(async () => {
      this.feed?.callStarted();
      try {
        return await call();
      } finally {
        this.feed?.callEnded();
      }
    });
  }

  /** Keep `call` until it settles; its failure (the first one) is thrown by the caller later. */
  public track(call: Promise<void>): void {
    const settled: Promise<void> = call.then(
      () => {
        this.calls.delete(settled);
      },
      (error: unknown) => {
        this.calls.delete(settled);
        this.failed ??= error;
      },
    );
    this.calls.add(settled);
  }

  /** Resolves once no call is left, including those added while waiting (topic calls). */
  public async settle(): Promise<void> {
    while (this.calls.size > 0) await Promise.all([...this.calls]);
  }
}

/** What reading infos and topics works with. */
interface Reading {
  ctx: PlanContext;
  calls: PlanningCalls;
  consider: Consider;
}

/** Read the topics of a topic-enabled Community and decide each topic's work. */
function readTopics({ ctx, calls, consider }: Reading, groupId: string): void {
  const { report } = ctx;
  calls.track(
    calls
      .run(() => ctx.deps.api.getTopics(groupId, ctx.signal))
      .then(
        (topics) => {
          for (const topic of topics) {
            if (!topic.ok) {
              report.errors.push({
                groupId,
                topicId: topic.topicId ?? null,
                error: `get_topic ErrorCode ${topic.errorCode}`,
              });
              continue;
            }
            report.topics++;
            consider(
              { groupId, topicId: topic.topicId },
              Math.max(0, topic.nextMsgSeq - 1),
              topic.lastMsgTime,
            );
          }
        },
        (error: unknown) => {
          if (isSkipTarget(error)) {
            report.errors.push({ groupId, topicId: null, error: error.message });
            return;
          }
          throw error;
        },
      ),
  );
}

/** Decide each group of an info answer (skipped, or its work), and read the topics of Communities. */
function onInfos(reading: Reading, infos: readonly GroupInfo[]): void {
  const { report, options } = reading.ctx;
  for (const info of infos) {
    const decision = decideGroup(options.selection, info);
    if (decision.kind === 'skip') {
      report.groups.skipped[decision.reason] = (report.groups.skipped[decision.reason] ?? 0) + 1;
      if (decision.reason === 'error')
        report.errors.push({ groupId: info.groupId, topicId: null, error: decision.detail });
      continue;
    }
    if (!info.ok) continue;
    reading.consider(
      { groupId: info.groupId, topicId: null },
      Math.max(0, info.nextMsgSeq - 1),
      info.lastMsgTime,
    );
    if (decision.hasTopics) readTopics(reading, info.groupId);
  }
}

/**
 * Reads the info of each page of ids, 50 ids a call. Each answer is decided as it arrives, so the
 * infos of a million groups are never held at once. The listing waits (the promise returned) while
 * more than two pages of ids are still to be read: when info is the slower of the two, planning
 * takes no longer, and the ids waiting are bounded (memory).
 */
function infoReader(reading: Reading): (ids: readonly string[]) => Promise<void> {
  const { ctx, calls } = reading;
  let waitingBatches = 0;
  let drained: (() => void) | undefined;
  return (ids) => {
    const selected = ids.filter((id) => selectsGroupId(ctx.options.selection, id));
    ctx.report.groups.seen += selected.length;
    for (const batch of batches(selected, 50)) {
      waitingBatches++;
      const call = calls
        .run(() => ctx.deps.api.getGroupInfo(batch, ctx.signal))
        .finally(() => {
          waitingBatches--;
          if (waitingBatches <= MAX_WAITING_INFO_BATCHES) drained?.();
        });
      calls.track(call.then((infos) => onInfos(reading, infos)));
    }
    if (waitingBatches <= MAX_WAITING_INFO_BATCHES) return Promise.resolve();
    return new Promise<void>((resolve) => {
      drained = () => {
        drained = undefined;
        resolve();
      };
    });
  };
}

/**
 * Discover groups, read their info, expand topics, and decide each target's work; each target goes
 * to `ctx.feed` (if given) as soon as it is decided. The caller closes the feed.
 */
export async function planTargets(ctx: PlanContext): Promise<Planned> {
  const { deps, options, signal } = ctx;
  // On the server's clock, read at the first answer of get_group_info: message times are the server's.
  let floor: { time: number | null } | undefined;
  const floorTimeNow = (): number | null => {
    floor ??= {
      time:
        options.initialLookbackDays === null
          ? null
          : Math.floor(deps.api.serverNowMs() / 1000) - Math.round(options.initialLookbackDays * 86_400),
    };
    return floor.time;
  };
  const { planned, consider } = decider(ctx, floorTimeNow);

  // Planning runs at the API's limits: the listing (1 call/s) goes on while get_group_info
  // (50 ids a call, 200/s) reads each page's ids, and get_topic (200/s) the topics of each
  // Community as soon as its info arrives, so planning takes about as long as the slowest of the
  // three, not their sum. Only a few calls are handed to the client at a time: the client's
  // concurrency slots are first come, first served, so thousands of queued info calls would hold
  // every slot and the listing's next page would wait behind them all.
  const calls = new PlanningCalls(ctx.feed);
  const readInfos = infoReader({ ctx, calls, consider });
  let listingError: unknown;
  try {
    if (options.groupIds) void readInfos([...new Set(options.groupIds)]);
    else await discoverGroups(deps.api, signal, readInfos);
  } catch (error) {
    listingError = error;
  }
  // Every call settles before planning returns or throws: no work outlives it.
  await calls.settle();
  if (listingError !== undefined) throw listingError;
  if (calls.failed !== undefined) throw calls.failed;
  ctx.report.targetsWithWork = planned.work.length;
  return { ...planned, floorTime: floor?.time ?? null };
}

/** Page through the app's groups, handing each page's ids to `onIds` as it arrives (it may make the listing wait). */
async function discoverGroups(
  api: ChatApi,
  signal: AbortSignal | undefined,
  onIds: (ids: string[]) => Promise<void>,
): Promise<void> {
  const progress: ListingProgress = { seen: new Set(), emptyInARow: 0 };
  for await (const page of api.listGroups(signal ? { signal } : {})) {
    await onIds(page.groupIds);
    const problem = listingProblem(progress, { count: page.groupIds.length, next: page.next });
    if (problem !== undefined) {
      throw new InconsistentAnswerError(
        TENCENT_APIS.getAppidGroupList,
        `${problem}. Nothing was archived; configure apps[].groups.ids to archive named groups meanwhile.`,
      );
    }
  }
}
