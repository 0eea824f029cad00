/**
 * Issue 12: the setups where the stack used to fail or mislead an operator, one `describe` per
 * row of the table (the state-machine rows run the definition in state-machine.test.ts).
 * Each assertion fails on the stack as it was before the fix.
 */
import { PutObjectRetentionCommand, S3Client, S3ServiceException } from '@aws-sdk/client-s3';
import { Template } from 'aws-cdk-lib/assertions';
import { mockClient } from 'aws-sdk-client-mock';
import { describe, expect, it } from 'vitest';
import { retentionInput } from '../../infra/object-lock/retention.ts';
import { createHandler } from '../../infra/object-lock/retention-handler.ts';
import { definitionFrom } from './asl.ts';
import { build, type Cfn, demoConfig, onlyResource, resourcesOf } from './helpers.ts';

type Statement = {
  Sid?: string;
  Action: string | string[];
  Resource: unknown;
  Condition?: unknown;
  Principal?: Cfn;
};
const actionsOf = (s: Statement) => [s.Action].flat();

/** cdk.json's config with `count` apps (only what differs from the defaults, as an operator would). */
function withApps(count: number, deploy: Record<string, unknown> = {}) {
  const config = demoConfig();
  config.apps = Array.from({ length: count }, (_, i) => ({
    sdkAppId: 1400000000 + i,
    region: 'singapore',
    secretKey: { ssmParameter: `/tca/${1400000000 + i}` },
  }));
  config.deploy = { ...config.deploy, ...deploy };
  return config;
}

/** `count` apps written out as in the README's example (every app setting spelled out). */
function withReadmeApps(count: number, deploy: Record<string, unknown> = {}) {
  const config = demoConfig();
  config.apps = Array.from({ length: count }, (_, i) => ({
    sdkAppId: 1400000000 + i,
    region: 'singapore',
    adminIdentifier: 'administrator',
    secretKey: { ssmParameter: `/tencent-chat-archiver/${1400000000 + i}/secret-key` },
    planRateLimit: 200,
    retentionDays: 30,
    groups: { include: [], exclude: [], types: [] },
    withRecalledMsg: true,
    initialLookbackDays: null,
  }));
  config.deploy = { ...config.deploy, ...deploy };
  return config;
}

function policyStatements(template: ReturnType<ReturnType<typeof build>['template']>, rolePrefix: string) {
  return Object.values(resourcesOf(template, 'AWS::IAM::Policy'))
    .filter((p) => p.Properties.Roles.some((r: { Ref: string }) => r.Ref.startsWith(rolePrefix)))
    .flatMap((p) => p.Properties.PolicyDocument.Statement as Statement[]);
}

function machine(template: ReturnType<ReturnType<typeof build>['template']>, prefix: string) {
  const found = Object.entries(resourcesOf(template, 'AWS::StepFunctions::StateMachine')).find(([id]) =>
    id.startsWith(prefix),
  );
  if (!found) throw new Error(`no state machine ${prefix}`);
  return {
    properties: found[1].Properties,
    definition: definitionFrom(found[1].Properties.DefinitionString),
  };
}

