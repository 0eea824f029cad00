/**
 * The `callback_events` table (issue 25, docs/callbacks.md): every authentic callback as the
 * receiver recorded it (functions/domain/callback-event.ts is the row model), over
 * `callbacks/sdkappid=<id>/dt=<arrival date>/`, written by the local receiver or by Firehose in
 * the same layout. Deliveries are kept as they came: a redelivered event is a second row with the
 * same `event_key` and `body_sha256`; the same `event_key` with another `body_sha256` is a
 * replayed request with a changed body (the Sign does not cover it).
 */
import type { CallbackEventRow } from '../domain/callback-event.ts';
import {
  CALLBACK_ROWS_FOLDER,
  type CallbackMessageRow,
  type CallbackProvenance,
  type CallbackRevisionRow,
  type CallbackRowKind,
  type DissolutionRow,
} from '../domain/callback-materialize.ts';
import { RECORD_COLUMNS } from './message-schema.ts';
import {
  type ArchiveLocationProps,
  type ArchiveTableDefinition,
  type ColumnSpec,
  columnsOf,
  type GlueColumn,
  rowTable,
} from './tables.ts';

export const CALLBACK_EVENTS_TABLE = 'callback_events';
/** The folder of the callback rows under the archive root. */
export const CALLBACKS_FOLDER = 'callbacks/';
// biome-ignore lint/suspicious/noTemplateCurlyInString: Athena projection placeholders, not a JS template.
const CALLBACKS_LOCATION_TEMPLATE = 'callbacks/sdkappid=${sdkappid}/dt=${dt}/';

const COLUMNS: ColumnSpec<CallbackEventRow> = {
  sdk_app_id: ['bigint', 'Tencent SDKAppID (from the authenticated query)'],
  callback_command: ['string', 'CallbackCommand, e.g. Group.CallbackAfterSendMsg'],
  received_at: ['bigint', "The receiver's clock when the request arrived, epoch milliseconds"],
  event_time: ['bigint', "The body's EventTime, epoch milliseconds; null when absent or not an integer"],
  request_time: ['bigint', 'The query RequestTime (authenticated by the Sign), epoch seconds'],
  event_key: ['string', 'SHA-256 of the command, EventTime and the ids the event names: one event'],
  body_sha256: ['string', 'SHA-256 of the body bytes: two deliveries of one event have the same'],
  body: ['string', 'The body as received: UTF-8 text, or base64 when not UTF-8 (body_encoding)'],
  body_encoding: ['string', 'utf8 or base64'],
  quarantined: ['boolean', 'True when the body is not a JSON object naming the query command'],
  reason: ['string', 'Why the body was quarantined, else null'],
};

/** The table's columns, in the row model's key order. */
export function callbackEventColumns(): GlueColumn[] {
  return columnsOf(COLUMNS);
}

/** gzip NDJSON, partitioned and projected like `messages` (dt: the arrival date). */
export function callbackEventsTable(props: ArchiveLocationProps): ArchiveTableDefinition {
  return rowTable(props, {
    name: CALLBACK_EVENTS_TABLE,
    description: `Tencent IM callbacks as the receiver recorded them, dt = arrival date in ${props.timeZone}`,
    columns: callbackEventColumns(),
    folder: CALLBACKS_FOLDER,
    locationTemplate: CALLBACKS_LOCATION_TEMPLATE,
    dtComment: 'Date the receiver got the request, in the archive time zone (YYYY-MM-DD)',
  });
}

// ---------------------------------------------------------------------------------------------
// Materialized rows (functions/domain/callback-materialize.ts)
// ---------------------------------------------------------------------------------------------

export const CALLBACK_MESSAGE_ROWS_TABLE = 'callback_message_rows';
export const CALLBACK_REVISIONS_TABLE = 'callback_revisions';
export const GROUP_DISSOLUTIONS_TABLE = 'group_dissolutions';

const PROVENANCE: ColumnSpec<CallbackProvenance> = {
  event_key: ['string', 'The event this row came from (callback_events.event_key)'],
  body_sha256: ['string', 'The hash of the delivered body it was read from'],
  event_time: ['bigint', 'EventTime, epoch milliseconds'],
  received_at: ['bigint', 'When the receiver got the event, epoch milliseconds'],
  replayed: ['boolean', 'True when an earlier delivery of this event came with another body'],
};

