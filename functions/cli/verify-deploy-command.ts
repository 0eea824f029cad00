/**
 * `npm run verify-deploy -- --stack <name> [--time-zone <IANA zone>] [--region <region>]`
 *
 * The post-deploy self-check, run once after each deploy with credentials of the account: it
 * finds the stack's resources and checks what only the real account can show (each a PASS or a
 * FAIL with the reason and the fix): a canary alarm's notification reaches the alarm topic; the
 * archiver function, on its own role, reads, writes and deletes under its prefix and gets 404 for
 * a missing key; `SELECT * … LIMIT 1` runs on every view in the stack's workgroup; every schedule
 * exists, is enabled and runs in the expected time zone. Exit 0 when every check passed, 1
 * otherwise, 2 for a usage error. Nothing printed carries a credential: every line is masked
 * against the credentials the clients sign with.
 */
import { parseArgs } from 'node:util';
import { AthenaQueryRunner } from '../adapters/aws/athena-runner.ts';
import { checkAlarmReachesTopic } from '../adapters/aws/verify-deploy/alarm.ts';
import {
  createVerifyDeployClients,
  credentialValues,
  type VerifyDeployClients,
} from '../adapters/aws/verify-deploy/clients.ts';
import { invokeSelfCheck } from '../adapters/aws/verify-deploy/function-probe.ts';
import { checkSchedules } from '../adapters/aws/verify-deploy/schedules.ts';
import { describeStack } from '../adapters/aws/verify-deploy/stack.ts';
import { checkViews } from '../adapters/aws/verify-deploy/views.ts';
import { redactSecrets } from '../adapters/logging/redact.ts';
import { terminalSafe } from '../adapters/logging/terminal-safe.ts';
import {
  type CheckResult,
  type DeployCheckPlan,
  deployCheckSummary,
  planDeployChecks,
} from '../domain/deploy-check.ts';
import { storeProbeVerdicts } from '../domain/deploy-verdicts.ts';
import type { Clock } from '../domain/ports.ts';
import { VIEWS } from '../query/views.ts';
import { EXIT } from './exit-codes.ts';

export const VERIFY_DEPLOY_USAGE =
  '  npm run verify-deploy -- --stack <name> [--time-zone <IANA zone>] [--region <region>] [--alarm-wait <seconds>]';

export interface VerifyDeployDeps {
  readonly clock: Clock;
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
  /** Default: clients for the usual AWS environment (and `--region`). */
  readonly clients?: VerifyDeployClients;
}

interface VerifyDeployOptions {
  readonly stack: string;
  readonly timeZone: string | undefined;
  readonly region: string | undefined;
  readonly alarmWaitMs: number;
}

/** One check to run: what it needs of the plan, and what it needs of the caller's credentials. */
interface PlannedCheck {
  /** The checks it reports: each a FAIL when it cannot run at all. */
  readonly checks: readonly string[];
  /** Said with a FAIL when the check itself could not run (an SDK error). */
  readonly permissions: string;
  readonly run: () => Promise<CheckResult[]>;
}

/** Runs the self-check; returns the exit code. */
export async function runVerifyDeployCommand(
  argv: readonly string[],
  deps: VerifyDeployDeps,
): Promise<number> {
  const options = parse(argv, deps);
  if (options === undefined) return EXIT.usage;
  const clients = deps.clients ?? createVerifyDeployClients(options.region);
  const print = printer(deps.stdout, await credentialValues(clients.cloudFormation));
  print(`verify-deploy: stack ${options.stack}\n`);
  const results: CheckResult[] = [];
  const report = (found: readonly CheckResult[]) => {
    for (const result of found) {
      results.push(result);
      print(formatResult(result));
    }
  };
  const stack = await guarded(
    { checks: ['stack'], permissions: 'cloudformation:DescribeStacks and cloudformation:ListStackResources' },
    async () => planDeployChecks(await describeStack(clients.cloudFormation, options.stack)),
  );
  if (Array.isArray(stack)) {
    report(stack);
  } else {
    report(stack.results);
    for (const planned of plannedChecks(stack, clients, options, deps.clock)) {
      report(await guarded(planned, planned.run));
    }
  }
  const summary = deployCheckSummary(results);
  print(`${summary.passed} passed, ${summary.failed} failed\n`);
  return summary.exitCode === 0 ? EXIT.done : EXIT.failed;
}

