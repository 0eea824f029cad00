/**
 * `npm run verify-deploy`: the command against SDK-level mocks of CloudFormation, CloudWatch,
 * Lambda, Scheduler and Athena (no local server exists for them). Every check passing; each check
 * failing on its own, named in the output with its fix; the exit code; and no credential in
 * anything printed. The archiver function's side of the probe is in verify-deploy-probe.test.ts.
 */
import {
  AthenaClient,
  GetQueryExecutionCommand,
  GetQueryResultsCommand,
  StartQueryExecutionCommand,
} from '@aws-sdk/client-athena';
import {
  CloudFormationClient,
  CloudFormationServiceException,
  DescribeStacksCommand,
  ListStackResourcesCommand,
} from '@aws-sdk/client-cloudformation';
import {
  CloudWatchClient,
  CloudWatchServiceException,
  DescribeAlarmHistoryCommand,
  DescribeAlarmsCommand,
  SetAlarmStateCommand,
} from '@aws-sdk/client-cloudwatch';
import { InvokeCommand, LambdaClient, LambdaServiceException } from '@aws-sdk/client-lambda';
import { GetScheduleCommand, ResourceNotFoundException, SchedulerClient } from '@aws-sdk/client-scheduler';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import type { VerifyDeployClients } from '../../functions/adapters/aws/verify-deploy/clients.ts';
import { EXIT } from '../../functions/cli/exit-codes.ts';
import { runVerifyDeployCommand } from '../../functions/cli/verify-deploy-command.ts';
import { type DeployedStack, planDeployChecks, viewProbeSql } from '../../functions/domain/deploy-check.ts';
import type { StoreSelfCheckReport } from '../../functions/domain/deploy-verdicts.ts';
import { VIEWS } from '../../functions/query/views.ts';
import { answerBySql } from '../helpers/athena.ts';
import { FakeClock } from '../helpers/fake-clock.ts';

const ACCESS_KEY_ID = 'AKIAVERIFYDEPLOY0001';
const SECRET_KEY = 'verify/deploy/secret/key/that/must/never/print';
const SESSION_TOKEN = 'session-token-that-must-never-print-0123456789';
const credentials = { accessKeyId: ACCESS_KEY_ID, secretAccessKey: SECRET_KEY, sessionToken: SESSION_TOKEN };
const config = { region: 'us-east-1', credentials };
const clients: VerifyDeployClients = {
  cloudFormation: new CloudFormationClient(config),
  cloudWatch: new CloudWatchClient(config),
  lambda: new LambdaClient(config),
  scheduler: new SchedulerClient(config),
  athena: new AthenaClient(config),
};
const cfn = mockClient(clients.cloudFormation);
const cw = mockClient(clients.cloudWatch);
const lambda = mockClient(clients.lambda);
const scheduler = mockClient(clients.scheduler);
const athena = mockClient(clients.athena);
afterAll(() => {
  for (const mock of [cfn, cw, lambda, scheduler, athena]) mock.restore();
});

const TOPIC = 'arn:aws:sns:us-east-1:123456789012:TencentChatArchiver-AlarmTopic';
const CANARY = 'TencentChatArchiver-ArchiverOperationsScheduleUndeliveredAlarm-ABC';
const SCHEDULES = ['TencentChatArchiver-Nightly', 'TencentChatArchiver-Audit'];

function resource(logicalId: string, type: string, physicalId: string) {
  return { LogicalResourceId: logicalId, ResourceType: type, PhysicalResourceId: physicalId };
}

function probeReport(missing: { ok: boolean; detail: string }): StoreSelfCheckReport {
  return {
    selfCheck: true,
    location: 's3://archive-bucket/archive',
    steps: [
      { step: 'put', key: 'verify-deploy/u1.probe', ok: true, detail: 'wrote 50 bytes' },
      { step: 'get', key: 'verify-deploy/u1.probe', ok: true, detail: 'read back the same bytes' },
      { step: 'delete', key: 'verify-deploy/u1.probe', ok: true, detail: 'deleted' },
      { step: 'get-missing', key: 'verify-deploy/u1.missing', ...missing },
    ],
  };
}

const payload = (value: unknown) => new TextEncoder().encode(JSON.stringify(value));

