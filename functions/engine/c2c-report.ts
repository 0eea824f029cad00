/**
 * What the one-to-one pass did in a run (issue 26; docs/one-to-one.md), merged into the run report
 * as its `c2c` field (functions/engine/run-archive.ts).
 */

/** Skipped pairs named in the report; the count goes on past it. */
const MAX_NAMED_SKIPS = 100;

export interface C2cReport {
  /** Pairs in the shards this run read (all known pairs when the run got through every shard). */
  pairsKnown: number;
  /** Pairs the config named that the state did not know yet. */
  pairsAdded: number;
  /** Pairs a witness (a recorded `C2C.CallbackAfterSendMsg`) named that the state did not know yet. */
  pairsDiscovered: number;
  /** Pairs whose newest witnessed message time (`knownTime`) moved this run. */
  pairsWitnessed: number;
  /** Recorded callback objects read this run (each once: functions/engine/c2c-discovery.ts). */
  callbackObjectsRead: number;
  /** One-to-one send events among them that named a pair. */
  callbackSightings: number;
  /** Beijing hours whose hourly C2C files were all fetched, checked and kept this run. */
  historyHours: number;
  /** Hourly files whose raw copy this run wrote under `history-files/`. */
  historyFilesKept: number;
  /** Hourly files whose size or MD5 did not match the answer (their hour is fetched again next run). */
  historyFilesRejected: number;
  /** Lines of the hourly files that named a pair. */
  historySightings: number;
  /** Message identities of the hours fetched this run, under `history-file-messages/` (functions/engine/history-files.ts). */
  historyMessagesIndexed: number;
  /** Pairs whose window this run paged. */
  pairsPulled: number;
  /** Pairs whose window closed (caught up). */
  pairsCaughtUp: number;
  /** Pairs whose window is left open for the next run (deadline or stop). */
  pairsLeftOpen: number;
  /** Pairs skipped this run because an account is gone (90003/90008): never pulled again. */
  pairsSkipped: number;
  /** The first skipped pairs, with the reason. */
  skipped: { conversation: string; reason: string }[];
  messages: number;
  /** Of `messages`, recalled when fetched (`MsgFlagBits` 8). */
  recalled: number;
  /** Items the page schema rejected, stored as quarantined rows. */
  quarantined: number;
  /** Messages served again (the window's inclusive lower second, a repeated key) and dropped. */
  duplicates: number;
  pages: number;
  objectsWritten: number;
  bytesWritten: number;
  stateBytesWritten: number;
  checkpoints: number;
  /** Objects of an unfinished checkpoint of an earlier run, deleted before this run went on. */
  rolledBackObjects: number;
  /** The most pair states held in memory at once (the shards in flight, not every known pair). */
  peakPairsLoaded: number;
  /** Spans added by splitting big pairs' windows to use idle request slots (functions/engine/c2c-pull.ts). */
  spansSplit: number;
  /** Pairs whose rescan window (`rescan.days`) was re-paged for changes this run. */
  pairsRescanned: number;
  /** Pages the rescan read. */
  rescanPages: number;
  /** Revision rows written: messages recalled, restored, edited or deleted since they were archived. */
  revisions: number;
  /** Pairs whose first side's window missed archived messages, so the second side was read. */
  otherSideReads: number;
  /** Of `revisions`, messages neither side shows any more (`change` deleted). */
  deletions: number;
  /** Archived messages the first side no longer shows but the second does (deleted for one side: no row). */
  deletedForOneSide: number;
  /** Pairs whose rescan the run's stop or deadline cut (read again next run). */
  rescanLeft: number;
  /**
   * Media references of the rows this run committed, handed to the media stage (functions/engine/c2c-media.ts):
   * the one-to-one share of the run report's `media.references`; their outcomes are counted there.
   */
  mediaReferences: number;
  /** Every due pair is caught up, and rescanned. */
  done: boolean;
}

export function emptyC2cReport(): C2cReport {
  return {
    pairsKnown: 0,
    pairsAdded: 0,
    pairsDiscovered: 0,
    pairsWitnessed: 0,
    callbackObjectsRead: 0,
    callbackSightings: 0,
    historyHours: 0,
    historyFilesKept: 0,
    historyFilesRejected: 0,
    historySightings: 0,
    historyMessagesIndexed: 0,
    pairsPulled: 0,
    pairsCaughtUp: 0,
    pairsLeftOpen: 0,
    pairsSkipped: 0,
    skipped: [],
    messages: 0,
    recalled: 0,
    quarantined: 0,
    duplicates: 0,
    pages: 0,
    objectsWritten: 0,
    bytesWritten: 0,
    stateBytesWritten: 0,
    checkpoints: 0,
    rolledBackObjects: 0,
    peakPairsLoaded: 0,
    spansSplit: 0,
    pairsRescanned: 0,
    rescanPages: 0,
    revisions: 0,
    otherSideReads: 0,
    deletions: 0,
    deletedForOneSide: 0,
    rescanLeft: 0,
    mediaReferences: 0,
    done: false,
  };
}

/** Count a skipped pair, naming it while there is room. */
export function noteSkipped(report: C2cReport, conversation: string, reason: string): void {
  report.pairsSkipped++;
  if (report.skipped.length < MAX_NAMED_SKIPS) report.skipped.push({ conversation, reason });
}

/** The run report with its `c2c` field (absent when the app has no `c2c` config). */
export function withC2c<R extends object>(report: R): R & { c2c?: C2cReport } {
  return report as R & { c2c?: C2cReport };
}

/**
 * The report's one-to-one line for `formatReport` (functions/engine/report.ts), e.g.
 * `  one-to-one: 3 pairs known, 3 pulled, 3 caught up, 0 left open, 0 skipped; 290 messages (2 recalled, 0 quarantined) in 17 pages`,
 * with `, 41 media references` when its rows had media to copy (their outcomes are in the `media:`
 * line), and when the run rescanned pairs (docs/one-to-one.md), e.g. `; rescan: 2 pairs, 3 pages, 1 revisions, 0 pairs left`.
 */
export function formatC2cLine(c2c: C2cReport): string {
  const rescanned = c2c.pairsRescanned > 0 || c2c.rescanLeft > 0;
  return (
    `  one-to-one: ${c2c.pairsKnown} pairs known, ${c2c.pairsPulled} pulled, ${c2c.pairsCaughtUp} caught up, ` +
    `${c2c.pairsLeftOpen} left open, ${c2c.pairsSkipped} skipped (account gone); ` +
    `${c2c.messages} messages (${c2c.recalled} recalled, ${c2c.quarantined} quarantined) in ${c2c.pages} pages` +
    (c2c.mediaReferences > 0
      ? `, ${c2c.mediaReferences} media reference${c2c.mediaReferences === 1 ? '' : 's'}`
      : '') +
    (rescanned
      ? `; rescan: ${c2c.pairsRescanned} pairs, ${c2c.rescanPages} pages, ${c2c.revisions} revisions${c2c.deletions > 0 ? ` (${c2c.deletions} deleted)` : ''}, ${c2c.rescanLeft} pairs left`
      : '')
  );
}
