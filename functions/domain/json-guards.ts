/**
 * Runtime guards for losslessly parsed JSON values, shared by the record mapping, its NDJSON codec
 * and the Athena type-fit check.
 */
import { isInteger, isSafeNumber, parse } from 'lossless-json';
import type { JsonObject, JsonValue } from './tencent-types.ts';

export const isString = (value: unknown): value is string => typeof value === 'string';
export const isSafeInt = (value: unknown): value is number => Number.isSafeInteger(value);
export const isNullOr =
  <T>(check: (value: unknown) => value is T) =>
  (value: unknown): value is T | null =>
    value === null || check(value);

/** A JSON object: not null, not an array (typeof alone would accept both). */
export function isJsonObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The object has exactly these own keys, no more, no fewer. */
export function hasExactKeys(value: JsonObject, keys: readonly string[]): boolean {
  const own = Object.keys(value);
  return own.length === keys.length && keys.every((key) => Object.hasOwn(value, key));
}

/**
 * Assigns an own enumerable property. Plain `obj[key] = v` would, for the key `__proto__`, replace
 * the prototype instead of keeping the API's field.
 */
export function setOwn(target: JsonObject, key: string, value: JsonValue): void {
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
}

/** Integers beyond 2^53 become `bigint` (exact); everything else a `number`, as `JSON.parse` would. */
function parseJsonNumber(text: string): number | bigint {
  return isInteger(text) && !isSafeNumber(text) ? BigInt(text) : Number(text);
}

/**
 * A JSON number that may not fit a double exactly has at least 16 digits in its integer part, which
 * starts right after `:`, `,`, `[` or the start of the text (whitespace and a minus sign allowed
 * between). Digits inside strings do not count: numeric account ids such as
 * `"144115101827498659"` are common in Tencent's answers and would otherwise send every page down
 * the slow path. A string that happens to hold `:1234…` only costs the slow path, never exactness.
 */
const LONG_NUMBER = /(?:^|[:,[])\s*-?\d{16}/;

/**
 * Parses JSON text losslessly: integers beyond 2^53 come back as `bigint`. Text without a number of
 * 16 digits goes through `JSON.parse`, which then gives the same values and is several times faster
 * (pages arrive ~200 times a second); the rest through lossless-json.
 *
 * @throws SyntaxError when the text is not JSON.
 */
export function parseLosslessJson(text: string): JsonValue {
  if (!LONG_NUMBER.test(text)) return JSON.parse(text) as JsonValue;
  return parse(text, null, parseJsonNumber) as JsonValue;
}

/**
 * A UTF-16 code unit of a surrogate pair without its other half (`\ud800` alone). It is not text:
 * UTF-8 cannot encode it, and DuckDB refuses a JSON file that escapes one ("no low surrogate in
 * string"), so no archive line may hold one.
 */
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
const LONE_SURROGATES = new RegExp(LONE_SURROGATE.source, 'g');

/** Whether a string, or any string or key inside a JSON value, holds a lone surrogate. */
export function hasLoneSurrogate(value: JsonValue): boolean {
  if (typeof value === 'string') return LONE_SURROGATE.test(value);
  if (Array.isArray(value)) return value.some(hasLoneSurrogate);
  if (isJsonObject(value)) {
    for (const key of Object.keys(value)) {
      if (LONE_SURROGATE.test(key) || hasLoneSurrogate(value[key] as JsonValue)) return true;
    }
  }
  return false;
}

/** A copy of a JSON value with every lone surrogate in its strings and keys replaced by U+FFFD. */
export function wellFormedJson(value: JsonValue): JsonValue {
  if (typeof value === 'string') return value.replace(LONE_SURROGATES, '\ufffd');
  if (Array.isArray(value)) return value.map(wellFormedJson);
  if (!isJsonObject(value)) return value;
  const out: JsonObject = {};
  for (const key of Object.keys(value)) {
    setOwn(out, key.replace(LONE_SURROGATES, '\ufffd'), wellFormedJson(value[key] as JsonValue));
  }
  return out;
}
