/**
 * EventBridge Scheduler schedules (cron in an IANA time zone; the Scheduler handles daylight
 * saving time): the nightly run, and the deadline check. Deliveries that fail after retries land
 * in a dead-letter queue, which has its own alarm.
 */
import { Duration, TimeZone, Validations } from 'aws-cdk-lib';
import * as scheduler from 'aws-cdk-lib/aws-scheduler';
import * as targets from 'aws-cdk-lib/aws-scheduler-targets';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import type * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';

/** A queue for undeliverable schedule invocations and alarm e-mails. */
export class DeadLetterQueue extends Construct {
  public readonly queue: sqs.Queue;
  public constructor(scope: Construct, id: string) {
    super(scope, id);
    this.queue = new sqs.Queue(this, 'Queue', {
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
    Validations.of(this.queue).acknowledge({
      id: 'AwsSolutions-SQS3',
      reason:
        'This queue is itself the dead-letter queue of the schedules and the alarm e-mail subscription; a DLQ of a DLQ would only move the problem.',
    });
    Validations.of(this.queue).acknowledge({
      id: 'Serverless-SQSRedrivePolicy',
      reason: 'This queue is itself a dead-letter queue; nothing consumes it, so it has nothing to redrive.',
    });
  }
}

export interface CronScheduleProps {
  stateMachine: sfn.IStateMachine;
  /** Six fields: minutes hours day-of-month month day-of-week year. */
  cron: string;
  timeZone: string;
  enabled: boolean;
  description: string;
  deadLetterQueue: sqs.IQueue;
  /** The execution input. */
  input: Record<string, unknown>;
}

/** Start `stateMachine` on a cron in a time zone, with retries and a dead-letter queue. */
export class CronSchedule extends Construct {
  public readonly schedule: scheduler.Schedule;
  public constructor(scope: Construct, id: string, props: CronScheduleProps) {
    super(scope, id);
    this.schedule = new scheduler.Schedule(this, 'Schedule', {
      description: props.description,
      schedule: scheduler.ScheduleExpression.expression(`cron(${props.cron})`, TimeZone.of(props.timeZone)),
      enabled: props.enabled,
      target: new targets.StepFunctionsStartExecution(props.stateMachine, {
        input: scheduler.ScheduleTargetInput.fromObject(props.input),
        deadLetterQueue: props.deadLetterQueue,
        retryAttempts: 3,
        maxEventAge: Duration.hours(1),
      }),
    });
  }
}
