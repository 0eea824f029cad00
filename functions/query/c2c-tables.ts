/**
 * One-to-one history as tables (issue 26, docs/one-to-one.md): the `c2c_messages` table over
 * `c2c/sdkappid=<id>/dt=<message date>/` (functions/domain/c2c-record.ts is the row model), and
 * two views, rendered for Athena and DuckDB by views.ts (which imports this file, so the view
 * shapes are restated here):
 *
 * - `c2c_messages_current`: one row per message (app, conversation, `msg_key`), its latest
 *   revision, quarantined items left out; the pair's two accounts, the local time, the text and
 *   the element types beside the row's columns.
 * - `c2c_messages_unreadable`: one row per item the archive kept but could not read as a message
 *   (quarantined), with its pair, the reason and its exact text.
 * - `conversations`: one row per app and sorted pair: its accounts, the first and last message
 *   time and the number of messages (recalled ones counted, and counted apart).
 *
 * The column list is typed by `C2cRecord`, so a row key without a column fails the typecheck.
 */
import { C2C_LOCATION_TEMPLATE, type C2cRecord, MSG_FLAG_RECALLED } from '../domain/c2c-record.ts';
import { EXTRA_REASON_KEY } from '../domain/record.ts';
import { RECORD_COLUMNS } from './message-schema.ts';
import {
  type ArchiveLocationProps,
  type ArchiveTableDefinition,
  type ColumnSpec,
  columnsOf,
  type GlueColumn,
  rowTable,
} from './tables.ts';

export const C2C_MESSAGES_TABLE = 'c2c_messages';
/** The folder of the one-to-one rows under the archive root. */
export const C2C_FOLDER = 'c2c/';

const MSG_BODY_HIVE_TYPE = RECORD_COLUMNS.find((c) => c.name === 'msg_body')?.athenaType ?? 'string';

const COLUMNS: ColumnSpec<C2cRecord> = {
  sdk_app_id: ['bigint', 'Tencent SDKAppID'],
  conversation: ['string', 'The pair sorted by code point, as a JSON array: ["alice","bob"]'],
  from_account: ['string', 'From_Account, the sender'],
  to_account: ['string', 'To_Account, the receiver'],
  msg_key: ['string', 'MsgKey, opaque; with conversation the identity of a message'],
  msg_seq: ['bigint', 'MsgSeq, chosen by the client: not unique'],
  msg_random: ['bigint', 'MsgRandom'],
  msg_time: ['bigint', 'MsgTimeStamp, epoch seconds (use from_unixtime)'],
  msg_flag_bits: ['bigint', 'MsgFlagBits: 0 normal, 8 recalled'],
  msg_body: [
    MSG_BODY_HIVE_TYPE,
    'MsgBody elements as in messages.msg_body; null when it did not fit (then in extra)',
  ],
  cloud_custom_data: ['string', 'CloudCustomData'],
  source: ['string', 'The witness: roam (admin_getroammsg), history-file or callback'],
  extra: ['string', 'API fields without a column (IsPeerRead, ...), JSON text'],
  revision: ['bigint', '0 first capture, then 1, 2, ... per change a rescan saw'],
  observed_at: ['bigint', 'When the archiver saw this content, epoch seconds'],
  change: ['string', 'null for revision 0; recalled, modified, deleted or restored after'],
  quarantined: ['boolean', 'An item the page schema rejected; raw holds its exact text'],
  raw: ['string', 'The exact text of a quarantined item, or of a message with a lone surrogate'],
};

/** The table's columns, in the row model's key order. */
export function c2cColumns(): GlueColumn[] {
  return columnsOf(COLUMNS);
}

/** gzip NDJSON, partitioned and projected like `messages` (dt: the message date). */
export function c2cMessagesTable(props: ArchiveLocationProps): ArchiveTableDefinition {
  return rowTable(props, {
    name: C2C_MESSAGES_TABLE,
    description: `Archived one-to-one (C2C) messages, one row per message and revision, dt in ${props.timeZone}`,
    columns: c2cColumns(),
    folder: C2C_FOLDER,
    locationTemplate: C2C_LOCATION_TEMPLATE,
    dtComment: 'Message date in the archive time zone (YYYY-MM-DD): filter on it to limit the bytes scanned',
  });
}

