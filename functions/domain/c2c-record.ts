/**
 * One archived row per one-to-one (C2C) message (issue 26; docs/one-to-one.md): the mapping from an
 * `admin_getroammsg` message (docs/tencent-api.md, admin_getroammsg) to the row and back, the
 * conversation's name (the sorted pair), the dedup identity and the row's NDJSON line.
 *
 * The row is LOSSLESS like the group record (record.ts): `fromC2cRecord(toC2cRecord(raw))` rebuilds
 * the exact API message. A column holds a value only when the API field had the expected type;
 * anything else (null, a wrong type, a body Athena cannot type) goes verbatim into `extra` under its
 * API key, and every API field without a column (`IsPeerRead`, fields Tencent adds later) goes
 * there too. Unlike the group record no column has a default: null means "absent" unless `extra`
 * holds the key, so no absence marker is needed. API keys starting with `$` are stored with one
 * more `$` (the group record's rule), so `$reason` of a quarantined row cannot collide.
 *
 * Versions: revision 0 is the first capture; a later rescan that finds the message changed (a
 * recall turns `MsgFlagBits` to 8) appends revision 1, 2, … with its `change`, as for groups.
 */
import { stringify as losslessStringify } from 'lossless-json';
import { fitsAthenaType, MSG_CONTENT_TYPE } from './athena-fit.ts';
import {
  hasExactKeys,
  hasLoneSurrogate,
  isJsonObject,
  isNullOr,
  isSafeInt,
  isString,
  parseLosslessJson,
  setOwn,
  wellFormedJson,
} from './json-guards.ts';
import { isFileableTime, messageObjectKey, messagePartitionPrefix } from './partition.ts';
import { type ArchiveElement, CHANGE_KINDS, type ChangeKind, EXTRA_REASON_KEY } from './record.ts';
import type { JsonObject, JsonValue, RejectedItem, RoamMessage } from './tencent-types.ts';

/** `MsgFlagBits` of a recalled message (docs/tencent-api.md, admin_getroammsg). */
export const MSG_FLAG_RECALLED = 8;

/**
 * Which witness a row came from: the roaming-history pull (`admin_getroammsg`), an hourly
 * `get_history` file, or a `C2C.CallbackAfterSendMsg` event. Only `roam` is written so far.
 */
export const C2C_SOURCES = ['roam', 'history-file', 'callback'] as const;
export type C2cSource = (typeof C2C_SOURCES)[number];

/** One archived one-to-one message. Key order here is the column order and the NDJSON key order. */
export interface C2cRecord {
  sdk_app_id: number;
  /** The sorted pair, {@link conversationOf}: the same for both sides of the conversation. */
  conversation: string;
  from_account: string | null;
  to_account: string | null;
  /** The API's `MsgKey`, an opaque string; null only in a quarantined row whose item had none. */
  msg_key: string | null;
  /** Chosen by the sending client: may repeat (docs/tencent-api.md, admin_getroammsg). */
  msg_seq: number | null;
  msg_random: number | null;
  /** Epoch seconds, the API's `MsgTimeStamp`; decides the `dt` partition. */
  msg_time: number;
  /** 0 normal, 8 recalled; null when the API left it out. */
  msg_flag_bits: number | null;
  /** Null when the API left `MsgBody` out, or served one Athena cannot type (then it is in `extra`). */
  msg_body: ArchiveElement[] | null;
  cloud_custom_data: string | null;
  source: C2cSource;
  /** Every API field without a column (or with an unexpected value), verbatim; null when none. */
  extra: JsonObject | null;
  revision: number;
  /** Epoch seconds of the run that saw this content; null when unknown. */
  observed_at: number | null;
  change: ChangeKind | null;
  /** True for a page item the page schema rejected: `raw` is its exact text, the columns a best effort. */
  quarantined: boolean;
  /** The exact JSON text of a quarantined item, or of a message holding a lone surrogate; else null. */
  raw: string | null;
}

/** Where a message came from and which version of it this row is. */
export interface C2cRecordContext {
  sdkAppId: number;
  /** The pair the message was pulled for (either order): the row's `conversation`. */
  accounts: readonly [string, string];
  source: C2cSource;
  observedAt?: number | null;
  /** Default 0. */
  revision?: number;
  /** Default null; required (non-null) exactly when `revision` > 0. */
  change?: ChangeKind | null;
}

/** A quarantined item's context: also the time to file it under when its own is unreadable. */
export interface C2cQuarantineContext extends C2cRecordContext {
  fallbackTime: number;
}

