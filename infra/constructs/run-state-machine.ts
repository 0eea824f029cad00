/**
 * The nightly run: a Step Functions Standard state machine that archives every configured app in
 * parallel, each by invoking the function again and again until it reports `done`. Each
 * invocation resumes from the continuation committed in S3, so the loop carries no state but an
 * iteration counter and a no-progress counter.
 *
 *   Guard: list RUNNING executions of this state machine; unless this one is the oldest (or the
 *          oldest is the execution that started this one as its continuation), record a skipped
 *          run (outcome `skipped`, metric `RunsSkipped`) and stop
 *   Apps:  the execution input's `apps`, or every configured app
 *   Map (one branch per app, at most `maxConcurrentApps` at once):
 *     Archive (Lambda, retried on service errors, throttling, crashes, LeaseHeldError, transient
 *     errors and timeouts; the throttling and lease retries outlast a slot and a lease)
 *       → result incomplete? → app failed (InvalidResult; never a States.Runtime)
 *       → done? → app caught up
 *       → no progress (no message, media file or rescanned message, no fewer targets behind) for
 *         `noProgressInvocations` invocations? → app stalled (NoProgress)
 *       → iteration bound reached? → app behind (it continues in the next execution)
 *       → otherwise count, pause, Archive again
 *     any other error → app failed, naming its error (the other apps carry on)
 *   Any app stalled? → metric `AppsWithoutProgress` (its own alarm)
 *   Any app behind?  → start a new execution of this state machine for those apps
 *   Any app failed?  → Fail (the failed-run alarm) : Succeed with outcome `done` or `continued`
 */
