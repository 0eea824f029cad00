/**
 * Materializing recorded callbacks (issue 25, docs/callbacks.md "Materialized rows"): the pure rules
 * that turn the raw event rows the receiver stored (functions/domain/callback-event.ts) into rows
 * the archive's tables read, once each. The engine (functions/engine/callback-materialize.ts)
 * reads and writes.
 *
 * - `Group.CallbackAfterSendMsg` gives a **message row**: the pull's record of the message
 *   (functions/domain/record.ts `toRecord`, so `msg_body`, `text` and `element_types` read the same)
 *   with `source` 'callback' and `unconfirmed` true (the Sign does not cover the body);
 * - `Group.CallbackAfterRecallMsg` (one row per seq of `MsgSeqList`) and
 *   `Group.CallbackAfterModifyMsg` give **revision rows** with `changed_by` (`Operator_Account`)
 *   and `changed_at` (`EventTime`);
 * - `Group.CallbackAfterGroupDestroyed` gives a **dissolution row**: the group, when, its owner,
 *   name and members.
 *
 * Deliveries are deduplicated by `event_key` and `body_sha256`: a delivery already materialized
 * (in this batch or an earlier commit: the `seen` index) gives nothing; the same key with another
 * body gives a second row flagged `replayed`. Online-only messages (never stored by Tencent) and
 * quarantined or unreadable bodies give no row (they stay in `callback_events`); other commands are
 * counted as ignored.
 *
 * State under `state/callbacks/sdkappid=<id>/` (docs/archive-format.md):
 * - `head.json`: the committed version, the raw objects done (those of an arrival date before its
 *   `doneBefore` are all done and not listed), and the version of each seen shard;
 * - `seen/<shard>/<version>.json`: event key → body hashes materialized and when it was first
 *   received, in {@link SEEN_SHARDS} shards by the key's first byte; create-only, a new version for
 *   each commit that changes it, without the keys older than {@link LATE_EVENT_DAYS};
 * - `intent-<version>.json`: the raw objects a commit takes, written create-only before anything
 *   else of it. Rows depend only on those objects and the shards the head names, so a commit a
 *   kill stopped is redone to the same bytes under the same keys by the next run.
 */
import type { CallbackEventRow } from './callback-event.ts';
import { StateCorruptError } from './errors.ts';
import { isJsonObject, isSafeInt, isString, parseLosslessJson } from './json-guards.ts';
import { dateInZone } from './partition.ts';
import { type ArchiveElement, type ArchiveRecord, toRecord } from './record.ts';
import type { JsonObject, JsonValue, RawMessage } from './tencent-types.ts';

export const SEND_COMMAND = 'Group.CallbackAfterSendMsg';
export const RECALL_COMMAND = 'Group.CallbackAfterRecallMsg';
export const MODIFY_COMMAND = 'Group.CallbackAfterModifyMsg';
export const DESTROY_COMMAND = 'Group.CallbackAfterGroupDestroyed';

/** Seen shards: 64, by the first byte of the event key (a hex SHA-256) modulo 64. */
export const SEEN_SHARDS = 64;

export const CALLBACK_ROW_KINDS = ['messages', 'revisions', 'dissolutions'] as const;
export type CallbackRowKind = (typeof CALLBACK_ROW_KINDS)[number];

/** What every materialized row says about the delivery it came from. */
export interface CallbackProvenance {
  event_key: string;
  body_sha256: string;
  /** `EventTime`, epoch milliseconds; null when the body had none. */
  event_time: number | null;
  /** When the receiver got it, epoch milliseconds. */
  received_at: number;
  /** True when an earlier delivery of this event came with another body (a replay, or a forgery). */
  replayed: boolean;
}

/** A message as a send callback told it: the pull's record, plus where it came from. */
export type CallbackMessageRow = ArchiveRecord &
  CallbackProvenance & {
    source: 'callback';
    /** Always true: the Sign does not cover the body. */
    unconfirmed: true;
  };

