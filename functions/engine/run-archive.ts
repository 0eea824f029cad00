/**
 * The archive use case, orchestrated: take the lease, roll back an uncommitted checkpoint of an
 * earlier run, plan the targets (`plan-targets.ts`), page them (`page-loop.ts`, `fetch-window.ts`)
 * with checkpoints (`checkpoint.ts`), then write the run report and release the lease.
 */
import { ArchiverError, GiveUpError } from '../domain/errors.ts';
import { runReportKey } from '../domain/partition.ts';
import type { Logger } from '../domain/ports.ts';
import type { ObjectStore } from '../domain/storage.ts';
import { rollBackPendingWrite } from './checkpoint.ts';
import { describeError as describe, RunFailedError } from './errors.ts';
import { pageTargets } from './page-loop.ts';
import { PartitionWriter } from './partition-writer.ts';
import { planTargets } from './plan-targets.ts';
import { emptyReport, type RunReport } from './report.ts';
import type { RunDeps, RunOptions } from './run-options.ts';
import { StateKeeper } from './state-keeper.ts';

export type { Progress, RunDeps, RunOptions } from './run-options.ts';

/**
 * Archive one app until every selected target is caught up or the deadline comes.
 * @throws LeaseHeldError when another run is archiving the app (nothing written)
 * @throws RunFailedError on a fatal error, after committing what was safely archived
 */
export async function runArchive(
  deps: RunDeps,
  options: RunOptions,
  signal?: AbortSignal,
): Promise<RunReport> {
  const { clock, logger, store } = deps;
  const report = emptyReport(options.runId, options.sdkAppId, clock.now());
  const keeper = await StateKeeper.open({
    store,
    sdkAppId: options.sdkAppId,
    runId: options.runId,
    clock,
    logger,
    leaseMs: options.leaseMs,
  });
  await rollBackPendingWrite(keeper, store, logger, report);

  const writer = new PartitionWriter({
    sdkAppId: options.sdkAppId,
    runId: options.runId,
    timeZone: options.timeZone,
    store,
  });
  let fatal: unknown;
  try {
    const targets = await planTargets(deps, options, keeper.state, report, signal);
    report.planMs = clock.now() - report.startedAtMs;
    await pageTargets(deps, options, keeper, writer, targets, report, signal);
  } catch (error) {
    fatal = error;
  }
  report.finishedAtMs = clock.now();
  report.serverFinishedAtMs = deps.api.serverNowMs();
  report.serverClockOffsetMs = deps.api.serverOffsetMs() ?? null;
  report.elapsedMs = report.finishedAtMs - report.startedAtMs;
  const stats = deps.apiStats?.();
  if (stats) {
    report.calls = { ...stats.requests };
    report.retries = stats.retries;
    report.throttles = stats.throttles;
  }
  if (fatal !== undefined) {
    report.done = false;
    report.fatalError = describe(fatal);
    await writeReport(store, report, options.timeZone, logger);
    await keeper.release().catch(() => undefined);
    if (fatal instanceof ArchiverError && !(fatal instanceof GiveUpError)) throw fatal;
    throw new RunFailedError(`Run ${options.runId} stopped: ${describe(fatal)}`, report, { cause: fatal });
  }
  await writeReport(store, report, options.timeZone, logger);
  await keeper.release();
  return report;
}

/** Keep the report beside the archive (`runs/…`), so every run leaves evidence. Best effort. */
async function writeReport(
  store: ObjectStore,
  report: RunReport,
  timeZone: string,
  logger: Logger,
): Promise<void> {
  const key = runReportKey({
    sdkAppId: report.sdkAppId,
    runId: report.runId,
    startedAtSeconds: Math.floor(report.startedAtMs / 1000),
    timeZone,
  });
  try {
    await store.put(key, new TextEncoder().encode(`${JSON.stringify(report)}\n`), {
      ifNoneMatch: '*',
      contentType: 'application/json',
    });
  } catch (error) {
    logger.warn('could not write the run report', { key, error: describe(error) });
  }
}
