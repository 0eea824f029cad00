/**
 * The nightly run: a Step Functions Standard state machine that archives every configured app in
 * parallel, each by invoking the function again and again until it reports `done`. Each
 * invocation resumes from the continuation committed in S3, so the loop carries no state but an
 * iteration counter.
 *
 *   Guard: list RUNNING executions of this state machine; unless this one is the oldest, stop
 *          (a second run never runs while one is in progress; the engine's lease is the backstop)
 *   Apps:  the execution input's `apps`, or every configured app
 *   Map (one branch per app, in parallel):
 *     Archive (Lambda, retried on service errors, LeaseHeldError, transient errors, timeouts)
 *       → done? → app caught up
 *       → iteration bound reached? → app failed (MaxIterationsExceeded)
 *       → otherwise count, pause, Archive again
 *     any other error → app failed (the other apps carry on)
 *   Any app failed? → Fail (the execution fails: the failed-run alarm fires) : Succeed
 */
import { ArnFormat, Duration, Names, Stack, Validations } from 'aws-cdk-lib';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import { Construct } from 'constructs';
import { ERROR_NAME } from '../../functions/lambda/contract.ts';

export interface RunStateMachineProps {
  archiver: lambda.IFunction;
  /** The apps a run archives when the execution input names none. */
  sdkAppIds: readonly number[];
  /** Invocations per app per run before that app counts as failed. */
  maxIterations: number;
  logRetention: logs.RetentionDays;
}

/** Seconds between invocations of one app: a breather after a transient group failure. */
export const PAUSE_SECONDS = 5;

export class RunStateMachine extends Construct {
  public readonly stateMachine: sfn.StateMachine;
  /** Known at synth time, so the state machine's own policy can name it without a cycle. */
  public readonly stateMachineName: string;