/** A recall or an edit, with who made it and when. */
export interface CallbackRevisionRow extends CallbackProvenance {
  sdk_app_id: number;
  group_id: string;
  topic_id: string | null;
  msg_seq: number;
  change: 'recalled' | 'modified';
  /** `Operator_Account`: who recalled or edited it (the sender or an admin). */
  changed_by: string | null;
  /** `EventTime` (epoch milliseconds), else when the receiver got the event. */
  changed_at: number;
  /** The new content of an edit (empty for a recall). */
  msg_body: ArchiveElement[];
  text: string | null;
  cloud_custom_data: string | null;
}

/** A group's dissolution, with what the destroy event said it was. */
export interface DissolutionRow extends CallbackProvenance {
  sdk_app_id: number;
  group_id: string;
  group_type: string | null;
  name: string | null;
  owner_account: string | null;
  members: string[];
  /** `EventTime` (epoch milliseconds), else when the receiver got the event. */
  dissolved_at: number;
}

export interface CallbackRowsByKind {
  messages: CallbackMessageRow[];
  revisions: CallbackRevisionRow[];
  dissolutions: DissolutionRow[];
}

/** Counts of one materialization, for the run report. */
export interface MaterializeCounts {
  /** Deliveries read. */
  events: number;
  /** Deliveries already materialized (same event key and body). */
  duplicates: number;
  /** Deliveries of a known event with another body (kept, flagged). */
  replayed: number;
  /** Quarantined, unreadable, or a send callback that is not a message (kept only in callback_events). */
  unreadable: number;
  /** Online-only messages (never stored by Tencent). */
  onlineOnly: number;
  /** Other commands. */
  ignored: number;
  messages: number;
  revisions: number;
  dissolutions: number;
}

export const emptyCounts = (): MaterializeCounts => ({
  events: 0,
  duplicates: 0,
  replayed: 0,
  unreadable: 0,
  onlineOnly: 0,
  ignored: 0,
  messages: 0,
  revisions: 0,
  dissolutions: 0,
});

/** Event key → body hashes already materialized. */
export type SeenIndex = Map<string, string[]>;

export interface Materialized {
  /** Rows per kind and `dt` (a message's date, an event's date for the others, in the archive zone). */
  rows: Map<string, CallbackRowsByKind>;
  /** The seen entries this batch added, per shard. */
  added: Map<string, SeenIndex>;
  counts: MaterializeCounts;
}

export function seenShardOf(eventKey: string): string {
  const byte = Number.parseInt(eventKey.slice(0, 2), 16);
  return String((Number.isNaN(byte) ? 0 : byte) % SEEN_SHARDS).padStart(2, '0');
}

/**
 * Materializes deliveries in the order given (the raw objects' order, then their lines').
 * `seen` holds every earlier commit's entries of the shards the events fall in; it is not changed.
 */
export function materializeEvents(
  events: readonly CallbackEventRow[],
  seen: SeenIndex,
  timeZone: string,
): Materialized {
  const out: Materialized = { rows: new Map(), added: new Map(), counts: emptyCounts() };
  for (const event of events) {
    out.counts.events++;
    const known = [...(seen.get(event.event_key) ?? []), ...(addedOf(out, event.event_key) ?? [])];
    if (known.includes(event.body_sha256)) {
      out.counts.duplicates++;
      continue;
    }
    const replayed = known.length > 0;
    if (replayed) out.counts.replayed++;
    markSeen(out, event);
    materializeOne(out, { event, replayed, timeZone });
  }
  return out;
}

function addedOf(out: Materialized, eventKey: string): string[] | undefined {
  return out.added.get(seenShardOf(eventKey))?.get(eventKey);
}

function markSeen(out: Materialized, event: CallbackEventRow): void {
  const shard = seenShardOf(event.event_key);
  const index = out.added.get(shard) ?? new Map<string, string[]>();
  out.added.set(shard, index);
  index.set(event.event_key, [...(index.get(event.event_key) ?? []), event.body_sha256]);
}

function rowsFor(out: Materialized, dt: string): CallbackRowsByKind {
  let rows = out.rows.get(dt);
  if (rows === undefined) {
    rows = { messages: [], revisions: [], dissolutions: [] };
    out.rows.set(dt, rows);
  }
  return rows;
}

interface One {
  event: CallbackEventRow;
  replayed: boolean;
  timeZone: string;
}

