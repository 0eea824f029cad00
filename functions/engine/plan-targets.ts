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
import { GiveUpError, InconsistentAnswerError } from '../domain/errors.ts';
import {
  batches,
  decideGroup,
  type ListingProgress,
  listingProblem,
  selectsGroupId,
} from '../domain/planner.ts';
import type { ChatApi } from '../domain/ports.ts';
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

/** Decides each target's work from what planning saw; shared by fresh and carried plans. */
function decider(
  deps: RunDeps,
  options: RunOptions,
  known: ReadonlyMap<string, TargetState>,
  report: RunReport,
  floorTimeNow: () => number | null,
  feed?: WorkFeed,
) {
  // With a feed, the work is the feed's own list: paging sees each target as it is decided.
  const planned: Omit<Planned, 'floorTime'> = { work: feed?.work ?? [], entries: [] };
  // A target is planned once even if the listing hands its group out twice (no Set of every id
  // listed is kept: for a million groups it would hold tens of MB for a rare server fault).
  const plannedKeys = new Set<string>();
  const consider = (ref: TargetRef, newestSeq: number, lastMsgTime: number) => {
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
    const base: TargetState = current ?? {
      ...ref,
      highWater: 0,
      highWaterTime: null,
      inProgress: null,
      generation: 0,
    };
    plannedKeys.add(key);
    const work = new TargetWork({ ref, state: base, ranges, lastMsgTime, maxSpans: options.concurrency });
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
export function carryPlan(
  deps: RunDeps,
  options: RunOptions,
  known: ReadonlyMap<string, TargetState>,
  report: RunReport,
  plan: CarriedPlan,
  feed?: WorkFeed,
): Planned {
  const { planned, consider } = decider(deps, options, known, report, () => plan.floorTime, feed);
  for (const t of plan.targets)
    consider({ groupId: t.groupId, topicId: t.topicId }, t.newestSeq, t.lastMsgTime);
  report.targetsWithWork = planned.work.length;
  return { ...planned, floorTime: plan.floorTime };
}

/** get_group_info calls (of 50 ids) that may wait before the listing pauses: two pages of 10,000 ids. */
const MAX_WAITING_INFO_BATCHES = 400;

/**
 * Discover groups, read their info, expand topics, and decide each target's work; each target goes
 * to `feed` (if given) as soon as it is decided. The caller closes the feed.
 */
export async function planTargets(
  deps: RunDeps,
  options: RunOptions,
  known: ReadonlyMap<string, TargetState>,
  report: RunReport,
  signal: AbortSignal | undefined,
  feed?: WorkFeed,
): Promise<Planned> {
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
  const { planned, consider } = decider(deps, options, known, report, floorTimeNow, feed);

  // Planning runs at the API's limits: the listing (1 call/s) goes on while get_group_info
  // (50 ids a call, 200/s) reads each page's ids, and get_topic (200/s) the topics of each
  // Community as soon as its info arrives, so planning takes about as long as the slowest of the
  // three, not their sum. Only a few calls are handed to the client at a time: the client's
  // concurrency slots are first come, first served, so thousands of queued info calls would hold
  // every slot and the listing's next page would wait behind them all.
  const limited = pLimit(PLANNING_CALLS_IN_FLIGHT);
  // Counted on the feed while the client has them, so paging leaves them slots only while needed.
  const inFlight = <T>(call: () => Promise<T>): Promise<T> =>
    limited(async () => {
      feed?.callStarted();
      try {
        return await call();
      } finally {
        feed?.callEnded();
      }
    });
  // Calls not settled yet (settled ones are dropped: a million groups make 20,000 of them), and
  // the first failure.
  const calls = new Set<Promise<void>>();
  let failed: unknown;
  const track = (call: Promise<void>): void => {
    const settled: Promise<void> = call.then(
      () => {
        calls.delete(settled);
      },
      (error: unknown) => {
        calls.delete(settled);
        failed ??= error;
      },
    );
    calls.add(settled);
  };
  const readTopics = (groupId: string): void => {
    track(
      inFlight(() => deps.api.getTopics(groupId, signal)).then(
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
          if (error instanceof GiveUpError && error.action === 'skip-group') {
            report.errors.push({ groupId, topicId: null, error: error.message });
            return;
          }
          throw error;
        },
      ),
    );
  };
  const onInfos = (infos: readonly GroupInfo[]): void => {
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
      if (decision.hasTopics) readTopics(info.groupId);
    }
  };
  // Each answer is decided as it arrives, so the infos of a million groups are never held at once.
  // The listing waits while more than two pages of ids are still to be read: when info is the
  // slower of the two, planning takes no longer, and the ids waiting are bounded (memory).
  let waitingBatches = 0;
  let drained: (() => void) | undefined;
  const readInfos = (ids: readonly string[]): Promise<void> => {
    const selected = ids.filter((id) => selectsGroupId(options.selection, id));
    report.groups.seen += selected.length;
    for (const batch of batches(selected, 50)) {
      waitingBatches++;
      const call = inFlight(() => deps.api.getGroupInfo(batch, signal)).finally(() => {
        waitingBatches--;
        if (waitingBatches <= MAX_WAITING_INFO_BATCHES) drained?.();
      });
      track(call.then(onInfos));
    }
    if (waitingBatches <= MAX_WAITING_INFO_BATCHES) return Promise.resolve();
    return new Promise<void>((resolve) => {
      drained = () => {
        drained = undefined;
        resolve();
      };
    });
  };
  let listingError: unknown;
  try {
    if (options.groupIds) void readInfos([...new Set(options.groupIds)]);
    else await discoverGroups(deps.api, signal, readInfos);
  } catch (error) {
    listingError = error;
  }
  // Every call settles before planning returns or throws: no work outlives it. Topic calls are
  // added while info answers arrive, so wait until no new call appears.
  while (calls.size > 0) await Promise.all([...calls]);
  if (listingError !== undefined) throw listingError;
  if (failed !== undefined) throw failed;
  report.targetsWithWork = planned.work.length;
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
