/**
 * The media manifest: one row per media reference (message key, element path, size class) with the
 * outcome of copying it, written as gzip NDJSON under `media-manifest/`, and the content-addressed
 * layout of the copied bytes under `media/`.
 *
 * Bytes are keyed by their SHA-256 (`media/sha256/ab/abcdef…`), never by URL or file name, so the
 * same file sent to many groups, runs or apps is stored once, and two different files can never
 * share a key (DiscordChatExporter lost files to short URL hashes:
 * https://github.com/Tyrrrz/DiscordChatExporter/issues/1231).
 */

import { type MediaKind, type MediaRef, mediaRefId, type SizeClass } from './media-refs.ts';
import { messageObjectKey, stateKey } from './partition.ts';

/**
 * Pending media this many days or less from Tencent's retention edge is counted apart in the run
 * report (`media.nearRetention`): the default of the stack's `alarms.headroomDays` (infra/config.ts)
 * and of a run that is given none (the CLI).
 */
export const DEFAULT_HEADROOM_DAYS = 2;

/**
 * The outcome of one reference:
 * - `archived`: stored, verified (status 200, declared size, fitting content type);
 * - `expired`: 404/410, or `get_cos_sig` says the file is gone (Status 2);
 * - `refused`: not downloaded or not stored on purpose (host not allowed, private address, too
 *   large, wrong content type, size differs from the declared one, redirect to a host not allowed);
 * - `failed`: transient failures until the retries ran out and the message left retention;
 * - `no_url`: an element of SDK 2.X/3.X, which carries no download URL.
 */
export const MEDIA_STATUSES = ['archived', 'expired', 'refused', 'failed', 'no_url'] as const;
export type MediaStatus = (typeof MEDIA_STATUSES)[number];

/** One manifest line. Key order here is the column order and the NDJSON key order. */
export interface MediaManifestRow {
  sdk_app_id: number;
  group_id: string;
  topic_id: string | null;
  msg_seq: number;
  /** Epoch seconds of the message. */
  msg_time: number;
  /** `"2"`, or `"2.0.1"` inside a merged forward (see MediaRef.elementPath). */
  element_path: string;
  size_class: SizeClass;
  kind: MediaKind;
  uuid: string | null;
  file_name: string | null;
  declared_size: number | null;
  /** The URL as the message carries it (pre-signed URLs are never recorded: they are credentials). */
  url: string | null;
  status: MediaStatus;
  /** Why, for every status but `archived` (and for archived files fetched through `get_cos_sig`). */
  reason: string | null;
  sha256: string | null;
  bytes: number | null;
  content_type: string | null;
  /** Key of the stored bytes, relative to the archive root. */
  object_key: string | null;
  /** Epoch milliseconds of the final attempt. */
  fetched_at: number;
  /** Download attempts over all runs. */
  attempts: number;
  /** The message revision the reference belongs to (0: first capture; >0: a later edit's files). */
  revision: number;
  /**
   * A one-to-one message's `MsgKey` (functions/domain/c2c-media.ts): `group_id` is then its
   * conversation (`["alice","bob"]`) and `topic_id` null. Null for group messages (and in rows
   * written before one-to-one media).
   */
  msg_key: string | null;
}

export const MANIFEST_COLUMNS: readonly (keyof MediaManifestRow)[] = [
  'sdk_app_id',
  'group_id',
  'topic_id',
  'msg_seq',
  'msg_time',
  'element_path',
  'size_class',
  'kind',
  'uuid',
  'file_name',
  'declared_size',
  'url',
  'status',
  'reason',
  'sha256',
  'bytes',
  'content_type',
  'object_key',
  'fetched_at',
  'attempts',
  'revision',
  'msg_key',
];

/** The result of copying one reference (what the manifest row records beyond the reference). */
export type MediaOutcome =
  | {
      status: 'archived';
      sha256: string;
      bytes: number;
      contentType: string | null;
      /** e.g. "banned: fetched through get_cos_sig". */
      reason: string | null;
    }
  | { status: Exclude<MediaStatus, 'archived'>; reason: string };

/** Builds the manifest row of a reference and its final outcome. */
export function manifestRow(
  ref: MediaRef,
  outcome: MediaOutcome,
  fetchedAtMs: number,
  attempts: number,
): MediaManifestRow {
  const archived = outcome.status === 'archived' ? outcome : undefined;
  return {
    sdk_app_id: ref.sdkAppId,
    group_id: ref.groupId,
    topic_id: ref.topicId,
    msg_seq: ref.msgSeq,
    msg_time: ref.msgTime,
    element_path: ref.elementPath,
    size_class: ref.sizeClass,
    kind: ref.kind,
    uuid: ref.uuid,
    file_name: ref.fileName,
    declared_size: ref.declaredSize,
    url: ref.url,
    status: outcome.status,
    reason: outcome.reason,
    sha256: archived?.sha256 ?? null,
    bytes: archived?.bytes ?? null,
    content_type: archived?.contentType ?? null,
    object_key: archived ? mediaObjectKey(archived.sha256) : null,
    fetched_at: fetchedAtMs,
    attempts,
    revision: ref.revision ?? 0,
    msg_key: ref.msgKey ?? null,
  };
}

