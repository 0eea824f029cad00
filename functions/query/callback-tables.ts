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