function materializeOne(out: Materialized, one: One): void {
  const { event } = one;
  const body = readableBody(event);
  if (body === undefined) {
    out.counts.unreadable++;
    return;
  }
  const provenance: CallbackProvenance = {
    event_key: event.event_key,
    body_sha256: event.body_sha256,
    event_time: event.event_time,
    received_at: event.received_at,
    replayed: one.replayed,
  };
  const at = event.event_time ?? event.received_at;
  const eventDt = dateInZone(Math.floor(at / 1000), one.timeZone);
  switch (event.callback_command) {
    case SEND_COMMAND:
      sendRow(out, { body, event, provenance, timeZone: one.timeZone });
      return;
    case RECALL_COMMAND:
    case MODIFY_COMMAND: {
      const rows = revisionRows(event, body, provenance);
      if (rows === undefined) out.counts.unreadable++;
      else {
        rowsFor(out, eventDt).revisions.push(...rows);
        out.counts.revisions += rows.length;
      }
      return;
    }
    case DESTROY_COMMAND: {
      const row = dissolutionRow(event, body, provenance);
      if (row === undefined) out.counts.unreadable++;
      else {
        rowsFor(out, eventDt).dissolutions.push(row);
        out.counts.dissolutions++;
      }
      return;
    }
    default:
      out.counts.ignored++;
  }
}

function readableBody(event: CallbackEventRow): JsonObject | undefined {
  if (event.quarantined || event.body_encoding !== 'utf8') return undefined;
  try {
    const value = parseLosslessJson(event.body);
    return isJsonObject(value) ? value : undefined;
  } catch {
    return undefined;
  }
}

const stringOr = (value: JsonValue | undefined): string | null => (isString(value) ? value : null);
const topicOf = (body: JsonObject): string | null =>
  isString(body.TopicId) && body.TopicId !== '' ? body.TopicId : null;

function sendRow(
  out: Materialized,
  at: { body: JsonObject; event: CallbackEventRow; provenance: CallbackProvenance; timeZone: string },
): void {
  const { body, event, provenance } = at;
  if (body.OnlineOnlyFlag === 1) {
    out.counts.onlineOnly++;
    return;
  }
  const groupId = body.GroupId;
  if (!isString(groupId) || !isSafeInt(body.MsgSeq) || !isSafeInt(body.MsgTime)) {
    out.counts.unreadable++;
    return;
  }
  const served: RawMessage = { MsgSeq: body.MsgSeq, MsgTimeStamp: body.MsgTime };
  if (body.From_Account !== undefined) served.From_Account = body.From_Account;
  if (body.Random !== undefined) served.MsgRandom = body.Random;
  if (body.MsgBody !== undefined) served.MsgBody = body.MsgBody;
  if (body.CloudCustomData !== undefined) served.CloudCustomData = body.CloudCustomData;
  let record: ArchiveRecord;
  try {
    const observedAt = Math.floor(event.received_at / 1000);
    record = toRecord(served, { sdkAppId: event.sdk_app_id, groupId, topicId: topicOf(body), observedAt });
  } catch {
    out.counts.unreadable++;
    return;
  }
  const row: CallbackMessageRow = { ...record, ...provenance, source: 'callback', unconfirmed: true };
  rowsFor(out, dateInZone(record.msg_time, at.timeZone)).messages.push(row);
  out.counts.messages++;
}