describe('10 or more apps', () => {
  it.each([1, 9, 10, 25, 100])(
    'cdk synth (with cdk-nag) works with %i apps written out as in the README',
    (count) => {
      const { app, stack } = build(withReadmeApps(count));
      expect(() => app.synth()).not.toThrow();
      const template = Template.fromStack(stack);
      // CloudFormation's limit: 500 resources in one stack.
      expect(Object.keys(template.toJSON().Resources).length).toBeLessThanOrEqual(500);
      const alarms = Object.values(resourcesOf(template, 'AWS::CloudWatch::Alarm'));
      // CloudWatch's limit: at most 10 metrics in one alarm.
      for (const alarm of alarms) expect((alarm.Properties.Metrics ?? []).length).toBeLessThanOrEqual(10);
      const appErrors = alarms.filter(
        (a) => a.Properties.MetricName === 'Errors' && a.Properties.Namespace === 'TencentChatArchiver',
      );
      expect(appErrors).toHaveLength(count);
      expect(stack.archiver.run.stateMachineName).toBeDefined();
    },
    300_000,
  );

  it('shares one execution between many apps by lowering the per-execution bound, and names the limit when set too high', () => {
    const { stack } = build(withApps(25));
    const run = stack.resolve(
      (stack.archiver.run.stateMachine.node.defaultChild as unknown as { definitionString: unknown })
        .definitionString,
    );
    const loop = definitionFrom(run).States.ArchiveApps?.ItemProcessor;
    // 25,000 history events / 16 per loop turn / 25 apps = 62: the default 48 fits.
    expect(loop.States['AppDone?'].Choices[3]).toMatchObject({ NumericGreaterThanEquals: 47 });
    // 35 apps: 25,000 / 16 / 35 = 44 turns per execution.
    const crowded = build(withApps(35)).stack;
    const crowdedLoop = definitionFrom(
      crowded.resolve(
        (crowded.archiver.run.stateMachine.node.defaultChild as unknown as { definitionString: unknown })
          .definitionString,
      ),
    ).States.ArchiveApps?.ItemProcessor;
    expect(crowdedLoop.States['AppDone?'].Choices[3]).toMatchObject({ NumericGreaterThanEquals: 43 });
    expect(() => build(withApps(25, { run: { maxIterations: 100 } }))).toThrow(
      /deploy\.run\.maxIterations: 100 iterations x 25 apps could exceed the 25000 history events .*lower it to 62/,
    );
  });

  it('keeps the config out of the functions’ environment (4 KB at most), for any number of apps', () => {
    const template = build(withReadmeApps(100)).template();
    for (const fn of Object.values(resourcesOf(template, 'AWS::Lambda::Function'))) {
      const variables = fn.Properties.Environment?.Variables ?? {};
      expect(variables.ARCHIVER_CONFIG).toBeUndefined();
      expect(Buffer.byteLength(JSON.stringify(variables))).toBeLessThan(1024);
    }
  });
});

describe('bucket.encryption switched from kms to s3 on a deployed stack', () => {
  it('keeps kms:Decrypt (through S3 only) on the stack key, so objects written under SSE-KMS stay readable', () => {
    const config = demoConfig();
    config.deploy.bucket = { encryption: 's3' };
    const t = build(config).template();
    const decrypt = policyStatements(t, 'ArchiverRole').find(
      (s) => actionsOf(s).includes('kms:Decrypt') && JSON.stringify(s.Condition).includes('s3.'),
    );
    expect(decrypt?.Resource).toEqual({ 'Fn::GetAtt': [expect.stringMatching(/^ArchiverKey/), 'Arn'] });
    expect(actionsOf(decrypt as Statement)).toEqual(['kms:Decrypt']);
    // The key itself is retained with the bucket.
    t.hasResource('AWS::KMS::Key', { DeletionPolicy: 'Retain' });
  });
});

describe('a second stack in the same account and region', () => {
  /**
   * Every explicit physical name in a template that must be unique in an account and region
   * (saved queries are named within their workgroup, so they do not count).
   */
  function physicalNames(template: Cfn): string[] {
    const names: string[] = [];
    const keys =
      /^(StateMachineName|LogGroupName|Name|FunctionName|RoleName|TopicName|QueueName|BucketName|AlarmName|DashboardName)$/;
    for (const resource of Object.values(template.Resources ?? {}) as { Type: string; Properties?: Cfn }[]) {
      const props = resource.Properties ?? {};
      if (resource.Type === 'AWS::Athena::NamedQuery') continue;
      for (const [key, value] of Object.entries(props)) {
        if (keys.test(key) && typeof value === 'string') names.push(`${resource.Type} ${value}`);
      }
      const database = props.DatabaseInput?.Name;
      if (typeof database === 'string') names.push(`${resource.Type} ${database}`);
    }
    return names;
  }

  it('gives the Glue database, the Athena workgroup, the state machines and their log groups names of their own', () => {
    const a = withApps(1, { stackName: 'ChatArchiverTeamA' });
    const b = withApps(1, { stackName: 'ChatArchiverTeamB' });
    b.apps = [{ ...b.apps[0], sdkAppId: 1400000099, secretKey: { ssmParameter: '/tca/1400000099' } }];
    const names = [a, b].map((config) => {
      // Environment-agnostic stacks: the same names would collide in any one account and region.
      return physicalNames(build(config).template().toJSON());
    });
    const [first = [], second = []] = names;
    expect(first.length).toBeGreaterThan(3);
    expect(first.filter((n) => second.includes(n))).toEqual([]);
    expect(first).toEqual(
      expect.arrayContaining([
        'AWS::Glue::Database chat_archive_chatarchiverteama',
        'AWS::Athena::WorkGroup chat-archive-chatarchiverteama',
      ]),
    );
  });

  it('keeps the historical names for the default stack (no replacement of a deployed database)', () => {
    const t = build().template();
    t.hasResourceProperties('AWS::Glue::Database', { DatabaseInput: { Name: 'chat_archive' } });
    t.hasResourceProperties('AWS::Athena::WorkGroup', { Name: 'chat-archive' });
  });
});