/** A view column's shape (functions/query/views.ts, which imports this file, defines it). */
interface ViewColumn {
  readonly name: string;
  readonly hiveType: string;
  readonly athena: string;
  readonly duckdb: string;
  readonly comment: string;
}

const both = (expr: string) => ({ athena: expr, duckdb: expr });
const pass = (name: string, hiveType: string, comment: string): ViewColumn => ({
  name,
  hiveType,
  ...both(name),
  comment,
});
const localTime = (epochSeconds: string) => ({
  athena: `format_datetime(from_unixtime(${epochSeconds}, {zone}), 'yyyy-MM-dd HH:mm:ss')`,
  duckdb: `strftime(timezone({zone}, to_timestamp(${epochSeconds})), '%Y-%m-%d %H:%M:%S')`,
});
/** One account of the conversation's JSON array (0 the lower, 1 the higher by code point). */
const account = (index: 0 | 1) => ({
  athena: `json_extract_scalar(conversation, '$[${index}]')`,
  duckdb: `json_extract_string(conversation, '$[${index}]')`,
});

/** A message over its revisions, after the partitions (views.ts puts `sdkappid, dt` first). */
export const C2C_MESSAGE_IDENTITY = ['sdk_app_id', 'conversation', 'msg_key'] as const;

export const C2C_MESSAGES_CURRENT_VIEW = {
  name: 'c2c_messages_current',
  description: 'One row per one-to-one message: its latest revision (quarantined items left out)',
  from: C2C_MESSAGES_TABLE,
  source: { kind: 'latest' as const, identity: C2C_MESSAGE_IDENTITY },
  columns: [
    pass('sdk_app_id', 'bigint', 'SDKAppID'),
    pass('conversation', 'string', 'The sorted pair as a JSON array'),
    { name: 'account_a', hiveType: 'string', ...account(0), comment: 'The lower account of the pair' },
    { name: 'account_b', hiveType: 'string', ...account(1), comment: 'The higher account of the pair' },
    pass('msg_key', 'string', 'MsgKey'),
    pass('from_account', 'string', 'From_Account'),
    pass('to_account', 'string', 'To_Account'),
    pass('msg_seq', 'bigint', 'MsgSeq (chosen by the client: not unique)'),
    pass('msg_random', 'bigint', 'MsgRandom'),
    pass('msg_time', 'bigint', 'MsgTimeStamp, epoch seconds'),
    {
      name: 'sent_at',
      hiveType: 'string',
      ...localTime('msg_time'),
      comment: 'Local time in the archive zone',
    },
    pass('msg_flag_bits', 'bigint', 'MsgFlagBits of the latest revision'),
    {
      name: 'is_recalled',
      hiveType: 'boolean',
      ...both(`coalesce(msg_flag_bits, 0) = ${MSG_FLAG_RECALLED}`),
      comment: 'Recalled (MsgFlagBits 8)',
    },
    {
      name: 'is_deleted',
      hiveType: 'boolean',
      ...both(`coalesce(change, '') = 'deleted'`),
      comment: 'Deleted: neither side of the pair shows it any more (docs/one-to-one.md)',
    },
    {
      name: 'text',
      hiveType: 'string',
      athena:
        "nullif(array_join(transform(filter(msg_body, E -> E.msg_type = 'TIMTextElem'), E -> E.msg_content.text), chr(10)), '')",
      duckdb:
        "nullif(array_to_string(list_transform(list_filter(msg_body, lambda e: e.msg_type = 'TIMTextElem'), lambda e: json_extract_string(e.msg_content, '$.Text')), chr(10)), '')",
      comment: 'Text elements joined with a newline, null when none',
    },
    {
      name: 'element_types',
      hiveType: 'string',
      athena: "array_join(transform(msg_body, E -> E.msg_type), ',')",
      duckdb: "array_to_string(list_transform(msg_body, lambda e: e.msg_type), ',')",
      comment: 'Element types, comma separated',
    },
    pass('msg_body', MSG_BODY_HIVE_TYPE, 'MsgBody elements of the latest revision'),
    pass('cloud_custom_data', 'string', 'CloudCustomData of the latest revision'),
    pass('extra', 'string', 'API fields without a column, JSON text'),
    pass('source', 'string', 'The witness of the latest revision'),
    {
      name: 'revision',
      hiveType: 'bigint',
      ...both('coalesce(revision, 0)'),
      comment: 'Latest revision (0: never changed)',
    },
    pass('observed_at', 'bigint', 'When the archiver saw this revision, epoch seconds'),
    pass('change', 'string', 'What the latest revision changed (null for revision 0)'),
    pass('sdkappid', 'string', 'Partition: the SDKAppID'),
    pass('dt', 'string', 'Partition: filter on it to limit bytes scanned'),
  ] satisfies ViewColumn[],
};