/** The identity of a row, equal to the identity of its reference. */
export function manifestRowId(row: MediaManifestRow): string {
  return mediaRefId({
    sdkAppId: row.sdk_app_id,
    groupId: row.group_id,
    topicId: row.topic_id,
    msgSeq: row.msg_seq,
    msgTime: row.msg_time,
    elementPath: row.element_path,
    sizeClass: row.size_class,
    revision: row.revision ?? 0,
    ...(row.msg_key == null ? {} : { msgKey: row.msg_key }),
  });
}

/** One NDJSON line (no trailing newline), keys in column order; U+2028/2029 escaped like records. */
export function serializeManifestRow(row: MediaManifestRow): string {
  const ordered: Record<string, unknown> = {};
  for (const key of MANIFEST_COLUMNS) ordered[key] = row[key];
  return JSON.stringify(ordered).replace(/[\u2028\u2029]/g, (ch) => `\\u${ch.charCodeAt(0).toString(16)}`);
}

/** Parses one line written by {@link serializeManifestRow}. @throws SyntaxError / TypeError */
export function parseManifestRow(line: string): MediaManifestRow {
  const value = JSON.parse(line) as Record<string, unknown>;
  // Rows written before revisions existed have no revision: they belong to the first capture.
  value.revision ??= 0;
  // Rows written before one-to-one media have no msg_key: they are group rows.
  value.msg_key ??= null;
  for (const key of MANIFEST_COLUMNS) {
    if (!(key in value)) throw new TypeError(`manifest row lacks ${key}`);
  }
  if (!MEDIA_STATUSES.includes(value.status as MediaStatus)) {
    throw new TypeError(`manifest row has an unknown status ${String(value.status)}`);
  }
  return value as unknown as MediaManifestRow;
}

const SHA256_PATTERN = /^[0-9a-f]{64}$/;

/** Folder of the content-addressed media objects. */
export const MEDIA_PREFIX = 'media/';
/** Folder of the manifest objects. */
export const MEDIA_MANIFEST_PREFIX = 'media-manifest/';
/** Athena projection template of the manifest, like the messages'. */
// biome-ignore lint/suspicious/noTemplateCurlyInString: Athena projection placeholders, not a JS template.
export const MEDIA_MANIFEST_LOCATION_TEMPLATE = 'media-manifest/sdkappid=${sdkappid}/dt=${dt}/';

/**
 * The key of the bytes with this SHA-256: `media/sha256/<first two hex>/<all 64 hex>`. The fan-out
 * folder keeps local folders small and spreads S3 prefixes.
 * @throws RangeError unless `sha256` is 64 lower-case hex digits
 */
export function mediaObjectKey(sha256: string): string {
  if (!SHA256_PATTERN.test(sha256)) throw new RangeError(`not a lower-case hex SHA-256: ${sha256}`);
  return `${MEDIA_PREFIX}sha256/${sha256.slice(0, 2)}/${sha256}`;
}

/**
 * The key of one manifest object, in the message's `dt` partition so a query joins a day of
 * messages to the same day of media: `media-manifest/sdkappid=<id>/dt=<dt>/part-<runId>-<nnnnn>.ndjson.gz`.
 * @throws RangeError like messageObjectKey
 */
export function manifestObjectKey(input: {
  sdkAppId: number;
  dt: string;
  runId: string;
  part: number;
}): string {
  return `${MEDIA_MANIFEST_PREFIX}${messageObjectKey(input).slice('messages/'.length)}`;
}

/** A reference waiting to be copied, as kept in a media queue object. */
export interface MediaQueueEntry {
  ref: MediaRef;
  /** Download attempts in earlier runs. */
  attempts: number;
  /** Why the last attempt failed (null when never tried). */
  lastError: string | null;
}

/** Folder of one app's media queue objects (committed with the message checkpoints). */
export function mediaQueuePrefix(sdkAppId: number): string {
  return `${stateKey(sdkAppId).replace(/state\.json$/, '')}media-queue/`;
}

/** A media queue object: `state/sdkappid=<id>/media-queue/<runId>-<nnnnn>.ndjson.gz`. */
export function mediaQueueKey(sdkAppId: number, runId: string, part: number): string {
  // messageObjectKey validates the run id and the part the same way.
  const name = messageObjectKey({ sdkAppId, dt: '2000-01-01', runId, part }).split('/part-')[1] ?? '';
  return `${mediaQueuePrefix(sdkAppId)}${name}`;
}

/** The media ledger: intents of media checkpoints (see engine/media-ledger.ts). */
export function mediaLedgerKey(sdkAppId: number): string {
  return stateKey(sdkAppId).replace(/state\.json$/, 'media-ledger.json');
}

export function serializeQueueEntry(entry: MediaQueueEntry): string {
  return JSON.stringify(entry).replace(/[\u2028\u2029]/g, (ch) => `\\u${ch.charCodeAt(0).toString(16)}`);
}

/** @throws SyntaxError / TypeError for a line that is not a queue entry */
export function parseQueueEntry(line: string): MediaQueueEntry {
  const value = JSON.parse(line) as MediaQueueEntry;
  const ref = value?.ref;
  if (
    typeof ref !== 'object' ||
    ref === null ||
    typeof ref.groupId !== 'string' ||
    typeof ref.msgSeq !== 'number' ||
    typeof ref.elementPath !== 'string' ||
    typeof ref.sizeClass !== 'string' ||
    typeof value.attempts !== 'number'
  ) {
    throw new TypeError('not a media queue entry');
  }
  return value;
}
