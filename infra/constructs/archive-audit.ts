/**
 * The scheduled completeness audit: a function (functions/lambda/audit-handler.ts, bundled by
 * esbuild like the archiver) that audits the archive through the stack's Athena workgroup and
 * writes its report under `audits/`; a weekly EventBridge Scheduler schedule in the configured
 * time zone; and two alarms on the stack's topic: unexplained findings, and an audit that failed
 * (Athena error or timeout: then nothing was proven that week).
 *
 * Least privilege: Athena on the workgroup, Glue reads on the database and its tables, reads of
 * the prefixes the audit looks at, Athena's results bucket, writes under `audits/` only (deletes
 * under `audits/unload/` only, the UNLOAD files it has read), and the archive key through S3 only. No SSM parameter: the audit never calls Tencent.
 */
import { fileURLToPath } from 'node:url';
import { Duration, Stack, TimeZone, Validations } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as actions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as destinations from 'aws-cdk-lib/aws-lambda-destinations';
import * as nodejs from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import * as scheduler from 'aws-cdk-lib/aws-scheduler';
import * as targets from 'aws-cdk-lib/aws-scheduler-targets';
import type * as sns from 'aws-cdk-lib/aws-sns';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import {
  APP_DIMENSION,
  ENV,
  METRIC,
  METRICS_NAMESPACE,
  SERVICE_NAME,
  STACK_DIMENSION,
} from '../../functions/lambda/contract.ts';
import type { StackConfig } from '../config.ts';
import { type ArchiveBucket, AUDIT_READ_PREFIXES } from './archive-bucket.ts';
import type { ArchiveQuery } from './archive-query.ts';
import { bundlingWithConfig, CONFIG_FILE_NAME } from './archiver-function.ts';

/** The prefix of the audit reports inside the archive prefix. */
export const AUDITS_PREFIX = 'audits/';
/** The incremental audit's running totals, one object per app (functions/query/audit/totals.ts). */
export const AUDIT_TOTALS_PREFIX = `${AUDITS_PREFIX}totals/`;
/** Where the audit's Athena UNLOAD writes a large result, read and deleted by the audit (unload.ts). */
export const AUDIT_UNLOAD_PREFIX = `${AUDITS_PREFIX}unload/`;
/** The tables the audit's SQL reads (functions/query/audit/sql.ts). */
export const AUDIT_TABLES = ['messages'] as const;

export interface ArchiveAuditProps {
  stackConfig: StackConfig;
  archive: ArchiveBucket;
  query: ArchiveQuery;
  /** The stack's alarm topic. */
  topic: sns.ITopic;
  deadLetterQueue: sqs.IQueue;
  logRetention: logs.RetentionDays;
  /** Add the audit's widgets here. */
  dashboard?: cloudwatch.Dashboard;
}

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const DAY = Duration.days(1);

export class ArchiveAudit extends Construct {
  public readonly function: nodejs.NodejsFunction;
  public readonly logGroup: logs.LogGroup;
  public readonly schedule: scheduler.Schedule;
  public readonly unexplainedAlarm: cloudwatch.Alarm;
  public readonly failedAlarm: cloudwatch.Alarm;

