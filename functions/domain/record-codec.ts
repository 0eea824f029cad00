/**
 * The NDJSON encoding of archive records: one line per record, keys in column order, integers
 * beyond 2^53 exact, and a strict parser that checks every key's type. Lines written before a
 * column existed read back with that column's default (see {@link LATER_COLUMN_DEFAULTS}).
 */
import { stringify } from 'lossless-json';
import {
  hasExactKeys,
  hasLoneSurrogate,
  isJsonObject,
  isNullOr,
  isSafeInt,
  isString,
  parseLosslessJson,
  wellFormedJson,
} from './json-guards.ts';
import { type ArchiveElement, type ArchiveRecord, CHANGE_KINDS, type ChangeKind } from './record.ts';
import type { JsonValue } from './tencent-types.ts';

function isArchiveElement(value: unknown): value is ArchiveElement {
  return (
    isJsonObject(value) &&
    hasExactKeys(value, ['msg_type', 'msg_content']) &&
    isString(value.msg_type) &&
    isJsonObject(value.msg_content)
  );
}

const isChangeKind = (value: unknown): value is ChangeKind =>
  isString(value) && (CHANGE_KINDS as readonly string[]).includes(value);
const isNonNegativeInt = (value: unknown): boolean => isSafeInt(value) && value >= 0;

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
  revision: isNonNegativeInt,
  observed_at: isNullOr(isSafeInt),
  change: isNullOr(isChangeKind),
  generation: isNonNegativeInt,
  quarantined: (value) => typeof value === 'boolean',
  raw: isNullOr(isString),
};

/** The record keys in stable order (checked against the table's columns by a test). */
export const RECORD_KEYS = Object.keys(RECORD_CHECKS) as readonly (keyof ArchiveRecord)[];

/**
 * Columns added after the first release, with the value an older line means by leaving them out.
 * Athena reads a missing key as null; the views coalesce to the same defaults.
 */
export const LATER_COLUMN_DEFAULTS: Readonly<Partial<ArchiveRecord>> = {
  revision: 0,
  observed_at: null,
  change: null,
  generation: 0,
  quarantined: false,
  raw: null,
};

/**
 * Characters JSON allows raw inside strings but some line splitters treat as line breaks
 * (NEL, LINE SEPARATOR, PARAGRAPH SEPARATOR). They can only occur inside JSON strings, so escaping
 * them in the output text is safe and keeps one record = one line for every reader.
 */
const LINE_BREAKING_CHARS = /[\u0085\u2028\u2029]/g;

/** How JSON.stringify writes a lone surrogate. */
const SURROGATE_ESCAPE = /\\ud[89a-f]/i;

/** JSON text of a value; integers held as `bigint` written exactly. */
function serializeOrdered(ordered: Record<string, unknown>): string {
  // JSON.stringify gives the same text for plain values and is much faster; it throws on a bigint
  // (an integer beyond 2^53), which lossless-json writes exactly.
  let line: string | undefined;
  try {
    line = JSON.stringify(ordered);
  } catch {
    line = stringify(ordered);
  }
  if (line === undefined) throw new TypeError('record is not serialisable');
  return line;
}

/**
 * One NDJSON line (no trailing newline) with keys in {@link RECORD_KEYS} order. Integers held as
 * `bigint` (beyond 2^53) are written as plain JSON integers. The line is valid UTF-8: no string in
 * it holds a lone surrogate.
 */
export function serializeRecord(record: ArchiveRecord): string {
  const ordered: Record<string, unknown> = {};
  for (const key of RECORD_KEYS) ordered[key] = record[key];
  let line = serializeOrdered(ordered);
  // JSON.stringify escapes a lone surrogate as \udXXX, which DuckDB refuses for the whole file: a
  // record holding one anyway (toRecord keeps message text well formed; an id is not) is written
  // with U+FFFD in its place. (The test also matches an escaped backslash before "ud8": a slow path only.)
  if (SURROGATE_ESCAPE.test(line) && hasLoneSurrogate(ordered as JsonValue)) {
    line = serializeOrdered(wellFormedJson(ordered as JsonValue) as Record<string, unknown>);
  }
  return line.replace(LINE_BREAKING_CHARS, (ch) => `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/**
 * Parses one NDJSON line written by {@link serializeRecord}, losslessly (integers beyond 2^53 come
 * back as `bigint`), and checks it has exactly the record keys with the right types. A line from
 * before a column existed gets that column's default.
 *
 * @throws SyntaxError when the line is not JSON.
 * @throws TypeError when it is JSON but not an archive record.
 */
export function parseRecordLine(line: string): ArchiveRecord {
  const value = parseLosslessJson(line);
  if (!isJsonObject(value)) throw new TypeError('archive line is not a JSON object');
  const unknown = Object.keys(value).filter((key) => !Object.hasOwn(RECORD_CHECKS, key));
  if (unknown.length > 0) throw new TypeError(`archive line has unknown keys: ${unknown.join(', ')}`);
  const record: Record<string, unknown> = {};
  for (const key of RECORD_KEYS) {
    if (!Object.hasOwn(value, key) && Object.hasOwn(LATER_COLUMN_DEFAULTS, key)) {
      record[key] = LATER_COLUMN_DEFAULTS[key];
      continue;
    }
    if (!Object.hasOwn(value, key) || !RECORD_CHECKS[key](value[key])) {
      throw new TypeError(`archive line has a missing or invalid "${key}"`);
    }
    record[key] = value[key];
  }
  return record as unknown as ArchiveRecord;
}