describe('Lambda throttled, timed out or out of memory', () => {
  it('retries Lambda.TooManyRequestsException, Lambda.Unknown and States.Timeout on the invoke (run in state-machine.test.ts)', () => {
    const archive = machine(build().template(), 'ArchiverRunStateMachine').definition.States.ArchiveApps
      ?.ItemProcessor.States.Archive;
    const retried = (archive.Retry as { ErrorEquals: string[] }[]).flatMap((r) => r.ErrorEquals);
    expect(retried).toEqual(
      expect.arrayContaining(['Lambda.TooManyRequestsException', 'Lambda.Unknown', 'States.Timeout']),
    );
  });
});

describe('a run that hangs', () => {
  it('times out: the run, its Lambda task and the deadline check have timeouts', () => {
    const t = build().template();
    const run = machine(t, 'ArchiverRunStateMachine').definition;
    // 48 invocations of 900 + 5 + 60 s, plus a 4-hour allowance for retries and the wait for a
    // crashed holder's lease (180 + 60 s); one app is one round of the Map.
    expect(run.TimeoutSeconds).toBe(48 * 965 + 4 * 3600 + 240);
    expect(run.States.ArchiveApps?.ItemProcessor.States.Archive.TimeoutSeconds).toBe(960);
    expect(machine(t, 'ArchiverDeadlineCheckStateMachine').definition.TimeoutSeconds).toBe(300);
  });

  it('has a timeout sized to the configured function timeout', () => {
    const t = build(withApps(1, { run: { timeoutSeconds: 600, maxIterations: 10 } })).template();
    const run = machine(t, 'ArchiverRunStateMachine').definition;
    expect(run.TimeoutSeconds).toBe(10 * 665 + 4 * 3600 + 240);
    expect(run.States.ArchiveApps?.ItemProcessor.States.Archive.TimeoutSeconds).toBe(660);
  });
});

describe('a first backfill longer than run.maxIterations invocations', () => {
  it('continues in a new execution of the same state machine (its role may start only itself), with a no-progress alarm instead of a failure', () => {
    const t = build().template();
    const { properties, definition } = machine(t, 'ArchiverRunStateMachine');
    expect(JSON.stringify(definition)).not.toContain('MaxIterationsExceeded');
    expect(definition.States.ContinueBehindApps).toMatchObject({
      Type: 'Task',
      Resource: 'arn:aws:states:::states:startExecution',
      Parameters: { 'StateMachineArn.$': '$$.StateMachine.Id' },
    });
    const start = policyStatements(t, 'ArchiverRunStateMachineRole').find((s) =>
      actionsOf(s).includes('states:StartExecution'),
    );
    expect(JSON.stringify(start?.Resource)).toContain(`:stateMachine:${properties.StateMachineName}"`);
    const alarm = Object.values(resourcesOf(t, 'AWS::CloudWatch::Alarm')).find(
      (a) => a.Properties.MetricName === 'AppsWithoutProgress',
    );
    expect(alarm?.Properties).toMatchObject({
      Namespace: 'TencentChatArchiver',
      Dimensions: [{ Name: 'StateMachine', Value: properties.StateMachineName }],
      Threshold: 1,
    });
  });
});

