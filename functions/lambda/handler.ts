/**
 * The Lambda entry point: a thin middy handler over the archive engine, one app per invocation.
 *
 * Middleware, in order:
 *  1. Powertools Logger: Lambda context keys on every JSON log line (keys reset per invocation);
 *  2. Powertools Metrics: flushes the EMF metrics recorded below, on success and on error;
 *  3. `{ "selfCheck": true }` (npm run verify-deploy) answered with a probe of the archive prefix
 *     on this role, nothing archived (self-check.ts); any other event checked (`{ sdkAppId }` of a
 *     configured app) before anything is fetched;
 *  4. @middy/ssm: one batched `GetParameters` (with decryption) for the configured parameters,
 *     cached for `SECRET_CACHE_SECONDS` (default 300) so a rotated key takes effect (ssm-cache.ts).
 *     Prefetch is off: importing this module makes no network call; the fetch happens in the
 *     first invocation, when it is needed, and a broken SSM setup fails that invocation with a
 *     clear error instead of crashing the init phase;
 *  5. the app's secret onto the context (secrets-middleware.ts);
 *  6. errors mapped to names Step Functions can match, with redacted messages (errors.ts).
 *
 * The time budget comes from the Lambda context: the engine starts no new page after the soft
 * deadline, and its hard stop (`hardStopMs` before the Lambda timeout) aborts in-flight requests
 * and forbids further writes (time-budget.ts). The handler returns only after the engine stopped:
 * middy's own early timeout is off, because it would return while the engine kept running, and
 * Lambda would freeze the sandbox mid-checkpoint (a thawed sandbox then writes late).
 */
