/**
 * The readable views over the archive, defined once and rendered for both engines:
 *
 * - `messages_latest`: one row per message (group, topic, generation, seq), its latest revision;
 *   quarantined rows are left out (they are not messages; `messages` has them).
 * - `message_changes`: one row per revision above 0 (a change a rescan saw), with the content
 *   before and after.
 * - `messages_flat`: one readable row per message, from the latest revision, with the local time in
 *   the archive zone, the sender, the text, the element types and the deleted/recalled/system flags.
 * - `messages_unreadable`: one row per quarantined item (kept, not readable as a message), with
 *   the reason and its exact text in `raw`.
 * - `messages_with_source`: every group message once, from the pull, callbacks or both
 *   (functions/query/callback-materialized-queries.ts).
 * - `history_files_missing_from_archive`, `archive_missing_from_history_files`: the hourly
 *   `get_history` files against the archive, both ways (functions/query/history-file-tables.ts).
 * - `runs_flat`: one row per archiver run with its counters (and the name lookups and one-to-one
 *   counts of the runs that had those passes).
 *
 * Revisions of a message always land in the `dt` of its `MsgTimeStamp`, the same as the original,
 * so the window functions partition by `dt` too: a `dt` filter on a view is pushed below the window
 * and still prunes partitions.
 *
 * Every output column is CAST to its declared type in both dialects. For Athena that is what makes
 * the Glue view encoding safe: Athena marks a view "stale" when the column types stored in Glue
 * differ from what its SQL returns, and an explicit CAST makes them equal by construction.
 */

import { Buffer } from 'node:buffer';
import { assertTimeZone } from '../domain/partition.ts';
import { EXTRA_REASON_KEY } from '../domain/record.ts';
import { C2C_MESSAGES_CURRENT_VIEW, C2C_MESSAGES_UNREADABLE_VIEW, CONVERSATIONS_VIEW } from './c2c-tables.ts';
import { MESSAGES_WITH_SOURCE_VIEW } from './callback-materialized-queries.ts';
import { CALLBACK_MESSAGES_VIEW } from './callback-views.ts';
import {
  ARCHIVE_MISSING_FROM_HISTORY_FILES_VIEW,
  HISTORY_FILES_MISSING_FROM_ARCHIVE_VIEW,
} from './history-file-tables.ts';
import { parseHiveType, toDuckDbType, toPrestoType } from './hive-types.ts';
import { IDENTITY_TABLES } from './identity-tables.ts';
import { RECORD_COLUMNS } from './message-schema.ts';
import { MESSAGES_TABLE, RUNS_TABLE } from './tables.ts';

/** One view column: its Hive type and the expression that computes it in each dialect. */
export interface ViewColumn {
  readonly name: string;
  /** Any Hive type `parseHiveType` reads (`string`, `bigint`, `array<string>`, …). */
  readonly hiveType: string;
  /** Trino/Athena expression; `{zone}` is replaced by the archive zone as a SQL string literal. */
  readonly athena: string;
  /** DuckDB expression over the DuckDB mirror of the table; `{zone}` as above. */
  readonly duckdb: string;
  readonly comment: string;
}

/**
 * An identity table read as versions (SCD2, docs/names.md): each row with, per key (ordered by
 * `observed_at`), its rank `scd_version` (1 for the key's first row), the next row's `observed_at`
 * (`scd_next_observed_at`), the last non-null value of each `carry` column up to it
 * (`known_<column>`), and how many rows with `liveStatus` the key has up to it (`scd_live_count`)
 * and in all (`scd_live_total`): rows after the key's last live row have both equal.
 */
export interface Scd2Source {
  readonly kind: 'scd2';
  /** The columns that name one identity, after `sdkappid` (the window partition). */
  readonly key: readonly string[];
  /** The value columns: a tie-break after `observed_at`, so both engines order rows alike. */
  readonly values: readonly string[];
  /** Value columns carried forward over rows where they are null (a gone account's nick). */
  readonly carry: readonly string[];
  /** The status of a row that holds values (`active`, `member`). */
  readonly liveStatus: string;
}

/**
 * What a view reads: the table itself, its latest revision per message (with `known_msg_time`, the
 * newest non-zero `msg_time` of all its revisions), its revisions above 0 with the previous
 * revision's content beside them (`prev_*` columns), its quarantined (unreadable) items, or an
 * identity table's versions ({@link Scd2Source}).
 */
export type ViewSource =
  | 'table'
  | 'latest'
  | 'changes'
  | 'unreadable'
  | Scd2Source
  | LatestBySource
  | SqlSource;

/**
 * A view over its own SELECT, for what a column list over one table cannot say (a UNION ALL:
 * `messages_with_source`, functions/query/callback-materialized-queries.ts).
 */
export interface SqlSource {
  readonly kind: 'sql';
  /** The tables it reads. */
  readonly tables: readonly string[];
  /** The columns its SELECT returns (what the view's columns may use). */
  readonly columns: readonly string[];
  /** The SELECT, each table named by `table` (quoted; qualified by the database on Athena). */
  readonly sql: (table: (name: string) => string) => string;
}

/**
 * The latest revision per message of a table whose identity is not the group one (`c2c_messages`:
 * app, conversation, `msg_key`): quarantined rows left out, windows partitioned by `sdkappid, dt`
 * first, so a `dt` filter still prunes.
 */
export interface LatestBySource {
  readonly kind: 'latest';
  readonly identity: readonly string[];
}

/** A LEFT JOIN of a view: the table or view it reads, its alias and its condition. */
export interface ViewJoin {
  readonly table: string;
  readonly alias: string;
  readonly on: string;
}