function revisionRows(
  event: CallbackEventRow,
  body: JsonObject,
  provenance: CallbackProvenance,
): CallbackRevisionRow[] | undefined {
  const groupId = body.GroupId;
  if (!isString(groupId)) return undefined;
  const recall = event.callback_command === RECALL_COMMAND;
  const seqs = recall ? recalledSeqs(body.MsgSeqList) : isSafeInt(body.MsgSeq) ? [body.MsgSeq] : undefined;
  if (seqs === undefined || seqs.length === 0) return undefined;
  let content: Pick<CallbackRevisionRow, 'msg_body' | 'text' | 'cloud_custom_data'> = {
    msg_body: [],
    text: null,
    cloud_custom_data: null,
  };
  if (!recall) {
    try {
      const served: RawMessage = { MsgSeq: seqs[0] ?? 0, MsgTimeStamp: 0, MsgBody: body.MsgBody ?? [] };
      if (body.CloudCustomData !== undefined) served.CloudCustomData = body.CloudCustomData;
      const record = toRecord(served, { sdkAppId: event.sdk_app_id, groupId, topicId: null });
      content = { msg_body: record.msg_body, text: record.text, cloud_custom_data: record.cloud_custom_data };
    } catch {
      return undefined;
    }
  }
  return seqs.map((seq) => ({
    sdk_app_id: event.sdk_app_id,
    group_id: groupId,
    topic_id: topicOf(body),
    msg_seq: seq,
    change: recall ? 'recalled' : 'modified',
    changed_by: stringOr(body.Operator_Account),
    changed_at: event.event_time ?? event.received_at,
    ...content,
    ...provenance,
  }));
}

function recalledSeqs(list: JsonValue | undefined): number[] | undefined {
  if (!Array.isArray(list)) return undefined;
  const seqs: number[] = [];
  for (const item of list) {
    if (!isJsonObject(item) || !isSafeInt(item.MsgSeq)) return undefined;
    seqs.push(item.MsgSeq);
  }
  return seqs;
}

function dissolutionRow(
  event: CallbackEventRow,
  body: JsonObject,
  provenance: CallbackProvenance,
): DissolutionRow | undefined {
  const groupId = body.GroupId;
  if (!isString(groupId)) return undefined;
  const members: string[] = [];
  if (Array.isArray(body.MemberList)) {
    for (const item of body.MemberList)
      if (isJsonObject(item) && isString(item.Member_Account)) members.push(item.Member_Account);
  }
  return {
    sdk_app_id: event.sdk_app_id,
    group_id: groupId,
    group_type: stringOr(body.Type),
    name: stringOr(body.Name),
    owner_account: stringOr(body.Owner_Account),
    members,
    dissolved_at: event.event_time ?? event.received_at,
    ...provenance,
  };
}

// ---------------------------------------------------------------------------------------------
// Reading the raw objects
// ---------------------------------------------------------------------------------------------

/** A stored raw row, as functions/domain/callback-event.ts writes it. */
export function isCallbackEventRow(value: unknown): value is CallbackEventRow {
  return (
    isJsonObject(value) &&
    isSafeInt(value.sdk_app_id) &&
    isString(value.callback_command) &&
    isSafeInt(value.received_at) &&
    (value.event_time === null || isSafeInt(value.event_time)) &&
    isString(value.event_key) &&
    isString(value.body_sha256) &&
    isString(value.body) &&
    (value.body_encoding === 'utf8' || value.body_encoding === 'base64') &&
    typeof value.quarantined === 'boolean'
  );
}

/** The rows of one raw object's NDJSON lines; a line that is not a row is counted, not thrown. */
export function parseEventLines(lines: readonly string[]): { rows: CallbackEventRow[]; unreadable: number } {
  const rows: CallbackEventRow[] = [];
  let unreadable = 0;
  for (const line of lines) {
    if (line.trim() === '') continue;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch {
      unreadable++;
      continue;
    }
    if (isCallbackEventRow(value)) rows.push(value);
    else unreadable++;
  }
  return { rows, unreadable };
}

// ---------------------------------------------------------------------------------------------
// State: keys and formats
// ---------------------------------------------------------------------------------------------

const statePrefix = (sdkAppId: number) => {
  if (!isSafeInt(sdkAppId) || sdkAppId <= 0)
    throw new RangeError(`sdkAppId must be positive, got ${sdkAppId}`);
  return `state/callbacks/sdkappid=${sdkAppId}/`;
};
const pad = (version: number) => String(version).padStart(10, '0');

/** The raw objects of an app: what the receiver (or Firehose) writes. */
export const rawCallbacksPrefix = (sdkAppId: number) => `callbacks/sdkappid=${sdkAppId}/`;
export const callbackHeadKey = (sdkAppId: number) => `${statePrefix(sdkAppId)}head.json`;
export const callbackIntentKey = (sdkAppId: number, version: number) =>
  `${statePrefix(sdkAppId)}intent-${pad(version)}.json`;
