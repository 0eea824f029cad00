/**
 * Reading the media side of an archive back (manifest rows, stored objects) and comparing it with
 * the simulator's ground truth: one row per reference, the right status, the right bytes.
 */
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { MediaDownloader } from '../../functions/adapters/media/downloader.ts';
import { parseAllowedHosts } from '../../functions/adapters/media/host-policy.ts';
import type { TencentClient } from '../../functions/adapters/tencent/client.ts';
import {
  MEDIA_MANIFEST_PREFIX,
  MEDIA_PREFIX,
  type MediaManifestRow,
  manifestRowId,
  mediaObjectKey,
  parseManifestRow,
} from '../../functions/domain/media-manifest.ts';
import {
  type ImageSizeClass,
  type MediaRef,
  mediaRefId,
  mediaRefsOfMessage,
} from '../../functions/domain/media-refs.ts';
import type { Clock } from '../../functions/domain/ports.ts';
import type { ObjectStore } from '../../functions/domain/storage.ts';
import type { Simulator } from '../../functions/simulator/index.ts';

/** Every manifest row in the store. */
export async function readManifest(store: ObjectStore): Promise<MediaManifestRow[]> {
  const rows: MediaManifestRow[] = [];
  for await (const key of store.list(MEDIA_MANIFEST_PREFIX)) {
    const object = await store.get(key);
    if (!object) continue;
    for (const line of gunzipSync(object.body).toString('utf8').split('\n')) {
      if (line !== '') rows.push(parseManifestRow(line));
    }
  }
  return rows;
}

/** The media references of every message the simulator would return now. */
export function expectedMediaRefs(
  sim: Simulator,
  sdkAppId: number,
  imageSizes: readonly ImageSizeClass[] = ['original'],
): MediaRef[] {
  const refs: MediaRef[] = [];
  for (const group of sim.groups()) {
    if (group.deleted || group.type === 'AVChatRoom' || group.type === 'BChatRoom') continue;
    const streams = [null, ...group.topics.map((t) => t.topicId)];
    for (const topicId of streams) {
      if (topicId === null && group.topicsEnabled) continue;
      const truth = sim.groundTruth(group.groupId, {
        ...(topicId ? { topicId } : {}),
        withRecalledMsg: true,
      });
      for (const message of truth) {
        refs.push(
          ...mediaRefsOfMessage(message, { sdkAppId, groupId: group.groupId, topicId }, { imageSizes }),
        );
      }
    }
  }
  return refs;
}

/** What the manifest should say about a reference according to the simulator. */
export function expectedStatus(sim: Simulator, ref: MediaRef): string {
  if (ref.url === null) return 'no_url';
  return sim.mediaTruth(ref.url)?.expected ?? 'refused';
}

/**
 * Problems with the media side: missing, duplicated or unexpected rows, wrong statuses, wrong or
 * missing bytes, and stored objects that are not a file the simulator meant (an error page).
 */
export async function mediaProblems(
  sim: Simulator,
  store: ObjectStore,
  refs: readonly MediaRef[],
  rows: readonly MediaManifestRow[],
): Promise<string[]> {
  const problems: string[] = [];
  const byId = new Map<string, MediaManifestRow[]>();
  for (const row of rows) byId.set(manifestRowId(row), [...(byId.get(manifestRowId(row)) ?? []), row]);
  const wanted = new Map(refs.map((r) => [mediaRefId(r), r]));
  const shas = new Set<string>();
  for (const [id, ref] of wanted) {
    const found = byId.get(id) ?? [];
    if (found.length !== 1) {
      problems.push(`${id}: ${found.length} manifest rows`);
      continue;
    }
    const row = found[0] as MediaManifestRow;
    const status = expectedStatus(sim, ref);
    if (row.status !== status)
      problems.push(`${id}: status ${row.status} (${row.reason}), expected ${status}`);
    if (row.status === 'archived' && ref.url !== null) {
      const truth = sim.mediaTruth(ref.url);
      if (row.sha256 !== truth?.sha256)
        problems.push(`${id}: sha256 ${row.sha256}, expected ${truth?.sha256}`);
      shas.add(row.sha256 ?? '');
    }
  }
  for (const id of byId.keys()) if (!wanted.has(id)) problems.push(`${id}: unexpected manifest row`);
  for (const sha of shas) {
    const object = await store.get(mediaObjectKey(sha));
    if (!object) problems.push(`${sha}: not stored`);
    else if (createHash('sha256').update(object.body).digest('hex') !== sha)
      problems.push(`${sha}: wrong bytes`);
  }
  for await (const key of store.list(MEDIA_PREFIX)) {
    const sha = key.split('/').at(-1) ?? '';
    if (!shas.has(sha)) problems.push(`${key}: stored but no archived reference has it`);
  }
  return problems;
}

/**
 * A media downloader for the simulator's media listener (HTTP and loopback allowed for it only),
 * `get_cos_sig` through `client`, and back-off sleeps on `clock` (a FakeClock keeps tests free of
 * real waits).
 */
export function simMediaFetcher(
  sim: Simulator,
  client: TencentClient,
  clock: Clock,
  options: { tempName: string; maxBytes?: number },
): MediaDownloader {
  return new MediaDownloader({
    allowedHosts: parseAllowedHosts([
      { host: new URL(sim.mediaUrl ?? '').host, allowHttp: true, allowPrivateAddresses: true },
    ]),
    maxBytes: options.maxBytes ?? 1_000_000,
    tempDir: join(tmpdir(), options.tempName),
    clock,
    random: () => 0.5,
    logger: { debug() {}, info() {}, warn() {}, error() {} },
    signer: async (rawUrl) => (await client.getCosSig([{ resourceId: 0, rawUrl }]))[0],
  });
}
