/**
 * The callback receiver on AWS (issue 25, docs/callbacks.md): a function behind a Function URL
 * (functions/lambda/callback-handler.ts) that puts each authentic event into a Firehose delivery
 * stream, which writes them gzipped under `callbacks/sdkappid=<id>/dt=<date>/` of the archive
 * (dynamic partitioning on `sdk_app_id`, dates in the schedule's time zone). Created only when an
 * app has a `callbackToken`.
 *
 * - The URL has no IAM auth: Tencent cannot sign SigV4, so the Sign in the query is the
 *   authentication (checked in the function, in constant time, with a 60 s window).
 * - Reserved concurrency caps what a flood (real or forged) can cost and keeps the account's other
 *   functions, the archiver included, their concurrency.
 * - Alarms: the function's errors, its p99 duration (Tencent waits 2 s), events it could not record
 *   (answered 500), forged or stale requests, and, per app, callbacks that stopped arriving while
 *   the nightly pull still finds new messages (the silence alarm, docs/operations.md), and a day's
 *   loss rate over the configured percent (the loss-rate alarm, ./callback-loss-alarm.ts).
 * - Least privilege: the function may put into its stream and read its apps' token parameters;
 *   Firehose may write only under `callbacks/` (and its error prefix) with the archive key.
 */
import { fileURLToPath } from 'node:url';
import { Duration, Stack, Validations } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as actions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as firehose from 'aws-cdk-lib/aws-kinesisfirehose';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as nodejs from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as sns from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';
import {
  APP_DIMENSION,
  ENV,
  METRIC,
  METRICS_NAMESPACE,
  REFUSAL_DIMENSION,
  SERVICE_NAME,
} from '../../functions/lambda/contract.ts';
import type { StackConfig } from '../config.ts';
import type { ArchiveBucket } from './archive-bucket.ts';
import { bundlingWithConfig, CONFIG_FILE_NAME } from './archiver-function.ts';
import { lossRateAlarms } from './callback-loss-alarm.ts';

/** Where Firehose writes the callback rows, under the archive prefix. */
export const CALLBACKS_PREFIX = 'callbacks/';
/** Where Firehose writes records it could not deliver (a partitioning or S3 error), for a look by hand. */
export const CALLBACK_ERRORS_PREFIX = 'callbacks-errors/';

export interface CallbackReceiverProps {
  stackConfig: StackConfig;
  archive: ArchiveBucket;
  topic: sns.ITopic;
  logRetention: logs.RetentionDays;
}

/** The SSM parameters of the apps' callback tokens (empty: no receiver). */
export function callbackTokenParameterNames(stackConfig: StackConfig): string[] {
  return stackConfig.config.apps.flatMap((app) =>
    app.callbackToken !== undefined && 'ssmParameter' in app.callbackToken
      ? [app.callbackToken.ssmParameter]
      : [],
  );
}

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const FIVE_MINUTES = Duration.minutes(5);
const ONE_DAY = Duration.days(1);

/** The apps whose callbacks the receiver verifies: those with a token in an SSM parameter. */
function receiverAppIds(stackConfig: StackConfig): number[] {
  return stackConfig.config.apps.flatMap((app) =>
    app.callbackToken !== undefined && 'ssmParameter' in app.callbackToken ? [app.sdkAppId] : [],
  );
}

export class CallbackReceiver extends Construct {
  public readonly function: nodejs.NodejsFunction;
  public readonly url: lambda.FunctionUrl;
  public readonly deliveryStream: firehose.CfnDeliveryStream;
  public readonly alarms: cloudwatch.Alarm[];

  public constructor(scope: Construct, id: string, props: CallbackReceiverProps) {
    super(scope, id);
    const logGroup = new logs.LogGroup(this, 'Logs', { retention: props.logRetention });
    this.deliveryStream = this.stream(props, logGroup);
    const role = this.functionRole(props, logGroup);
    this.function = this.receiverFunction(props, role, logGroup);
    this.url = this.function.addFunctionUrl({ authType: lambda.FunctionUrlAuthType.NONE });
    this.alarms = this.receiverAlarms(props);
    this.acknowledgeNagFindings(props, role);
  }