import { ArnFormat, Aws, Duration, Names, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import { Construct } from 'constructs';
import { ERROR_NAME, METRIC, METRICS_NAMESPACE, RUN_OUTCOME } from '../../functions/lambda/contract.ts';
import { putMetric, retryOutlasting, vendedLogGroupName } from './state-machine-support.ts';

export interface RunStateMachineProps {
  archiver: lambda.IFunction;
  /** The function's timeout: the Lambda task's own timeout is a little longer. */
  functionTimeout: Duration;
  /** The apps a run archives when the execution input names none. */
  sdkAppIds: readonly number[];
  /** Invocations per app per execution before the app continues in a new execution. */
  maxIterations: number;
  /** Invocations in a row without progress before an app counts as stuck. */
  noProgressInvocations: number;
  /** Apps archived at once (the Map's MaxConcurrency). */
  maxConcurrentApps: number;
  /** The archiver config's `run.leaseSeconds`: how long a crashed holder's lease blocks its app. */
  leaseSeconds: number;
  logRetention: logs.RetentionDays;
}

/**
 * Lambda's crash errors of an invocation (Step Functions reports the function's `errorType`):
 * a timeout in the init phase (Sandbox.Timedout), the runtime exiting or killed, e.g. out of
 * memory (Runtime.ExitError, Runtime.OutOfMemory), an unknown runtime or Lambda failure
 * (Runtime.Unknown, Lambda.Unknown). Deployment faults (Runtime.ImportModuleError,
 * Runtime.HandlerNotFound) are not retried: they fail the same way every time.
 */
export const CRASH_ERRORS = [
  'Sandbox.Timedout',
  'Runtime.ExitError',
  'Runtime.OutOfMemory',
  'Runtime.Unknown',
  'Lambda.Unknown',
] as const;

/** Waits for a free concurrency slot: 30 s doubling to at most 4 minutes. */
const THROTTLE_BACKOFF = { intervalSeconds: 30, backoffRate: 2, maxDelaySeconds: 240 };
/** Waits for a lease to expire: 60 s doubling to at most 10 minutes. */
const LEASE_BACKOFF = { intervalSeconds: 60, backoffRate: 2, maxDelaySeconds: 600 };
/** After the lease's expiry, the time a crashed holder's clock or a slow commit may add. */
const LEASE_MARGIN_SECONDS = 60;

/** Seconds between invocations of one app: a breather after a transient group failure. */
export const PAUSE_SECONDS = 5;
/** Above any real `remainingTargets`: the first invocation always counts as progress. */
const UNKNOWN_REMAINING = 1_000_000_000;
/** What the retries of one invocation can add to an execution, on top of its invocations. */
const RETRY_ALLOWANCE = Duration.hours(4);

export class RunStateMachine extends Construct {
  public readonly stateMachine: sfn.StateMachine;
  /** Known at synth time, so the state machine's own policy can name it without a cycle. */
  public readonly stateMachineName: string;
  public readonly logGroup: logs.LogGroup;

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
    guard.addRetry({ errors: ['Sfn.SfnException', 'Sfn.ThrottlingException'], maxAttempts: 5 });
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
    const skip = new sfn.Pass(this, 'AnotherRunInProgress', {
      comment: 'An older execution is still running; it will finish the work.',
      parameters: {
        outcome: RUN_OUTCOME.skipped,
        reason: 'another run of this state machine is in progress; it archives the same apps',
        runningExecution: sfn.JsonPath.stringAt('$.oldestRun.oldest'),
      },
    });
    skip.next(
      putMetric(
        this,
        'ReportRunSkipped',
        { name: METRIC.runsSkipped, stateMachineName: this.stateMachineName, value: 1 },
        new sfn.Succeed(this, 'RunSkipped'),
      ),
    );

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
              .when(
                sfn.Condition.isPresent('$.continuationOf'),
                // The execution that started this one may still be finishing: it is not a rival.
                new sfn.Choice(this, 'OldestIsPredecessor?')
                  .when(
                    sfn.Condition.stringEqualsJsonPath('$.oldestRun.oldest', '$.continuationOf'),
                    selectApps,
                  )
                  .otherwise(skip),
              )
              .otherwise(skip),
          ),
        ),
    );

    this.logGroup = new logs.LogGroup(this, 'Logs', {
      // Under /aws/vendedlogs/: one account-wide resource policy covers these (no size limit hit).
      logGroupName: vendedLogGroupName(this),
      retention: props.logRetention,
      // Its name is fixed (vendedlogs): a retained group would block a redeploy after destroy.
      // It holds only state transitions; the run reports in S3 are the record of each run.
      removalPolicy: RemovalPolicy.DESTROY,
    });
    const perInvocation = props.functionTimeout.toSeconds() + PAUSE_SECONDS + 60;
    // Apps beyond MaxConcurrency wait for a free branch: the run lasts as many rounds.
    const rounds = Math.max(1, Math.ceil(props.sdkAppIds.length / props.maxConcurrentApps));
    const retryAllowance = RETRY_ALLOWANCE.toSeconds() + props.leaseSeconds + LEASE_MARGIN_SECONDS;
    this.stateMachine = new sfn.StateMachine(this, 'StateMachine', {
      stateMachineName: this.stateMachineName,
      stateMachineType: sfn.StateMachineType.STANDARD,
      definitionBody: sfn.DefinitionBody.fromChainable(definition),
      // A hung run ends TIMED_OUT (the failed-run alarm) instead of blocking every later run.
      timeout: Duration.seconds(rounds * (props.maxIterations * perInvocation + retryAllowance)),
      logs: { destination: this.logGroup, level: sfn.LogLevel.ALL, includeExecutionData: false },
      tracingEnabled: true,
      comment: 'tencent-chat-archiver: archive every app until done, resuming from S3 each invocation',
    });
    this.stateMachine.addToRolePolicy(
      new iam.PolicyStatement({
        sid: 'ContinueItself',
        actions: ['states:StartExecution'],
        resources: [ownArn],
      }),
    );
    this.stateMachine.addToRolePolicy(
      new iam.PolicyStatement({
        sid: 'RunMetrics',
        actions: ['cloudwatch:PutMetricData'],
        // PutMetricData has no resource-level permissions; the namespace condition scopes it.
        resources: ['*'],
        conditions: { StringEquals: { 'cloudwatch:namespace': METRICS_NAMESPACE } },
      }),
    );
    Validations.of(this.stateMachine).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason:
        'Only for cloudwatch:PutMetricData (limited to this project by a cloudwatch:namespace condition), X-Ray (PutTraceSegments, PutTelemetryRecords, GetSampling*) and CloudWatch Logs delivery (CreateLogDelivery, …): those actions support no resource-level permissions.',
    });
    Validations.of(this.stateMachine).acknowledge({
      id: `AwsSolutions-IAM5[Resource::<${Stack.of(this).getLogicalId(props.archiver.node.defaultChild as never)}.Arn>:*]`,
      reason:
        'LambdaInvoke grants the archiver function and its versions/aliases (`<arn>:*`); it is still that one function.',
    });
  }

  /** The parallel per-app loop, then the run's outcome. */
  private archiveApps(props: RunStateMachineProps): sfn.Map {
    const map = new sfn.Map(this, 'ArchiveApps', {
      itemsPath: '$.apps',
      itemSelector: {
        sdkAppId: sfn.JsonPath.numberAt('$$.Map.Item.Value.sdkAppId'),
        iteration: 0,
        withoutProgress: 0,
        remainingTargets: UNKNOWN_REMAINING,
      },
      // Every app has its own Tencent rate limit, but each branch holds a Lambda concurrency slot
      // for up to the function timeout: at most maxConcurrentApps at once (deploy.run, at most
      // the 40 concurrent iterations of an inline Map); the others start as branches finish.
      maxConcurrency: props.maxConcurrentApps,
      resultSelector: { apps: sfn.JsonPath.entirePayload, statuses: sfn.JsonPath.listAt('$[*].status') },
      resultPath: '$.results',
    });
    map.itemProcessor(this.appLoop(props));
    const summarize = new sfn.Pass(this, 'SummarizeApps', {
      parameters: {
        anyFailed: sfn.JsonPath.arrayContains(sfn.JsonPath.listAt('$.results.statuses'), 'failed'),
        anyStalled: sfn.JsonPath.arrayContains(sfn.JsonPath.listAt('$.results.statuses'), 'stalled'),
        anyBehind: sfn.JsonPath.arrayContains(sfn.JsonPath.listAt('$.results.statuses'), 'behind'),
        behind: sfn.JsonPath.listAt("$.results.apps[?(@.status == 'behind')]"),
      },
      resultPath: '$.summary',
    });

    const failedOrDone = new sfn.Choice(this, 'AnyAppFailed?')
      .when(
        sfn.Condition.booleanEquals('$.summary.anyFailed', true),
        new sfn.Fail(this, 'RunFailed', {
          error: 'AppsFailed',
          causePath: sfn.JsonPath.jsonToString(sfn.JsonPath.objectAt('$.results.apps')),
        }),
      )
      .when(
        sfn.Condition.isPresent('$.continuation'),
        new sfn.Pass(this, 'RunContinues', {
          parameters: {
            outcome: RUN_OUTCOME.continued,
            continuation: sfn.JsonPath.stringAt('$.continuation.executionArn'),
            apps: sfn.JsonPath.objectAt('$.results.apps'),
          },
        }).next(new sfn.Succeed(this, 'RunContinued')),
      )
      .otherwise(
        new sfn.Pass(this, 'RunComplete', {
          parameters: { outcome: RUN_OUTCOME.done, apps: sfn.JsonPath.objectAt('$.results.apps') },
        }).next(new sfn.Succeed(this, 'RunDone')),
      );

    // A raw task: the optimized StartExecution integration wants the state machine object, and
    // this one starts itself (`$$.StateMachine.Id`), granted below on its own ARN.
    const continuation = new sfn.CustomState(this, 'ContinueBehindApps', {
      stateJson: {
        Type: 'Task',
        Resource: `arn:${Aws.PARTITION}:states:::states:startExecution`,
        Parameters: {
          'StateMachineArn.$': '$$.StateMachine.Id',
          Input: {
            'apps.$': '$.summary.behind',
            'continuationOf.$': '$$.Execution.Id',
            source: 'continuation',
            // Links the new execution to this one in the console.
            'AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID.$': '$$.Execution.Id',
          },
        },
        ResultSelector: { 'executionArn.$': '$.ExecutionArn' },
        ResultPath: '$.continuation',
      },
    });
    continuation.addRetry({
      errors: ['StepFunctions.SdkClientException', 'States.TaskFailed'],
      interval: Duration.seconds(5),
      backoffRate: 2,
      maxAttempts: 5,
    });
    continuation.next(failedOrDone);
    const behind = new sfn.Choice(this, 'AnyAppBehind?')
      .when(sfn.Condition.booleanEquals('$.summary.anyBehind', true), continuation)
      .otherwise(failedOrDone);
    const stalled = new sfn.Choice(this, 'AnyAppStalled?')
      .when(
        sfn.Condition.booleanEquals('$.summary.anyStalled', true),
        putMetric(
          this,
          'ReportNoProgress',
          { name: METRIC.appsWithoutProgress, stateMachineName: this.stateMachineName, value: 1 },
          behind,
        ),
      )
      .otherwise(behind);
    map.next(summarize).next(stalled);
    return map;
  }

  /** One app: invoke until done, bounded per execution, stopped when it makes no progress. */
  private appLoop(props: RunStateMachineProps): sfn.IChainable {
    const invoke = this.archiveInvocation(props);
    const ends = this.appEnds(props);
    const next = this.nextIterations(invoke);
    const progressed = resultProgressed();
    return invoke.next(
      new sfn.Choice(this, 'AppDone?')
        .when(sfn.Condition.not(resultComplete()), ends.invalid)
        .when(sfn.Condition.booleanEquals(lastResult('done'), true), ends.caughtUp)
        .when(
          sfn.Condition.and(
            sfn.Condition.not(progressed),
            // `withoutProgress` counts the earlier invocations; this one makes it n.
            sfn.Condition.numberGreaterThanEquals('$.withoutProgress', props.noProgressInvocations - 1),
          ),
          ends.stalled,
        )
        // `iteration` counts from 0: after invocation n it is n - 1.
        .when(sfn.Condition.numberGreaterThanEquals('$.iteration', props.maxIterations - 1), ends.behind)
        .when(progressed, next.withProgress)
        .otherwise(next.withoutProgress),
    );
  }

  /** The invocation of the archiver for one app, its retries, and its catch (the app failed). */
  private archiveInvocation(props: RunStateMachineProps): tasks.LambdaInvoke {
    const invoke = new tasks.LambdaInvoke(this, 'Archive', {
      lambdaFunction: props.archiver,
      payload: sfn.TaskInput.fromObject({ sdkAppId: sfn.JsonPath.numberAt('$.sdkAppId') }),
      // The whole payload, checked by the next state: a missing field must not be a
      // States.Runtime error, which no Catch catches and which would fail every app.
      resultSelector: { result: sfn.JsonPath.objectAt('$.Payload') },
      resultPath: '$.last',
      // Lambda's own limit is the function timeout; this catches a lost invocation.
      taskTimeout: sfn.Timeout.duration(props.functionTimeout.plus(Duration.seconds(60))),
      // Lambda.ServiceException, Lambda.SdkClientException, … with backoff (CDK's default retrier).
      retryOnServiceExceptions: true,
    });
    // The function's concurrency (or the account's) is exhausted: wait for a free slot. Each
    // invocation holds its slot for up to the function timeout, so the retries outlast two of
    // them before the app fails.
    const slotSeconds = props.functionTimeout.toSeconds() + 60;
    invoke.addRetry(retryOutlasting(['Lambda.TooManyRequestsException'], THROTTLE_BACKOFF, 2 * slotSeconds));
    // Another run (a crashed one, or a manual one) holds the app's lease for up to leaseSeconds:
    // the retries give up only after a crashed holder's lease has expired.
    invoke.addRetry(
      retryOutlasting([ERROR_NAME.leaseHeld], LEASE_BACKOFF, props.leaseSeconds + LEASE_MARGIN_SECONDS, 4),
    );
    invoke.addRetry({
      // Throttling/outages that outlasted in-process retries, the hard stop, a Lambda timeout or
      // a crash (out of memory among them: CRASH_ERRORS) and a lost invocation (States.Timeout):
      // the next invocation rolls back anything uncommitted and continues.
      errors: [ERROR_NAME.transient, ERROR_NAME.timeout, ...CRASH_ERRORS, 'States.Timeout'],
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
        // The whole error output (`Error`, and `Cause` when there is one).
        error: sfn.JsonPath.objectAt('$.error'),
      },
    });
    invoke.addCatch(failed, { errors: ['States.ALL'], resultPath: '$.error' });
    return invoke;
  }

  /** Where one app's loop ends: an invalid result, caught up, stalled, or behind. */
  private appEnds(
    props: RunStateMachineProps,
  ): Record<'invalid' | 'caughtUp' | 'stalled' | 'behind', sfn.Pass> {
    const invalid = new sfn.Pass(this, 'AppResultInvalid', {
      parameters: {
        sdkAppId: sfn.JsonPath.numberAt('$.sdkAppId'),
        status: 'failed',
        iteration: sfn.JsonPath.numberAt('$.iteration'),
        error: {
          Error: 'InvalidResult',
          Cause: sfn.JsonPath.jsonToString(sfn.JsonPath.objectAt('$.last')),
        },
      },
    });
    const caughtUp = new sfn.Pass(this, 'AppCaughtUp', {
      parameters: {
        sdkAppId: sfn.JsonPath.numberAt('$.sdkAppId'),
        status: 'done',
        iteration: sfn.JsonPath.numberAt('$.iteration'),
        runId: sfn.JsonPath.stringAt('$.last.result.runId'),
      },
    });
    const stalled = new sfn.Pass(this, 'AppStalled', {
      parameters: {
        sdkAppId: sfn.JsonPath.numberAt('$.sdkAppId'),
        status: 'stalled',
        iteration: sfn.JsonPath.numberAt('$.iteration'),
        error: {
          Error: 'NoProgress',
          Cause: `${props.noProgressInvocations} invocations in a row archived nothing, copied no media, rescanned nothing and left as many groups behind; see the run reports and the function's log`,
        },
      },
    });
    const behind = new sfn.Pass(this, 'AppBehind', {
      comment: 'Not caught up after this execution’s invocations: it continues in a new execution.',
      parameters: {
        sdkAppId: sfn.JsonPath.numberAt('$.sdkAppId'),
        status: 'behind',
        iteration: sfn.JsonPath.numberAt('$.iteration'),
        remainingTargets: sfn.JsonPath.numberAt('$.last.result.remainingTargets'),
      },
    });
    return { invalid, caughtUp, stalled, behind };
  }

  /** The next iteration, counting it as progress or not, then the pause before the next invocation. */
  private nextIterations(invoke: tasks.LambdaInvoke): { withProgress: sfn.Pass; withoutProgress: sfn.Pass } {
    const nextWithProgress = new sfn.Pass(this, 'NextIteration', {
      parameters: {
        sdkAppId: sfn.JsonPath.numberAt('$.sdkAppId'),
        iteration: sfn.JsonPath.mathAdd(sfn.JsonPath.numberAt('$.iteration'), 1),
        withoutProgress: 0,
        remainingTargets: sfn.JsonPath.numberAt('$.last.result.remainingTargets'),
      },
    });
    const nextWithoutProgress = new sfn.Pass(this, 'NextIterationWithoutProgress', {
      parameters: {
        sdkAppId: sfn.JsonPath.numberAt('$.sdkAppId'),
        iteration: sfn.JsonPath.mathAdd(sfn.JsonPath.numberAt('$.iteration'), 1),
        withoutProgress: sfn.JsonPath.mathAdd(sfn.JsonPath.numberAt('$.withoutProgress'), 1),
        remainingTargets: sfn.JsonPath.numberAt('$.remainingTargets'),
      },
    });
    const pause = new sfn.Wait(this, 'Pause', {
      time: sfn.WaitTime.duration(Duration.seconds(PAUSE_SECONDS)),
    });
    nextWithProgress.next(pause);
    nextWithoutProgress.next(pause);
    pause.next(invoke);
    return { withProgress: nextWithProgress, withoutProgress: nextWithoutProgress };
  }
}

