/**
 * The audit's per-target coverage: for every target the state claims or the archive holds, how
 * each seq is accounted for (before the first capture, a placeholder, not yet archived, or missing:
 * claimed by the state with no row), and a `missing-seqs` finding for what is missing.
 */
import type { TargetState } from '../../domain/continuation.ts';
import type { ParamValue, QueryRunner } from '../port.ts';
import { claims } from './committed.ts';
import { type SeqRanges, type TargetAudit, toRanges } from './report.ts';
import { GAPS_SQL, PLACEHOLDERS_SQL } from './sql.ts';
import {
  type FindingSink,
  int,
  type ObjectTarget,
  parseTargetId,
  rowsOf,
  targetId,
  text,
} from './targets.ts';

interface Placeholders {
  deleted: number[];
  recalled: number[];
}

/** The seqs inside each target's archived range that have no row, per target key. */
export async function readHoles(
  runner: QueryRunner,
  app: readonly ParamValue[],
): Promise<Map<string, number[]>> {
  const holes = new Map<string, number[]>();
  for (const r of await rowsOf(runner, GAPS_SQL, app)) {
    const id = targetId(text(r.group_id), r.topic_id ?? null, int(r.gen));
    const list = holes.get(id) ?? [];
    for (let s = int(r.msg_seq) + 1; s < int(r.next_seq) && list.length < 100_000; s++) list.push(s);
    holes.set(id, list);
  }
  return holes;
}

/** The seqs first captured as placeholders, deleted and recalled, per target key. */
export async function readPlaceholders(
  runner: QueryRunner,
  app: readonly ParamValue[],
): Promise<Map<string, Placeholders>> {
  const placeholders = new Map<string, Placeholders>();
  for (const r of await rowsOf(runner, PLACEHOLDERS_SQL, app)) {
    const id = targetId(text(r.group_id), r.topic_id ?? null, int(r.gen));
    const p = placeholders.get(id) ?? { deleted: [], recalled: [] };
    (int(r.is_place_msg) === 2 ? p.recalled : p.deleted).push(int(r.msg_seq));
    placeholders.set(id, p);
  }
  return placeholders;
}

/**
 * Seqs 1 … `firstSeq` - 1 that are not in `notYetArchived`: each missing seq is counted in one
 * category. (A range in progress whose server returned nothing down to its cursor has no row below
 * the cursor: those seqs are not archived yet, not gone before the first capture.)
 */
function beforeFirstCapture(firstSeq: number | null, notYetArchived: SeqRanges): SeqRanges {
  if (firstSeq === null || firstSeq <= 1) return [];
  let ranges: [number, number][] = [[1, firstSeq - 1]];
  for (const [lo, hi] of notYetArchived) {
    ranges = ranges.flatMap(([a, b]): [number, number][] =>
      hi < a || lo > b
        ? [[a, b]]
        : [
            ...(a < lo ? [[a, lo - 1] as [number, number]] : []),
            ...(hi < b ? [[hi + 1, b] as [number, number]] : []),
          ],
    );
  }
  return ranges;
}

interface TargetCoverageOptions {
  /** The target's key (targets.ts, `targetId`). */
  readonly id: string;
  /** What the state claims of it, if anything. */
  readonly state: TargetState | undefined;
  /** Its (target, object) pairs in the archive. */
  readonly objects: readonly ObjectTarget[];
  /** Its seqs with no row inside its archived range (`readHoles`). */
  readonly holes: readonly number[];
  readonly placeholders: Placeholders;
  readonly finding: FindingSink;
}

