/**
 * TencentChatArchiver: everything the nightly archive needs, configured by the same validated
 * config as the CLI (plus its `deploy` section). Reusable: put it in any stack.
 *
 *   Scheduler (cron, time zone) → run state machine (per app: invoke until done) → function → S3
 *   Scheduler (deadline hour)   → deadline check → RunNotDoneByDeadline metric
 *   alarms → SNS topic (e-mail);  dashboard
 */
import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as kms from 'aws-cdk-lib/aws-kms';
import type * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import type { StackConfig } from '../config.ts';
import { ArchiveBucket } from './archive-bucket.ts';
import { ArchiverFunction } from './archiver-function.ts';
import { DeadlineCheck } from './deadline-check.ts';
import { ObjectLockRetention } from './object-lock-retention.ts';
import { Operations } from './operations.ts';
import { RunStateMachine } from './run-state-machine.ts';
import { CronSchedule, DeadLetterQueue } from './schedules.ts';

export interface TencentChatArchiverProps {
  /** From `loadStackConfig` / `parseStackConfig` (infra/config.ts). */
  stackConfig: StackConfig;
}

export class TencentChatArchiver extends Construct {
  /** The customer key of the archive bucket (SSE-KMS) and the alarm topic. */
  public readonly key: kms.Key;
  public readonly archive: ArchiveBucket;
  public readonly archiver: ArchiverFunction;
  public readonly run: RunStateMachine;
  public readonly deadlineCheck: DeadlineCheck;
  /** Only with `deploy.bucket.objectLock`. */
  public readonly objectLock: ObjectLockRetention | undefined;
  public readonly operations: Operations;
  /** Undeliverable schedule invocations and alarm e-mails. */
  public readonly deadLetters: DeadLetterQueue;

  public constructor(scope: Construct, id: string, props: TencentChatArchiverProps) {
    super(scope, id);
    const { config, deploy } = props.stackConfig;
    const logRetention = deploy.logRetentionDays as logs.RetentionDays;
    const sdkAppIds = config.apps.map((app) => app.sdkAppId);

    this.key = new kms.Key(this, 'Key', {
      description: 'tencent-chat-archiver: archive bucket (SSE-KMS) and alarm topic',
      enableKeyRotation: true,
      // Retained with the bucket: without the key, the archive could not be read.
      removalPolicy: RemovalPolicy.RETAIN,
    });
    this.archive = new ArchiveBucket(this, 'Archive', { settings: deploy.bucket, key: this.key });
    const deadLetters = new DeadLetterQueue(this, 'DeadLetters');
    this.deadLetters = deadLetters;
    if (deploy.bucket.objectLock !== null) {
      this.objectLock = new ObjectLockRetention(this, 'ObjectLock', {
        archive: this.archive,
        mode: deploy.bucket.objectLock.mode,
        days: deploy.bucket.objectLock.days,
        deadLetterQueue: deadLetters.queue,
        logRetention,
      });
    }
    this.archiver = new ArchiverFunction(this, 'Archiver', {
      stackConfig: props.stackConfig,
      archive: this.archive,
      logRetention,
    });
    this.run = new RunStateMachine(this, 'Run', {
      archiver: this.archiver.function,
      functionTimeout: Duration.seconds(deploy.run.timeoutSeconds),
      sdkAppIds,
      maxIterations: deploy.run.maxIterations,
      noProgressInvocations: deploy.run.noProgressInvocations,
      maxConcurrentApps: deploy.run.maxConcurrentApps,
      leaseSeconds: config.run.leaseSeconds,
      logRetention,
    });
    new CronSchedule(this, 'Nightly', {
      stateMachine: this.run.stateMachine,
      cron: deploy.schedule.cron,
      timeZone: deploy.schedule.timeZone,
      enabled: deploy.schedule.enabled,
      description: 'tencent-chat-archiver: start the nightly archive run',
      deadLetterQueue: deadLetters.queue,
      input: { source: 'nightly-schedule' },
    });
    const deadlineCheck = new DeadlineCheck(this, 'DeadlineCheck', {
      runStateMachine: this.run.stateMachine,
      runStateMachineName: this.run.stateMachineName,
      logRetention,
    });
    this.deadlineCheck = deadlineCheck;
    new CronSchedule(this, 'Deadline', {
      stateMachine: deadlineCheck.stateMachine,
      cron: `0 ${deploy.alarms.runNotDoneByHour} * * ? *`,
      timeZone: deploy.schedule.timeZone,
      enabled: deploy.schedule.enabled,
      description: 'tencent-chat-archiver: is a run still in progress at the deadline hour?',
      deadLetterQueue: deadLetters.queue,
      input: {},
    });
    this.operations = new Operations(this, 'Operations', {
      key: this.key,
      alarms: deploy.alarms,
      sdkAppIds,
      archiver: this.archiver.function,
      runStateMachine: this.run.stateMachine,
      runStateMachineName: this.run.stateMachineName,
      deadlineCheck: deadlineCheck.stateMachine,
      deadLetterQueue: deadLetters.queue,
      noProgressInvocations: deploy.run.noProgressInvocations,
      ...(this.objectLock ? { objectLockFunction: this.objectLock.function } : {}),
    });
  }
}
