/**
 * What the audit function publishes and where it keeps its report: per-app and total counts of
 * findings (the stack alarms on unexplained ones), the bytes Athena scanned (the audit's cost), and
 * the report's key under `audits/`.
 */
import { dateInZone } from '../domain/partition.ts';
import type { AuditReport } from '../query/audit/report.ts';
import { APP_DIMENSION, METRIC } from './contract.ts';
import type { MetricsSink } from './run-metrics.ts';

/** Powertools Metrics as used here: the service-level sink, and one per app. */
export interface AuditMetricsSink {
  addMetric(name: string, unit: 'Count' | 'Bytes', value: number): unknown;
  /** A metric set flushed on its own, so it can carry the app dimension. */
  singleMetric(): { addDimensions(dimensions: Record<string, string>): MetricsSink };
}

export interface AuditCounts {
  readonly sdkAppId: number;
  readonly findings: number;
  readonly unexplained: number;
}

/**
 * Findings per app, for every audited app (0 included, so a fixed archive shows 0, not a gap).
 * Findings not tied to one app (`sdkAppId` 0: media objects no manifest row names) only count in
 * the totals.
 */
export function countsPerApp(report: AuditReport): AuditCounts[] {
  return report.apps.map(({ sdkAppId }) => {
    const mine = report.findings.filter((f) => f.sdkAppId === sdkAppId);
    return { sdkAppId, findings: mine.length, unexplained: mine.filter((f) => !f.explained).length };
  });
}

/** Record the audit's metrics: totals on `metrics`, one single-metric set per app. */
export function recordAuditMetrics(
  metrics: AuditMetricsSink,
  report: AuditReport,
  bytesScanned: number,
): void {
  metrics.addMetric(METRIC.auditUnexplained, 'Count', report.unexplained);
  metrics.addMetric(METRIC.auditFindings, 'Count', report.findings.length);
  metrics.addMetric(METRIC.auditBytesScanned, 'Bytes', bytesScanned);
  for (const app of countsPerApp(report)) {
    // A single-metric set flushes (and forgets its dimensions) at each addMetric: one per metric.
    for (const [name, value] of [
      [METRIC.auditUnexplained, app.unexplained],
      [METRIC.auditFindings, app.findings],
    ] as const) {
      metrics
        .singleMetric()
        .addDimensions({ [APP_DIMENSION]: String(app.sdkAppId) })
        .addMetric(name, 'Count', value);
    }
  }
}

/** Audit ids become part of an object key: letters, digits and dashes only. */
const AUDIT_ID = /^[A-Za-z0-9-]{1,100}$/;

/**
 * `audits/dt=<date in the archive zone>/<auditId>.json`: one report per audit, covering every app
 * (orphaned media objects belong to no app, so the report is not split per app).
 * @throws RangeError for an id that is not key-safe
 */
export function auditReportKey(report: AuditReport, auditId: string, timeZone: string): string {
  if (!AUDIT_ID.test(auditId)) throw new RangeError(`auditId must match ${AUDIT_ID.source}, got ${auditId}`);
  return `audits/dt=${dateInZone(Math.floor(report.generatedAtMs / 1000), timeZone)}/${auditId}.json`;
}
