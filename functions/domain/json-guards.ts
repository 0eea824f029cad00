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
 * Parses JSON text losslessly: integers beyond 2^53 come back as `bigint`.
 *
 * @throws SyntaxError when the text is not JSON.
 */
export function parseLosslessJson(text: string): JsonValue {
  return parse(text, null, parseJsonNumber) as JsonValue;
}
