/**
 * Changes to one-to-one messages after they were archived (issue 26, deliverable 4;
 * docs/one-to-one.md, docs/changes.md): the pure rules a rescan of a pair's recent window applies.
 *
 * - {@link c2cFingerprint}: a compact digest of everything about a one-to-one message that can
 *   change under the same `MsgKey` (`MsgFlagBits`, `MsgBody`, `CloudCustomData`, the accounts,
 *   `MsgRandom`, the time and any field without a column, via `extra`), except `IsPeerRead`: the
 *   read receipt changes when the peer reads the message, and is not an edit.
 * - {@link C2cPrint}: what the archive keeps of each message of a pair's rescan window (its key,
 *   time, latest revision, flag bits and fingerprint), one short array per message in the pair's
 *   state line ({@link serializePrints}, {@link parsePrints}), kept for the messages of the last
 *   `rescan.days` only ({@link prunePrints}).
 * - {@link classifyC2cChange} and {@link c2cRevisions}: what a re-paged window shows against the
 *   prints: a revision row (`revision` one above the archived one, `observed_at` the run's,
 *   `change` recalled, restored or modified) for each message whose content changed, and the
 *   prints to commit with those rows, in the same checkpoint (so a rerun after a kill finds the
 *   new revision in the prints and writes it no second time).
 *
 * - {@link c2cDeletion}: a message neither side shows any more (the pass looks from the second side
 *   only for what the first side's window missed, functions/engine/c2c-rescan.ts) is a revision
 *   `change` deleted, its columns null but the identity and the archived time; its print says so
 *   ({@link isDeletedPrint}), so it is written once. A message one side still shows is no change:
 *   a side that deleted it (`delete_c2c_msg_ramble`, a client's `deleteMessages`, a cleared
 *   conversation) hides it from that side only (docs/tencent-api.md, admin_getroammsg).
 *
 * A served placeholder (`IsPlaceMsg` 1, as group history marks deleted messages; Tencent documents
 * none for one-to-one history) counts as not shown ({@link isRoamPlaceholder}). Pure.
 */
import { createHash } from 'node:crypto';
import {
  type C2cRecord,
  type C2cRecordContext,
  compareCodePoints,
  MSG_FLAG_RECALLED,
  toC2cRecord,
} from './c2c-record.ts';
import type { ChangeKind } from './record.ts';
import { canonicalJson, FINGERPRINT_HEX_LENGTH } from './revisions.ts';
import type { JsonObject, JsonValue, RoamMessage } from './tencent-types.ts';

/** The row fields that describe a one-to-one message's content (identity and version columns left out). */
export const C2C_CONTENT_FIELDS = [
  'from_account',
  'to_account',
  'msg_random',
  'msg_time',
  'msg_flag_bits',
  'msg_body',
  'cloud_custom_data',
  'extra',
] as const satisfies readonly (keyof C2cRecord)[];

/** The `extra` key of the read receipt, left out of the fingerprint. */
const READ_RECEIPT_KEY = 'IsPeerRead';

function withoutReadReceipt(extra: JsonObject | null): JsonObject | null {
  if (extra === null || !Object.hasOwn(extra, READ_RECEIPT_KEY)) return extra;
  const rest: JsonObject = {};
  for (const key of Object.keys(extra)) if (key !== READ_RECEIPT_KEY) rest[key] = extra[key] as JsonValue;
  return Object.keys(rest).length === 0 ? null : rest;
}

/**
 * The fingerprint of a one-to-one row's content: 16 lowercase hex digits (the first 64 bits of a
 * SHA-256 over the canonical JSON of the content fields, as functions/domain/revisions.ts does
 * for group rows). Equal content gives equal fingerprints whatever the server's key order, and
 * whatever the read receipt says.
 */
export function c2cFingerprint(record: C2cRecord): string {
  const content: { [key: string]: JsonValue } = {};
  for (const field of C2C_CONTENT_FIELDS) content[field] = record[field] as unknown as JsonValue;
  content.extra = withoutReadReceipt(record.extra);
  // A message with a lone surrogate: its columns hold U+FFFD, so its exact text tells edits apart.
  if (record.raw !== null && !record.quarantined) content.raw = record.raw;
  const text = canonicalJson(content) ?? '';
  return createHash('sha256').update(text, 'utf8').digest('hex').slice(0, FINGERPRINT_HEX_LENGTH);
}

/** What the archive keeps of one message of a pair's rescan window. */
export interface C2cPrint {
  readonly msgKey: string;
  /** `msg_time`, epoch seconds: the print is dropped once it is older than the rescan window. */
  readonly msgTime: number;
  /** The latest revision archived. */
  readonly revision: number;
  /** `msg_flag_bits` of that revision (null when the API left it out). */
  readonly flagBits: number | null;
  readonly fingerprint: string;
  /**
   * Who sent it: 0 the pair's lower account (the conversation's first), 1 the higher; undefined
   * when unknown (prints written before it was kept, a row without both accounts). A deletion row
   * keeps the sender and the receiver with it ({@link c2cDeletion}).
   */
  readonly sender?: 0 | 1 | undefined;
}