/** A view: a name, the table it reads (and how) and its columns. */
export interface ViewSpec {
  readonly name: string;
  readonly description: string;
  readonly from: string;
  readonly source?: ViewSource;
  readonly columns: readonly ViewColumn[];
  /** Alias of `from`, and LEFT JOINs of other tables or views (columns then use qualified names). */
  readonly alias?: string;
  readonly joins?: readonly ViewJoin[];
  /** GROUP BY of an aggregating view (its columns are then aggregates or these). */
  readonly groupBy?: readonly string[];
}

/** The same expression in both dialects. */
const both = (expr: string) => ({ athena: expr, duckdb: expr });

const localTime = (epochSeconds: string) => ({
  athena: `format_datetime(from_unixtime(${epochSeconds}, {zone}), 'yyyy-MM-dd HH:mm:ss')`,
  duckdb: `strftime(timezone({zone}, to_timestamp(${epochSeconds})), '%Y-%m-%d %H:%M:%S')`,
});

const localDate = (epochSeconds: string) => ({
  athena: `format_datetime(from_unixtime(${epochSeconds}, {zone}), 'yyyy-MM-dd')`,
  duckdb: `strftime(timezone({zone}, to_timestamp(${epochSeconds})), '%Y-%m-%d')`,
});

const PARTITION_VIEW_COLUMNS: readonly ViewColumn[] = [
  { name: 'sdkappid', hiveType: 'string', ...both('sdkappid'), comment: 'Partition: the SDKAppID' },
  {
    name: 'dt',
    hiveType: 'string',
    ...both('dt'),
    comment: 'Partition: filter on it to limit bytes scanned',
  },
];

/** One message: its identity over all revisions, in window-function form. */
const MESSAGE_IDENTITY = 'sdkappid, dt, sdk_app_id, group_id, topic_id, coalesce(generation, 0), msg_seq';
const REVISION_ORDER = 'coalesce(revision, 0), observed_at';
const REVISION_ORDER_DESC = 'coalesce(revision, 0) DESC, observed_at DESC';
/**
 * A message's time as known from any of its revisions: a deletion can come back with a zeroed
 * `MsgTimeStamp` (docs/changes.md), and its revision keeps what was served. Null when no revision
 * had a time (first seen zeroed), so a reader sees no time rather than 1970.
 */
export const KNOWN_MSG_TIME_COLUMN = 'known_msg_time';
const KNOWN_MSG_TIME = `nullif(${KNOWN_MSG_TIME_COLUMN}, 0)`;

/** The record columns as they are, for views that pass them through. */
const pass = (name: string, hiveType: string, comment: string): ViewColumn => ({
  name,
  hiveType,
  ...both(name),
  comment,
});
/** A message's identity over its revisions, first in the revision views. */
const MESSAGE_KEY_COLUMNS: readonly ViewColumn[] = [
  pass('sdk_app_id', 'bigint', 'SDKAppID'),
  pass('group_id', 'string', 'Group ID'),
  pass('topic_id', 'string', 'Topic ID, null outside topics'),
  {
    name: 'generation',
    hiveType: 'bigint',
    ...both('coalesce(generation, 0)'),
    comment: 'Seq-space generation',
  },
  pass('msg_seq', 'bigint', 'MsgSeq'),
];
const MSG_BODY_HIVE_TYPE = RECORD_COLUMNS.find((c) => c.name === 'msg_body')?.athenaType ?? 'string';

export const MESSAGES_LATEST_VIEW: ViewSpec = {
  name: 'messages_latest',
  description: 'One row per message: its latest revision (quarantined items left out)',
  from: MESSAGES_TABLE,
  source: 'latest',
  columns: [
    ...MESSAGE_KEY_COLUMNS,
    pass('msg_random', 'bigint', 'MsgRandom'),
    pass(
      'msg_time',
      'bigint',
      'MsgTimeStamp, epoch seconds, as the latest revision was served (0 when zeroed)',
    ),
    {
      name: 'sent_at',
      hiveType: 'string',
      ...localTime(KNOWN_MSG_TIME),
      comment:
        'Local time in the archive zone, yyyy-MM-dd HH:mm:ss (of an earlier revision when zeroed; null if never known)',
    },
    pass('from_account', 'string', 'From_Account'),
    pass('msg_priority', 'bigint', 'MsgPriority'),
    pass('is_place_msg', 'bigint', 'IsPlaceMsg now: 0 normal, 1 deleted or expired, 2 recalled'),
    pass('is_system_msg', 'bigint', 'IsSystemMsg'),
    pass('msg_body', MSG_BODY_HIVE_TYPE, 'MsgBody elements of the latest revision'),
    pass('cloud_custom_data', 'string', 'CloudCustomData of the latest revision'),
    pass('text', 'string', 'Text elements joined with a newline'),
    pass('element_types', 'array<string>', 'Element types, in order'),
    pass('extra', 'string', 'API fields without a column, JSON text'),
    {
      name: 'revision',
      hiveType: 'bigint',
      ...both('coalesce(revision, 0)'),
      comment: 'Latest revision (0: never changed)',
    },
    pass('observed_at', 'bigint', 'When the archiver saw this revision, epoch seconds'),
    pass('change', 'string', 'What the latest revision changed (null for revision 0)'),
    ...PARTITION_VIEW_COLUMNS,
  ],
};

