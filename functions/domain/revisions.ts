/**
 * Change detection after archiving (docs/tencent-api.md, Changes after archiving): the pull has no version or
 * modified-at field, so the only way to see an edit, a recall or a deletion is to compare what the
 * server shows now with what the archive holds. Pure.
 *
 * - {@link contentFingerprint}: a compact digest of everything about a message that can change
 *   under the same `MsgSeq` (`MsgBody`, `CloudCustomData`, `IsPlaceMsg`, the sender and priority a
 *   placeholder clears, and any field without a column, via `extra`). Key order inside objects
 *   does not matter; values and array order do.
 * - {@link classifyChange}: the change kind between the archived latest revision and the current
 *   content, or null when nothing changed.
 */
import { createHash } from 'node:crypto';
import type { ArchiveRecord, ChangeKind } from './record.ts';
import type { JsonValue } from './tencent-types.ts';

/** The record fields that describe content (identity and version columns are left out). */
export const CONTENT_FIELDS = [
  'msg_random',
  'msg_time',
  'from_account',
  'msg_priority',
  'is_place_msg',
  'is_system_msg',
  'msg_body',
  'cloud_custom_data',
  'extra',
] as const satisfies readonly (keyof ArchiveRecord)[];

/**
 * An integer-like key ("0", "17", not "01"): JavaScript objects enumerate these first, in numeric
 * order, whatever their insertion order.
 */
function isIndexKey(key: string): boolean {
  const n = Number(key);
  return Number.isInteger(n) && n >= 0 && n < 4294967295 && String(n) === key;
}

/**
 * The order {@link canonicalJson} writes an object's keys in: sorted by UTF-16 code units, except
 * that integer-like keys come first in numeric order. That is the order a JSON writer sees in an
 * object whose keys were inserted sorted, which is how fingerprints were first computed (a copy
 * with sorted keys, serialised); archived fingerprints stay valid only if this text never changes.
 */
function canonicalKeyOrder(a: string, b: string): number {
  const ai = isIndexKey(a);
  const bi = isIndexKey(b);
  if (ai && bi) return Number(a) - Number(b);
  if (ai !== bi) return ai ? -1 : 1;
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * JSON text of `value` with object keys sorted at every depth (arrays keep their order); integers
 * held as `bigint` written exactly. Written directly rather than by copying the value with sorted
 * keys and serialising the copy: a fingerprint is taken of every archived message, and the copy
 * was a tenth of the run's CPU. Properties whose value is undefined are left out, and an undefined
 * array item is written as null, as `JSON.stringify` does.
 */
export function canonicalJson(value: JsonValue | undefined): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value === 'bigint') return value.toString();
  if (Array.isArray(value)) {
    let text = '[';
    for (let i = 0; i < value.length; i++) {
      if (i > 0) text += ',';
      text += canonicalJson(value[i]) ?? 'null';
    }
    return `${text}]`;
  }
  if (value !== null && typeof value === 'object') {
    let text = '{';
    let first = true;
    for (const key of Object.keys(value).sort(canonicalKeyOrder)) {
      const item = canonicalJson(value[key]);
      if (item === undefined) continue;
      text += `${first ? '' : ','}${JSON.stringify(key)}:${item}`;
      first = false;
    }
    return `${text}}`;
  }
  return JSON.stringify(value);
}

/** Hex digits kept of the SHA-256: 64 bits, so an unseen change needs a 2^-64 coincidence. */
export const FINGERPRINT_HEX_LENGTH = 16;

/**
 * The fingerprint of a record's content: 16 lowercase hex digits (the first 64 bits of a SHA-256
 * over the canonical JSON of the content fields). Equal content gives equal fingerprints whatever
 * the key order the server used.
 */
export function contentFingerprint(record: ArchiveRecord): string {
  const content: { [key: string]: JsonValue } = {};
  for (const field of CONTENT_FIELDS) content[field] = record[field] as unknown as JsonValue;
  // A message with a lone surrogate: its columns hold U+FFFD, so its exact text tells edits apart.
  // (Absent otherwise: every other record's fingerprint is unchanged.)
  if (record.raw !== null && !record.quarantined) content.raw = record.raw;
  const text = canonicalJson(content) ?? '';
  return createHash('sha256').update(text, 'utf8').digest('hex').slice(0, FINGERPRINT_HEX_LENGTH);
}

/** What the comparison needs to know about one version of a message. */
export interface ContentState {
  /** `IsPlaceMsg` (0 normal, 1 deleted/expired placeholder, 2 recalled). */
  readonly place: number;
  readonly fingerprint: string;
}

/**
 * The change from `archived` (the latest revision the archive holds) to `current` (what the server
 * shows now), or null when the content is the same. A message edited twice between two runs is one
 * change (the pull only ever shows the latest content).
 */
export function classifyChange(archived: ContentState, current: ContentState): ChangeKind | null {
  if (archived.fingerprint === current.fingerprint) return null;
  if (current.place === 2 && archived.place !== 2) return 'recalled';
  if (current.place === 1 && archived.place !== 1) return 'deleted';
  if (current.place === 0 && archived.place !== 0) return 'restored';
  return 'modified';
}
