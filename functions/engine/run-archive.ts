/**
 * The archive use case, orchestrated: take the lease, roll back an uncommitted checkpoint of an
 * earlier run, plan the targets (`plan-targets.ts`), page them (`page-loop.ts`, `fetch-window.ts`)
 * with checkpoints (`checkpoint.ts`), rescan the last days for changes (`rescan.ts`), then write
 * the run report and release the lease.
 *
 * No work outlives the call: when it returns or throws, every request it started has settled. The
 * hard stop (`options.hardStopAtMs`) aborts in-flight requests and forbids further writes; every
 * object write is fenced by the lease (checked on this run's clock, with a margin, right before it).
 */
import { AbortedError, ArchiverError, GiveUpError } from '../domain/errors.ts';
import type { HistoryFilesApi } from '../domain/history-file.ts';
import { fenceMarginMs } from '../domain/lease.ts';
import { runReportKey } from '../domain/partition.ts';
import type { RoamApi } from '../domain/ports.ts';
import { rollBackC2cBeforeMedia } from './c2c-media.ts';
import { type C2cRunOptions, c2cForRun } from './c2c-pass.ts';
import { withC2c } from './c2c-report.ts';
import { type CallbackRunOptions, callbacksForRun, withCallbacks } from './callback-materialize.ts';
import { rollBackPendingWrite, sweepRolledBack } from './checkpoint.ts';
import { describeError as describe, HardStopError, RunFailedError } from './errors.ts';
import { fetchGroupHistoryFiles, withHistoryFiles } from './history-files.ts';
import {
  captureForRun,
  DEFAULT_IDENTITY_OPTIONS,
  type IdentityRunOptions,
  withIdentities,
} from './identity-capture.ts';
import { IdentityCommits } from './identity-commits.ts';
import { IdentityPrefetch } from './identity-prefetch.ts';
import { IdentityTap } from './identity-tap.ts';
import { MediaQueueWriter } from './media-queue-writer.ts';
import { DEFAULT_HEADROOM_DAYS } from './media-report.ts';
import { MediaStage } from './media-stage.ts';
import { pageTargets, type RunContext, reportRemaining } from './page-loop.ts';
import { PartitionWriter } from './partition-writer.ts';
import { obtainPlan, settlePlan } from './plan-carry.ts';
import { planTargets } from './plan-targets.ts';
import { emptyReport, type RunReport, runReportJson } from './report.ts';
import { rescanTargets } from './rescan.ts';
import { type RunDeps, type RunOptions, runObservedAt } from './run-options.ts';
import { StateKeeper } from './state-keeper.ts';
import { WorkFeed } from './work-feed.ts';

export type { Progress, RunDeps, RunOptions } from './run-options.ts';

/** A run's options with the identity capture's (issue 24; absent: no capture) and the one-to-one pass's (issue 26). */
export type ArchiveOptions = RunOptions & {
  identities?: IdentityRunOptions;
  c2c?: C2cRunOptions;
  /** Set for an app with a `callbackToken`: materialize its recorded callbacks (callback-materialize.ts). */
  callbacks?: CallbackRunOptions;
};
/**
 * A run's ports with the one-to-one history API (required when `options.c2c` is set), the hourly
 * C2C files (`c2c.fromHistoryFiles`, functions/engine/c2c-discovery.ts) and the hourly group files
 * (`historyFiles.groups`, functions/engine/history-files.ts: fetched when given).
 */
export type ArchiveDeps = RunDeps & {
  roam?: RoamApi;
  historyFiles?: HistoryFilesApi | undefined;
  groupHistoryFiles?: HistoryFilesApi | undefined;
};

/**
 * Archive one app until every selected target is caught up, the deadline comes or `stop` fires.
 * @param signal aborts at once (in-flight requests too); nothing is committed after it
 * @param stop a soft stop (Ctrl-C): no new page; in-flight pages drain, the checkpoint commits
 * @throws LeaseHeldError when another run is archiving the app (nothing written)
 * @throws LeaseLostError when another run took the state over (this run stopped writing)
 * @throws RunFailedError on a fatal error or the hard stop, after committing what was safely archived
 */