/** Orders strings by Unicode code point, as Athena and DuckDB compare them (not by UTF-16 unit). */
export function compareCodePoints(a: string, b: string): number {
  const left = a[Symbol.iterator]();
  const right = b[Symbol.iterator]();
  for (;;) {
    const x = left.next();
    const y = right.next();
    if (x.done || y.done) return x.done && y.done ? 0 : x.done ? -1 : 1;
    const diff = (x.value.codePointAt(0) as number) - (y.value.codePointAt(0) as number);
    if (diff !== 0) return diff;
  }
}

/**
 * The conversation of two accounts: the pair sorted by code point, as a JSON array text
 * (`["alice","bob"]`). The same from either side; JSON escaping keeps it unambiguous whatever the
 * accounts hold (quotes, commas, brackets, backslashes, control characters), and every query
 * engine can take it apart ({@link parseConversation}).
 *
 * @throws RangeError for an empty account (the API has none).
 */
export function conversationOf(a: string, b: string): string {
  if (a === '' || b === '') throw new RangeError('an account of a conversation must not be empty');
  const [low, high] = compareCodePoints(a, b) <= 0 ? [a, b] : [b, a];
  return JSON.stringify([low, high]);
}

/**
 * The two accounts of a conversation written by {@link conversationOf}, sorted.
 * @throws TypeError when `text` is not exactly such a conversation.
 */
export function parseConversation(text: string): [string, string] {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (cause) {
    throw new TypeError('not a conversation: not JSON', { cause });
  }
  if (!Array.isArray(value) || value.length !== 2 || !value.every((v) => typeof v === 'string' && v !== '')) {
    throw new TypeError('not a conversation: expected a JSON array of two non-empty accounts');
  }
  const [a, b] = value as [string, string];
  if (conversationOf(a, b) !== text) throw new TypeError('not a conversation: not in canonical form');
  return [a, b];
}

/**
 * What makes two rows the same message: the conversation and the `MsgKey`, whichever side it was
 * fetched from (each message is visible from both). Revisions of one message share it.
 */
export function c2cIdentity(conversation: string, msgKey: string): string {
  return JSON.stringify([conversation, msgKey]);
}

// biome-ignore lint/suspicious/noTemplateCurlyInString: Athena projection placeholders, not a JS template.
export const C2C_LOCATION_TEMPLATE = 'c2c/sdkappid=${sdkappid}/dt=${dt}/';
const GROUP_ROOT = 'messages/';
const C2C_ROOT = 'c2c/';

/**
 * The folder of one day of one app's one-to-one rows, e.g. `c2c/sdkappid=1400000000/dt=2024-03-10/`
 * ({@link C2C_LOCATION_TEMPLATE} filled). Checked exactly as the group folder (partition.ts).
 * @throws RangeError for a non-positive or non-integer `sdkAppId`, or a `dt` that is not a real date.
 */
export function c2cPartitionPrefix(sdkAppId: number, dt: string): string {
  return C2C_ROOT + messagePartitionPrefix(sdkAppId, dt).slice(GROUP_ROOT.length);
}

/**
 * The key of one gzip NDJSON object of one-to-one rows, e.g.
 * `c2c/sdkappid=1400000000/dt=2024-03-10/part-run42-00007.ndjson.gz`: deterministic in (app, day,
 * run, part) like the group objects, so a resumed run rewrites the same keys.
 * @throws RangeError as `messageObjectKey` (partition.ts).
 */
export function c2cObjectKey(input: { sdkAppId: number; dt: string; runId: string; part: number }): string {
  return C2C_ROOT + messageObjectKey(input).slice(GROUP_ROOT.length);
}

function versionColumns(ctx: C2cRecordContext): Pick<C2cRecord, 'revision' | 'observed_at' | 'change'> {
  const revision = ctx.revision ?? 0;
  const change = ctx.change ?? null;
  const observedAt = ctx.observedAt ?? null;
  if (!isSafeInt(revision) || revision < 0) throw new RangeError(`revision must be >= 0, got ${revision}`);
  if ((revision === 0) !== (change === null)) {
    throw new RangeError(`revision ${revision} with change ${String(change)}: only revision 0 has no change`);
  }
  if (observedAt !== null && !isSafeInt(observedAt))
    throw new RangeError(`observedAt must be epoch seconds, got ${observedAt}`);
  return { revision, observed_at: observedAt, change };
}

interface RawElement extends JsonObject {
  MsgType: string;
  MsgContent: JsonObject;
}

const isRawElement = (value: JsonValue): value is RawElement =>
  isJsonObject(value) &&
  hasExactKeys(value, ['MsgType', 'MsgContent']) &&
  isString(value.MsgType) &&
  isJsonObject(value.MsgContent) &&
  fitsAthenaType(MSG_CONTENT_TYPE, value.MsgContent);

const isArchivableBody = (value: JsonValue): value is RawElement[] =>
  Array.isArray(value) && value.every(isRawElement);