import { rmSync } from 'node:fs';
import { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import middy from '@middy/core';
import type { Context } from 'aws-lambda';
import { composeAppRun, MEDIA_TEMP_DIR, openStore } from '../composition.ts';
import { parseLambdaEnv } from '../config/schema.ts';
import { LeaseHeldError, RunFailedError } from '../engine/errors.ts';
import type { RunReport } from '../engine/report.ts';
import { runArchive } from '../engine/run-archive.ts';
import { type ArchiveEvent, type ArchiveResult, ENV, METRICS_NAMESPACE, SERVICE_NAME } from './contract.ts';
import { errorNameFor, publicError } from './errors.ts';
import { loadLambdaConfig, secretParameters } from './lambda-config.ts';
import { recordFailedRun, recordLeaseHeld, recordRunMetrics } from './run-metrics.ts';
import { lambdaRuntime, redactingLogger } from './runtime.ts';
import { appIndexFor, appSecretsFromSsm, secretsOf, validateEvent } from './secrets-middleware.ts';
import { answerSelfCheck } from './self-check.ts';
import { cachedSsm } from './ssm-cache.ts';
import { DEFAULT_HARD_STOP_MS, timeBudget } from './time-budget.ts';

export interface HandlerOptions {
  /** Where the config comes from; default `process.env`. */
  env?: Readonly<Record<string, string | undefined>>;
  /** The engine's hard stop before the Lambda timeout; default 10 s. Tests use a shorter one. */
  hardStopMs?: number;
  /** The media temp folder emptied at init; default {@link MEDIA_TEMP_DIR}. */
  mediaTempDir?: string;
}

/** The media downloader's temp folder, as functions/composition.ts gives it. */
export { MEDIA_TEMP_DIR };

/** Marks errors whose metrics were already recorded, so onError does not count them twice. */
const counted = new WeakSet<object>();

/**
 * Build the handler: validates the config once (a bad config fails the init, naming the field)
 * and creates clients, which open no connection until first used.
 */
export function createHandler(options: HandlerOptions = {}) {
  const env = options.env ?? process.env;
  const hardStopMs = options.hardStopMs ?? DEFAULT_HARD_STOP_MS;
  const config = loadLambdaConfig(env);
  // Lambda keeps /tmp when it restarts a crashed runtime (out of memory, a timeout) in the same
  // sandbox: files of downloads that never finished would take the room sized for this
  // sandbox's downloads (infra/config.ts, ephemeralStorageMb). One invocation at a time per
  // sandbox, so nothing else is using them. Only in Lambda (or when a folder is given): on a
  // shared machine another process may be downloading into the default folder.
  const mediaTempDir = options.mediaTempDir ?? (env.AWS_LAMBDA_FUNCTION_NAME ? MEDIA_TEMP_DIR : undefined);
  if (mediaTempDir !== undefined) rmSync(mediaTempDir, { recursive: true, force: true });
  const parameters = secretParameters(config);
  const logger = new Logger({ serviceName: SERVICE_NAME });
  const metrics = new Metrics({ namespace: METRICS_NAMESPACE, serviceName: SERVICE_NAME });
  // Constructing the S3 client opens no connection; the promise only waits for the module.
  const storeReady = openStore(config.archive.out);
  storeReady.catch(() => undefined); // awaited (and so reported) in the first invocation
  const lambdaEnv = parseLambdaEnv(env);
  const cacheSeconds = lambdaEnv[ENV.secretCacheSeconds];
  const headroomDays = lambdaEnv[ENV.headroomDays];

  const archive = async (event: ArchiveEvent, context: Context): Promise<ArchiveResult> => {
    const appIndex = appIndexFor(event, config);
    const app = config.apps[appIndex] as (typeof config.apps)[number];
    const runtime = lambdaRuntime({ logger, secretValues: secretsOf(context) });
    const startedMs = Date.now();
    const remainingMs = context.getRemainingTimeInMillis();
    const budget = timeBudget(startedMs, remainingMs, { hardStopMs });
    logger.appendKeys({ sdkAppId: app.sdkAppId });
    try {
      const { deps, options: runOptions } = await composeAppRun(config, appIndex, runtime, {
        store: await storeReady,
        deadlineMs: budget.deadlineMs,
        hardStopAtMs: startedMs + remainingMs - hardStopMs,
        ...(headroomDays === undefined ? {} : { mediaHeadroomDays: headroomDays }),
      });
      logger.appendKeys({ runId: runOptions.runId });
      runtime.logger.info('run starting', {
        deadline: new Date(budget.deadlineMs).toISOString(),
        reserveMs: budget.reserveMs,
      });
      const report = await runArchive(deps, runOptions);
      recordRunMetrics(metrics, report, app.retentionDays, report.serverFinishedAtMs);
      runtime.logger.info(
        report.done ? 'run done: caught up' : 'run paused at its deadline',
        summary(report),
      );
      return resultOf(report);
    } catch (error) {
      if (error instanceof RunFailedError) {
        recordRunMetrics(metrics, error.report, app.retentionDays, error.report.serverFinishedAtMs);
        runtime.logger.error('run failed', summary(error.report));
      } else if (error instanceof LeaseHeldError) {
        recordLeaseHeld(metrics, app.sdkAppId);
      } else {
        recordFailedRun(metrics, app.sdkAppId);
      }
      const mapped = publicError(error, runtime.secrets.all());
      counted.add(mapped);
      throw mapped;
    }
  };

  // No middy early timeout (0): the engine enforces the hard stop itself and returns after it.
  return middy(archive, { timeoutEarlyInMillis: 0 })
    .use(injectLambdaContext(logger, { resetKeys: true }))
    .use(logMetrics(metrics))
    .use(answerSelfCheck(storeReady))
    .use(validateEvent(config))
    .use(
      cachedSsm({
        fetchData: Object.fromEntries(parameters.map((p) => [p.internalKey, p.name])),
        maxAgeMs: cacheSeconds * 1000,
      }),
    )
    .use(appSecretsFromSsm(config, parameters))
    .use({
      // Runs first among the onError handlers (middy runs them last-registered first), so the
      // metric it may add is flushed by logMetrics and the error Step Functions sees is mapped.
      onError: (request: { event: unknown; context: Context; error: unknown }) => {
        const secrets = [...secretsOf(request.context).values()];
        const error = request.error;
        const mapped = error instanceof Error && counted.has(error) ? error : publicError(error, secrets);
        if (!counted.has(mapped) && errorNameFor(error) !== 'LeaseHeldError') {
          const sdkAppId = (request.event as Partial<ArchiveEvent> | null)?.sdkAppId;
          if (config.apps.some((a) => a.sdkAppId === sdkAppId)) recordFailedRun(metrics, sdkAppId as number);
        }
        redactingLogger(logger, () => secrets).error('invocation failed', {
          errorType: mapped.name,
          errorMessage: mapped.message,
        });
        request.error = mapped;
      },
    });
}

function resultOf(report: RunReport): ArchiveResult {
  return {
    sdkAppId: report.sdkAppId,
    done: report.done,
    runId: report.runId,
    messages: report.messages,
    pages: report.pages,
    remainingTargets: report.remainingTargets,
    elapsedMs: report.elapsedMs,
    mediaDone: mediaDone(report),
    mediaPending: (report.media?.pending ?? 0) + (report.media?.pendingBatches ?? 0),
    rescanChecked: report.rescan.checked,
  };
}

/** Manifest rows this invocation wrote. */
function mediaDone(report: RunReport): number {
  const m = report.media;
  return m === undefined ? 0 : m.archived + m.expired + m.refused + m.failed + m.noUrl;
}

function summary(report: RunReport): Record<string, unknown> {
  return {
    done: report.done,
    messages: report.messages,
    pages: report.pages,
    objectsWritten: report.objectsWritten,
    remainingTargets: report.remainingTargets,
    media: report.media,
    groups: report.groups,
    throttles: report.throttles,
    retries: report.retries,
    errors: report.errors.slice(0, 20),
    elapsedMs: report.elapsedMs,
    ...(report.fatalError ? { fatalError: report.fatalError } : {}),
  };
}

/** The function's handler (`functions/lambda/handler.handler`). */
export const handler = createHandler();
