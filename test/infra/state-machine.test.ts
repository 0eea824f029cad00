/**
 * The synthesized state machines, validated by asl-validator and executed by a small ASL
 * interpreter (asl.ts) with fake Lambda, ListExecutions, StartExecution and PutMetricData
 * answers: the loop runs until `done`, continues in a new execution at its bound, stops an app
 * that makes no progress, retries what it should, isolates a failing app, survives an
 * incomplete result, and never lets a second run archive while one is running.
 */
import { describe, expect, it } from 'vitest';
import { aslErrors, definitionFrom, execute, type Json, TaskError } from './asl.ts';
import { build, demoConfig } from './helpers.ts';

const ME = 'arn:aws:states:us-east-1:1:execution:sm:me';

/** A config with these apps (and cdk.json's settings otherwise). */
function configWith(sdkAppIds: number[], run: Record<string, unknown> = {}) {
  const config = demoConfig();
  const [first] = config.apps;
  // Only what differs from the defaults: 25 such apps fit in the function's environment.
  config.apps = sdkAppIds.map((sdkAppId) => ({
    sdkAppId,
    region: first?.region,
    secretKey: { ssmParameter: `/tca/${sdkAppId}` },
  }));
  config.deploy.run = run;
  return config;
}

/** The definitions of the run state machine and of the deadline check, for such a config. */
function definitions(sdkAppIds: number[], run: Record<string, unknown> = {}) {
  const { stack } = build(configWith(sdkAppIds, run));
  // Resolved without a full synth: only the CloudFormation value of the definition is needed.
  const of = (machine: unknown) =>
    definitionFrom(
      stack.resolve(
        ((machine as { node: { defaultChild: unknown } }).node.defaultChild as { definitionString: unknown })
          .definitionString,
      ),
    );
  return {
    run: of(stack.archiver.run.stateMachine),
    deadline: of(stack.archiver.deadlineCheck.stateMachine),
  };
}

/** The run state machine's definition, for a config with these apps and iteration bound. */
function runDefinition(sdkAppIds: number[], maxIterations: number, noProgressInvocations = 3) {
  return definitions(sdkAppIds, { maxIterations, noProgressInvocations }).run;
}

type Answer = { done: boolean; messages?: number; remainingTargets?: number } | Record<string, Json>;

/** A fake archiver: `script(sdkAppId, call)` answers each invocation (a result or a thrown TaskError). */
function lambda(script: (sdkAppId: number, call: number) => Answer | TaskError, complete = true) {
  const calls = new Map<number, number>();
  const invoke = (parameters: Record<string, Json>) => {
    const { sdkAppId } = parameters.Payload as { sdkAppId: number };
    const call = (calls.get(sdkAppId) ?? 0) + 1;
    calls.set(sdkAppId, call);
    const answer = script(sdkAppId, call);
    if (answer instanceof TaskError) throw answer;
    if (!complete) return { Payload: answer };
    return {
      Payload: {
        sdkAppId,
        runId: `run-${call}`,
        messages: 10,
        pages: 1,
        remainingTargets: answer.done ? 0 : 1,
        elapsedMs: 1000,
        ...answer,
      },
    };
  };
  return { invoke, calls };
}

function running(...arns: string[]) {
  return () => ({ Executions: arns.map((ExecutionArn) => ({ ExecutionArn, Status: 'RUNNING' })) });
}

/** Fake StartExecution and PutMetricData: what the run started and sent. */
function sideEffects() {
  const started: { StateMachineArn: Json; Input: Record<string, Json> }[] = [];
  const metrics: { name: string; value: number; dimensions: Json }[] = [];
  return {
    started,
    metrics,
    resources: {
      'states:startExecution': (parameters: Record<string, Json>) => {
        const input = parameters.Input as Record<string, Json>;
        started.push({ StateMachineArn: parameters.StateMachineArn, Input: input });
        return { ExecutionArn: `arn:aws:states:us-east-1:1:execution:sm:next-${started.length}` };
      },
      'aws-sdk:cloudwatch:putMetricData': (parameters: Record<string, Json>) => {
        for (const m of parameters.MetricData as { MetricName: string; Value: number; Dimensions: Json }[])
          metrics.push({ name: m.MetricName, value: m.Value, dimensions: m.Dimensions });
        return {};
      },
    },
  };
}

type RunOutput = {
  outcome: string;
  apps: { sdkAppId: number; status: string; error?: { Error: string; Cause?: string } }[];
};

