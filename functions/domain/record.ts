/**
 * One archived record per Tencent message: the mapping from the API's message to the record and
 * back. (The record's NDJSON encoding lives in `record-codec.ts`, the Athena shape check in
 * `athena-fit.ts`, the table schema in `functions/query/message-schema.ts`.)
 *
 * A record is a flat, snake_case view of a `group_msg_get_simple` message (docs/tencent-api.md:
 * group_msg_get_simple, Message elements) that Athena can query, and it is LOSSLESS:
 * `fromRecord(toRecord(raw))` rebuilds the exact API message. The rules that make it lossless:
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
 *
 * Versions: a message is archived once as revision 0; a later rescan that finds it changed appends
 * a new record for the same (group, topic, seq) with `revision` 1, 2, … and the kind of `change`.
 * Records are never rewritten. A page item the page schema rejected is archived as a `quarantined`
 * record whose `raw` column keeps its exact JSON text ({@link toQuarantinedRecord}).
 */

import { stringify as losslessStringify } from 'lossless-json';
import { fitsAthenaType, MSG_CONTENT_TYPE } from './athena-fit.ts';
import {
  hasExactKeys,
  hasLoneSurrogate,
  isJsonObject,
  isSafeInt,
  isString,
  parseLosslessJson,
  setOwn,
  wellFormedJson,
} from './json-guards.ts';
import { isFileableTime } from './partition.ts';
import type { JsonObject, JsonValue, RawMessage, RejectedItem } from './tencent-types.ts';

/** One `MsgBody` element; `msg_content` is the API's `MsgContent` object verbatim (mixed-case keys). */
export interface ArchiveElement {
  msg_type: string;
  msg_content: JsonObject;
}

/**
 * What a revision row records about the message compared with the previous revision:
 * - `modified`: the content changed in place (`modify_group_msg`, a client edit);
 * - `recalled`: it became `IsPlaceMsg` 2 (admin, client or silent `delete_group_msg_by_sender` recall);
 * - `deleted`: it became an `IsPlaceMsg` 1 placeholder inside retention;
 * - `restored`: it was a placeholder (1 or 2) and shows content again. Tencent documents no way
 *   back, but a placeholder archived for a failed or late-stored message can turn into the message
 *   on a later pull; calling that "modified" would hide that the earlier row had no content.
 */
export const CHANGE_KINDS = ['modified', 'recalled', 'deleted', 'restored'] as const;
export type ChangeKind = (typeof CHANGE_KINDS)[number];

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
  /** 0 for the first capture, then 1, 2, … for each change a rescan observed. */
  revision: number;
  /** Epoch seconds of the run that saw this content; null in records written before revisions existed. */
  observed_at: number | null;
  /** Null for revision 0; what changed since the previous revision otherwise. */
  change: ChangeKind | null;
  /** Which incarnation of the group's seq space (bumped when a group's seqs start over); 0 normally. */
  generation: number;
  /** True for a page item the page schema rejected: `raw` is its exact text, the columns a best effort. */
  quarantined: boolean;
  /**
   * The exact JSON text of a quarantined item, or of a message holding a lone surrogate (its columns
   * hold U+FFFD instead, see {@link toRecord}); null for every other record.
   */
  raw: string | null;
}

/** Where a message came from (app, group, topic) and which version of it this record is. */
export interface RecordContext {
  sdkAppId: number;
  groupId: string;
  topicId: string | null;
  /** Epoch seconds of the run that saw the message; default null (unknown). */
  observedAt?: number | null;
  /** Default 0 (first capture). */
  revision?: number;
  /** Default null; required (non-null) exactly when `revision` > 0. */
  change?: ChangeKind | null;
  /** Default 0. */
  generation?: number;
}

/** A quarantined item's context: also the time to file it under when its own is unreadable. */
export interface QuarantineContext extends RecordContext {
  /** `msg_time` (and so the `dt` partition) when the item has no readable `MsgTimeStamp`. */
  fallbackTime: number;
}

/** Key in `extra` listing the defaulted API fields (`IsPlaceMsg`, `MsgBody`) that were absent. */
export const EXTRA_ABSENT_KEY = '$absent';
/** Key in a quarantined record's `extra` with the schema's reason for rejecting the item. */
export const EXTRA_REASON_KEY = '$reason';

