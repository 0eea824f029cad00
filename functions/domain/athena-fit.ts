/**
 * Can Athena read this value? The shape model of the `msg_body` column and a conservative check of
 * a value against it. The record mapping uses the check to decide losslessly where a `MsgBody`
 * goes (its column, or verbatim into `extra`); the query layer renders the same model into the
 * table's DDL type (`functions/query/message-schema.ts`), so the two cannot drift apart.
 */
import { isJsonObject } from './json-guards.ts';
import type { JsonObject, JsonValue } from './tencent-types.ts';

/** The subset of Hive types the schema uses, modelled so it can be rendered AND checked against values. */
export type AthenaType =
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
 * The union of the documented `MsgContent` fields (docs/tencent-api.md, Message elements), lower-cased.
 * Unknown keys are simply not exposed by the struct; they stay in the stored line. The relay element's nested
 * `MsgList` is declared `string`: OpenX hands it over as JSON text, queryable with `json_extract`.
 */
export const MSG_CONTENT_TYPE = struct([
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

/** The `msg_body` column: `[{msg_type, msg_content}]`. */
export const MSG_BODY_TYPE = arrayOf(
  struct([
    ['msg_type', STRING],
    ['msg_content', MSG_CONTENT_TYPE],
  ]),
);

/** Renders the model as a Hive type string, e.g. `array<struct<msg_type:string,...>>`. */
export function renderAthenaType(type: AthenaType): string {
  if (type.kind === 'array') return `array<${renderAthenaType(type.of)}>`;
  if (type.kind === 'struct') {
    return `struct<${type.fields.map(([name, field]) => `${name}:${renderAthenaType(field)}`).join(',')}>`;
  }
  return type.kind;
}

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
export function fitsAthenaType(type: AthenaType, value: JsonValue): boolean {
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