export const MESSAGE_CHANGES_VIEW: ViewSpec = {
  name: 'message_changes',
  description: 'One row per change a rescan saw (revision above 0), with the content before and after',
  from: MESSAGES_TABLE,
  source: 'changes',
  columns: [
    ...MESSAGE_KEY_COLUMNS,
    pass('msg_time', 'bigint', 'MsgTimeStamp, epoch seconds'),
    {
      name: 'sent_at',
      hiveType: 'string',
      ...localTime('msg_time'),
      comment: 'Local time the message was sent, in the archive zone',
    },
    {
      name: 'sender',
      hiveType: 'string',
      ...both("coalesce(nullif(from_account, ''), prev_from_account)"),
      comment: 'From_Account (from the previous revision when a deletion cleared it)',
    },
    pass('revision', 'bigint', 'This revision (1, 2, ...)'),
    pass('change', 'string', 'modified, recalled, deleted or restored'),
    pass('observed_at', 'bigint', 'When the archiver saw the change, epoch seconds'),
    {
      name: 'observed_on',
      hiveType: 'string',
      ...localDate('observed_at'),
      comment: 'Date the archiver saw the change, in the archive zone (YYYY-MM-DD)',
    },
    {
      name: 'text_before',
      hiveType: 'string',
      ...both('prev_text'),
      comment: 'Text of the previous revision',
    },
    { name: 'text_after', hiveType: 'string', ...both('text'), comment: 'Text of this revision' },
    {
      name: 'cloud_custom_data_before',
      hiveType: 'string',
      ...both('prev_cloud_custom_data'),
      comment: 'CloudCustomData of the previous revision',
    },
    {
      name: 'cloud_custom_data_after',
      hiveType: 'string',
      ...both('cloud_custom_data'),
      comment: 'CloudCustomData of this revision',
    },
    {
      name: 'element_types_before',
      hiveType: 'string',
      athena: "array_join(prev_element_types, ',')",
      duckdb: "array_to_string(prev_element_types, ',')",
      comment: 'Element types of the previous revision, comma separated',
    },
    {
      name: 'element_types_after',
      hiveType: 'string',
      athena: "array_join(element_types, ',')",
      duckdb: "array_to_string(element_types, ',')",
      comment: 'Element types of this revision, comma separated',
    },
    {
      name: 'is_place_msg_before',
      hiveType: 'bigint',
      ...both('prev_is_place_msg'),
      comment: 'IsPlaceMsg before',
    },
    { name: 'is_place_msg_after', hiveType: 'bigint', ...both('is_place_msg'), comment: 'IsPlaceMsg after' },
    ...PARTITION_VIEW_COLUMNS,
  ],
};

export const MESSAGES_FLAT_VIEW: ViewSpec = {
  name: 'messages_flat',
  description: 'One readable row per archived message, as its latest revision shows it',
  from: MESSAGES_TABLE,
  source: 'latest',
  columns: [
    { name: 'sdk_app_id', hiveType: 'bigint', ...both('sdk_app_id'), comment: 'SDKAppID' },
    { name: 'group_id', hiveType: 'string', ...both('group_id'), comment: 'Group ID' },
    { name: 'topic_id', hiveType: 'string', ...both('topic_id'), comment: 'Topic ID, null outside topics' },
    { name: 'msg_seq', hiveType: 'bigint', ...both('msg_seq'), comment: 'MsgSeq' },
    {
      name: 'msg_time',
      hiveType: 'bigint',
      ...both(KNOWN_MSG_TIME),
      comment: 'Epoch seconds (of an earlier revision when a deletion zeroed it; null if never known)',
    },
    {
      name: 'sent_at',
      hiveType: 'string',
      ...localTime(KNOWN_MSG_TIME),
      comment: 'Local time in the archive zone, yyyy-MM-dd HH:mm:ss (null if never known)',
    },
    { name: 'sender', hiveType: 'string', ...both('from_account'), comment: 'From_Account' },
    { name: 'text', hiveType: 'string', ...both('text'), comment: 'Text elements joined with a newline' },
    {
      name: 'element_types',
      hiveType: 'string',
      athena: "array_join(element_types, ',')",
      duckdb: "array_to_string(element_types, ',')",
      comment: 'Element types, comma separated',
    },
    {
      name: 'element_count',
      hiveType: 'bigint',
      athena: 'cardinality(element_types)',
      duckdb: 'len(element_types)',
      comment: 'Number of elements',
    },
    {
      name: 'is_deleted',
      hiveType: 'boolean',
      ...both('is_place_msg = 1'),
      comment: 'Placeholder: deleted, expired or failed (IsPlaceMsg 1)',
    },
    {
      name: 'is_recalled',
      hiveType: 'boolean',
      ...both('is_place_msg = 2'),
      comment: 'Recalled (IsPlaceMsg 2)',
    },
    { name: 'is_system', hiveType: 'boolean', ...both('is_system_msg = 1'), comment: 'System message' },
    { name: 'priority', hiveType: 'bigint', ...both('msg_priority'), comment: 'MsgPriority' },
    {
      name: 'cloud_custom_data',
      hiveType: 'string',
      ...both('cloud_custom_data'),
      comment: 'CloudCustomData',
    },
    {
      name: 'revision',
      hiveType: 'bigint',
      ...both('coalesce(revision, 0)'),
      comment: 'Latest revision: 0 when no change was seen after archiving',
    },
    {
      name: 'last_change',
      hiveType: 'string',
      ...both('change'),
      comment: 'What the latest revision changed',
    },
    ...PARTITION_VIEW_COLUMNS,
  ],
};

/**
 * The sum of a run report section's counters, e.g. `identities` `calls.profiles`: struct fields on
 * Athena (lower case, as the SerDe maps them), JSON paths on DuckDB (the report's own keys).
 */
function sectionSum(section: string, paths: readonly string[]): { athena: string; duckdb: string } {
  return {
    // Quoted: `groups` and `rows` are keywords in some SQL dialects.
    athena: paths
      .map((p) => [section, ...p.toLowerCase().split('.')].map((n) => `"${n}"`).join('.'))
      .join(' + '),
    duckdb: paths.map((p) => `CAST(${section}->>'$.${p}' AS BIGINT)`).join(' + '),
  };
}

