/**
 * Template assertions for the scheduled completeness audit: its function and bundle, the weekly
 * schedule in the configured time zone, the alarms on the stack topic, and a role that can query
 * and read what the audit reads, write only under audits/, and nothing else.
 */
import { spawnSync } from 'node:child_process';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DEFAULT_AUDIT_CRON } from '../../infra/config.ts';
import { build, type Cfn, demoConfig, onlyResource, resourcesOf } from './helpers.ts';

type Statement = { Sid?: string; Action: string | string[]; Resource: unknown; Condition?: unknown };

const template = build().template();

function auditFunction(t = template): { id: string; Properties: Cfn } {
  const found = Object.entries(resourcesOf(t, 'AWS::Lambda::Function')).filter(([id]) =>
    id.startsWith('AuditFunction'),
  );
  expect(found).toHaveLength(1);
  const [id, resource] = found[0] as [string, { Properties: Cfn }];
  return { id, Properties: resource.Properties };
}

function auditStatements(t = template): Statement[] {
  return Object.values(resourcesOf(t, 'AWS::IAM::Policy'))
    .filter((p) => p.Properties.Roles.some((r: { Ref: string }) => r.Ref.startsWith('AuditRole')))
    .flatMap((p) => p.Properties.PolicyDocument.Statement as Statement[]);
}

const actions = (s: Statement) => [s.Action].flat();
const json = (value: unknown) => JSON.stringify(value);

describe('the audit function', () => {
  it('is Node.js 24 on arm64, 15 minutes, no retries, with the workgroup and database in its environment', () => {
    const fn = auditFunction().Properties;
    expect(fn).toMatchObject({
      Runtime: 'nodejs24.x',
      Architectures: ['arm64'],
      Timeout: 900,
      MemorySize: 1024,
      TracingConfig: { Mode: 'Active' },
      LoggingConfig: { LogFormat: 'JSON' },
    });
    expect(fn.Environment.Variables).toMatchObject({
      ATHENA_WORKGROUP: 'chat-archive',
      GLUE_DATABASE: 'chat_archive',
      ARCHIVE_PREFIX: 'archive/',
    });
    const invokeConfig = onlyResource(template, 'AWS::Lambda::EventInvokeConfig').Properties;
    expect(invokeConfig.MaximumRetryAttempts).toBe(0);
    expect(json(invokeConfig.DestinationConfig.OnFailure)).toMatch(/DeadLettersQueue/);
  });

  it('runs weekly by default in the schedule time zone, and follows deploy.audit', () => {
    const schedules = Object.values(resourcesOf(template, 'AWS::Scheduler::Schedule')).map(
      (s) => s.Properties,
    );
    const audit = schedules.find((s) => json(s.Target.Arn).includes(auditFunction().id));
    expect(audit).toMatchObject({
      ScheduleExpression: `cron(${DEFAULT_AUDIT_CRON})`,
      ScheduleExpressionTimezone: 'UTC',
      State: 'ENABLED',
      Target: { RetryPolicy: { MaximumRetryAttempts: 3 } },
    });
    expect(json(audit?.Target.DeadLetterConfig)).toMatch(/DeadLettersQueue/);
    // Incremental: only the partitions new or changed since the last audit's totals are read.
    expect(JSON.parse(audit?.Target.Input)).toEqual({ source: 'audit-schedule', incremental: true });

    const config = demoConfig();
    config.deploy.audit = { cron: '30 6 1 * ? *', enabled: false };
    config.deploy.schedule = { ...config.deploy.schedule, timeZone: 'Asia/Shanghai' };
    const t = build(config).template();
    const changed = Object.values(resourcesOf(t, 'AWS::Scheduler::Schedule'))
      .map((s) => s.Properties)
      .find((s) => json(s.Target.Arn).includes(auditFunction(t).id));
    expect(changed).toMatchObject({
      ScheduleExpression: 'cron(30 6 1 * ? *)',
      ScheduleExpressionTimezone: 'Asia/Shanghai',
      State: 'DISABLED',
    });
  });

  it('rejects a cron without six fields, naming deploy.audit.cron', () => {
    const config = demoConfig();
    config.deploy.audit = { cron: '0 10 * * SUN' };
    expect(() => build(config)).toThrow(/deploy\.audit\.cron: must have 6 fields/);
  });

  it('alarms on the stack topic on any unexplained finding (kept until the next audit) and on a failed audit', () => {
    const topic = onlyResource(template, 'AWS::SNS::Topic');
    const alarms = Object.values(resourcesOf(template, 'AWS::CloudWatch::Alarm')).map((a) => a.Properties);
    const unexplained = alarms.find((a) => a.MetricName === 'AuditUnexplainedFindings');
    expect(unexplained).toMatchObject({
      Namespace: 'TencentChatArchiver',
      // CloudFormation lists dimensions by name, upper case first.
      Dimensions: [
        { Name: 'Stack', Value: 'TencentChatArchiver' },
        { Name: 'service', Value: 'tencent-chat-archiver' },
      ],
      Statistic: 'Maximum',
      Threshold: 1,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      TreatMissingData: 'ignore',
      AlarmActions: [{ Ref: topic.id }],
      OKActions: [{ Ref: topic.id }],
    });
    const failed = alarms.find((a) =>
      String(a.AlarmDescription).startsWith('The completeness audit did not finish'),
    );
    expect(failed).toMatchObject({ MetricName: 'Errors', Namespace: 'AWS/Lambda', Threshold: 1 });
    expect(json(failed?.Dimensions)).toContain(auditFunction().id);
    const dashboard = onlyResource(template, 'AWS::CloudWatch::Dashboard').Properties;
    expect(json(dashboard.DashboardBody)).toContain('Audit: unexplained findings');
  });
});