export async function runArchive(
  deps: ArchiveDeps,
  options: ArchiveOptions,
  signal?: AbortSignal,
  stop?: AbortSignal,
): Promise<RunReport> {
  const { clock } = deps;
  const report = emptyReport(options.runId, options.sdkAppId, clock.now());
  // The hard stop is this wrapper's: `archive` below does the work.
  const hardStop = new AbortController();
  const timers = new AbortController();
  if (options.hardStopAtMs != null) {
    const at = options.hardStopAtMs;
    clock.sleep(Math.max(0, at - clock.now()), timers.signal).then(
      () => hardStop.abort(new HardStopError(`the hard stop came at ${new Date(at).toISOString()}`)),
      () => undefined,
    );
  }
  const runSignal = signal === undefined ? hardStop.signal : AbortSignal.any([signal, hardStop.signal]);
  try {
    return await archive(deps, options, report, { signal: runSignal, hardStop: hardStop.signal, stop });
  } finally {
    timers.abort();
  }
}

/** How a run stops: its signal (the caller's and the hard stop), the hard stop alone, the soft stop. */
interface RunSignals {
  /** Aborts at once (in-flight requests too); nothing is committed after it. */
  readonly signal: AbortSignal;
  readonly hardStop: AbortSignal;
  /** A soft stop (Ctrl-C): no new page; in-flight pages drain, the checkpoint commits. */
  readonly stop: AbortSignal | undefined;
}

async function archive(
  runDeps: ArchiveDeps,
  options: ArchiveOptions,
  report: RunReport,
  signals: RunSignals,
): Promise<RunReport> {
  const { signal, hardStop, stop } = signals;
  // The identity capture learns the run's senders and groups from the calls the run makes anyway.
  const tap = options.identities?.enabled ? new IdentityTap(runDeps.api) : undefined;
  const deps = tap ? { ...runDeps, api: tap } : runDeps;
  const { clock, logger, store } = deps;
  const keeper = await StateKeeper.open({
    store,
    sdkAppId: options.sdkAppId,
    runId: options.runId,
    clock,
    logger,
    leaseMs: options.leaseMs,
    processes: deps.processes,
    layoutBounds: options.layoutBounds,
  });
  const margin = fenceMarginMs(options.leaseMs);
  const fence = async (): Promise<void> => {
    if (hardStop.aborted) throw hardStop.reason;
    await keeper.ensureLease(margin);
  };
  await rollBackPendingWrite(keeper, deps, report);
  await sweepRolledBack(keeper, deps);

  const writerOptions = {
    sdkAppId: options.sdkAppId,
    runId: options.runId,
    timeZone: options.timeZone,
    store,
  };
  let fatal: unknown;
  const run: RunOptions = {
    ...options,
    observedAtSec: runObservedAt(options, report.startedAtMs),
  };
  let media: MediaStage | undefined;
  let prefetch: IdentityPrefetch | undefined;
  let writer = new PartitionWriter(writerOptions);
  try {
    // A one-to-one checkpoint a killed run left holds a media queue object: gone before the stage lists the queue.
    const c2cRolledBack = await rollBackC2cBeforeMedia({ ...deps, fence }, options);
    media = await openMediaStage({ deps, options: run, keeper, signal, fence });
    if (media) writer = new MediaQueueWriter(writerOptions, media);
    prefetch = tap && prefetchFor({ deps, options, run, tap, signals, fence });
    const context = { deps, options: run, keeper, writer, report, signal, fence, observer: prefetch };
    const c2cOptions = options.c2c;
    // The one-to-one pass runs before the media stage finishes: its media go through the stage too.
    const c2cPass =
      c2cOptions &&
      (async () => {
        const observedAtSec = run.observedAtSec ?? Math.floor(report.startedAtMs / 1000);
        const at = { fence, signal, stop, observedAtSec, media };
        const c2c = await c2cForRun(deps, { ...run, c2c: c2cOptions }, at);
        c2c.rolledBackObjects += c2cRolledBack;
        withC2c(report).c2c = c2c;
      });
    await planPageAndRescan(context, signals, media, c2cPass);
    const c2c = withC2c(report).c2c;
    if (c2c) report.done &&= c2c.done;
    if (options.callbacks) {
      const callbacks = { ...run, callbacks: options.callbacks };
      withCallbacks(report).callbacks = await callbacksForRun(deps, callbacks, { fence, stop });
    }
    if (deps.groupHistoryFiles) {
      const api = deps.groupHistoryFiles;
      const files = await fetchGroupHistoryFiles({ ...deps, api }, options, { fence, signal, stop });
      withHistoryFiles(report).historyFiles = files;
      report.done &&= files.done;
    }
    if (tap) {
      const at = { options: { ...run, identities: options.identities }, known: keeper.targets };
      const prefetched = await prefetch?.drain();
      const capture = { tap, ...at, fence, signal, stop, prefetched };
      withIdentities(report).identities = await captureForRun(deps, capture);
    }
  } catch (error) {
    // No lookup outlives the run (what they saw is dropped: looked up again next run).
    await prefetch?.drain().catch(() => undefined);
    if (hardStop.aborted) fatal = hardStop.reason;
    else if (!(stop?.aborted && error instanceof AbortedError)) fatal = error;
    if (media) {
      media.close();
      report.media = await media.finish().catch(() => media?.report);
    }
  }
  stampReport(deps, report);
  // The report is an object write too: fenced by the lease (not by the hard stop: it is one small PUT).
  const reportFence = () => keeper.ensureLease(margin);
  const ending = { deps, options, keeper, writer, report, fence: reportFence };
  if (fatal !== undefined) return await failRun(ending, fatal);
  await writeReport(deps, report, { timeZone: options.timeZone, fence: reportFence });
  await keeper.release();
  return report;
}

