/**
 * Template assertions for the archiver stack: least-privilege IAM, the bucket, the function, the
 * schedules, the state machine's loop and bound, the alarms. One test bundles the function for real
 * and measures it.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Match } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { MESSAGE_LOCATION_TEMPLATE } from '../../functions/domain/partition.ts';
import { definitionFrom } from './asl.ts';
import { build, type Cfn, demoConfig, onlyResource, resourcesOf } from './helpers.ts';

type Statement = { Action: string | string[]; Resource: unknown; Condition?: unknown; Effect: string };

const demo = build();
const template = demo.template();

/** The statements of the policies attached to the role whose logical id starts with `rolePrefix`. */
function statementsOf(t = template, rolePrefix = 'ArchiverRole'): Statement[] {
  return Object.values(resourcesOf(t, 'AWS::IAM::Policy'))
    .filter((p) => p.Properties.Roles.some((r: { Ref: string }) => r.Ref.startsWith(rolePrefix)))
    .flatMap((p) => p.Properties.PolicyDocument.Statement as Statement[]);
}

const actionsOf = (s: Statement) => [s.Action].flat();

/** The archiver function (the stack also has the audit function, tested in archive-audit.test.ts). */
function archiverFunction(t = template): { Properties: Cfn } {
  const entries = Object.entries(resourcesOf(t, 'AWS::Lambda::Function'));
  const found = entries.filter(([id]) => id.startsWith('ArchiverFunction'));
  if (found.length !== 1)
    throw new Error(`expected one archiver function, found ${entries.map(([id]) => id)}`);
  return (found[0] as [string, { Properties: Cfn }])[1];
}