describe('the audit role', () => {
  const statements = auditStatements();
  const granted = statements.flatMap(actions);

  it('has no managed policy, no SSM, no delete but of its UNLOAD files, and no wildcard resource except for X-Ray', () => {
    const role = Object.entries(resourcesOf(template, 'AWS::IAM::Role')).find(([id]) =>
      id.startsWith('AuditRole'),
    );
    expect(role?.[1].Properties.ManagedPolicyArns).toBeUndefined();
    expect(granted.filter((a) => /^ssm:|^s3:\*|^athena:\*|^glue:\*/.test(a))).toEqual([]);
    const deletes = statements.filter((s) => actions(s).some((a) => a.includes('Delete')));
    expect(deletes.flatMap(actions).filter((a) => a.includes('Delete'))).toEqual(['s3:DeleteObject']);
    expect(json(deletes.map((s) => s.Resource))).toMatch(
      /^\[\{"Fn::Join":.*\/archive\/audits\/unload\/\*"\]\]\}\]$/,
    );
    const wildcard = statements.filter((s) => json(s.Resource) === '"*"');
    expect(wildcard.flatMap(actions).sort()).toEqual(['xray:PutTelemetryRecords', 'xray:PutTraceSegments']);
  });

  it('runs queries only in its workgroup, and reads only the messages table definition', () => {
    const athena = statements.filter((s) => actions(s).some((a) => a.startsWith('athena:')));
    expect(athena.flatMap(actions).sort()).toEqual([
      'athena:GetQueryExecution',
      'athena:GetQueryResults',
      'athena:GetWorkGroup',
      'athena:StartQueryExecution',
      'athena:StopQueryExecution',
    ]);
    expect(json(athena.map((s) => s.Resource))).toMatch(/:workgroup\/chat-archive"/);
    const glue = statements.filter((s) => actions(s).some((a) => a.startsWith('glue:')));
    expect(glue.flatMap(actions).sort()).toEqual(['glue:GetDatabase', 'glue:GetTable']);
    const resources = json(glue.map((s) => s.Resource));
    expect(resources).toContain(':table/chat_archive/messages"');
    expect(resources).not.toContain('chat_archive/*');
  });

  it('writes only under audits/ and the Athena results, and reads only what the audit reads', () => {
    const writes = statements.filter((s) => actions(s).includes('s3:PutObject'));
    const written = json(writes.map((s) => s.Resource));
    expect(written).toContain('/archive/audits/*');
    expect(written).toContain('/results/*');
    expect(written).not.toMatch(/\/archive\/(messages|state|media|runs)/);
    const reads = json(statements.filter((s) => actions(s).includes('s3:GetObject')).map((s) => s.Resource));
    for (const prefix of ['messages/', 'state/', 'media-manifest/'])
      expect(reads).toContain(`/archive/${prefix}*`);
    expect(reads).not.toMatch(/\/archive\/\*"|\/archive\/media\/\*/);
    const lists = statements.filter((s) => actions(s).includes('s3:ListBucket'));
    expect(lists.every((s) => json(s.Condition).includes('s3:prefix'))).toBe(true);
    // The incremental audit's totals, and its UNLOAD files (listed, read, multipart-aborted).
    expect(reads).toContain('/archive/audits/totals/*');
    expect(reads).toContain('/archive/audits/unload/*');
    const unloadList = lists.find((s) => json(s.Condition).includes('audits/unload/'));
    expect(actions(unloadList as Statement).sort()).toEqual(['s3:GetBucketLocation', 's3:ListBucket']);
    expect(json(unloadList?.Condition)).toBe('{"StringLike":{"s3:prefix":["archive/audits/unload/*"]}}');
    const keys = statements.filter((s) => actions(s).some((a) => a.startsWith('kms:')));
    expect(keys.length).toBeGreaterThan(0);
    expect(keys.every((s) => json(s.Condition).includes('kms:ViaService'))).toBe(true);
  });
});

describe('the audit bundle', () => {
  it('is one small ESM file whose import builds the handler from the stack environment, with no network call', () => {
    const real = build(undefined, { bundle: true });
    const fn = auditFunction(real.template()).Properties;
    const assetDir = join(real.app.outdir, `asset.${fn.Code.S3Key.replace(/\.zip$/, '')}`);
    const bundle = join(assetDir, 'index.mjs');
    expect(statSync(bundle).size).toBeLessThan(1024 * 1024);
    const vars = fn.Environment.Variables;
    const child = spawnSync(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        `const m = await import(${json(bundle)}); console.log(typeof m.handler);`,
      ],
      {
        encoding: 'utf8',
        timeout: 20_000,
        env: {
          PATH: process.env.PATH,
          AWS_REGION: 'us-east-1',
          AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
          ARCHIVER_CONFIG_FILE: vars.ARCHIVER_CONFIG_FILE,
          LAMBDA_TASK_ROOT: assetDir,
          ARCHIVE_BUCKET: 'archive-bucket',
          ARCHIVE_PREFIX: vars.ARCHIVE_PREFIX,
          ATHENA_WORKGROUP: vars.ATHENA_WORKGROUP,
          GLUE_DATABASE: vars.GLUE_DATABASE,
          AWS_ENDPOINT_URL: 'http://127.0.0.1:9',
        },
      },
    );
    expect(child.stderr).toBe('');
    expect(child.stdout.trim()).toBe('function');
  }, 120_000);
});
