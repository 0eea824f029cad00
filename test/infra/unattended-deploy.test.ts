/**
 * Issue 22: the deploy an operator can leave alone. Template and definition checks, one
 * `describe` per finding; each fails on the stack as it was before the fix (commit cbc5c88).
 */
import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { Construct } from 'constructs';
import { describe, expect, it } from 'vitest';
import { parseStackConfig } from '../../infra/config.ts';
import { TencentChatArchiver } from '../../infra/constructs/tencent-chat-archiver.ts';
import {
  ArchiverStack,
  PINNED_LOGICAL_IDS,
  pinStatefulLogicalIds,
} from '../../infra/stacks/archiver-stack.ts';
import { definitionFrom } from './asl.ts';
import { build, CDK_CONTEXT, type Cfn, demoConfig, resourcesOf } from './helpers.ts';

/** A string property as text, each CloudFormation token (Ref, GetAtt, …) in it as `__TOKEN__`. */
function literalText(value: unknown): string {
  if (typeof value === 'string') return value;
  const join = (value as { 'Fn::Join'?: [string, unknown[]] })['Fn::Join'];
  if (join) return join[1].map((part) => (typeof part === 'string' ? part : '__TOKEN__')).join(join[0]);
  return '__TOKEN__';
}

/** The archiver function's properties (found by its description). */
function archiverFunction(template: Template): Cfn {
  const found = Object.values(resourcesOf(template, 'AWS::Lambda::Function')).find((f) =>
    String(f.Properties.Description).startsWith('tencent-chat-archiver: archives'),
  );
  if (!found) throw new Error('no archiver function');
  return found.Properties;
}
type Statement = { Sid?: string; Effect: string; Action: string | string[]; Principal?: Cfn; Resource?: Cfn };
const actionsOf = (s: Statement) => [s.Action].flat();

/** cdk.json's config with `count` apps (only what differs from the defaults), and these deploy settings. */
function withApps(count: number, deploy: Record<string, unknown> = {}, extra: Record<string, unknown> = {}) {
  const config = demoConfig();
  config.apps = Array.from({ length: count }, (_, i) => ({
    sdkAppId: 1400000000 + i,
    region: 'singapore',
    secretKey: { ssmParameter: `/tca/${1400000000 + i}` },
  }));
  config.deploy = { ...config.deploy, ...deploy };
  return { ...config, ...extra };
}

/** The logical id a `{ Ref }` or `{ Fn::GetAtt: [id, …] }` points at. */
function targetOf(value: Cfn): string {
  if (typeof value?.Ref === 'string') return value.Ref;
  const getAtt = value?.['Fn::GetAtt'];
  if (Array.isArray(getAtt)) return String(getAtt[0]);
  throw new Error(`not a reference: ${JSON.stringify(value)}`);
}

const CLOUDWATCH = 'cloudwatch.amazonaws.com';
const allowsCloudWatch = (s: Statement, action: string) =>
  s.Effect === 'Allow' &&
  [s.Principal?.Service].flat().includes(CLOUDWATCH) &&
  actionsOf(s).some((a) => a === action || (a.endsWith('*') && action.startsWith(a.slice(0, -1))));