  public constructor(scope: Construct, id: string, props: ArchiveAuditProps) {
    super(scope, id);
    this.logGroup = new logs.LogGroup(this, 'Logs', { retention: props.logRetention });
    const role = this.functionRole(props);
    this.function = this.auditFunction(props, role);
    const scheduleRole = this.scheduleRole();
    this.schedule = this.auditSchedule(props, scheduleRole);

    // The stack's own findings: two stacks in one account publish under the same names.
    const ofStack = { service: SERVICE_NAME, [STACK_DIMENSION]: Stack.of(this).stackName };
    const unexplained = new cloudwatch.Metric({
      namespace: METRICS_NAMESPACE,
      metricName: METRIC.auditUnexplained,
      dimensionsMap: ofStack,
      statistic: 'Maximum',
      period: DAY,
    });
    this.unexplainedAlarm = new cloudwatch.Alarm(this, 'UnexplainedAlarm', {
      alarmDescription:
        'The completeness audit found something it cannot explain (missing seqs, duplicate rows, rows in the wrong dt partition, revision holes, unaccounted objects, media without manifest or object): see the audit function log and the report under audits/. It stays in alarm until an audit finds nothing unexplained.',
      metric: unexplained,
      threshold: 1,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      // The audit reports once a week: between audits the last verdict stands.
      treatMissingData: cloudwatch.TreatMissingData.IGNORE,
    });
    this.failedAlarm = new cloudwatch.Alarm(this, 'FailedAlarm', {
      alarmDescription:
        'The completeness audit did not finish (an Athena error, a missing permission or the 15-minute timeout): this period proved nothing; see the audit function log.',
      metric: this.function.metricErrors({ statistic: 'Sum', period: Duration.minutes(5) }),
      threshold: 1,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    for (const alarm of [this.unexplainedAlarm, this.failedAlarm]) {
      alarm.addAlarmAction(new actions.SnsAction(props.topic));
      alarm.addOkAction(new actions.SnsAction(props.topic));
    }
    this.addDashboardWidgets(props, ofStack, unexplained);
    this.acknowledgeNagFindings(props, role, scheduleRole);
  }

  /** The function's role: its log group, Athena on the audit's tables, reads and writes of the archive. */
  private functionRole(props: ArchiveAuditProps): iam.Role {
    const role = new iam.Role(this, 'Role', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description:
        'tencent-chat-archiver audit: Athena on its workgroup, reads of the archive, writes under audits/',
    });
    this.logGroup.grantWrite(role);
    props.query.grantQueryTables(role, AUDIT_TABLES);
    props.archive.grantAuditReadWrite(role, AUDITS_PREFIX);
    this.grantTotalsAndUnload(props, role);
    return role;
  }

  /**
   * The incremental audit reads its totals back (and replaces them, a put under audits/); its
   * media query's UNLOAD writes under audits/unload/ with the function's own credentials, which
   * it then lists, reads and deletes. Nothing else may be deleted.
   */
  private grantTotalsAndUnload(props: ArchiveAuditProps, role: iam.Role): void {
    const { bucket, prefix } = props.archive;
    const unload = bucket.arnForObjects(`${prefix}${AUDIT_UNLOAD_PREFIX}*`);
    role.addToPolicy(
      new iam.PolicyStatement({
        sid: 'AuditTotalsAndUnloadRead',
        actions: ['s3:GetObject'],
        resources: [bucket.arnForObjects(`${prefix}${AUDIT_TOTALS_PREFIX}*`), unload],
      }),
    );
    role.addToPolicy(
      new iam.PolicyStatement({
        sid: 'AuditUnloadWrite',
        actions: ['s3:DeleteObject', 's3:AbortMultipartUpload', 's3:ListMultipartUploadParts'],
        resources: [unload],
      }),
    );
    role.addToPolicy(
      new iam.PolicyStatement({
        sid: 'AuditUnloadList',
        actions: ['s3:ListBucket', 's3:GetBucketLocation'],
        resources: [bucket.bucketArn],
        conditions: { StringLike: { 's3:prefix': [`${prefix}${AUDIT_UNLOAD_PREFIX}*`] } },
      }),
    );
  }

  /** The audit function, bundled with the stack's config. */
  private auditFunction(props: ArchiveAuditProps, role: iam.Role): nodejs.NodejsFunction {
    const { rawConfig, deploy } = props.stackConfig;
    return new nodejs.NodejsFunction(this, 'Function', {
      description: 'tencent-chat-archiver: completeness audit of the archive (Athena), report under audits/',
      entry: `${ROOT}functions/lambda/audit-handler.ts`,
      handler: 'handler',
      projectRoot: ROOT,
      depsLockFilePath: `${ROOT}package-lock.json`,
      runtime: lambda.Runtime.NODEJS_24_X,
      architecture: lambda.Architecture.ARM_64,
      memorySize: deploy.audit.memoryMb,
      // A handful of Athena queries per app; the handler stops them 10 s before this.
      timeout: Duration.minutes(15),
      role,
      logGroup: this.logGroup,
      loggingFormat: lambda.LoggingFormat.JSON,
      tracing: lambda.Tracing.ACTIVE,
      // A failed audit is alarmed on, and the next week's runs anyway: no automatic repeat of
      // a whole-archive scan.
      retryAttempts: 0,
      // An invocation that failed anyway is kept (with its error) in the dead-letter queue.
      onFailure: new destinations.SqsDestination(props.deadLetterQueue),
      environment: {
        [ENV.configFile]: CONFIG_FILE_NAME,
        [ENV.bucket]: props.archive.bucket.bucketName,
        [ENV.prefix]: props.archive.prefix,
        [ENV.stack]: Stack.of(this).stackName,
        [ENV.workGroup]: props.query.workGroupName,
        [ENV.database]: props.query.databaseName,
        POWERTOOLS_SERVICE_NAME: SERVICE_NAME,
        POWERTOOLS_METRICS_NAMESPACE: METRICS_NAMESPACE,
        POWERTOOLS_LOG_LEVEL: 'INFO',
      },
      bundling: bundlingWithConfig(rawConfig),
    });
  }

  /** The role EventBridge Scheduler invokes the function with (this account's schedules only). */
  private scheduleRole(): iam.Role {
    return new iam.Role(this, 'ScheduleRole', {
      assumedBy: new iam.ServicePrincipal('scheduler.amazonaws.com', {
        conditions: { StringEquals: { 'aws:SourceAccount': Stack.of(this).account } },
      }),
      description: 'tencent-chat-archiver audit schedule: invoke the audit function',
    });
  }

  /** The schedule that runs the audit, in the configured time zone. */
  private auditSchedule(props: ArchiveAuditProps, scheduleRole: iam.Role): scheduler.Schedule {
    const { deploy } = props.stackConfig;
    return new scheduler.Schedule(this, 'Schedule', {
      description: 'tencent-chat-archiver: run the completeness audit',
      schedule: scheduler.ScheduleExpression.expression(
        `cron(${deploy.audit.cron})`,
        TimeZone.of(deploy.schedule.timeZone),
      ),
      enabled: deploy.audit.enabled,
      target: new targets.LambdaInvoke(this.function, {
        role: scheduleRole,
        // Incremental: only the partitions new or changed since the last audit are read
        // (docs/audit.md); `{ "incremental": true, "full": true }` by hand reads them all.
        input: scheduler.ScheduleTargetInput.fromObject({ source: 'audit-schedule', incremental: true }),
        deadLetterQueue: props.deadLetterQueue,
        retryAttempts: 3,
        maxEventAge: Duration.hours(1),
      }),
    });
  }

  /** The audit's widgets on the stack's dashboard, when there is one. */
  private addDashboardWidgets(
    props: ArchiveAuditProps,
    ofStack: Record<string, string>,
    unexplained: cloudwatch.Metric,
  ): void {
    const sdkAppIds = props.stackConfig.config.apps.map((app) => app.sdkAppId);
    props.dashboard?.addWidgets(
      new cloudwatch.GraphWidget({
        title: 'Audit: unexplained findings',
        left: [
          unexplained.with({ label: 'total' }),
          ...sdkAppIds.map(
            (id) =>
              new cloudwatch.Metric({
                namespace: METRICS_NAMESPACE,
                metricName: METRIC.auditUnexplained,
                dimensionsMap: { ...ofStack, [APP_DIMENSION]: String(id) },
                statistic: 'Maximum',
                period: DAY,
                label: `${id}`,
              }),
          ),
        ],
        width: 8,
      }),
      new cloudwatch.GraphWidget({
        title: 'Audit: bytes scanned (Athena bills $5/TB)',
        left: [
          new cloudwatch.Metric({
            namespace: METRICS_NAMESPACE,
            metricName: METRIC.auditBytesScanned,
            dimensionsMap: ofStack,
            statistic: 'Sum',
            period: DAY,
          }),
        ],
        width: 8,
      }),
      new cloudwatch.AlarmStatusWidget({
        title: 'Audit alarms',
        alarms: [this.unexplainedAlarm, this.failedAlarm],
        width: 8,
      }),
    );
  }

  /** The cdk-nag findings the audit's grants raise, each with the reason it is accepted. */
  private acknowledgeNagFindings(props: ArchiveAuditProps, role: iam.Role, scheduleRole: iam.Role): void {
    Validations.of(role).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason:
        'Only xray:PutTraceSegments and xray:PutTelemetryRecords (active tracing), which support no resource-level permissions.',
    });
    const stack = Stack.of(this);
    const prefixArn = props.archive.objectsFindingResource();
    for (const resource of [
      ...[...AUDIT_READ_PREFIXES, AUDITS_PREFIX, AUDIT_TOTALS_PREFIX, AUDIT_UNLOAD_PREFIX].map(
        (p) => `${prefixArn.slice(0, -1)}${p}*`,
      ),
      `<${stack.getLogicalId(props.query.resultsBucket.node.defaultChild as s3.CfnBucket)}.Arn>/results/*`,
    ]) {
      Validations.of(role).acknowledge({
        id: `AwsSolutions-IAM5[Resource::${resource}]`,
        reason:
          'Objects are created per date, run and query (messages/, state/, media-manifest/, Athena results/), and reports per audit (audits/): the grant is each prefix the audit reads or writes, never the whole bucket; writes only under audits/ and results/.',
      });
    }
    Validations.of(scheduleRole).acknowledge({
      id: `AwsSolutions-IAM5[Resource::<${stack.getLogicalId(this.function.node.defaultChild as lambda.CfnFunction)}.Arn>:*]`,
      reason:
        'The Scheduler target grants invoking the function and its versions (CDK grantInvoke); it is this function only.',
    });
    Validations.of(this.function).acknowledge({
      id: 'Serverless-LambdaDLQ',
      reason:
        'Invoked only by its schedule, whose undeliverable invocations go to the stack dead-letter queue; a failed audit raises the audit-failed alarm, and the next scheduled audit repeats it.',
    });
  }
}