/** The sender of a row as a print keeps it ({@link C2cPrint.sender}). */
function senderOf(record: C2cRecord): 0 | 1 | undefined {
  const { from_account: from, to_account: to } = record;
  if (from === null || to === null) return undefined;
  if (record.conversation === JSON.stringify([from, to])) return 0;
  if (record.conversation === JSON.stringify([to, from])) return 1;
  return undefined;
}

/** The print of a row's content, or undefined for a quarantined row (never compared). */
export function c2cPrintOf(record: C2cRecord): C2cPrint | undefined {
  if (record.quarantined || record.msg_key === null) return undefined;
  const sender = senderOf(record);
  return {
    msgKey: record.msg_key,
    msgTime: record.msg_time,
    revision: record.revision,
    flagBits: record.msg_flag_bits,
    fingerprint: c2cFingerprint(record),
    ...(sender === undefined ? {} : { sender }),
  };
}

const isRecalled = (flagBits: number | null): boolean => flagBits === MSG_FLAG_RECALLED;

/**
 * Whether a served item is a placeholder (`IsPlaceMsg` 1, group history's mark of a deleted
 * message): the rescan counts it as not shown. Tencent documents no placeholder in one-to-one
 * history; the simulator serves one only when asked (`c2c.deletedView`, functions/simulator/c2c-world.ts).
 */
export function isRoamPlaceholder(served: RoamMessage): boolean {
  return served.IsPlaceMsg === 1;
}

/** The deletion row of a message: its identity, accounts and archived time, every content column null. */
function deletionRecord(
  archived: Pick<C2cPrint, 'msgKey' | 'msgTime' | 'revision' | 'sender'>,
  ctx: C2cRescanContext,
): C2cRecord {
  const served: RoamMessage = { MsgKey: archived.msgKey, MsgTimeStamp: archived.msgTime };
  if (archived.sender !== undefined) {
    const [a, b] = ctx.accounts;
    const pair = compareCodePoints(a, b) <= 0 ? [a, b] : [b, a];
    served.From_Account = pair[archived.sender] as string;
    served.To_Account = pair[1 - archived.sender] as string;
  }
  return toC2cRecord(served, {
    sdkAppId: ctx.sdkAppId,
    accounts: ctx.accounts,
    source: 'roam',
    revision: archived.revision + 1,
    change: 'deleted',
    observedAt: ctx.observedAt,
  });
}

/**
 * Whether a print of the pair `accounts` (either order) is of a deletion row ({@link c2cDeletion}):
 * its fingerprint is the deletion's.
 */
export function isDeletedPrint(print: C2cPrint, accounts: readonly [string, string]): boolean {
  if (print.flagBits !== null || print.revision === 0) return false;
  // The fingerprint covers the content columns only: the app and the revision do not change it.
  const ctx = { sdkAppId: 1, accounts, observedAt: 0 };
  return print.fingerprint === c2cFingerprint(deletionRecord(print, ctx));
}

/**
 * The revision row of a message neither side of its pair shows any more, and its print: `revision`
 * one above the archived one, `change` deleted, `observed_at` the run's, `msg_key`, `msg_time`
 * (the archived time, so the row goes in the message's own `dt=`) and, when the print knows the
 * sender, `from_account` and `to_account` kept; every other column null.
 */
export function c2cDeletion(archived: C2cPrint, ctx: C2cRescanContext): { row: C2cRecord; print: C2cPrint } {
  const row = deletionRecord(archived, ctx);
  return {
    row,
    print: {
      msgKey: archived.msgKey,
      msgTime: archived.msgTime,
      revision: row.revision,
      flagBits: null,
      fingerprint: c2cFingerprint(row),
      ...(archived.sender === undefined ? {} : { sender: archived.sender }),
    },
  };
}

/**
 * The change from `archived` (the latest revision the archive holds) to `current` (what the
 * window shows now), or null when the content is the same. `MsgFlagBits` 8 is a recall (as
 * `c2c_messages_current.is_recalled` reads it); a recalled message shown again with other flag
 * bits is restored; any other difference is an edit.
 */
export function classifyC2cChange(
  archived: Pick<C2cPrint, 'flagBits' | 'fingerprint'>,
  current: Pick<C2cPrint, 'flagBits' | 'fingerprint'>,
): ChangeKind | null {
  if (archived.fingerprint === current.fingerprint) return null;
  if (isRecalled(current.flagBits) && !isRecalled(archived.flagBits)) return 'recalled';
  if (!isRecalled(current.flagBits) && isRecalled(archived.flagBits)) return 'restored';
  return 'modified';
}

/** The pair and the run a rescan page belongs to. */
export interface C2cRescanContext {
  readonly sdkAppId: number;
  readonly accounts: readonly [string, string];
  /** Epoch seconds of the run: the revision rows' `observed_at`. */
  readonly observedAt: number;
}

/** What one re-paged page of a pair's window gives. */
export interface C2cRescanOutcome {
  /** A revision row per changed message, in page order. */
  readonly rows: C2cRecord[];
  /** The prints of the changed messages, to replace theirs in the pair's state with the rows. */
  readonly prints: C2cPrint[];
  /** Messages of the page the prints do not hold (not archived yet: the pull's, not the rescan's). */
  readonly unknown: number;
  /** Keys of the prints the page shows (placeholders left out): the rest were not shown. */
  readonly shown: string[];
}