/**
 * The run's work once the state is open: plan while paging (`pageTargets` starts on each target
 * as planning decides it), plan afresh when a carried plan is done, rescan, run the one-to-one
 * pass (`c2cPass`, whose media go through the stage too), finish the media stage, and carry or
 * drop the plan (the pass's `done` is not the plan's: the caller adds it).
 */
async function planPageAndRescan(
  run: RunContext,
  signals: RunSignals,
  media: MediaStage | undefined,
  c2cPass?: () => Promise<void>,
): Promise<void> {
  const { deps, options, keeper, report, fence } = run;
  const { signal, stop } = signals;
  const { clock } = deps;
  // Paging starts on each target as soon as planning decides it. A soft stop during planning
  // abandons the plan (what was fetched is committed); a paging failure stops planning too.
  const planAbort = new AbortController();
  const planSignal = AbortSignal.any([signal, planAbort.signal, ...(stop ? [stop] : [])]);
  let planStartedMs = clock.now();
  const feed = new WorkFeed();
  const planning = obtainPlan({ deps, options, keeper, report, signal: planSignal, feed }).then(
    (made) => {
      report.planMs = clock.now() - report.startedAtMs;
      feed.close();
      return made;
    },
    (error: unknown) => {
      feed.close(error);
      throw error;
    },
  );
  // Handled here so that a failure waits, unreported, until paging has committed what it fetched.
  planning.catch(() => undefined);
  try {
    await pageTargets(run, feed.work, { stop, planning: feed });
  } catch (error) {
    planAbort.abort(error);
    await planning.catch(() => undefined);
    throw error;
  }
  // Paging may end first (the deadline): the plan is still finished, and carried to the next run,
  // and what it decided since paging ended is left for that run too.
  const pagingEndedFirst = feed.open;
  let plan = await planning;
  if (pagingEndedFirst) reportRemaining(feed.work, report);
  if (plan.carried && report.done) {
    // The carried plan is done, but messages may have arrived since it was made: a run is done
    // only when a fresh plan finds nothing left. Plan afresh now if there is time, else next time.
    await settlePlan({ deps, options, keeper, fence }, { ...plan, done: true, madeAtMs: planStartedMs });
    const timeLeft = options.deadlineMs === null || clock.now() < options.deadlineMs;
    report.done = false;
    if (timeLeft && !stop?.aborted) {
      deps.logger.info('the carried plan is done; planning afresh for what arrived since');
      planStartedMs = clock.now();
      plan = {
        planned: await planTargets({ deps, options, known: keeper.targets, report, signal: planSignal }),
        carried: false,
      };
      await pageTargets(run, plan.planned.work, { stop });
    }
  }
  // New history first: the rescan starts only once every target is caught up.
  report.rescan.days = options.rescanDays ?? 0;
  if (report.rescan.days > 0) {
    report.rescan.complete = false;
    if (report.done) await rescanTargets(run, { stop });
    report.done &&= report.rescan.complete;
  }
  await c2cPass?.();
  if (media) {
    report.media = await media.finish();
    // Work left for lack of time makes the run not done (run again); retries wait for the next run.
    const left = report.media.pending - report.media.retrying + report.media.pendingBatches;
    if (left > 0) report.done = false;
  }
  await settlePlan({ deps, options, keeper, fence }, { ...plan, done: report.done, madeAtMs: planStartedMs });
}

/**
 * Identity lookups while paging (identity-prefetch.ts), on the capture's options and clock, their
 * rows committed a slice at a time (identity-commits.ts) by the commits the capture finishes.
 */