describe('the archiver function', () => {
  it('is Node.js 24 on arm64 with the maximum timeout, JSON logs, tracing and the config in a file of its bundle', () => {
    const fn = archiverFunction().Properties;
    expect(fn).toMatchObject({
      Runtime: 'nodejs24.x',
      Architectures: ['arm64'],
      Timeout: 900,
      MemorySize: 1024,
      Handler: 'index.handler',
      TracingConfig: { Mode: 'Active' },
      LoggingConfig: { LogFormat: 'JSON' },
    });
    const env = fn.Environment.Variables;
    expect(env.ARCHIVE_PREFIX).toBe('archive/');
    expect(env.ARCHIVE_BUCKET).toEqual({ Ref: expect.stringMatching(/^ArchiverArchiveBucket/) });
    // Not in the environment (4 KB at most): a file beside the bundle (read in the bundle test).
    expect(env.ARCHIVER_CONFIG).toBeUndefined();
    expect(env.ARCHIVER_CONFIG_FILE).toBe('archiver-config.json');
  });

  it('has a role with no managed policy and no wildcard resource except for X-Ray', () => {
    const role = Object.entries(resourcesOf(template, 'AWS::IAM::Role')).find(([id]) =>
      id.startsWith('ArchiverRole'),
    )?.[1];
    expect(role?.Properties.ManagedPolicyArns).toBeUndefined();
    const wildcard = statementsOf().filter((s) => JSON.stringify(s.Resource) === '"*"');
    expect(wildcard.flatMap(actionsOf).sort()).toEqual(['xray:PutTelemetryRecords', 'xray:PutTraceSegments']);
  });

  it('writes, reads and deletes only under the archive prefix, and lists only under it', () => {
    const s3 = statementsOf().filter((s) => actionsOf(s).some((a) => a.startsWith('s3:')));
    const objects = s3.find((s) => actionsOf(s).includes('s3:PutObject'));
    expect(actionsOf(objects as Statement).sort()).toEqual([
      's3:DeleteObject',
      's3:GetObject',
      's3:PutObject',
    ]);
    expect(objects?.Resource).toEqual({
      'Fn::Join': [
        '',
        [{ 'Fn::GetAtt': [expect.stringMatching(/^ArchiverArchiveBucket/), 'Arn'] }, '/archive/*'],
      ],
    });
    const list = s3.find((s) => actionsOf(s).includes('s3:ListBucket'));
    expect(list?.Condition).toEqual({ StringLike: { 's3:prefix': ['archive/*'] } });
    // Media files are multipart uploads: cleaning one up is allowed under the media prefixes only.
    const multipart = s3.find((s) => actionsOf(s).includes('s3:AbortMultipartUpload'));
    expect(actionsOf(multipart as Statement).sort()).toEqual([
      's3:AbortMultipartUpload',
      's3:ListMultipartUploadParts',
    ]);
    const resources = [multipart?.Resource].flat().map((r) => JSON.stringify(r));
    expect(resources.map((r) => /"(\/archive\/[^"]*)"/.exec(r)?.[1]).sort()).toEqual([
      '/archive/media-manifest/*',
      '/archive/media/*',
    ]);
    expect(s3).toHaveLength(3);
  });

  it('reads only the configured SSM parameters, and decrypts only with their configured key', () => {
    const config = demoConfig();
    config.apps.push({
      ...config.apps[0],
      sdkAppId: 1400000001,
      secretKey: undefined,
      userSig: { ssmParameter: 'sig-1' },
    });
    config.deploy.secrets = { kmsKeyArn: 'arn:aws:kms:ap-southeast-1:123456789012:key/abc' };
    const statements = statementsOf(build(config).template());
    const ssm = statements.filter((s) => actionsOf(s).some((a) => a.startsWith('ssm:')));
    expect(ssm).toHaveLength(1);
    expect(actionsOf(ssm[0] as Statement)).toEqual(['ssm:GetParameters']);
    const arns = [ssm[0]?.Resource].flat().map((r) => JSON.stringify(r));
    expect(arns).toHaveLength(2);
    expect(arns.some((a) => a.includes(':parameter/tencent-chat-archiver/1400000000/secret-key"'))).toBe(
      true,
    );
    expect(arns.some((a) => a.includes(':parameter/sig-1"'))).toBe(true);
    const decrypt = statements.filter(
      (s) => actionsOf(s).includes('kms:Decrypt') && JSON.stringify(s.Condition).includes('ssm.'),
    );
    expect(decrypt).toHaveLength(1);
    expect(decrypt[0]?.Resource).toBe('arn:aws:kms:ap-southeast-1:123456789012:key/abc');
  });

  it('is bundled locally with esbuild as one small ESM file that loads without touching the network', () => {
    const real = build(undefined, { bundle: true });
    const fn = archiverFunction(real.template()).Properties;
    const assetDir = join(real.app.outdir, `asset.${fn.Code.S3Key.replace(/\.zip$/, '')}`);
    const bundle = join(assetDir, 'index.mjs');
    const size = statSync(bundle).size;
    console.info(`Lambda bundle: ${(size / 1024).toFixed(0)} KiB`);
    expect(size).toBeLessThan(1024 * 1024);
    const code = readFileSync(bundle, 'utf8');
    expect(code).not.toMatch(/@duckdb|s3rver/);
    // Importing it (as the Lambda runtime does) builds the handler and makes no SSM or S3 call:
    // with no credentials and no reachable endpoint, any call would hang or fail here.
    const config = JSON.parse(readFileSync(join(assetDir, 'archiver-config.json'), 'utf8'));
    // The config as written, without the deploy section, naming the parameter (never a value).
    expect(config.deploy).toBeUndefined();
    expect(config.apps[0].secretKey).toEqual({
      ssmParameter: '/tencent-chat-archiver/1400000000/secret-key',
    });
    const child = spawnSync(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        `const m = await import(${JSON.stringify(bundle)}); console.log(typeof m.handler);`,
      ],
      {
        encoding: 'utf8',
        timeout: 20_000,
        env: {
          PATH: process.env.PATH,
          AWS_REGION: 'us-east-1',
          AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
          ARCHIVER_CONFIG_FILE: fn.Environment.Variables.ARCHIVER_CONFIG_FILE,
          LAMBDA_TASK_ROOT: assetDir,
          ARCHIVE_BUCKET: 'archive-bucket',
          ARCHIVE_PREFIX: 'archive/',
          AWS_ENDPOINT_URL: 'http://127.0.0.1:9',
        },
      },
    );
    expect(child.stderr).toBe('');
    expect(child.stdout.trim()).toBe('function');
  }, 60_000);
});

