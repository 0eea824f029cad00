/**
 * The plan carried across invocations (functions/engine/plan-carry.ts): stored when an invocation
 * stops with work left, reused by the next one without listing, re-made when too old, resumed
 * from the committed state, dropped when the run is done. In memory only
 * (test/helpers/engine-fakes.ts): a memory store, a scripted ChatApi, a fake clock.
 */
import { describe, expect, it } from 'vitest';
import {
  PLAN_MAX_AGE_MS,
  parsePlan,
  planObjectKey,
  planScope,
} from '../../../functions/domain/carried-plan.ts';
import type { TargetState } from '../../../functions/domain/continuation.ts';
import { obtainPlan, settlePlan } from '../../../functions/engine/plan-carry.ts';
import type { Planned } from '../../../functions/engine/plan-targets.ts';
import { emptyReport } from '../../../functions/engine/report.ts';
import type { RunOptions } from '../../../functions/engine/run-options.ts';
import { StateKeeper } from '../../../functions/engine/state-keeper.ts';
import {
  FakeChatApi,
  FakeClock,
  MemoryStore,
  messageRun,
  RecordingLogger,
  silentLogger,
  testRunOptions,
} from '../../helpers/engine-fakes.ts';

const APP = 1400000002;
const T0 = Date.UTC(2025, 11, 31) / 1000;
const GROUPS = { g1: messageRun(5, T0), g2: messageRun(3, T0) };

interface World {
  store: MemoryStore;
  clock: FakeClock;
  options: RunOptions;
}

function world(over: Partial<RunOptions> = {}): World {
  return {
    store: new MemoryStore(),
    clock: new FakeClock(),
    options: testRunOptions(APP, { runId: 'run-a', ...over }),
  };
}

/** One invocation's state keeper (takes the lease). */
function openKeeper(w: World, logger = silentLogger): Promise<StateKeeper> {
  return StateKeeper.open({
    store: w.store,
    sdkAppId: APP,
    runId: w.options.runId,
    clock: w.clock,
    logger,
    leaseMs: w.options.leaseMs,
  });
}

/** Commit these target states as a checkpoint would (staged object, then the head). */
async function commitTargets(keeper: StateKeeper, states: TargetState[]): Promise<void> {
  const staged = keeper.stage(states);
  if (staged) await keeper.writeStaged(staged);
  await keeper.commit(staged, (head) => head);
}

function target(groupId: string, highWater: number): TargetState {
  return { groupId, topicId: null, highWater, highWaterTime: T0, inProgress: null, generation: 0 };
}

/** `groupId:lo-hi` of every span of every planned target. */
function spans(planned: Planned): string[] {
  return planned.work.flatMap((w) => w.spans.map((s) => `${w.ref.groupId}:${s.lo}-${s.hi}`)).sort();
}

/**
 * A first invocation that plans afresh, archives g2 completely and g1 up to seq 2, then stops with
 * work left and stores its plan. Returns the stored plan's key and when it was made.
 */
async function firstInvocation(w: World): Promise<{ key: string; madeAtMs: number; fences: number }> {
  const keeper = await openKeeper(w);
  const api = new FakeChatApi({ groups: GROUPS });
  const deps = { api, store: w.store, clock: w.clock, logger: silentLogger };
  const madeAtMs = w.clock.now();
  const { planned, carried } = await obtainPlan({
    deps,
    options: w.options,
    keeper,
    report: emptyReport(w.options.runId, APP, madeAtMs),
  });
  expect(carried).toBe(false);
  planned.work.find((t) => t.ref.groupId === 'g2')?.finishRange();
  await commitTargets(keeper, [target('g1', 2), target('g2', 3)]);
  let fences = 0;
  const fence = async () => {
    fences++;
  };
  await settlePlan({ deps, options: w.options, keeper, fence }, { planned, carried, done: false, madeAtMs });
  await keeper.release();
  return { key: planObjectKey(APP, w.options.runId), madeAtMs, fences };
}

