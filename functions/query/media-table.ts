/**
 * The `media` table over the media manifest (`media-manifest/sdkappid=<id>/dt=<message date>/`):
 * one row per media reference with its outcome. Columns come from the writer's `MANIFEST_COLUMNS`,
 * so the table and the writer cannot disagree.
 */
import {
  MANIFEST_COLUMNS,
  MEDIA_MANIFEST_LOCATION_TEMPLATE,
  type MediaManifestRow,
} from '../domain/media-manifest.ts';
import { ATHENA_SERDE } from './message-schema.ts';
import {
  type ArchiveLocationProps,
  type ArchiveTableDefinition,
  archiveRootUrl,
  assertProps,
  JSON_TABLE_PARAMETERS,
  MESSAGES_SERDE_PARAMETERS,
  PARTITION_KEYS,
  projection,
} from './tables.ts';

export const MEDIA_TABLE = 'media';

/** Hive type and comment of every manifest column. */
export const MEDIA_COLUMN_SPEC: {
  readonly [K in keyof MediaManifestRow]: readonly [type: string, comment: string];
} = {
  sdk_app_id: ['bigint', 'Tencent SDKAppID'],
  group_id: ['string', 'Group ID of the message'],
  topic_id: ['string', 'Topic ID, null outside topics'],
  msg_seq: ['bigint', 'MsgSeq of the message'],
  msg_time: ['bigint', 'MsgTimeStamp of the message, epoch seconds'],
  element_path: ['string', 'Element index in MsgBody; a.b.c inside merged forwards'],
  size_class: ['string', 'original, large, thumbnail, file, sound, video, video-thumbnail'],
  kind: ['string', 'image, file, sound, video, video-thumbnail'],
  uuid: ['string', 'UUID of the element'],
  file_name: ['string', 'FileName of a file element'],
  declared_size: ['bigint', 'Size the element declares, null when none'],
  url: ['string', 'URL in the message'],
  status: ['string', 'archived, expired, refused, failed or no_url'],
  reason: ['string', 'Why, for every status but archived'],
  sha256: ['string', 'SHA-256 of the stored bytes'],
  bytes: ['bigint', 'Bytes stored'],
  content_type: ['string', 'Content-Type of the download'],
  object_key: ['string', 'Key of the bytes relative to the archive root (media/sha256/..)'],
  fetched_at: ['bigint', 'Epoch milliseconds of the final attempt'],
  attempts: ['bigint', 'Download attempts over all runs'],
  revision: [
    'bigint',
    'Revision of the message the reference belongs to (0: first capture; null in older rows)',
  ],
  msg_key: [
    'string',
    'MsgKey of a one-to-one message (group_id is then its conversation); null for group messages',
  ],
};

export function mediaTable(props: ArchiveLocationProps): ArchiveTableDefinition {
  assertProps(props);
  return {
    name: MEDIA_TABLE,
    description: 'Media manifest: one row per media reference of an archived message, with its outcome',
    columns: MANIFEST_COLUMNS.map((name) => {
      const [type, comment] = MEDIA_COLUMN_SPEC[name];
      return { name, type, comment };
    }),
    partitionKeys: PARTITION_KEYS,
    location: `${archiveRootUrl(props.bucketName, props.prefix)}media-manifest/`,
    serdeLibrary: ATHENA_SERDE,
    serdeParameters: MESSAGES_SERDE_PARAMETERS,
    parameters: { ...JSON_TABLE_PARAMETERS, ...projection(props, MEDIA_MANIFEST_LOCATION_TEMPLATE) },
  };
}
