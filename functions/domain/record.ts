/**
 * One archived record per Tencent message, and the Athena table schema that reads it.
 *
 * A record is a flat, snake_case view of a `group_msg_get_simple` message (reference §3.5, §5) that
 * Athena can query, and it is LOSSLESS: `fromRecord(toRecord(raw))` rebuilds the exact API message.
 * The rules that make it lossless:
 *
 * - A mapped column holds a value only when the raw field had the expected type. Anything else
 *   (null, a wrong type, a malformed `MsgBody`) goes verbatim into `extra` under its API key, and
 *   `fromRecord` prefers `extra` over the column.
 * - Every top-level API field without a column (including ones Tencent adds later) goes into `extra`.
 * - Columns with a default (`is_place_msg`, `is_system_msg`, `msg_body`) cannot tell "absent" from
 *   "present with the default"; `extra` disambiguates: `extra["$absent"]` lists `IsPlaceMsg` /
 *   `MsgBody` when the API omitted them, and an explicit `IsSystemMsg: 0` is kept verbatim in `extra`.
 *   API keys that themselves start with `$` are stored with one more `$` so they cannot collide with
 *   that marker.
 */
import { isInteger, isSafeNumber, parse, stringify } from 'lossless-json';
import type { JsonObject, JsonValue, RawMessage } from './tencent-types.ts';

/** One `MsgBody` element; `msg_content` is the API's `MsgContent` object verbatim (mixed-case keys). */
export interface ArchiveElement {
  msg_type: string;
  msg_content: JsonObject;
}

/** One archived message. Key order here is the column order and the NDJSON key order. */
export interface ArchiveRecord {
  sdk_app_id: number;
  group_id: string;
  topic_id: string | null;
  msg_seq: number;
  msg_random: number | null;
  /** Epoch seconds, the API's `MsgTimeStamp`. */
  msg_time: number;
  from_account: string | null;
  msg_priority: number | null;
  /** 0 normal, 1 placeholder (expired/deleted/failed), 2 recalled; 0 when the API omitted it. */
  is_place_msg: number;
  /** 1 for system messages; 0 when the API omitted it. */
  is_system_msg: number;
  msg_body: ArchiveElement[];
  cloud_custom_data: string | null;
  /** All `TIMTextElem` texts joined with "\n"; null when there is none. */
  text: string | null;
  /** The `MsgType` of every element, in order. */
  element_types: string[];
  /** Every API field without a column (or with an unexpected value), verbatim; null when none. */
  extra: JsonObject | null;
}

/** Where a message came from: the app, the group and (for topic communities) the topic. */
export interface RecordContext {
  sdkAppId: number;
  groupId: string;
  topicId: string | null;
}

/** Key in `extra` listing the defaulted API fields (`IsPlaceMsg`, `MsgBody`) that were absent. */
export const EXTRA_ABSENT_KEY = '$absent';

// ---------------------------------------------------------------------------------------------
// Athena schema
// ---------------------------------------------------------------------------------------------

/**
 * The SerDe the table must use. OpenX (both the original and Athena's Trino re-implementation)
 * renders a JSON object or array as JSON text when the column is `string`; the Hive JSON SerDe
 * (`org.apache.hive.hcatalog.data.JsonSerDe`) rejects that, which would make `extra` and
 * `msg_content.msglist` unreadable. OpenX also matches keys case-insensitively (its default), which
 * maps `MsgContent`'s `ImageInfoArray` to the `imageinfoarray` field.
 */
export const ATHENA_SERDE = 'org.openx.data.jsonserde.JsonSerDe';

/** The subset of Hive types the schema uses, modelled so it can be rendered AND checked against values. */
type AthenaType =
  | { readonly kind: 'string' | 'bigint' | 'int' | 'double' }
  | { readonly kind: 'array'; readonly of: AthenaType }
  | { readonly kind: 'struct'; readonly fields: readonly (readonly [string, AthenaType])[] };

const STRING: AthenaType = { kind: 'string' };
const BIGINT: AthenaType = { kind: 'bigint' };
const INT: AthenaType = { kind: 'int' };
const DOUBLE: AthenaType = { kind: 'double' };
const arrayOf = (of: AthenaType): AthenaType => ({ kind: 'array', of });
const struct = (fields: readonly (readonly [string, AthenaType])[]): AthenaType => ({
  kind: 'struct',
  fields,
});