/** The version columns of a record, from the context's defaults. */
function versionColumns(
  ctx: RecordContext,
): Pick<ArchiveRecord, 'revision' | 'observed_at' | 'change' | 'generation'> {
  const revision = ctx.revision ?? 0;
  const change = ctx.change ?? null;
  const generation = ctx.generation ?? 0;
  const observedAt = ctx.observedAt ?? null;
  if (!isSafeInt(revision) || revision < 0) throw new RangeError(`revision must be >= 0, got ${revision}`);
  if ((revision === 0) !== (change === null)) {
    throw new RangeError(`revision ${revision} with change ${String(change)}: only revision 0 has no change`);
  }
  if (!isSafeInt(generation) || generation < 0)
    throw new RangeError(`generation must be >= 0, got ${generation}`);
  if (observedAt !== null && !isSafeInt(observedAt))
    throw new RangeError(`observedAt must be epoch seconds, got ${observedAt}`);
  return { revision, observed_at: observedAt, change, generation };
}

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
 * A message holding a lone surrogate (`\ud800` alone, which is not text: UTF-8 cannot hold it and
 * DuckDB refuses a file that escapes one) is mapped from a copy with U+FFFD in its place, and
 * `raw` keeps the message's exact JSON text, the lone surrogate escaped as `\ud800` (valid ASCII
 * JSON): `JSON.parse(raw)` gives the message back exactly ({@link fromRecord} does).
 *
 * @param served - a `RspMsgList` item as the API returned it (lossless-parsed).
 * @param ctx - the app, group and topic the message was pulled from, and its version.
 * @throws RangeError when `MsgSeq` or `MsgTimeStamp` is not a safe integer (the adapter guarantees
 *   it), or the version fields are inconsistent (a revision above 0 without a change, or the reverse).
 */
export function toRecord(served: RawMessage, ctx: RecordContext): ArchiveRecord {
  const odd = hasLoneSurrogate(served);
  const raw = odd ? (wellFormedJson(served) as RawMessage) : served;
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

  const version = versionColumns(ctx);
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
    ...version,
    quarantined: false,
    raw: odd ? (losslessStringify(served) ?? null) : null,
  };
  // After every `take`: what was not consumed is what `extra` must keep.
  record.extra = buildExtra(raw, consumed);
  return record;
}

/**
 * Maps a page item the page schema rejected to a flagged record, so the archive keeps it instead
 * of failing the page. `raw` holds the item's exact JSON text (the lossless copy); the columns are
 * a best effort for queries: what the text has in the expected types, `msg_seq` from the item (0
 * when unreadable: real seqs start at 1) and `msg_time` from the item, or `ctx.fallbackTime` when
 * the item's time is unreadable or has no date (after 9999-12-30, see partition.ts).
 * `extra` holds only `$reason`, the schema's complaint.
 *
 * @throws RangeError when `ctx.fallbackTime` is not a safe integer, or the version fields are inconsistent.
 */
export function toQuarantinedRecord(item: RejectedItem, ctx: QuarantineContext): ArchiveRecord {
  if (!isSafeInt(ctx.fallbackTime)) throw new RangeError(`fallbackTime must be epoch seconds`);
  let parsed: unknown;
  try {
    parsed = parseLosslessJson(item.text);
  } catch {
    parsed = undefined;
  }
  const fields: JsonObject = isJsonObject(parsed) ? { ...(parsed as JsonObject) } : {};
  const seq = isSafeInt(fields.MsgSeq) ? fields.MsgSeq : (item.msgSeq ?? 0);
  const time =
    isSafeInt(fields.MsgTimeStamp) && isFileableTime(fields.MsgTimeStamp)
      ? fields.MsgTimeStamp
      : ctx.fallbackTime;
  const best = toRecord({ ...fields, MsgSeq: seq, MsgTimeStamp: time }, ctx);
  return { ...best, extra: { [EXTRA_REASON_KEY]: item.reason }, quarantined: true, raw: item.text };
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
 * `extra` win over their column; `MsgSeq` / `MsgTimeStamp` always come from their columns. (The
 * version columns are the archive's, not the API's: they do not appear in the message.)
 *
 * @throws TypeError when `extra["$absent"]` is not an array of strings, or for a quarantined
 *   record (its exact source is the `raw` text, which was never a valid message).
 */
export function fromRecord(record: ArchiveRecord): RawMessage {
  if (record.quarantined) throw new TypeError('a quarantined record has no API message: read its raw text');
  // A message with a lone surrogate: its columns hold U+FFFD, `raw` the exact text (see toRecord).
  if (record.raw !== null) return parseLosslessJson(record.raw) as RawMessage;
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
