/**
 * The run report as people read it: what `npm run archive` and the demo print at the end of a run.
 * Besides the report's own counters, it prints the sections other passes add to the same report
 * object (they live beside its keys, see {@link StoredRunReport}): the identity capture's
 * (functions/engine/identity-capture.ts, issue 24) and the one-to-one pass's
 * (functions/engine/c2c-report.ts, issue 26) and the callback materialization's
 * (functions/engine/callback-materialize.ts, issue 25). It is its own module because the identity capture
 * imports the engine's errors, which import the report's type: the report module cannot import it
 * back without a cycle.
 */

import type { ReconcileGroup, Reconciliation } from '../domain/callback-reconcile.ts';
import { type C2cReport, formatC2cLine } from './c2c-report.ts';
import type { CallbackMaterializeReport } from './callback-materialize.ts';
import type { HistoryFilesReport } from './history-files.ts';
import type { IdentityReport } from './identity-capture.ts';
import { formatMediaReport } from './media-report.ts';
import type { RunReport } from './report.ts';

/**
 * The run report as stored under `runs/` and returned by a run: {@link RunReport} with the
 * sections a pass adds when it ran (`withIdentities`, `withC2c`, `withCallbacks`). The runs table lists exactly
 * these keys (functions/query/tables.ts, checked by test/unit/query-layout.test.ts).
 */
export type StoredRunReport = RunReport & {
  identities?: IdentityReport;
  c2c?: C2cReport;
  callbacks?: CallbackMaterializeReport;
  /** The group hourly files (`historyFiles.groups`, functions/engine/history-files.ts). */
  historyFiles?: HistoryFilesReport;
};

/** A few lines for people. */
export function formatReport(report: StoredRunReport): string {
  const skipped = Object.entries(report.groups.skipped)
    .map(([reason, n]) => `${reason} ${n}`)
    .join(', ');
  const calls = Object.entries(report.calls)
    .map(([api, n]) => `${api} ${n}`)
    .join(', ');
  return [
    `run ${report.runId} (app ${report.sdkAppId}): ${report.done ? 'done' : 'NOT done, run again to continue'} in ${(report.elapsedMs / 1000).toFixed(1)} s`,
    `  groups: ${report.groups.seen} seen, ${report.groups.idle} idle, ${report.groups.archived} caught up, ${report.groups.failed} failed${skipped ? `, skipped: ${skipped}` : ''}; topics ${report.topics}`,
    ...(report.planCarried
      ? [
          `  plan: carried on from an earlier invocation of this run (no listing), ${report.targetsWithWork} targets with work`,
        ]
      : []),
    `  messages: ${report.messages} (${report.placeholders} placeholders, ${report.recalled} recalled${report.quarantined ? `, ${report.quarantined} quarantined` : ''}) in ${report.pages} pages`,
    ...(report.quarantinedItems ?? []).map(
      (q) =>
        `  quarantined: ${q.groupId}${q.topicId ? ` / ${q.topicId}` : ''} seq ${q.msgSeq}: ${q.reason} (archived as a flagged row, its exact text in raw)`,
    ),
    ...(report.quarantined > (report.quarantinedItems?.length ?? 0)
      ? [`  quarantined: ${report.quarantined - (report.quarantinedItems?.length ?? 0)} more not listed`]
      : []),
    ...report.seqResets.map(
      (r) =>
        `  seq reset: ${r.groupId}${r.topicId ? ` / ${r.topicId}` : ''}: newest seq ${r.newestSeq} below the archived ${r.highWater}; archived as generation ${r.generation}`,
    ),
    `  calls: ${calls || 'none'}; retries ${report.retries}, throttled ${report.throttles}`,
    ...(report.rescan.days > 0
      ? [
          `  rescan (${report.rescan.days} days): ${report.rescan.checked} checked in ${report.rescan.calls} calls; changes: ${report.rescan.modified} modified, ${report.rescan.recalled} recalled, ${report.rescan.deleted} deleted, ${report.rescan.restored} restored${report.rescan.complete ? '' : '; NOT complete, run again to continue'}`,
        ]
      : []),
    `  objects: ${report.objectsWritten} written (${report.bytesWritten} bytes gzip), ${report.checkpoints} checkpoints (state: ${report.stateBytesWritten} bytes)${report.rolledBackObjects ? `, ${report.rolledBackObjects} rolled back` : ''}`,
    ...(report.media && report.media.references + report.media.queuedFromEarlierRuns > 0
      ? [formatMediaReport(report.media)]
      : []),
    ...(report.identities ? formatIdentityLines(report.identities) : []),
    ...(report.c2c ? formatC2cLines(report.c2c) : []),
    ...(report.callbacks ? formatCallbackLines(report.callbacks) : []),
    ...(report.historyFiles ? [formatHistoryFilesLine(report.historyFiles)] : []),
    ...report.errors.map((e) => `  error: ${e.groupId}${e.topicId ? ` / ${e.topicId}` : ''}: ${e.error}`),
    ...(report.fatalError ? [`  FATAL: ${report.fatalError}`] : []),
  ].join('\n');
}

/**
 * The identity capture's lines (issue 24): calls by API against the budget, rows written by kind
 * (first sightings among them), what is left for the next run, and what went wrong.
 */