/**
 * The union of the documented `MsgContent` fields (reference §5), lower-cased. Unknown keys are
 * simply not exposed by the struct; they stay in the stored line. The relay element's nested
 * `MsgList` is declared `string`: OpenX hands it over as JSON text, queryable with `json_extract`.
 */
const MSG_CONTENT_TYPE = struct([
  ['text', STRING],
  ['desc', STRING],
  ['data', STRING],
  ['ext', STRING],
  ['sound', STRING],
  ['index', BIGINT],
  ['latitude', DOUBLE],
  ['longitude', DOUBLE],
  ['url', STRING],
  ['uuid', STRING],
  ['size', BIGINT],
  ['second', BIGINT],
  ['download_flag', BIGINT],
  ['imageformat', BIGINT],
  [
    'imageinfoarray',
    arrayOf(
      struct([
        ['type', INT],
        ['size', BIGINT],
        ['width', INT],
        ['height', INT],
        ['url', STRING],
      ]),
    ),
  ],
  ['filesize', BIGINT],
  ['filename', STRING],
  ['videourl', STRING],
  ['videouuid', STRING],
  ['videosize', BIGINT],
  ['videosecond', BIGINT],
  ['videoformat', STRING],
  ['videodownloadflag', BIGINT],
  ['thumburl', STRING],
  ['thumbuuid', STRING],
  ['thumbsize', BIGINT],
  ['thumbwidth', BIGINT],
  ['thumbheight', BIGINT],
  ['thumbformat', STRING],
  ['thumbdownloadflag', BIGINT],
  ['title', STRING],
  ['msgnum', BIGINT],
  ['compatibletext', STRING],
  ['abstractlist', arrayOf(STRING)],
  ['jsonmsgkey', STRING],
  ['msglist', STRING],
]);

const MSG_BODY_TYPE = arrayOf(
  struct([
    ['msg_type', STRING],
    ['msg_content', MSG_CONTENT_TYPE],
  ]),
);

/** Renders the model as a Hive type string, e.g. `array<struct<msg_type:string,...>>`. */
function renderAthenaType(type: AthenaType): string {
  if (type.kind === 'array') return `array<${renderAthenaType(type.of)}>`;
  if (type.kind === 'struct') {
    return `struct<${type.fields.map(([name, field]) => `${name}:${renderAthenaType(field)}`).join(',')}>`;
  }
  return type.kind;
}

/** One column of the messages table. */
export interface RecordColumn {
  readonly name: keyof ArchiveRecord;
  readonly athenaType: string;
  /** Plain text, no single quotes (it is pasted into DDL). */
  readonly comment: string;
}

/**
 * The messages table schema, in record key order: the single source of truth for the DDL / Glue
 * table. Numbers are `bigint`. Read with {@link ATHENA_SERDE}.
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
];

/** Partition columns, in path order (`sdkappid=<id>/dt=<YYYY-MM-DD>`). */
export const PARTITION_COLUMNS = [
  { name: 'sdkappid', athenaType: 'string' },
  { name: 'dt', athenaType: 'string' },
] as const;

// ---------------------------------------------------------------------------------------------
// Record keys and their runtime checks
// ---------------------------------------------------------------------------------------------

const isString = (value: unknown): value is string => typeof value === 'string';
const isSafeInt = (value: unknown): value is number => Number.isSafeInteger(value);
const isNullOr =
  <T>(check: (value: unknown) => value is T) =>
  (value: unknown): value is T | null =>
    value === null || check(value);

/** A JSON object: not null, not an array (typeof alone would accept both). */
function isJsonObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function hasExactKeys(value: JsonObject, keys: readonly string[]): boolean {
  const own = Object.keys(value);
  return own.length === keys.length && keys.every((key) => Object.hasOwn(value, key));
}

function isArchiveElement(value: unknown): value is ArchiveElement {
  return (
    isJsonObject(value) &&
    hasExactKeys(value, ['msg_type', 'msg_content']) &&
    isString(value.msg_type) &&
    isJsonObject(value.msg_content)
  );
}

/**
 * One runtime check per record key. Typed as a mapped type so the compiler proves it lists every
 * key of {@link ArchiveRecord} and nothing else; its literal order is the stable key order.
 */