const escapeKey = (key: string): string => (key.startsWith('$') ? `$${key}` : key);
const unescapeKey = (key: string): string => (key.startsWith('$$') ? key.slice(1) : key);

/**
 * Maps one `admin_getroammsg` message to its row. A message holding a lone surrogate is mapped
 * from a copy with U+FFFD in its place and `raw` keeps its exact text (as record.ts does).
 *
 * @throws RangeError when `MsgKey` is not a string or `MsgTimeStamp` not a safe integer (the
 *   adapter guarantees both), or the version fields are inconsistent.
 */
export function toC2cRecord(served: RoamMessage, ctx: C2cRecordContext): C2cRecord {
  const odd = hasLoneSurrogate(served);
  const raw = odd ? (wellFormedJson(served) as RoamMessage) : served;
  const consumed = new Set<string>();
  const take = <T extends JsonValue>(key: string, accept: (value: JsonValue) => value is T): T | null => {
    if (!Object.hasOwn(raw, key) || !accept(raw[key] as JsonValue)) return null;
    consumed.add(key);
    return raw[key] as T;
  };
  const msgKey = take('MsgKey', isString);
  const msgTime = take('MsgTimeStamp', isSafeInt);
  if (msgKey === null) throw new RangeError('MsgKey must be a string');
  if (msgTime === null)
    throw new RangeError(`MsgTimeStamp must be a safe integer, got ${String(raw.MsgTimeStamp)}`);
  const version = versionColumns(ctx);
  const body = take('MsgBody', isArchivableBody);
  const record: C2cRecord = {
    sdk_app_id: ctx.sdkAppId,
    conversation: conversationOf(ctx.accounts[0], ctx.accounts[1]),
    from_account: take('From_Account', isString),
    to_account: take('To_Account', isString),
    msg_key: msgKey,
    msg_seq: take('MsgSeq', isSafeInt),
    msg_random: take('MsgRandom', isSafeInt),
    msg_time: msgTime,
    msg_flag_bits: take('MsgFlagBits', isSafeInt),
    msg_body: body === null ? null : body.map((e) => ({ msg_type: e.MsgType, msg_content: e.MsgContent })),
    cloud_custom_data: take('CloudCustomData', isString),
    source: ctx.source,
    extra: null,
    ...version,
    quarantined: false,
    raw: odd ? (losslessStringify(served) ?? null) : null,
  };
  const extra: JsonObject = {};
  for (const key of Object.keys(raw)) {
    if (!consumed.has(key)) setOwn(extra, escapeKey(key), raw[key] as JsonValue);
  }
  record.extra = Object.keys(extra).length === 0 ? null : extra;
  return record;
}

/**
 * A page item the page schema rejected, as a flagged row: `raw` its exact text, the columns what
 * the text has in the expected types (`msg_key` null when unreadable), `msg_time` the item's or
 * `ctx.fallbackTime`, `extra` only `$reason`.
 * @throws RangeError when `ctx.fallbackTime` is not a safe integer, or the version fields are inconsistent.
 */
export function toQuarantinedC2cRecord(item: RejectedItem, ctx: C2cQuarantineContext): C2cRecord {
  if (!isSafeInt(ctx.fallbackTime)) throw new RangeError('fallbackTime must be epoch seconds');
  let parsed: JsonValue | undefined;
  try {
    parsed = parseLosslessJson(item.text);
  } catch {
    parsed = undefined;
  }
  const fields: JsonObject = parsed !== undefined && isJsonObject(parsed) ? { ...parsed } : {};
  const time =
    isSafeInt(fields.MsgTimeStamp) && isFileableTime(fields.MsgTimeStamp)
      ? fields.MsgTimeStamp
      : ctx.fallbackTime;
  const key = isString(fields.MsgKey) ? fields.MsgKey : '';
  const best = toC2cRecord({ ...fields, MsgKey: key, MsgTimeStamp: time } as unknown as RoamMessage, ctx);
  return {
    ...best,
    msg_key: isString(fields.MsgKey) ? fields.MsgKey : null,
    extra: { [EXTRA_REASON_KEY]: item.reason },
    quarantined: true,
    raw: item.text,
  };
}

/**
 * Rebuilds the exact API message from a row: the inverse of {@link toC2cRecord}. Fields in `extra`
 * win over their column.
 * @throws TypeError for a quarantined row (its exact source is the `raw` text).
 */
