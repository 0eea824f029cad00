/**
 * The plan a run carries across the invocations it needs (Lambda invocations of one Step
 * Functions execution, CLI runs resuming an unfinished run): the targets that still had work when
 * an invocation stopped, with the newest seq planning saw for each. The next invocation rebuilds
 * its work from it and the committed state, without listing the app's groups again. Pure.
 *
 * A carried plan is used while it is younger than {@link PLAN_MAX_AGE_MS} and was made for the
 * same selection; otherwise, and once a run is done, the next invocation plans afresh. Messages
 * that arrive after planning, and groups created meanwhile, wait for the next plan.
 */
import * as z from 'zod';
import type { TargetRef } from './continuation.ts';
import { StateCorruptError } from './errors.ts';
import { stateKey } from './partition.ts';
import type { GroupSelection } from './planner.ts';
import type { PlanRef } from './state-layout.ts';

/** A plan older than this is not carried on: six hours covers a nightly run's invocations with room. */
export const PLAN_MAX_AGE_MS = 6 * 3_600_000;

/** One planned target: what planning learnt from get_group_info / get_topic. */
export interface PlannedTarget extends TargetRef {
  /** The newest seq when planned (`NextMsgSeq - 1`). */
  readonly newestSeq: number;
  /** `LastMsgTime` when planned (epoch seconds). */
  readonly lastMsgTime: number;
}

/** A stored plan. */
export interface CarriedPlan {
  version: 1;
  sdkAppId: number;
  /** When planned, on the planning run's clock (epoch ms). */
  madeAtMs: number;
  /** What the plan was made for (see {@link planScope}): another selection plans afresh. */
  scope: string;
  /** The first-run look-back cut-off planning used (epoch seconds, server clock), or null. */
  floorTime: number | null;
  targets: PlannedTarget[];
}

const PlanSchema = z.object({
  version: z.literal(1),
  sdkAppId: z.number().int().positive(),
  madeAtMs: z.number(),
  scope: z.string(),
  floorTime: z.number().int().nullable(),
  targets: z.array(
    z.object({
      groupId: z.string().min(1),
      topicId: z.string().min(1).nullable(),
      newestSeq: z.number().int().nonnegative(),
      lastMsgTime: z.number().int(),
    }),
  ),
});

/** What a plan depends on besides the server: the configured ids, the selection, the look-back. */
export function planScope(options: {
  groupIds: readonly string[] | undefined;
  selection: GroupSelection;
  initialLookbackDays: number | null;
}): string {
  return JSON.stringify([options.groupIds ?? null, options.selection, options.initialLookbackDays]);
}

/** Should this invocation carry on with the stored plan, or plan afresh (and why)? */
export function decidePlan(
  ref: PlanRef | null,
  args: { nowMs: number; maxAgeMs: number; scope: string },
): { kind: 'carry' } | { kind: 'plan'; reason: 'none' | 'too-old' | 'other-selection' } {
  if (ref === null) return { kind: 'plan', reason: 'none' };
  if (ref.scope !== args.scope) return { kind: 'plan', reason: 'other-selection' };
  // A plan "from the future" (a clock set back) is as unknown as an old one.
  const age = args.nowMs - ref.madeAtMs;
  if (age < 0 || age > args.maxAgeMs) return { kind: 'plan', reason: 'too-old' };
  return { kind: 'carry' };
}

/** Serialise a plan: one target a line. */
export function serializePlan(plan: CarriedPlan): string {
  const { targets, ...head } = plan;
  const lines = targets.map((t) => JSON.stringify(t));
  const fields = JSON.stringify(head).slice(0, -1);
  return `${fields},"targets":[\n${lines.join(',\n')}\n]}\n`;
}

/**
 * Parse a stored plan.
 * @throws StateCorruptError when it is unreadable or belongs elsewhere
 */
export function parsePlan(text: string, expectedSdkAppId: number, location: string): CarriedPlan {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (cause) {
    throw new StateCorruptError(`The plan object ${location} is not valid JSON.`, { cause });
  }
  const parsed = PlanSchema.safeParse(json);
  if (!parsed.success || parsed.data.sdkAppId !== expectedSdkAppId) {
    throw new StateCorruptError(
      `The plan object ${location} is damaged or belongs to another app; the next run plans afresh once it is deleted.`,
      parsed.success ? undefined : { cause: parsed.error },
    );
  }
  return parsed.data as CarriedPlan;
}

/** Key of a plan object: create-only, one per planning run. */
export function planObjectKey(sdkAppId: number, runId: string): string {
  return stateKey(sdkAppId).replace(/state\.json$/, `plans/${runId}.plan.json`);
}