const RECORD_CHECKS: { readonly [K in keyof ArchiveRecord]: (value: unknown) => boolean } = {
  sdk_app_id: isSafeInt,
  group_id: isString,
  topic_id: isNullOr(isString),
  msg_seq: isSafeInt,
  msg_random: isNullOr(isSafeInt),
  msg_time: isSafeInt,
  from_account: isNullOr(isString),
  msg_priority: isNullOr(isSafeInt),
  is_place_msg: isSafeInt,
  is_system_msg: isSafeInt,
  msg_body: (value) => Array.isArray(value) && value.every(isArchiveElement),
  cloud_custom_data: isNullOr(isString),
  text: isNullOr(isString),
  element_types: (value) => Array.isArray(value) && value.every(isString),
  extra: isNullOr(isJsonObject),
};

/** The record keys in stable order (checked against {@link RECORD_COLUMNS} by a test). */
export const RECORD_KEYS = Object.keys(RECORD_CHECKS) as readonly (keyof ArchiveRecord)[];

// ---------------------------------------------------------------------------------------------
// Can Athena read this MsgContent?
// ---------------------------------------------------------------------------------------------

const INT32_MAX = 2 ** 31 - 1;
const INT64_MAX = 2n ** 63n - 1n;

function isIntegerIn(value: JsonValue, max: bigint): boolean {
  if (typeof value === 'bigint') return value >= -max - 1n && value <= max;
  return (
    typeof value === 'number' && Number.isInteger(value) && BigInt(value) >= -max - 1n && BigInt(value) <= max
  );
}

/**
 * Whether the SerDe can read `value` as `type` without failing the query. Conservative on purpose
 * (a value it might coerce is rejected): a rejected `MsgBody` is not lost, it moves to `extra`.
 * `string` accepts anything because OpenX renders any JSON value as text.
 */
function fitsAthenaType(type: AthenaType, value: JsonValue): boolean {
  if (value === null) return true;
  switch (type.kind) {
    case 'string':
      return true;
    case 'double':
      return typeof value === 'number' || typeof value === 'bigint';
    case 'bigint':
      return isIntegerIn(value, INT64_MAX);
    case 'int':
      return isIntegerIn(value, BigInt(INT32_MAX));
    case 'array':
      return Array.isArray(value) && value.every((item) => fitsAthenaType(type.of, item));
    case 'struct':
      return isJsonObject(value) && fitsStruct(type.fields, value);
  }
}

/** Keys match fields case-insensitively; two keys hitting one field (`Text` and `text`) is refused. */
function fitsStruct(fields: readonly (readonly [string, AthenaType])[], value: JsonObject): boolean {
  const seen = new Set<string>();
  for (const [key, fieldValue] of Object.entries(value)) {
    const name = key.toLowerCase();
    const field = fields.find(([fieldName]) => fieldName === name);
    if (field === undefined) continue;
    if (seen.has(name) || !fitsAthenaType(field[1], fieldValue)) return false;
    seen.add(name);
  }
  return true;
}

// ---------------------------------------------------------------------------------------------
// toRecord / fromRecord
// ---------------------------------------------------------------------------------------------

/** A raw `MsgBody` item we can represent as an {@link ArchiveElement}. */
interface RawElement extends JsonObject {
  MsgType: string;
  MsgContent: JsonObject;
}

function isRawElement(value: JsonValue): value is RawElement {
  return (
    isJsonObject(value) &&
    hasExactKeys(value, ['MsgType', 'MsgContent']) &&
    isString(value.MsgType) &&
    isJsonObject(value.MsgContent) &&
    fitsAthenaType(MSG_CONTENT_TYPE, value.MsgContent)
  );
}

const isArchivableBody = (value: JsonValue): value is RawElement[] =>
  Array.isArray(value) && value.every(isRawElement);

/** `IsSystemMsg: 0` is kept in `extra` instead: 0 in the column means "absent" (see file header). */
const isNonZeroSafeInt = (value: JsonValue): value is number => isSafeInt(value) && value !== 0;

/** Defaulted fields whose absence `$absent` records. (`IsSystemMsg` is usually absent: no marker.) */
const ABSENCE_TRACKED = ['IsPlaceMsg', 'MsgBody'] as const;

/**
 * Maps one API message to its archive record.
 *
 * @param raw - a `RspMsgList` item as the API returned it (lossless-parsed).
 * @param ctx - the app, group and topic the message was pulled from.
 * @throws RangeError when `MsgSeq` or `MsgTimeStamp` is not a safe integer (the adapter guarantees it).
 */