export const RUNS_FLAT_VIEW: ViewSpec = {
  name: 'runs_flat',
  description: 'One readable row per archiver run',
  from: RUNS_TABLE,
  columns: [
    { name: 'run_id', hiveType: 'string', ...both('run_id'), comment: 'Run id' },
    { name: 'sdk_app_id', hiveType: 'bigint', ...both('sdk_app_id'), comment: 'SDKAppID' },
    {
      name: 'started_at',
      hiveType: 'string',
      ...localTime('started_at_ms / 1000'),
      comment: 'Start, local time in the archive zone',
    },
    { name: 'elapsed_ms', hiveType: 'bigint', ...both('elapsed_ms'), comment: 'Duration' },
    { name: 'done', hiveType: 'boolean', ...both('done'), comment: 'Every group caught up' },
    // Quoted: GROUPS is a keyword in some SQL dialects.
    { name: 'groups_seen', hiveType: 'bigint', ...both('"groups".seen'), comment: 'Groups selected' },
    { name: 'groups_failed', hiveType: 'bigint', ...both('"groups".failed'), comment: 'Groups that failed' },
    { name: 'messages', hiveType: 'bigint', ...both('messages'), comment: 'Records written' },
    { name: 'placeholders', hiveType: 'bigint', ...both('placeholders'), comment: 'IsPlaceMsg 1 records' },
    { name: 'recalled', hiveType: 'bigint', ...both('recalled'), comment: 'IsPlaceMsg 2 records' },
    { name: 'objects_written', hiveType: 'bigint', ...both('objects_written'), comment: 'Objects written' },
    { name: 'bytes_written', hiveType: 'bigint', ...both('bytes_written'), comment: 'Gzip bytes written' },
    { name: 'retries', hiveType: 'bigint', ...both('retries'), comment: 'Retried requests' },
    {
      name: 'error_count',
      hiveType: 'bigint',
      athena: 'cardinality(errors)',
      duckdb: 'json_array_length(errors)',
      comment: 'Targets that failed',
    },
    // The passes' sections: structs on Athena, JSON on DuckDB (camelCase keys, functions/query/local-archive.ts).
    {
      name: 'identity_calls',
      hiveType: 'bigint',
      ...sectionSum('identities', ['calls.groupInfo', 'calls.profiles', 'calls.members']),
      comment: 'Name lookups (three APIs), null when names were not captured',
    },
    {
      name: 'identity_rows',
      hiveType: 'bigint',
      ...sectionSum('identities', ['rows.users', 'rows.groups', 'rows.members']),
      comment: 'Name rows written (every kind)',
    },
    {
      name: 'c2c_pairs_pulled',
      hiveType: 'bigint',
      ...sectionSum('c2c', ['pairsPulled']),
      comment: 'One-to-one pairs paged, null without c2c',
    },
    {
      name: 'c2c_messages',
      hiveType: 'bigint',
      ...sectionSum('c2c', ['messages']),
      comment: 'One-to-one messages archived',
    },
    {
      name: 'callback_pull_only',
      hiveType: 'bigint',
      ...sectionSum('callbacks', ['reconciliation.pullOnly']),
      comment: 'Messages pulled whose callback was lost, null when not reconciled',
    },
    {
      name: 'callback_matched',
      hiveType: 'bigint',
      ...sectionSum('callbacks', [
        'reconciliation.bothEqual',
        'reconciliation.different',
        'reconciliation.pullPlaceholder',
      ]),
      comment:
        'Messages pulled whose callback came (equal, different or a placeholder): sum(callback_pull_only) / sum(callback_pull_only + callback_matched) is the loss rate of many runs',
    },
    {
      name: 'callback_only',
      hiveType: 'bigint',
      ...sectionSum('callbacks', ['reconciliation.callbackOnly']),
      comment:
        'Messages only callbacks hold (a dissolved group, an expired message), null when not reconciled',
    },
    {
      name: 'callback_loss_rate',
      hiveType: 'double',
      athena: '"callbacks"."reconciliation"."lossrate"',
      duckdb: "CAST(callbacks->>'$.reconciliation.lossRate' AS DOUBLE)",
      comment: 'Share of the messages pulled since callbacks began whose callback was lost',
    },
    {
      name: 'fatal_error',
      hiveType: 'string',
      ...both('fatal_error'),
      comment: 'Why the run stopped, if it did',
    },
    ...PARTITION_VIEW_COLUMNS,
  ],
};

/** Media references with their message: one row per manifest row (see functions/query/media-table.ts). */
export const MESSAGE_MEDIA_VIEW: ViewSpec = {
  name: 'message_media',
  description: 'One row per media reference with its outcome, joined to its message',
  from: 'media',
  alias: 'md',
  joins: [
    {
      table: MESSAGES_TABLE,
      alias: 'm',
      on:
        'm.sdkappid = md.sdkappid AND m.dt = md.dt AND m.group_id = md.group_id AND ' +
        "coalesce(m.topic_id, '') = coalesce(md.topic_id, '') AND m.msg_seq = md.msg_seq AND coalesce(m.revision, 0) = coalesce(md.revision, 0) AND " +
        // A one-to-one message's row (group_id its conversation, docs/one-to-one.md) joins no group message.
        'md.msg_key IS NULL',
    },
  ],
  columns: [
    { name: 'sdk_app_id', hiveType: 'bigint', ...both('md.sdk_app_id'), comment: 'SDKAppID' },
    { name: 'group_id', hiveType: 'string', ...both('md.group_id'), comment: 'Group ID' },
    {
      name: 'topic_id',
      hiveType: 'string',
      ...both('md.topic_id'),
      comment: 'Topic ID, null outside topics',
    },
    { name: 'msg_seq', hiveType: 'bigint', ...both('md.msg_seq'), comment: 'MsgSeq' },
    { name: 'msg_time', hiveType: 'bigint', ...both('md.msg_time'), comment: 'Epoch seconds' },
    {
      name: 'sent_at',
      hiveType: 'string',
      ...localTime('md.msg_time'),
      comment: 'Local time in the archive zone',
    },
    { name: 'sender', hiveType: 'string', ...both('m.from_account'), comment: 'From_Account' },
    { name: 'text', hiveType: 'string', ...both('m.text'), comment: 'Text of the message' },
    { name: 'element_path', hiveType: 'string', ...both('md.element_path'), comment: 'Element path' },
    {
      name: 'kind',
      hiveType: 'string',
      ...both('md.kind'),
      comment: 'image, file, sound, video, video-thumbnail',
    },
    { name: 'size_class', hiveType: 'string', ...both('md.size_class'), comment: 'Size class' },
    { name: 'file_name', hiveType: 'string', ...both('md.file_name'), comment: 'FileName of a file' },
    {
      name: 'status',
      hiveType: 'string',
      ...both('md.status'),
      comment: 'archived, expired, refused, failed, no_url',
    },
    { name: 'reason', hiveType: 'string', ...both('md.reason'), comment: 'Why' },
    { name: 'bytes', hiveType: 'bigint', ...both('md.bytes'), comment: 'Bytes stored' },
    { name: 'sha256', hiveType: 'string', ...both('md.sha256'), comment: 'SHA-256 of the bytes' },
    {
      name: 'object_key',
      hiveType: 'string',
      ...both('md.object_key'),
      comment: 'Key of the bytes in the archive',
    },
    { name: 'url', hiveType: 'string', ...both('md.url'), comment: 'URL in the message' },
    { name: 'sdkappid', hiveType: 'string', ...both('md.sdkappid'), comment: 'Partition: the SDKAppID' },
    { name: 'dt', hiveType: 'string', ...both('md.dt'), comment: 'Partition: the message date' },
  ],
};