export function fromC2cRecord(record: C2cRecord): RoamMessage {
  if (record.quarantined) throw new TypeError('a quarantined record has no API message: read its raw text');
  if (record.raw !== null) return parseLosslessJson(record.raw) as RoamMessage;
  const verbatim = new Map(Object.entries(record.extra ?? {}).map(([k, v]) => [unescapeKey(k), v]));
  const out: JsonObject = {};
  const put = (key: string, column: JsonValue | null): void => {
    const value = verbatim.has(key) ? verbatim.get(key) : column;
    if (value !== null && value !== undefined) setOwn(out, key, value);
    else if (verbatim.has(key)) setOwn(out, key, null);
  };
  put('From_Account', record.from_account);
  put('To_Account', record.to_account);
  put('MsgSeq', record.msg_seq);
  put('MsgRandom', record.msg_random);
  put('MsgTimeStamp', record.msg_time);
  put('MsgFlagBits', record.msg_flag_bits);
  put('MsgKey', record.msg_key);
  const body = record.msg_body?.map((e): JsonObject => ({ MsgType: e.msg_type, MsgContent: e.msg_content }));
  put('MsgBody', body ?? null);
  put('CloudCustomData', record.cloud_custom_data);
  for (const [key, value] of verbatim) {
    if (!Object.hasOwn(out, key)) setOwn(out, key, value);
  }
  return out as RoamMessage;
}

const isElement = (value: unknown): value is ArchiveElement =>
  isJsonObject(value) &&
  hasExactKeys(value, ['msg_type', 'msg_content']) &&
  isString(value.msg_type) &&
  isJsonObject(value.msg_content);
const isNonNegativeInt = (value: unknown): boolean => isSafeInt(value) && value >= 0;

/** One runtime check per row key; the mapped type proves it lists every key, in column order. */
const C2C_CHECKS: { readonly [K in keyof C2cRecord]: (value: unknown) => boolean } = {
  sdk_app_id: isSafeInt,
  conversation: isString,
  from_account: isNullOr(isString),
  to_account: isNullOr(isString),
  msg_key: isNullOr(isString),
  msg_seq: isNullOr(isSafeInt),
  msg_random: isNullOr(isSafeInt),
  msg_time: isSafeInt,
  msg_flag_bits: isNullOr(isSafeInt),
  msg_body: isNullOr(
    (value: unknown): value is ArchiveElement[] => Array.isArray(value) && value.every(isElement),
  ),
  cloud_custom_data: isNullOr(isString),
  source: (value) => isString(value) && (C2C_SOURCES as readonly string[]).includes(value),
  extra: isNullOr(isJsonObject),
  revision: isNonNegativeInt,
  observed_at: isNullOr(isSafeInt),
  change: isNullOr(
    (value: unknown): value is ChangeKind =>
      isString(value) && (CHANGE_KINDS as readonly string[]).includes(value),
  ),
  quarantined: (value) => typeof value === 'boolean',
  raw: isNullOr(isString),
};

/** The row keys in stable order. */
export const C2C_RECORD_KEYS = Object.keys(C2C_CHECKS) as readonly (keyof C2cRecord)[];

/** NEL, LINE SEPARATOR, PARAGRAPH SEPARATOR: escaped so one row stays one line for every reader. */
const LINE_BREAKING_CHARS = /[\u0085\u2028\u2029]/g;

/**
 * One NDJSON line (no newline), keys in {@link C2C_RECORD_KEYS} order, integers beyond 2^53 exact,
 * valid UTF-8 (a lone surrogate in an account is written as U+FFFD, as record-codec.ts does).
 */
export function serializeC2cRecord(record: C2cRecord): string {
  const ordered: JsonObject = {};
  for (const key of C2C_RECORD_KEYS) ordered[key] = record[key] as JsonValue;
  const value = hasLoneSurrogate(ordered) ? wellFormedJson(ordered) : ordered;
  let line: string | undefined;
  try {
    line = JSON.stringify(value);
  } catch {
    line = losslessStringify(value);
  }
  if (line === undefined) throw new TypeError('record is not serialisable');
  return line.replace(LINE_BREAKING_CHARS, (ch) => `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/**
 * Parses one line written by {@link serializeC2cRecord}, losslessly, checking every key.
 * @throws SyntaxError when the line is not JSON; TypeError when it is not a one-to-one row.
 */
export function parseC2cRecordLine(line: string): C2cRecord {
  const value = parseLosslessJson(line);
  if (!isJsonObject(value)) throw new TypeError('c2c line is not a JSON object');
  const unknown = Object.keys(value).filter((key) => !Object.hasOwn(C2C_CHECKS, key));
  if (unknown.length > 0) throw new TypeError(`c2c line has unknown keys: ${unknown.join(', ')}`);
  for (const key of C2C_RECORD_KEYS) {
    if (!Object.hasOwn(value, key) || !C2C_CHECKS[key](value[key])) {
      throw new TypeError(`c2c line has a missing or invalid "${key}"`);
    }
  }
  const ordered: Record<string, unknown> = {};
  for (const key of C2C_RECORD_KEYS) ordered[key] = value[key];
  return ordered as unknown as C2cRecord;
}
