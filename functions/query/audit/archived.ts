/**
 * Objects the audit cannot read because their storage class needs a restore first (S3 Glacier
 * Flexible Retrieval, Deep Archive, an Intelligent-Tiering archive tier). Athena skips them without
 * an error, and a GetObject on them fails with `InvalidObjectState` (the store's
 * ArchivedObjectError); the audit counts them per target and reports them as explained instead of
 * failing or calling them orphans.
 */
import type { ObjectStore } from '../../domain/storage.ts';
import { type FindingSink, type ObjectTarget, targetId } from './targets.ts';

/** The app's message objects in an archived storage class (none on a store without classes). */
export async function listArchivedObjects(store: ObjectStore, sdkAppId: number): Promise<Set<string>> {
  const keys = new Set<string>();
  if (store.listArchived === undefined) return keys;
  for await (const key of store.listArchived(`messages/sdkappid=${sdkAppId}/`)) keys.add(key);
  return keys;
}

/**
 * `archived-unreadable` findings (explained): one per target for the objects whose rows the query
 * read but whose GET was refused, and one for the app for the objects the query skipped (which
 * targets they hold is not known without a restore). Returns how many distinct objects that is.
 */
export function reportArchived(options: {
  readonly keys: ReadonlySet<string>;
  readonly objectTargets: readonly ObjectTarget[];
  readonly finding: FindingSink;
}): number {
  const { keys, objectTargets, finding } = options;
  const perTarget = new Map<string, { groupId: string; topicId: string | null; objects: Set<string> }>();
  const placed = new Set<string>();
  for (const ot of objectTargets) {
    if (!keys.has(ot.key)) continue;
    placed.add(ot.key);
    const id = targetId(ot.groupId, ot.topicId, ot.generation);
    const t = perTarget.get(id) ?? { groupId: ot.groupId, topicId: ot.topicId, objects: new Set() };
    t.objects.add(ot.key);
    perTarget.set(id, t);
  }
  for (const t of perTarget.values()) {
    finding({
      kind: 'archived-unreadable',
      explained: true,
      groupId: t.groupId,
      topicId: t.topicId,
      seqs: [],
      objects: [...t.objects],
      detail: `${t.objects.size} object${t.objects.size === 1 ? '' : 's'} in an archived storage class, not read (restore to audit them)`,
    });
  }
  const unplaced = [...keys].filter((k) => !placed.has(k));
  if (unplaced.length > 0) {
    finding({
      kind: 'archived-unreadable',
      explained: true,
      groupId: null,
      topicId: null,
      seqs: [],
      objects: unplaced,
      detail: `${unplaced.length} object${unplaced.length === 1 ? '' : 's'} in an archived storage class, skipped by the query (restore to audit them; seqs they hold read as missing)`,
    });
  }
  return keys.size;
}
