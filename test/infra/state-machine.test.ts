/**
 * The synthesized run state machine, executed by a small ASL interpreter (asl.ts) with fake
 * Lambda and ListExecutions answers: the loop runs until `done`, stops at its bound, retries what
 * it should, isolates a failing app, and never lets a second run archive while one is running.
 */
import { describe, expect, it } from 'vitest';
import { definitionFrom, execute, type Json, TaskError } from './asl.ts';
import { build, demoConfig } from './helpers.ts';

const ME = 'arn:aws:states:us-east-1:1:execution:sm:me';

/** The run state machine's definition, for a config with these apps and iteration bound. */
function runDefinition(sdkAppIds: number[], maxIterations: number) {
  const config = demoConfig();
  const [first] = config.apps;
  config.apps = sdkAppIds.map((sdkAppId) => ({
    ...first,
    sdkAppId,
    secretKey: { ssmParameter: `/tencent-chat-archiver/${sdkAppId}/secret-key` },
  }));
  config.deploy.run = { maxIterations };
  const { stack } = build(config);
  // Resolved without a full synth: only the CloudFormation value of the definition is needed.
  const sm = stack.archiver.run.stateMachine.node.defaultChild as unknown as { definitionString: unknown };
  return definitionFrom(stack.resolve(sm.definitionString));
}

/** A fake archiver: `script(sdkAppId, call)` answers each invocation (a result or a thrown TaskError). */
function lambda(script: (sdkAppId: number, call: number) => { done: boolean } | TaskError) {
  const calls = new Map<number, number>();
  const invoke = (parameters: Record<string, Json>) => {
    const { sdkAppId } = parameters.Payload as { sdkAppId: number };
    const call = (calls.get(sdkAppId) ?? 0) + 1;
    calls.set(sdkAppId, call);
    const answer = script(sdkAppId, call);
    if (answer instanceof TaskError) throw answer;
    return {
      Payload: {
        sdkAppId,
        runId: `run-${call}`,
        messages: 10,
        pages: 1,
        remainingTargets: answer.done ? 0 : 1,
        ...answer,
      },
    };
  };
  return { invoke, calls };
}

function running(...arns: string[]) {
  return () => ({ Executions: arns.map((ExecutionArn) => ({ ExecutionArn, Status: 'RUNNING' })) });
}

describe('the run state machine', () => {
  const definition = runDefinition([1400000000, 1400000001], 5);

  it('invokes each app again and again until it reports done, all apps in parallel', async () => {
    const fn = lambda((id, call) => ({ done: call === (id === 1400000000 ? 3 : 1) }));
    const run = await execute(
      definition,
      {},
      {
        'aws-sdk:sfn:listExecutions': running(ME),
        'lambda:invoke': fn.invoke,
      },
    );
    expect(run.status).toBe('SUCCEEDED');
    expect(Object.fromEntries(fn.calls)).toEqual({ 1400000000: 3, 1400000001: 1 });
    expect((run.output as { results: { apps: Json[] } }).results.apps).toEqual([
      { sdkAppId: 1400000000, status: 'done', iteration: 2, runId: 'run-3' },
      { sdkAppId: 1400000001, status: 'done', iteration: 0, runId: 'run-1' },
    ]);
  });

  it('stops an app at the iteration bound and fails the run, while the other app completes', async () => {
    const fn = lambda((id) => ({ done: id === 1400000001 }));
    const run = await execute(
      definition,
      {},
      { 'aws-sdk:sfn:listExecutions': running(ME), 'lambda:invoke': fn.invoke },
    );
    expect(fn.calls.get(1400000000)).toBe(5);
    expect(fn.calls.get(1400000001)).toBe(1);
    expect(run.status).toBe('FAILED');
    expect(run.error).toBe('AppsFailed');
    expect(JSON.parse(run.cause ?? '')).toContainEqual(
      expect.objectContaining({ sdkAppId: 1400000000, status: 'failed', error: 'MaxIterationsExceeded' }),
    );
  });

  it('retries LeaseHeldError, transient errors and timeouts; a ConfigError fails the app at once', async () => {
    const fn = lambda((id, call) => {
      if (id === 1400000001)
        return new TaskError('ConfigError', 'apps.1.secretKey: cannot read SSM parameter');
      if (call === 1) return new TaskError('LeaseHeldError', 'another run holds the lease');
      if (call === 2) return new TaskError('TransientError', 'S3 throttled');
      if (call === 3) return new TaskError('Sandbox.Timedout', 'Task timed out');
      return { done: true };
    });
    const run = await execute(
      definition,
      {},
      { 'aws-sdk:sfn:listExecutions': running(ME), 'lambda:invoke': fn.invoke },
    );
    expect(fn.calls.get(1400000000)).toBe(4);
    expect(fn.calls.get(1400000001)).toBe(1);
    expect(run.status).toBe('FAILED');
    const apps = JSON.parse(run.cause ?? '[]');
    expect(apps).toEqual([
      expect.objectContaining({ sdkAppId: 1400000000, status: 'done' }),
      expect.objectContaining({ sdkAppId: 1400000001, status: 'failed', error: 'ConfigError' }),
    ]);
  });

  it('gives up retrying a lease that stays held, and reports the app failed', async () => {
    const fn = lambda((id) => (id === 1400000000 ? new TaskError('LeaseHeldError', 'held') : { done: true }));
    const run = await execute(
      definition,
      {},
      { 'aws-sdk:sfn:listExecutions': running(ME), 'lambda:invoke': fn.invoke },
    );
    // One attempt plus four retries.
    expect(fn.calls.get(1400000000)).toBe(5);
    expect(run.status).toBe('FAILED');
  });

  it('never starts archiving while an older run is in progress', async () => {
    const fn = lambda(() => ({ done: true }));
    // Newest first: this execution, then an older one still running.
    const run = await execute(
      definition,
      {},
      {
        'aws-sdk:sfn:listExecutions': running(ME, 'arn:aws:states:us-east-1:1:execution:sm:older'),
        'lambda:invoke': fn.invoke,
      },
    );
    expect(run.status).toBe('SUCCEEDED');
    expect(run.trace).toContain('AnotherRunInProgress');
    expect(fn.calls.size).toBe(0);
  });

  it('goes ahead when it is the oldest running execution, or when the list is not yet consistent', async () => {
    for (const list of [running('arn:aws:states:us-east-1:1:execution:sm:newer', ME), running()]) {
      const fn = lambda(() => ({ done: true }));
      const run = await execute(
        definition,
        {},
        { 'aws-sdk:sfn:listExecutions': list, 'lambda:invoke': fn.invoke },
      );
      expect(run.status).toBe('SUCCEEDED');
      expect(fn.calls.size).toBe(2);
    }
  });

  it('archives only the apps named in the execution input (a manual backfill of one app)', async () => {
    const fn = lambda(() => ({ done: true }));
    const run = await execute(
      definition,
      { apps: [{ sdkAppId: 1400000001 }] },
      {
        'aws-sdk:sfn:listExecutions': running(ME),
        'lambda:invoke': fn.invoke,
      },
    );
    expect(run.status).toBe('SUCCEEDED');
    expect([...fn.calls.keys()]).toEqual([1400000001]);
  });
});