/** A deployed stack where every check passes. */
function healthyAccount(): void {
  cfn.on(DescribeStacksCommand).resolves({
    Stacks: [
      {
        StackName: 'TencentChatArchiver',
        StackStatus: 'UPDATE_COMPLETE',
        CreationTime: new Date(0),
        Outputs: [
          { OutputKey: 'ArchiverFunctionName', OutputValue: 'TencentChatArchiver-Function' },
          { OutputKey: 'AlarmTopicArn', OutputValue: TOPIC },
        ],
      },
    ],
  });
  cfn.on(ListStackResourcesCommand).resolves({
    StackResourceSummaries: [
      resource('ArchiverOperationsRunFailedAlarmEA305507', 'AWS::CloudWatch::Alarm', 'run-failed'),
      resource('ArchiverOperationsScheduleUndeliveredAlarmD7BEAF29', 'AWS::CloudWatch::Alarm', CANARY),
      resource('AuditUnexplainedAlarmCDA9FB92', 'AWS::CloudWatch::Alarm', 'audit-unexplained'),
      resource('QueryWorkGroupF3860326', 'AWS::Athena::WorkGroup', 'chat-archive'),
      resource('QueryDatabase57FB7E75', 'AWS::Glue::Database', 'chat_archive'),
      resource('ArchiverNightlyScheduleC2D0F74A', 'AWS::Scheduler::Schedule', SCHEDULES[0] as string),
      resource('AuditScheduleE3EE46A1', 'AWS::Scheduler::Schedule', SCHEDULES[1] as string),
    ].map((r) => ({ ...r, ResourceStatus: 'CREATE_COMPLETE', LastUpdatedTimestamp: new Date(0) })),
  });
  cw.on(DescribeAlarmsCommand).resolves({
    MetricAlarms: [
      {
        AlarmName: CANARY,
        StateValue: 'OK',
        ActionsEnabled: true,
        AlarmActions: [TOPIC],
        OKActions: [TOPIC],
      },
    ],
  });
  cw.on(SetAlarmStateCommand).resolves({});
  cw.on(DescribeAlarmHistoryCommand).resolves({
    AlarmHistoryItems: [
      {
        HistoryItemType: 'Action',
        HistorySummary: `Successfully executed action ${TOPIC}`,
        HistoryData: JSON.stringify({ actionState: 'Succeeded', notificationResource: TOPIC }),
      },
    ],
  });
  lambda.on(InvokeCommand).resolves({
    StatusCode: 200,
    Payload: payload(probeReport({ ok: true, detail: 'absent (404)' })) as never,
  });
  scheduler.on(GetScheduleCommand).callsFake((input: { Name: string }) => ({
    Name: input.Name,
    State: 'ENABLED',
    ScheduleExpression: 'cron(0 2 * * ? *)',
    ScheduleExpressionTimezone: 'Asia/Shanghai',
  }));
  answerBySql(athena, () => ({ columns: ['sdkappid'], rows: [['1400000000']] }));
}

async function verify(args: readonly string[] = ['--stack', 'TencentChatArchiver']) {
  let out = '';
  let err = '';
  const clock = new FakeClock();
  const code = await runVerifyDeployCommand(args, {
    clock,
    stdout: (text) => {
      out += text;
    },
    stderr: (text) => {
      err += text;
    },
    clients,
  });
  return { code, out, err, clock };
}

/** The verdict line of `check` (and its fix line, if any). */
function lineOf(out: string, check: string): string {
  const lines = out.split('\n');
  const index = lines.findIndex((l) =>
    new RegExp(`^(PASS|FAIL)  ${check.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} `).test(l),
  );
  if (index < 0) throw new Error(`no line for ${check} in:\n${out}`);
  const next = lines[index + 1] ?? '';
  return next.startsWith('      fix: ') ? `${lines[index]}\n${next}` : (lines[index] as string);
}

beforeEach(() => {
  for (const mock of [cfn, cw, lambda, scheduler, athena]) mock.reset();
  healthyAccount();
});

