/**
 * The stack's EventBridge Scheduler schedules as they are deployed (`GetSchedule`, group
 * `default`, where the stack creates them), each with its verdict: it exists, it is enabled, and
 * it runs in the expected time zone.
 */
import { GetScheduleCommand, type SchedulerClient } from '@aws-sdk/client-scheduler';
import type { CheckResult } from '../../../domain/deploy-check.ts';
import { type ScheduleSeen, scheduleVerdict } from '../../../domain/deploy-verdicts.ts';

export async function checkSchedules(
  client: SchedulerClient,
  names: readonly string[],
  expectedZone?: string,
): Promise<CheckResult[]> {
  const results: CheckResult[] = [];
  for (const name of names) {
    results.push(scheduleVerdict(name, await getSchedule(client, name), expectedZone));
  }
  return results;
}

/** The schedule, or `undefined` when it does not exist. */
async function getSchedule(client: SchedulerClient, name: string): Promise<ScheduleSeen | undefined> {
  try {
    const schedule = await client.send(new GetScheduleCommand({ Name: name, GroupName: 'default' }));
    return {
      state: schedule.State,
      expression: schedule.ScheduleExpression,
      timeZone: schedule.ScheduleExpressionTimezone,
    };
  } catch (error) {
    if ((error as { name?: unknown }).name === 'ResourceNotFoundException') return undefined;
    throw error;
  }
}