describe('a plan carried across invocations', () => {
  it('is stored with the targets still to do when an invocation stops with work left', async () => {
    const w = world();

    const first = await firstInvocation(w);

    // Only g1 is left (g2 is finished and committed up to the seq planning saw).
    const stored = w.store.text(first.key);
    if (stored === undefined) throw new Error(`no plan object at ${first.key}`);
    const plan = parsePlan(stored, APP, first.key);
    expect(plan.targets).toEqual([{ groupId: 'g1', topicId: null, newestSeq: 5, lastMsgTime: T0 + 4 * 60 }]);
    expect(plan.madeAtMs).toBe(first.madeAtMs);
    const keeper = await openKeeper(w);
    expect(keeper.head.plan).toEqual({
      key: first.key,
      madeAtMs: first.madeAtMs,
      targets: 1,
      scope: planScope(w.options),
    });
    expect(keeper.head.pending).toBeNull();
    // Named in the intent and written behind the fence.
    expect(first.fences).toBe(2);
  });

  it('is reused by the next invocation without any API call, resuming from the committed state', async () => {
    const w = world();
    await firstInvocation(w);
    w.clock.advance(60_000);
    const keeper = await openKeeper(w);
    const api = new FakeChatApi({ groups: GROUPS });
    const report = emptyReport(w.options.runId, APP, w.clock.now());

    const { planned, carried } = await obtainPlan({
      deps: { api, store: w.store, clock: w.clock, logger: silentLogger },
      options: w.options,
      keeper,
      report,
    });

    expect(carried).toBe(true);
    expect(report.planCarried).toBe(true);
    expect(api.calls).toEqual([]);
    // g1 was committed up to seq 2: only 3..5 is left.
    expect(spans(planned)).toEqual(['g1:3-5']);
  });

  it('is re-made (listing again) when older than the bound or made for another selection', async () => {
    for (const change of ['too-old', 'other-selection'] as const) {
      const w = world();
      await firstInvocation(w);
      if (change === 'too-old') w.clock.advance(PLAN_MAX_AGE_MS + 1);
      const options: RunOptions =
        change === 'other-selection'
          ? { ...w.options, selection: { include: ['g1'], exclude: [], types: [] } }
          : w.options;
      const keeper = await openKeeper(w);
      const api = new FakeChatApi({ groups: GROUPS });
      const logger = new RecordingLogger();
      const report = emptyReport(w.options.runId, APP, w.clock.now());

      const { planned, carried } = await obtainPlan({
        deps: { api, store: w.store, clock: w.clock, logger },
        options,
        keeper,
        report,
      });

      expect(carried, change).toBe(false);
      expect(report.planCarried, change).toBe(false);
      expect(
        api.calls.filter((c) => c.api === 'listGroups'),
        change,
      ).toHaveLength(1);
      expect(logger.lines.find((l) => l.message === 'planning afresh')?.fields, change).toEqual({
        reason: change,
      });
      // Planned afresh from the committed state: g1 from seq 3, g2 idle.
      expect(spans(planned), change).toEqual(['g1:3-5']);
    }
  });

  it('plans afresh, with a warning, when the plan object the head names is missing', async () => {
    const w = world();
    const { key } = await firstInvocation(w);
    await w.store.delete(key);
    const keeper = await openKeeper(w);
    const api = new FakeChatApi({ groups: GROUPS });
    const logger = new RecordingLogger();

    const { carried } = await obtainPlan({
      deps: { api, store: w.store, clock: w.clock, logger },
      options: w.options,
      keeper,
      report: emptyReport(w.options.runId, APP, w.clock.now()),
    });

    expect(carried).toBe(false);
    expect(logger.at('warn')).toContain('the carried plan is missing; planning afresh');
    expect(api.calls.filter((c) => c.api === 'listGroups')).toHaveLength(1);
  });

  it('is dropped, and its object deleted, when the run is done', async () => {
    const w = world();
    const { key } = await firstInvocation(w);
    const keeper = await openKeeper(w);
    const deps = {
      api: new FakeChatApi({ groups: GROUPS }),
      store: w.store,
      clock: w.clock,
      logger: silentLogger,
    };
    const made = await obtainPlan({
      deps,
      options: w.options,
      keeper,
      report: emptyReport(w.options.runId, APP, w.clock.now()),
    });
    expect(made.carried).toBe(true);

    await settlePlan(
      { deps, options: w.options, keeper, fence: async () => undefined },
      { ...made, done: true, madeAtMs: w.clock.now() },
    );

    expect(keeper.head.plan).toBeNull();
    expect(w.store.text(key)).toBeUndefined();
    expect(keeper.head.rolledBack.map((r) => r.key)).toContain(key);
  });
});