function prefetchFor(at: {
  deps: RunDeps;
  options: ArchiveOptions;
  run: RunOptions;
  tap: IdentityTap;
  signals: RunSignals;
  fence: () => Promise<void>;
}): IdentityPrefetch {
  const { deps, options, run, tap, signals, fence } = at;
  const { clock, logger, store } = deps;
  const observedAt = runObservedAt(run, clock.now());
  const { sdkAppId, timeZone } = options;
  const identities = options.identities ?? DEFAULT_IDENTITY_OPTIONS;
  return new IdentityPrefetch({
    tap,
    logger,
    sdkAppId,
    observedAt,
    options: identities,
    commits: new IdentityCommits(
      { store, logger, fence, sdkAppId, timeZone, observedAt },
      identities.sliceRows,
    ),
    mayStart: () =>
      !signals.stop?.aborted && (options.deadlineMs === null || clock.now() < options.deadlineMs),
    signal: signals.signal,
  });
}

/** The run's end times, the server's clock and the client's counters, into the report. */
function stampReport(deps: RunDeps, report: RunReport): void {
  report.finishedAtMs = deps.clock.now();
  report.serverFinishedAtMs = deps.api.serverNowMs();
  report.serverClockOffsetMs = deps.api.serverOffsetMs() ?? null;
  report.elapsedMs = report.finishedAtMs - report.startedAtMs;
  const stats = deps.apiStats?.();
  if (stats) {
    report.calls = { ...stats.requests };
    report.retries = stats.retries;
    report.throttles = stats.throttles;
  }
}

/**
 * A run that stopped on `fatal`: what this checkpoint buffered or wrote is not committed (its
 * objects are rolled back next run); the report says so, the lease is released, and the error is
 * thrown (an ArchiverError of its own kind as is, else wrapped in RunFailedError with the report).
 */
async function failRun(run: Omit<RunContext, 'signal'>, fatal: unknown): Promise<never> {
  const { deps, options, keeper, writer, report, fence } = run;
  report.messages -= writer.uncommittedRecords;
  writer.discard();
  report.done = false;
  report.fatalError = describe(fatal);
  await writeReport(deps, report, { timeZone: options.timeZone, fence });
  await keeper.release().catch(() => undefined);
  if (
    fatal instanceof ArchiverError &&
    !(fatal instanceof GiveUpError) &&
    !(fatal instanceof HardStopError)
  ) {
    throw fatal;
  }
  throw new RunFailedError(`Run ${options.runId} stopped: ${describe(fatal)}`, report, { cause: fatal });
}

/** The media stage, when media copying is on; it recovers what a killed run left first. */
async function openMediaStage(
  run: Pick<RunContext, 'deps' | 'options' | 'keeper' | 'signal' | 'fence'>,
): Promise<MediaStage | undefined> {
  const { deps, options, keeper, signal, fence } = run;
  const media = options.media;
  if (!media?.enabled) return undefined;
  if (!deps.media) throw new ArchiverError('media copying is enabled but no media downloader was composed');
  return MediaStage.open(
    {
      fetcher: deps.media.fetcher,
      store: deps.media.store,
      clock: deps.clock,
      logger: deps.logger,
      serverNowMs: () => deps.api.serverNowMs(),
    },
    {
      sdkAppId: options.sdkAppId,
      runId: options.runId,
      timeZone: options.timeZone,
      concurrency: media.concurrency,
      imageSizes: media.imageSizes,
      retentionDays: media.retentionDays,
      headroomDays: media.headroomDays ?? DEFAULT_HEADROOM_DAYS,
      deadlineMs: options.deadlineMs,
      leaseMs: options.leaseMs,
      renewEveryMs: Math.max(100, Math.min(options.checkpointIntervalMs, options.leaseMs / 3)),
    },
    keeper,
    { signal, fence },
  );
}

/** Keep the report beside the archive (`runs/…`), so every run leaves evidence. Best effort. */
async function writeReport(
  deps: Pick<RunDeps, 'store' | 'logger'>,
  report: RunReport,
  how: { timeZone: string; fence: () => Promise<void> },
): Promise<void> {
  const { store, logger } = deps;
  const { timeZone, fence } = how;
  const key = runReportKey({
    sdkAppId: report.sdkAppId,
    runId: report.runId,
    startedAtSeconds: Math.floor(report.startedAtMs / 1000),
    timeZone,
  });
  try {
    await fence();
    await store.put(key, new TextEncoder().encode(runReportJson(report)), {
      ifNoneMatch: '*',
      contentType: 'application/json',
    });
  } catch (error) {
    logger.warn('could not write the run report', { key, error: describe(error) });
  }
}
