/**
 * The deployable stack: the TencentChatArchiver construct and its outputs. Environment-agnostic
 * (no account or region lookups), so `cdk synth` works offline with no credentials.
 */
import { CfnOutput, Stack, type StackProps } from 'aws-cdk-lib';
import type * as logs from 'aws-cdk-lib/aws-logs';
import type { Construct } from 'constructs';
import type { StackConfig } from '../config.ts';
import { ArchiveAudit } from '../constructs/archive-audit.ts';
import { ArchiveQuery } from '../constructs/archive-query.ts';
import { TencentChatArchiver } from '../constructs/tencent-chat-archiver.ts';

export interface ArchiverStackProps extends StackProps {
  stackConfig: StackConfig;
}

export class ArchiverStack extends Stack {
  public readonly archiver: TencentChatArchiver;
  public readonly query: ArchiveQuery;
  public readonly audit: ArchiveAudit;

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
  }
}