describe('alarm delivery: every alarm action can reach its topic', () => {
  // Two apps, an e-mail and Object Lock: every kind of alarm the stack can have.
  const template = build(
    withApps(2, {
      alarms: { email: 'ops@example.com' },
      bucket: { objectLock: { mode: 'GOVERNANCE', days: 30 } },
    }),
  ).template();
  const alarms = Object.values(resourcesOf(template, 'AWS::CloudWatch::Alarm')).map((a) => a.Properties);
  const topicPolicies = Object.values(resourcesOf(template, 'AWS::SNS::TopicPolicy')).map(
    (p) => p.Properties,
  );
  const topics = resourcesOf(template, 'AWS::SNS::Topic');
  const keys = resourcesOf(template, 'AWS::KMS::Key');
  const actionTopics = [
    ...new Set(alarms.flatMap((a) => [...(a.AlarmActions ?? []), ...(a.OKActions ?? [])]).map(targetOf)),
  ];

  it('lets cloudwatch.amazonaws.com publish to the topic of every alarm action, for alarms of this account only', () => {
    expect(alarms.length).toBeGreaterThanOrEqual(12);
    expect(actionTopics.length).toBeGreaterThan(0);
    for (const topicId of actionTopics) {
      expect(topics[topicId], `${topicId} is an SNS topic of the stack`).toBeDefined();
      const statements = topicPolicies
        .filter((p) => (p.Topics as Cfn[]).some((t) => targetOf(t) === topicId))
        .flatMap((p) => p.PolicyDocument.Statement as (Statement & { Condition?: Cfn })[]);
      const publish = statements.find((s) => allowsCloudWatch(s, 'sns:Publish'));
      expect(publish, `a statement lets CloudWatch publish to ${topicId}`).toBeDefined();
      expect(Object.keys(publish?.Condition ?? {}).sort()).toEqual(['ArnLike', 'StringEquals']);
      expect(publish?.Condition.StringEquals).toEqual({ 'aws:SourceAccount': { Ref: 'AWS::AccountId' } });
    }
  });

  it('lets cloudwatch.amazonaws.com use the key of every encrypted alarm topic', () => {
    for (const topicId of actionTopics) {
      const keyRef = topics[topicId]?.Properties.KmsMasterKeyId;
      if (keyRef === undefined) continue;
      const key = keys[targetOf(keyRef)];
      expect(key, `the key of ${topicId} is in the stack`).toBeDefined();
      const statements = key?.Properties.KeyPolicy.Statement as Statement[];
      for (const action of ['kms:Decrypt', 'kms:GenerateDataKey']) {
        expect(
          statements.some((s) => allowsCloudWatch(s, action)),
          `${action} on ${topicId}'s key`,
        ).toBe(true);
      }
    }
  });
});

describe('media temp files fit the function’s ephemeral storage', () => {
  const MIB = 1024 * 1024;
  const storage = (media: Record<string, unknown>) =>
    archiverFunction(build(withApps(1, {}, { media })).template()).EphemeralStorage?.Size;

  it('sizes /tmp for every download in flight at its largest, plus 512 MB for the rest', () => {
    // The defaults: 16 downloads of up to 200 MiB.
    const defaults = archiverFunction(build(withApps(1)).template()).EphemeralStorage?.Size;
    expect(defaults).toBeGreaterThanOrEqual((16 * 200 * MIB) / MIB + 512);
    expect(storage({ concurrency: 4, maxBytes: 50 * MIB })).toBe(4 * 50 + 512);
    expect(storage({ concurrency: 48, maxBytes: 200 * MIB })).toBe(48 * 200 + 512);
    expect(storage({ enabled: false })).toBe(512);
  });

  it('refuses media settings that cannot fit in 10,240 MB, naming both fields', () => {
    expect(() => build(withApps(1, {}, { media: { concurrency: 64, maxBytes: 200 * MIB } }))).toThrow(
      /media\.concurrency, media\.maxBytes: .*10240 MB.*lower media\.concurrency to 48 or less/s,
    );
  });
});

/** The run state machine's definition in a template. */
function runDefinition(template: Template): Cfn {
  const [machine] = Object.entries(resourcesOf(template, 'AWS::StepFunctions::StateMachine')).filter(([id]) =>
    id.startsWith('ArchiverRunStateMachine'),
  );
  if (!machine) throw new Error('no run state machine');
  return definitionFrom(machine[1].Properties.DefinitionString);
}

type Retrier = {
  ErrorEquals: string[];
  IntervalSeconds?: number;
  BackoffRate?: number;
  MaxAttempts?: number;
  MaxDelaySeconds?: number;
  JitterStrategy?: string;
};

/**
 * The shortest total wait a retrier can give before it gives up, by the Step Functions rules:
 * IntervalSeconds (default 1) times BackoffRate (default 2) per attempt, capped at MaxDelaySeconds;
 * with FULL jitter any wait may be near 0.
 */
