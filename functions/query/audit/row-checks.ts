/**
 * The audit's checks of single rows, each one query whose rows are findings grouped per target:
 * duplicated (seq, revision) pairs, rows in the wrong `dt` partition, revision chains with a hole.
 */
import type { Cell, ParamValue, QueryRunner } from '../port.ts';
import { keyOfPath } from '../transcript/load.ts';
import { type Finding, toRanges } from './report.ts';
import { DUPLICATES_SQL, REVISION_HOLES_SQL, wrongPartitionSql } from './sql.ts';
import { type FindingSink, int, rowsOf, targetId, text } from './targets.ts';

type Row = Record<string, Cell>;

/** Runs `sql` and reports one finding of `kind` per target it returns rows of. */
async function findingsPerTarget(options: {
  readonly runner: QueryRunner;
  readonly sql: string;
  readonly values: readonly ParamValue[];
  readonly kind: Finding['kind'];
  readonly detail: (rows: Row[]) => string;
  readonly finding: FindingSink;
}): Promise<void> {
  const { runner, sql, values, kind, detail, finding } = options;
  findingsOfRows({ rows: await rowsOf(runner, sql, values), kind, detail, finding });
}

/** One finding of `kind` per target of `rows` (rows shaped as the query's). */
function findingsOfRows(options: {
  readonly rows: readonly Row[];
  readonly kind: Finding['kind'];
  readonly detail: (rows: Row[]) => string;
  readonly finding: FindingSink;
}): void {
  const { kind, detail, finding } = options;
  const per = new Map<string, Row[]>();
  for (const r of options.rows) {
    const id = targetId(text(r.group_id), r.topic_id ?? null, int(r.gen));
    per.set(id, [...(per.get(id) ?? []), r]);
  }
  for (const rows of per.values()) {
    const first = rows[0];
    finding({
      kind,
      explained: false,
      groupId: text(first?.group_id),
      topicId: first?.topic_id ?? null,
      seqs: toRanges(rows.map((r) => int(r.msg_seq))),
      objects: [...new Set(rows.map((r) => keyOfPath(text(r.path)) ?? text(r.path)).filter((k) => k !== ''))],
      detail: detail(rows),
    });
  }
}

type RowKind = 'duplicate-rows' | 'wrong-partition' | 'revision-hole';

const DETAIL: Readonly<Record<RowKind, (rows: Row[]) => string>> = {
  'duplicate-rows': (rows) =>
    `${rows.length} rows for ${new Set(rows.map((r) => `${r.msg_seq}/${r.rev}`)).size} (seq, revision) pairs`,
  'wrong-partition': (rows) =>
    rows
      .slice(0, 3)
      .map((r) => `seq ${r.msg_seq} in dt=${r.dt}, belongs in dt=${r.expected}`)
      .join('; '),
  'revision-hole': (rows) =>
    rows
      .slice(0, 3)
      .map((r) => `seq ${r.msg_seq}: ${r.revisions} of revisions 0-${r.last_revision}`)
      .join('; '),
};

/**
 * The findings of one row check from rows shaped as its query's (the incremental audit derives
 * them from its totals, derive.ts).
 */
export function reportRows(kind: RowKind, rows: readonly Row[], finding: FindingSink): void {
  findingsOfRows({ rows, kind, detail: DETAIL[kind], finding });
}

export interface RowCheckOptions {
  readonly runner: QueryRunner;
  /** The sdkappid parameter. */
  readonly app: readonly ParamValue[];
  readonly finding: FindingSink;
}

/** `duplicate-rows`: the same (seq, revision) more than once. */
export function checkDuplicates(options: RowCheckOptions): Promise<void> {
  return findingsPerTarget({
    runner: options.runner,
    sql: DUPLICATES_SQL,
    values: options.app,
    kind: 'duplicate-rows',
    detail: DETAIL['duplicate-rows'],
    finding: options.finding,
  });
}

/** `wrong-partition`: rows whose `dt` folder is not their message date in `timeZone`. */
export function checkWrongPartition(options: RowCheckOptions & { readonly timeZone: string }): Promise<void> {
  return findingsPerTarget({
    runner: options.runner,
    sql: wrongPartitionSql(options.runner.dialect),
    values: [{ type: 'string', value: options.timeZone }, ...options.app],
    kind: 'wrong-partition',
    detail: DETAIL['wrong-partition'],
    finding: options.finding,
  });
}

/** `revision-hole`: revisions of a message that do not run 0, 1, 2, … without a gap. */
export function checkRevisionHoles(options: RowCheckOptions): Promise<void> {
  return findingsPerTarget({
    runner: options.runner,
    sql: REVISION_HOLES_SQL,
    values: options.app,
    kind: 'revision-hole',
    detail: DETAIL['revision-hole'],
    finding: options.finding,
  });
}