/**
 * The items the archive kept but could not read as messages (quarantined: docs/archive-format.md),
 * one row each, never merged: several can share seq 0. Their exact text is in `raw`.
 */
export const MESSAGES_UNREADABLE_VIEW: ViewSpec = {
  name: 'messages_unreadable',
  description: 'One row per item the archive kept but could not read as a message, with its exact text',
  from: MESSAGES_TABLE,
  source: 'unreadable',
  columns: [
    { name: 'sdk_app_id', hiveType: 'bigint', ...both('sdk_app_id'), comment: 'SDKAppID' },
    { name: 'group_id', hiveType: 'string', ...both('group_id'), comment: 'Group ID' },
    { name: 'topic_id', hiveType: 'string', ...both('topic_id'), comment: 'Topic ID, null outside topics' },
    { name: 'msg_seq', hiveType: 'bigint', ...both('msg_seq'), comment: 'MsgSeq (0 when unreadable)' },
    { name: 'msg_time', hiveType: 'bigint', ...both('msg_time'), comment: 'The time it was filed at' },
    {
      name: 'sent_at',
      hiveType: 'string',
      ...localTime('nullif(msg_time, 0)'),
      comment: 'Local time it was filed at, in the archive zone',
    },
    { name: 'sender', hiveType: 'string', ...both('from_account'), comment: 'From_Account, if readable' },
    {
      name: 'reason',
      hiveType: 'string',
      athena: `json_extract_scalar(extra, '$["${EXTRA_REASON_KEY}"]')`,
      duckdb: `json_extract_string(extra, '$."${EXTRA_REASON_KEY}"')`,
      comment: 'Why it could not be read',
    },
    { name: 'raw', hiveType: 'string', ...both('raw'), comment: 'Its exact JSON text, as served' },
    ...PARTITION_VIEW_COLUMNS,
  ],
};

// ---------------------------------------------------------------------------------------------
// Names as of message time (issue 24, docs/names.md)
// ---------------------------------------------------------------------------------------------

/** `valid_from`: null for the key's first row (it stands for the time before it too), else `observed_at`. */
const VALID_FROM: ViewColumn = {
  name: 'valid_from',
  hiveType: 'bigint',
  ...both('CASE WHEN scd_version = 1 THEN NULL ELSE observed_at END'),
  comment: 'Epoch seconds from which this row holds; null for the first row of its key (holds since ever)',
};
const VALID_TO: ViewColumn = {
  name: 'valid_to',
  hiveType: 'bigint',
  ...both('scd_next_observed_at'),
  comment: 'Epoch seconds at which the next row takes over (exclusive); null for the latest row',
};
const OBSERVED_AT_COLUMN = pass(
  'observed_at',
  'bigint',
  'When the archiver observed this row, epoch seconds',
);
const IDENTITY_PARTITION_COLUMNS: readonly ViewColumn[] = [
  { name: 'sdkappid', hiveType: 'string', ...both('sdkappid'), comment: 'Partition: the SDKAppID' },
  { name: 'dt', hiveType: 'string', ...both('dt'), comment: 'Partition: the date the row was observed' },
];

/**
 * For a key whose latest rows have `status` (the key is gone or dissolved now): when the archive
 * first saw it so, on each of the key's rows; else null.
 */
function sinceNow(status: string, key: readonly string[]): string {
  const partition = ['sdkappid', ...key].join(', ');
  return `min(CASE WHEN status = ${sqlString(status)} AND scd_live_count = scd_live_total THEN observed_at END) OVER (PARTITION BY ${partition})`;
}

export const USER_NAMES_VIEW: ViewSpec = {
  name: 'user_names',
  description: 'Nicknames over time (SCD2): one row per observed change, valid from valid_from to valid_to',
  from: IDENTITY_TABLES.users,
  source: {
    kind: 'scd2',
    key: ['sdk_app_id', 'account'],
    values: ['nick', 'image', 'result_code'],
    carry: ['nick', 'image'],
    liveStatus: 'active',
  },
  columns: [
    pass('sdk_app_id', 'bigint', 'SDKAppID'),
    pass('account', 'string', 'UserID'),
    {
      name: 'nick',
      hiveType: 'string',
      ...both('known_nick'),
      comment: 'Nickname as served; on a gone row the last one known',
    },
    {
      name: 'image',
      hiveType: 'string',
      ...both('known_image'),
      comment: 'Avatar URL as served; on a gone row the last one known',
    },
    pass('status', 'string', 'active, or gone: the API no longer knows the account'),
    pass('result_code', 'bigint', 'ResultCode of a gone row'),
    {
      name: 'gone_since',
      hiveType: 'bigint',
      ...both(sinceNow('gone', ['sdk_app_id', 'account'])),
      comment: 'For an account gone now: when the archive first saw it gone (epoch seconds); else null',
    },
    OBSERVED_AT_COLUMN,
    VALID_FROM,
    VALID_TO,
    ...IDENTITY_PARTITION_COLUMNS,
  ],
};

