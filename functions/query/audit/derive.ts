/**
 * The checks that span partitions, derived from the incremental audit's totals (totals.ts)
 * instead of queried: each function returns what the full audit's query returns (sql.ts), in the
 * same shape, so the same code turns it into findings. Missing seqs are the holes in the union of
 * every object's seq ranges; duplicates are overlapping ranges (or a pair an object holds twice);
 * revision holes come from the stored revisions; a zeroed placeholder's partition from where its
 * first revision is.
 */
import type { Cell } from '../port.ts';
import { dtOfKey, mergeRanges } from './facts.ts';
import { int, type ObjectTarget, targetId } from './targets.ts';
import type { ObjectTargetTotals, PartitionTotals } from './totals.ts';

type Row = Record<string, Cell>;

/** The (object, target) pairs of every partition, ordered as the objects query orders them. */
export function allPairs(partitions: Iterable<PartitionTotals>): ObjectTargetTotals[] {
  const pairs = [...partitions].flatMap((p) => p.targets);
  const order = (t: ObjectTargetTotals) => [
    t.groupId,
    t.topicId ?? '',
    String(t.generation).padStart(12, '0'),
    t.key,
  ];
  return pairs.sort((a, b) => {
    const x = order(a);
    const y = order(b);
    for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return (x[i] ?? '') < (y[i] ?? '') ? -1 : 1;
    return 0;
  });
}

/** The pairs as the checks take them (targets.ts). */
export function objectTargetsOf(pairs: readonly ObjectTargetTotals[]): ObjectTarget[] {
  return pairs.map((t) => ({
    key: t.key,
    groupId: t.groupId,
    topicId: t.topicId,
    generation: t.generation,
    firstSeq: t.firstSeq,
    lastSeq: t.lastSeq,
    rows: t.rows,
    revisionRows: t.revisionRows,
    elsewhereRows: t.elsewhereRows,
  }));
}

function perTarget(pairs: readonly ObjectTargetTotals[]): Map<string, ObjectTargetTotals[]> {
  const out = new Map<string, ObjectTargetTotals[]>();
  for (const t of pairs) {
    const id = targetId(t.groupId, t.topicId, t.generation);
    out.set(id, [...(out.get(id) ?? []), t]);
  }
  return out;
}

/** Every seq of a pair, any revision, as ranges. */
const seqsOf = (t: ObjectTargetTotals) => [...t.rev0, ...t.revisions.flatMap(([, ranges]) => ranges)];

/** As `readHoles` (coverage.ts): the seqs with no row inside each target's range, at most 100,000 a target. */
export function holesOf(pairs: readonly ObjectTargetTotals[]): Map<string, number[]> {
  const holes = new Map<string, number[]>();
  for (const [id, list] of perTarget(pairs)) {
    const merged = mergeRanges(list.flatMap(seqsOf));
    const seqs: number[] = [];
    for (let i = 1; i < merged.length; i++) {
      const from = (merged[i - 1]?.[1] ?? 0) + 1;
      const to = merged[i]?.[0] ?? 0;
      for (let s = from; s < to && seqs.length < 100_000; s++) seqs.push(s);
    }
    if (seqs.length > 0) holes.set(id, seqs);
  }
  return holes;
}

const expand = (ranges: readonly (readonly [number, number])[]) =>
  ranges.flatMap(([a, b]) => Array.from({ length: b - a + 1 }, (_, i) => a + i));

/** As `readPlaceholders` (coverage.ts): the revision-0 placeholders per target. */
export function placeholdersOf(
  pairs: readonly ObjectTargetTotals[],
): Map<string, { deleted: number[]; recalled: number[] }> {
  const out = new Map<string, { deleted: number[]; recalled: number[] }>();
  for (const [id, list] of perTarget(pairs)) {
    const deleted = list.flatMap((t) => expand(t.deleted));
    const recalled = list.flatMap((t) => expand(t.recalled));
    if (deleted.length + recalled.length > 0) out.set(id, { deleted, recalled });
  }
  return out;
}

const holds = (ranges: readonly (readonly [number, number])[], seq: number) =>
  ranges.some(([a, b]) => seq >= a && seq <= b);

/** How many rows of (seq, revision) the pair holds. */
function rowsOfPair(t: ObjectTargetTotals, seq: number, rev: number): number {
  const multi = t.multi.find(([s, r]) => s === seq && r === rev);
  if (multi !== undefined) return multi[2];
  const ranges = rev === 0 ? t.rev0 : (t.revisions.find(([r]) => r === rev)?.[1] ?? []);
  return holds(ranges, seq) ? 1 : 0;
}

