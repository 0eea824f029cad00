/**
 * Operations: an encrypted SNS topic for alarms (optionally e-mailed), the alarms the issue asks
 * for, and a small dashboard. Metrics come from the function (EMF, per app) and from Step
 * Functions, Lambda and SQS themselves.
 */
import { Aws, Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as actions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import type * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { APP_DIMENSION, METRIC, METRICS_NAMESPACE, SERVICE_NAME } from '../../functions/lambda/contract.ts';
import type { DeployConfig } from '../config.ts';
import { RUN_DIMENSION } from './state-machine-support.ts';

export interface OperationsProps {
  key: kms.IKey;
  alarms: DeployConfig['alarms'];
  sdkAppIds: readonly number[];
  archiver: lambda.IFunction;
  runStateMachine: sfn.IStateMachine;
  runStateMachineName: string;
  deadlineCheck: sfn.IStateMachine;
  deadLetterQueue: sqs.IQueue;
  /** Invocations without progress before an app stops (for the alarm's description). */
  noProgressInvocations: number;
  /** The Object Lock retention function, when Object Lock is on. */
  objectLockFunction?: lambda.IFunction;
}

const HOUR = Duration.hours(1);

/** A per-app metric the function emits. */
export function appMetric(
  name: string,
  sdkAppId: number,
  statistic: string,
  label?: string,
): cloudwatch.Metric {
  return new cloudwatch.Metric({
    namespace: METRICS_NAMESPACE,
    metricName: name,
    dimensionsMap: { service: SERVICE_NAME, [APP_DIMENSION]: String(sdkAppId) },
    statistic,
    period: HOUR,
    ...(label === undefined ? {} : { label }),
  });
}

/** A metric the state machines send, dimensioned by the run state machine's name. */
function runMetric(name: string, stateMachineName: string, statistic = 'Maximum', label?: string) {
  return new cloudwatch.Metric({
    namespace: METRICS_NAMESPACE,
    metricName: name,
    dimensionsMap: { [RUN_DIMENSION]: stateMachineName },
    statistic,
    period: HOUR,
    ...(label === undefined ? {} : { label }),
  });
}

/** The conditions that limit the cloudwatch.amazonaws.com principal to this account's alarms. */
function alarmsOfThisAccount(): Record<string, Record<string, string>> {
  return {
    StringEquals: { 'aws:SourceAccount': Aws.ACCOUNT_ID },
    ArnLike: {
      'aws:SourceArn': `arn:${Aws.PARTITION}:cloudwatch:${Aws.REGION}:${Aws.ACCOUNT_ID}:alarm:*`,
    },
  };
}

export class Operations extends Construct {
  public readonly topic: sns.Topic;
  public readonly alarms: cloudwatch.Alarm[] = [];
  public readonly dashboard: cloudwatch.Dashboard;

  public constructor(scope: Construct, id: string, props: OperationsProps) {
    super(scope, id);
    this.topic = this.alarmTopic(props);
    const alarms = this.createAlarms(props);
    this.dashboard = this.createDashboard(props, alarms);
  }

  /** The encrypted topic the alarms publish to, its resource policies and the e-mail subscription. */
  private alarmTopic(props: OperationsProps): sns.Topic {
    const topic = new sns.Topic(this, 'AlarmTopic', {
      displayName: 'tencent-chat-archiver alarms',
      masterKey: props.key,
      enforceSSL: true,
    });
    // With enforceSSL the topic gets a TopicPolicy, and a TopicPolicy replaces the default one:
    // without this statement it would hold only the TLS Deny, and no alarm could publish (AWS
    // Knowledge Center: "Why didn't I receive an SNS notification for my CloudWatch alarm
    // trigger?"). Only alarms of this account may publish (the confused-deputy guard).
    topic.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'CloudWatchAlarmsPublish',
        principals: [new iam.ServicePrincipal('cloudwatch.amazonaws.com')],
        actions: ['sns:Publish'],
        resources: [topic.topicArn],
        conditions: alarmsOfThisAccount(),
      }),
    );
    // CloudWatch publishes to the encrypted topic with the customer key (an AWS-managed SNS key
    // would not let it).
    props.key.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'CloudWatchAlarmsPublishToTopic',
        principals: [new iam.ServicePrincipal('cloudwatch.amazonaws.com')],
        actions: ['kms:Decrypt', 'kms:GenerateDataKey*'],
        resources: ['*'],
        // Only alarms of this account (the confused-deputy guard of a service principal).
        conditions: alarmsOfThisAccount(),
      }),
    );
    if (props.alarms.email !== undefined) {
      topic.addSubscription(
        new subscriptions.EmailSubscription(props.alarms.email, { deadLetterQueue: props.deadLetterQueue }),
      );
    }
    return topic;
  }

  /** Every alarm, created in the order the template lists them. */
  private createAlarms(props: OperationsProps): cloudwatch.Alarm[] {
    const runFailed = this.alarm('RunFailedAlarm', {
      alarmDescription:
        "A run failed: an app hit a configuration error or repeated errors (the failed execution names each app's error), or a run timed out, or the deadline check failed.",
      metric: new cloudwatch.MathExpression({
        expression: 'FILL(failed, 0) + FILL(timedOut, 0) + FILL(checkFailed, 0)',
        usingMetrics: {
          failed: props.runStateMachine.metricFailed({ statistic: 'Sum' }),
          timedOut: props.runStateMachine.metricTimedOut({ statistic: 'Sum' }),
          checkFailed: props.deadlineCheck.metricFailed({ statistic: 'Sum' }),
        },
        period: Duration.minutes(5),
        label: 'failed runs',
      }),
      threshold: 1,
    });
    const notStarted = this.alarm('ScheduleUndeliveredAlarm', {
      alarmDescription:
        'EventBridge Scheduler could not start a run, an alarm e-mail could not be delivered, or an Object Lock retention event failed: a message arrived in the dead-letter queue (see it there; each new one raises this alarm again).',
      // Messages arriving, not messages kept: the queue keeps them for 14 days, and an alarm on
      // the visible count would stay in ALARM that long and hide every later failure.
      metric: props.deadLetterQueue.metricNumberOfMessagesSent({
        statistic: 'Sum',
        period: Duration.minutes(5),
      }),
      threshold: 1,
    });
    const notDone = this.alarm('RunNotDoneByDeadlineAlarm', {
      alarmDescription: `A run was still in progress at ${props.alarms.runNotDoneByHour}:00 (schedule time zone).`,
      metric: runMetric(METRIC.runNotDone, props.runStateMachineName, 'Maximum'),
      threshold: 1,
    });
    // One alarm per app: an alarm may watch at most 10 metrics, so a sum over every app would stop
    // the synth at 10 apps. The app's `Errors` already counts its failed invocations, so Lambda's
    // own Errors metric (the same failures again) is on the dashboard, not in the alarm.
    const errors = props.sdkAppIds.map((id) =>
      this.alarm(`ErrorsAlarm${id}`, {
        alarmDescription: `App ${id}: at least ${props.alarms.errorsPerHour} errors in an hour (failed groups, failed invocations).`,
        metric: appMetric(METRIC.errors, id, 'Sum'),
        threshold: props.alarms.errorsPerHour,
      }),
    );
    const noProgress = this.alarm('NoProgressAlarm', {
      alarmDescription: `An app made no progress across ${props.noProgressInvocations} invocations in a row and was stopped (see the run execution's output and the run reports); a long backfill that progresses never raises this.`,
      metric: runMetric(METRIC.appsWithoutProgress, props.runStateMachineName),
      threshold: 1,
    });
    const retention = props.objectLockFunction
      ? [
          this.alarm('ObjectLockRetentionAlarm', {
            alarmDescription:
              'Setting Object Lock retention on a new archive object failed (retried, then to the dead-letter queue): that object is not locked yet; see the retention function log.',
            metric: props.objectLockFunction.metricErrors({ statistic: 'Sum', period: Duration.minutes(5) }),
            threshold: 1,
          }),
        ]
      : [];
    const headroom = props.sdkAppIds.map((id) =>
      this.alarm(`HeadroomAlarm${id}`, {
        alarmDescription: `App ${id}: unarchived history is less than ${props.alarms.headroomDays} days from falling out of Tencent's retention.`,
        metric: appMetric(METRIC.retentionHeadroomDays, id, 'Minimum'),
        threshold: props.alarms.headroomDays,
        comparisonOperator: cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
      }),
    );
    // Media files Tencent deletes with their message: any still pending this close to the limit
    // (failing downloads, a backlog the invocations do not clear) is about to be lost.
    const mediaNearRetention = props.sdkAppIds.map((id) =>
      this.alarm(`MediaPendingNearRetentionAlarm${id}`, {
        alarmDescription: `App ${id}: media files not yet copied belong to messages less than ${props.alarms.headroomDays} days from falling out of Tencent's retention (see media.nearRetention in the run reports, and the media manifest's failed rows).`,
        metric: appMetric(METRIC.mediaPendingNearRetention, id, 'Maximum'),
        threshold: 0,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      }),
    );
    // The order the dashboard's alarm status widget lists them in.
    return [
      runFailed,
      notStarted,
      notDone,
      noProgress,
      ...retention,
      ...errors,
      ...headroom,
      ...mediaNearRetention,
    ];
  }

  /** The dashboard: the per-app metrics, the runs, the function and the alarms' status. */
  private createDashboard(props: OperationsProps, alarms: cloudwatch.Alarm[]): cloudwatch.Dashboard {
    return new cloudwatch.Dashboard(this, 'Dashboard', {
      defaultInterval: Duration.days(7),
      widgets: [
        [
          this.graph('Messages archived', METRIC.messagesArchived, props.sdkAppIds, 'Sum'),
          this.graph('Pages fetched', METRIC.pages, props.sdkAppIds, 'Sum'),
          this.graph('Throttled requests', METRIC.throttles, props.sdkAppIds, 'Sum'),
          this.graph('Errors', METRIC.errors, props.sdkAppIds, 'Sum'),
        ],
        [
          this.graph(
            'Lag: age of newest unarchived message (s)',
            METRIC.lagSeconds,
            props.sdkAppIds,
            'Maximum',
          ),
          new cloudwatch.GraphWidget({
            title: 'Retention headroom (days)',
            left: props.sdkAppIds.map((id) =>
              appMetric(METRIC.retentionHeadroomDays, id, 'Minimum', `${id}`),
            ),
            leftAnnotations: [{ value: props.alarms.headroomDays, label: 'alarm', color: '#d62728' }],
            width: 6,
          }),
          new cloudwatch.GraphWidget({
            title: 'Runs',
            left: [
              props.runStateMachine.metricStarted({ statistic: 'Sum', period: HOUR, label: 'started' }),
              props.runStateMachine.metricSucceeded({ statistic: 'Sum', period: HOUR, label: 'succeeded' }),
              props.runStateMachine.metricFailed({ statistic: 'Sum', period: HOUR, label: 'failed' }),
              runMetric(METRIC.runsSkipped, props.runStateMachineName, 'Sum', 'skipped'),
              runMetric(METRIC.appsWithoutProgress, props.runStateMachineName, 'Sum', 'without progress'),
            ],
            width: 6,
          }),
          new cloudwatch.GraphWidget({
            title: 'Function',
            left: [
              props.archiver.metricInvocations({ statistic: 'Sum', period: HOUR }),
              props.archiver.metricErrors({ statistic: 'Sum', period: HOUR }),
              props.archiver.metricThrottles({ statistic: 'Sum', period: HOUR }),
            ],
            right: [props.archiver.metricDuration({ statistic: 'Maximum', period: HOUR })],
            width: 6,
          }),
        ],
        [
          this.graph('Media files archived', METRIC.mediaArchived, props.sdkAppIds, 'Sum'),
          this.graph(
            'Media pending near retention',
            METRIC.mediaPendingNearRetention,
            props.sdkAppIds,
            'Maximum',
          ),
        ],
        [
          this.graph('Names: lookup calls', METRIC.identityCalls, props.sdkAppIds, 'Sum'),
          this.graph('Names: rows written', METRIC.identityRows, props.sdkAppIds, 'Sum'),
          this.graph('One-to-one: messages archived', METRIC.c2cMessagesArchived, props.sdkAppIds, 'Sum'),
          this.graph('One-to-one: pairs pulled', METRIC.c2cPairsPulled, props.sdkAppIds, 'Sum'),
        ],
        [
          new cloudwatch.AlarmStatusWidget({
            title: 'Alarms',
            alarms,
            width: 24,
          }),
        ],
      ],
    });
  }

  private alarm(id: string, props: Omit<cloudwatch.AlarmProps, 'evaluationPeriods'>): cloudwatch.Alarm {
    const alarm = new cloudwatch.Alarm(this, id, {
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      // No data means nothing happened (no run, no error): not an alarm by itself.
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      ...props,
    });
    alarm.addAlarmAction(new actions.SnsAction(this.topic));
    alarm.addOkAction(new actions.SnsAction(this.topic));
    this.alarms.push(alarm);
    return alarm;
  }

  private graph(
    title: string,
    metric: string,
    sdkAppIds: readonly number[],
    statistic: string,
  ): cloudwatch.GraphWidget {
    return new cloudwatch.GraphWidget({
      title,
      left: sdkAppIds.map((id) => appMetric(metric, id, statistic, `${id}`)),
      width: 6,
    });
  }
}
