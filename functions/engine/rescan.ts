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
import { gunzipSync } from 'node:zlib';
import type { SeqWindow } from '../domain/continuation.ts';
import { AbortedError, InconsistentAnswerError } from '../domain/errors.ts';
import { FingerprintTable, type TargetPrints } from '../domain/fingerprint-log.ts';
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
import type { PartitionWriter } from './partition-writer.ts';
import type { RunReport } from './report.ts';
import type { RunDeps, RunOptions } from './run-options.ts';
import type { StateKeeper } from './state-keeper.ts';

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** A revision row and the time it is filed under (the archive's time of the message). */
interface Revision {
  readonly record: ArchiveRecord;
  readonly filedAt: number;
}

/**
 * Run (or continue) the rescan cycle. Sets `report.rescan`; returns when the cycle is complete,
 * the deadline came or the signal fired (after committing what it found).
 * @throws the run-fatal errors of the client, after committing what was found before
 */
export async function rescanTargets(
  deps: RunDeps,
  options: RunOptions,
  keeper: StateKeeper,
  writer: PartitionWriter,
  report: RunReport,
  signal: AbortSignal | undefined,
  /** `fence` guards every object write (lease, hard stop); `stop` is the soft stop (no new page). */
  control: { fence: () => Promise<void>; stop?: AbortSignal | undefined } = { fence: async () => undefined },
): Promise<void> {
  const days = options.rescanDays ?? 0;
  report.rescan.days = days;
  if (days <= 0) return;
  report.rescan.complete = false;
  const { store, clock } = deps;
  const progressKey = rescanProgressKey(options.sdkAppId);
  const stored = await store.get(progressKey);
  const progress = parseRescanProgress(stored === undefined ? undefined : decoder.decode(stored.body));
  const observedAt = options.observedAtSec ?? Math.floor(report.startedAtMs / 1000);
  const cycle = chooseCycle({
    progress,
    localNowSec: observedAt,
    serverNowSec: Math.floor(deps.api.serverNowMs() / 1000),
    days,
    retentionDays: options.retentionDays ?? days,
    timeZone: options.timeZone,
  });
  const saveProgress = async (next: RescanProgress): Promise<void> => {
    await store.put(progressKey, encoder.encode(`${JSON.stringify(next)}\n`), {
      contentType: 'application/json',
    });
  };
  const inFlight = new Set<Promise<void>>();
  let lastCheckpoint = clock.now();
  let fatal: unknown;

  const checkpoint = async (): Promise<void> => {
    await Promise.all(inFlight);
    await commitCheckpoint({ keeper, writer, report, fence: control.fence }, []);
    lastCheckpoint = clock.now();
    await control.fence();
    await saveProgress({ ...progress, cycle: { ...cycle } });
  };
  const stopping = (): boolean =>
    fatal !== undefined ||
    signal?.aborted === true ||
    control.stop?.aborted === true ||
    (options.deadlineMs !== null && clock.now() >= options.deadlineMs);

  for (; cycle.dayIndex < cycle.days.length; cycle.dayIndex++, cycle.targetsDone = 0) {
    const dt = cycle.days[cycle.dayIndex] as string;
    const targets = currentGenerations(await loadDay(store, options.sdkAppId, dt));
    // Targets finish in any order; `targetsDone` only advances over a prefix that is finished.
    const finished = new Set<number>();
    const advance = (): void => {
      while (finished.has(cycle.targetsDone)) finished.delete(cycle.targetsDone++);
    };
    for (let index = cycle.targetsDone; index < targets.length; index++) {
      const prints = targets[index] as TargetPrints;
      const windows = rescanWindows(prints, cycle);
      let open = windows.length;
      const done = (): void => {
        finished.add(index);
        advance();
      };
      if (open === 0) done();
      for (const window of windows) {
        for (;;) {
          if (stopping()) break;
          if (checkpointDue(writer, options, lastCheckpoint, clock.now())) {
            await checkpoint();
            continue;
          }
          if (inFlight.size >= options.concurrency) {
            await Promise.race(inFlight);
            continue;
          }
          break;
        }
        if (stopping()) break;
        const task = compareWindow(deps, options, prints, cycle, window, observedAt, report, signal).then(
          (revisions) => {
            addRevisions(writer, revisions);
            report.messages += revisions.length;
            if (--open === 0) done();
          },
          (error: unknown) => {
            if (isRunFatal(error)) fatal = error;
            else if (!(error instanceof AbortedError)) {
              // This target is not compared in this cycle; the report says so and the rest goes on.
              if (!isSkipTarget(error)) {
                report.errors.push({
                  groupId: prints.target.groupId,
                  topicId: prints.target.topicId,
                  error: `rescan: ${describeError(error)}`,
                });
              }
              if (--open === 0) done();
            }
          },
        );
        const tracked = task.then(() => {
          inFlight.delete(tracked);
        });
        inFlight.add(tracked);
      }
      if (stopping()) break;
    }
    await Promise.all(inFlight);
    if (stopping()) break;
  }
  await checkpoint();
  if (fatal !== undefined) throw fatal;
  if (cycle.dayIndex >= cycle.days.length) {
    await control.fence();
    await saveProgress({ version: 1, cycle: null, lastCompletedAtSec: observedAt });
    report.rescan.complete = true;
  }
}

/** Revision rows to the writer, each filed under the archive's time of its message. */
function addRevisions(writer: PartitionWriter, revisions: readonly Revision[]): void {
  writer.addAll(
    revisions.map((r) => r.record),
    new Map(revisions.map((r) => [r.record, r.filedAt])),
  );
}

/** Every fingerprint log of one day, merged. */
async function loadDay(store: RunDeps['store'], sdkAppId: number, dt: string): Promise<TargetPrints[]> {
  const table = new FingerprintTable();
  for await (const key of store.list(fingerprintPartitionPrefix(sdkAppId, dt))) {
    if (!key.endsWith('.fp.gz')) continue;
    const object = await store.get(key);
    if (object === undefined) continue;
    table.addLog(gunzipSync(object.body).toString('utf8'), key);
  }
  return table.targets();
}

/**
 * Fetch one window with recalled messages and return the revision rows for what changed. Every
 * decision about a message the archive holds uses the fingerprint log's time, not the served one
 * (a deleted message may be served with its time zeroed: see `judgeRescanned` in rescan-plan.ts).
 */
async function compareWindow(
  deps: RunDeps,
  options: RunOptions,
  prints: TargetPrints,
  cycle: RescanCycle,
  window: SeqWindow,
  observedAt: number,
  report: RunReport,
  signal: AbortSignal | undefined,
): Promise<Revision[]> {
  const { groupId, topicId, generation } = prints.target;
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
        const upper = await compareWindow(
          deps,
          options,
          prints,
          cycle,
          { lo: reqMsgSeq - half + 1, hi: reqMsgSeq },
          observedAt,
          report,
          signal,
        );
        const lower = await compareWindow(
          deps,
          options,
          prints,
          cycle,
          { lo: window.lo, hi: reqMsgSeq - half },
          observedAt,
          report,
          signal,
        );
        return [...upper, ...lower, ...changesIn(seen)];
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
  return changesIn(seen);

  function changesIn(messages: Map<number, RawMessage>): Revision[] {
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
}