/** Seqs covered by two or more of the ranges (the ranges of one pair do not overlap). */
function overlaps(ranges: readonly (readonly [number, number])[]): number[] {
  const sorted = [...ranges].sort((a, b) => a[0] - b[0]);
  const out: number[] = [];
  let reach = Number.NEGATIVE_INFINITY;
  for (const [lo, hi] of sorted) {
    for (let s = lo; s <= Math.min(hi, reach); s++) out.push(s);
    reach = Math.max(reach, hi);
  }
  return out;
}

/** As `DUPLICATES_SQL`: every row of a (seq, revision) held more than once, with its object. */
export function duplicateRowsOf(pairs: readonly ObjectTargetTotals[]): Row[] {
  const rows: Row[] = [];
  for (const list of perTarget(pairs).values()) {
    const candidates = new Map<string, [number, number]>();
    const add = (seq: number, rev: number) => candidates.set(`${seq}/${rev}`, [seq, rev]);
    for (const s of overlaps(list.flatMap((t) => t.rev0))) add(s, 0);
    const revs = new Set(list.flatMap((t) => t.revisions.map(([r]) => r)));
    for (const rev of revs)
      for (const s of overlaps(list.flatMap((t) => t.revisions.find(([r]) => r === rev)?.[1] ?? [])))
        add(s, rev);
    for (const t of list) for (const [s, r] of t.multi) add(s, r);
    for (const [seq, rev] of candidates.values()) {
      const held = list.map((t) => [t, rowsOfPair(t, seq, rev)] as const).filter(([, n]) => n > 0);
      if (held.reduce((n, [, k]) => n + k, 0) < 2) continue;
      for (const [t, n] of held)
        for (let i = 0; i < n; i++)
          rows.push({ ...cellsOf(t), msg_seq: String(seq), rev: String(rev), path: t.key });
    }
  }
  return rows.sort((a, b) => int(a.msg_seq) - int(b.msg_seq) || int(a.rev) - int(b.rev));
}

const cellsOf = (t: ObjectTargetTotals): Row => ({
  group_id: t.groupId,
  topic_id: t.topicId,
  gen: String(t.generation),
});

/** As `REVISION_HOLES_SQL`: messages whose revisions are not 0 … n without a hole. */
export function revisionHoleRowsOf(pairs: readonly ObjectTargetTotals[]): Row[] {
  const rows: Row[] = [];
  for (const list of perTarget(pairs).values()) {
    const revsOf = new Map<number, Set<number>>();
    for (const t of list)
      for (const [rev, ranges] of t.revisions)
        for (const s of expand(ranges)) revsOf.set(s, (revsOf.get(s) ?? new Set()).add(rev));
    const first = list[0];
    if (first === undefined) continue;
    for (const [seq, revs] of [...revsOf].sort((a, b) => a[0] - b[0])) {
      if (list.some((t) => holds(t.rev0, seq))) revs.add(0);
      const last = Math.max(...revs);
      if (revs.size === last + 1 && revs.has(0)) continue;
      rows.push({
        ...cellsOf(first),
        msg_seq: String(seq),
        revisions: String(revs.size),
        last_revision: String(last),
      });
    }
  }
  return rows;
}

/**
 * As `wrongPartitionSql`: rows with a message time filed under another date (stored as found),
 * and rows without one (a zeroed placeholder) not beside their message's first revision.
 */
export function misplacedRowsOf(partitions: readonly PartitionTotals[]): Row[] {
  const pairs = partitions.flatMap((p) => p.targets);
  const rows: Row[] = partitions.flatMap((p) =>
    p.misplaced.map((m) => ({
      group_id: m.groupId,
      topic_id: m.topicId,
      gen: String(m.generation),
      msg_seq: String(m.seq),
      dt: dtOfKey(m.key),
      expected: m.expected,
      path: m.key,
    })),
  );
  const targets = perTarget(pairs);
  for (const t of pairs) {
    for (const [seq] of t.zeroed) {
      const list = targets.get(targetId(t.groupId, t.topicId, t.generation)) ?? [];
      const expected = firstRevisionDt(list, seq);
      const dt = dtOfKey(t.key);
      if (expected !== undefined && expected !== dt)
        rows.push({ ...cellsOf(t), msg_seq: String(seq), dt, expected, path: t.key });
    }
  }
  return rows.sort((a, b) => int(a.msg_seq) - int(b.msg_seq));
}

/** The `dt` of the object holding the message's lowest revision. */
function firstRevisionDt(list: readonly ObjectTargetTotals[], seq: number): string | undefined {
  let best: { rev: number; dt: string } | undefined;
  for (const t of list) {
    const revs = [
      ...(holds(t.rev0, seq) ? [0] : []),
      ...t.revisions.filter(([, r]) => holds(r, seq)).map(([r]) => r),
    ];
    for (const rev of revs) if (best === undefined || rev < best.rev) best = { rev, dt: dtOfKey(t.key) };
  }
  return best?.dt;
}
