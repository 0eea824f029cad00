/**
 * The one-to-one rescan (issue 26, deliverable 4; docs/one-to-one.md "Changes after archiving: the
 * rescan"): a pair's recent window, archived by earlier runs, re-paged for changes. The pass
 * (functions/engine/c2c-pass.ts) calls {@link rescanPair} for each pair it hands out, after the
 * pair's pull; the rules of what is a change are pure (functions/domain/c2c-revision.ts).
 */
import type { C2cPairState } from '../domain/c2c-pairs.ts';
import { serializeC2cRecord } from '../domain/c2c-record.ts';
import { type C2cPrint, c2cRevisions, prunePrints } from '../domain/c2c-revision.ts';
import type { RoamApi } from '../domain/ports.ts';
import { isSkipTarget } from '../domain/retry-policy.ts';
import type { RoamPage } from '../domain/tencent-types.ts';
import type { C2cReport } from './c2c-report.ts';

/** `MaxCnt` of every rescan call (the pull's: the 13 KiB answer cap decides the page size anyway). */
const MAX_CNT = 100;

/** What the rescan needs of the pass: its API, report, buffer, clock of stops and checkpoints. */
export interface C2cRescanHost {
  readonly roam: RoamApi;
  readonly signal: AbortSignal;
  readonly sdkAppId: number;
  /** Epoch seconds of the run: the revision rows' `observed_at`. */
  readonly observedAtSec: number;
  readonly report: C2cReport;
  /** The rescan window's start on the server's clock (epoch seconds), or null when the rescan is off. */
  rescanStart(): number | null;
  /** The run stops (failure, abort, stop, deadline). */
  stopped(): boolean;
  /** Buffers one row's line under its date, for the next checkpoint. */
  bufferRow(line: string, time: number): void;
  /** Starts a checkpoint when one is due (the pass's rule). */
  checkpointIfDue(): void;
}

/** One pair's state in its open shard: read it, and replace it (the shard then counts a change). */
export interface C2cPairSlot {
  get(): C2cPairState;
  set(next: C2cPairState): void;
}

/** Whether a pair has archived messages in the rescan window from `start` (a quiet pair's included). */
export function needsRescan(pair: C2cPairState, start: number | null): boolean {
  if (start === null || pair.skipped !== null || pair.prints === undefined) return false;
  return pair.prints.some((p) => p.msgTime >= start);
}

/**
 * Re-pages the part of the pair's rescan window archived before this run (`before`: the pair's
 * `archivedTime` when the run took it; messages this run archived were just read) and writes a
 * revision row per message whose content changed (functions/domain/c2c-revision.ts), its print
 * replaced in the same synchronous step, so a checkpoint holds both or neither. No cursor is
 * kept: a run that stops mid-window reads it again next run (the committed prints hold the
 * revisions already written).
 */
export async function rescanPair(
  host: C2cRescanHost,
  slot: C2cPairSlot,
  before: number | null,
): Promise<void> {
  const { report } = host;
  const start = host.rescanStart();
  const pair = slot.get();
  if (start === null || pair.window !== null || pair.skipped !== null || pair.prints === undefined) return;
  const prints = new Map<string, C2cPrint>();
  for (const p of pair.prints)
    if (p.msgTime >= start && before !== null && p.msgTime <= before) prints.set(p.msgKey, p);
  // Prints are kept sorted by time (prunePrints): the first and last in the range bound it.
  const range = [...prints.values()];
  const oldest = range[0]?.msgTime;
  const newest = range.at(-1)?.msgTime;
  if (oldest === undefined || newest === undefined || host.stopped()) {
    if (oldest !== undefined) report.rescanLeft++;
    return;
  }
  report.pairsRescanned++;
  const request = { operatorAccount: pair.a, peerAccount: pair.b, maxCnt: MAX_CNT, minTime: oldest };
  const ctx = {
    sdkAppId: host.sdkAppId,
    accounts: [pair.a, pair.b] as const,
    observedAt: host.observedAtSec,
  };
  let cursor: { maxTime: number; lastMsgKey?: string } = { maxTime: newest };
  for (;;) {
    let page: RoamPage;
    try {
      page = await host.roam.getRoamMessages({ ...request, ...cursor }, host.signal);
    } catch (error) {
      if (!isSkipTarget(error)) throw error;
      return; // the next pull marks the pair skipped
    }
    // From here to the end of the loop body nothing awaits: rows and prints move together.
    report.rescanPages++;
    const outcome = c2cRevisions(prints, page.messages, ctx);
    for (const row of outcome.rows) host.bufferRow(serializeC2cRecord(row), row.msg_time);
    for (const p of outcome.prints) prints.set(p.msgKey, p);
    report.revisions += outcome.rows.length;
    if (outcome.prints.length > 0) {
      // Only a change rewrites the shard: an unchanged window costs its calls, not state writes.
      const held = slot.get();
      slot.set({ ...held, prints: prunePrints(held.prints ?? [], outcome.prints, start) });
    }
    if (page.complete) return;
    cursor = { maxTime: page.lastMsgTime, lastMsgKey: page.lastMsgKey };
    host.checkpointIfDue();
    if (host.stopped()) {
      report.rescanLeft++;
      return;
    }
  }
}