describe('the archive bucket', () => {
  const buckets = () => Object.entries(resourcesOf(template, 'AWS::S3::Bucket'));
  const archive = () => buckets().find(([id]) => id.startsWith('ArchiverArchiveBucket'))?.[1].Properties;

  it('is SSE-KMS with the stack key and a bucket key, versioned, private and retained', () => {
    expect(archive()).toMatchObject({
      BucketEncryption: {
        ServerSideEncryptionConfiguration: [
          {
            BucketKeyEnabled: true,
            ServerSideEncryptionByDefault: {
              SSEAlgorithm: 'aws:kms',
              KMSMasterKeyID: { 'Fn::GetAtt': [expect.stringMatching(/^ArchiverKey/), 'Arn'] },
            },
          },
        ],
      },
      VersioningConfiguration: { Status: 'Enabled' },
      PublicAccessBlockConfiguration: {
        BlockPublicAcls: true,
        BlockPublicPolicy: true,
        IgnorePublicAcls: true,
        RestrictPublicBuckets: true,
      },
      LoggingConfiguration: {
        DestinationBucketName: { Ref: expect.stringMatching(/^ArchiverArchiveAccessLogs/) },
        LogFilePrefix: 'archive-bucket/',
      },
    });
    template.hasResource('AWS::S3::Bucket', { DeletionPolicy: 'Retain', UpdateReplacePolicy: 'Retain' });
    expect(
      Object.values(template.findResources('AWS::S3::Bucket')).every((b) => b.DeletionPolicy === 'Retain'),
    ).toBe(true);
    template.hasResource('AWS::KMS::Key', {
      DeletionPolicy: 'Retain',
      Properties: { EnableKeyRotation: true },
    });
  });

  it('denies any request without TLS', () => {
    template.hasResourceProperties('AWS::S3::BucketPolicy', {
      Bucket: { Ref: Match.stringLikeRegexp('^ArchiverArchiveBucket') },
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Effect: 'Deny',
            Action: 's3:*',
            Condition: { Bool: { 'aws:SecureTransport': 'false' } },
            Principal: { AWS: '*' },
          }),
        ]),
      },
    });
  });

  it('moves message and media files to colder tiers and expires old versions', () => {
    const rules = archive()?.LifecycleConfiguration.Rules;
    expect(rules).toContainEqual(
      expect.objectContaining({
        Prefix: 'archive/messages/',
        Status: 'Enabled',
        Transitions: [
          { StorageClass: 'STANDARD_IA', TransitionInDays: 30 },
          { StorageClass: 'GLACIER_IR', TransitionInDays: 90 },
        ],
      }),
    );
    expect(rules).toContainEqual(
      expect.objectContaining({
        NoncurrentVersionExpiration: { NoncurrentDays: 30 },
        AbortIncompleteMultipartUpload: { DaysAfterInitiation: 7 },
      }),
    );
  });

  it('can be SSE-S3, with Object Lock and custom tiers', () => {
    const config = demoConfig();
    config.deploy.bucket = {
      encryption: 's3',
      objectLock: { mode: 'COMPLIANCE', days: 365 },
      lifecycle: {
        infrequentAccessAfterDays: null,
        glacierInstantRetrievalAfterDays: 60,
        deepArchiveAfterDays: 400,
      },
    };
    const t = build(config).template();
    const bucket = Object.entries(resourcesOf(t, 'AWS::S3::Bucket')).find(([id]) =>
      id.startsWith('ArchiverArchiveBucket'),
    )?.[1].Properties;
    expect(
      bucket.BucketEncryption.ServerSideEncryptionConfiguration[0].ServerSideEncryptionByDefault,
    ).toEqual({
      SSEAlgorithm: 'AES256',
    });
    expect(bucket.ObjectLockEnabled).toBe(true);
    // No default retention: write-once objects are locked one by one (see operator-setups.test.ts).
    expect(bucket.ObjectLockConfiguration).toBeUndefined();
    expect(bucket.LifecycleConfiguration.Rules).toContainEqual(
      expect.objectContaining({
        Transitions: [
          { StorageClass: 'GLACIER_IR', TransitionInDays: 60 },
          { StorageClass: 'DEEP_ARCHIVE', TransitionInDays: 400 },
        ],
      }),
    );
    // No customer key to use through S3.
    expect(statementsOf(t).some((s) => actionsOf(s).includes('kms:GenerateDataKey'))).toBe(false);
  });

  it('can be an existing bucket: nothing created, grants still scoped to the prefix', () => {
    const config = demoConfig();
    config.deploy.bucket = { existingBucketName: 'my-chat-archive', prefix: 'tencent/chat' };
    const t = build(config).template();
    // No archive or access-log bucket: only the Athena query results bucket is the stack's own.
    expect(Object.keys(resourcesOf(t, 'AWS::S3::Bucket'))).toEqual([expect.stringMatching(/^QueryResults/)]);
    const objects = statementsOf(t).find((s) => actionsOf(s).includes('s3:PutObject'));
    expect(JSON.stringify(objects?.Resource)).toContain(':s3:::my-chat-archive/tencent/chat/*');
    const fn = archiverFunction(t).Properties;
    expect(fn.Environment.Variables).toMatchObject({
      ARCHIVE_BUCKET: 'my-chat-archive',
      ARCHIVE_PREFIX: 'tencent/chat/',
    });
  });
});