export function formatIdentityLines(identities: IdentityReport): string[] {
  const { calls, rows, pending } = identities;
  const callCount = calls.groupInfo + calls.profiles + calls.members;
  const rowCount = rows.users + rows.groups + rows.members;
  const pendingCount = pending.users + pending.groups + pending.members;
  const trouble = [
    ...(identities.failedCalls ? [`${identities.failedCalls} calls failed (their items stay pending)`] : []),
    ...(identities.dropped ? [`${identities.dropped} pending items dropped over identities.maxPending`] : []),
    ...(identities.rolledForward ? ["finished an interrupted run's commit first"] : []),
  ];
  return [
    `  names: ${callCount} calls (${calls.groupInfo} group info, ${calls.profiles} profiles, ${calls.members} members; ${identities.duringPaging} while paging) of a budget of ${identities.budget}; ` +
      `${rowCount} rows written (${rows.users} users, ${rows.groups} groups, ${rows.members} members; ${identities.firstRows} first sightings)` +
      (pendingCount
        ? `; ${pendingCount} left for the next run (${pending.users} users, ${pending.groups} groups, ${pending.members} members)`
        : ''),
    ...(trouble.length ? [`  names: ${trouble.join('; ')}`] : []),
  ];
}

/**
 * The one-to-one pass's lines (issue 26): its line from functions/engine/c2c-report.ts, the
 * duplicates it dropped, and each skipped pair it names.
 */
export function formatC2cLines(c2c: C2cReport): string[] {
  return [
    `${formatC2cLine(c2c)}; ${c2c.duplicates} duplicates dropped${c2c.done ? '' : '; NOT done, run again to continue'}`,
    ...c2c.skipped.map((s) => `  one-to-one skipped: ${s.conversation}: ${s.reason}`),
    ...(c2c.pairsSkipped > c2c.skipped.length
      ? [`  one-to-one skipped: ${c2c.pairsSkipped - c2c.skipped.length} more not listed`]
      : []),
  ];
}

/**
 * The callback materialization's lines (issue 25): the recorded events read and what they became,
 * and what is left or looked wrong (a replayed event with another body is kept and flagged).
 */
export function formatCallbackLines(callbacks: CallbackMaterializeReport): string[] {
  const c = callbacks;
  const trouble = [
    ...(c.replayed ? [`${c.replayed} events delivered again with another body (kept, flagged)`] : []),
    ...(c.unreadable + c.unreadableLines
      ? [
          `${c.unreadable} unreadable or quarantined events and ${c.unreadableLines} unreadable lines (kept in callback_events)`,
        ]
      : []),
    ...(c.objectsLeft ? [`${c.objectsLeft} recorded objects left for the next run`] : []),
    ...(c.rolledForward ? ["finished an interrupted run's commit first"] : []),
  ];
  return [
    `  callbacks: ${c.events} events from ${c.objects} recorded objects in ${c.commits} commits; ` +
      `${c.messages} messages, ${c.revisions} revisions, ${c.dissolutions} dissolutions; ` +
      `${c.duplicates} duplicates, ${c.onlineOnly} online-only, ${c.ignored} other commands`,
    ...(trouble.length ? [`  callbacks: ${trouble.join('; ')}`] : []),
    ...(c.reconciliation ? formatReconciliationLines(c.reconciliation) : []),
  ];
}

/**
 * The callbacks against the pull (functions/domain/callback-reconcile.ts): the run's counts, the
 * loss rate, and the groups with lost callbacks, differences or callback-only messages.
 */
export function formatReconciliationLines(r: Reconciliation): string[] {
  const rate =
    r.lossRate === null
      ? 'no loss rate (nothing pulled since callbacks began)'
      : `loss rate ${(r.lossRate * 100).toFixed(1)}%`;
  const where = (g: ReconcileGroup) => `${g.groupId}${g.topicId ? ` / ${g.topicId}` : ''}`;
  return [
    `  callbacks against the pull: ${r.bothEqual} both and equal, ${r.different} different (flagged, both kept), ` +
      `${r.pullPlaceholder} placeholders in the pull, ${r.callbackOnly} callback-only (unconfirmed), ` +
      `${r.pullOnly} pull-only (callback lost); ${rate}`,
    ...r.groups.map(
      (g) =>
        `  callbacks against the pull: ${where(g)}: ${g.pullOnly} pull-only, ${g.different} different, ${g.callbackOnly} callback-only`,
    ),
    ...(r.groupsNotListed
      ? [`  callbacks against the pull: ${r.groupsNotListed} more groups not listed`]
      : []),
  ];
}

/**
 * The group hourly files' line, e.g. `  group history files: 164 hours fetched (0 left), 12 files
 * kept, 0 rejected, 2,310 messages indexed`.
 */
export function formatHistoryFilesLine(h: HistoryFilesReport): string {
  return `  group history files: ${h.hours} hours fetched (${h.hoursLeft} left), ${h.filesKept} files kept, ${h.filesRejected} rejected, ${h.messagesIndexed} messages indexed${h.unreadableLines ? `, ${h.unreadableLines} lines unreadable` : ''}`;
}