function parse(argv: readonly string[], deps: VerifyDeployDeps): VerifyDeployOptions | undefined {
  let values: { stack?: string; 'time-zone'?: string; region?: string; 'alarm-wait'?: string };
  try {
    values = parseArgs({
      args: [...argv],
      strict: true,
      options: {
        stack: { type: 'string' },
        'time-zone': { type: 'string' },
        region: { type: 'string' },
        'alarm-wait': { type: 'string' },
      },
    }).values;
  } catch (error) {
    deps.stderr(`${(error as Error).message}\nUsage:\n${VERIFY_DEPLOY_USAGE}\n`);
    return undefined;
  }
  const wait = values['alarm-wait'] ?? '120';
  if (values.stack === undefined || !/^[1-9]\d{0,3}$/.test(wait)) {
    const problem =
      values.stack === undefined ? '--stack <name> is required' : '--alarm-wait takes whole seconds';
    deps.stderr(`${problem}\nUsage:\n${VERIFY_DEPLOY_USAGE}\n`);
    return undefined;
  }
  return {
    stack: values.stack,
    timeZone: values['time-zone'],
    region: values.region,
    alarmWaitMs: Number(wait) * 1000,
  };
}

/** The checks the plan allows, cheapest first; the alarm's, which waits for CloudWatch, last. */
function plannedChecks(
  plan: DeployCheckPlan,
  clients: VerifyDeployClients,
  options: VerifyDeployOptions,
  clock: Clock,
): PlannedCheck[] {
  const checks: PlannedCheck[] = [];
  if (plan.schedules.length > 0) {
    checks.push({
      checks: plan.schedules.map((name) => `schedule ${name}`),
      permissions: 'scheduler:GetSchedule',
      run: () => checkSchedules(clients.scheduler, plan.schedules, options.timeZone),
    });
  }
  const { functionName, workGroup, database, canaryAlarm, topicArn } = plan;
  if (functionName !== undefined) {
    checks.push({
      checks: ['archiver-store', 'archiver-missing-key'],
      permissions: `lambda:InvokeFunction on ${functionName}`,
      run: async () => storeProbeVerdicts(await invokeSelfCheck(clients.lambda, functionName)),
    });
  }
  if (workGroup !== undefined && database !== undefined) {
    const runner = new AthenaQueryRunner({
      client: clients.athena,
      clock,
      workGroup,
      database,
      timeoutMs: 300_000,
    });
    checks.push({
      checks: VIEWS.map((v) => `view ${v.name}`),
      permissions: 'athena:StartQueryExecution, GetQueryExecution and GetQueryResults',
      run: () =>
        checkViews(runner, { database, views: VIEWS.map((v) => v.name), sinceDt: daysAgo(clock, VIEW_DAYS) }),
    });
  }
  if (canaryAlarm !== undefined && topicArn !== undefined) {
    checks.push({
      checks: ['alarm-topic'],
      permissions: 'cloudwatch:DescribeAlarms, SetAlarmState and DescribeAlarmHistory',
      run: async () => [
        await checkAlarmReachesTopic({
          client: clients.cloudWatch,
          clock,
          alarmName: canaryAlarm,
          topicArn,
          timeoutMs: options.alarmWaitMs,
        }),
      ],
    });
  }
  return checks;
}

/** The views are probed over this many recent days of `dt`. */
const VIEW_DAYS = 7;

/** The UTC date `days` before now, `YYYY-MM-DD` (the archive's zone is at most a day away). */
function daysAgo(clock: Clock, days: number): string {
  return new Date(clock.now() - days * 86_400_000).toISOString().slice(0, 10);
}

/** `run`'s value, or a FAIL for each of its checks naming the error and the permissions they need. */
async function guarded<T>(
  planned: Pick<PlannedCheck, 'checks' | 'permissions'>,
  run: () => Promise<T>,
): Promise<T | CheckResult[]> {
  try {
    return await run();
  } catch (error) {
    const { name, message } = error instanceof Error ? error : new Error(String(error));
    return planned.checks.map((check) => ({
      check,
      pass: false,
      detail: `${name}: ${message}`,
      fix: `the check could not run: check --stack, the region, and that your credentials allow ${planned.permissions} (docs/deploy.md lists every permission verify-deploy needs)`,
    }));
  }
}

/** `PASS  check  detail`, and for a FAIL the fix on the next line. */
export function formatResult(result: CheckResult): string {
  const head = `${result.pass ? 'PASS' : 'FAIL'}  ${result.check.padEnd(22)}  ${result.detail}\n`;
  return result.fix === undefined || result.pass ? head : `${head}      fix: ${result.fix}\n`;
}

/** AWS access key ids, wherever they come from. */
const ACCESS_KEY_ID = /\b(?:AKIA|ASIA)[A-Z0-9]{16}\b/g;

/** Prints each line masked against `secrets` and any access key id, and safe for a terminal. */
function printer(write: (text: string) => void, secrets: readonly string[]): (text: string) => void {
  return (text) => {
    const masked = redactSecrets(text, secrets).replace(ACCESS_KEY_ID, '***');
    write(
      masked
        .split('\n')
        .map((line) => terminalSafe(line))
        .join('\n'),
    );
  };
}