export function toRecord(raw: RawMessage, ctx: RecordContext): ArchiveRecord {
  const consumed = new Set<string>();
  const take = <T extends JsonValue>(
    key: string,
    accept: (value: JsonValue) => value is T,
  ): T | undefined => {
    if (!Object.hasOwn(raw, key)) return undefined;
    const value = raw[key] as JsonValue;
    if (!accept(value)) return undefined;
    consumed.add(key);
    return value;
  };
  const required = (key: 'MsgSeq' | 'MsgTimeStamp'): number => {
    const value = take(key, isSafeInt);
    if (value === undefined) throw new RangeError(`${key} must be a safe integer, got ${String(raw[key])}`);
    return value;
  };

  const msgSeq = required('MsgSeq');
  const msgTime = required('MsgTimeStamp');
  const body = take('MsgBody', isArchivableBody);
  const record: ArchiveRecord = {
    sdk_app_id: ctx.sdkAppId,
    group_id: ctx.groupId,
    topic_id: ctx.topicId,
    msg_seq: msgSeq,
    msg_random: take('MsgRandom', isSafeInt) ?? null,
    msg_time: msgTime,
    from_account: take('From_Account', isString) ?? null,
    msg_priority: take('MsgPriority', isSafeInt) ?? null,
    is_place_msg: take('IsPlaceMsg', isSafeInt) ?? 0,
    is_system_msg: take('IsSystemMsg', isNonZeroSafeInt) ?? 0,
    msg_body: (body ?? []).map((e) => ({ msg_type: e.MsgType, msg_content: e.MsgContent })),
    cloud_custom_data: take('CloudCustomData', isString) ?? null,
    text: joinTexts(raw.MsgBody),
    element_types: elementTypes(raw.MsgBody),
    extra: null,
  };
  // After every `take`: what was not consumed is what `extra` must keep.
  record.extra = buildExtra(raw, consumed);
  return record;
}

/** Items of a raw `MsgBody` that look like elements, even when the body as a whole went to `extra`. */
function rawElements(body: JsonValue | undefined): JsonObject[] {
  return Array.isArray(body) ? body.filter(isJsonObject) : [];
}

/**
 * Derived columns are best effort from the raw body: a body kept in `extra` (say, an element with an
 * unknown key) still shows its types and text to a search.
 */
function elementTypes(body: JsonValue | undefined): string[] {
  return rawElements(body)
    .map((item) => item.MsgType)
    .filter(isString);
}

function joinTexts(body: JsonValue | undefined): string | null {
  const texts = rawElements(body)
    .filter((item) => item.MsgType === 'TIMTextElem' && isJsonObject(item.MsgContent))
    .map((item) => (item.MsgContent as JsonObject).Text)
    .filter(isString);
  return texts.length === 0 ? null : texts.join('\n');
}

/** `$`-prefixed API keys get one more `$`, so no API key can equal {@link EXTRA_ABSENT_KEY}. */
const escapeKey = (key: string): string => (key.startsWith('$') ? `$${key}` : key);
const unescapeKey = (key: string): string => (key.startsWith('$$') ? key.slice(1) : key);

/**
 * Assigns an own enumerable property. Plain `obj[key] = v` would, for the key `__proto__`, replace
 * the prototype instead of keeping the API's field.
 */
function setOwn(target: JsonObject, key: string, value: JsonValue): void {
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
}

function buildExtra(raw: RawMessage, consumed: ReadonlySet<string>): JsonObject | null {
  const extra: JsonObject = {};
  for (const key of Object.keys(raw)) {
    if (!consumed.has(key)) setOwn(extra, escapeKey(key), raw[key] as JsonValue);
  }
  const absent = ABSENCE_TRACKED.filter((key) => !Object.hasOwn(raw, key));
  if (absent.length > 0) setOwn(extra, EXTRA_ABSENT_KEY, absent);
  return Object.keys(extra).length === 0 ? null : extra;
}

/** `extra` split into the verbatim API fields (unescaped keys) and the absence marker. */
function splitExtra(extra: JsonObject | null): { verbatim: Map<string, JsonValue>; absent: Set<string> } {
  const verbatim = new Map<string, JsonValue>();
  const absent = new Set<string>();
  for (const [key, value] of Object.entries(extra ?? {})) {
    if (key !== EXTRA_ABSENT_KEY) {
      verbatim.set(unescapeKey(key), value);
    } else if (Array.isArray(value) && value.every(isString)) {
      for (const name of value) absent.add(name);
    } else {
      throw new TypeError(`extra.${EXTRA_ABSENT_KEY} must be an array of API field names`);
    }
  }
  return { verbatim, absent };
}

