/**
 * Tencent's hourly `get_history` files as a second witness (issue 26, deliverable 3;
 * docs/querying.md, Reconciliation with the hourly files): two tables the run writes beside the raw
 * files (functions/engine/history-files.ts, row models in functions/domain/history-file.ts), and
 * two views that compare them with the archive, rendered for Athena and DuckDB by views.ts (which
 * imports this file, so the view shapes are restated here):
 *
 * - `history_file_messages`: one row per message identity of a kept file (group: `group_id`,
 *   `msg_seq`; one-to-one: `conversation`, `from_account`, `msg_time`, `msg_random`, `msg_key`),
 *   `dt` the date of the file's hour in the archive zone;
 * - `history_file_hours`: one row per fetched hour and chat (`hour_start`..`hour_end`): what the
 *   files cover;
 * - `history_files_missing_from_archive`: file messages the archive has no row for (a group
 *   message: no row of its group and seq other than a deletion placeholder; a one-to-one message:
 *   no row of its pair, sender, time and random, and of its `MsgKey` when the line has one);
 * - `archive_missing_from_history_files`: first captures (revision 0, not quarantined, not a
 *   deletion placeholder; group messages outside topics, since whether the files hold topic
 *   messages is not documented) whose hour the files cover but whose identity no file holds.
 *
 * Every join is on equal columns, the partitions among them (`sdkappid`, and `dt` against the
 * message's date, `msg_dt`), so Athena prunes; filter the views on `dt` to bound a query.
 */
import type { HistoryHourRow, HistoryIndexRow } from '../domain/history-file.ts';
import { HISTORY_HOURS_FOLDER, HISTORY_INDEX_FOLDER } from '../domain/history-file.ts';
import { C2C_MESSAGES_TABLE } from './c2c-tables.ts';
import {
  type ArchiveLocationProps,
  type ArchiveTableDefinition,
  type ColumnSpec,
  columnsOf,
  type GlueColumn,
  MESSAGES_TABLE,
  rowTable,
} from './tables.ts';

export const HISTORY_FILE_MESSAGES_TABLE = 'history_file_messages';
export const HISTORY_FILE_HOURS_TABLE = 'history_file_hours';
export { HISTORY_HOURS_FOLDER, HISTORY_INDEX_FOLDER };

const MESSAGE_COLUMNS: ColumnSpec<HistoryIndexRow> = {
  sdk_app_id: ['bigint', 'Tencent SDKAppID'],
  chat: ['string', 'group or c2c (the ChatType of the file)'],
  hour: ['string', 'The file’s Beijing hour, YYYYMMDDHH (MsgTime of get_history)'],
  file_key: ['string', 'The kept raw file, under history-files/'],
  group_id: ['string', 'GroupId (group files)'],
  conversation: ['string', 'The sorted pair as c2c_messages writes it (one-to-one files)'],
  from_account: ['string', 'From_Account'],
  to_account: ['string', 'To_Account (one-to-one files)'],
  msg_seq: ['bigint', 'MsgSeq: with group_id the identity of a group message'],
  msg_random: ['bigint', 'MsgRandom, when the line has it'],
  msg_key: ['string', 'MsgKey, when the line has it'],
  msg_time: ['bigint', 'MsgTimestamp, epoch seconds'],
  msg_dt: ['string', 'The date msg_time is archived under (dt of messages and c2c_messages)'],
};

const HOUR_COLUMNS: ColumnSpec<HistoryHourRow> = {
  sdk_app_id: ['bigint', 'Tencent SDKAppID'],
  chat: ['string', 'group or c2c'],
  hour: ['string', 'The Beijing hour, YYYYMMDDHH'],
  hour_start: ['bigint', 'Its first second, epoch seconds'],
  hour_end: ['bigint', 'Its last second, epoch seconds'],
  files: ['bigint', 'Files Tencent had for it (0: none six hours after it ended, taken as empty)'],
  messages: ['bigint', 'Message rows indexed from them'],
  run_id: ['string', 'The run that fetched it'],
};

// biome-ignore lint/suspicious/noTemplateCurlyInString: Athena projection placeholders, not a JS template.
const PROJECTED = 'sdkappid=${sdkappid}/dt=${dt}/';

export function historyFileMessageColumns(): GlueColumn[] {
  return columnsOf(MESSAGE_COLUMNS);
}

export function historyFileHourColumns(): GlueColumn[] {
  return columnsOf(HOUR_COLUMNS);
}

