/**
 * The audit function's entry point: a thin middy handler that runs the completeness audit
 * (`functions/query/audit`, the same use case as `npm run audit`) over the stack's archive through
 * Athena (the stack's workgroup and Glue database), writes the JSON report to
 * `audits/dt=<date>/<auditId>.json` in the archive, logs a summary and publishes the findings as
 * metrics (see audit-metrics.ts); the stack alarms on unexplained ones. No secret is needed: the
 * audit never calls Tencent.
 *
 * Middleware: Powertools Logger (Lambda context keys) and Metrics (flushed on success and error).
 * Queries still running shortly before the Lambda timeout are stopped (StopQueryExecution), so a
 * timed-out audit leaves nothing scanning and billing.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import type { AthenaClient } from '@aws-sdk/client-athena';
import middy from '@middy/core';
import type { Context } from 'aws-lambda';
import { AthenaQueryRunner, createAthenaClient } from '../adapters/aws/athena-runner.ts';
import { systemClock } from '../adapters/system-clock.ts';
import { openStore } from '../composition.ts';
import { ConfigError } from '../domain/errors.ts';
import type { Clock } from '../domain/ports.ts';
import type { ObjectStore } from '../domain/storage.ts';
import { auditArchive, discoverApps } from '../query/audit/audit.ts';
import { auditModeOf } from './audit-event.ts';
import { auditReportKey, countsPerApp, recordAuditMetrics } from './audit-metrics.ts';
import { ENV, METRICS_NAMESPACE, SERVICE_NAME, STACK_DIMENSION } from './contract.ts';
import { loadLambdaConfig } from './lambda-config.ts';
import { DEFAULT_HARD_STOP_MS } from './time-budget.ts';

/** What the function returns (the Scheduler ignores it; a manual `aws lambda invoke` shows it). */
export interface AuditResult {
  reportKey: string;
  findings: number;
  unexplained: number;
  bytesScanned: number;
}

export interface AuditHandlerOptions {
  /** Where the config comes from; default `process.env`. */
  env?: Readonly<Record<string, string | undefined>>;
  /** Default: the SDK client from the Lambda's environment. */
  athenaClient?: () => AthenaClient;
  /** Default: the archive bucket and prefix of the environment. */
  store?: ObjectStore;
  /** Default: the system clock (Athena polling waits on it). */
  clock?: Clock;
  /** Stop running queries this long before the Lambda timeout; default 10 s. */
  hardStopMs?: number;
}

function required(env: Readonly<Record<string, string | undefined>>, name: string): string {
  const value = env[name];
  if (value === undefined || value === '') throw new ConfigError(`${name} is not set`, { field: name });
  return value;
}

/**
 * Which apps the audit covers: those of the archive that the stack's config names (Athena's
 * partition projection knows only those; another stack's apps, or an app removed from the
 * config, would be false findings). When the archive holds only configured apps, no list is
 * given: the audit then also looks for media objects no manifest names (media files are shared
 * by every app of the bucket, so that check needs them all).
 */
export async function auditScope(
  store: ObjectStore,
  configured: readonly number[],
): Promise<{ sdkAppIds?: number[]; skipped: number[] }> {
  const found = await discoverApps(store);
  const skipped = found.filter((id) => !configured.includes(id));
  if (skipped.length === 0) return { skipped };
  return { sdkAppIds: found.filter((id) => configured.includes(id)), skipped };
}

