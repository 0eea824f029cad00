/**
 * The audit's checks of what the committed state does not account for: an app with rows but no
 * state, rows and objects beyond what the state claims (or that it names as an uncommitted
 * checkpoint), and objects under `messages/` that hold no row the tables read.
 */
import type { TargetState } from '../../domain/continuation.ts';
import { stateKey } from '../../domain/partition.ts';
import type { ObjectStore } from '../../domain/storage.ts';
import { type CommittedState, claims } from './committed.ts';
import { toRanges } from './report.ts';
import { type FindingSink, type ObjectTarget, targetId } from './targets.ts';

/** `state-missing`: the app has rows but no committed state. */
export function checkStateMissing(options: {
  readonly sdkAppId: number;
  readonly state: CommittedState | null;
  readonly objectTargets: readonly ObjectTarget[];
  readonly finding: FindingSink;
}): void {
  const { sdkAppId, state, objectTargets, finding } = options;
  if (state === null && objectTargets.length > 0) {
    finding({
      kind: 'state-missing',
      explained: false,
      groupId: null,
      topicId: null,
      seqs: [],
      objects: [],
      detail: `app ${sdkAppId} has ${objectTargets.length} target-objects of messages but no ${stateKey(sdkAppId)}`,
    });
  }
}

export interface UncommittedRowsOptions {
  readonly objectTargets: readonly ObjectTarget[];
  /** The targets the state claims, per target key (committed.ts, `claimedTargets`). */
  readonly stateTargets: ReadonlyMap<string, TargetState>;
  /** Objects the state names as not committed (committed.ts, `pendingKeys`). */
  readonly pending: ReadonlySet<string>;
  readonly finding: FindingSink;
}

/** Per object: its rows, and how many of them lie beyond what the state claims. */
function rowsBeyondPerObject(options: UncommittedRowsOptions): Map<string, { beyond: number; rows: number }> {
  const objectsBeyond = new Map<string, { beyond: number; rows: number }>();
  for (const ot of options.objectTargets) {
    const t = options.stateTargets.get(targetId(ot.groupId, ot.topicId, ot.generation));
    const entry = objectsBeyond.get(ot.key) ?? { beyond: 0, rows: 0 };
    entry.rows += ot.rows;
    if (!claims(t, ot.lastSeq) || !claims(t, ot.firstSeq)) entry.beyond += ot.rows;
    objectsBeyond.set(ot.key, entry);
  }
  return objectsBeyond;
}

interface Uncommitted {
  groupId: string;
  topicId: string | null;
  seqs: number[];
  objects: Set<string>;
}

/**
 * Seqs and objects beyond the committed state, per (target, tag): `p` an object the state names
 * as pending, `o` an object that is all such rows, `u` an object partly such rows.
 */
function uncommittedPerTarget(options: UncommittedRowsOptions): Map<string, Uncommitted> {
  const { objectTargets, stateTargets, pending } = options;
  const objectsBeyond = rowsBeyondPerObject(options);
  const uncommitted = new Map<string, Uncommitted>();
  for (const ot of objectTargets) {
    const t = stateTargets.get(targetId(ot.groupId, ot.topicId, ot.generation));
    if (claims(t, ot.firstSeq) && claims(t, ot.lastSeq)) continue;
    const seqs: number[] = [];
    for (let s = ot.firstSeq; s <= ot.lastSeq && seqs.length < 100_000; s++) if (!claims(t, s)) seqs.push(s);
    const beyond = objectsBeyond.get(ot.key);
    const kind = pending.has(ot.key) ? 'p' : beyond?.beyond === beyond?.rows ? 'o' : 'u';
    const id = JSON.stringify([targetId(ot.groupId, ot.topicId, ot.generation), kind]);
    const u = uncommitted.get(id) ?? {
      groupId: ot.groupId,
      topicId: ot.topicId,
      seqs: [],
      objects: new Set<string>(),
    };
    u.seqs.push(...seqs);
    u.objects.add(ot.key);
    uncommitted.set(id, u);
  }
  return uncommitted;
}

/** `uncommitted-rows`, `orphan-object` and `pending-rollback`: rows beyond the committed state. */
export function checkUncommittedRows(options: UncommittedRowsOptions): void {
  const { stateTargets, finding } = options;
  for (const [id, u] of uncommittedPerTarget(options)) {
    const tag = (JSON.parse(id) as [string, string])[1];
    const kind = tag === 'p' ? 'pending-rollback' : tag === 'o' ? 'orphan-object' : 'uncommitted-rows';
    finding({
      kind,
      explained: kind === 'pending-rollback',
      groupId: u.groupId,
      topicId: u.topicId,
      seqs: toRanges(u.seqs),
      objects: [...u.objects],
      detail:
        kind === 'pending-rollback'
          ? 'named by the state as an uncommitted checkpoint; the next run deletes it'
          : [...stateTargets.values()].some((t) => t.groupId === u.groupId && t.topicId === u.topicId)
            ? 'seqs beyond the committed high-water mark'
            : 'a target the committed state does not know',
    });
  }
}

/**
 * Objects under `messages/` that hold no row the tables read (not an archive object, or empty):
 * `pending-rollback` when the state names them, `orphan-object` otherwise.
 */
export async function checkStrayObjects(options: {
  readonly store: ObjectStore;
  readonly sdkAppId: number;
  readonly objectTargets: readonly ObjectTarget[];
  readonly pending: ReadonlySet<string>;
  /** Objects in an archived storage class: the query skips them (reported as `archived-unreadable`). */
  readonly archived: ReadonlySet<string>;
  readonly finding: FindingSink;
}): Promise<void> {
  const { store, sdkAppId, objectTargets, pending, archived, finding } = options;
  const withRows = new Set(objectTargets.map((o) => o.key));
  const stray: string[] = [];
  for await (const key of store.list(`messages/sdkappid=${sdkAppId}/`))
    if (!withRows.has(key) && !archived.has(key)) stray.push(key);
  if (stray.length === 0) return;
  const named = stray.filter((k) => pending.has(k));
  const unnamed = stray.filter((k) => !pending.has(k));
  if (named.length > 0) {
    finding({
      kind: 'pending-rollback',
      explained: true,
      groupId: null,
      topicId: null,
      seqs: [],
      objects: named,
      detail: 'named by the state as an uncommitted checkpoint; the next run deletes it',
    });
  }
  if (unnamed.length > 0) {
    finding({
      kind: 'orphan-object',
      explained: false,
      groupId: null,
      topicId: null,
      seqs: [],
      objects: unnamed,
      detail: 'under messages/ but holding no archive row (not an archive object, or empty)',
    });
  }
}