/** One target's coverage, and its `missing-seqs` findings. */
function auditTarget(options: TargetCoverageOptions): TargetAudit {
  const { id, state: t, objects, holes, finding } = options;
  const { groupId, topicId: topicPart, generation } = parseTargetId(id);
  const topicId = t?.topicId ?? objects[0]?.topicId ?? topicPart;
  const claimed = objects.filter((o) => claims(t, o.firstSeq));
  const firstSeq = claimed.length > 0 ? Math.min(...claimed.map((o) => o.firstSeq)) : null;
  const lastSeq = objects.length > 0 ? Math.max(...objects.map((o) => o.lastSeq)) : null;
  const highWater = t?.highWater ?? 0;
  const inProgress = t?.inProgress ? { cursor: t.inProgress.cursor, top: t.inProgress.top } : null;
  // Missing: claimed seqs from the first capture up with no row (holes between rows, and the
  // claimed range's ends beyond the last row).
  const missing = holes.filter((s) => claims(t, s) && firstSeq !== null && s >= firstSeq);
  const claimedTop = Math.max(highWater, inProgress?.top ?? 0);
  if (t !== undefined && firstSeq !== null && lastSeq !== null) {
    for (let s = lastSeq + 1; s <= claimedTop && missing.length < 200_000; s++)
      if (claims(t, s)) missing.push(s);
  }
  if (t !== undefined && firstSeq === null && highWater > 0) {
    // The state claims seqs but the archive holds none of them.
    finding({
      kind: 'missing-seqs',
      explained: false,
      groupId,
      topicId,
      seqs: [[1, highWater]],
      objects: [],
      detail: 'the state claims this target but the archive has no row of it',
    });
  }
  const p = options.placeholders;
  const notYetArchived: SeqRanges =
    inProgress !== null && inProgress.cursor > highWater ? [[highWater + 1, inProgress.cursor]] : [];
  const gaps = {
    beforeFirstCapture: beforeFirstCapture(firstSeq, notYetArchived),
    deletedPlaceholders: toRanges(p.deleted),
    recalledPlaceholders: toRanges(p.recalled),
    unexplained: toRanges(missing),
    notYetArchived,
  };
  if (missing.length > 0) {
    finding({
      kind: 'missing-seqs',
      explained: false,
      groupId,
      topicId,
      seqs: gaps.unexplained,
      objects: [],
      detail: `${missing.length} seq${missing.length === 1 ? '' : 's'} the state says are archived have no row`,
    });
  }
  return {
    groupId,
    topicId,
    generation,
    highWater,
    inProgress,
    firstSeq,
    lastSeq,
    rows: objects.reduce((n, o) => n + o.rows, 0),
    revisionRows: objects.reduce((n, o) => n + o.revisionRows, 0),
    gaps,
  };
}

/** Every target's coverage (in target-key order), and the `missing-seqs` findings. */
export async function auditCoverage(options: {
  readonly runner: QueryRunner;
  /** The sdkappid parameter. */
  readonly app: readonly ParamValue[];
  /** The targets the state claims, per target key (committed.ts, `claimedTargets`). */
  readonly stateTargets: ReadonlyMap<string, TargetState>;
  /** The archive's (target, object) pairs per target key (targets.ts, `groupByTarget`). */
  readonly byTarget: ReadonlyMap<string, readonly ObjectTarget[]>;
  readonly finding: FindingSink;
}): Promise<TargetAudit[]> {
  const { runner, app, stateTargets, byTarget, finding } = options;
  const holes = await readHoles(runner, app);
  const placeholders = await readPlaceholders(runner, app);
  return coverageOf({ stateTargets, byTarget, holes, placeholders, finding });
}

/**
 * Every target's coverage from its holes and placeholders (queried by {@link auditCoverage}, or
 * derived from the incremental audit's totals, derive.ts).
 */
export function coverageOf(options: {
  readonly stateTargets: ReadonlyMap<string, TargetState>;
  readonly byTarget: ReadonlyMap<string, readonly ObjectTarget[]>;
  readonly holes: ReadonlyMap<string, readonly number[]>;
  readonly placeholders: ReadonlyMap<string, Placeholders>;
  readonly finding: FindingSink;
}): TargetAudit[] {
  const { stateTargets, byTarget, holes, placeholders, finding } = options;
  const ids = new Set([...stateTargets.keys(), ...byTarget.keys()]);
  return [...ids].sort().map((id) =>
    auditTarget({
      id,
      state: stateTargets.get(id),
      objects: byTarget.get(id) ?? [],
      holes: holes.get(id) ?? [],
      placeholders: placeholders.get(id) ?? { deleted: [], recalled: [] },
      finding,
    }),
  );
}
