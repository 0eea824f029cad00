/**
 * "A run not done by the configured hour": at that hour (in the schedule's time zone) a tiny state
 * machine asks Step Functions whether an archiver run is still in progress and publishes
 * `RunNotDoneByDeadline` = 1 (or 0). No Lambda: two SDK calls. A failed or never-started run is
 * caught by the failed-run and schedule alarms instead.
 */
import { Duration, RemovalPolicy, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import { Construct } from 'constructs';
import { METRIC, METRICS_NAMESPACE } from '../../functions/lambda/contract.ts';
import { putMetric, vendedLogGroupName } from './state-machine-support.ts';

export interface DeadlineCheckProps {
  runStateMachine: sfn.IStateMachine;
  runStateMachineName: string;
  logRetention: logs.RetentionDays;
}

export class DeadlineCheck extends Construct {
  public readonly stateMachine: sfn.StateMachine;

  public constructor(scope: Construct, id: string, props: DeadlineCheckProps) {
    super(scope, id);
    const listRunning = new tasks.CallAwsService(this, 'ListRunningRuns', {
      service: 'sfn',
      action: 'listExecutions',
      iamAction: 'states:ListExecutions',
      iamResources: [props.runStateMachine.stateMachineArn],
      parameters: {
        StateMachineArn: props.runStateMachine.stateMachineArn,
        StatusFilter: 'RUNNING',
        MaxResults: 1,
      },
      resultSelector: { running: sfn.JsonPath.arrayLength(sfn.JsonPath.listAt('$.Executions')) },
    });
    const put = (id: string, value: number) =>
      putMetric(this, id, { name: METRIC.runNotDone, stateMachineName: props.runStateMachineName, value });
    const definition = listRunning.next(
      new sfn.Choice(this, 'RunStillInProgress?')
        .when(sfn.Condition.numberGreaterThan('$.running', 0), put('ReportNotDone', 1))
        .otherwise(put('ReportOnTime', 0)),
    );
    const logGroup = new logs.LogGroup(this, 'Logs', {
      logGroupName: vendedLogGroupName(this),
      retention: props.logRetention,
      // Its name is fixed (vendedlogs): a retained group would block a redeploy after destroy.
      // It holds only state transitions; the run reports in S3 are the record of each run.
      removalPolicy: RemovalPolicy.DESTROY,
    });
    this.stateMachine = new sfn.StateMachine(this, 'StateMachine', {
      stateMachineType: sfn.StateMachineType.STANDARD,
      definitionBody: sfn.DefinitionBody.fromChainable(definition),
      // Two SDK calls: a check still running after minutes is hung, and fails (the alarm fires).
      timeout: Duration.minutes(5),
      logs: { destination: logGroup, level: sfn.LogLevel.ALL, includeExecutionData: false },
      tracingEnabled: true,
      comment: 'tencent-chat-archiver: is a run still in progress at the deadline hour?',
    });
    this.stateMachine.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ['cloudwatch:PutMetricData'],
        // PutMetricData has no resource-level permissions; the namespace condition scopes it.
        resources: ['*'],
        conditions: { StringEquals: { 'cloudwatch:namespace': METRICS_NAMESPACE } },
      }),
    );
    Validations.of(this.stateMachine).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason:
        'cloudwatch:PutMetricData (limited by a cloudwatch:namespace condition to this project), X-Ray and CloudWatch Logs delivery support no resource-level permissions.',
    });
  }
}