/** Build the handler: the config is validated once (a bad one fails the init, naming the field). */
export function createAuditHandler(options: AuditHandlerOptions = {}) {
  const env = options.env ?? process.env;
  const config = loadLambdaConfig(env);
  const workGroup = required(env, ENV.workGroup);
  const database = required(env, ENV.database);
  const clock = options.clock ?? systemClock;
  const hardStopMs = options.hardStopMs ?? DEFAULT_HARD_STOP_MS;
  const logger = new Logger({ serviceName: SERVICE_NAME });
  const metrics = new Metrics({ namespace: METRICS_NAMESPACE, serviceName: SERVICE_NAME });
  const stackName = env[ENV.stack];
  if (stackName !== undefined && stackName !== '')
    metrics.setDefaultDimensions({ [STACK_DIMENSION]: stackName });
  const configured = config.apps.map((app) => app.sdkAppId);
  const storeReady = options.store ? Promise.resolve(options.store) : openStore(config.archive.out);
  storeReady.catch(() => undefined); // awaited (and so reported) in the first invocation
  const client = options.athenaClient?.() ?? createAthenaClient();
  const { timeZone } = config.archive;

  const audit = async (event: unknown, context: Context): Promise<AuditResult> => {
    const incremental = auditModeOf(event);
    const store = await storeReady;
    // The last poll of each query carries its final scan size.
    const scanned = new Map<string, number>();
    const stop = new AbortController();
    const timer = setTimeout(
      () => stop.abort(new Error('the audit ran out of time')),
      Math.max(0, context.getRemainingTimeInMillis() - hardStopMs),
    );
    timer.unref?.();
    const runner = new AthenaQueryRunner({
      client,
      clock,
      workGroup,
      database,
      signal: stop.signal,
      onProgress: (p) => scanned.set(p.queryExecutionId, p.bytesScanned),
    });
    try {
      const scope = await auditScope(store, configured);
      if (scope.skipped.length > 0) {
        logger.info('apps in the archive that this stack does not archive are not audited', {
          skipped: scope.skipped,
        });
      }
      const report = await auditArchive(runner, store, {
        archive: config.archive.out,
        timeZone,
        nowMs: clock.now(),
        ...(scope.sdkAppIds === undefined ? {} : { sdkAppIds: scope.sdkAppIds }),
        ...(incremental === undefined ? {} : { incremental }),
      });
      const bytesScanned = [...scanned.values()].reduce((sum, n) => sum + n, 0);
      const reportKey = auditReportKey(report, context.awsRequestId, timeZone);
      await store.put(reportKey, new TextEncoder().encode(`${JSON.stringify(report, null, 2)}\n`), {
        contentType: 'application/json',
      });
      recordAuditMetrics(metrics, report, bytesScanned);
      const summary = {
        reportKey,
        findings: report.findings.length,
        unexplained: report.unexplained,
        bytesScanned,
        queries: scanned.size,
        apps: countsPerApp(report),
        // Message objects not read (Glacier Flexible Retrieval, Deep Archive): docs/audit.md.
        unreadableArchived: report.apps.reduce((n, a) => n + a.unreadableArchived, 0),
        // Incremental audits: dt partitions read (new or changed) of all, per app.
        ...(incremental === undefined
          ? {}
          : { partitions: report.apps.map((a) => ({ sdkAppId: a.sdkAppId, ...a.partitions })) }),
        // The first unexplained findings, named; the report has all of them.
        unexplainedFindings: report.findings
          .filter((f) => !f.explained)
          .slice(0, 20)
          .map((f) => ({
            kind: f.kind,
            sdkAppId: f.sdkAppId,
            groupId: f.groupId,
            topicId: f.topicId,
            seqs: f.seqs,
            detail: f.detail,
          })),
      };
      if (report.unexplained > 0) logger.warn('audit done: unexplained findings', summary);
      else logger.info('audit done: every finding explained', summary);
      return { reportKey, findings: report.findings.length, unexplained: report.unexplained, bytesScanned };
    } finally {
      clearTimeout(timer);
      runner.close();
    }
  };

  return middy(audit, { timeoutEarlyInMillis: 0 })
    .use(injectLambdaContext(logger, { resetKeys: true }))
    .use(logMetrics(metrics));
}

/** The audit function's handler (`functions/lambda/audit-handler.handler`). */
export const handler = createAuditHandler();