describe('the schedules', () => {
  it('start a run on the configured cron in the configured IANA time zone, with retries and a DLQ', () => {
    const config = demoConfig();
    config.deploy.schedule = { cron: '30 1 * * ? *', timeZone: 'Asia/Shanghai' };
    config.deploy.alarms = { runNotDoneByHour: 9 };
    const t = build(config).template();
    const schedules = Object.values(resourcesOf(t, 'AWS::Scheduler::Schedule')).map((s) => s.Properties);
    const nightly = schedules.find((s) => s.ScheduleExpression === 'cron(30 1 * * ? *)');
    expect(nightly).toMatchObject({
      ScheduleExpressionTimezone: 'Asia/Shanghai',
      State: 'ENABLED',
      Target: {
        Arn: { Ref: expect.stringMatching(/^ArchiverRunStateMachine/) },
        RetryPolicy: { MaximumRetryAttempts: 3 },
        DeadLetterConfig: {
          Arn: { 'Fn::GetAtt': [expect.stringMatching(/^ArchiverDeadLettersQueue/), 'Arn'] },
        },
      },
    });
    const deadline = schedules.find((s) => s.ScheduleExpression === 'cron(0 9 * * ? *)');
    expect(deadline).toMatchObject({
      ScheduleExpressionTimezone: 'Asia/Shanghai',
      Target: { Arn: { Ref: expect.stringMatching(/^ArchiverDeadlineCheckStateMachine/) } },
    });
  });
});

describe('the run state machine', () => {
  const machines = resourcesOf(template, 'AWS::StepFunctions::StateMachine');
  const [runId, run] =
    Object.entries(machines).find(([id]) => id.startsWith('ArchiverRunStateMachine')) ?? [];
  const definition = definitionFrom(run?.Properties.DefinitionString);

  it('is a Standard state machine with full logging and tracing', () => {
    expect(runId).toBeDefined();
    expect(run?.Properties).toMatchObject({
      StateMachineType: 'STANDARD',
      LoggingConfiguration: { Level: 'ALL' },
      TracingConfiguration: { Enabled: true },
    });
  });

  it('loops invoke → done? → bound? → next, with the configured bound and retries', () => {
    const loop = definition.States.ArchiveApps?.ItemProcessor;
    expect(loop.StartAt).toBe('Archive');
    const archive = loop.States.Archive;
    expect(archive.Resource).toBe('arn:aws:states:::lambda:invoke');
    expect(archive.Parameters.Payload).toEqual({ 'sdkAppId.$': '$.sdkAppId' });
    expect(archive.Retry.map((r: { ErrorEquals: string[] }) => r.ErrorEquals)).toEqual([
      expect.arrayContaining(['Lambda.ServiceException', 'Lambda.SdkClientException']),
      ['Lambda.TooManyRequestsException'],
      ['LeaseHeldError'],
      [
        'TransientError',
        'TimeoutError',
        'Sandbox.Timedout',
        'Runtime.ExitError',
        'Runtime.OutOfMemory',
        'Runtime.Unknown',
        'Lambda.Unknown',
        'States.Timeout',
      ],
    ]);
    expect(archive.Catch).toEqual([
      { ErrorEquals: ['States.ALL'], ResultPath: '$.error', Next: 'AppFailed' },
    ]);
    const choices = loop.States['AppDone?'].Choices;
    expect(choices.map((c: { Next: string }) => c.Next)).toEqual([
      'AppResultInvalid',
      'AppCaughtUp',
      'AppStalled',
      'AppBehind',
      'NextIteration',
    ]);
    expect(choices[3]).toEqual({ Variable: '$.iteration', NumericGreaterThanEquals: 47, Next: 'AppBehind' });
    expect(loop.States['AppDone?'].Default).toBe('NextIterationWithoutProgress');
    expect(loop.States.NextIteration.Parameters['iteration.$']).toBe('States.MathAdd($.iteration, 1)');
    expect(loop.States.Pause.Next).toBe('Archive');
    expect(definition.States.RunFailed).toMatchObject({ Type: 'Fail', Error: 'AppsFailed' });
  });

  it('checks first for another running execution of itself, which its role may list', () => {
    expect(definition.StartAt).toBe('ListRunningExecutions');
    expect(definition.States.ListRunningExecutions?.Parameters).toEqual({
      'StateMachineArn.$': '$$.StateMachine.Id',
      StatusFilter: 'RUNNING',
      MaxResults: 1000,
    });
    const name = run?.Properties.StateMachineName;
    const list = statementsOf(template, 'ArchiverRunStateMachineRole').find(
      (s) => s.Action === 'states:ListExecutions',
    );
    expect(JSON.stringify(list?.Resource)).toContain(`:stateMachine:${name}"`);
    const invoke = statementsOf(template, 'ArchiverRunStateMachineRole').find(
      (s) => s.Action === 'lambda:InvokeFunction',
    );
    expect(JSON.stringify(invoke?.Resource)).toMatch(/ArchiverFunction/);
  });
});