export const seenShardKey = (sdkAppId: number, shard: string, version: number) =>
  `${statePrefix(sdkAppId)}seen/${shard}/${pad(version)}.json`;

/** The folder of the materialized rows under the archive root. */
export const CALLBACK_ROWS_FOLDER = 'callback-rows/';

/** `callback-rows/<kind>/sdkappid=<id>/dt=<date>/<version>.ndjson.gz`: one object per commit, kind and date. */
export function callbackRowsKey(
  kind: CallbackRowKind,
  sdkAppId: number,
  dt: string,
  version: number,
): string {
  statePrefix(sdkAppId);
  if (!/^\d{4}-\d{2}-\d{2}$/.test(dt)) throw new RangeError(`dt must be YYYY-MM-DD, got ${dt}`);
  return `${CALLBACK_ROWS_FOLDER}${kind}/sdkappid=${sdkAppId}/dt=${dt}/${pad(version)}.ndjson.gz`;
}

export interface CallbackHead {
  version: number;
  /** Raw object keys materialized under `dt` at or after {@link CallbackHead.doneBefore}, sorted. */
  done: string[];
  /** Shard → the version of its newest seen object (absent: empty). */
  shards: Record<string, number>;
  /**
   * Every raw object of a `dt` (its arrival date) before this one is done, and no longer listed in
   * `done` nor looked for: what bounds the head (absent: none yet).
   */
  doneBefore?: string;
}

/** How far back a commit keeps state: set once in its intent, so a commit redone gives the same bytes. */
export interface CallbackHorizon {
  /** The head's `doneBefore` after the commit. */
  doneBefore: string;
  /** Seen entries first received before this (epoch ms) are dropped from the shards the commit rewrites. */
  seenSinceMs: number;
}

export interface CallbackIntent {
  version: number;
  /** The raw object keys this commit takes, in order. */
  objects: string[];
  /** Absent in an intent written before horizons existed: nothing is dropped. */
  horizon?: CallbackHorizon;
}

export const emptyCallbackHead = (): CallbackHead => ({ version: 0, done: [], shards: {} });

/**
 * Days a raw object may appear after its arrival date, and a duplicate delivery after the first:
 * Firehose retries a delivery to S3 for up to 24 hours, Tencent retries a callback (if at all)
 * within seconds, and the receiver refuses a `RequestTime` more than 60 s off (docs/callbacks.md).
 * State older than that is dropped, so the head and the seen shards stop growing with time.
 */
export const LATE_EVENT_DAYS = 3;

const DT_IN_KEY = /\/dt=(\d{4}-\d{2}-\d{2})\//;

/** The arrival date of a raw object (`callbacks/sdkappid=<id>/dt=<date>/…`), undefined if the key has none. */
export function rawObjectDt(key: string): string | undefined {
  return DT_IN_KEY.exec(key)?.[1];
}

/**
 * The horizon of a commit: `doneBefore` is `cutoffDt` (the arrival date {@link LATE_EVENT_DAYS}
 * before now), but never past the oldest raw object still to do after this commit (a backlog keeps
 * its dates open), nor back from the head's own. `seenSinceMs` is now less those days.
 */
export function commitHorizon(args: {
  cutoffDt: string;
  nowMs: number;
  /** The raw objects listed and not yet taken after this commit's. */
  remaining: readonly string[];
  head: CallbackHead;
}): CallbackHorizon {
  const open = args.remaining.map(rawObjectDt).filter((d): d is string => d !== undefined);
  let doneBefore = args.cutoffDt;
  for (const dt of open) if (dt < doneBefore) doneBefore = dt;
  if (args.head.doneBefore !== undefined && args.head.doneBefore > doneBefore)
    doneBefore = args.head.doneBefore;
  return { doneBefore, seenSinceMs: args.nowMs - LATE_EVENT_DAYS * 86_400_000 };
}

/** The head's `done` after a commit: its objects added, those before the horizon dropped. */
export function doneAfter(head: CallbackHead, intent: CallbackIntent): string[] {
  const before = intent.horizon?.doneBefore;
  const keep = (key: string) => before === undefined || (rawObjectDt(key) ?? before) >= before;
  return [...new Set([...head.done, ...intent.objects])].filter(keep).sort();
}

