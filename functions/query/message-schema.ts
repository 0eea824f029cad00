/**
 * The messages table schema: one column per archive record key, in record key order, with its
 * Hive type and comment. The single source of truth for the Glue table, the DuckDB mirror and the
 * views; a test proves it matches what the writer serialises (`functions/domain/record-codec.ts`).
 */
import { MSG_BODY_TYPE, renderAthenaType } from '../domain/athena-fit.ts';
import type { ArchiveRecord } from '../domain/record.ts';

/**
 * The SerDe the table must use. OpenX (both the original and Athena's Trino re-implementation)
 * renders a JSON object or array as JSON text when the column is `string`; the Hive JSON SerDe
 * (`org.apache.hive.hcatalog.data.JsonSerDe`) rejects that, which would make `extra` and
 * `msg_content.msglist` unreadable. OpenX also matches keys case-insensitively (its default), which
 * maps `MsgContent`'s `ImageInfoArray` to the `imageinfoarray` field.
 */
export const ATHENA_SERDE = 'org.openx.data.jsonserde.JsonSerDe';

/** One column of the messages table. */
export interface RecordColumn {
  readonly name: keyof ArchiveRecord;
  readonly athenaType: string;
  /** Plain text, no single quotes (it is pasted into DDL). */
  readonly comment: string;
}

/**
 * The messages table schema, in record key order. Numbers are `bigint`. Read with
 * {@link ATHENA_SERDE}. Columns from `revision` on were added later: lines written before them
 * read as null there, which the views treat as the defaults (revision 0, not quarantined).
 */
export const RECORD_COLUMNS: readonly RecordColumn[] = [
  { name: 'sdk_app_id', athenaType: 'bigint', comment: 'Tencent SDKAppID' },
  { name: 'group_id', athenaType: 'string', comment: 'Group ID (for topics: the community ID)' },
  { name: 'topic_id', athenaType: 'string', comment: 'Topic ID in a topic-enabled community, else null' },
  { name: 'msg_seq', athenaType: 'bigint', comment: 'MsgSeq, unique per group or topic, grows with time' },
  { name: 'msg_random', athenaType: 'bigint', comment: 'MsgRandom, null when absent' },
  { name: 'msg_time', athenaType: 'bigint', comment: 'MsgTimeStamp, epoch seconds (use from_unixtime)' },
  { name: 'from_account', athenaType: 'string', comment: 'From_Account, the sender UserID' },
  { name: 'msg_priority', athenaType: 'bigint', comment: 'MsgPriority 1 High, 2 Normal, 3 Low, 4 Lowest' },
  {
    name: 'is_place_msg',
    athenaType: 'bigint',
    comment: 'IsPlaceMsg 0 normal, 1 placeholder (expired, deleted or failed), 2 recalled',
  },
  { name: 'is_system_msg', athenaType: 'bigint', comment: 'IsSystemMsg, 1 for system messages' },
  {
    name: 'msg_body',
    athenaType: renderAthenaType(MSG_BODY_TYPE),
    comment:
      'MsgBody elements; msg_content exposes the documented MsgContent fields (case-insensitive), ' +
      'msglist is the nested relay MsgList as JSON text. Empty when MsgBody did not fit: then it is in extra',
  },
  { name: 'cloud_custom_data', athenaType: 'string', comment: 'CloudCustomData, null when absent' },
  {
    name: 'text',
    athenaType: 'string',
    comment: 'All TIMTextElem texts joined with a newline, null when none',
  },
  { name: 'element_types', athenaType: 'array<string>', comment: 'MsgType of every element, in order' },
  {
    name: 'extra',
    athenaType: 'string',
    comment:
      'JSON text of API fields without a column or with an unexpected value, verbatim; ' +
      'query with json_extract. Key $absent lists omitted IsPlaceMsg or MsgBody',
  },
  {
    name: 'revision',
    athenaType: 'bigint',
    comment:
      '0 for the first capture, 1, 2 and so on for each change a rescan saw; null in older rows means 0',
  },
  { name: 'observed_at', athenaType: 'bigint', comment: 'Epoch seconds of the run that saw this content' },
  {
    name: 'change',
    athenaType: 'string',
    comment: 'Null for revision 0, else modified, recalled, deleted or restored',
  },
  {
    name: 'generation',
    athenaType: 'bigint',
    comment: 'Incarnation of the group seq space, bumped when its seqs start over; 0 normally',
  },
  {
    name: 'quarantined',
    athenaType: 'boolean',
    comment: 'True for a page item the API schema rejected: raw holds its exact JSON text',
  },
  {
    name: 'raw',
    athenaType: 'string',
    comment:
      'Exact JSON text of a quarantined item, or of a message with a lone surrogate (its columns hold U+FFFD), else null',
  },
];

/** Partition columns, in path order (`sdkappid=<id>/dt=<YYYY-MM-DD>`). */
export const PARTITION_COLUMNS = [
  { name: 'sdkappid', athenaType: 'string' },
  { name: 'dt', athenaType: 'string' },
] as const;