describe('operations', () => {
  const alarms = Object.values(resourcesOf(template, 'AWS::CloudWatch::Alarm')).map((a) => a.Properties);
  const topic = onlyResource(template, 'AWS::SNS::Topic');
  const byDescription = (text: string) => alarms.find((a) => String(a.AlarmDescription).includes(text));

  it('sends every alarm to one encrypted topic', () => {
    expect(topic.Properties.KmsMasterKeyId).toEqual({
      'Fn::GetAtt': [expect.stringMatching(/^ArchiverKey/), 'Arn'],
    });
    // Failed run, undelivered schedule, not done by the hour, no progress; errors, headroom and
    // media pending near retention per app; the audit's two (unexplained findings keep their
    // verdict between weekly audits).
    expect(alarms).toHaveLength(9);
    for (const alarm of alarms) {
      expect(alarm.AlarmActions).toEqual([{ Ref: topic.id }]);
      const audit = String(alarm.AlarmDescription).startsWith('The completeness audit found');
      expect(alarm.TreatMissingData).toBe(audit ? 'ignore' : 'notBreaching');
    }
  });

  it('alarms on a failed run, an undelivered schedule, a run not done by the hour, errors and headroom', () => {
    const failed = byDescription('A run failed');
    expect(JSON.stringify(failed?.Metrics)).toContain('ExecutionsFailed');
    expect(JSON.stringify(failed?.Metrics)).toContain('ExecutionsTimedOut');
    expect(byDescription('Scheduler could not start')).toMatchObject({
      Namespace: 'AWS/SQS',
      MetricName: 'NumberOfMessagesSent',
      Statistic: 'Sum',
      Threshold: 1,
    });
    expect(byDescription('still in progress at 8:00')).toMatchObject({
      Namespace: 'TencentChatArchiver',
      MetricName: 'RunNotDoneByDeadline',
      Threshold: 1,
    });
    expect(byDescription('App 1400000000: at least 5 errors in an hour')).toMatchObject({
      Namespace: 'TencentChatArchiver',
      MetricName: 'Errors',
      Threshold: 5,
    });
    expect(byDescription('App 1400000000: unarchived history')).toMatchObject({
      MetricName: 'RetentionHeadroomDays',
      Namespace: 'TencentChatArchiver',
      Dimensions: expect.arrayContaining([{ Name: 'SdkAppId', Value: '1400000000' }]),
      ComparisonOperator: 'LessThanThreshold',
      Threshold: 2,
      Statistic: 'Minimum',
    });
  });

  it('alarms per app on media still pending close to the retention limit (any above 0)', () => {
    expect(byDescription('App 1400000000: media files not yet copied')).toMatchObject({
      MetricName: 'MediaPendingNearRetention',
      Namespace: 'TencentChatArchiver',
      Dimensions: expect.arrayContaining([{ Name: 'SdkAppId', Value: '1400000000' }]),
      ComparisonOperator: 'GreaterThanThreshold',
      Threshold: 0,
      Statistic: 'Maximum',
      AlarmActions: [{ Ref: topic.id }],
    });
    // The function counts with the stack's headroom, so alarm and count agree.
    const fn = archiverFunction(template);
    expect(fn.Properties.Environment?.Variables?.ALARM_HEADROOM_DAYS).toBe('2');
  });

  it('e-mails alarms when an address is configured, with a dead-letter queue', () => {
    const config = demoConfig();
    config.deploy.alarms = { email: 'ops@example.com', headroomDays: 3, errorsPerHour: 20 };
    const t = build(config).template();
    t.hasResourceProperties('AWS::SNS::Subscription', {
      Protocol: 'email',
      Endpoint: 'ops@example.com',
      RedrivePolicy: { deadLetterTargetArn: Match.anyValue() },
    });
    const a = Object.values(resourcesOf(t, 'AWS::CloudWatch::Alarm')).map((x) => x.Properties);
    expect(a.find((x) => x.MetricName === 'RetentionHeadroomDays')?.Threshold).toBe(3);
    expect(String(a.find((x) => x.MetricName === 'MediaPendingNearRetention')?.AlarmDescription)).toContain(
      'less than 3 days',
    );
    expect(a.find((x) => String(x.AlarmDescription).includes('errors in an hour'))?.Threshold).toBe(20);
  });

  it('has a dashboard and a deadline check that publishes RunNotDoneByDeadline in its namespace only', () => {
    template.resourceCountIs('AWS::CloudWatch::Dashboard', 1);
    const put = statementsOf(template, 'ArchiverDeadlineCheckStateMachineRole').find(
      (s) => s.Action === 'cloudwatch:PutMetricData',
    );
    expect(put?.Condition).toEqual({ StringEquals: { 'cloudwatch:namespace': 'TencentChatArchiver' } });
  });

  it('graphs the names and one-to-one counts per app on the dashboard', () => {
    const body = JSON.stringify(Object.values(resourcesOf(template, 'AWS::CloudWatch::Dashboard'))[0]);
    for (const metric of ['IdentityCalls', 'IdentityRows', 'C2cMessagesArchived', 'C2cPairsPulled']) {
      expect(body).toMatch(new RegExp(`TencentChatArchiver[^\\]]*${metric}[^\\]]*SdkAppId[^\\]]*1400000000`));
    }
    expect(body).toContain('Names: lookup calls');
    expect(body).toContain('One-to-one: messages archived');
  });
});