  /** The delivery stream into the archive bucket, and the role Firehose writes with. */
  private stream(props: CallbackReceiverProps, logGroup: logs.LogGroup): firehose.CfnDeliveryStream {
    const { bucket, prefix, encryptionKey } = props.archive;
    const stack = Stack.of(this);
    const role = new iam.Role(this, 'DeliveryRole', {
      assumedBy: new iam.ServicePrincipal('firehose.amazonaws.com', {
        conditions: { StringEquals: { 'aws:SourceAccount': stack.account } },
      }),
      description: 'tencent-chat-archiver callbacks: Firehose writes under callbacks/ of the archive',
    });
    const writable = [CALLBACKS_PREFIX, CALLBACK_ERRORS_PREFIX].map((p) =>
      bucket.arnForObjects(`${prefix}${p}*`),
    );
    role.addToPolicy(
      new iam.PolicyStatement({
        sid: 'DeliverObjects',
        actions: ['s3:PutObject', 's3:AbortMultipartUpload'],
        resources: writable,
      }),
    );
    role.addToPolicy(
      new iam.PolicyStatement({
        sid: 'DeliverBucket',
        actions: ['s3:GetBucketLocation', 's3:ListBucket', 's3:ListBucketMultipartUploads'],
        resources: [bucket.bucketArn],
      }),
    );
    if (encryptionKey !== undefined) {
      role.addToPolicy(
        new iam.PolicyStatement({
          sid: 'DeliverWithArchiveKey',
          actions: ['kms:GenerateDataKey', 'kms:Decrypt'],
          resources: [encryptionKey.keyArn],
          conditions: { StringEquals: { 'kms:ViaService': `s3.${stack.region}.amazonaws.com` } },
        }),
      );
    }
    logGroup.grantWrite(role);
    const deliveryLogStream = new logs.LogStream(this, 'DeliveryLogs', { logGroup });
    return new firehose.CfnDeliveryStream(this, 'Stream', {
      deliveryStreamType: 'DirectPut',
      deliveryStreamEncryptionConfigurationInput: { keyType: 'AWS_OWNED_CMK' },
      extendedS3DestinationConfiguration: {
        bucketArn: bucket.bucketArn,
        roleArn: role.roleArn,
        prefix: `${prefix}${CALLBACKS_PREFIX}sdkappid=!{partitionKeyFromQuery:sdk_app_id}/dt=!{timestamp:yyyy-MM-dd}/`,
        errorOutputPrefix: `${prefix}${CALLBACK_ERRORS_PREFIX}!{firehose:error-output-type}/dt=!{timestamp:yyyy-MM-dd}/`,
        customTimeZone: props.stackConfig.config.archive.timeZone,
        fileExtension: '.ndjson.gz',
        compressionFormat: 'GZIP',
        // Dynamic partitioning needs at least 64 MB of buffer.
        bufferingHints: {
          intervalInSeconds: props.stackConfig.deploy.callbacks.bufferSeconds,
          sizeInMBs: 64,
        },
        dynamicPartitioningConfiguration: { enabled: true, retryOptions: { durationInSeconds: 300 } },
        processingConfiguration: {
          enabled: true,
          processors: [
            {
              type: 'MetadataExtraction',
              parameters: [
                { parameterName: 'MetadataExtractionQuery', parameterValue: '{sdk_app_id:.sdk_app_id}' },
                { parameterName: 'JsonParsingEngine', parameterValue: 'JQ-1.6' },
              ],
            },
          ],
        },
        ...(encryptionKey === undefined
          ? {}
          : { encryptionConfiguration: { kmsEncryptionConfig: { awskmsKeyArn: encryptionKey.keyArn } } }),
        cloudWatchLoggingOptions: {
          enabled: true,
          logGroupName: logGroup.logGroupName,
          logStreamName: deliveryLogStream.logStreamName,
        },
      },
    });
  }

