/**
 * The run report: written into the archive (`runs/…json`) and printed at the end of every run
 * (functions/engine/report-format.ts prints it, with the sections other passes add).
 */
import { hasLoneSurrogate, wellFormedJson } from '../domain/json-guards.ts';
import { type ArchiveRecord, EXTRA_REASON_KEY } from '../domain/record.ts';
import type { JsonObject, JsonValue } from '../domain/tencent-types.ts';
import { emptyMediaReport, type MediaReport } from './media-report.ts';

export interface RunReport {
  runId: string;
  sdkAppId: number;
  startedAtMs: number;
  finishedAtMs: number;
  /**
   * The API server's time when the run finished (epoch ms, from the `Date` headers of its answers):
   * lag and retention headroom are measured on it, not on the local clock.
   */
  serverFinishedAtMs: number;
  /** Estimated `server - local` clock offset in ms (null before any answer). */
  serverClockOffsetMs: number | null;
  elapsedMs: number;
  /** True only when every selected target is caught up to the newest seq seen at run start. */
  done: boolean;
  groups: {
    /** Groups selected (after discovery and id filters). */
    seen: number;
    /** Skipped groups by reason (deleted, invalid-id, no-history-type, type-filtered, error). */
    skipped: Record<string, number>;
    /** Targets with nothing new since their high-water mark: no history call was made. */
    idle: number;
    /** Targets fully caught up by this run. */
    archived: number;
    /** Targets that failed in this run (see `errors`). */
    failed: number;
  };
  /** Topics of topic-enabled Community groups seen. */
  topics: number;
  /** Targets (groups or topics) that had new messages. */
  targetsWithWork: number;
  /** Targets that still have work (deadline reached, or a transient failure). */
  remainingTargets: number;
  /**
   * Upper bound of `MsgTimeStamp` of the newest message not yet archived (epoch seconds), or null
   * when nothing is pending: `now - pendingNewestTime` is the archive's lag.
   */
  pendingNewestTime: number | null;
  /**
   * Lower bound of `MsgTimeStamp` of the oldest message not yet archived, from the high-water marks
   * of targets with pending work (null when none is known): with the plan's retention it gives the
   * headroom before Tencent deletes unarchived messages.
   */
  pendingOldestTime: number | null;
  /** Pending targets never archived before: their oldest messages sit at the retention edge. */
  pendingNeverArchived: number;
  /** Records written, placeholders included. */
  messages: number;
  /** `IsPlaceMsg = 1`: deleted, expired or failed to store. */
  placeholders: number;
  /** `IsPlaceMsg = 2`: recalled. */
  recalled: number;
  /** Flagged rows: page items the schema rejected, and seqs too big to answer alone (10018). */
  quarantined: number;
  /**
   * The flagged rows by group, topic and seq (seq 0 when unreadable) with the reason: the first
   * {@link MAX_REPORTED_QUARANTINED}; `quarantined` counts them all. Each is archived with its exact
   * text in `raw`.
   */
  quarantinedItems: QuarantinedItem[];
  /** Answers that contradicted their own data (`IsFinished`) and were asked again with a smaller window. */
  inconsistentAnswers: number;
  /**
   * Targets whose newest seq was below the archived high-water mark (dissolved and re-created
   * under the same id, or reset by the server): archived again as a new `generation`.
   */
  seqResets: {
    groupId: string;
    topicId: string | null;
    highWater: number;
    newestSeq: number;
    generation: number;
  }[];
  /** `group_msg_get_simple` pages that produced records or ended a window. */
  pages: number;
  /** Extra pages because an answer was cut short (long messages, `IsFinished` 0). */
  shortPages: number;
  /** Time spent discovering and planning, before the first history call. */
  planMs: number;
  /** The work came from the plan an earlier invocation of the run carried over (no listing). */
  planCarried: boolean;
  /** HTTP requests per API, retries included. */
  calls: Record<string, number>;
  retries: number;
  throttles: number;
  checkpoints: number;
  objectsWritten: number;
  bytesWritten: number;
  /** Bytes of state target objects (deltas and compacted bases) this run wrote; the small head is not counted. */
  stateBytesWritten: number;
  /** Objects of an earlier run's uncommitted checkpoint that this run deleted. */
  rolledBackObjects: number;
  errors: { groupId: string; topicId: string | null; error: string }[];
  /** The media stage's counts (zeros when media copying is off; absent in older reports). */
  media?: MediaReport;
  /** The rescan for changes after archiving (recalls, edits, deletions). */
  rescan: RescanReport;
  fatalError?: string;
}