describe('the query side', () => {
  it('puts the Glue messages table, projected over the configured apps, on the archive bucket and prefix', () => {
    const config = demoConfig();
    config.deploy.query = { dtStart: '2025-06-01' };
    const t = build(config).template();
    const tables = Object.values(resourcesOf(t, 'AWS::Glue::Table')).map(
      (r) => r.Properties.TableInput as Cfn,
    );
    const messages = tables.find((table) => table.Name === 'messages');
    const params = messages?.Parameters as Record<string, unknown>;
    expect(params['projection.sdkappid.values']).toBe('1400000000');
    expect(String(params['projection.dt.range'])).toMatch(/^2025-06-01,NOW/);
    const template = JSON.stringify(params['storage.location.template']);
    expect(template).toContain('ArchiveBucket');
    expect(template).toContain(`archive/${MESSAGE_LOCATION_TEMPLATE}`);
    expect(Object.keys(resourcesOf(t, 'AWS::Athena::WorkGroup'))).toHaveLength(1);
  });

  it('rejects a dtStart that is not a date, naming the field', () => {
    const config = demoConfig();
    config.deploy.query = { dtStart: '2025-13-45' };
    expect(() => build(config)).toThrow(/deploy\.query\.dtStart/);
  });
});

describe('synthesis', () => {
  it('is deterministic', () => {
    expect(JSON.stringify(build().template().toJSON())).toBe(JSON.stringify(template.toJSON()));
  });
});
