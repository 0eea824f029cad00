/**
 * The completeness audit's report: per app and target, what the state says is archived and what
 * the archive holds, and every finding, each classified as explained or not. Pure data and its
 * text rendering.
 */

/** Inclusive seq ranges, compressed: `[[1, 3], [7, 7]]`. */
export type SeqRanges = [number, number][];

/**
 * What a finding is:
 * - `missing-seqs`: seqs inside the archived range with no row at all (unexplained);
 * - `duplicate-rows`: the same (seq, revision) more than once (unexplained);
 * - `wrong-partition`: a row whose `dt` folder is not its message date in the archive zone;
 * - `revision-hole`: revisions of a message that do not run 0, 1, 2, … without a gap;
 * - `uncommitted-rows`: rows beyond what the committed state claims (a checkpoint that never
 *   committed); `orphan-object` when a whole object is such rows, or is no archive object at all;
 * - `pending-rollback`: objects of an uncommitted checkpoint that the state's intent names; the
 *   next run deletes them (explained);
 * - `state-missing`: rows of an app that has no committed state;
 * - `media-unmanifested`: media references of archived messages without a manifest row;
 * - `media-object-missing`: manifest rows `archived` whose object is not in the archive;
 * - `media-orphan`: objects under `media/` that no manifest row names;
 * - `archived-unreadable`: message objects in a storage class that needs a restore before it can
 *   be read (Glacier Flexible Retrieval, Deep Archive): skipped, counted, explained.
 */
export type FindingKind =
  | 'missing-seqs'
  | 'duplicate-rows'
  | 'wrong-partition'
  | 'revision-hole'
  | 'uncommitted-rows'
  | 'orphan-object'
  | 'pending-rollback'
  | 'state-missing'
  | 'media-unmanifested'
  | 'media-object-missing'
  | 'media-orphan'
  | 'archived-unreadable';

export interface Finding {
  readonly kind: FindingKind;
  readonly explained: boolean;
  readonly sdkAppId: number;
  readonly groupId: string | null;
  readonly topicId: string | null;
  readonly seqs: SeqRanges;
  readonly objects: readonly string[];
  readonly detail: string;
}

/** How each seq a target ever had is accounted for. */
export interface TargetGaps {
  /**
   * Seqs 1 … first captured - 1: gone from Tencent (expired, or before the first run's look-back)
   * before the first capture. Seqs in {@link notYetArchived} are not counted here (one category a seq).
   */
  readonly beforeFirstCapture: SeqRanges;
  /** Seqs archived as placeholders: deleted or expired (`IsPlaceMsg` 1) when captured. */
  readonly deletedPlaceholders: SeqRanges;
  /** Seqs archived as recalled (`IsPlaceMsg` 2) when captured. */
  readonly recalledPlaceholders: SeqRanges;
  /** Seqs in the archived range with no row: unexplained. */
  readonly unexplained: SeqRanges;
  /** Seqs the state says are not archived yet (an interrupted range): `(highWater, cursor]`. */
  readonly notYetArchived: SeqRanges;
}

export interface TargetAudit {
  readonly groupId: string;
  readonly topicId: string | null;
  /** Incarnation of the seq space (bumped when a group's seqs started over); 0 normally. */
  readonly generation: number;
  /** From the state: every seq ≤ highWater is archived (0: nothing). */
  readonly highWater: number;
  /** From the state: an interrupted range `(cursor, top]` that is archived too, or null. */
  readonly inProgress: { readonly cursor: number; readonly top: number } | null;
  /** From the archive. */
  readonly firstSeq: number | null;
  readonly lastSeq: number | null;
  readonly rows: number;
  readonly revisionRows: number;
  readonly gaps: TargetGaps;
}

export interface AppAudit {
  readonly sdkAppId: number;
  readonly targets: readonly TargetAudit[];
  readonly objects: number;
  readonly rows: number;
  /** Message objects not read because their storage class needs a restore (see `archived-unreadable`). */
  readonly unreadableArchived: number;
  /**
   * Incremental audits only: the app's `dt` partitions, how many of them this audit read (new or
   * changed since the running totals), and whether it read them all (`--full`, the first audit).
   */
  readonly partitions?: { readonly total: number; readonly read: number; readonly full: boolean };
  readonly media: {
    readonly audited: boolean;
    readonly references: number;
    readonly manifestRows: number;
    readonly note: string;
  };
}

