/**
 * Planning: discover the groups (or take the configured ones), read their info 50 ids a call,
 * expand the topics of topic-enabled Communities, and decide each target's ranges.
 */
import {
  type ArchiveState,
  rangesToArchive,
  type TargetRef,
  type TargetState,
  targetKey,
} from '../domain/continuation.ts';
import { GiveUpError } from '../domain/errors.ts';
import { batches, decideGroup, selectsGroupId } from '../domain/planner.ts';
import type { ChatApi } from '../domain/tencent-types.ts';
import type { RunReport } from './report.ts';
import type { RunDeps, RunOptions } from './run-options.ts';
import { TargetWork } from './target-work.ts';

/** Discover groups, read their info, expand topics, and decide each target's work. */
export async function planTargets(
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
  let floorTime: number | null = null;
  const work: TargetWork[] = [];
  const consider = (ref: TargetRef, newestSeq: number, lastMsgTime: number) => {
    const current = known.get(targetKey(ref));
    const ranges = rangesToArchive(current, newestSeq, floorTime);
    if (ranges.length === 0) {
      report.groups.idle++;
      return;
    }
    const base: TargetState = current ?? { ...ref, highWater: 0, highWaterTime: null, inProgress: null };
    work.push(new TargetWork(ref, base, ranges, lastMsgTime, options.concurrency));
  };

  const infoBatches = batches(selected, 50);
  const infos = (await Promise.all(infoBatches.map((ids) => deps.api.getGroupInfo(ids, signal)))).flat();
  // On the server's clock (known now that it answered): message times are the server's.
  floorTime =
    options.initialLookbackDays === null
      ? null
      : Math.floor(deps.api.serverNowMs() / 1000) - Math.round(options.initialLookbackDays * 86_400);
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
