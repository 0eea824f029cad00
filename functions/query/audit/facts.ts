/**
 * What the incremental audit reads from the partitions that are new or changed since its totals:
 * three queries with `AND dt IN (…)` (the objects per target, the revision-0 seq ranges per object
 * and target, the exceptional rows), turned into each partition's totals (totals.ts). The media
 * references of those partitions are read by media-references.ts with the same filter.
 */
import { dateInZone } from '../../domain/partition.ts';
import type { ParamValue, QueryRunner } from '../port.ts';
import { keyOfPath } from '../transcript/load.ts';
import { type SeqRanges, toRanges } from './report.ts';
import { exceptionalRowsSql, objectTargetsSql, revisionZeroRangesSql } from './sql.ts';
import { int, rowsOf, targetId, text } from './targets.ts';
import type { MisplacedRow, ObjectTargetTotals, PartitionTotals } from './totals.ts';

/** The `dt` of a message object's key (`…/dt=2024-03-10/…`), or '' for a key outside a partition. */
export function dtOfKey(key: string): string {
  return /\/dt=(\d{4}-\d{2}-\d{2})\//.exec(key)?.[1] ?? '';
}

/** The query parameters: the app, then each partition (none: every partition). */
export function partitionValues(sdkAppId: number, partitions: readonly string[]): ParamValue[] {
  return [
    { type: 'string', value: String(sdkAppId) },
    ...partitions.map((dt): ParamValue => ({ type: 'string', value: dt })),
  ];
}

/** Per (object, target) while the facts are gathered: seqs as sets until they become ranges. */
interface Building {
  totals: ObjectTargetTotals;
  revisions: Map<number, number[]>;
  multi: Map<string, [number, number, number]>;
  deleted: number[];
  recalled: number[];
}

const pairId = (key: string, target: string) => JSON.stringify([key, target]);

/** Merges touching or overlapping ranges (sorted by start). */
export function mergeRanges(ranges: readonly (readonly [number, number])[]): SeqRanges {
  const sorted = [...ranges].sort((a, b) => a[0] - b[0]);
  const out: SeqRanges = [];
  for (const [lo, hi] of sorted) {
    const last = out.at(-1);
    if (last !== undefined && lo <= last[1] + 1) last[1] = Math.max(last[1], hi);
    else out.push([lo, hi]);
  }
  return out;
}

async function objectPairs(
  runner: QueryRunner,
  values: readonly ParamValue[],
  partitions: number,
): Promise<Map<string, Building>> {
  const pairs = new Map<string, Building>();
  for (const r of await rowsOf(runner, objectTargetsSql(partitions), values)) {
    const key = keyOfPath(text(r.path)) ?? text(r.path);
    const totals: ObjectTargetTotals = {
      key,
      groupId: text(r.group_id),
      topicId: r.topic_id ?? null,
      generation: int(r.gen),
      firstSeq: int(r.first_seq),
      lastSeq: int(r.last_seq),
      rows: int(r.rows_n),
      revisionRows: int(r.revision_rows),
      elsewhereRows: int(r.elsewhere_rows),
      rev0: [],
      revisions: [],
      multi: [],
      deleted: [],
      recalled: [],
      zeroed: [],
    };
    const id = pairId(key, targetId(totals.groupId, totals.topicId, totals.generation));
    pairs.set(id, { totals, revisions: new Map(), multi: new Map(), deleted: [], recalled: [] });
  }
  return pairs;
}

/** The pair a row of the other two queries belongs to (a row of an object the first did not see is dropped). */
function pairOf(pairs: Map<string, Building>, r: Record<string, string | null>): Building | undefined {
  const key = keyOfPath(text(r.path)) ?? text(r.path);
  return pairs.get(pairId(key, targetId(text(r.group_id), r.topic_id ?? null, int(r.gen))));
}

/**
 * Reads the given partitions of one app (all of them when `partitions` is empty) and returns
 * each partition's totals without media (`media: null`), by `dt`. Partitions with no row the
 * tables read get empty totals.
 */
export async function readPartitionFacts(options: {
  readonly runner: QueryRunner;
  readonly sdkAppId: number;
  readonly partitions: readonly string[];
  readonly timeZone: string;
}): Promise<Map<string, PartitionTotals>> {
  const { runner, sdkAppId, partitions, timeZone } = options;
  const values = partitionValues(sdkAppId, partitions);
  const pairs = await objectPairs(runner, values, partitions.length);
  for (const r of await rowsOf(runner, revisionZeroRangesSql(partitions.length), values))
    pairOf(pairs, r)?.totals.rev0.push([int(r.lo), int(r.hi)]);
  const misplaced = new Map<string, MisplacedRow[]>();
  const exceptional = exceptionalRowsSql(runner.dialect, partitions.length);
  for (const r of await rowsOf(runner, exceptional, [...values, { type: 'string', value: timeZone }])) {
    const pair = pairOf(pairs, r);
    if (pair === undefined) continue;
    addExceptional(pair, r, timeZone, misplaced);
  }
  const out = new Map<string, PartitionTotals>();
  for (const dt of partitions) out.set(dt, { objects: [], targets: [], misplaced: [], media: null });
  for (const pair of pairs.values()) {
    const t = pair.totals;
    const dt = dtOfKey(t.key);
    const partition = out.get(dt) ?? { objects: [], targets: [], misplaced: [], media: null };
    t.rev0 = mergeRanges(t.rev0);
    t.revisions = [...pair.revisions].sort((a, b) => a[0] - b[0]).map(([rev, seqs]) => [rev, toRanges(seqs)]);
    t.multi = [...pair.multi.values()];
    t.deleted = toRanges(pair.deleted);
    t.recalled = toRanges(pair.recalled);
    partition.targets.push(t);
    out.set(dt, partition);
  }
  for (const [dt, rows] of misplaced) {
    const partition = out.get(dt);
    if (partition !== undefined) partition.misplaced = rows;
  }
  return out;
}

/** One exceptional row into its pair's facts. */
function addExceptional(
  pair: Building,
  r: Record<string, string | null>,
  timeZone: string,
  misplaced: Map<string, MisplacedRow[]>,
): void {
  const t = pair.totals;
  const seq = int(r.msg_seq);
  const rev = int(r.rev);
  const place = int(r.place);
  const time = int(r.msg_time);
  if (rev > 0) pair.revisions.set(rev, [...(pair.revisions.get(rev) ?? []), seq]);
  if (int(r.n) > 1) pair.multi.set(`${seq}/${rev}`, [seq, rev, int(r.n)]);
  if (rev === 0 && place !== 0) (place === 2 ? pair.recalled : pair.deleted).push(seq);
  if (time <= 0) t.zeroed.push([seq, rev]);
  else {
    const expected = dateInZone(time, timeZone);
    const dt = text(r.dt);
    if (expected !== dt) {
      const list = misplaced.get(dtOfKey(t.key)) ?? [];
      list.push({
        key: t.key,
        groupId: t.groupId,
        topicId: t.topicId,
        generation: t.generation,
        seq,
        expected,
      });
      misplaced.set(dtOfKey(t.key), list);
    }
  }
}