function minimumTotalWaitSeconds(retrier: Retrier): number {
  if (retrier.JitterStrategy === 'FULL') return 0;
  let total = 0;
  for (let attempt = 0; attempt < (retrier.MaxAttempts ?? 3); attempt++) {
    const wait = (retrier.IntervalSeconds ?? 1) * (retrier.BackoffRate ?? 2) ** attempt;
    total += Math.min(wait, retrier.MaxDelaySeconds ?? Number.POSITIVE_INFINITY);
  }
  return total;
}

function archiveRetriers(template: Template): Retrier[] {
  return runDefinition(template).States.ArchiveApps.ItemProcessor.States.Archive.Retry;
}
const retrierFor = (retriers: Retrier[], error: string) =>
  retriers.find((r) => r.ErrorEquals.includes(error));

describe('the Map of apps: bounded concurrency, retries that outlast a busy slot', () => {
  it('runs at most deploy.run.maxConcurrentApps apps at once (default 10, at most 40 for an inline Map)', () => {
    const map = (deploy: Record<string, unknown>) =>
      runDefinition(build(withApps(12, deploy)).template()).States.ArchiveApps;
    expect(map({})).toMatchObject({ Type: 'Map', MaxConcurrency: 10 });
    expect(map({ run: { maxConcurrentApps: 3 } }).MaxConcurrency).toBe(3);
    expect(() => build(withApps(2, { run: { maxConcurrentApps: 41 } }))).toThrow(
      /deploy\.run\.maxConcurrentApps/,
    );
  });

  it('retries Lambda.TooManyRequestsException for longer than an invocation holds its slot', () => {
    for (const timeoutSeconds of [900, 300]) {
      const template = build(withApps(1, { run: { timeoutSeconds } })).template();
      const retrier = retrierFor(archiveRetriers(template), 'Lambda.TooManyRequestsException');
      expect(minimumTotalWaitSeconds(retrier as Retrier)).toBeGreaterThan(timeoutSeconds + 60);
    }
  });
});

describe('crash retries', () => {
  const retriers = archiveRetriers(build(withApps(1)).template());

  it('retry the Lambda crash errors Step Functions reports: Runtime.*, Sandbox.Timedout, Lambda.Unknown', () => {
    for (const error of [
      'Runtime.ExitError',
      'Runtime.OutOfMemory',
      'Runtime.Unknown',
      'Sandbox.Timedout',
      'Lambda.Unknown',
    ]) {
      expect(retrierFor(retriers, error), error).toBeDefined();
    }
  });

  it("retry LeaseHeldError for longer than a crashed holder's lease, whatever the jitter", () => {
    const lease = (leaseSeconds: number) =>
      retrierFor(
        archiveRetriers(build(withApps(1, {}, { run: { leaseSeconds, checkpointSeconds: 60 } })).template()),
        'LeaseHeldError',
      );
    // The default lease is 180 s.
    expect(minimumTotalWaitSeconds(retrierFor(retriers, 'LeaseHeldError') as Retrier)).toBeGreaterThan(180);
    expect(minimumTotalWaitSeconds(lease(3600) as Retrier)).toBeGreaterThan(3600);
  });
});