  public constructor(scope: Construct, id: string, props: RunStateMachineProps) {
    super(scope, id);
    this.stateMachineName = Names.uniqueResourceName(this, { maxLength: 80, separator: '-' });
    const ownArn = Stack.of(this).formatArn({
      service: 'states',
      resource: 'stateMachine',
      resourceName: this.stateMachineName,
      arnFormat: ArnFormat.COLON_RESOURCE_NAME,
    });

    const guard = new tasks.CallAwsService(this, 'ListRunningExecutions', {
      service: 'sfn',
      action: 'listExecutions',
      iamAction: 'states:ListExecutions',
      iamResources: [ownArn],
      parameters: { StateMachineArn: sfn.JsonPath.stateMachineId, StatusFilter: 'RUNNING', MaxResults: 1000 },
      // Newest first: the last one is the oldest run still in progress.
      resultSelector: {
        count: sfn.JsonPath.arrayLength(sfn.JsonPath.listAt('$.Executions')),
        arns: sfn.JsonPath.listAt('$.Executions[*].ExecutionArn'),
      },
      resultPath: '$.guard',
    });
    const findOldest = new sfn.Pass(this, 'FindOldestRun', {
      parameters: {
        oldest: sfn.JsonPath.arrayGetItem(
          sfn.JsonPath.listAt('$.guard.arns'),
          // An intrinsic's result is a path token either way; the typing wants a number.
          sfn.JsonPath.mathAdd(sfn.JsonPath.numberAt('$.guard.count'), -1) as unknown as number,
        ),
      },
      resultPath: '$.oldestRun',
    });
    const skip = new sfn.Succeed(this, 'AnotherRunInProgress', {
      comment: 'An older execution is still running; it will finish the work.',
    });

    const archiveApps = this.archiveApps(props);
    const selectApps = new sfn.Choice(this, 'AppsGiven?')
      .when(sfn.Condition.isPresent('$.apps'), archiveApps)
      .otherwise(
        new sfn.Pass(this, 'AllConfiguredApps', {
          result: sfn.Result.fromArray(props.sdkAppIds.map((sdkAppId) => ({ sdkAppId }))),
          resultPath: '$.apps',
        }).next(archiveApps),
      );

    const definition = guard.next(
      new sfn.Choice(this, 'OtherRunsVisible?')
        // ListExecutions is eventually consistent: an empty list (not even this run) means go.
        .when(sfn.Condition.numberEquals('$.guard.count', 0), selectApps)
        .otherwise(
          findOldest.next(
            new sfn.Choice(this, 'OldestRun?')
              .when(sfn.Condition.stringEqualsJsonPath('$.oldestRun.oldest', '$$.Execution.Id'), selectApps)
              .otherwise(skip),
          ),
        ),
    );

    const logGroup = new logs.LogGroup(this, 'Logs', { retention: props.logRetention });
    this.stateMachine = new sfn.StateMachine(this, 'StateMachine', {
      stateMachineName: this.stateMachineName,
      stateMachineType: sfn.StateMachineType.STANDARD,
      definitionBody: sfn.DefinitionBody.fromChainable(definition),
      logs: { destination: logGroup, level: sfn.LogLevel.ALL, includeExecutionData: false },
      tracingEnabled: true,
      comment: 'tencent-chat-archiver: archive every app until done, resuming from S3 each invocation',
    });
    Validations.of(this.stateMachine).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason:
        'Only for X-Ray (PutTraceSegments, PutTelemetryRecords, GetSampling*) and CloudWatch Logs delivery (CreateLogDelivery, …): those actions support no resource-level permissions.',
    });
    Validations.of(this.stateMachine).acknowledge({
      id: `AwsSolutions-IAM5[Resource::<${Stack.of(this).getLogicalId(props.archiver.node.defaultChild as never)}.Arn>:*]`,
      reason:
        'LambdaInvoke grants the archiver function and its versions/aliases (`<arn>:*`); it is still that one function.',
    });
  }

  /** The parallel per-app loop. */
  private archiveApps(props: RunStateMachineProps): sfn.Map {
    const map = new sfn.Map(this, 'ArchiveApps', {
      itemsPath: '$.apps',
      itemSelector: { sdkAppId: sfn.JsonPath.numberAt('$$.Map.Item.Value.sdkAppId'), iteration: 0 },
      // Every app has its own Tencent rate limit: run them all at once.
      maxConcurrency: 0,
      resultSelector: { apps: sfn.JsonPath.entirePayload, statuses: sfn.JsonPath.listAt('$[*].status') },
      resultPath: '$.results',
    });
    map.itemProcessor(this.appLoop(props));
    const anyFailed = new sfn.Pass(this, 'AnyAppFailed', {
      parameters: {
        anyFailed: sfn.JsonPath.arrayContains(sfn.JsonPath.listAt('$.results.statuses'), 'failed'),
      },
      resultPath: '$.outcome',
    });
    map.next(anyFailed).next(
      new sfn.Choice(this, 'AllAppsDone?')
        .when(
          sfn.Condition.booleanEquals('$.outcome.anyFailed', true),
          new sfn.Fail(this, 'RunFailed', {
            error: 'AppsFailed',
            causePath: sfn.JsonPath.jsonToString(sfn.JsonPath.objectAt('$.results.apps')),
          }),
        )
        .otherwise(new sfn.Succeed(this, 'RunDone')),
    );
    return map;
  }

  /** One app: invoke until done, bounded. */
  private appLoop(props: RunStateMachineProps): sfn.IChainable {
    const invoke = new tasks.LambdaInvoke(this, 'Archive', {
      lambdaFunction: props.archiver,
      payload: sfn.TaskInput.fromObject({ sdkAppId: sfn.JsonPath.numberAt('$.sdkAppId') }),
      resultSelector: {
        done: sfn.JsonPath.stringAt('$.Payload.done'),
        runId: sfn.JsonPath.stringAt('$.Payload.runId'),
        messages: sfn.JsonPath.numberAt('$.Payload.messages'),
        remainingTargets: sfn.JsonPath.numberAt('$.Payload.remainingTargets'),
      },
      resultPath: '$.last',
      // Lambda.ServiceException, Lambda.SdkClientException, … with backoff (CDK's default retrier).
      retryOnServiceExceptions: true,
    });
    invoke.addRetry({
      // Another run (a crashed one, or a manual one) holds the app's lease for up to leaseSeconds.
      errors: [ERROR_NAME.leaseHeld],
      interval: Duration.seconds(60),
      backoffRate: 2,
      maxAttempts: 4,
      jitterStrategy: sfn.JitterType.FULL,
    });
    invoke.addRetry({
      // Throttling/outages that outlasted in-process retries, and the hard stop or a Lambda
      // timeout (the next invocation rolls back anything uncommitted and continues).
      errors: [ERROR_NAME.transient, ERROR_NAME.timeout, 'Sandbox.Timedout'],
      interval: Duration.seconds(30),
      backoffRate: 2,
      maxAttempts: 4,
      jitterStrategy: sfn.JitterType.FULL,
    });
    const failed = new sfn.Pass(this, 'AppFailed', {
      parameters: {
        sdkAppId: sfn.JsonPath.numberAt('$.sdkAppId'),
        status: 'failed',
        iteration: sfn.JsonPath.numberAt('$.iteration'),
        error: sfn.JsonPath.stringAt('$.error.Error'),
        cause: sfn.JsonPath.stringAt('$.error.Cause'),
      },
    });
    invoke.addCatch(failed, { errors: ['States.ALL'], resultPath: '$.error' });

    const caughtUp = new sfn.Pass(this, 'AppCaughtUp', {
      parameters: {
        sdkAppId: sfn.JsonPath.numberAt('$.sdkAppId'),
        status: 'done',
        iteration: sfn.JsonPath.numberAt('$.iteration'),
        runId: sfn.JsonPath.stringAt('$.last.runId'),
      },
    });
    const outOfIterations = new sfn.Pass(this, 'AppOutOfIterations', {
      parameters: {
        sdkAppId: sfn.JsonPath.numberAt('$.sdkAppId'),
        status: 'failed',
        iteration: sfn.JsonPath.numberAt('$.iteration'),
        error: 'MaxIterationsExceeded',
        cause: `not caught up after ${props.maxIterations} invocations; the next run continues from here`,
      },
    });
    const next = new sfn.Pass(this, 'NextIteration', {
      parameters: {
        sdkAppId: sfn.JsonPath.numberAt('$.sdkAppId'),
        iteration: sfn.JsonPath.mathAdd(sfn.JsonPath.numberAt('$.iteration'), 1),
      },
    });
    const pause = new sfn.Wait(this, 'Pause', {
      time: sfn.WaitTime.duration(Duration.seconds(PAUSE_SECONDS)),
    });
    return invoke.next(
      new sfn.Choice(this, 'AppDone?')
        .when(sfn.Condition.booleanEquals('$.last.done', true), caughtUp)
        // `iteration` counts from 0: after invocation n it is n - 1.
        .when(sfn.Condition.numberGreaterThanEquals('$.iteration', props.maxIterations - 1), outOfIterations)
        .otherwise(next.next(pause).next(invoke)),
    );
  }
}
