/**
 * CloudWatch metrics (EMF, through Powertools Metrics) from a run report: what was archived, how
 * hard Tencent pushed back, how close unarchived history is to falling out of retention, what
 * the rescan found changed after archiving (per change kind), and, when they ran, what the
 * identity capture, the one-to-one pass and the callback materialization did.
 */
import type { RunReport } from '../engine/report.ts';
import type { StoredRunReport } from '../engine/report-format.ts';
import { APP_DIMENSION, METRIC } from './contract.ts';

/** The part of Powertools Metrics used here (a fake in unit tests). */
export interface MetricsSink {
  addDimensions(dimensions: Record<string, string>): unknown;
  addMetric(name: string, unit: 'Count' | 'Seconds' | 'None', value: number): unknown;
}

/** Lag and headroom derived from the report's pending bounds; `undefined` when unknown. */
export interface Freshness {
  lagSeconds: number;
  headroomDays: number | undefined;
}

/**
 * - lag: seconds since the newest message not yet archived (0 when nothing is pending);
 * - headroom: days until the oldest not-yet-archived message leaves a retention of
 *   `retentionDays` (the full retention when nothing is pending). Unknown when the only pending
 *   groups were never archived: their oldest messages are at the retention edge by definition,
 *   which {@link METRIC.pendingNeverArchived} reports instead.
 */
export function freshness(report: RunReport, retentionDays: number, nowMs: number): Freshness {
  const nowSeconds = nowMs / 1000;
  const lagSeconds =
    report.pendingNewestTime === null ? 0 : Math.max(0, Math.round(nowSeconds - report.pendingNewestTime));
  let headroomDays: number | undefined;
  if (report.pendingOldestTime !== null) {
    headroomDays = retentionDays - (nowSeconds - report.pendingOldestTime) / 86_400;
  } else if (report.remainingTargets === 0) {
    headroomDays = retentionDays;
  }
  return { lagSeconds, headroomDays: headroomDays === undefined ? undefined : round2(headroomDays) };
}

/** Record one invocation's metrics, dimensioned by app. */
export function recordRunMetrics(
  metrics: MetricsSink,
  report: StoredRunReport,
  retentionDays: number,
  nowMs: number,
): void {
  metrics.addDimensions({ [APP_DIMENSION]: String(report.sdkAppId) });
  metrics.addMetric(METRIC.messagesArchived, 'Count', report.messages);
  metrics.addMetric(METRIC.pages, 'Count', report.pages);
  metrics.addMetric(METRIC.throttles, 'Count', report.throttles);
  metrics.addMetric(METRIC.errors, 'Count', report.errors.length + (report.fatalError ? 1 : 0));
  metrics.addMetric(METRIC.pendingNeverArchived, 'Count', report.pendingNeverArchived);
  metrics.addMetric(METRIC.seqResets, 'Count', report.seqResets.length);
  metrics.addMetric(METRIC.quarantined, 'Count', report.quarantined);
  if (report.rescan.days > 0) {
    metrics.addMetric(METRIC.rescanCalls, 'Count', report.rescan.calls);
    metrics.addMetric(METRIC.messagesModified, 'Count', report.rescan.modified);
    metrics.addMetric(METRIC.messagesRecalled, 'Count', report.rescan.recalled);
    metrics.addMetric(METRIC.messagesDeleted, 'Count', report.rescan.deleted);
    metrics.addMetric(METRIC.messagesRestored, 'Count', report.rescan.restored);
  }
  if (report.media) {
    metrics.addMetric(METRIC.mediaArchived, 'Count', report.media.archived);
    metrics.addMetric(METRIC.mediaPendingNearRetention, 'Count', report.media.nearRetention);
  }
  recordSectionMetrics(metrics, report);
  const { lagSeconds, headroomDays } = freshness(report, retentionDays, nowMs);
  metrics.addMetric(METRIC.lagSeconds, 'Seconds', lagSeconds);
  if (headroomDays !== undefined) metrics.addMetric(METRIC.retentionHeadroomDays, 'None', headroomDays);
}

/** The passes' counts (names, one-to-one, callbacks), each when the run has the section. */
function recordSectionMetrics(metrics: MetricsSink, report: StoredRunReport): void {
  const { identities, c2c, callbacks } = report;
  if (identities) {
    const { calls, rows, pending } = identities;
    metrics.addMetric(METRIC.identityCalls, 'Count', calls.groupInfo + calls.profiles + calls.members);
    metrics.addMetric(METRIC.identityRows, 'Count', rows.users + rows.groups + rows.members);
    metrics.addMetric(METRIC.identityPending, 'Count', pending.users + pending.groups + pending.members);
    metrics.addMetric(METRIC.identityFailedCalls, 'Count', identities.failedCalls);
  }
  if (c2c) {
    metrics.addMetric(METRIC.c2cPairsPulled, 'Count', c2c.pairsPulled);
    metrics.addMetric(METRIC.c2cPairsSkipped, 'Count', c2c.pairsSkipped);
    metrics.addMetric(METRIC.c2cMessagesArchived, 'Count', c2c.messages);
    metrics.addMetric(METRIC.c2cDuplicates, 'Count', c2c.duplicates);
  }
  if (callbacks) {
    metrics.addMetric(METRIC.callbackEventsMaterialized, 'Count', callbacks.events);
    metrics.addMetric(METRIC.callbackMessagesMaterialized, 'Count', callbacks.messages);
    metrics.addMetric(METRIC.callbackBodiesReplayed, 'Count', callbacks.replayed);
    const r = callbacks.reconciliation;
    if (r) {
      metrics.addMetric(METRIC.callbackMessagesBothEqual, 'Count', r.bothEqual);
      metrics.addMetric(METRIC.callbackOnlyMessages, 'Count', r.callbackOnly);
      metrics.addMetric(METRIC.callbackMessagesDifferent, 'Count', r.different);
      metrics.addMetric(METRIC.pullOnlyMessages, 'Count', r.pullOnly);
      metrics.addMetric(
        METRIC.callbackMessagesMatched,
        'Count',
        r.bothEqual + r.different + r.pullPlaceholder,
      );
      if (r.lossRate !== null) metrics.addMetric(METRIC.callbackLossRate, 'None', r.lossRate * 100);
    }
  }
}

/** A run that failed before producing a report still counts as an error for its app. */
export function recordFailedRun(metrics: MetricsSink, sdkAppId: number): void {
  metrics.addDimensions({ [APP_DIMENSION]: String(sdkAppId) });
  metrics.addMetric(METRIC.errors, 'Count', 1);
}

/** Another run held the app's lease: not an error (Step Functions retries), but worth seeing. */
export function recordLeaseHeld(metrics: MetricsSink, sdkAppId: number): void {
  metrics.addDimensions({ [APP_DIMENSION]: String(sdkAppId) });
  metrics.addMetric(METRIC.leaseHeld, 'Count', 1);
}

function round2(value: number): number {
  return Math.round(value * 100) / 100;
}