export const GROUP_NAMES_VIEW: ViewSpec = {
  name: 'group_names',
  description: 'Group names and types over time (SCD2): one row per observed change',
  from: IDENTITY_TABLES.groups,
  source: {
    kind: 'scd2',
    key: ['sdk_app_id', 'group_id'],
    values: ['name', 'type', 'owner_account', 'error_code'],
    carry: ['name', 'type', 'owner_account'],
    liveStatus: 'active',
  },
  columns: [
    pass('sdk_app_id', 'bigint', 'SDKAppID'),
    pass('group_id', 'string', 'Group ID'),
    {
      name: 'name',
      hiveType: 'string',
      ...both('known_name'),
      comment: 'Name; on a dissolved row the last known',
    },
    {
      name: 'type',
      hiveType: 'string',
      ...both('known_type'),
      comment: 'Type; on a dissolved row the last known',
    },
    {
      name: 'owner_account',
      hiveType: 'string',
      ...both('known_owner_account'),
      comment: 'Owner_Account; on a dissolved row the last known',
    },
    pass('status', 'string', 'active, or dissolved'),
    pass('error_code', 'bigint', 'ErrorCode of a dissolved row'),
    {
      name: 'dissolved_since',
      hiveType: 'bigint',
      ...both(sinceNow('dissolved', ['sdk_app_id', 'group_id'])),
      comment:
        'For a group dissolved now: when the archive first saw it dissolved (epoch seconds); else null',
    },
    OBSERVED_AT_COLUMN,
    VALID_FROM,
    VALID_TO,
    ...IDENTITY_PARTITION_COLUMNS,
  ],
};

export const GROUP_MEMBERS_VIEW: ViewSpec = {
  name: 'group_members',
  description: 'Member roles and name cards over time (SCD2): one row per observed change',
  from: IDENTITY_TABLES.members,
  source: {
    kind: 'scd2',
    key: ['sdk_app_id', 'group_id', 'account'],
    values: ['role', 'name_card'],
    carry: [],
    liveStatus: 'member',
  },
  columns: [
    pass('sdk_app_id', 'bigint', 'SDKAppID'),
    pass('group_id', 'string', 'Group ID'),
    pass('account', 'string', 'UserID of the member'),
    pass('role', 'string', 'Owner, Admin, Member or as served; null when left'),
    pass('name_card', 'string', "NameCard as served ('' when unset); null when left"),
    pass('status', 'string', 'member, or left: no longer listed'),
    OBSERVED_AT_COLUMN,
    VALID_FROM,
    VALID_TO,
    ...IDENTITY_PARTITION_COLUMNS,
  ],
};

/** What the names of a message row are looked up by: its alias, sender column and time (epoch seconds). */
export interface NamesLookup {
  readonly alias: string;
  readonly sender: string;
  readonly time: string;
}

/**
 * The row of an SCD2 view (alias `x`) valid at `time`: `valid_from <= t < valid_to`, open ends
 * null, exactly docs/names.md's predicate. A message whose time is not known (null) matches only a
 * key's only row (both ends open), as the transcripts read it too.
 */
function validAt(x: string, time: string): string {
  return `(${x}.valid_from IS NULL OR ${x}.valid_from <= ${time}) AND (${x}.valid_to IS NULL OR ${time} < ${x}.valid_to)`;
}

/** The LEFT JOINs of the member, user and group rows valid at a message's time (aliases gm, un, gn). */
export function namesJoins(m: NamesLookup): ViewJoin[] {
  const sender = `${m.alias}.${m.sender}`;
  // The partition too: a filter on the message's sdkappid then prunes the identity objects.
  const app = (x: string) =>
    `${x}.sdkappid = ${m.alias}.sdkappid AND ${x}.sdk_app_id = ${m.alias}.sdk_app_id`;
  return [
    {
      table: GROUP_MEMBERS_VIEW.name,
      alias: 'gm',
      on: `${app('gm')} AND gm.group_id = ${m.alias}.group_id AND gm.account = ${sender} AND ${validAt('gm', m.time)}`,
    },
    {
      table: USER_NAMES_VIEW.name,
      alias: 'un',
      on: `${app('un')} AND un.account = ${sender} AND ${validAt('un', m.time)}`,
    },
    {
      table: GROUP_NAMES_VIEW.name,
      alias: 'gn',
      on: `${app('gn')} AND gn.group_id = ${m.alias}.group_id AND ${validAt('gn', m.time)}`,
    },
  ];
}

/**
 * The name columns of a message row joined by {@link namesJoins}, as docs/names.md states the rule:
 * the name card (member, not empty), else the nickname (not empty; a gone account's last known),
 * else the account.
 */
