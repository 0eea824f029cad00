/**
 * The plan carried across the invocations of one run (see `functions/domain/carried-plan.ts`):
 * an invocation plans afresh, or rebuilds its work from the plan the state head names; one that
 * stops with work left stores the targets still to do; one that finishes drops the plan.
 *
 * The plan object is written like every other object: named in the head's intent first,
 * create-only, then committed by the head (so an uncommitted one is rolled back); a replaced or
 * dropped plan is remembered as a rolled-back key and deleted.
 */
import {
  type CarriedPlan,
  decidePlan,
  PLAN_MAX_AGE_MS,
  parsePlan,
  planObjectKey,
  planScope,
  serializePlan,
} from '../domain/carried-plan.ts';
import { targetKey } from '../domain/continuation.ts';
import { rememberRolledBack } from '../domain/lease.ts';
import { carryPlan, type Planned, planTargets } from './plan-targets.ts';
import type { RunReport } from './report.ts';
import type { RunDeps, RunOptions } from './run-options.ts';
import type { StateKeeper } from './state-keeper.ts';
import type { WorkFeed } from './work-feed.ts';

/** What carrying a plan works with: the run's deps and options, and its state. */
export interface PlanCarryContext {
  deps: RunDeps;
  options: RunOptions;
  keeper: StateKeeper;
}

/** What obtaining the invocation's plan works with. */
export interface ObtainPlanContext extends PlanCarryContext {
  report: RunReport;
  signal?: AbortSignal | undefined;
  /** Receives every target as it is decided (the caller closes it). */
  feed?: WorkFeed | undefined;
}

/**
 * The invocation's work: from the carried plan when it is fresh, else planned now (API calls).
 * Every target also goes to `ctx.feed` as it is decided (the caller closes it).
 */
export async function obtainPlan(ctx: ObtainPlanContext): Promise<{ planned: Planned; carried: boolean }> {
  const { deps, options, keeper, report, signal, feed } = ctx;
  const ref = keeper.head.plan;
  const decision = decidePlan(ref, {
    nowMs: deps.clock.now(),
    maxAgeMs: options.planMaxAgeMs ?? PLAN_MAX_AGE_MS,
    scope: planScope(options),
  });
  if (decision.kind === 'carry' && ref !== null) {
    const object = await deps.store.get(ref.key);
    if (object !== undefined) {
      const plan = parsePlan(
        new TextDecoder().decode(object.body),
        options.sdkAppId,
        `${deps.store.location}/${ref.key}`,
      );
      deps.logger.info('carrying on with the plan of an earlier invocation (no listing)', {
        madeAt: new Date(plan.madeAtMs).toISOString(),
        targets: plan.targets.length,
      });
      report.planCarried = true;
      return {
        planned: carryPlan({ deps, options, known: keeper.targets, report, feed }, plan),
        carried: true,
      };
    }
    deps.logger.warn('the carried plan is missing; planning afresh', { key: ref.key });
  } else if (decision.kind === 'plan' && decision.reason !== 'none') {
    deps.logger.info('planning afresh', { reason: decision.reason });
  }
  const planned = await planTargets({ deps, options, known: keeper.targets, report, signal, feed });
  return { planned, carried: false };
}

/**
 * At the end of an invocation: a run that is done drops its plan; one with work left keeps the
 * carried plan, or stores the targets of its fresh plan still to do (committed by the head).
 * Every write is behind `ctx.fence`.
 */
export async function settlePlan(
  ctx: PlanCarryContext & { fence: () => Promise<void> },
  outcome: { planned: Planned; carried: boolean; done: boolean; madeAtMs: number },
): Promise<void> {
  const { deps, options, keeper, fence } = ctx;
  const old = keeper.head.plan;
  if (outcome.done || !outcome.carried) {
    const left = outcome.done ? [] : stillToDo(outcome.planned, keeper);
    let next: CarriedPlan | undefined;
    if (left.length > 0) {
      next = {
        version: 1,
        sdkAppId: options.sdkAppId,
        madeAtMs: outcome.madeAtMs,
        scope: planScope(options),
        floorTime: outcome.planned.floorTime,
        targets: left,
      };
    }
    if (next === undefined && old === null) return;
    const key = planObjectKey(options.sdkAppId, options.runId);
    const replaced = old === null ? [] : [old.key];
    if (next !== undefined) {
      await fence();
      await keeper.update((h) => ({ ...h, pending: { runId: options.runId, objects: [key] } }));
      await fence();
      await deps.store.put(key, new TextEncoder().encode(serializePlan(next)), {
        contentType: 'application/json',
        ifNoneMatch: '*',
      });
    }
    const ref =
      next === undefined
        ? null
        : { key, madeAtMs: next.madeAtMs, targets: next.targets.length, scope: next.scope };
    await keeper.update((h) => ({
      ...h,
      pending: null,
      plan: ref,
      rolledBack: rememberRolledBack(h.rolledBack, replaced, deps.clock.now()),
    }));
    for (const k of replaced) await deps.store.delete(k);
  }
}

/** The planned targets whose committed state does not reach the seq planning saw. */
function stillToDo(planned: Planned, keeper: StateKeeper) {
  return planned.entries.filter((entry, i) => {
    if (planned.work[i]?.finished !== true) return true;
    const state = keeper.targets.get(targetKey(entry));
    return state === undefined || state.inProgress !== null || state.highWater < entry.newestSeq;
  });
}
