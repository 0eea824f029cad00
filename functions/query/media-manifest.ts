/**
 * Reading the media manifest (gzip NDJSON under `media-manifest/sdkappid=<id>/dt=…/`, one row per
 * media reference, written by the media copier) for the audit and the transcript's media lookup.
 * Only the columns those need are read, so the reader does not depend on the copier's code.
 */
import { type MediaRefPlace, mediaRefKey, type SizeClass } from '../domain/media-refs.ts';
import { gunzipNdjson } from '../domain/ndjson-gzip.ts';
import type { ObjectStore } from '../domain/storage.ts';

/** The manifest columns the audit and the transcript read. */
export interface ManifestRow {
  readonly group_id: string;
  readonly topic_id: string | null;
  readonly msg_seq: number;
  /** `"2"`, or `"2.0.1"` inside a merged forward. */
  readonly element_path: string;
  readonly size_class: SizeClass;
  readonly status: string;
  readonly object_key: string | null;
  readonly content_type: string | null;
  readonly bytes: number | null;
  /** A one-to-one message's `MsgKey` (`group_id` is then its conversation); null or absent for groups. */
  readonly msg_key?: string | null;
}

/** The reference a row is about, in the domain's model (`functions/domain/media-refs.ts`). */
export function manifestRowRef(row: ManifestRow): MediaRefPlace {
  return {
    groupId: row.group_id,
    topicId: row.topic_id,
    msgSeq: row.msg_seq,
    ...(row.msg_key == null ? {} : { msgKey: row.msg_key }),
    elementPath: row.element_path,
    sizeClass: row.size_class,
  };
}

/** The row's reference key, as `mediaRefKey` writes it (`group|topic|seq|0.2.1|large`). */
export function manifestRefKey(row: ManifestRow): string {
  return mediaRefKey(manifestRowRef(row));
}

/** Every manifest row of an app (empty when the archive has no manifest). */
export async function readManifest(store: ObjectStore, sdkAppId: number): Promise<ManifestRow[]> {
  const rows: ManifestRow[] = [];
  for await (const key of store.list(`media-manifest/sdkappid=${sdkAppId}/`)) {
    if (!key.endsWith('.ndjson.gz')) continue;
    const object = await store.get(key);
    if (object === undefined) continue;
    for (const line of gunzipNdjson(object.body)) {
      if (line.length > 0) rows.push(JSON.parse(line) as ManifestRow);
    }
  }
  return rows;
}

/** Where a reference's archived copy is, by `mediaRefKey`: the object key and what is known of it. */
export interface ArchivedCopy {
  readonly key: string;
  readonly contentType?: string;
  readonly bytes?: number;
}

/**
 * The archived copies named by the manifests of every app in the archive (rows with status
 * `archived` and an object key), by reference key.
 */
export async function archivedCopies(store: ObjectStore): Promise<Map<string, ArchivedCopy>> {
  const apps = new Set<number>();
  for await (const key of store.list('media-manifest/')) {
    const match = /^media-manifest\/sdkappid=(\d+)\//.exec(key);
    if (match) apps.add(Number(match[1]));
  }
  const copies = new Map<string, ArchivedCopy>();
  for (const app of apps) {
    for (const row of await readManifest(store, app)) {
      if (row.status !== 'archived' || row.object_key === null) continue;
      copies.set(manifestRefKey(row), {
        key: row.object_key,
        ...(row.content_type === null ? {} : { contentType: row.content_type }),
        ...(row.bytes === null ? {} : { bytes: row.bytes }),
      });
    }
  }
  return copies;
}