describe('verify-deploy', () => {
  it('passes every check on a healthy stack and exits 0', async () => {
    const { code, out } = await verify(['--stack', 'TencentChatArchiver', '--time-zone', 'Asia/Shanghai']);
    const checks = [
      'stack',
      ...SCHEDULES.map((s) => `schedule ${s}`),
      'archiver-store',
      'archiver-missing-key',
      ...VIEWS.map((v) => `view ${v.name}`),
      'alarm-topic',
    ];
    for (const check of checks) expect(lineOf(out, check)).toMatch(/^PASS/);
    expect(out).not.toContain('FAIL');
    expect(out).toContain(`${checks.length} passed, 0 failed`);
    expect(code).toBe(EXIT.done);
    expect(lineOf(out, 'alarm-topic')).toContain('Look for that e-mail');
    // The canary, never an audit alarm, set to ALARM with a reason the e-mail shows.
    const set = cw.commandCalls(SetAlarmStateCommand)[0]?.args[0].input;
    expect(set).toMatchObject({ AlarmName: CANARY, StateValue: 'ALARM' });
    expect(set?.StateReason).toMatch(/^verify-deploy test/);
    expect(lambda.commandCalls(InvokeCommand)[0]?.args[0].input.FunctionName).toBe(
      'TencentChatArchiver-Function',
    );
    const sql = athena.commandCalls(StartQueryExecutionCommand).map((c) => c.args[0].input);
    expect(sql.map((q) => q.QueryString)).toEqual(
      // The FakeClock starts on 2026-01-01: the views are read from 7 days before.
      VIEWS.map((v) => `SELECT * FROM "chat_archive"."${v.name}" WHERE dt >= '2025-12-25' LIMIT 1`),
    );
    expect(sql.every((q) => q.WorkGroup === 'chat-archive')).toBe(true);
  });

  it('fails the missing-key check alone when the function gets 403 for a missing key', async () => {
    const detail =
      'StorageError: S3 GetObject s3://archive-bucket/archive/verify-deploy/u1.missing failed (AccessDenied, HTTP 403)';
    lambda
      .on(InvokeCommand)
      .resolves({ StatusCode: 200, Payload: payload(probeReport({ ok: false, detail })) as never });
    const { code, out } = await verify();
    expect(lineOf(out, 'archiver-missing-key')).toMatch(/^FAIL.*HTTP 403[\s\S]*fix: .*s3:ListBucket/);
    expect(lineOf(out, 'archiver-store')).toMatch(/^PASS/);
    expect(out).toMatch(/\d+ passed, 1 failed/);
    expect(code).toBe(EXIT.failed);
  });

  it('fails the check of the one view Athena cannot read, with the reason and the fix', async () => {
    const ids = new Map<string, string>();
    athena.on(StartQueryExecutionCommand).callsFake((input: { QueryString: string }) => {
      const id = `q${ids.size}`;
      ids.set(id, input.QueryString);
      return { QueryExecutionId: id };
    });
    athena.on(GetQueryExecutionCommand).callsFake((input: { QueryExecutionId: string }) => {
      const bad = ids.get(input.QueryExecutionId)?.includes('"messages_flat"') === true;
      return {
        QueryExecution: {
          StatementType: 'DML',
          Status: bad
            ? { State: 'FAILED', StateChangeReason: 'HIVE_BAD_DATA: Error parsing field value' }
            : { State: 'SUCCEEDED' },
        },
      };
    });
    athena.on(GetQueryResultsCommand).resolves({ ResultSet: { Rows: [] } });
    const { code, out } = await verify();
    expect(lineOf(out, 'view messages_flat')).toMatch(/^FAIL.*HIVE_BAD_DATA[\s\S]*fix: .*malformed line/);
    expect(lineOf(out, 'view messages_latest')).toMatch(/^PASS.*0 rows \(no row since then/);
    expect(out).toMatch(/\d+ passed, 1 failed/);
    expect(code).toBe(EXIT.failed);
  });

  it('fails the check of a schedule that is missing', async () => {
    scheduler.on(GetScheduleCommand, { Name: SCHEDULES[1] }).rejects(
      new ResourceNotFoundException({
        $metadata: { httpStatusCode: 404 },
        message: 'Schedule not found',
        Message: 'Schedule not found',
      }),
    );
    const { code, out } = await verify();
    expect(lineOf(out, `schedule ${SCHEDULES[1]}`)).toMatch(
      /^FAIL.*no such schedule[\s\S]*fix: deploy the stack again/,
    );
    expect(lineOf(out, `schedule ${SCHEDULES[0]}`)).toMatch(/^PASS/);
    expect(code).toBe(EXIT.failed);
  });

  it('fails every schedule in another time zone than --time-zone, naming the setting to change', async () => {
    const { code, out } = await verify(['--stack', 'TencentChatArchiver', '--time-zone', 'Europe/Berlin']);
    for (const name of SCHEDULES) {
      expect(lineOf(out, `schedule ${name}`)).toMatch(
        /^FAIL.*in Asia\/Shanghai.*expected the time zone Europe\/Berlin[\s\S]*fix: set deploy\.schedule\.timeZone to "Europe\/Berlin"/,
      );
    }
    expect(out).toMatch(/\d+ passed, 2 failed/);
    expect(code).toBe(EXIT.failed);
  });

  it('fails a disabled schedule', async () => {
    scheduler.on(GetScheduleCommand).resolves({ State: 'DISABLED', ScheduleExpression: 'cron(0 2 * * ? *)' });
    const { out } = await verify();
    expect(lineOf(out, `schedule ${SCHEDULES[0]}`)).toMatch(
      /^FAIL.*in UTC, DISABLED[\s\S]*fix: set deploy\.schedule\.enabled/,
    );
  });

  it('fails the alarm check when the alarm cannot be set (no cloudwatch:SetAlarmState)', async () => {
    cw.on(SetAlarmStateCommand).rejects(
      new CloudWatchServiceException({
        name: 'AccessDenied',
        $fault: 'client',
        $metadata: { httpStatusCode: 403 },
        message:
          'User: arn:aws:iam::123456789012:user/ops is not authorized to perform: cloudwatch:SetAlarmState',
      }),
    );
    const { code, out } = await verify();
    expect(lineOf(out, 'alarm-topic')).toMatch(
      /^FAIL.*could not set alarm .*AccessDenied[\s\S]*fix: .*cloudwatch:SetAlarmState/,
    );
    expect(out).toMatch(/\d+ passed, 1 failed/);
    expect(code).toBe(EXIT.failed);
  });

  it('fails the alarm check when CloudWatch could not publish to the topic, naming both policies', async () => {
    cw.on(DescribeAlarmHistoryCommand).resolves({
      AlarmHistoryItems: [
        {
          HistorySummary: `Failed to execute action ${TOPIC}`,
          HistoryData: JSON.stringify({
            actionState: 'Failed',
            notificationResource: TOPIC,
            error: 'CloudWatch Alarms does not have authorization to access the SNS topic encryption key.',
          }),
        },
      ],
    });
    const { out } = await verify();
    expect(lineOf(out, 'alarm-topic')).toMatch(
      /^FAIL.*could not publish.*encryption key[\s\S]*fix: .*sns:Publish.*kms:GenerateDataKey/,
    );
  });

  it('fails the alarm check when no action is recorded within --alarm-wait, polling on the clock', async () => {
    cw.on(DescribeAlarmHistoryCommand).resolves({ AlarmHistoryItems: [] });
    const { out, clock } = await verify(['--stack', 'TencentChatArchiver', '--alarm-wait', '30']);
    expect(lineOf(out, 'alarm-topic')).toMatch(/^FAIL.*no action on .* within 30 s/);
    expect(clock.sleeps).toEqual([5_000, 5_000, 5_000, 5_000, 5_000, 5_000]);
  });

  it('sets an alarm already in ALARM to OK: setting ALARM again would run no action', async () => {
    cw.on(DescribeAlarmsCommand).resolves({
      MetricAlarms: [
        {
          AlarmName: CANARY,
          StateValue: 'ALARM',
          ActionsEnabled: true,
          AlarmActions: [TOPIC],
          OKActions: [TOPIC],
        },
      ],
    });
    const { out } = await verify();
    expect(cw.commandCalls(SetAlarmStateCommand)[0]?.args[0].input.StateValue).toBe('OK');
    expect(lineOf(out, 'alarm-topic')).toMatch(/^PASS.*'s OK/);
  });

  it('fails the alarm check without touching the alarm when its actions are disabled', async () => {
    cw.on(DescribeAlarmsCommand).resolves({
      MetricAlarms: [{ AlarmName: CANARY, StateValue: 'OK', ActionsEnabled: false, AlarmActions: [TOPIC] }],
    });
    const { out } = await verify();
    expect(lineOf(out, 'alarm-topic')).toMatch(
      /^FAIL.*actions disabled[\s\S]*fix: aws cloudwatch enable-alarm-actions/,
    );
    expect(cw.commandCalls(SetAlarmStateCommand)).toHaveLength(0);
  });

  it('fails the stack check, and runs nothing else, when the stack does not exist', async () => {
    cfn.on(DescribeStacksCommand).rejects(
      new CloudFormationServiceException({
        name: 'ValidationError',
        $fault: 'client',
        $metadata: { httpStatusCode: 400 },
        message: 'Stack with id Nope does not exist',
      }),
    );
    const { code, out } = await verify(['--stack', 'Nope']);
    expect(lineOf(out, 'stack')).toMatch(/^FAIL.*ConfigError: Stack Nope does not exist.*--stack/);
    expect(out).toContain('0 passed, 1 failed');
    expect(lambda.calls()).toHaveLength(0);
    expect(code).toBe(EXIT.failed);
  });

  it('prints no credential, even when an AWS error message quotes one', async () => {
    lambda.on(InvokeCommand).rejects(
      new LambdaServiceException({
        name: 'AccessDeniedException',
        $fault: 'client',
        $metadata: { httpStatusCode: 403 },
        message: `denied for ${ACCESS_KEY_ID} (${SECRET_KEY}, token ${SESSION_TOKEN}); other key AKIAOTHERKEYID000001`,
      }),
    );
    const { code, out, err } = await verify();
    expect(lineOf(out, 'archiver-store')).toMatch(
      /^FAIL.*AccessDeniedException: denied for \*\*\*[\s\S]*lambda:InvokeFunction/,
    );
    // The invocation that could not run fails both checks it would have made.
    expect(lineOf(out, 'archiver-missing-key')).toMatch(/^FAIL.*AccessDeniedException/);
    for (const secret of [ACCESS_KEY_ID, SECRET_KEY, SESSION_TOKEN, 'AKIAOTHERKEYID000001']) {
      expect(out + err).not.toContain(secret);
    }
    expect(code).toBe(EXIT.failed);
  });

  it('fails both store checks, quoting the function, when it throws on the self-check (an older function)', async () => {
    lambda.on(InvokeCommand).resolves({
      StatusCode: 200,
      FunctionError: 'Unhandled',
      Payload: payload({
        errorType: 'ConfigError',
        errorMessage: 'The event must be { "sdkAppId": <number> }',
      }) as never,
    });
    const { code, out } = await verify();
    for (const check of ['archiver-store', 'archiver-missing-key']) {
      expect(lineOf(out, check)).toMatch(
        /^FAIL.*did not answer the self-check event with a report .*functionError.*The event must be[\s\S]*fix: deploy this version/,
      );
    }
    expect(code).toBe(EXIT.failed);
  });

  it('exits 2 with the usage when --stack is missing', async () => {
    const { code, out, err } = await verify([]);
    expect(code).toBe(EXIT.usage);
    expect(err).toContain('--stack <name> is required');
    expect(out).toBe('');
  });
});

describe('the view probe', () => {
  it('bounds the view by dt, quotes the names, and takes only a date as the bound', () => {
    expect(viewProbeSql('chat"archive', 'messages_flat', '2026-11-30')).toBe(
      `SELECT * FROM "chat""archive"."messages_flat" WHERE dt >= '2026-11-30' LIMIT 1`,
    );
    expect(() => viewProbeSql('db', 'v', "2026-11-30' OR '1'='1")).toThrow(RangeError);
  });
});

describe('the check plan', () => {
  const stack = (over: Partial<DeployedStack>): DeployedStack => ({
    name: 'S',
    status: 'CREATE_COMPLETE',
    outputs: { ArchiverFunctionName: 'f', AlarmTopicArn: TOPIC },
    resources: [],
    ...over,
  });

  it('never takes an audit alarm as the canary, and says so when no canary is left', () => {
    const plan = planDeployChecks(
      stack({
        resources: [
          { logicalId: 'AuditUnexplainedAlarmCDA9FB92', physicalId: 'a', type: 'AWS::CloudWatch::Alarm' },
        ],
      }),
    );
    expect(plan.canaryAlarm).toBeUndefined();
    expect(plan.results.find((r) => r.check === 'alarm-topic')).toMatchObject({ pass: false });
  });

  it('fails a stack whose last deployment rolled back, and every resource a check lacks', () => {
    const plan = planDeployChecks(stack({ status: 'UPDATE_ROLLBACK_COMPLETE', outputs: {} }));
    expect(plan.results.map((r) => [r.check, r.pass])).toEqual([
      ['stack', false],
      ['schedules', false],
      ['archiver-store', false],
      ['alarm-topic', false],
      ['alarm-topic', false],
      ['views', false],
      ['views', false],
    ]);
  });
});