describe('one stack for 100 apps, and two stacks in one account', () => {
  it('synthesizes 100 apps written out in full, the config in the bundle, not the environment', () => {
    const config = withApps(100);
    config.apps = config.apps.map((app) => ({
      ...app,
      adminIdentifier: 'administrator',
      retentionDays: 30,
      groups: { include: [], exclude: [], types: [] },
      withRecalledMsg: true,
    }));
    expect(Buffer.byteLength(JSON.stringify(config.apps))).toBeGreaterThan(4096);
    const template = build(config).template();
    expect(archiverFunction(template).Environment.Variables.ARCHIVER_CONFIG).toBeUndefined();
    expect(runDefinition(template).States.AllConfiguredApps.Result).toHaveLength(100);
    // CloudWatch takes at most 500 widgets in one dashboard body (Dashboard Body Structure and
    // Syntax); the stack's dashboards stay under it at 100 apps.
    for (const dashboard of Object.values(resourcesOf(template, 'AWS::CloudWatch::Dashboard'))) {
      const body = literalText(dashboard.Properties.DashboardBody);
      const widgets = (JSON.parse(body.replace(/"__TOKEN__"|__TOKEN__/g, '"x"')) as { widgets: unknown[] })
        .widgets;
      expect(widgets.length).toBeGreaterThan(0);
      expect(widgets.length).toBeLessThanOrEqual(500);
    }
  });

  it('synthesizes two stacks into one app, each auditing and alarming on its own findings', () => {
    const app = new App({ context: { ...CDK_CONTEXT, 'aws:cdk:bundling-stacks': [] } });
    const stacks = ['TeamA', 'TeamB'].map(
      (stackName) =>
        new ArchiverStack(app, stackName, {
          stackConfig: parseStackConfig(withApps(25, { stackName })),
        }),
    );
    expect(() => app.synth()).not.toThrow();
    const audited = stacks.map((stack) => {
      const alarms = Object.values(resourcesOf(Template.fromStack(stack), 'AWS::CloudWatch::Alarm'));
      const unexplained = alarms.find((a) => a.Properties.MetricName === 'AuditUnexplainedFindings');
      return unexplained?.Properties.Dimensions;
    });
    expect(audited).toEqual(
      ['TeamA', 'TeamB'].map((name) => [
        { Name: 'Stack', Value: name },
        { Name: 'service', Value: 'tencent-chat-archiver' },
      ]),
    );
    // The audit function names its stack, so its metrics carry that dimension.
    const auditEnv = stacks.map((stack) =>
      Object.values(resourcesOf(Template.fromStack(stack), 'AWS::Lambda::Function'))
        .map((f) => f.Properties.Environment?.Variables?.ARCHIVER_STACK)
        .filter((v) => v !== undefined),
    );
    expect(auditEnv).toEqual([['TeamA'], ['TeamB']]);
  });
});

