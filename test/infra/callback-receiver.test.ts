/**
 * Issue 25: the callback receiver in the stack (infra/constructs/callback-receiver.ts): created
 * only for apps with a callback token, a Function URL without IAM auth (the Sign is the
 * authentication), reserved concurrency, Firehose into callbacks/ by app and date in the
 * configured zone, alarms on the stack's topic, and the token only as an SSM parameter name.
 */
import type { Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { build, type Cfn, demoConfig, onlyResource, resourcesOf } from './helpers.ts';

const TOKEN_PARAMETER = '/tencent-chat-archiver/1400000000/callback-token';

function withReceiver(deploy: Record<string, unknown> = {}) {
  const config = demoConfig();
  config.apps = config.apps.map((app) => ({ ...app, callbackToken: { ssmParameter: TOKEN_PARAMETER } }));
  config.archive = { timeZone: 'Asia/Shanghai' };
  config.deploy = { ...config.deploy, ...deploy };
  return config;
}

const built = build(withReceiver({ callbacks: { reservedConcurrency: 7 } }));
const template = built.template();
const json = JSON.stringify(template.toJSON());

function receiverFunction(): Cfn {
  const found = Object.values(resourcesOf(template, 'AWS::Lambda::Function')).find((f) =>
    String(f.Properties.Description).includes('receives Tencent IM callbacks'),
  );
  if (!found) throw new Error('no receiver function');
  return found.Properties;
}

function alarmsWith(t: Template, text: string): Cfn[] {
  return Object.values(resourcesOf(t, 'AWS::CloudWatch::Alarm')).filter((a) =>
    String(a.Properties.AlarmDescription).includes(text),
  );
}

describe('the callback receiver in the stack', () => {
  it('is not deployed when no app has a callback token', () => {
    const plain = build().template();
    expect(Object.keys(resourcesOf(plain, 'AWS::Lambda::Url'))).toEqual([]);
    expect(Object.keys(resourcesOf(plain, 'AWS::KinesisFirehose::DeliveryStream'))).toEqual([]);
  });

  it('answers on a Function URL without IAM auth, with reserved concurrency and a short timeout', () => {
    const url = onlyResource(template, 'AWS::Lambda::Url');
    expect(url.Properties.AuthType).toBe('NONE');
    const fn = receiverFunction();
    expect(fn.ReservedConcurrentExecutions).toBe(7);
    expect(fn.Timeout).toBeLessThanOrEqual(10);
    expect(Object.keys(template.toJSON().Outputs)).toContain('CallbackUrl');
  });

  it('writes through Firehose under callbacks/, partitioned by app and by date in the configured zone', () => {
    const stream = onlyResource(template, 'AWS::KinesisFirehose::DeliveryStream').Properties;
    const s3 = stream.ExtendedS3DestinationConfiguration;
    expect(s3.Prefix).toBe(
      'archive/callbacks/sdkappid=!{partitionKeyFromQuery:sdk_app_id}/dt=!{timestamp:yyyy-MM-dd}/',
    );
    expect(s3.CustomTimeZone).toBe('Asia/Shanghai');
    expect(s3.CompressionFormat).toBe('GZIP');
    expect(s3.DynamicPartitioningConfiguration.Enabled).toBe(true);
    expect(JSON.stringify(s3.ProcessingConfiguration)).toContain('{sdk_app_id:.sdk_app_id}');
    expect(stream.DeliveryStreamEncryptionConfigurationInput).toEqual({ KeyType: 'AWS_OWNED_CMK' });
  });

  it('lets the function put into its stream and read only its apps’ token parameters; the token value is nowhere', () => {
    const statements = Object.values(resourcesOf(template, 'AWS::IAM::Policy')).flatMap(
      (p) => p.Properties.PolicyDocument.Statement as Cfn[],
    );
    const put = statements.find((s) => s.Sid === 'PutCallbacks');
    expect(put.Action).toBe('firehose:PutRecord');
    const tokens = statements.find((s) => s.Sid === 'CallbackTokens');
    expect(tokens.Action).toBe('ssm:GetParameters');
    expect(JSON.stringify(tokens.Resource)).toContain(
      'parameter/tencent-chat-archiver/1400000000/callback-token',
    );
    const delivery = statements.filter((s) => s.Sid === 'DeliverObjects');
    expect(JSON.stringify(delivery)).toContain('callbacks/*');
    expect(JSON.stringify(delivery)).not.toContain('messages/');
    // Only the parameter's name is in the template; the environment names no token.
    expect(JSON.stringify(receiverFunction().Environment)).not.toMatch(/token/i);
    expect(json).not.toContain('a-real-token');
  });

  it('alarms on errors, unrecorded events, latency and forged or stale requests, on the stack topic', () => {
    const alarms = Object.values(resourcesOf(template, 'AWS::CloudWatch::Alarm')).filter((a) =>
      /callback/i.test(String(a.Properties.AlarmDescription)),
    );
    const descriptions = alarms.map((a) => String(a.Properties.AlarmDescription));
    expect(descriptions.some((d) => d.includes('failed invocations'))).toBe(true);
    expect(descriptions.some((d) => d.includes('answered 500'))).toBe(true);
    expect(descriptions.some((d) => d.includes('p99'))).toBe(true);
    expect(descriptions.some((d) => d.includes('Forged or stale'))).toBe(true);
    for (const alarm of alarms) expect(alarm.Properties.AlarmActions).toHaveLength(1);
  });

  it('alarms per app on unrecorded events, on the metric the function publishes (with the app dimension)', () => {
    const unrecorded = alarmsWith(template, 'answered 500');
    expect(unrecorded).toHaveLength(1);
    expect(unrecorded[0]?.Properties.Dimensions).toEqual(
      expect.arrayContaining([{ Name: 'SdkAppId', Value: '1400000000' }]),
    );
  });

  it('alarms when an app’s callbacks stop while the pull still archives new messages (a day, group and one-to-one)', () => {
    const [silence, ...more] = alarmsWith(template, 'stopped arriving');
    expect(more).toEqual([]);
    const p = silence?.Properties;
    expect(p).toMatchObject({
      Threshold: 1,
      EvaluationPeriods: 1,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      TreatMissingData: 'notBreaching',
    });
    expect(p.AlarmActions).toHaveLength(1);
    expect(p.OKActions).toHaveLength(1);
    const queries = p.Metrics as Cfn[];
    const expression = queries.find((q) => q.Expression !== undefined);
    expect(expression.ReturnData).toBe(true);
    expect(expression.Expression).toBe(
      'IF(FILL(pulled, 0) + FILL(pulledc2c, 0) >= 1 AND FILL(recorded, 0) + FILL(quarantined, 0) == 0, 1, 0)',
    );
    const byId: Record<string, Cfn> = Object.fromEntries(
      queries.filter((q) => q.MetricStat !== undefined).map((q) => [q.Id, q.MetricStat]),
    );
    expect(Object.keys(byId).sort()).toEqual(['pulled', 'pulledc2c', 'quarantined', 'recorded']);
    const names = {
      pulled: 'MessagesArchived',
      pulledc2c: 'C2cMessagesArchived',
      recorded: 'CallbacksAccepted',
      quarantined: 'CallbacksQuarantined',
    };
    for (const [id, stat] of Object.entries(byId)) {
      expect(stat).toMatchObject({ Period: 86_400, Stat: 'Sum' });
      expect(stat.Metric.MetricName).toBe(names[id as keyof typeof names]);
      expect(stat.Metric.Namespace).toBe('TencentChatArchiver');
      // The dimensions the Lambdas publish per app (functions/lambda/run-metrics.ts, callback-handler.ts).
      expect(stat.Metric.Dimensions).toHaveLength(2);
      expect(stat.Metric.Dimensions).toEqual(
        expect.arrayContaining([
          { Name: 'service', Value: 'tencent-chat-archiver' },
          { Name: 'SdkAppId', Value: '1400000000' },
        ]),
      );
    }
  });

  it('has one silence alarm per app with a callback token, none without the receiver, none when turned off', () => {
    const config = withReceiver({ callbacks: { silenceAlarmMinMessages: 25 } });
    const base = config.apps[0] as Record<string, unknown>;
    config.apps = [
      base,
      { ...base, sdkAppId: 1400000001, callbackToken: { ssmParameter: '/t/1400000001/callback-token' } },
      { ...base, sdkAppId: 1400000002, callbackToken: undefined },
    ];
    const alarms = alarmsWith(build(config).template(), 'stopped arriving');
    expect(alarms.map((a) => a.Properties.AlarmDescription.match(/app (\d+)/)?.[1]).sort()).toEqual([
      '1400000000',
      '1400000001',
    ]);
    for (const alarm of alarms) {
      expect(JSON.stringify(alarm.Properties.Metrics)).toContain('>= 25 AND');
    }
    expect(alarmsWith(build().template(), 'stopped arriving')).toEqual([]);
    const off = build(withReceiver({ callbacks: { silenceAlarmMinMessages: 0 } })).template();
    expect(alarmsWith(off, 'stopped arriving')).toEqual([]);
    expect(alarmsWith(off, 'answered 500')).toHaveLength(1);
  });

  it('alarms when a day’s loss rate (pull-only of pull-only plus matched, summed) is above the setting', () => {
    const [loss, ...more] = alarmsWith(template, 'are being lost');
    expect(more).toEqual([]);
    const p = loss?.Properties;
    expect(p).toMatchObject({
      Threshold: 5,
      EvaluationPeriods: 1,
      ComparisonOperator: 'GreaterThanThreshold',
      TreatMissingData: 'notBreaching',
    });
    expect(p.AlarmDescription).toContain('more than 5%');
    expect(p.AlarmDescription).toContain('CallbacksUnrecorded');
    expect(p.AlarmActions).toHaveLength(1);
    expect(p.OKActions).toHaveLength(1);
    const queries = p.Metrics as Cfn[];
    const expression = queries.find((q) => q.Expression !== undefined);
    expect(expression.ReturnData).toBe(true);
    expect(expression.Expression).toBe('IF(lost + matched >= 20, 100 * lost / (lost + matched), 0)');
    const byId: Record<string, Cfn> = Object.fromEntries(
      queries.filter((q) => q.MetricStat !== undefined).map((q) => [q.Id, q.MetricStat]),
    );
    expect(Object.keys(byId).sort()).toEqual(['lost', 'matched']);
    const names = { lost: 'PullOnlyMessages', matched: 'CallbackMessagesMatched' };
    for (const [id, stat] of Object.entries(byId)) {
      expect(stat).toMatchObject({ Period: 86_400, Stat: 'Sum' });
      expect(stat.Metric.MetricName).toBe(names[id as keyof typeof names]);
      expect(stat.Metric.Namespace).toBe('TencentChatArchiver');
      // The archiver publishes them per app (functions/lambda/run-metrics.ts).
      expect(stat.Metric.Dimensions).toHaveLength(2);
      expect(stat.Metric.Dimensions).toEqual(
        expect.arrayContaining([
          { Name: 'service', Value: 'tencent-chat-archiver' },
          { Name: 'SdkAppId', Value: '1400000000' },
        ]),
      );
    }
  });

  it('has one loss-rate alarm per app with a callback token, as configured, none without the receiver or at 0', () => {
    const config = withReceiver({ callbacks: { lossRateAlarmPercent: 2.5, lossRateAlarmMinMessages: 200 } });
    const base = config.apps[0] as Record<string, unknown>;
    config.apps = [
      base,
      { ...base, sdkAppId: 1400000001, callbackToken: { ssmParameter: '/t/1400000001/callback-token' } },
      { ...base, sdkAppId: 1400000002, callbackToken: undefined },
    ];
    const alarms = alarmsWith(build(config).template(), 'are being lost');
    expect(alarms.map((a) => a.Properties.AlarmDescription.match(/app (\d+)/)?.[1]).sort()).toEqual([
      '1400000000',
      '1400000001',
    ]);
    for (const alarm of alarms) {
      expect(alarm.Properties.Threshold).toBe(2.5);
      expect(JSON.stringify(alarm.Properties.Metrics)).toContain('lost + matched >= 200,');
    }
    expect(alarmsWith(build().template(), 'are being lost')).toEqual([]);
    const off = build(withReceiver({ callbacks: { lossRateAlarmPercent: 0 } })).template();
    expect(alarmsWith(off, 'are being lost')).toEqual([]);
    expect(alarmsWith(off, 'stopped arriving')).toHaveLength(1);
  });

  it('adds the callback_events table over callbacks/, projected by app and arrival date', () => {
    const table = Object.values(resourcesOf(template, 'AWS::Glue::Table')).find(
      (t) => t.Properties.TableInput.Name === 'callback_events',
    )?.Properties.TableInput;
    expect(JSON.stringify(table.StorageDescriptor.Location)).toContain('/archive/callbacks/');
    // biome-ignore lint/suspicious/noTemplateCurlyInString: Athena projection placeholders, not a JS template.
    expect(JSON.stringify(table.Parameters)).toContain('callbacks/sdkappid=${sdkappid}/dt=${dt}/');
    expect(table.StorageDescriptor.Columns.map((c: Cfn) => c.Name)).toEqual([
      'sdk_app_id',
      'callback_command',
      'received_at',
      'event_time',
      'request_time',
      'event_key',
      'body_sha256',
      'body',
      'body_encoding',
      'quarantined',
      'reason',
    ]);
  });
});