export function namesColumns(m: NamesLookup): ViewColumn[] {
  const nameCard = "gm.status = 'member' AND gm.name_card <> ''";
  const nick = "un.nick <> ''";
  const pick = (card: string, nickname: string, account: string) =>
    `CASE WHEN ${nameCard} THEN ${card} WHEN ${nick} THEN ${nickname} ELSE ${account} END`;
  return [
    {
      name: 'from_name',
      hiveType: 'string',
      ...both(pick('gm.name_card', 'un.nick', `${m.alias}.${m.sender}`)),
      comment: 'Name card in the group at msg_time, else nickname at msg_time, else the account',
    },
    {
      name: 'from_name_source',
      hiveType: 'string',
      ...both(pick("'name_card'", "'nick'", "'account'")),
      comment: 'Which one from_name is: name_card, nick or account',
    },
    {
      name: 'from_role',
      hiveType: 'string',
      ...both("CASE WHEN gm.status = 'member' THEN gm.role END"),
      comment: 'Role in the group at msg_time (Owner, Admin, Member, ...); null when none is known',
    },
    {
      name: 'from_gone',
      hiveType: 'boolean',
      ...both('un.gone_since IS NOT NULL'),
      comment: 'The API no longer knows the account: from_name is its last known name',
    },
    { name: 'group_name', hiveType: 'string', ...both('gn.name'), comment: 'Group name at msg_time' },
    { name: 'group_type', hiveType: 'string', ...both('gn.type'), comment: 'Group type at msg_time' },
    {
      name: 'group_dissolved',
      hiveType: 'boolean',
      ...both('gn.dissolved_since IS NOT NULL'),
      comment: 'The group is dissolved: group_name is its last known name',
    },
  ];
}

const NAMED_MESSAGE: NamesLookup = { alias: 'm', sender: 'sender', time: 'm.msg_time' };

/** `messages_flat` with the names valid at each message's time (docs/names.md). */
export const MESSAGES_NAMED_VIEW: ViewSpec = {
  name: 'messages_named',
  description: 'messages_flat with the sender name, role and group name valid at each message time',
  from: MESSAGES_FLAT_VIEW.name,
  alias: 'm',
  joins: namesJoins(NAMED_MESSAGE),
  columns: [
    ...MESSAGES_FLAT_VIEW.columns
      .filter((c) => c.name !== 'sdkappid' && c.name !== 'dt')
      .map((c) => ({ ...c, ...both(`m.${c.name}`) })),
    ...namesColumns(NAMED_MESSAGE),
    { name: 'sdkappid', hiveType: 'string', ...both('m.sdkappid'), comment: 'Partition: the SDKAppID' },
    {
      name: 'dt',
      hiveType: 'string',
      ...both('m.dt'),
      comment: 'Partition: filter on it to limit bytes scanned',
    },
  ],
};

/** The views, each after the views it reads (DuckDB binds a view when it is created). */
export const VIEWS: readonly ViewSpec[] = [
  MESSAGES_LATEST_VIEW,
  MESSAGE_CHANGES_VIEW,
  MESSAGES_FLAT_VIEW,
  MESSAGES_UNREADABLE_VIEW,
  RUNS_FLAT_VIEW,
  MESSAGE_MEDIA_VIEW,
  USER_NAMES_VIEW,
  GROUP_NAMES_VIEW,
  GROUP_MEMBERS_VIEW,
  MESSAGES_NAMED_VIEW,
  CALLBACK_MESSAGES_VIEW,
  MESSAGES_WITH_SOURCE_VIEW,
  C2C_MESSAGES_CURRENT_VIEW,
  C2C_MESSAGES_UNREADABLE_VIEW,
  CONVERSATIONS_VIEW,
  HISTORY_FILES_MISSING_FROM_ARCHIVE_VIEW,
  ARCHIVE_MISSING_FROM_HISTORY_FILES_VIEW,
];

/** ` alias LEFT JOIN <table> alias ON …` of a join view ('' otherwise), tables named by `table`. */
function joinClause(view: ViewSpec, table: (name: string) => string): string {
  const alias = view.alias ? ` ${view.alias}` : '';
  const groupBy = view.groupBy ? `\nGROUP BY ${view.groupBy.map(sqlIdentifier).join(', ')}` : '';
  return `${alias}${renderJoins(view.joins ?? [], table)}${groupBy}`;
}

/** `\nLEFT JOIN <table> alias ON …` for each join, tables named by `table`. */
export function renderJoins(joins: readonly ViewJoin[], table: (name: string) => string): string {
  return joins.map((j) => `\nLEFT JOIN ${table(j.table)} ${j.alias} ON ${j.on}`).join('');
}

/** A SQL string literal, quotes doubled (both dialects). */
export function sqlString(value: string): string {
  return `'${value.replaceAll("'", "''")}'`;
}