export interface AuditReport {
  readonly archive: string;
  readonly engine: string;
  readonly generatedAtMs: number;
  readonly apps: readonly AppAudit[];
  readonly findings: readonly Finding[];
  /** Findings not explained: the audit fails when this is above 0. */
  readonly unexplained: number;
}

/** Compresses seqs (any order, repeats allowed) into ranges. */
export function toRanges(seqs: Iterable<number>): SeqRanges {
  const sorted = [...new Set(seqs)].sort((a, b) => a - b);
  const out: SeqRanges = [];
  for (const seq of sorted) {
    const last = out.at(-1);
    if (last !== undefined && seq === last[1] + 1) last[1] = seq;
    else out.push([seq, seq]);
  }
  return out;
}

/** `1-3, 7` */
export function formatRanges(ranges: SeqRanges, max = 12): string {
  const parts = ranges.slice(0, max).map(([a, b]) => (a === b ? `${a}` : `${a}-${b}`));
  return ranges.length > max
    ? `${parts.join(', ')}, … (${ranges.length - max} more ranges)`
    : parts.join(', ');
}

/** Number of seqs in the ranges. */
export function countRanges(ranges: SeqRanges): number {
  return ranges.reduce((n, [a, b]) => n + b - a + 1, 0);
}

const LABELS: Readonly<Record<FindingKind, string>> = {
  'missing-seqs': 'missing seqs',
  'duplicate-rows': 'duplicated rows',
  'wrong-partition': 'rows in the wrong dt partition',
  'revision-hole': 'revision chain with a hole',
  'uncommitted-rows': 'rows beyond the committed state',
  'orphan-object': 'object no committed state names',
  'pending-rollback': 'uncommitted checkpoint (the next run rolls it back)',
  'state-missing': 'rows without a committed state',
  'media-unmanifested': 'media references without a manifest row',
  'media-object-missing': 'archived media whose object is missing',
  'media-orphan': 'media object no manifest row names',
  'archived-unreadable': 'objects in an archived storage class (not read)',
};

/** The readable summary. */
export function formatAuditReport(report: AuditReport): string {
  const lines: string[] = [`Audit of ${report.archive} (${report.engine})`];
  for (const app of report.apps) {
    const sum = (f: (g: TargetGaps) => SeqRanges) =>
      app.targets.reduce((n, t) => n + countRanges(f(t.gaps)), 0);
    lines.push(
      `app ${app.sdkAppId}: ${app.targets.length} targets, ${app.rows} rows in ${app.objects} objects${app.unreadableArchived > 0 ? `; ${app.unreadableArchived} objects in an archived storage class not read` : ''}`,
      `  seqs before the first capture (expired first): ${sum((g) => g.beforeFirstCapture)}; placeholders: ${sum((g) => g.deletedPlaceholders)} deleted, ${sum((g) => g.recalledPlaceholders)} recalled; not yet archived: ${sum((g) => g.notYetArchived)}; unexplained gaps: ${sum((g) => g.unexplained)}`,
      `  media: ${app.media.note}`,
    );
    if (app.partitions !== undefined)
      lines.push(
        `  incremental: read ${app.partitions.read} of ${app.partitions.total} dt partitions${app.partitions.full ? ' (all: --full, or no running totals yet)' : ' (new or changed since the running totals)'}`,
      );
  }
  const shown = [...report.findings].sort((a, b) => Number(a.explained) - Number(b.explained));
  for (const f of shown) {
    const where =
      f.groupId === null ? '' : ` group ${f.groupId}${f.topicId === null ? '' : ` topic ${f.topicId}`}`;
    const seqs = f.seqs.length > 0 ? ` seqs ${formatRanges(f.seqs)}` : '';
    const objects =
      f.objects.length > 0
        ? ` in ${f.objects.slice(0, 3).join(', ')}${f.objects.length > 3 ? ` and ${f.objects.length - 3} more` : ''}`
        : '';
    lines.push(
      `${f.explained ? 'explained  ' : 'UNEXPLAINED'} ${LABELS[f.kind]}: app ${f.sdkAppId}${where}${seqs}${objects}${f.detail ? ` (${f.detail})` : ''}`,
    );
  }
  lines.push(
    report.unexplained === 0
      ? 'Result: complete. Every seq is archived exactly once or its absence is explained.'
      : `Result: ${report.unexplained} unexplained finding${report.unexplained === 1 ? '' : 's'}.`,
  );
  return lines.join('\n');
}
