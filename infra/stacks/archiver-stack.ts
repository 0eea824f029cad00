/**
 * The deployable stack: the TencentChatArchiver construct and its outputs. Environment-agnostic
 * (no account or region lookups), so `cdk synth` works offline with no credentials.
 */
import { CfnOutput, CfnResource, Stack, type StackProps } from 'aws-cdk-lib';
import type * as logs from 'aws-cdk-lib/aws-logs';
import type { Construct, IConstruct } from 'constructs';
import type { StackConfig } from '../config.ts';
import { ArchiveAudit } from '../constructs/archive-audit.ts';
import { ArchiveQuery } from '../constructs/archive-query.ts';
import { CallbackReceiver, callbackTokenParameterNames } from '../constructs/callback-receiver.ts';
import { TencentChatArchiver } from '../constructs/tencent-chat-archiver.ts';

/**
 * The logical ids of the stateful resources, pinned to the ids they were first deployed with: a
 * change in the construct tree must never make CloudFormation replace (and, retained, orphan) the
 * archive, its key or its logs.
 */
export const PINNED_LOGICAL_IDS = {
  key: 'ArchiverKeyF5FA0AA4',
  archiveBucket: 'ArchiverArchiveBucketD14DF004',
  archiveBucketPolicy: 'ArchiverArchiveBucketPolicy7320ED75',
  accessLogsBucket: 'ArchiverArchiveAccessLogsC7BE8D94',
  accessLogsBucketPolicy: 'ArchiverArchiveAccessLogsPolicyB773B48B',
  resultsBucket: 'QueryResultsAA56766C',
  resultsBucketPolicy: 'QueryResultsPolicy6A1AF68A',
} as const;

export interface ArchiverStackProps extends StackProps {
  stackConfig: StackConfig;
}

export class ArchiverStack extends Stack {
  public readonly archiver: TencentChatArchiver;
  public readonly query: ArchiveQuery;
  public readonly audit: ArchiveAudit;
  /** Present when an app has a `callbackToken` (docs/callbacks.md). */
  public readonly callbacks: CallbackReceiver | undefined;

  public constructor(scope: Construct, id: string, props: ArchiverStackProps) {
    super(scope, id, props);
    this.archiver = new TencentChatArchiver(this, 'Archiver', { stackConfig: props.stackConfig });

    const { config, deploy } = props.stackConfig;
    // The query side over the same bucket and prefix: Glue tables with partition projection,
    // views, an Athena workgroup and named queries.
    this.query = new ArchiveQuery(this, 'Query', {
      bucket: this.archiver.archive.bucket,
      prefix: this.archiver.archive.prefix,
      sdkAppIds: config.apps.map((app) => app.sdkAppId),
      timeZone: config.archive.timeZone,
      dtStart: deploy.query.dtStart,
      databaseName: deploy.query.databaseName,
      workGroupName: deploy.query.workGroupName,
      bytesScannedCutoffPerQuery: Math.round(deploy.query.bytesScannedCutoffGb * 1024 ** 3),
      serverAccessLogsBucket: this.archiver.archive.accessLogsBucket,
      resultsEncryptionKey: this.archiver.key,
    });

    // The weekly completeness audit over the same tables, alarming on the stack's topic.
    this.audit = new ArchiveAudit(this, 'Audit', {
      stackConfig: props.stackConfig,
      archive: this.archiver.archive,
      query: this.query,
      topic: this.archiver.operations.topic,
      deadLetterQueue: this.archiver.deadLetters.queue,
      logRetention: deploy.logRetentionDays as logs.RetentionDays,
      dashboard: this.archiver.operations.dashboard,
    });

    // Tencent's callbacks, recorded as they happen, for the apps that have a callback token.
    this.callbacks =
      callbackTokenParameterNames(props.stackConfig).length === 0
        ? undefined
        : new CallbackReceiver(this, 'Callbacks', {
            stackConfig: props.stackConfig,
            archive: this.archiver.archive,
            topic: this.archiver.operations.topic,
            logRetention: deploy.logRetentionDays as logs.RetentionDays,
          });

    pinStatefulLogicalIds(this.archiver, this.query);

    new CfnOutput(this, 'ArchiveBucketName', {
      value: this.archiver.archive.bucket.bucketName,
      description: 'The archive bucket (messages under <prefix>messages/)',
    });
    new CfnOutput(this, 'ArchivePrefix', { value: this.archiver.archive.prefix || '(bucket root)' });
    new CfnOutput(this, 'RunStateMachineArn', {
      value: this.archiver.run.stateMachine.stateMachineArn,
      description: 'Start a run now: aws stepfunctions start-execution --state-machine-arn <this>',
    });
    new CfnOutput(this, 'ArchiverFunctionName', { value: this.archiver.archiver.function.functionName });
    new CfnOutput(this, 'ArchiverLogGroupName', {
      value: this.archiver.archiver.logGroup.logGroupName,
      description: 'Watch a run: aws logs tail <this> --follow',
    });
    new CfnOutput(this, 'DashboardName', { value: this.archiver.operations.dashboard.dashboardName });
    new CfnOutput(this, 'AuditFunctionName', {
      value: this.audit.function.functionName,
      description:
        'Audit now: aws lambda invoke --function-name <this> out.json (report under <prefix>audits/)',
    });
    new CfnOutput(this, 'AlarmTopicArn', { value: this.archiver.operations.topic.topicArn });
    if (this.callbacks !== undefined) {
      new CfnOutput(this, 'CallbackUrl', {
        value: this.callbacks.url.url,
        description:
          "Tencent's callback URL (Chat console, Callback configuration), with the callback token in SSM: docs/callbacks.md",
      });
    }
  }
}

/**
 * Pin the logical ids of the archive's stateful resources ({@link PINNED_LOGICAL_IDS}), wherever
 * the constructs sit in the tree (at most one archiver per stack).
 */
export function pinStatefulLogicalIds(archiver: TencentChatArchiver, query?: ArchiveQuery): void {
  const { archive, key } = archiver;
  const pin = (resource: IConstruct | undefined, id: string) => {
    if (resource instanceof CfnResource) resource.overrideLogicalId(id);
  };
  pin(key.node.defaultChild, PINNED_LOGICAL_IDS.key);
  pin(archive.bucket.node.defaultChild, PINNED_LOGICAL_IDS.archiveBucket);
  pin(archive.bucket.policy?.node.defaultChild, PINNED_LOGICAL_IDS.archiveBucketPolicy);
  pin(archive.accessLogsBucket?.node.defaultChild, PINNED_LOGICAL_IDS.accessLogsBucket);
  pin(archive.accessLogsBucket?.policy?.node.defaultChild, PINNED_LOGICAL_IDS.accessLogsBucketPolicy);
  if (query === undefined) return;
  pin(query.resultsBucket.node.defaultChild, PINNED_LOGICAL_IDS.resultsBucket);
  pin(query.resultsBucket.policy?.node.defaultChild, PINNED_LOGICAL_IDS.resultsBucketPolicy);
}