/** A field of the last invocation's result. */
function lastResult(field: string): string {
  return `$.last.result.${field}`;
}

/** Whether the invocation's result has every field the loop reads, of the right type. */
function resultComplete(): sfn.Condition {
  return sfn.Condition.and(
    sfn.Condition.isPresent(lastResult('done')),
    sfn.Condition.isBoolean(lastResult('done')),
    sfn.Condition.isPresent(lastResult('runId')),
    sfn.Condition.isString(lastResult('runId')),
    sfn.Condition.isPresent(lastResult('messages')),
    sfn.Condition.isNumeric(lastResult('messages')),
    sfn.Condition.isPresent(lastResult('remainingTargets')),
    sfn.Condition.isNumeric(lastResult('remainingTargets')),
  );
}

/** Whether the invocation made progress (read only once resultComplete() holds). */
function resultProgressed(): sfn.Condition {
  return sfn.Condition.or(
    sfn.Condition.numberGreaterThan(lastResult('messages'), 0),
    sfn.Condition.numberLessThanJsonPath(lastResult('remainingTargets'), '$.remainingTargets'),
    // An invocation that only copied media (the messages were archived earlier) progressed too,
    // and so did one that only moved the rescan's window on (every target caught up, the rescan
    // compared archived messages with the server: functions/lambda/contract.ts, rescanChecked).
    positive(lastResult('mediaDone')),
    positive(lastResult('rescanChecked')),
  );
}

/** A number field of the result that is present and above 0 (absent in older results). */
function positive(path: string): sfn.Condition {
  return sfn.Condition.and(
    sfn.Condition.isPresent(path),
    sfn.Condition.isNumeric(path),
    sfn.Condition.numberGreaterThan(path, 0),
  );
}
