/**
 * `npm run verify-deploy` finds what it checks in the stack this repository synthesizes (outputs
 * and resource types, the canary alarm by its logical id): a renamed output, alarm or schedule
 * group would make it fail every deploy. Synthesized offline, without bundling.
 */
import { describe, expect, it } from 'vitest';
import {
  CANARY_ALARM_IDS,
  type DeployedStack,
  planDeployChecks,
} from '../../functions/domain/deploy-check.ts';
import { build, type Cfn } from './helpers.ts';

describe('the check plan on the synthesized stack', () => {
  const json = build().template().toJSON() as {
    Resources: Record<string, { Type: string; Properties?: Cfn }>;
    Outputs: Record<string, unknown>;
  };
  // CloudFormation's physical ids stand in as `physical-<logical id>`, output values likewise.
  const stack: DeployedStack = {
    name: 'TencentChatArchiver',
    status: 'CREATE_COMPLETE',
    outputs: Object.fromEntries(Object.keys(json.Outputs).map((key) => [key, `value-of-${key}`])),
    resources: Object.entries(json.Resources).map(([id, resource]) => ({
      logicalId: id,
      physicalId: `physical-${id}`,
      type: resource.Type,
    })),
  };
  const plan = planDeployChecks(stack);

  it('finds every resource a check needs', () => {
    expect(plan.results.filter((r) => !r.pass)).toEqual([]);
    expect(plan.functionName).toBe('value-of-ArchiverFunctionName');
    expect(plan.topicArn).toBe('value-of-AlarmTopicArn');
    expect(plan.workGroup).toMatch(/^physical-/);
    expect(plan.database).toMatch(/^physical-/);
    // The nightly run, the deadline check and the audit.
    expect(plan.schedules).toHaveLength(3);
  });

  it('reads the schedules in the group GetSchedule asks (default)', () => {
    const schedules = Object.values(json.Resources).filter((r) => r.Type === 'AWS::Scheduler::Schedule');
    expect(schedules.map((s) => s.Properties?.GroupName)).toEqual([undefined, undefined, undefined]);
  });

  it('takes as the canary an alarm that notifies the topic on both states and clears within minutes', () => {
    const logicalId = plan.canaryAlarm?.replace(/^physical-/, '') ?? '';
    expect(logicalId).toContain(CANARY_ALARM_IDS[0]);
    const alarm = json.Resources[logicalId]?.Properties as Cfn;
    const topic = Object.entries(json.Resources).find(([, r]) => r.Type === 'AWS::SNS::Topic')?.[0];
    expect(alarm.AlarmActions).toEqual([{ Ref: topic }]);
    expect(alarm.OKActions).toEqual([{ Ref: topic }]);
    expect(alarm.TreatMissingData).toBe('notBreaching');
    expect(alarm.Period).toBeLessThanOrEqual(300);
  });
});