/** A quoted SQL identifier (both dialects). */
export function sqlIdentifier(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

function selectList(view: ViewSpec, dialect: ViewDialect, timeZone: string): string {
  assertTimeZone(timeZone);
  const zone = sqlString(timeZone);
  return view.columns
    .map((c) => {
      const type = parseHiveType(c.hiveType);
      const target = dialect === 'athena' ? toPrestoType(type) : toDuckDbType(type, DUCKDB_TYPE_OPTIONS);
      const expr = c[dialect].replaceAll('{zone}', zone);
      return `  CAST(${expr} AS ${target}) AS ${sqlIdentifier(c.name)}`;
    })
    .join(',\n');
}

/** The DuckDB mirror reads `msg_content` as JSON (see the DuckDB adapter); casts must agree. */
const DUCKDB_TYPE_OPTIONS = { jsonFields: new Set(['msg_content']) };

/** Columns of the previous revision that `changes` puts beside each row. */
export const PREVIOUS_COLUMNS = [
  'text',
  'cloud_custom_data',
  'element_types',
  'is_place_msg',
  'from_account',
] as const;

/** The SQL dialects the views are rendered in. */
export type ViewDialect = 'athena' | 'duckdb';

/** Names of the columns an {@link Scd2Source} puts beside each row. */
export const SCD2_COLUMNS = [
  'scd_version',
  'scd_next_observed_at',
  'scd_live_count',
  'scd_live_total',
] as const;

/**
 * `last_value(<column>) IGNORE NULLS` over `window`: Trino puts the null treatment after the call,
 * DuckDB inside it (and refuses Trino's form).
 */
function lastKnown(column: string, window: string, dialect: ViewDialect): string {
  return dialect === 'athena'
    ? `last_value(${column}) IGNORE NULLS OVER (${window})`
    : `last_value(${column} IGNORE NULLS) OVER (${window})`;
}

/** The versions of an identity table (see {@link Scd2Source}). */
function scd2From(source: Scd2Source, table: string, dialect: ViewDialect): string {
  const partition = `PARTITION BY ${['sdkappid', ...source.key].map(sqlIdentifier).join(', ')}`;
  const tieBreak = ['status', ...source.values].map((c) => `${sqlIdentifier(c)} NULLS LAST`);
  const ordered = `${partition} ORDER BY ${['observed_at', ...tieBreak].join(', ')}`;
  const upToRow = `${ordered} ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW`;
  const live = `CASE WHEN status = ${sqlString(source.liveStatus)} THEN 1 END`;
  const columns = [
    `row_number() OVER (${ordered}) AS scd_version`,
    `lead(observed_at) OVER (${ordered}) AS scd_next_observed_at`,
    `count(${live}) OVER (${upToRow}) AS scd_live_count`,
    `count(${live}) OVER (${partition}) AS scd_live_total`,
    ...source.carry.map((c) => `${lastKnown(sqlIdentifier(c), upToRow, dialect)} AS known_${c}`),
  ];
  return `(SELECT *,\n    ${columns.join(',\n    ')}\n  FROM ${table}) AS versions`;
}

/** The latest revision per identity of a {@link LatestBySource}. */
function latestBy(source: LatestBySource, table: string): string {
  const identity = ['sdkappid', 'dt', ...source.identity].map(sqlIdentifier).join(', ');
  return (
    `(SELECT *, row_number() OVER (PARTITION BY ${identity} ORDER BY ${REVISION_ORDER_DESC}) AS revision_rank\n` +
    `  FROM ${table} WHERE NOT coalesce(quarantined, false)) AS latest\nWHERE revision_rank = 1`
  );
}

/** The FROM clause for a view's source over `table` (already quoted); `qualify` names the others. */
function fromClause(
  source: ViewSource,
  table: string,
  dialect: ViewDialect,
  qualify: (name: string) => string,
): string {
  const notQuarantined = 'NOT coalesce(quarantined, false)';
  if (typeof source === 'object') {
    if (source.kind === 'sql') return `(${source.sql(qualify)}) AS merged`;
    return source.kind === 'scd2' ? scd2From(source, table, dialect) : latestBy(source, table);
  }
  switch (source) {
    case 'table':
      return table;
    case 'latest':
      return (
        `(SELECT *, row_number() OVER (PARTITION BY ${MESSAGE_IDENTITY} ORDER BY ${REVISION_ORDER_DESC}) AS revision_rank,\n` +
        `    max(msg_time) OVER (PARTITION BY ${MESSAGE_IDENTITY}) AS ${KNOWN_MSG_TIME_COLUMN}\n` +
        `  FROM ${table} WHERE ${notQuarantined}) AS latest\nWHERE revision_rank = 1`
      );
    case 'changes': {
      const previous = PREVIOUS_COLUMNS.map(
        (c) => `lag(${c}) OVER (PARTITION BY ${MESSAGE_IDENTITY} ORDER BY ${REVISION_ORDER}) AS prev_${c}`,
      ).join(',\n    ');
      return (
        `(SELECT *,\n    ${previous}\n  FROM ${table} WHERE ${notQuarantined}) AS revisions\n` +
        'WHERE coalesce(revision, 0) > 0'
      );
    }
    case 'unreadable':
      return `(SELECT * FROM ${table} WHERE coalesce(quarantined, false)) AS unreadable`;
  }
}

/** The view's SELECT for Athena, reading `"<database>"."<table>"`. */
export function athenaViewSql(view: ViewSpec, ctx: { database: string; timeZone: string }): string {
  const qualified = (name: string) => `${sqlIdentifier(ctx.database)}.${sqlIdentifier(name)}`;
  const table = qualified(view.from);
  return `SELECT\n${selectList(view, 'athena', ctx.timeZone)}\nFROM ${fromClause(view.source ?? 'table', table, 'athena', qualified)}${joinClause(view, qualified)}`;
}

/** The view's SELECT for DuckDB, reading the DuckDB mirror of the table. */
export function duckdbViewSql(view: ViewSpec, ctx: { timeZone: string }): string {
  return `SELECT\n${selectList(view, 'duckdb', ctx.timeZone)}\nFROM ${fromClause(view.source ?? 'table', sqlIdentifier(view.from), 'duckdb', sqlIdentifier)}${joinClause(view, sqlIdentifier)}`;
}

/** `CREATE OR REPLACE VIEW` for Athena: the fallback if the Glue encoding ever stops working. */
export function athenaCreateViewSql(view: ViewSpec, ctx: { database: string; timeZone: string }): string {
  return `CREATE OR REPLACE VIEW ${sqlIdentifier(ctx.database)}.${sqlIdentifier(view.name)} AS\n${athenaViewSql(view, ctx)}`;
}

/**
 * The `ViewOriginalText` of a Glue table of type `VIRTUAL_VIEW` that Athena reads as a view:
 * `/* Presto View: <base64 JSON> *\/` with the SQL, the default catalog and schema, and the
 * columns in Presto types. This is what Athena itself stores for `CREATE VIEW`; AWS does not
 * document it, but it has been stable for years and is used by Terraform and CDK projects alike.
 */
export function prestoViewOriginalText(view: ViewSpec, ctx: { database: string; timeZone: string }): string {
  const definition = {
    originalSql: athenaViewSql(view, ctx),
    catalog: 'awsdatacatalog',
    schema: ctx.database,
    columns: view.columns.map((c) => ({ name: c.name, type: toPrestoType(parseHiveType(c.hiveType)) })),
  };
  return `/* Presto View: ${Buffer.from(JSON.stringify(definition), 'utf8').toString('base64')} */`;
}
