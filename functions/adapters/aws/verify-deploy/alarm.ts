/**
 * Does an alarm reach the topic? The self-check sets the state of one of the stack's alarms (a
 * canary: functions/domain/deploy-check.ts) with `SetAlarmState`, which makes CloudWatch run the
 * alarm's actions exactly as for a real alarm, then reads the alarm's history until CloudWatch
 * records whether its publish to the topic succeeded. That is what proves the topic's policy and
 * key let CloudWatch publish; the e-mail proves the subscription.
 */
import {
  type CloudWatchClient,
  DescribeAlarmHistoryCommand,
  DescribeAlarmsCommand,
  SetAlarmStateCommand,
} from '@aws-sdk/client-cloudwatch';
import type { CheckResult } from '../../../domain/deploy-check.ts';
import {
  type AlarmActionSeen,
  alarmActionVerdict,
  alarmSetupProblem,
  alarmSilentVerdict,
} from '../../../domain/deploy-verdicts.ts';
import type { Clock } from '../../../domain/ports.ts';

export interface AlarmCheckOptions {
  readonly client: CloudWatchClient;
  readonly clock: Clock;
  readonly alarmName: string;
  readonly topicArn: string;
  /** How long to wait for CloudWatch to record the action; default 120 s. */
  readonly timeoutMs?: number;
  /** Between history reads; default 5 s. */
  readonly pollMs?: number;
}

/** The `StateReason` the e-mail carries. */
export const TEST_REASON =
  'verify-deploy test: a deliberate state change to check that alarms reach the topic';

export async function checkAlarmReachesTopic(options: AlarmCheckOptions): Promise<CheckResult> {
  const { client, clock, alarmName, topicArn } = options;
  const { MetricAlarms } = await client.send(new DescribeAlarmsCommand({ AlarmNames: [alarmName] }));
  const alarm = MetricAlarms?.[0];
  // Already in ALARM, setting ALARM again changes nothing and runs no action: set OK instead.
  const state = alarm?.StateValue === 'ALARM' ? 'OK' : 'ALARM';
  const setup = alarmSetupProblem(
    alarm === undefined
      ? undefined
      : {
          actionsEnabled: alarm.ActionsEnabled !== false,
          actions: (state === 'ALARM' ? alarm.AlarmActions : alarm.OKActions) ?? [],
        },
    { alarmName, topicArn },
  );
  if (setup !== undefined) return setup;
  // A minute early: a local clock a little ahead of AWS's must not hide the action just taken.
  const since = new Date(clock.now() - 60_000);
  try {
    await client.send(
      new SetAlarmStateCommand({ AlarmName: alarmName, StateValue: state, StateReason: TEST_REASON }),
    );
  } catch (error) {
    return {
      check: 'alarm-topic',
      pass: false,
      detail: `could not set alarm ${alarmName} to ${state}: ${(error as Error).name}: ${(error as Error).message}`,
      fix: "run verify-deploy with credentials allowed cloudwatch:SetAlarmState on the stack's alarms (docs/deploy.md lists what it needs)",
    };
  }
  return waitForAction(options, { since, state });
}

async function waitForAction(
  options: AlarmCheckOptions,
  change: { readonly since: Date; readonly state: string },
): Promise<CheckResult> {
  const { client, clock, alarmName, topicArn } = options;
  const timeoutMs = options.timeoutMs ?? 120_000;
  const started = clock.now();
  for (;;) {
    const { AlarmHistoryItems } = await client.send(
      new DescribeAlarmHistoryCommand({
        AlarmName: alarmName,
        HistoryItemType: 'Action',
        StartDate: change.since,
        ScanBy: 'TimestampDescending',
      }),
    );
    const items: AlarmActionSeen[] = (AlarmHistoryItems ?? []).map((i) => ({
      summary: i.HistorySummary ?? '',
      data: i.HistoryData,
    }));
    const verdict = alarmActionVerdict(items, { alarmName, topicArn, state: change.state });
    if (verdict !== undefined) return verdict;
    const waited = clock.now() - started;
    if (waited >= timeoutMs) {
      return alarmSilentVerdict({ alarmName, topicArn, waitedSeconds: Math.round(waited / 1000) });
    }
    await clock.sleep(Math.min(options.pollMs ?? 5_000, timeoutMs - waited));
  }
}
