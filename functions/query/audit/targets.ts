/**
 * What every audit step shares: how a target is keyed, the rows of the objects-per-target query,
 * and the sink the steps report findings to. The steps themselves are in the modules beside this
 * one (committed.ts, uncommitted.ts, coverage.ts, row-checks.ts, media.ts); audit.ts runs them.
 */
import type { Cell, ParamValue, QueryRunner } from '../port.ts';
import { collectObjects } from '../result.ts';
import { keyOfPath } from '../transcript/load.ts';
import type { Finding } from './report.ts';
import { OBJECT_TARGETS_SQL } from './sql.ts';

export const text = (cell: Cell | undefined) => cell ?? '';
export const int = (cell: Cell | undefined) => Number(cell ?? 0);

/**
 * A target's map key: JSON of (group, topic, generation), so no character of an id (NUL included)
 * can split it differently; {@link parseTargetId} reads it back. No topic is '' (Athena may read a
 * null string as '').
 */
export const targetId = (groupId: string, topicId: string | null, generation = 0) =>
  JSON.stringify([groupId, topicId ?? '', generation]);
export const parseTargetId = (
  id: string,
): { groupId: string; topicId: string | null; generation: number } => {
  const [groupId, topic, generation] = JSON.parse(id) as [string, string, number];
  return { groupId, topicId: topic === '' ? null : topic, generation };
};

/** Where a step reports a finding; the app's id is added by the sink. */
export type FindingSink = (finding: Omit<Finding, 'sdkAppId'>) => void;

export async function rowsOf(runner: QueryRunner, sql: string, values: readonly ParamValue[]) {
  return collectObjects(await runner.run(sql, values));
}

/** One (target, object) pair the archive holds: its seq bounds and row counts. */
export interface ObjectTarget {
  key: string;
  groupId: string;
  topicId: string | null;
  generation: number;
  firstSeq: number;
  lastSeq: number;
  rows: number;
  revisionRows: number;
  /** Rows whose body is not only in `msg_body` (see `OBJECT_TARGETS_SQL`). */
  elsewhereRows: number;
}

/** Every (target, object) pair of an app (`app`: the sdkappid parameter). */
export async function readObjectTargets(
  runner: QueryRunner,
  app: readonly ParamValue[],
): Promise<ObjectTarget[]> {
  return (await rowsOf(runner, OBJECT_TARGETS_SQL, app)).map((r) => ({
    key: keyOfPath(text(r.path)) ?? text(r.path),
    groupId: text(r.group_id),
    topicId: r.topic_id ?? null,
    generation: int(r.gen),
    firstSeq: int(r.first_seq),
    lastSeq: int(r.last_seq),
    rows: int(r.rows_n),
    revisionRows: int(r.revision_rows),
    elsewhereRows: int(r.elsewhere_rows),
  }));
}

/** The pairs per target key. */
export function groupByTarget(objectTargets: readonly ObjectTarget[]): Map<string, ObjectTarget[]> {
  const byTarget = new Map<string, ObjectTarget[]>();
  for (const ot of objectTargets) {
    const id = targetId(ot.groupId, ot.topicId, ot.generation);
    byTarget.set(id, [...(byTarget.get(id) ?? []), ot]);
  }
  return byTarget;
}
