/**
 * Object Lock for the write-once part of the archive: the bucket has Object Lock on but no
 * default retention, and every new version under `messages/`, `media/` and `runs/` gets its
 * retention from a small function driven by S3's EventBridge events
 * (infra/object-lock/retention-handler.ts says why). The continuation state is left unlocked.
 * Deliveries that fail after retries land in the dead-letter queue (its alarm fires), and any
 * failed invocation raises the retention alarm in Operations.
 */
import { fileURLToPath } from 'node:url';
import { Duration, Validations } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import * as eventTargets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as destinations from 'aws-cdk-lib/aws-lambda-destinations';
import * as nodejs from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { LOCK_ENV, type LockMode } from '../object-lock/retention.ts';
import type { ArchiveBucket } from './archive-bucket.ts';
import { BUNDLING } from './archiver-function.ts';

/**
 * The write-once prefixes (under the archive prefix) whose objects are locked: every key there is
 * created once and never rewritten (functions/domain/partition.ts: message parts, fingerprint logs
 * and run reports named by run id and part; functions/domain/media-manifest.ts: manifest parts
 * likewise, media files by content; functions/domain/identity-capture.ts: identity rows by commit
 * version; callback rows by receiver and batch, or by Firehose's own unique names;
 * functions/domain/callback-materialize.ts: materialized callback rows by commit version;
 * functions/domain/c2c-record.ts: one-to-one rows by run and part; functions/domain/history-file.ts:
 * the hourly files by hour, index and MD5, their message identities and hour rows likewise). Never `state/` (rewritten every checkpoint, media queue and
 * ledger too) nor `rescan/` (its progress object is rewritten).
 */
export const LOCKED_PREFIXES = [
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
] as const;

export interface ObjectLockRetentionProps {
  archive: ArchiveBucket;
  mode: LockMode;
  days: number;
  deadLetterQueue: sqs.IQueue;
  logRetention: logs.RetentionDays;
}

export class ObjectLockRetention extends Construct {
  public readonly function: nodejs.NodejsFunction;

  public constructor(scope: Construct, id: string, props: ObjectLockRetentionProps) {
    super(scope, id);
    const { bucket, prefix } = props.archive;
    const logGroup = new logs.LogGroup(this, 'Logs', { retention: props.logRetention });
    const role = new iam.Role(this, 'Role', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: 'tencent-chat-archiver Object Lock: set retention on new write-once archive objects',
    });
    logGroup.grantWrite(role);
    const lockedObjects = LOCKED_PREFIXES.map((p) => bucket.arnForObjects(`${prefix}${p}*`));
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'SetRetention',
        actions: ['s3:PutObjectRetention'],
        resources: lockedObjects,
      }),
    );
    this.function = new nodejs.NodejsFunction(this, 'Function', {
      description: 'tencent-chat-archiver: Object Lock retention for new messages, media and run reports',
      entry: fileURLToPath(new URL('../object-lock/retention-handler.ts', import.meta.url)),
      handler: 'handler',
      projectRoot: fileURLToPath(new URL('../../', import.meta.url)),
      depsLockFilePath: fileURLToPath(new URL('../../package-lock.json', import.meta.url)),
      runtime: lambda.Runtime.NODEJS_24_X,
      architecture: lambda.Architecture.ARM_64,
      memorySize: 256,
      timeout: Duration.seconds(30),
      role,
      logGroup,
      loggingFormat: lambda.LoggingFormat.JSON,
      tracing: lambda.Tracing.ACTIVE,
      environment: { [LOCK_ENV.mode]: props.mode, [LOCK_ENV.days]: String(props.days) },
      bundling: BUNDLING,
      retryAttempts: 2,
      onFailure: new destinations.SqsDestination(props.deadLetterQueue),
    });
    new events.Rule(this, 'ObjectCreated', {
      description: 'tencent-chat-archiver: new write-once archive objects get their Object Lock retention',
      eventPattern: {
        source: ['aws.s3'],
        detailType: ['Object Created'],
        detail: {
          bucket: { name: [bucket.bucketName] },
          object: { key: LOCKED_PREFIXES.map((p) => ({ prefix: `${prefix}${p}` })) },
        },
      },
      targets: [
        new eventTargets.LambdaFunction(this.function, {
          deadLetterQueue: props.deadLetterQueue,
          retryAttempts: 20,
          maxEventAge: Duration.hours(24),
        }),
      ],
    });
    for (const under of LOCKED_PREFIXES) {
      Validations.of(role).acknowledge({
        id: `AwsSolutions-IAM5[Resource::${props.archive.objectsFindingResource(under)}]`,
        reason:
          'Retention is set on each new object of a write-once prefix (one key per run, date and media file), so the grant is the prefix; the function can do nothing else to any object.',
      });
    }
    Validations.of(role).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason:
        'Only xray:PutTraceSegments and xray:PutTelemetryRecords (active tracing), which support no resource-level permissions.',
    });
    Validations.of(this.function).acknowledge({
      id: 'Serverless-LambdaDLQ',
      reason:
        'Invoked asynchronously by EventBridge: failed events go to the stack dead-letter queue through an on-failure destination and the rule target DLQ, which is what this rule checks for under another name.',
    });
  }
}
