/**
 * The post-deploy self-check (`npm run verify-deploy`), its pure part: what a deployed stack must
 * hold for each check (`planDeployChecks`), the self-check event the archiver function answers
 * and its report, and the PASS/FAIL verdict of each check with the reason and the fix. The calls
 * to AWS are in functions/adapters/aws/verify-deploy/; functions/cli/verify-deploy-command.ts
 * composes them.
 */

/** One check's outcome, as the command prints it. */
export interface CheckResult {
  /** Short and stable, e.g. `alarm-topic`, `view messages_flat`, `schedule <name>`. */
  readonly check: string;
  readonly pass: boolean;
  /** What was seen. */
  readonly detail: string;
  /** What to do about a FAIL. */
  readonly fix?: string;
}

/** One resource of the stack (CloudFormation `ListStackResources`). */
export interface StackResource {
  readonly logicalId: string;
  readonly physicalId: string;
  readonly type: string;
}

/** What the self-check reads of a deployed stack. */
export interface DeployedStack {
  readonly name: string;
  readonly status: string;
  readonly outputs: Readonly<Record<string, string>>;
  readonly resources: readonly StackResource[];
}

/** The resources each check runs against; `undefined` when the stack lacks it (a FAIL in `results`). */
export interface DeployCheckPlan {
  readonly functionName: string | undefined;
  readonly topicArn: string | undefined;
  /** The alarm whose state the check sets, to make CloudWatch publish to the topic. */
  readonly canaryAlarm: string | undefined;
  readonly workGroup: string | undefined;
  readonly database: string | undefined;
  /** Names of the stack's EventBridge Scheduler schedules (group `default`). */
  readonly schedules: readonly string[];
  /** The stack's own verdict, and a FAIL for each resource a check needs and the stack lacks. */
  readonly results: readonly CheckResult[];
}

/**
 * Canary alarms, by the construct id in their logical id, best first: each watches a 5-minute
 * period with missing data "not breaching", so CloudWatch sets it back within minutes. Never an
 * audit alarm: the unexplained-findings alarm ignores missing data and would stay in ALARM until
 * the next weekly audit (infra/constructs/archive-audit.ts).
 */
export const CANARY_ALARM_IDS = ['ScheduleUndeliveredAlarm', 'RunFailedAlarm'] as const;

/** Stack statuses in which the last deployment finished as asked. */
const SETTLED = new Set(['CREATE_COMPLETE', 'UPDATE_COMPLETE', 'IMPORT_COMPLETE']);

const REDEPLOY = 'deploy the stack again (npx cdk deploy -c archiverConfigFile=<your config>)';

/** The resources of `stack` each check needs, and a FAIL for each one it lacks. */
export function planDeployChecks(stack: DeployedStack): DeployCheckPlan {
  const results: CheckResult[] = [stackVerdict(stack)];
  const ofType = (type: string) => stack.resources.filter((r) => r.type === type);
  const need = <T>(value: T | undefined, check: string, what: string): T | undefined => {
    if (value === undefined) {
      results.push({ check, pass: false, detail: `the stack has no ${what}`, fix: REDEPLOY });
    }
    return value;
  };
  const alarms = ofType('AWS::CloudWatch::Alarm');
  const canary = CANARY_ALARM_IDS.map((id) => alarms.find((a) => a.logicalId.includes(id))).find(
    (a) => a !== undefined,
  );
  const schedules = ofType('AWS::Scheduler::Schedule').map((r) => r.physicalId);
  if (schedules.length === 0) need(undefined, 'schedules', 'EventBridge Scheduler schedule');
  return {
    functionName: need(stack.outputs.ArchiverFunctionName, 'archiver-store', 'ArchiverFunctionName output'),
    topicArn: need(stack.outputs.AlarmTopicArn, 'alarm-topic', 'AlarmTopicArn output'),
    canaryAlarm: need(
      canary?.physicalId,
      'alarm-topic',
      `alarm to use as a canary (${CANARY_ALARM_IDS.join(' or ')})`,
    ),
    workGroup: need(ofType('AWS::Athena::WorkGroup')[0]?.physicalId, 'views', 'Athena workgroup'),
    database: need(ofType('AWS::Glue::Database')[0]?.physicalId, 'views', 'Glue database'),
    schedules,
    results,
  };
}

function stackVerdict(stack: DeployedStack): CheckResult {
  const check = 'stack';
  const counted = `${stack.resources.length} resources`;
  if (SETTLED.has(stack.status))
    return { check, pass: true, detail: `${stack.name}: ${stack.status}, ${counted}` };
  return {
    check,
    pass: false,
    detail: `${stack.name}: ${stack.status}, ${counted}: the last deployment did not finish as asked`,
    fix: `read why in aws cloudformation describe-stack-events --stack-name ${stack.name}, fix it and ${REDEPLOY}`,
  };
}

/**
 * `SELECT * FROM "<database>"."<view>" WHERE dt >= '<sinceDt>' LIMIT 1`, identifiers quoted
 * (quotes doubled). Every view has the `dt` partition column, and the bound matters: a view's
 * window function reads every row it may rank before `LIMIT` applies, so without it the probe
 * would scan the whole archive (and stop at the workgroup's per-query limit on a large one).
 */
export function viewProbeSql(database: string, view: string, sinceDt: string): string {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(sinceDt)) throw new RangeError(`not a YYYY-MM-DD date: ${sinceDt}`);
  const quote = (name: string) => `"${name.replaceAll('"', '""')}"`;
  return `SELECT * FROM ${quote(database)}.${quote(view)} WHERE dt >= '${sinceDt}' LIMIT 1`;
}

/** The passed and failed counts, and the exit code: 0 when every check passed, else 1. */
export function deployCheckSummary(results: readonly CheckResult[]): {
  passed: number;
  failed: number;
  exitCode: 0 | 1;
} {
  const failed = results.filter((r) => !r.pass).length;
  return { passed: results.length - failed, failed, exitCode: failed === 0 && results.length > 0 ? 0 : 1 };
}
