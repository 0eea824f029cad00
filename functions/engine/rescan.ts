/**
 * The rescan: after new history, re-read the last `rescanDays` of every target with
 * `WithRecalledMsg` 1, compare each archived message's latest revision (from the fingerprint logs)
 * with what the server shows now, and append one new revision row per change. Same commit protocol
 * as new messages (`checkpoint.ts`): a revision row and its fingerprint-log entry are written in
 * one checkpoint, so after a kill the next run either sees the revision (and writes nothing) or
 * rolls it back (and finds the change again): exactly one row per (message, revision).
 *
 * One day of the window is held in memory at a time (a {@link FingerprintTable}, ~25 bytes per
 * message); the cycle's progress (`rescan/…/progress.json`) lets a deadline or a kill resume it.
 */
import type { SeqWindow } from '../domain/continuation.ts';
import { AbortedError, InconsistentAnswerError } from '../domain/errors.ts';
import { FingerprintTable, type TargetPrints } from '../domain/fingerprint-log.ts';
import { gunzipText } from '../domain/ndjson-gzip.ts';
import { judgePage, retentionHorizonSec } from '../domain/page-trust.ts';
import { fingerprintPartitionPrefix, rescanProgressKey } from '../domain/partition.ts';
import { type ArchiveRecord, toRecord } from '../domain/record.ts';
import {
  chooseCycle,
  currentGenerations,
  judgeRescanned,
  parseRescanProgress,
  RETENTION_MARGIN_SECONDS,
  type RescanCycle,
  type RescanProgress,
  rescanWindows,
} from '../domain/rescan-plan.ts';
import { isRunFatal, isShrinkRequest, isSkipTarget } from '../domain/retry-policy.ts';
import { contentFingerprint } from '../domain/revisions.ts';
import { type RawMessage, TENCENT_APIS } from '../domain/tencent-types.ts';
import { checkpointDue, commitCheckpoint } from './checkpoint.ts';
import { describeError } from './errors.ts';
import type { RunContext } from './page-loop.ts';
import type { PartitionWriter } from './partition-writer.ts';
import type { RunReport } from './report.ts';
import { type RunDeps, type RunOptions, runObservedAt } from './run-options.ts';

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** A revision row and the time it is filed under (the archive's time of the message). */
interface Revision {
  readonly record: ArchiveRecord;
  readonly filedAt: number;
}

/** How the rescan is stopped softly. */
export interface RescanControl {
  /** The soft stop (Ctrl-C): no new page; what was found is committed. */
  readonly stop?: AbortSignal | undefined;
}

/**
 * Run (or continue) the rescan cycle. Sets `report.rescan`; returns when the cycle is complete,
 * the deadline came or the signal fired (after committing what it found). `run.fence` guards every
 * object write (lease, hard stop).
 * @throws the run-fatal errors of the client, after committing what was found before
 */
export async function rescanTargets(run: RunContext, control: RescanControl = {}): Promise<void> {
  const { deps, options, report } = run;
  const days = options.rescanDays ?? 0;
  report.rescan.days = days;
  if (days <= 0) return;
  report.rescan.complete = false;
  const progressKey = rescanProgressKey(options.sdkAppId);
  const stored = await deps.store.get(progressKey);
  const progress = parseRescanProgress(stored === undefined ? undefined : decoder.decode(stored.body));
  const observedAt = runObservedAt(options, report.startedAtMs);
  const cycle = chooseCycle({
    progress,
    localNowSec: observedAt,
    serverNowSec: Math.floor(deps.api.serverNowMs() / 1000),
    days,
    retentionDays: options.retentionDays ?? days,
    timeZone: options.timeZone,
  });
  await new RescanPass(run, control, { progressKey, progress, cycle, observedAt }).scan();
}

/** Where the cycle stands, as read at the start of this run. */
interface CycleStart {
  readonly progressKey: string;
  readonly progress: RescanProgress;
  /** Advanced as days and targets are done; saved with every checkpoint. */
  readonly cycle: RescanCycle;
  readonly observedAt: number;
}

/** One run's pass over the cycle: the windows in flight, the last checkpoint, the first fatal error. */
class RescanPass {
  private readonly inFlight = new Set<Promise<void>>();
  private lastCheckpoint: number;
  private fatal: unknown;

  public constructor(
    private readonly run: RunContext,
    private readonly control: RescanControl,
    private readonly start: CycleStart,
  ) {
    this.lastCheckpoint = run.deps.clock.now();
  }

  public async scan(): Promise<void> {
    const { cycle, observedAt } = this.start;
    for (; cycle.dayIndex < cycle.days.length; cycle.dayIndex++, cycle.targetsDone = 0) {
      await this.scanDay(cycle.days[cycle.dayIndex] as string);
      await Promise.all(this.inFlight);
      if (this.stopping()) break;
    }
    await this.checkpoint();
    if (this.fatal !== undefined) throw this.fatal;
    if (cycle.dayIndex >= cycle.days.length) {
      await this.run.fence();
      await this.saveProgress({ version: 1, cycle: null, lastCompletedAtSec: observedAt });
      this.run.report.rescan.complete = true;
    }
  }

  private async saveProgress(next: RescanProgress): Promise<void> {
    await this.run.deps.store.put(this.start.progressKey, encoder.encode(`${JSON.stringify(next)}\n`), {
      contentType: 'application/json',
    });
  }

  private async checkpoint(): Promise<void> {
    await Promise.all(this.inFlight);
    await commitCheckpoint(this.run, []);
    this.lastCheckpoint = this.run.deps.clock.now();
    await this.run.fence();
    await this.saveProgress({ ...this.start.progress, cycle: { ...this.start.cycle } });
  }

  private stopping(): boolean {
    const { signal, options, deps } = this.run;
    return (
      this.fatal !== undefined ||
      signal?.aborted === true ||
      this.control.stop?.aborted === true ||
      (options.deadlineMs !== null && deps.clock.now() >= options.deadlineMs)
    );
  }

  /** Every target of one day, from the first one not yet done. */
  private async scanDay(dt: string): Promise<void> {
    const { cycle } = this.start;
    const { deps, options } = this.run;
    // Logs this run wrote hold only prints it observed, after the cycle began: never candidates.
    const own =
      options.observedAtSec !== undefined && options.observedAtSec >= cycle.startedAtSec
        ? options.runId
        : undefined;
    const targets = currentGenerations(await loadDay(deps.store, options.sdkAppId, { dt, own }));
    // Targets finish in any order; `targetsDone` only advances over a prefix that is finished.
    const finished = new Set<number>();
    const advance = (): void => {
      while (finished.has(cycle.targetsDone)) finished.delete(cycle.targetsDone++);
    };
    for (let index = cycle.targetsDone; index < targets.length; index++) {
      await this.scanTarget(targets[index] as TargetPrints, () => {
        finished.add(index);
        advance();
      });
      if (this.stopping()) break;
    }
  }

  /** Start comparing each window of one target; `done` runs once the last of them settled. */
  private async scanTarget(prints: TargetPrints, done: () => void): Promise<void> {
    const windows = rescanWindows(prints, this.start.cycle);
    let open = windows.length;
    if (open === 0) done();
    const settled = (): void => {
      if (--open === 0) done();
    };
    for (const window of windows) {
      await this.waitForSlot();
      if (this.stopping()) break;
      this.startWindow(prints, window, settled);
    }
  }

  /** Commit when a checkpoint is due, and wait while every slot is taken (or until stopping). */
  private async waitForSlot(): Promise<void> {
    const { writer, options, deps } = this.run;
    for (;;) {
      if (this.stopping()) return;
      if (checkpointDue(writer, options, this.lastCheckpoint, deps.clock.now())) {
        await this.checkpoint();
        continue;
      }
      if (this.inFlight.size < options.concurrency) return;
      await Promise.race(this.inFlight);
    }
  }

  /** Compare one window in the background; its revision rows go to the writer as it settles. */
  private startWindow(prints: TargetPrints, window: SeqWindow, settled: () => void): void {
    const { deps, options, report, signal, writer } = this.run;
    const scan = {
      deps,
      options,
      prints,
      cycle: this.start.cycle,
      observedAt: this.start.observedAt,
      report,
      signal,
    };
    const task = compareWindow(scan, window).then(
      (revisions) => {
        addRevisions(writer, revisions);
        report.messages += revisions.length;
        settled();
      },
      (error: unknown) => {
        if (isRunFatal(error)) this.fatal = error;
        else if (!(error instanceof AbortedError)) {
          // This target is not compared in this cycle; the report says so and the rest goes on.
          if (!isSkipTarget(error)) {
            report.errors.push({
              groupId: prints.target.groupId,
              topicId: prints.target.topicId,
              error: `rescan: ${describeError(error)}`,
            });
          }
          settled();
        }
      },
    );
    const tracked = task.then(() => {
      this.inFlight.delete(tracked);
    });
    this.inFlight.add(tracked);
  }
}

/** Revision rows to the writer, each filed under the archive's time of its message. */
function addRevisions(writer: PartitionWriter, revisions: readonly Revision[]): void {
  writer.addAll(
    revisions.map((r) => r.record),
    new Map(revisions.map((r) => [r.record, r.filedAt])),
  );
}

/**
 * Every fingerprint log of one day, merged; none when every log of the day is `own`'s (the run's
 * own logs hold no candidate: a first run's rescan then reads nothing back).
 */
async function loadDay(
  store: RunDeps['store'],
  sdkAppId: number,
  day: { dt: string; own: string | undefined },
): Promise<TargetPrints[]> {
  const keys: string[] = [];
  for await (const key of store.list(fingerprintPartitionPrefix(sdkAppId, day.dt)))
    if (key.endsWith('.fp.gz')) keys.push(key);
  const own = day.own;
  const isOwn = (key: string) => {
    const name = key.slice(key.lastIndexOf('/') + 1);
    const part = name.slice(`part-${own}-`.length, -'.fp.gz'.length);
    return name.startsWith(`part-${own}-`) && /^[0-9]+$/.test(part);
  };
  if (own !== undefined && keys.every(isOwn)) return [];
  const table = new FingerprintTable();
  for (const key of keys) {
    const object = await store.get(key);
    if (object === undefined) continue;
    table.addLog(gunzipText(object.body), key);
  }
  return table.targets();
}

/** One target's comparison in this cycle: what a window is compared with, and counted into. */
interface WindowScan {
  readonly deps: RunDeps;
  readonly options: RunOptions;
  /** The archive's latest revision of each message of the target. */
  readonly prints: TargetPrints;
  readonly cycle: RescanCycle;
  readonly observedAt: number;
  readonly report: RunReport;
  readonly signal: AbortSignal | undefined;
}

/**
 * Fetch one window with recalled messages and return the revision rows for what changed. Every
 * decision about a message the archive holds uses the fingerprint log's time, not the served one
 * (a deleted message may be served with its time zeroed: see `judgeRescanned` in rescan-plan.ts).
 */
async function compareWindow(scan: WindowScan, window: SeqWindow): Promise<Revision[]> {
  const { deps, options, prints, report, signal } = scan;
  const { groupId, topicId } = prints.target;
  const seen = new Map<number, RawMessage>();
  let reqMsgSeq = window.hi;
  let expired = false;
  while (reqMsgSeq >= window.lo) {
    let page: Awaited<ReturnType<RunDeps['api']['getHistory']>>;
    const reqMsgNumber = reqMsgSeq - window.lo + 1;
    try {
      page = await deps.api.getHistory(
        { groupId, topicId: topicId ?? undefined, reqMsgSeq, reqMsgNumber, withRecalledMsg: true },
        signal,
      );
    } catch (error) {
      if (isShrinkRequest(error) && reqMsgNumber > 1) {
        // 10018: too large an answer; take the window in halves.
        const half = Math.ceil(reqMsgNumber / 2);
        const upper = await compareWindow(scan, { lo: reqMsgSeq - half + 1, hi: reqMsgSeq });
        const lower = await compareWindow(scan, { lo: window.lo, hi: reqMsgSeq - half });
        return [...upper, ...lower, ...changesIn(scan, seen)];
      }
      throw error;
    }
    report.rescan.calls++;
    const inside = page.messages.filter((m) => m.MsgSeq >= window.lo && m.MsgSeq <= reqMsgSeq);
    // The same trust rules as new history: an answer that contradicts itself claims nothing.
    const verdict = judgePage({
      isFinished: page.isFinished,
      items: inside.map((m) => ({
        time: prints.find(m.MsgSeq)?.msgTime ?? m.MsgTimeStamp,
        place: Number(m.IsPlaceMsg ?? 0),
      })),
      rejected: (page.rejected ?? []).length,
      horizonSec: retentionHorizonSec(deps.api.serverNowMs(), options.retentionDays),
    });
    if (verdict.kind === 'distrust') {
      throw new InconsistentAnswerError(
        TENCENT_APIS.groupMsgGetSimple,
        `${verdict.reason} at ReqMsgSeq ${reqMsgSeq} of ${topicId ?? groupId} during the rescan; its changes are not recorded this run`,
      );
    }
    if (verdict.kind === 'expired' || page.isFinished === 2) expired = true;
    for (const m of inside) seen.set(m.MsgSeq, m);
    if (page.isFinished !== 0 || inside.length === 0) break;
    reqMsgSeq = Math.min(...inside.map((m) => m.MsgSeq)) - 1;
  }
  if (expired) return [];
  return changesIn(scan, seen);
}

/** The revision rows for the messages served that changed since the archive's latest revision; empties `messages`. */
function changesIn(scan: WindowScan, messages: Map<number, RawMessage>): Revision[] {
  const { deps, options, prints, cycle, observedAt, report } = scan;
  const { groupId, topicId, generation } = prints.target;
  const horizon =
    Math.floor(deps.api.serverNowMs() / 1000) -
    Math.round((options.retentionDays ?? options.rescanDays ?? 0) * 86_400) +
    RETENTION_MARGIN_SECONDS;
  const out: Revision[] = [];
  for (const [seq, raw] of messages) {
    const archived = prints.find(seq);
    if (archived === undefined) continue;
    const ctx = { sdkAppId: options.sdkAppId, groupId, topicId, generation, observedAt };
    const current = toRecord(raw, ctx);
    const state = { place: current.is_place_msg, fingerprint: contentFingerprint(current) };
    const verdict = judgeRescanned(archived, state, cycle, horizon);
    if (verdict.kind === 'skip') continue;
    report.rescan.checked++;
    if (verdict.kind === 'same') continue;
    report.rescan[verdict.change]++;
    // The row exactly as served; filed under the archive's time (the original message's day).
    out.push({
      record: { ...current, revision: verdict.revision, change: verdict.change },
      filedAt: verdict.filedAt,
    });
  }
  messages.clear();
  return out;
}