export const C2C_MESSAGES_UNREADABLE_VIEW = {
  name: 'c2c_messages_unreadable',
  description:
    'One row per one-to-one item the archive kept but could not read as a message, with its exact text',
  from: C2C_MESSAGES_TABLE,
  source: 'unreadable' as const,
  columns: [
    pass('sdk_app_id', 'bigint', 'SDKAppID'),
    pass('conversation', 'string', 'The sorted pair as a JSON array'),
    { name: 'account_a', hiveType: 'string', ...account(0), comment: 'The lower account of the pair' },
    { name: 'account_b', hiveType: 'string', ...account(1), comment: 'The higher account of the pair' },
    pass('msg_key', 'string', 'MsgKey, if readable'),
    pass('from_account', 'string', 'From_Account, if readable'),
    pass('to_account', 'string', 'To_Account, if readable'),
    pass('msg_time', 'bigint', 'The time it was filed at'),
    { name: 'sent_at', hiveType: 'string', ...localTime('msg_time'), comment: 'Local time it was filed at' },
    {
      name: 'reason',
      hiveType: 'string',
      athena: `json_extract_scalar(extra, '$["${EXTRA_REASON_KEY}"]')`,
      duckdb: `json_extract_string(extra, '$."${EXTRA_REASON_KEY}"')`,
      comment: 'Why it could not be read',
    },
    pass('raw', 'string', 'Its exact JSON text, as served'),
    pass('sdkappid', 'string', 'Partition: the SDKAppID'),
    pass('dt', 'string', 'Partition: the date it was filed under'),
  ] satisfies ViewColumn[],
};

export const CONVERSATIONS_VIEW = {
  name: 'conversations',
  description: 'One row per one-to-one conversation (app and sorted pair): first and last message, count',
  from: C2C_MESSAGES_CURRENT_VIEW.name,
  groupBy: ['sdkappid', 'sdk_app_id', 'conversation', 'account_a', 'account_b'],
  columns: [
    pass('sdk_app_id', 'bigint', 'SDKAppID'),
    pass('conversation', 'string', 'The sorted pair as a JSON array'),
    pass('account_a', 'string', 'The lower account of the pair'),
    pass('account_b', 'string', 'The higher account of the pair'),
    { name: 'first_msg_time', hiveType: 'bigint', ...both('min(msg_time)'), comment: 'Epoch seconds' },
    { name: 'last_msg_time', hiveType: 'bigint', ...both('max(msg_time)'), comment: 'Epoch seconds' },
    {
      name: 'first_sent_at',
      hiveType: 'string',
      ...localTime('min(msg_time)'),
      comment: 'First message, local time in the archive zone',
    },
    {
      name: 'last_sent_at',
      hiveType: 'string',
      ...localTime('max(msg_time)'),
      comment: 'Last message, local time in the archive zone',
    },
    {
      name: 'messages',
      hiveType: 'bigint',
      ...both('count(*)'),
      comment: 'Messages, recalled ones included',
    },
    {
      name: 'recalled',
      hiveType: 'bigint',
      ...both('sum(CASE WHEN is_recalled THEN 1 ELSE 0 END)'),
      comment: 'Recalled messages',
    },
    pass('sdkappid', 'string', 'Partition: the SDKAppID'),
  ] satisfies ViewColumn[],
};