  /** The function's role: its logs, PutRecord into its stream, its apps' token parameters. */
  private functionRole(props: CallbackReceiverProps, logGroup: logs.LogGroup): iam.Role {
    const role = new iam.Role(this, 'Role', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description:
        'tencent-chat-archiver callback receiver: its logs, its Firehose stream, its token parameters',
    });
    logGroup.grantWrite(role);
    role.addToPolicy(
      new iam.PolicyStatement({
        sid: 'PutCallbacks',
        actions: ['firehose:PutRecord'],
        resources: [this.deliveryStream.attrArn],
      }),
    );
    const stack = Stack.of(this);
    role.addToPolicy(
      new iam.PolicyStatement({
        sid: 'CallbackTokens',
        actions: ['ssm:GetParameters'],
        resources: callbackTokenParameterNames(props.stackConfig).map((name) =>
          stack.formatArn({ service: 'ssm', resource: 'parameter', resourceName: name.replace(/^\//, '') }),
        ),
      }),
    );
    const kmsKeyArn = props.stackConfig.deploy.secrets.kmsKeyArn;
    if (kmsKeyArn !== undefined) {
      role.addToPolicy(
        new iam.PolicyStatement({
          sid: 'CallbackTokensKey',
          actions: ['kms:Decrypt'],
          resources: [kmsKeyArn],
          conditions: { StringEquals: { 'kms:ViaService': `ssm.${stack.region}.amazonaws.com` } },
        }),
      );
    }
    return role;
  }

  private receiverFunction(props: CallbackReceiverProps, role: iam.Role, logGroup: logs.LogGroup) {
    const { rawConfig, deploy } = props.stackConfig;
    return new nodejs.NodejsFunction(this, 'Function', {
      description:
        'tencent-chat-archiver: receives Tencent IM callbacks, records each authentic one, then acks',
      entry: `${ROOT}functions/lambda/callback-handler.ts`,
      handler: 'handler',
      projectRoot: ROOT,
      depsLockFilePath: `${ROOT}package-lock.json`,
      runtime: lambda.Runtime.NODEJS_24_X,
      architecture: lambda.Architecture.ARM_64,
      memorySize: 512,
      // Tencent waits 2 s for the answer; a request still running after 10 s is lost anyway.
      timeout: Duration.seconds(10),
      reservedConcurrentExecutions: deploy.callbacks.reservedConcurrency,
      role,
      logGroup,
      loggingFormat: lambda.LoggingFormat.JSON,
      tracing: lambda.Tracing.ACTIVE,
      environment: {
        [ENV.configFile]: CONFIG_FILE_NAME,
        [ENV.bucket]: props.archive.bucket.bucketName,
        [ENV.prefix]: props.archive.prefix,
        [ENV.callbackStream]: this.deliveryStream.ref,
        POWERTOOLS_SERVICE_NAME: SERVICE_NAME,
        POWERTOOLS_METRICS_NAMESPACE: METRICS_NAMESPACE,
        POWERTOOLS_LOG_LEVEL: 'INFO',
      },
      bundling: bundlingWithConfig(rawConfig),
    });
  }

  private receiverAlarms(props: CallbackReceiverProps): cloudwatch.Alarm[] {
    const metric = (name: string, dimensions: Record<string, string> = {}) =>
      new cloudwatch.Metric({
        namespace: METRICS_NAMESPACE,
        metricName: name,
        dimensionsMap: { service: SERVICE_NAME, ...dimensions },
        statistic: 'Sum',
        period: FIVE_MINUTES,
      });
    const refused = new cloudwatch.MathExpression({
      expression: 'FILL(forged, 0) + FILL(stale, 0)',
      usingMetrics: {
        forged: metric(METRIC.callbacksRefused, { [REFUSAL_DIMENSION]: 'forged' }),
        stale: metric(METRIC.callbacksRefused, { [REFUSAL_DIMENSION]: 'stale' }),
      },
      period: FIVE_MINUTES,
    });
    const alarms = [
      this.alarm('ErrorsAlarm', {
        alarmDescription:
          'The callback receiver failed invocations: events may have been answered with an error.',
        metric: this.function.metricErrors({ statistic: 'Sum', period: FIVE_MINUTES }),
        threshold: 1,
      }),
      // Per app: the function publishes CallbacksUnrecorded with the app's dimension only.
      ...receiverAppIds(props.stackConfig).map((sdkAppId) =>
        this.alarm(`UnrecordedAlarm${sdkAppId}`, {
          alarmDescription: `Authentic callbacks of app ${sdkAppId} could not be put into Firehose and were answered 500 (Tencent does not retry them by default): check the delivery stream and the function log.`,
          metric: metric(METRIC.callbacksUnrecorded, { [APP_DIMENSION]: String(sdkAppId) }),
          threshold: 1,
        }),
      ),
      this.alarm('LatencyAlarm', {
        alarmDescription:
          'The callback receiver answers slowly (p99 over 1 s for 15 minutes); Tencent gives up after 2 s.',
        metric: this.function.metricDuration({ statistic: 'p99', period: FIVE_MINUTES }),
        threshold: 1000,
        evaluationPeriods: 3,
      }),
      this.alarm('RefusedAlarm', {
        alarmDescription:
          'Forged or stale callback requests (a wrong Sign, or a RequestTime more than 60 s off): someone is probing the URL, or the token or the clock is wrong.',
        metric: refused,
        threshold: props.stackConfig.deploy.callbacks.refusedAlarmThreshold,
      }),
      ...this.silenceAlarms(props),
      ...lossRateAlarms(this, receiverAppIds(props.stackConfig), props.stackConfig.deploy.callbacks),
    ];
    for (const alarm of alarms) {
      alarm.addAlarmAction(new actions.SnsAction(props.topic));
      alarm.addOkAction(new actions.SnsAction(props.topic));
    }
    return alarms;
  }

  /**
   * Per app: a day in which the archiver's runs archived at least
   * `deploy.callbacks.silenceAlarmMinMessages` new messages (group and one-to-one) while the
   * receiver recorded no event of that app. Days without runs, or without new messages, give no
   * data and never breach.
   */
  private silenceAlarms(props: CallbackReceiverProps): cloudwatch.Alarm[] {
    const minMessages = props.stackConfig.deploy.callbacks.silenceAlarmMinMessages;
    if (minMessages === 0) return [];
    return receiverAppIds(props.stackConfig).map((sdkAppId) => {
      const perApp = (name: string) =>
        new cloudwatch.Metric({
          namespace: METRICS_NAMESPACE,
          metricName: name,
          dimensionsMap: { service: SERVICE_NAME, [APP_DIMENSION]: String(sdkAppId) },
          statistic: 'Sum',
          period: ONE_DAY,
        });
      const silence = new cloudwatch.MathExpression({
        expression: `IF(FILL(pulled, 0) + FILL(pulledc2c, 0) >= ${minMessages} AND FILL(recorded, 0) + FILL(quarantined, 0) == 0, 1, 0)`,
        usingMetrics: {
          pulled: perApp(METRIC.messagesArchived),
          pulledc2c: perApp(METRIC.c2cMessagesArchived),
          recorded: perApp(METRIC.callbacksAccepted),
          quarantined: perApp(METRIC.callbacksQuarantined),
        },
        label: `App ${sdkAppId}: new messages pulled while no callback was recorded`,
        period: ONE_DAY,
      });
      return this.alarm(`SilenceAlarm${sdkAppId}`, {
        alarmDescription: `Callbacks of app ${sdkAppId} stopped arriving: in a day the nightly pull archived new messages but the callback receiver recorded no event of the app. Check the callback URL and token in the Chat console, the receiver's log and its CallbacksRefused metric (docs/operations.md, "Callbacks stopped").`,
        metric: silence,
        threshold: 1,
      });
    });
  }

  private alarm(
    id: string,
    options: {
      alarmDescription: string;
      metric: cloudwatch.IMetric;
      threshold: number;
      evaluationPeriods?: number;
    },
  ): cloudwatch.Alarm {
    return new cloudwatch.Alarm(this, id, {
      ...options,
      evaluationPeriods: options.evaluationPeriods ?? 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
  }

  /** The cdk-nag findings the receiver raises, each with the reason it is accepted. */
  private acknowledgeNagFindings(props: CallbackReceiverProps, role: iam.Role): void {
    Validations.of(role).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason:
        'Only xray:PutTraceSegments and xray:PutTelemetryRecords (active tracing), which support no resource-level permissions.',
    });
    Validations.of(this.function).acknowledge({
      id: 'Serverless-LambdaDLQ',
      reason:
        'Invoked synchronously through its Function URL only: the caller (Tencent) gets the answer; an asynchronous dead-letter queue would never receive anything.',
    });
    const deliveryRole = this.node.findChild('DeliveryRole');
    for (const under of [CALLBACKS_PREFIX, CALLBACK_ERRORS_PREFIX]) {
      Validations.of(deliveryRole).acknowledge({
        id: `AwsSolutions-IAM5[Resource::${props.archive.objectsFindingResource(under)}]`,
        reason:
          'Firehose names its objects by date, stream and a random id under callbacks/ (and its error prefix): the grant is that prefix, never the rest of the archive.',
      });
    }
  }
}