const isStringArray = (value: unknown): value is string[] => Array.isArray(value) && value.every(isString);

export function parseCallbackHead(text: string, key: string): CallbackHead {
  const value: unknown = JSON.parse(text);
  if (
    isJsonObject(value) &&
    isSafeInt(value.version) &&
    isStringArray(value.done) &&
    isJsonObject(value.shards) &&
    Object.values(value.shards).every(isSafeInt)
  ) {
    const doneBefore = value.doneBefore;
    if (doneBefore === undefined || (isString(doneBefore) && /^\d{4}-\d{2}-\d{2}$/.test(doneBefore))) {
      return {
        version: value.version,
        done: value.done,
        shards: value.shards as Record<string, number>,
        ...(doneBefore === undefined ? {} : { doneBefore }),
      };
    }
  }
  throw new StateCorruptError(`${key}: not a callback materialization head`);
}

export function parseCallbackIntent(text: string, key: string): CallbackIntent {
  const value: unknown = JSON.parse(text);
  if (isJsonObject(value) && isSafeInt(value.version) && isStringArray(value.objects)) {
    const h = value.horizon;
    if (h === undefined) return { version: value.version, objects: value.objects };
    if (isJsonObject(h) && isString(h.doneBefore) && isSafeInt(h.seenSinceMs))
      return {
        version: value.version,
        objects: value.objects,
        horizon: { doneBefore: h.doneBefore, seenSinceMs: h.seenSinceMs },
      };
  }
  throw new StateCorruptError(`${key}: not a callback materialization intent`);
}

/**
 * A seen shard: event key → body hashes, and when each key was first received (epoch ms; a shard
 * written before this was kept has none, and its keys are never dropped).
 */
export interface SeenShard {
  index: SeenIndex;
  firstAt: Map<string, number>;
}

/** Reads `{ key: [hashes] }` (the first format) or `{ "keys": { key: [hashes] }, "firstAt": { key: ms } }`. */
export function parseSeenShard(text: string, key: string): SeenShard {
  const value: unknown = JSON.parse(text);
  if (!isJsonObject(value)) throw new StateCorruptError(`${key}: not a seen shard`);
  const dated = isJsonObject(value.keys) && isJsonObject(value.firstAt);
  const entries = dated ? (value.keys as JsonObject) : value;
  const index: SeenIndex = new Map();
  const firstAt = new Map<string, number>();
  for (const [eventKey, hashes] of Object.entries(entries)) {
    if (!isStringArray(hashes)) throw new StateCorruptError(`${key}: ${eventKey} has no hash list`);
    index.set(eventKey, hashes);
  }
  if (dated) {
    for (const [eventKey, at] of Object.entries(value.firstAt as JsonObject)) {
      if (!isSafeInt(at)) throw new StateCorruptError(`${key}: ${eventKey} has no first time`);
      firstAt.set(eventKey, at);
    }
  }
  return { index, firstAt };
}

/** Drops the keys first received before `sinceMs` (keys without a time are kept). */
export function pruneSeenShard(shard: SeenShard, sinceMs: number): SeenShard {
  const index: SeenIndex = new Map();
  const firstAt = new Map<string, number>();
  for (const [eventKey, hashes] of shard.index) {
    const at = shard.firstAt.get(eventKey);
    if (at !== undefined && at < sinceMs) continue;
    index.set(eventKey, hashes);
    if (at !== undefined) firstAt.set(eventKey, at);
  }
  return { index, firstAt };
}

/** A shard's entries in key order: the same entries give the same bytes. */
export function serializeSeenShard(shard: SeenShard): string {
  const keys = [...shard.index.keys()].sort();
  const dated = keys.filter((k) => shard.firstAt.has(k));
  return `${JSON.stringify({
    keys: Object.fromEntries(keys.map((k) => [k, shard.index.get(k) ?? []])),
    firstAt: Object.fromEntries(dated.map((k) => [k, shard.firstAt.get(k)])),
  })}\n`;
}