/**
 * Compares one page of a pair's re-paged window (`admin_getroammsg` from the window's start) with
 * the prints the archive holds for the pair. A message whose key comes twice in the page is
 * compared once. `prints` is not changed: the caller commits the outcome's rows and prints together.
 */
export function c2cRevisions(
  prints: ReadonlyMap<string, C2cPrint>,
  page: readonly RoamMessage[],
  ctx: C2cRescanContext,
): C2cRescanOutcome {
  const rows: C2cRecord[] = [];
  const changed: C2cPrint[] = [];
  const done = new Set<string>();
  const shown: string[] = [];
  let unknown = 0;
  const base: C2cRecordContext = { sdkAppId: ctx.sdkAppId, accounts: ctx.accounts, source: 'roam' };
  for (const served of page) {
    const current = toC2cRecord(served, base);
    const key = current.msg_key as string;
    if (done.has(key) || isRoamPlaceholder(served)) continue;
    done.add(key);
    const archived = prints.get(key);
    if (archived === undefined) {
      unknown++;
      continue;
    }
    shown.push(key);
    const print = { flagBits: current.msg_flag_bits, fingerprint: c2cFingerprint(current) };
    let change = classifyC2cChange(archived, print);
    if (change === null) continue;
    // Shown again after its deletion row: restored (or recalled meanwhile).
    if (isDeletedPrint(archived, ctx.accounts)) change = isRecalled(print.flagBits) ? 'recalled' : 'restored';
    const revision = archived.revision + 1;
    rows.push(toC2cRecord(served, { ...base, revision, change, observedAt: ctx.observedAt }));
    const sender = senderOf(current);
    changed.push({
      msgKey: key,
      msgTime: current.msg_time,
      revision,
      ...print,
      ...(sender === undefined ? {} : { sender }),
    });
  }
  return { rows, prints: changed, unknown, shown };
}

/**
 * The prints of the window from `windowStart` (epoch seconds, inclusive) on: `base` with `updates`
 * in place of the entries of the same key (the higher revision kept), sorted by time then key.
 */
export function prunePrints(
  base: Iterable<C2cPrint>,
  updates: Iterable<C2cPrint>,
  windowStart: number,
): C2cPrint[] {
  const byKey = new Map<string, C2cPrint>();
  for (const list of [base, updates]) {
    for (const p of list) {
      if (p.msgTime < windowStart) continue;
      const held = byKey.get(p.msgKey);
      if (held === undefined || p.revision >= held.revision) byKey.set(p.msgKey, p);
    }
  }
  return [...byKey.values()].sort((x, y) =>
    x.msgTime !== y.msgTime ? x.msgTime - y.msgTime : x.msgKey < y.msgKey ? -1 : x.msgKey > y.msgKey ? 1 : 0,
  );
}

/**
 * One print as the pair's state line holds it: `[msgKey, msgTime, revision, flagBits, fingerprint]`,
 * and the sender (0 or 1) as a 6th element when known.
 */
export type SerializedPrint =
  | [string, number, number, number | null, string]
  | [string, number, number, number | null, string, 0 | 1];

export function serializePrints(prints: readonly C2cPrint[]): SerializedPrint[] {
  return prints.map((p) =>
    p.sender === undefined
      ? [p.msgKey, p.msgTime, p.revision, p.flagBits, p.fingerprint]
      : [p.msgKey, p.msgTime, p.revision, p.flagBits, p.fingerprint, p.sender],
  );
}

const FINGERPRINT = new RegExp(`^[0-9a-f]{${FINGERPRINT_HEX_LENGTH}}$`);

/**
 * @throws TypeError when `value` is not a list of serialized prints
 */
export function parsePrints(value: unknown): C2cPrint[] {
  if (!Array.isArray(value)) throw new TypeError('prints must be an array');
  return value.map((item: unknown, i) => {
    if (!Array.isArray(item) || (item.length !== 5 && item.length !== 6))
      throw new TypeError(`prints[${i}] must have 5 or 6 fields`);
    const [msgKey, msgTime, revision, flagBits, fingerprint, sender] = item as unknown[];
    if (
      typeof msgKey !== 'string' ||
      !Number.isSafeInteger(msgTime) ||
      !Number.isSafeInteger(revision) ||
      (revision as number) < 0 ||
      !(flagBits === null || Number.isSafeInteger(flagBits)) ||
      typeof fingerprint !== 'string' ||
      !FINGERPRINT.test(fingerprint) ||
      (item.length === 6 && sender !== 0 && sender !== 1)
    ) {
      throw new TypeError(`prints[${i}] is not [msgKey, msgTime, revision, flagBits, fingerprint, sender?]`);
    }
    return {
      msgKey,
      msgTime: msgTime as number,
      revision: revision as number,
      flagBits: flagBits as number | null,
      fingerprint,
      ...(item.length === 6 ? { sender: sender as 0 | 1 } : {}),
    };
  });
}
