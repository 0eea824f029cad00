/**
 * Witnesses of one-to-one conversations (issue 26; docs/one-to-one.md, Witnesses): no API lists
 * the pairs that have talked, so the pass learns them from the recorded `C2C.CallbackAfterSendMsg`
 * events (docs/callbacks.md; docs/tencent-api.md, Third-party callbacks). Each event names a pair
 * and the time of a message; the pair's state keeps the newest such time as `knownTime`, so a
 * night pulls only the pairs that talked since their newest archived message.
 *
 * The cursor says which recorded callback objects were read: every date before `from` is read
 * whole (a date closes an hour after it ends in the archive's time zone: the receiver files an
 * object under its arrival date, and writes within milliseconds of the arrival), and `read` lists
 * the objects read in the dates from `from` on. The cursor and the pairs it fed are committed in
 * one head write, so each object is applied once.
 */
import { type C2cPairState, type SortedPair, sortPair } from './c2c-pairs.ts';
import { isJsonObject, isString } from './json-guards.ts';

/** The command whose events name a pair (docs/tencent-api.md, Third-party callbacks). */
export const C2C_SEND_COMMAND = 'C2C.CallbackAfterSendMsg';

/** A date closes this long after it ends: later arrivals are filed under a later date. */
export const CALLBACK_DATE_GRACE_SEC = 3_600;

/** Which recorded callback objects the pass has read. */
export interface CallbackCursor {
  /** `YYYY-MM-DD`: every date before it is read whole. */
  readonly from: string;
  /** Objects read in the dates from `from` on, sorted. */
  readonly read: readonly string[];
}

/** Which hourly `get_history` files the pass has fetched (functions/domain/history-file.ts). */
export interface HistoryFilesCursor {
  /** Beijing hours (`YYYYMMDDHH`) whose C2C files were all fetched, kept, and read; sorted. */
  readonly fetched: readonly string[];
}

/** The witnesses' cursor object. */
export interface WitnessCursor {
  readonly version: 1;
  readonly callbacks: CallbackCursor | null;
  /** Absent from cursors written before the hourly files: null. */
  readonly historyFiles: HistoryFilesCursor | null;
}

export const EMPTY_WITNESS_CURSOR: WitnessCursor = { version: 1, callbacks: null, historyFiles: null };

const DATE = /^\d{4}-\d{2}-\d{2}$/;

export function serializeWitnessCursor(cursor: WitnessCursor): string {
  return `${JSON.stringify(cursor)}\n`;
}

/** @throws TypeError when the text is not a cursor */
export function parseWitnessCursor(text: string): WitnessCursor {
  const v: unknown = JSON.parse(text);
  if (!isJsonObject(v) || v.version !== 1) throw new TypeError('not a version-1 witness cursor');
  const { callbacks, historyFiles = null } = v;
  let files: HistoryFilesCursor | null = null;
  if (historyFiles !== null) {
    if (
      !isJsonObject(historyFiles) ||
      !Array.isArray(historyFiles.fetched) ||
      !historyFiles.fetched.every(isString)
    ) {
      throw new TypeError('witness cursor: historyFiles must be null or { fetched: hours }');
    }
    files = { fetched: historyFiles.fetched as string[] };
  }
  if (callbacks === null) return { version: 1, callbacks: null, historyFiles: files };
  if (
    !isJsonObject(callbacks) ||
    !isString(callbacks.from) ||
    !DATE.test(callbacks.from) ||
    !Array.isArray(callbacks.read) ||
    !callbacks.read.every(isString)
  ) {
    throw new TypeError('witness cursor: callbacks must be null or { from: YYYY-MM-DD, read: keys }');
  }
  return {
    version: 1,
    callbacks: { from: callbacks.from, read: callbacks.read as string[] },
    historyFiles: files,
  };
}

/** The date after `date` (`YYYY-MM-DD`, calendar arithmetic). */
export function nextDate(date: string): string {
  const [y, m, d] = date.split('-').map(Number) as [number, number, number];
  return new Date(Date.UTC(y, m - 1, d + 1)).toISOString().slice(0, 10);
}

/** The dates from `from` to `to`, both included (none when `from` is after `to`). */
export function datesBetween(from: string, to: string): string[] {
  const out: string[] = [];
  for (let d = from; d <= to; d = nextDate(d)) out.push(d);
  return out;
}

/** The dt of a recorded callback object's key (`callbacks/sdkappid=<id>/dt=<date>/…`), or null. */
export function callbackKeyDate(key: string): string | null {
  return /\/dt=(\d{4}-\d{2}-\d{2})\//.exec(key)?.[1] ?? null;
}

/**
 * The cursor after reading `read` (the keys read this run, in dates up to `today`): dates before
 * `closedBefore` (the date an hour ago) are dropped from `read`, and `from` moves up to it.
 */
export function advanceCallbackCursor(
  cursor: CallbackCursor,
  read: Iterable<string>,
  closedBefore: string,
): CallbackCursor {
  const from = closedBefore > cursor.from ? closedBefore : cursor.from;
  const keep = new Set<string>();
  for (const key of [...cursor.read, ...read]) {
    const dt = callbackKeyDate(key);
    if (dt !== null && dt >= from) keep.add(key);
  }
  return { from, read: [...keep].sort() };
}

/** A pair and the time of one of its messages, as a witness reported it. */
export interface PairSighting {
  readonly pair: SortedPair;
  /** The message's time, epoch seconds. */
  readonly time: number;
}

/**
 * The pair a recorded callback names: a `C2C.CallbackAfterSendMsg` row not quarantined, with two
 * different non-empty accounts and a message time (`MsgTime`, seconds; else the row's `event_time`).
 * An online-only message (`OnlineOnlyFlag` 1) is never stored, so no pull could find it: null.
 * The body is not signed (docs/callbacks.md): a forged pair costs one call that finds nothing.
 */
export function sightingOfCallback(row: unknown): PairSighting | null {
  if (!isJsonObject(row) || row.callback_command !== C2C_SEND_COMMAND || row.quarantined !== false)
    return null;
  if (row.body_encoding !== 'utf8' || !isString(row.body)) return null;
  let body: unknown;
  try {
    body = JSON.parse(row.body);
  } catch {
    return null;
  }
  if (!isJsonObject(body) || body.OnlineOnlyFlag === 1) return null;
  const from = body.From_Account;
  const to = body.To_Account;
  if (!isString(from) || !isString(to) || from === '' || to === '' || from === to) return null;
  const eventTime = row.event_time;
  const time =
    typeof body.MsgTime === 'number' && Number.isSafeInteger(body.MsgTime) && body.MsgTime >= 0
      ? body.MsgTime
      : typeof eventTime === 'number' && Number.isSafeInteger(eventTime) && eventTime >= 0
        ? Math.floor(eventTime / 1000)
        : null;
  if (time === null) return null;
  return { pair: sortPair(from, to), time };
}

/** `callbacks/sdkappid=<id>/dt=<date>/`: where the receiver files a date's objects (callbackObjectKey). */
export function callbackDatePrefix(sdkAppId: number, dt: string): string {
  return `callbacks/sdkappid=${sdkAppId}/dt=${dt}/`;
}

/**
 * The pair's state with a sighting applied: `knownTime` becomes the newer of the two. Applying a
 * sighting twice changes nothing.
 */
export function withSighting(state: C2cPairState, time: number): C2cPairState {
  if (state.knownTime !== null && state.knownTime >= time) return state;
  return { ...state, knownTime: time };
}