describe('Object Lock on', () => {
  const config = demoConfig();
  config.deploy.bucket = { objectLock: { mode: 'COMPLIANCE', days: 365 } };
  const t = build(config).template();

  it('sets no default retention (which would lock every state.json checkpoint) but sends S3 events to EventBridge', () => {
    const bucket = Object.entries(resourcesOf(t, 'AWS::S3::Bucket')).find(([id]) =>
      id.startsWith('ArchiverArchiveBucket'),
    )?.[1].Properties;
    expect(bucket.ObjectLockEnabled).toBe(true);
    expect(bucket.ObjectLockConfiguration?.Rule).toBeUndefined();
    expect(bucket.NotificationConfiguration).toEqual({
      EventBridgeConfiguration: { EventBridgeEnabled: true },
    });
  });

  it('locks new objects under the write-once prefixes only, never state/', () => {
    const rule = onlyResource(t, 'AWS::Events::Rule').Properties;
    expect(rule.EventPattern).toMatchObject({ source: ['aws.s3'], 'detail-type': ['Object Created'] });
    expect(rule.EventPattern.detail.object.key).toEqual([
      { prefix: 'archive/messages/' },
      { prefix: 'archive/fingerprints/' },
      { prefix: 'archive/media/' },
      { prefix: 'archive/media-manifest/' },
      { prefix: 'archive/runs/' },
      { prefix: 'archive/identities/' },
      { prefix: 'archive/callbacks/' },
      { prefix: 'archive/callback-rows/' },
      { prefix: 'archive/c2c/' },
      { prefix: 'archive/history-files/' },
      { prefix: 'archive/history-file-messages/' },
      { prefix: 'archive/history-file-hours/' },
    ]);
    const statements = policyStatements(t, 'ArchiverObjectLockRole').filter((s) =>
      actionsOf(s).some((a) => a.startsWith('s3:')),
    );
    expect(statements.flatMap(actionsOf)).toEqual(['s3:PutObjectRetention']);
    expect(JSON.stringify(statements)).not.toContain('state/');
    const fn = Object.values(resourcesOf(t, 'AWS::Lambda::Function')).find(
      (f) => f.Properties.Environment?.Variables?.LOCK_MODE,
    )?.Properties;
    expect(fn.Environment.Variables).toEqual({ LOCK_MODE: 'COMPLIANCE', LOCK_DAYS: '365' });
    expect(
      Object.values(resourcesOf(t, 'AWS::CloudWatch::Alarm')).some((a) =>
        String(a.Properties.AlarmDescription).includes('Object Lock retention'),
      ),
    ).toBe(true);
  });

  const event = {
    time: '2026-03-01T02:00:00Z',
    detail: {
      bucket: { name: 'archive-bucket' },
      object: {
        key: 'archive/messages/sdkappid%3D1400000000/dt%3D2026-03-01/part-r1-0001.ndjson.gz',
        'version-id': 'v1',
      },
    },
  };

  it('retains each object version for the configured days from its creation', () => {
    expect(retentionInput(event, 'COMPLIANCE', 365)).toEqual({
      Bucket: 'archive-bucket',
      Key: event.detail.object.key,
      VersionId: 'v1',
      Retention: { Mode: 'COMPLIANCE', RetainUntilDate: new Date('2027-03-01T02:00:00Z') },
    });
    expect(() =>
      retentionInput({ ...event, detail: { ...event.detail, object: { key: 'k' } } }, 'GOVERNANCE', 1),
    ).toThrow(/no object version/);
  });

  it('sends PutObjectRetention, and retries with the decoded key when the event key was URL-encoded', async () => {
    const s3 = mockClient(S3Client);
    s3.on(PutObjectRetentionCommand, { Key: event.detail.object.key }).rejects(
      new S3ServiceException({ name: 'NoSuchKey', $fault: 'client', $metadata: { httpStatusCode: 404 } }),
    );
    s3.on(PutObjectRetentionCommand, {
      Key: 'archive/messages/sdkappid=1400000000/dt=2026-03-01/part-r1-0001.ndjson.gz',
    }).resolves({});
    const handler = createHandler(s3 as unknown as S3Client, { LOCK_MODE: 'GOVERNANCE', LOCK_DAYS: '30' });
    await handler(event);
    const calls = s3.commandCalls(PutObjectRetentionCommand).map((c) => c.args[0].input);
    expect(calls).toHaveLength(2);
    expect(calls[1]).toMatchObject({
      VersionId: 'v1',
      Retention: { Mode: 'GOVERNANCE', RetainUntilDate: new Date('2026-03-31T02:00:00Z') },
    });
    s3.restore();
  });

  it('fails the invocation (so it is retried, then dead-lettered and alarmed) on any other error', async () => {
    const s3 = mockClient(S3Client);
    s3.on(PutObjectRetentionCommand).rejects(
      new S3ServiceException({ name: 'AccessDenied', $fault: 'client', $metadata: { httpStatusCode: 403 } }),
    );
    const handler = createHandler(s3 as unknown as S3Client, { LOCK_MODE: 'COMPLIANCE', LOCK_DAYS: '30' });
    await expect(handler(event)).rejects.toThrow();
    expect(s3.commandCalls(PutObjectRetentionCommand)).toHaveLength(1);
    s3.restore();
  });
});

