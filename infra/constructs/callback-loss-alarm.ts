/**
 * The loss-rate alarm of the callbacks (issue 25, deliverable 4; docs/operations.md, "Callbacks
 * lost"): per app with a callback token, the share of the messages the nightly reconciliation
 * compared whose send callback never reached the archive, summed over a day from the run metrics
 * (`PullOnlyMessages` and `CallbackMessagesMatched`, functions/lambda/run-metrics.ts). The sums,
 * not an average of the runs' `CallbackLossRatePercent`: a run that compared 3 messages must not
 * weigh as much as one that compared 30,000.
 */
import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import type { Construct } from 'constructs';
import { APP_DIMENSION, METRIC, METRICS_NAMESPACE, SERVICE_NAME } from '../../functions/lambda/contract.ts';

/** The deploy settings the alarm reads (`deploy.callbacks`). */
export interface LossRateAlarmSettings {
  /** Percent above which the alarm fires; 0: no alarm. */
  readonly lossRateAlarmPercent: number;
  /** Messages compared (pull-only plus matched) in the day before the rate is judged. */
  readonly lossRateAlarmMinMessages: number;
}

const ONE_DAY = Duration.days(1);

/** The day's loss rate in percent; 0 on a day that compared fewer than `minMessages` messages. */
export function lossRateExpression(minMessages: number): string {
  return `IF(lost + matched >= ${minMessages}, 100 * lost / (lost + matched), 0)`;
}

/**
 * One alarm per app in `sdkAppIds` (the apps whose callbacks the receiver records), none when the
 * setting is 0. A day without a reconciliation (no run, or a run that left raw objects for the
 * next) has no data, which never breaches.
 */
export function lossRateAlarms(
  scope: Construct,
  sdkAppIds: readonly number[],
  settings: LossRateAlarmSettings,
): cloudwatch.Alarm[] {
  const percent = settings.lossRateAlarmPercent;
  if (percent === 0) return [];
  const minMessages = settings.lossRateAlarmMinMessages;
  return sdkAppIds.map((sdkAppId) => {
    const perApp = (name: string) =>
      new cloudwatch.Metric({
        namespace: METRICS_NAMESPACE,
        metricName: name,
        dimensionsMap: { service: SERVICE_NAME, [APP_DIMENSION]: String(sdkAppId) },
        statistic: 'Sum',
        period: ONE_DAY,
      });
    const rate = new cloudwatch.MathExpression({
      expression: lossRateExpression(minMessages),
      usingMetrics: {
        lost: perApp(METRIC.pullOnlyMessages),
        matched: perApp(METRIC.callbackMessagesMatched),
      },
      label: `App ${sdkAppId}: messages pulled without their callback (%)`,
      period: ONE_DAY,
    });
    return new cloudwatch.Alarm(scope, `LossRateAlarm${sdkAppId}`, {
      alarmDescription: `Callbacks of app ${sdkAppId} are being lost: in a day more than ${percent}% of the messages the nightly pull compared with the callbacks (at least ${minMessages}) had no send callback recorded (PullOnlyMessages against CallbackMessagesMatched). Check the receiver's CallbacksUnrecorded, throttles and p99 duration, Firehose's callbacks-errors/ prefix, that Group.CallbackAfterSendMsg is ticked in the Chat console, and the groups the run report's "callbacks against the pull" lists (docs/operations.md, "Callbacks lost").`,
      metric: rate,
      threshold: percent,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
  });
}
