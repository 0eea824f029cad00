export { DEFAULT_HEADROOM_DAYS } from '../domain/media-manifest.ts';

/** What the media stage did in one run: part of the run report (`media`). */
export interface MediaReport {
  /** References of messages archived by this run (queued by its checkpoints). */
  references: number;
  /** Queue objects left by earlier runs (deadline, failures to retry) found at the start. */
  queuedFromEarlierRuns: number;
  archived: number;
  /** Bytes of archived files (deduplicated ones included). */
  bytes: number;
  /** Bytes actually written (new content only). */
  storedBytes: number;
  /** Archived files whose bytes were already in the archive. */
  deduplicated: number;
  expired: number;
  refused: number;
  /** Final failures: retries ran out and the message has left retention. */
  failed: number;
  /** Failed in this run, queued for a later run while the message is inside retention. */
  retrying: number;
  /** Elements without URL (SDK 2.X/3.X). */
  noUrl: number;
  /** References left for the next run (deadline, or retrying). */
  pending: number;
  /** Queue objects not started by this run. */
  pendingBatches: number;
  /**
   * Pending references (not yet archived, expired, refused or failed for good: deadline, retrying,
   * storage errors, queue objects not started) whose message is older than `retentionDays -
   * headroomDays` on the server's clock: Tencent deletes these files soon. Alarmed on when above 0.
   */
  nearRetention: number;
  /** Epoch seconds of the oldest pending reference's message (null when nothing is pending). */
  oldestPendingMsgTime: number | null;
  /** Queue objects whose references could not be counted into `nearRetention` (hard stop, read error). */
  uncountedBatches: number;
  /** Files the store failed on (kept for a later run). */
  errors: number;
  manifestObjects: number;
  checkpoints: number;
  /** Objects of an earlier run's uncommitted media checkpoint that this run deleted. */
  rolledBackObjects: number;
}

export function emptyMediaReport(): MediaReport {
  return {
    references: 0,
    queuedFromEarlierRuns: 0,
    archived: 0,
    bytes: 0,
    storedBytes: 0,
    deduplicated: 0,
    expired: 0,
    refused: 0,
    failed: 0,
    retrying: 0,
    noUrl: 0,
    pending: 0,
    pendingBatches: 0,
    nearRetention: 0,
    oldestPendingMsgTime: null,
    uncountedBatches: 0,
    errors: 0,
    manifestObjects: 0,
    checkpoints: 0,
    rolledBackObjects: 0,
  };
}

/** One line for people. */
export function formatMediaReport(m: MediaReport): string {
  const mb = (bytes: number) => (bytes / 1024 / 1024).toFixed(1);
  return (
    `  media: ${m.archived} archived (${mb(m.bytes)} MB, ${mb(m.storedBytes)} MB new, ${m.deduplicated} already stored), ` +
    `${m.expired} expired, ${m.refused} refused, ${m.failed} failed, ${m.noUrl} without URL; ` +
    `${m.pending} pending${m.retrying ? ` (${m.retrying} to retry)` : ''}${m.errors ? `, ${m.errors} storage errors` : ''}` +
    (m.nearRetention ? `; ${m.nearRetention} pending files close to Tencent's retention limit` : '')
  );
}

/**
 * Epoch seconds before which a pending reference's message counts as close to the retention limit:
 * `serverNow - (retentionDays - headroomDays)` days. Pure, on the server's clock (the caller's).
 */
export function nearRetentionCutoffSec(
  serverNowMs: number,
  retentionDays: number,
  headroomDays: number,
): number {
  return Math.floor(serverNowMs / 1000) - Math.round(Math.max(0, retentionDays - headroomDays) * 86_400);
}