describe('the errors alarm', () => {
  it("counts a failed invocation once: no alarm adds Lambda's own Errors to the app's Errors", () => {
    const t = build(withApps(3)).template();
    for (const alarm of Object.values(resourcesOf(t, 'AWS::CloudWatch::Alarm'))) {
      const metrics = JSON.stringify(alarm.Properties);
      if (!metrics.includes('"Errors"')) continue;
      expect(metrics.includes('AWS/Lambda') && metrics.includes('TencentChatArchiver')).toBe(false);
    }
    const all = Object.values(resourcesOf(t, 'AWS::CloudWatch::Alarm')).filter(
      (a) => a.Properties.MetricName === 'Errors',
    );
    // Lambda's own Errors only for the audit function (its failed audits), never the archiver's.
    const lambdaErrors = all.filter((a) => a.Properties.Namespace === 'AWS/Lambda');
    expect(lambdaErrors.map((a) => JSON.stringify(a.Properties.Dimensions))).toEqual([
      expect.stringMatching(/AuditFunction/),
    ]);
    const errors = all.filter((a) => a.Properties.Namespace !== 'AWS/Lambda');
    expect(errors.map((a) => a.Properties.Namespace)).toEqual([
      'TencentChatArchiver',
      'TencentChatArchiver',
      'TencentChatArchiver',
    ]);
    expect(errors.map((a) => a.Properties.Threshold)).toEqual([5, 5, 5]);
  });
});

describe('log groups of the state machines', () => {
  it('are under /aws/vendedlogs/states/, with names unique to the stack', () => {
    const t = build().template();
    const groups = t.findResources('AWS::Logs::LogGroup') as Record<
      string,
      { DeletionPolicy?: string; Properties: Cfn }
    >;
    const machines = Object.values(resourcesOf(t, 'AWS::StepFunctions::StateMachine'));
    expect(machines).toHaveLength(2);
    for (const sm of machines) {
      const arn = sm.Properties.LoggingConfiguration.Destinations[0].CloudWatchLogsLogGroup.LogGroupArn;
      const group = groups[arn['Fn::GetAtt'][0]];
      expect(group?.Properties.LogGroupName).toMatch(/^\/aws\/vendedlogs\/states\/TencentChatArchiver-/);
      // A fixed name must not outlive the stack, or a redeploy after `cdk destroy` would fail.
      expect(group?.DeletionPolicy).toBe('Delete');
    }
  });
});

describe('the KMS key policy', () => {
  it('lets cloudwatch.amazonaws.com use the key only for alarms of this account', () => {
    const key = onlyResource(build().template(), 'AWS::KMS::Key').Properties;
    const grant = (key.KeyPolicy.Statement as Statement[]).find(
      (s) => s.Principal?.Service === 'cloudwatch.amazonaws.com',
    );
    expect(grant?.Condition).toEqual({
      StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } },
      ArnLike: {
        'aws:SourceArn': {
          'Fn::Join': [
            '',
            [
              'arn:',
              { Ref: 'AWS::Partition' },
              ':cloudwatch:',
              { Ref: 'AWS::Region' },
              ':',
              { Ref: 'AWS::AccountId' },
              ':alarm:*',
            ],
          ],
        },
      },
    });
  });
});

describe('the budget for media downloads and the rescan window', () => {
  it('sizes the function from the config: memory and timeout', () => {
    const t = build(withApps(1, { run: { memoryMb: 2048, timeoutSeconds: 600 } })).template();
    const fn = Object.values(resourcesOf(t, 'AWS::Lambda::Function')).find(
      (f) => f.Properties.Environment?.Variables?.ALARM_HEADROOM_DAYS,
    )?.Properties;
    expect(fn).toMatchObject({ MemorySize: 2048, Timeout: 600 });
    // Not in a VPC: it reaches Tencent's REST API and media hosts over the internet directly.
    expect(fn.VpcConfig).toBeUndefined();
  });

  it('refuses a timeout too short to page and commit, naming the field', () => {
    expect(() => build(withApps(1, { run: { timeoutSeconds: 60 } }))).toThrow(/deploy\.run\.timeoutSeconds/);
  });
});