describe('the run state machine', () => {
  const definition = runDefinition([1400000000, 1400000001], 5);
  const run = (
    fn: ReturnType<typeof lambda>,
    effects = sideEffects(),
    options: { input?: Json; list?: () => Json; me?: string } = {},
  ) =>
    execute(
      definition,
      options.input ?? {},
      {
        'aws-sdk:sfn:listExecutions': options.list ?? running(options.me ?? ME),
        'lambda:invoke': fn.invoke,
        ...effects.resources,
      },
      {
        Execution: { Id: options.me ?? ME },
        StateMachine: { Id: 'arn:aws:states:us-east-1:1:stateMachine:sm' },
      },
    );

  it('invokes each app again and again until it reports done, all apps in parallel', async () => {
    const fn = lambda((id, call) => ({ done: call === (id === 1400000000 ? 3 : 1) }));
    const result = await run(fn);
    expect(result.status).toBe('SUCCEEDED');
    expect(Object.fromEntries(fn.calls)).toEqual({ 1400000000: 3, 1400000001: 1 });
    expect(result.output).toEqual({
      outcome: 'done',
      apps: [
        { sdkAppId: 1400000000, status: 'done', iteration: 2, runId: 'run-3' },
        { sdkAppId: 1400000001, status: 'done', iteration: 0, runId: 'run-1' },
      ],
    });
  });

  it('continues an app still behind at the bound in a new execution, without failing, until it is caught up', async () => {
    // App 0 needs 12 invocations, 5 per execution; app 1 is done at once.
    const fn = lambda((id, call) => (id === 1400000001 ? { done: true } : { done: call === 12 }));
    const effects = sideEffects();
    const first = await run(fn, effects);
    expect(first.status).toBe('SUCCEEDED');
    expect((first.output as RunOutput).outcome).toBe('continued');
    expect(fn.calls.get(1400000000)).toBe(5);
    expect(effects.started).toHaveLength(1);
    expect(effects.started[0]?.StateMachineArn).toBe('arn:aws:states:us-east-1:1:stateMachine:sm');
    expect(effects.started[0]?.Input.AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID).toBe(ME);
    const next = effects.started[0]?.Input as { apps: { sdkAppId: number }[]; continuationOf: string };
    expect(next.apps.map((a) => a.sdkAppId)).toEqual([1400000000]);
    expect(next.continuationOf).toBe(ME);

    // The continuations run while their predecessor may still be listed as running.
    let input: Json = next;
    let predecessor = ME;
    const outcomes: string[] = [];
    for (let generation = 1; generation <= 3; generation++) {
      const me = `arn:aws:states:us-east-1:1:execution:sm:next-${generation}`;
      const result = await run(fn, effects, { input, me, list: running(me, predecessor) });
      expect(result.status).toBe('SUCCEEDED');
      outcomes.push((result.output as RunOutput).outcome);
      if ((result.output as RunOutput).outcome === 'done') break;
      input = effects.started.at(-1)?.Input;
      predecessor = me;
    }
    expect(outcomes).toEqual(['continued', 'done']);
    expect(fn.calls.get(1400000000)).toBe(12);
    expect(fn.calls.get(1400000001)).toBe(1);
    // A backfill that progresses is not a failure and raises no no-progress alarm.
    expect(effects.metrics).toEqual([]);
  });

  it('stops an app that makes no progress for noProgressInvocations invocations, and says so in a metric', async () => {
    // App 0 archives nothing and keeps 4 groups behind; app 1 archives nothing but its backlog
    // shrinks every time: that is progress.
    let shrinking = 10;
    const fn = lambda((id, call) =>
      id === 1400000000
        ? { done: false, messages: 0, remainingTargets: 4 }
        : { done: call === 5, messages: 0, remainingTargets: shrinking-- },
    );
    const effects = sideEffects();
    const result = await run(fn, effects);
    // The first invocation sets the baseline; the next three made no progress over it.
    expect(fn.calls.get(1400000000)).toBe(4);
    expect(fn.calls.get(1400000001)).toBe(5);
    expect(result.status).toBe('SUCCEEDED');
    const output = result.output as RunOutput;
    expect(output.apps[0]).toMatchObject({
      sdkAppId: 1400000000,
      status: 'stalled',
      error: { Error: 'NoProgress' },
    });
    expect(output.apps[1]).toMatchObject({ sdkAppId: 1400000001, status: 'done' });
    expect(effects.metrics).toEqual([
      {
        name: 'AppsWithoutProgress',
        value: 1,
        dimensions: [{ Name: 'StateMachine', Value: expect.any(String) }],
      },
    ]);
    expect(effects.started).toEqual([]);
  });

  it('counts an invocation that only copied media as progress', async () => {
    // Messages all archived, the same groups behind (media of earlier checkpoints still copying):
    // media done in each invocation is progress, so the app is not stopped as stalled.
    const fn = lambda((_id, call) => ({
      done: call === 5,
      messages: 0,
      remainingTargets: 2,
      mediaDone: 5,
      mediaPending: 10,
    }));
    const effects = sideEffects();
    const result = await run(fn, effects);
    const output = result.output as RunOutput;
    expect(output.apps.map((a) => a.status)).toEqual(['done', 'done']);
    // Without media counted, the fourth invocation would stop the app as stalled.
    expect(fn.calls.get(1400000000)).toBe(5);
    expect(effects.metrics).toEqual([]);
  });

  it('counts a rescan-only invocation that moved its window on as progress, not as stalled', async () => {
    // Every target caught up (none behind, no new messages, no media): a long rescan window takes
    // several invocations, each comparing archived messages with the server.
    const fn = lambda((_id, call) => ({
      done: call === 5,
      messages: 0,
      remainingTargets: 0,
      mediaDone: 0,
      rescanChecked: call === 5 ? 0 : 500,
    }));
    const effects = sideEffects();
    const result = await run(fn, effects);
    const output = result.output as RunOutput;
    expect(output.apps.map((a) => a.status)).toEqual(['done', 'done']);
    // Without the rescan counted, the fourth invocation would stop each app as stalled.
    expect(fn.calls.get(1400000000)).toBe(5);
    expect(effects.metrics).toEqual([]);
  });

  it('archives 50 apps at most 10 at once: none throttled by an account limit of 10, all done', async () => {
    const ids = Array.from({ length: 50 }, (_, i) => 1400000000 + i);
    const { run: many } = definitions(ids, { maxIterations: 5, maxConcurrentApps: 10 });
    // Lambda with 10 concurrency slots: an invocation beyond them is throttled, and each holds its
    // slot across a few turns of the event loop (so the Map's branches overlap).
    let inFlight = 0;
    let peak = 0;
    const calls = new Map<number, number>();
    const invoke = async (parameters: Record<string, Json>) => {
      const { sdkAppId } = parameters.Payload as { sdkAppId: number };
      if (inFlight >= 10) throw new TaskError('Lambda.TooManyRequestsException', 'Rate Exceeded.');
      inFlight++;
      peak = Math.max(peak, inFlight);
      for (let i = 0; i < 3; i++) await new Promise((resolve) => setImmediate(resolve));
      inFlight--;
      const call = (calls.get(sdkAppId) ?? 0) + 1;
      calls.set(sdkAppId, call);
      const done = call === 2;
      return {
        Payload: {
          sdkAppId,
          done,
          runId: `run-${call}`,
          messages: 10,
          pages: 1,
          remainingTargets: done ? 0 : 1,
        },
      };
    };
    const effects = sideEffects();
    const result = await execute(
      many,
      {},
      { 'aws-sdk:sfn:listExecutions': running(ME), 'lambda:invoke': invoke, ...effects.resources },
      { Execution: { Id: ME }, StateMachine: { Id: 'arn:aws:states:us-east-1:1:stateMachine:sm' } },
    );
    expect(result.status).toBe('SUCCEEDED');
    const output = result.output as RunOutput;
    expect(output.outcome).toBe('done');
    expect(output.apps).toHaveLength(50);
    expect(output.apps.filter((a) => a.status !== 'done')).toEqual([]);
    expect(peak).toBe(10);
    expect([...calls.values()].every((n) => n === 2)).toBe(true);
  });

  it('retries throttling, crashes, lost invocations, LeaseHeldError, transient errors and timeouts', async () => {
    // At most 4 retries per retrier and invocation: the errors are spread over the two apps.
    const errors: Record<number, string[]> = {
      1400000000: ['Lambda.TooManyRequestsException', 'Lambda.Unknown', 'States.Timeout', 'LeaseHeldError'],
      1400000001: ['TransientError', 'Sandbox.Timedout', 'TimeoutError', 'Lambda.ServiceException'],
    };
    const fn = lambda((id, call) => {
      const error = errors[id]?.[call - 1];
      return error === undefined ? { done: true } : new TaskError(error, 'cause');
    });
    const result = await run(fn);
    expect(result.status).toBe('SUCCEEDED');
    expect(Object.fromEntries(fn.calls)).toEqual({ 1400000000: 5, 1400000001: 5 });
  });

  it('fails only the app with a ConfigError, at once, naming its error in the failed execution', async () => {
    const fn = lambda((id) =>
      id === 1400000001
        ? new TaskError('ConfigError', 'apps.1.secretKey: cannot read SSM parameter')
        : { done: true },
    );
    const result = await run(fn);
    expect(fn.calls.get(1400000001)).toBe(1);
    expect(result.status).toBe('FAILED');
    expect(result.error).toBe('AppsFailed');
    expect(JSON.parse(result.cause ?? '[]')).toEqual([
      expect.objectContaining({ sdkAppId: 1400000000, status: 'done' }),
      expect.objectContaining({
        sdkAppId: 1400000001,
        status: 'failed',
        error: { Error: 'ConfigError', Cause: 'apps.1.secretKey: cannot read SSM parameter' },
      }),
    ]);
  });

  it('fails the app, not the whole run, when the function returns a result missing a field', async () => {
    const fn = lambda(
      (id, call) =>
        id === 1400000000
          ? { done: false, runId: 'r', remainingTargets: 1 } // no `messages`
          : { done: true, runId: `run-${call}`, messages: 1, remainingTargets: 0 },
      false,
    );
    const result = await run(fn);
    expect(result.status).toBe('FAILED');
    expect(result.error).toBe('AppsFailed');
    const apps = JSON.parse(result.cause ?? '[]');
    expect(apps[0]).toMatchObject({
      sdkAppId: 1400000000,
      status: 'failed',
      error: { Error: 'InvalidResult' },
    });
    expect(apps[1]).toMatchObject({ sdkAppId: 1400000001, status: 'done' });
  });

  it('gives up retrying a lease that stays held, and reports the app failed', async () => {
    const fn = lambda((id) => (id === 1400000000 ? new TaskError('LeaseHeldError', 'held') : { done: true }));
    const result = await run(fn);
    // One attempt plus four retries.
    expect(fn.calls.get(1400000000)).toBe(5);
    expect(result.status).toBe('FAILED');
  });

  it('never archives while an older run is in progress: the run ends as skipped, with its own metric', async () => {
    const fn = lambda(() => ({ done: true }));
    const effects = sideEffects();
    const older = 'arn:aws:states:us-east-1:1:execution:sm:older';
    // Newest first: this execution, then an older one still running.
    const result = await run(fn, effects, {
      input: { apps: [{ sdkAppId: 1400000001 }] },
      list: running(ME, older),
    });
    expect(result.status).toBe('SUCCEEDED');
    expect(result.output).toEqual({
      outcome: 'skipped',
      reason: expect.stringContaining('in progress'),
      runningExecution: older,
    });
    expect(fn.calls.size).toBe(0);
    expect(effects.metrics.map((m) => [m.name, m.value])).toEqual([['RunsSkipped', 1]]);
  });

  it('skips a continuation too when the older run is not its predecessor', async () => {
    const fn = lambda(() => ({ done: true }));
    const result = await run(fn, sideEffects(), {
      input: {
        apps: [{ sdkAppId: 1400000000 }],
        continuationOf: 'arn:aws:states:us-east-1:1:execution:sm:gone',
      },
      list: running(ME, 'arn:aws:states:us-east-1:1:execution:sm:other'),
    });
    expect((result.output as RunOutput).outcome).toBe('skipped');
    expect(fn.calls.size).toBe(0);
  });

  it('goes ahead when it is the oldest running execution, or when the list is not yet consistent', async () => {
    for (const list of [running('arn:aws:states:us-east-1:1:execution:sm:newer', ME), running()]) {
      const fn = lambda(() => ({ done: true }));
      const result = await run(fn, sideEffects(), { list });
      expect(result.status).toBe('SUCCEEDED');
      expect(fn.calls.size).toBe(2);
    }
  });

  it('archives only the apps named in the execution input (a manual backfill of one app)', async () => {
    const fn = lambda(() => ({ done: true }));
    const result = await run(fn, sideEffects(), { input: { apps: [{ sdkAppId: 1400000001 }] } });
    expect(result.status).toBe('SUCCEEDED');
    expect([...fn.calls.keys()]).toEqual([1400000001]);
  });
});

describe('asl-validator', () => {
  it.each([1, 9, 10, 25])(
    'finds the run state machine and the deadline check valid with %i apps',
    (count) => {
      const ids = Array.from({ length: count }, (_, i) => 1400000000 + i);
      const { run, deadline } = definitions(ids);
      expect(aslErrors(run)).toEqual([]);
      expect(aslErrors(deadline)).toEqual([]);
    },
  );

  it('does report a broken definition', () => {
    const broken = structuredClone(runDefinition([1400000000], 5));
    (
      broken.States.ArchiveApps as { ItemProcessor: { States: Record<string, { Next?: string }> } }
    ).ItemProcessor.States.Pause = {
      Next: 'Nowhere',
    };
    expect(aslErrors(broken).length).toBeGreaterThan(0);
  });
});