const MESSAGE_EXTRA: ColumnSpec<Pick<CallbackMessageRow, 'source' | 'unconfirmed'>> = {
  source: ['string', "Always 'callback'"],
  unconfirmed: ['boolean', 'Always true: the Sign does not cover the body'],
};

const recordColumn = (name: string): readonly [string, string] => {
  const column = RECORD_COLUMNS.find((c) => c.name === name);
  if (column === undefined) throw new RangeError(`no message column ${name}`);
  return [column.athenaType, column.comment];
};

const REVISION_COLUMNS: ColumnSpec<CallbackRevisionRow> = {
  sdk_app_id: ['bigint', 'Tencent SDKAppID'],
  group_id: ['string', 'GroupId'],
  topic_id: ['string', 'TopicId, null outside topics'],
  msg_seq: ['bigint', 'MsgSeq of the message changed'],
  change: ['string', 'recalled or modified'],
  changed_by: ['string', 'Operator_Account: who recalled or edited it'],
  changed_at: ['bigint', 'EventTime of the recall or edit, epoch milliseconds'],
  msg_body: recordColumn('msg_body'),
  text: ['string', 'Text elements of the new content joined with a newline (null for a recall)'],
  cloud_custom_data: ['string', 'CloudCustomData of the new content'],
  ...PROVENANCE,
};

const DISSOLUTION_COLUMNS: ColumnSpec<DissolutionRow> = {
  sdk_app_id: ['bigint', 'Tencent SDKAppID'],
  group_id: ['string', 'GroupId of the dissolved group'],
  group_type: ['string', 'Type, e.g. Public, Work'],
  name: ['string', 'Name of the group when it was dissolved'],
  owner_account: ['string', 'Owner_Account'],
  members: ['array<string>', 'Member_Account of every member listed by the event'],
  dissolved_at: ['bigint', 'EventTime of the dissolution, epoch milliseconds'],
  ...PROVENANCE,
};

/** One table of materialized rows: its name, its kind's folder and its columns. */
export interface CallbackRowTable {
  readonly name: string;
  readonly kind: CallbackRowKind;
  readonly description: string;
  readonly dtComment: string;
  readonly columns: GlueColumn[];
}

export const CALLBACK_ROW_TABLES: readonly CallbackRowTable[] = [
  {
    name: CALLBACK_MESSAGE_ROWS_TABLE,
    kind: 'messages',
    description: 'Group messages as send callbacks told them, once per event and body (unconfirmed)',
    dtComment: 'The message date (MsgTime) in the archive time zone, as messages.dt',
    columns: [
      ...RECORD_COLUMNS.map((c) => ({ name: c.name, type: c.athenaType, comment: c.comment })),
      ...columnsOf(PROVENANCE),
      ...columnsOf(MESSAGE_EXTRA),
    ],
  },
  {
    name: CALLBACK_REVISIONS_TABLE,
    kind: 'revisions',
    description: 'Recalls and edits as callbacks told them: who (changed_by) and when (changed_at)',
    dtComment: 'The date of the recall or edit (EventTime) in the archive time zone',
    columns: columnsOf(REVISION_COLUMNS),
  },
  {
    name: GROUP_DISSOLUTIONS_TABLE,
    kind: 'dissolutions',
    description: 'Groups dissolved, as Group.CallbackAfterGroupDestroyed told it: when, owner, name, members',
    dtComment: 'The date of the dissolution (EventTime) in the archive time zone',
    columns: columnsOf(DISSOLUTION_COLUMNS),
  },
];

// biome-ignore lint/suspicious/noTemplateCurlyInString: Athena projection placeholders, not a JS template.
const PARTITION_TEMPLATE = 'sdkappid=${sdkappid}/dt=${dt}/';

/** The folder of one kind of materialized rows under the archive root. */
export const callbackRowsFolder = (kind: CallbackRowKind) => `${CALLBACK_ROWS_FOLDER}${kind}/`;

/** gzip NDJSON under `callback-rows/<kind>/sdkappid=<id>/dt=<date>/`, partitioned and projected like `messages`. */
export function callbackRowTables(props: ArchiveLocationProps): ArchiveTableDefinition[] {
  return CALLBACK_ROW_TABLES.map((table) =>
    rowTable(props, {
      name: table.name,
      description: table.description,
      columns: table.columns,
      folder: callbackRowsFolder(table.kind),
      locationTemplate: `${callbackRowsFolder(table.kind)}${PARTITION_TEMPLATE}`,
      dtComment: table.dtComment,
    }),
  );
}
