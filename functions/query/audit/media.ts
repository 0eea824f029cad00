/**
 * The audit's media checks: every reference of an archived message has a manifest row, every
 * `archived` row's object exists (only for apps with a manifest: archives made before media
 * copying have none), and, over all apps, every object under `media/` is named by a manifest row.
 */
import type { ObjectStore } from '../../domain/storage.ts';
import { type ManifestRow, manifestRefKey, readManifest } from '../media-manifest.ts';
import type { ParamValue, QueryRunner } from '../port.ts';
import { type RefPlace, readReferences } from './media-references.ts';
import { type AppAudit, type Finding, toRanges } from './report.ts';
import { type FindingSink, type ObjectTarget, targetId } from './targets.ts';

/** `media-unmanifested`: references with no manifest row, one finding per target. */
function checkUnmanifested(
  referenced: ReadonlyMap<string, RefPlace>,
  manifest: readonly ManifestRow[],
  finding: FindingSink,
): void {
  const rows = new Map(manifest.map((r) => [manifestRefKey(r), r]));
  const unmanifested = new Map<string, { groupId: string; topicId: string | null; seqs: number[] }>();
  for (const [key, ref] of referenced) {
    if (rows.has(key)) continue;
    const id = targetId(ref.groupId, ref.topicId);
    const u = unmanifested.get(id) ?? { groupId: ref.groupId, topicId: ref.topicId, seqs: [] };
    u.seqs.push(ref.seq);
    unmanifested.set(id, u);
  }
  for (const u of unmanifested.values()) {
    finding({
      kind: 'media-unmanifested',
      explained: false,
      groupId: u.groupId,
      topicId: u.topicId,
      seqs: toRanges(u.seqs),
      objects: [],
      detail: `${u.seqs.length} media reference${u.seqs.length === 1 ? '' : 's'} with no manifest row`,
    });
  }
}

/**
 * `media-object-missing`: `archived` manifest rows whose object is not under `media/`, one
 * finding per target. Returns every object the manifest names as archived.
 */
async function checkMissingObjects(
  store: ObjectStore,
  manifest: readonly ManifestRow[],
  finding: FindingSink,
): Promise<string[]> {
  const stored = new Set<string>();
  for await (const key of store.list('media/')) stored.add(key);
  const objects: string[] = [];
  const missing = new Map<
    string,
    { groupId: string; topicId: string | null; seqs: number[]; keys: string[] }
  >();
  for (const row of manifest) {
    if (row.status !== 'archived' || row.object_key === null) continue;
    objects.push(row.object_key);
    if (stored.has(row.object_key)) continue;
    const id = targetId(row.group_id, row.topic_id);
    const m = missing.get(id) ?? { groupId: row.group_id, topicId: row.topic_id, seqs: [], keys: [] };
    m.seqs.push(Number(row.msg_seq));
    m.keys.push(row.object_key);
    missing.set(id, m);
  }
  for (const m of missing.values()) {
    finding({
      kind: 'media-object-missing',
      explained: false,
      groupId: m.groupId,
      topicId: m.topicId,
      seqs: toRanges(m.seqs),
      objects: m.keys,
      detail: 'the manifest says archived, the object is not in the archive',
    });
  }
  return objects;
}

/**
 * One app's media: its summary, and the objects its manifest names as archived (for
 * {@link checkMediaOrphans}).
 */
export async function auditMedia(options: {
  readonly runner: QueryRunner;
  /** The sdkappid parameter. */
  readonly app: readonly ParamValue[];
  readonly store: ObjectStore;
  readonly sdkAppId: number;
  readonly objectTargets: readonly ObjectTarget[];
  /** Objects known to be unreadable; the ones whose GET is refused as archived are added. */
  readonly archived: Set<string>;
  readonly finding: FindingSink;
}): Promise<{ summary: AppAudit['media']; objects: string[] }> {
  const { runner, app, store, sdkAppId, objectTargets, archived, finding } = options;
  const manifest: ManifestRow[] = await readManifest(store, sdkAppId);
  if (manifest.length === 0) {
    return { summary: NO_MEDIA_MANIFEST, objects: [] };
  }
  const referenced = await readReferences({ runner, app, store, objectTargets, archived });
  return checkMedia({ store, manifest, referenced, references: referenced.size, finding });
}

/** A reference no manifest row names in `manifest` (the incremental audit keeps these, totals.ts). */
export function unmanifestedOf(
  referenced: ReadonlyMap<string, RefPlace>,
  manifest: readonly ManifestRow[],
): Map<string, RefPlace> {
  const rows = new Set(manifest.map((r) => manifestRefKey(r)));
  return new Map([...referenced].filter(([key]) => !rows.has(key)));
}

/**
 * The media checks of one app with a manifest, from its references (all of them, or only those no
 * manifest row named before: the incremental audit's): `media-unmanifested` and
 * `media-object-missing`, and the summary; `references` is how many references there are in all.
 */
export async function checkMedia(options: {
  readonly store: ObjectStore;
  readonly manifest: readonly ManifestRow[];
  readonly referenced: ReadonlyMap<string, RefPlace>;
  readonly references: number;
  readonly finding: FindingSink;
}): Promise<{ summary: AppAudit['media']; objects: string[] }> {
  const { store, manifest, referenced, references, finding } = options;
  checkUnmanifested(referenced, manifest, finding);
  const objects = await checkMissingObjects(store, manifest, finding);
  const copied = manifest.filter((r) => r.status === 'archived').length;
  return {
    summary: {
      audited: true,
      references,
      manifestRows: manifest.length,
      note: `${references} references, ${manifest.length} manifest rows (${copied} archived, ${manifest.length - copied} expired, refused, failed or without URL)`,
    },
    objects,
  };
}

/** The summary of an app without a media manifest. */
export const NO_MEDIA_MANIFEST: AppAudit['media'] = {
  audited: false,
  references: 0,
  manifestRows: 0,
  note: 'not audited: the archive has no media manifest for this app',
};

/**
 * `media-orphan`: objects under `media/` that no manifest row names. Media objects are shared by
 * every app (content-addressed), so this holds only when every app was audited.
 */
export async function checkMediaOrphans(
  store: ObjectStore,
  manifestObjects: ReadonlySet<string>,
): Promise<Finding | null> {
  const orphans: string[] = [];
  for await (const key of store.list('media/')) if (!manifestObjects.has(key)) orphans.push(key);
  if (orphans.length === 0) return null;
  return {
    kind: 'media-orphan',
    explained: false,
    sdkAppId: 0,
    groupId: null,
    topicId: null,
    seqs: [],
    objects: orphans,
    detail: `${orphans.length} object${orphans.length === 1 ? '' : 's'} under media/ that no manifest row names`,
  };
}
