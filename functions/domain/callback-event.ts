/**
 * One authentic callback as the archive keeps it (issue 25): the body verbatim, with what is needed
 * to deduplicate and order it. The row is written before the receiver acks; materialization and
 * reconciliation read these rows later (docs/callbacks.md).
 *
 * Deduplication: Tencent documents no delivery id and, when retries are switched on, no rule that
 * a retry carries the same bytes. So an event's identity is its command, its `EventTime` and the ids
 * it names (group, topic, seqs, random, keys, accounts): `event_key`. Two deliveries with the same
 * `event_key` and the same `body_sha256` are one event; the same `event_key` with another body is
 * kept as well and flagged (a replayed request with a changed body: the Sign does not cover it).
 * A body without `EventTime` and without any id falls back to its own hash.
 *
 * Key order here is the column order and the NDJSON key order.
 */
import { createHash } from 'node:crypto';
import { isJsonObject, parseLosslessJson } from './json-guards.ts';
import type { JsonObject, JsonValue } from './tencent-types.ts';

export interface CallbackEventRow {
  sdk_app_id: number;
  callback_command: string;
  /** The receiver's clock when the request arrived, epoch milliseconds. */
  received_at: number;
  /** The body's `EventTime` (epoch milliseconds) when it is a safe integer, else null. */
  event_time: number | null;
  /** The query's `RequestTime`, epoch seconds (authenticated by the Sign). */
  request_time: number;
  /** Hex SHA-256 of the event's identity (command, `EventTime`, ids). */
  event_key: string;
  /** Hex SHA-256 of the body's bytes. */
  body_sha256: string;
  /** The body as received: UTF-8 text, or base64 when the bytes are not valid UTF-8. */
  body: string;
  body_encoding: 'utf8' | 'base64';
  /** True when the body is not a JSON object naming the query's command: kept, never dropped. */
  quarantined: boolean;
  /** Why the body was quarantined, else null. */
  reason: string | null;
}

/** The body fields that name what an event is about, in the order they enter `event_key`. */
export const CALLBACK_ID_FIELDS = [
  'GroupId',
  'TopicId',
  'MsgSeq',
  'MsgSeqList',
  'Random',
  'MsgRandom',
  'MsgKey',
  'MsgTime',
  'From_Account',
  'To_Account',
  'Operator_Account',
] as const;

const sha256Hex = (data: string | Uint8Array) => createHash('sha256').update(data).digest('hex');

/** The receiver's facts about one authentic request. */
export interface ReceivedCallback {
  readonly sdkAppId: number;
  /** The query's `CallbackCommand`. */
  readonly command: string;
  readonly requestTime: number;
  readonly receivedAt: number;
  readonly body: Uint8Array;
}

interface DecodedBody {
  text: string;
  encoding: 'utf8' | 'base64';
  json: JsonObject | undefined;
  reason: string | null;
}

function decodeBody(bytes: Uint8Array, command: string): DecodedBody {
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes);
  } catch {
    return {
      text: Buffer.from(bytes).toString('base64'),
      encoding: 'base64',
      json: undefined,
      reason: 'not UTF-8',
    };
  }
  let value: JsonValue;
  try {
    value = parseLosslessJson(text);
  } catch {
    return { text, encoding: 'utf8', json: undefined, reason: 'not JSON' };
  }
  if (!isJsonObject(value)) return { text, encoding: 'utf8', json: undefined, reason: 'not a JSON object' };
  const named = value.CallbackCommand;
  if (named !== undefined && named !== command) {
    return { text, encoding: 'utf8', json: value, reason: 'CallbackCommand differs from the query' };
  }
  return { text, encoding: 'utf8', json: value, reason: null };
}

function eventTimeOf(json: JsonObject | undefined): number | null {
  const value = json?.EventTime;
  return typeof value === 'number' && Number.isSafeInteger(value) ? value : null;
}

/** The identity of an event: its command, `EventTime` and ids; the body's hash when it names none. */
export function callbackEventKey(command: string, json: JsonObject | undefined, bodySha256: string): string {
  if (json === undefined) return sha256Hex(JSON.stringify([command, 'body', bodySha256]));
  const ids: [string, string][] = [];
  for (const field of CALLBACK_ID_FIELDS) {
    const value = json[field];
    if (value !== undefined)
      ids.push([field, JSON.stringify(value, (_k, v) => (typeof v === 'bigint' ? String(v) : v))]);
  }
  const eventTime = json.EventTime;
  if (ids.length === 0 && eventTime === undefined)
    return sha256Hex(JSON.stringify([command, 'body', bodySha256]));
  return sha256Hex(JSON.stringify([command, String(eventTime ?? ''), ids]));
}

/** The row for one authentic request. */
export function toCallbackEventRow(received: ReceivedCallback): CallbackEventRow {
  const decoded = decodeBody(received.body, received.command);
  const bodySha256 = sha256Hex(received.body);
  return {
    sdk_app_id: received.sdkAppId,
    callback_command: received.command,
    received_at: received.receivedAt,
    event_time: eventTimeOf(decoded.json),
    request_time: received.requestTime,
    event_key: callbackEventKey(received.command, decoded.json, bodySha256),
    body_sha256: bodySha256,
    body: decoded.text,
    body_encoding: decoded.encoding,
    quarantined: decoded.reason !== null,
    reason: decoded.reason,
  };
}

/**
 * Where one batch of a receiver's rows is stored: `callbacks/sdkappid=<id>/dt=<date>/<receiver>-<n>.ndjson.gz`,
 * `dt` the date of arrival in the configured time zone. A receiver's id is unique to its process
 * and its batch numbers increase, so every key is written once (create-only).
 */
export function callbackObjectKey(input: {
  sdkAppId: number;
  dt: string;
  receiverId: string;
  batch: number;
}): string {
  if (!/^[A-Za-z0-9._-]{1,128}$/.test(input.receiverId)) {
    throw new RangeError(
      `receiver id must be 1-128 characters of [A-Za-z0-9._-], got ${JSON.stringify(input.receiverId)}`,
    );
  }
  const batch = String(input.batch).padStart(9, '0');
  return `callbacks/sdkappid=${input.sdkAppId}/dt=${input.dt}/${input.receiverId}-${batch}.ndjson.gz`;
}