export function historyFileMessagesTable(props: ArchiveLocationProps): ArchiveTableDefinition {
  return rowTable(props, {
    name: HISTORY_FILE_MESSAGES_TABLE,
    description: 'Message identities of the kept hourly get_history files, one row per message line',
    columns: historyFileMessageColumns(),
    folder: HISTORY_INDEX_FOLDER,
    locationTemplate: `${HISTORY_INDEX_FOLDER}${PROJECTED}`,
    dtComment: `The date of the file's hour in ${props.timeZone} (YYYY-MM-DD)`,
  });
}

export function historyFileHoursTable(props: ArchiveLocationProps): ArchiveTableDefinition {
  return rowTable(props, {
    name: HISTORY_FILE_HOURS_TABLE,
    description: 'The hours (and chat types) whose get_history files were fetched, kept and indexed',
    columns: historyFileHourColumns(),
    folder: HISTORY_HOURS_FOLDER,
    locationTemplate: `${HISTORY_HOURS_FOLDER}${PROJECTED}`,
    dtComment: `The date of the hour in ${props.timeZone} (YYYY-MM-DD)`,
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

const pass = (name: string, hiveType: string, comment: string): ViewColumn => ({
  name,
  hiveType,
  athena: name,
  duckdb: name,
  comment,
});

/** The columns both views give, in their order. */
const ROW_COLUMNS = [
  'sdk_app_id',
  'chat',
  'hour',
  'group_id',
  'conversation',
  'from_account',
  'to_account',
  'msg_seq',
  'msg_random',
  'msg_key',
  'msg_time',
  'file_key',
  'sdkappid',
  'dt',
] as const;

/** An archived row that stands for the message: not quarantined, not a deletion placeholder. */
const STANDS_FOR = (alias: string, placeholder: boolean) =>
  `NOT coalesce(${alias}.quarantined, false)${placeholder ? ` AND coalesce(${alias}.is_place_msg, 0) <> 1` : ''}`;

/** The file rows no archived row stands for. */
function missingFromArchiveSql(table: (name: string) => string): string {
  const h = `SELECT h.${ROW_COLUMNS.join(', h.')} FROM ${table(HISTORY_FILE_MESSAGES_TABLE)} h`;
  return `${h}
  WHERE h.chat = 'group' AND NOT EXISTS (
    SELECT 1 FROM ${table(MESSAGES_TABLE)} m
    WHERE m.sdkappid = h.sdkappid AND m.dt = h.msg_dt AND m.sdk_app_id = h.sdk_app_id
      AND m.group_id = h.group_id AND m.msg_seq = h.msg_seq AND ${STANDS_FOR('m', true)})
UNION ALL
${h}
  WHERE h.chat = 'c2c' AND NOT EXISTS (
    SELECT 1 FROM ${table(C2C_MESSAGES_TABLE)} c
    WHERE c.sdkappid = h.sdkappid AND c.dt = h.msg_dt AND c.sdk_app_id = h.sdk_app_id
      AND c.conversation = h.conversation AND c.from_account = h.from_account AND c.msg_time = h.msg_time
      AND (h.msg_random IS NULL OR c.msg_random = h.msg_random)
      AND (h.msg_key IS NULL OR c.msg_key = h.msg_key) AND ${STANDS_FOR('c', false)})`;
}

/** The first captures in covered hours no file row holds. */
function missingFromFilesSql(table: (name: string) => string): string {
  const hours = table(HISTORY_FILE_HOURS_TABLE);
  const files = table(HISTORY_FILE_MESSAGES_TABLE);
  const covered = (alias: string, chat: string) =>
    `JOIN ${hours} hr ON hr.sdkappid = ${alias}.sdkappid AND hr.sdk_app_id = ${alias}.sdk_app_id AND hr.chat = '${chat}'
    AND hr.hour_start = ${alias}.msg_time - ${alias}.msg_time % 3600`;
  return `SELECT m.sdk_app_id, 'group' AS chat, hr.hour, m.group_id, CAST(NULL AS VARCHAR) AS conversation,
    m.from_account, CAST(NULL AS VARCHAR) AS to_account, m.msg_seq, m.msg_random, CAST(NULL AS VARCHAR) AS msg_key,
    m.msg_time, CAST(NULL AS VARCHAR) AS file_key, m.sdkappid, m.dt
  FROM ${table(MESSAGES_TABLE)} m ${covered('m', 'group')}
  WHERE coalesce(m.revision, 0) = 0 AND m.topic_id IS NULL AND ${STANDS_FOR('m', true)} AND NOT EXISTS (
    SELECT 1 FROM ${files} h
    WHERE h.sdkappid = m.sdkappid AND h.dt = hr.dt AND h.chat = 'group' AND h.hour = hr.hour
      AND h.group_id = m.group_id AND h.msg_seq = m.msg_seq)
UNION ALL
SELECT c.sdk_app_id, 'c2c' AS chat, hr.hour, CAST(NULL AS VARCHAR) AS group_id, c.conversation,
    c.from_account, c.to_account, c.msg_seq, c.msg_random, c.msg_key,
    c.msg_time, CAST(NULL AS VARCHAR) AS file_key, c.sdkappid, c.dt
  FROM ${table(C2C_MESSAGES_TABLE)} c ${covered('c', 'c2c')}
  WHERE coalesce(c.revision, 0) = 0 AND ${STANDS_FOR('c', false)} AND NOT EXISTS (
    SELECT 1 FROM ${files} h
    WHERE h.sdkappid = c.sdkappid AND h.dt = hr.dt AND h.chat = 'c2c' AND h.hour = hr.hour
      AND h.conversation = c.conversation AND h.from_account = c.from_account AND h.msg_time = c.msg_time
      AND (h.msg_random IS NULL OR h.msg_random = c.msg_random)
      AND (h.msg_key IS NULL OR h.msg_key = c.msg_key))`;
}

const localTime = {
  athena: "format_datetime(from_unixtime(msg_time, {zone}), 'yyyy-MM-dd HH:mm:ss')",
  duckdb: "strftime(timezone({zone}, to_timestamp(msg_time)), '%Y-%m-%d %H:%M:%S')",
};

const viewColumns = (dtComment: string, fileComment: string): ViewColumn[] => [
  pass('sdk_app_id', 'bigint', 'SDKAppID'),
  pass('chat', 'string', 'group or c2c'),
  {
    ...pass('hour', 'string', 'The Beijing hour of the file (YYYYMMDDHH)'),
    athena: '"hour"',
    duckdb: '"hour"',
  },
  pass('group_id', 'string', 'GroupId (group messages)'),
  pass('conversation', 'string', 'The sorted pair as a JSON array (one-to-one messages)'),
  pass('from_account', 'string', 'From_Account'),
  pass('to_account', 'string', 'To_Account (one-to-one messages)'),
  pass('msg_seq', 'bigint', 'MsgSeq'),
  pass('msg_random', 'bigint', 'MsgRandom, when known'),
  pass('msg_key', 'string', 'MsgKey, when known'),
  pass('msg_time', 'bigint', 'Epoch seconds'),
  { name: 'sent_at', hiveType: 'string', ...localTime, comment: 'Local time in the archive zone' },
  pass('file_key', 'string', fileComment),
  pass('sdkappid', 'string', 'Partition: the SDKAppID'),
  pass('dt', 'string', dtComment),
];

export const HISTORY_FILES_MISSING_FROM_ARCHIVE_VIEW = {
  name: 'history_files_missing_from_archive',
  description:
    'Messages of the kept hourly files the archive has no row for (a deletion placeholder does not count)',
  from: HISTORY_FILE_MESSAGES_TABLE,
  source: {
    kind: 'sql' as const,
    tables: [HISTORY_FILE_MESSAGES_TABLE, MESSAGES_TABLE, C2C_MESSAGES_TABLE],
    columns: [...ROW_COLUMNS],
    sql: missingFromArchiveSql,
  },
  columns: viewColumns(
    "Partition: the date of the file's hour in the archive zone",
    'The kept raw file that holds it',
  ),
};

export const ARCHIVE_MISSING_FROM_HISTORY_FILES_VIEW = {
  name: 'archive_missing_from_history_files',
  description: 'Archived messages (first captures) of hours the kept hourly files cover that no file holds',
  from: MESSAGES_TABLE,
  source: {
    kind: 'sql' as const,
    tables: [MESSAGES_TABLE, C2C_MESSAGES_TABLE, HISTORY_FILE_HOURS_TABLE, HISTORY_FILE_MESSAGES_TABLE],
    columns: [...ROW_COLUMNS],
    sql: missingFromFilesSql,
  },
  columns: viewColumns('Partition: the message date (filter on it to bound the scan)', 'Always null'),
};
