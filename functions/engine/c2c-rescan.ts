/**
 * The one-to-one rescan (issue 26, deliverable 4; docs/one-to-one.md "Changes after archiving: the
 * rescan"): a pair's recent window, archived by earlier runs, re-paged for changes. The pass
 * (functions/engine/c2c-pass.ts) calls {@link rescanPair} for each pair it hands out, after the
 * pair's pull; the rules of what is a change are pure (functions/domain/c2c-revision.ts).
 */
import type { C2cPairState } from '../domain/c2c-pairs.ts';
import { serializeC2cRecord } from '../domain/c2c-record.ts';
import {
  type C2cPrint,
  c2cDeletion,
  c2cRevisions,
  isDeletedPrint,
  prunePrints,
} from '../domain/c2c-revision.ts';
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
  /**
   * The oldest message time (epoch seconds, server's clock) a missing message may be taken as
   * deleted: an hour inside the retention, so expiry is not mistaken for deletion (docs/changes.md).
   */
  deletionFloor(): number;
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
 * `archivedTime` when the run took it; messages this run archived were just read) from the pair's
 * first account's side and writes a revision row per message whose content changed
 * (functions/domain/c2c-revision.ts), its print replaced in the same synchronous step, so a
 * checkpoint holds both or neither. When that side's whole window missed archived messages, the
 * range of those messages is read from the second account's side: a message shown there is
 * compared the same way (one side deleted it for itself: no row), one shown on neither side is a
 * `deleted` revision. No cursor is kept: a run that stops mid-window reads it again next run (the
 * committed prints hold the revisions already written); a stop never counts as a deletion.
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
  const oldest = range[0];
  const newest = range.at(-1);
  if (oldest === undefined || newest === undefined || host.stopped()) {
    if (oldest !== undefined) report.rescanLeft++;
    return;
  }
  report.pairsRescanned++;
  const first = { operator: pair.a, peer: pair.b, from: oldest.msgTime, to: newest.msgTime };
  const shown = await readSide(host, slot, first, { prints, start });
  if (shown === null) return;
  // Only messages old enough to be archived, not yet deleted, and not at the retention edge.
  const floor = host.deletionFloor();
  const missing = [...prints.values()].filter(
    (p) => !shown.has(p.msgKey) && !isDeletedPrint(p, [pair.a, pair.b]) && p.msgTime >= floor,
  );
  const low = missing[0];
  const high = missing.at(-1);
  if (low === undefined || high === undefined) return;
  report.otherSideReads++;
  const others = new Map(missing.map((p) => [p.msgKey, p]));
  const second = { operator: pair.b, peer: pair.a, from: low.msgTime, to: high.msgTime };
  const shownThere = await readSide(host, slot, second, { prints: others, start });
  if (shownThere === null) return;
  // Nothing awaits from here: the deletion rows and their prints move together.
  const ctx = {
    sdkAppId: host.sdkAppId,
    accounts: [pair.a, pair.b] as const,
    observedAt: host.observedAtSec,
  };
  const deleted = [...others.values()]
    .filter((p) => !shownThere.has(p.msgKey))
    .map((p) => c2cDeletion(p, ctx));
  for (const { row } of deleted) host.bufferRow(serializeC2cRecord(row), row.msg_time);
  report.deletions += deleted.length;
  report.revisions += deleted.length;
  report.deletedForOneSide += others.size - deleted.length;
  if (deleted.length > 0) {
    const held = slot.get();
    slot.set({
      ...held,
      prints: prunePrints(
        held.prints ?? [],
        deleted.map((d) => d.print),
        start,
      ),
    });
  }
}

/** One side's view of a time range, both ends inclusive. */
interface SideRange {
  readonly operator: string;
  readonly peer: string;
  readonly from: number;
  readonly to: number;
}

/**
 * Pages one side's view of the range until `Complete` and writes a revision row per changed
 * message of `prints` (updated in place as the pair's state is). Returns the keys of `prints` the
 * side showed, or null when the read did not finish (the run stopped: counted in `rescanLeft`; or
 * an account is gone: the next pull marks the pair skipped).
 */
async function readSide(
  host: C2cRescanHost,
  slot: C2cPairSlot,
  side: SideRange,
  held: { prints: Map<string, C2cPrint>; start: number },
): Promise<Set<string> | null> {
  const { report } = host;
  const { prints, start } = held;
  const pair = slot.get();
  const request = {
    operatorAccount: side.operator,
    peerAccount: side.peer,
    maxCnt: MAX_CNT,
    minTime: side.from,
  };
  const ctx = {
    sdkAppId: host.sdkAppId,
    accounts: [pair.a, pair.b] as const,
    observedAt: host.observedAtSec,
  };
  const shown = new Set<string>();
  let cursor: { maxTime: number; lastMsgKey?: string } = { maxTime: side.to };
  for (;;) {
    let page: RoamPage;
    try {
      page = await host.roam.getRoamMessages({ ...request, ...cursor }, host.signal);
    } catch (error) {
      if (!isSkipTarget(error)) throw error;
      return null;
    }
    // From here to the end of the loop body nothing awaits: rows and prints move together.
    report.rescanPages++;
    const outcome = c2cRevisions(prints, page.messages, ctx);
    for (const key of outcome.shown) shown.add(key);
    for (const row of outcome.rows) host.bufferRow(serializeC2cRecord(row), row.msg_time);
    for (const p of outcome.prints) prints.set(p.msgKey, p);
    report.revisions += outcome.rows.length;
    if (outcome.prints.length > 0) {
      // Only a change rewrites the shard: an unchanged window costs its calls, not state writes.
      const current = slot.get();
      slot.set({ ...current, prints: prunePrints(current.prints ?? [], outcome.prints, start) });
    }
    if (page.complete) return shown;
    cursor = { maxTime: page.lastMsgTime, lastMsgKey: page.lastMsgKey };
    host.checkpointIfDue();
    if (host.stopped()) {
      report.rescanLeft++;
      return null;
    }
  }
}