/**
 * The report as the JSON line kept under `runs/`. A lone surrogate (in a group id or a server's
 * error text) is not text, and DuckDB refuses the whole runs table when one file escapes one: such
 * a report is written with U+FFFD in its place, and its exact JSON text (the lone surrogate escaped
 * as `\ud800`, plain ASCII) in `raw`, as a message's row keeps it (functions/domain/record.ts).
 */
export function runReportJson(report: RunReport): string {
  const value = report as unknown as JsonValue;
  if (!hasLoneSurrogate(value)) return `${JSON.stringify(report)}\n`;
  const wellFormed = wellFormedJson(value) as JsonObject;
  return `${JSON.stringify({ ...wellFormed, raw: JSON.stringify(report) })}\n`;
}

/** Flagged rows a report names one by one (the count has them all). */
export const MAX_REPORTED_QUARANTINED = 100;

/** One flagged row of a run. */
export interface QuarantinedItem {
  groupId: string;
  topicId: string | null;
  msgSeq: number;
  reason: string;
}

/** Counts a flagged row, and names it while fewer than {@link MAX_REPORTED_QUARANTINED} are. */
export function noteQuarantined(report: RunReport, record: ArchiveRecord): void {
  report.quarantined++;
  if (report.quarantinedItems.length >= MAX_REPORTED_QUARANTINED) return;
  const reason = record.extra?.[EXTRA_REASON_KEY];
  report.quarantinedItems.push({
    groupId: record.group_id,
    topicId: record.topic_id,
    msgSeq: record.msg_seq,
    reason: typeof reason === 'string' ? reason : '',
  });
}

/** What the rescan did in this run. */
export interface RescanReport {
  /** `rescan.days` (0: off). */
  days: number;
  /** `group_msg_get_simple` pages the rescan fetched (retries not counted). */
  calls: number;
  /** Archived messages compared with the server. */
  checked: number;
  /** Changes found, by kind (one new revision row each). */
  modified: number;
  recalled: number;
  deleted: number;
  restored: number;
  /** True when this run finished the rescan cycle (or the rescan is off). */
  complete: boolean;
}

/** A report with every counter at zero. */
export function emptyReport(runId: string, sdkAppId: number, startedAtMs: number): RunReport {
  return {
    runId,
    sdkAppId,
    startedAtMs,
    finishedAtMs: startedAtMs,
    serverFinishedAtMs: startedAtMs,
    serverClockOffsetMs: null,
    elapsedMs: 0,
    done: false,
    groups: { seen: 0, skipped: {}, idle: 0, archived: 0, failed: 0 },
    topics: 0,
    targetsWithWork: 0,
    remainingTargets: 0,
    pendingNewestTime: null,
    pendingOldestTime: null,
    pendingNeverArchived: 0,
    messages: 0,
    placeholders: 0,
    recalled: 0,
    quarantined: 0,
    quarantinedItems: [],
    inconsistentAnswers: 0,
    seqResets: [],
    pages: 0,
    shortPages: 0,
    planMs: 0,
    calls: {},
    retries: 0,
    throttles: 0,
    checkpoints: 0,
    objectsWritten: 0,
    bytesWritten: 0,
    stateBytesWritten: 0,
    planCarried: false,
    rolledBackObjects: 0,
    errors: [],
    media: emptyMediaReport(),
    rescan: {
      days: 0,
      calls: 0,
      checked: 0,
      modified: 0,
      recalled: 0,
      deleted: 0,
      restored: 0,
      complete: true,
    },
  };
}