describe('the archive’s stateful resources and their keeping', () => {
  const template = build(
    withApps(1, { bucket: { objectLock: { mode: 'GOVERNANCE', days: 30 } } }),
  ).template();
  const resources = template.toJSON().Resources as Record<string, Cfn>;

  it('keeps the logical ids of the key and the buckets wherever the constructs move in the tree', () => {
    const stack = new Stack(new App({ context: { ...CDK_CONTEXT, 'aws:cdk:bundling-stacks': [] } }), 'Moved');
    const archiver = new TencentChatArchiver(new Construct(stack, 'Refactored'), 'Elsewhere', {
      stackConfig: parseStackConfig(withApps(1)),
    });
    pinStatefulLogicalIds(archiver);
    const moved = Template.fromStack(stack).toJSON().Resources as Record<string, Cfn>;
    for (const [name, type] of [
      ['key', 'AWS::KMS::Key'],
      ['archiveBucket', 'AWS::S3::Bucket'],
      ['archiveBucketPolicy', 'AWS::S3::BucketPolicy'],
      ['accessLogsBucket', 'AWS::S3::Bucket'],
      ['accessLogsBucketPolicy', 'AWS::S3::BucketPolicy'],
    ] as const) {
      const id = PINNED_LOGICAL_IDS[name];
      expect(moved[id]?.Type, `${name} moved`).toBe(type);
      expect(resources[id]?.Type, `${name} in the stack`).toBe(type);
    }
    expect(resources[PINNED_LOGICAL_IDS.resultsBucket]?.Type).toBe('AWS::S3::Bucket');
  });

  it('retains every bucket policy with its bucket (cdk destroy keeps the TLS-only rule and log delivery)', () => {
    const buckets = Object.entries(resources).filter(([, r]) => r.Type === 'AWS::S3::Bucket');
    const policies = Object.values(resources).filter((r) => r.Type === 'AWS::S3::BucketPolicy');
    expect(buckets.length).toBeGreaterThanOrEqual(3);
    for (const [id, bucket] of buckets) {
      expect(bucket.DeletionPolicy, id).toBe('Retain');
      const policy = policies.find((p) => p.Properties.Bucket?.Ref === id);
      expect(policy?.DeletionPolicy, `${id}'s policy`).toBe('Retain');
    }
  });

  it('tiers media/ like messages/, and fingerprints/ only to tiers the rescan reads at once', () => {
    const tiered = withApps(1, {
      bucket: {
        lifecycle: {
          infrequentAccessAfterDays: 30,
          glacierInstantRetrievalAfterDays: 90,
          glacierFlexibleRetrievalAfterDays: 180,
        },
      },
    });
    const bucket = resources[PINNED_LOGICAL_IDS.archiveBucket];
    const rules = (t: Cfn) => t.Properties.LifecycleConfiguration.Rules as Cfn[];
    const byPrefix = (all: Cfn[], prefix: string) => all.find((r) => r.Prefix === prefix);
    const classes = (rule: Cfn) => (rule?.Transitions ?? []).map((t: Cfn) => t.StorageClass);
    expect(classes(byPrefix(rules(bucket), 'archive/media/'))).toEqual(['STANDARD_IA', 'GLACIER_IR']);
    expect(classes(byPrefix(rules(bucket), 'archive/fingerprints/'))).toEqual(['STANDARD_IA', 'GLACIER_IR']);
    const custom = rules(build(tiered).template().toJSON().Resources[PINNED_LOGICAL_IDS.archiveBucket]);
    expect(classes(byPrefix(custom, 'archive/media/'))).toEqual(['STANDARD_IA', 'GLACIER_IR', 'GLACIER']);
    expect(classes(byPrefix(custom, 'archive/fingerprints/'))).toEqual(['STANDARD_IA', 'GLACIER_IR']);
  });

  it('locks every create-only prefix (messages, fingerprints, media, media manifests, run reports, identity and callback rows, one-to-one rows, hourly files and their indexes), never state/', () => {
    const rule: Cfn = Object.values(resources).find((r) => r.Type === 'AWS::Events::Rule');
    const prefixes = (rule.Properties.EventPattern.detail.object.key as { prefix: string }[]).map(
      (k) => k.prefix,
    );
    expect([...prefixes].sort()).toEqual(
      [
        'messages/',
        'fingerprints/',
        'media/',
        'media-manifest/',
        'runs/',
        'identities/',
        'callbacks/',
        'callback-rows/',
        'c2c/',
        'history-files/',
        'history-file-messages/',
        'history-file-hours/',
      ]
        .map((p) => `archive/${p}`)
        .sort(),
    );
  });
});

describe('the dead-letter alarm and the schedules', () => {
  it('alarms on each message that arrives in the dead-letter queue, not on the 14 days it stays there', () => {
    const alarms = Object.values(resourcesOf(build(withApps(1)).template(), 'AWS::CloudWatch::Alarm'));
    const dlq = alarms.find((a) => a.Properties.Namespace === 'AWS/SQS')?.Properties;
    expect(dlq).toMatchObject({ MetricName: 'NumberOfMessagesSent', Statistic: 'Sum', Threshold: 1 });
  });

  it('refuses a cron with both day fields set (or neither), naming the field', () => {
    for (const cron of ['0 2 * * * *', '0 2 ? * ? *', '0 2 1 * MON *']) {
      expect(() => build(withApps(1, { schedule: { cron } })), cron).toThrow(
        /deploy\.schedule\.cron: day-of-month and day-of-week cannot both be set/,
      );
    }
    expect(() => build(withApps(1, { audit: { cron: '0 10 * * SUN *' } }))).toThrow(/deploy\.audit\.cron/);
    expect(() => build(withApps(1, { schedule: { cron: '30 3 ? * * *' } }))).not.toThrow();
  });
});