/**
 * Rebuilds the exact API message from a record: the inverse of {@link toRecord}. Fields found in
 * `extra` win over their column; `MsgSeq` / `MsgTimeStamp` always come from their columns.
 *
 * @throws TypeError when `extra["$absent"]` is not an array of strings.
 */
export function fromRecord(record: ArchiveRecord): RawMessage {
  const { verbatim, absent } = splitExtra(record.extra);
  const raw: JsonObject = {};
  const put = (key: string, fromColumn: JsonValue | undefined): void => {
    const value = verbatim.has(key) ? verbatim.get(key) : fromColumn;
    if (value !== undefined) setOwn(raw, key, value);
  };
  const unlessAbsent = <T extends JsonValue>(key: string, value: T): T | undefined =>
    absent.has(key) ? undefined : value;

  put('From_Account', record.from_account ?? undefined);
  put('IsPlaceMsg', unlessAbsent('IsPlaceMsg', record.is_place_msg));
  put('IsSystemMsg', record.is_system_msg === 0 ? undefined : record.is_system_msg);
  put(
    'MsgBody',
    unlessAbsent(
      'MsgBody',
      record.msg_body.map((e): JsonObject => ({ MsgType: e.msg_type, MsgContent: e.msg_content })),
    ),
  );
  put('MsgPriority', record.msg_priority ?? undefined);
  put('MsgRandom', record.msg_random ?? undefined);
  setOwn(raw, 'MsgSeq', record.msg_seq);
  setOwn(raw, 'MsgTimeStamp', record.msg_time);
  put('CloudCustomData', record.cloud_custom_data ?? undefined);
  for (const [key, value] of verbatim) {
    if (!Object.hasOwn(raw, key)) setOwn(raw, key, value);
  }
  return raw as RawMessage;
}

// ---------------------------------------------------------------------------------------------
// NDJSON
// ---------------------------------------------------------------------------------------------

/**
 * Characters JSON allows raw inside strings but some line splitters treat as line breaks
 * (NEL, LINE SEPARATOR, PARAGRAPH SEPARATOR). They can only occur inside JSON strings, so escaping
 * them in the output text is safe and keeps one record = one line for every reader.
 */
const LINE_BREAKING_CHARS = /[\u0085\u2028\u2029]/g;

/**
 * One NDJSON line (no trailing newline) with keys in {@link RECORD_KEYS} order. Integers held as
 * `bigint` (beyond 2^53) are written as plain JSON integers.
 */
export function serializeRecord(record: ArchiveRecord): string {
  const ordered: Record<string, unknown> = {};
  for (const key of RECORD_KEYS) ordered[key] = record[key];
  const line = stringify(ordered);
  if (line === undefined) throw new TypeError('record is not serialisable');
  return line.replace(LINE_BREAKING_CHARS, (ch) => `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** Integers beyond 2^53 become `bigint` (exact); everything else a `number`, as `JSON.parse` would. */
function parseJsonNumber(text: string): number | bigint {
  return isInteger(text) && !isSafeNumber(text) ? BigInt(text) : Number(text);
}

/**
 * Parses one NDJSON line written by {@link serializeRecord}, losslessly (integers beyond 2^53 come
 * back as `bigint`), and checks it has exactly the record keys with the right types.
 *
 * @throws SyntaxError when the line is not JSON.
 * @throws TypeError when it is JSON but not an archive record.
 */
export function parseRecordLine(line: string): ArchiveRecord {
  const value = parse(line, null, parseJsonNumber);
  if (!isJsonObject(value)) throw new TypeError('archive line is not a JSON object');
  const unknown = Object.keys(value).filter((key) => !Object.hasOwn(RECORD_CHECKS, key));
  if (unknown.length > 0) throw new TypeError(`archive line has unknown keys: ${unknown.join(', ')}`);
  const record: Record<string, unknown> = {};
  for (const key of RECORD_KEYS) {
    if (!Object.hasOwn(value, key) || !RECORD_CHECKS[key](value[key])) {
      throw new TypeError(`archive line has a missing or invalid "${key}"`);
    }
    record[key] = value[key];
  }
  return record as unknown as ArchiveRecord;
}
