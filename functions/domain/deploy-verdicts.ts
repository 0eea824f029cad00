/**
 * The verdicts of the post-deploy self-check's checks (functions/domain/deploy-check.ts), from
 * what AWS answered: the archiver function's store probe, the canary alarm's actions, each
 * schedule. Pure: the adapters in functions/adapters/aws/verify-deploy/ fetch the answers.
 */
import type { CheckResult } from './deploy-check.ts';

/** Keys the store probe writes and asks for, under the archive prefix: never locked, read or tiered. */
export const SELF_CHECK_PREFIX = 'verify-deploy/';

/** The event that makes the archiver function probe its store instead of archiving an app. */
export interface SelfCheckEvent {
  readonly selfCheck: true;
}

export function isSelfCheckEvent(event: unknown): event is SelfCheckEvent {
  return typeof event === 'object' && event !== null && (event as { selfCheck?: unknown }).selfCheck === true;
}

export type ProbeStep = 'put' | 'get' | 'delete' | 'get-missing';

export interface ProbeStepResult {
  readonly step: ProbeStep;
  /** Relative to the archive prefix. */
  readonly key: string;
  readonly ok: boolean;
  /** What happened, or the store's error message (names the S3 error and the missing permission). */
  readonly detail: string;
}

/** What the archiver function answers to {@link SelfCheckEvent}. */
export interface StoreSelfCheckReport {
  readonly selfCheck: true;
  /** `s3://bucket/prefix`. */
  readonly location: string;
  readonly steps: readonly ProbeStepResult[];
}

const STORE_GRANT =
  "the function's role needs s3:PutObject, s3:GetObject and s3:DeleteObject on <bucket>/<prefix>*, and the bucket key through S3 (grantArchiveReadWrite in infra/constructs/archive-bucket.ts): deploy the stack again; with deploy.bucket.existingBucketName, check that bucket's policy and its key's policy allow the role";
const LIST_GRANT =
  "the function's role needs s3:ListBucket on the bucket for s3:prefix <prefix>* (grantArchiveReadWrite in infra/constructs/archive-bucket.ts): without it S3 answers 403 instead of 404 for a key that does not exist, and every first run of an app fails reading its missing state";

/** The two verdicts of the function's answer: read/write/delete under its prefix, and 404 for a missing key. */
export function storeProbeVerdicts(answer: unknown): CheckResult[] {
  if (!isStoreReport(answer)) {
    const detail = `the function did not answer the self-check event with a report (it answered ${describe(answer)})`;
    const fix =
      "deploy this version of the stack (older functions do not know the self-check event); if it is deployed, read the function's log (ArchiverLogGroupName) for the error";
    return [
      { check: 'archiver-store', pass: false, detail, fix },
      { check: 'archiver-missing-key', pass: false, detail, fix },
    ];
  }
  const at = (key: string) => `${answer.location.replace(/\/$/, '')}/${key}`;
  const failed = answer.steps.filter((s) => s.step !== 'get-missing' && !s.ok);
  const probeKey = answer.steps.find((s) => s.step === 'put')?.key ?? '';
  const store: CheckResult =
    failed.length === 0
      ? {
          check: 'archiver-store',
          pass: true,
          detail: `the function wrote, read back and deleted ${at(probeKey)}`,
        }
      : {
          check: 'archiver-store',
          pass: false,
          detail: failed.map((s) => `${s.step} ${at(s.key)}: ${s.detail}`).join('; '),
          fix: STORE_GRANT,
        };
  const missing = answer.steps.find((s) => s.step === 'get-missing');
  const missingKey: CheckResult =
    missing?.ok === true
      ? {
          check: 'archiver-missing-key',
          pass: true,
          detail: `GetObject of ${at(missing.key)}, never written, answered 404 (absent), not 403`,
        }
      : {
          check: 'archiver-missing-key',
          pass: false,
          detail:
            missing === undefined
              ? 'the report has no get-missing step'
              : `${at(missing.key)}: ${missing.detail}`,
          fix: LIST_GRANT,
        };
  return [store, missingKey];
}

function isStoreReport(value: unknown): value is StoreSelfCheckReport {
  const report = value as Partial<StoreSelfCheckReport> | null;
  return (
    typeof report === 'object' &&
    report !== null &&
    report.selfCheck === true &&
    typeof report.location === 'string' &&
    Array.isArray(report.steps) &&
    report.steps.every(
      (s: Partial<ProbeStepResult>) =>
        typeof s?.step === 'string' &&
        typeof s.key === 'string' &&
        typeof s.ok === 'boolean' &&
        typeof s.detail === 'string',
    )
  );
}

/** A short description of an unexpected answer (at most 200 characters of its JSON). */
function describe(value: unknown): string {
  const json = JSON.stringify(value) ?? String(value);
  return json.length > 200 ? `${json.slice(0, 200)}…` : json;
}

/** What `GetSchedule` said of one schedule; `undefined` when it does not exist. */
export interface ScheduleSeen {
  readonly state: string | undefined;
  readonly expression: string | undefined;
  readonly timeZone: string | undefined;
}

/** A schedule must exist, be enabled and, when `expectedZone` is given, run in that zone. */
export function scheduleVerdict(
  name: string,
  seen: ScheduleSeen | undefined,
  expectedZone?: string,
): CheckResult {
  const check = `schedule ${name}`;
  if (seen === undefined) {
    return {
      check,
      pass: false,
      detail: 'GetSchedule: no such schedule (group default)',
      fix: 'deploy the stack again: the schedule was deleted outside CloudFormation',
    };
  }
  const zone = seen.timeZone ?? 'UTC';
  const what = `${seen.expression ?? '(no expression)'} in ${zone}, ${seen.state ?? 'state unknown'}`;
  if (seen.state !== 'ENABLED') {
    return {
      check,
      pass: false,
      detail: `${what}: nothing starts while it is disabled`,
      fix: 'set deploy.schedule.enabled (the audit schedule: deploy.audit.enabled) to true and deploy; if you paused it on purpose, this FAIL is expected',
    };
  }
  if (expectedZone !== undefined && zone !== expectedZone) {
    return {
      check,
      pass: false,
      detail: `${what}: expected the time zone ${expectedZone}`,
      fix: `set deploy.schedule.timeZone to "${expectedZone}" in the stack's config and deploy (the nightly, deadline and audit schedules all use it)`,
    };
  }
  const unchecked = expectedZone === undefined ? ' (pass --time-zone <zone> to check the zone)' : '';
  return { check, pass: true, detail: `${what}${unchecked}` };
}

/** One `DescribeAlarmHistory` item of type Action. */
export interface AlarmActionSeen {
  readonly summary: string;
  /** The item's `HistoryData` JSON, when present. */
  readonly data: string | undefined;
}

const TOPIC_FIX =
  "the alarm topic's policy must allow cloudwatch.amazonaws.com to sns:Publish (aws:SourceAccount this account), and the topic's KMS key must allow it kms:GenerateDataKey* and kms:Decrypt (infra/constructs/operations.ts adds both): deploy this version of the stack; for the exact reason, see the alarm's history in the CloudWatch console";

/**
 * The verdict of the actions CloudWatch ran after the canary alarm's state was set: `undefined`
 * while no action on `topicArn` has been recorded yet.
 */
export function alarmActionVerdict(
  items: readonly AlarmActionSeen[],
  context: { readonly alarmName: string; readonly topicArn: string; readonly state: string },
): CheckResult | undefined {
  const onTopic = items.filter(
    (i) => i.summary.includes(context.topicArn) || i.data?.includes(context.topicArn),
  );
  const failed = onTopic.find((i) => /^Failed/i.test(i.summary) || actionState(i) === 'Failed');
  if (failed !== undefined) {
    const reason = actionError(failed);
    return {
      check: 'alarm-topic',
      pass: false,
      detail: `CloudWatch could not publish alarm ${context.alarmName}'s ${context.state} to ${context.topicArn}: ${failed.summary}${reason ? ` (${reason})` : ''}`,
      fix: TOPIC_FIX,
    };
  }
  const succeeded = onTopic.find((i) => /^Successfully/i.test(i.summary) || actionState(i) === 'Succeeded');
  if (succeeded === undefined) return undefined;
  return {
    check: 'alarm-topic',
    pass: true,
    detail: `CloudWatch published alarm ${context.alarmName}'s ${context.state} (reason "verify-deploy test") to ${context.topicArn}. Look for that e-mail at the address subscribed to the topic; CloudWatch sets the alarm back at its next evaluation (another e-mail). No e-mail: confirm the subscription (aws sns list-subscriptions-by-topic --topic-arn <AlarmTopicArn>)`,
  };
}

/** The verdict when no action on the topic was recorded within the wait. */
export function alarmSilentVerdict(context: {
  alarmName: string;
  topicArn: string;
  waitedSeconds: number;
}): CheckResult {
  return {
    check: 'alarm-topic',
    pass: false,
    detail: `alarm ${context.alarmName} changed state, but no action on ${context.topicArn} appeared in its history within ${context.waitedSeconds} s`,
    fix: `check that the alarm's actions are enabled and name the topic (aws cloudwatch describe-alarms --alarm-names ${context.alarmName}), then ${TOPIC_FIX}`,
  };
}

/** The alarm as `DescribeAlarms` shows it: a FAIL when it cannot notify the topic, else `undefined`. */
export function alarmSetupProblem(
  alarm: { readonly actionsEnabled: boolean; readonly actions: readonly string[] } | undefined,
  context: { readonly alarmName: string; readonly topicArn: string },
): CheckResult | undefined {
  const check = 'alarm-topic';
  if (alarm === undefined) {
    return { check, pass: false, detail: `alarm ${context.alarmName} does not exist`, fix: REDEPLOY_ALARM };
  }
  if (!alarm.actionsEnabled) {
    return {
      check,
      pass: false,
      detail: `alarm ${context.alarmName} has its actions disabled: no alarm of it reaches anyone`,
      fix: `aws cloudwatch enable-alarm-actions --alarm-names ${context.alarmName} (and the stack's other alarms)`,
    };
  }
  if (!alarm.actions.includes(context.topicArn)) {
    return {
      check,
      pass: false,
      detail: `alarm ${context.alarmName} does not notify ${context.topicArn} (its actions: ${alarm.actions.join(', ') || 'none'})`,
      fix: REDEPLOY_ALARM,
    };
  }
  return undefined;
}

const REDEPLOY_ALARM = 'deploy the stack again: the alarm was changed outside CloudFormation';

function parsedData(item: AlarmActionSeen): Record<string, unknown> {
  try {
    const value: unknown = JSON.parse(item.data ?? '{}');
    return typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

function actionState(item: AlarmActionSeen): unknown {
  return parsedData(item).actionState;
}

function actionError(item: AlarmActionSeen): string | undefined {
  const error = parsedData(item).error;
  return typeof error === 'string' ? error : undefined;
}
