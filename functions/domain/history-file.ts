/**
 * Tencent's hourly message files (`v4/open_msg_svc/get_history`; docs/tencent-api.md, get_history)
 * as a witness of one-to-one pairs (issue 26; docs/one-to-one.md, Witnesses): the hours a daily job
 * may fetch, the check of a downloaded file against the sizes and MD5s the answer states, where its
 * raw copy is kept, and the pairs and times its lines name.
 *
 * Hours are Beijing hours (`MsgTime` `YYYYMMDDHH`, "MsgTime 使用的是北京时间，不支持其他时区"; UTC+8, no
 * daylight saving). A file is made after its hour ("一般1小时内处理完毕") and deleted 7 days later.
 */
import { createHash } from 'node:crypto';
import { gunzipSync } from 'node:zlib';
import { type SortedPair, sortPair } from './c2c-pairs.ts';
import { conversationOf } from './c2c-record.ts';
import type { PairSighting } from './c2c-witness.ts';
import { isJsonObject, isString } from './json-guards.ts';
import { dateInZone, isFileableTime } from './partition.ts';

const HOUR = 3_600;
const BEIJING_OFFSET_SEC = 8 * HOUR;
/** The files are kept 7 days (docs/tencent-api.md, get_history). */
export const HISTORY_FILE_DAYS = 7;
/** A file is asked for once its hour ended this long ago ("一般1小时内处理完毕"). */
export const HISTORY_FILE_READY_SEC = HOUR;
/**
 * The oldest hour asked for starts this long after the 7 days' edge: a file made an hour after its
 * hour is deleted 7 days after it was made, so the margin keeps clear of files about to go.
 */
export const HISTORY_FILE_EDGE_SEC = 2 * HOUR;

const HOUR_NAME = /^(\d{4})(\d{2})(\d{2})(\d{2})$/;

/** The Beijing hour (`YYYYMMDDHH`) holding `epochSec`. */
export function beijingHour(epochSec: number): string {
  const d = new Date((Math.floor(epochSec / HOUR) * HOUR + BEIJING_OFFSET_SEC) * 1000);
  const two = (n: number) => String(n).padStart(2, '0');
  return `${d.getUTCFullYear()}${two(d.getUTCMonth() + 1)}${two(d.getUTCDate())}${two(d.getUTCHours())}`;
}

/** When a Beijing hour starts, epoch seconds. @throws RangeError for a name that is not an hour */
export function beijingHourStart(hour: string): number {
  const m = HOUR_NAME.exec(hour);
  if (m === null) throw new RangeError(`not an hour YYYYMMDDHH: ${JSON.stringify(hour)}`);
  const [, y, mo, d, h] = m.map(Number) as [number, number, number, number, number];
  const ms = Date.UTC(y, mo - 1, d, h);
  if (beijingHour(ms / 1000 - BEIJING_OFFSET_SEC) !== hour) throw new RangeError(`no such hour ${hour}`);
  return ms / 1000 - BEIJING_OFFSET_SEC;
}

/**
 * The hours whose file can be fetched at `nowSec`, oldest first: ended at least
 * {@link HISTORY_FILE_READY_SEC} ago, and starting inside the 7 days less {@link HISTORY_FILE_EDGE_SEC}.
 */
export function fetchableHours(nowSec: number): string[] {
  const oldest = Math.ceil((nowSec - HISTORY_FILE_DAYS * 86_400 + HISTORY_FILE_EDGE_SEC) / HOUR) * HOUR;
  const out: string[] = [];
  for (let start = oldest; start + HOUR + HISTORY_FILE_READY_SEC <= nowSec; start += HOUR) {
    out.push(beijingHour(start));
  }
  return out;
}

/** One `File[]` entry of a `get_history` answer. */
export interface HistoryFileEntry {
  readonly url: string;
  /** The size and MD5 (hex) of the gzip file as downloaded. */
  readonly gzipSize: number;
  readonly gzipMd5: string;
  /** The size and MD5 (hex) of the file once unzipped. */
  readonly fileSize: number;
  readonly fileMd5: string;
}

const md5Hex = (data: Uint8Array) => createHash('md5').update(data).digest('hex');

/** A downloaded file, checked: its text, or why it does not match what the answer states. */
export type VerifiedHistoryFile = { ok: true; text: string } | { ok: false; reason: string };

/** Checks a download against the answer's `GzipSize`/`GzipMD5`, then `FileSize`/`FileMD5` once unzipped. */
export function verifyHistoryFile(entry: HistoryFileEntry, gzip: Uint8Array): VerifiedHistoryFile {
  if (gzip.byteLength !== entry.gzipSize) {
    return { ok: false, reason: `gzip size ${gzip.byteLength}, the answer says ${entry.gzipSize}` };
  }
  if (md5Hex(gzip) !== entry.gzipMd5.toLowerCase()) return { ok: false, reason: 'gzip MD5 differs' };
  let plain: Uint8Array;
  try {
    plain = gunzipSync(gzip);
  } catch (error) {
    return { ok: false, reason: `not gzip: ${String(error)}` };
  }
  if (plain.byteLength !== entry.fileSize) {
    return { ok: false, reason: `file size ${plain.byteLength}, the answer says ${entry.fileSize}` };
  }
  if (md5Hex(plain) !== entry.fileMd5.toLowerCase()) return { ok: false, reason: 'file MD5 differs' };
  return { ok: true, text: new TextDecoder().decode(plain) };
}

/**
 * Where the raw copy of a file is kept, once (create-only):
 * `history-files/sdkappid=<id>/chat=<c2c|group>/hour=<YYYYMMDDHH>/<index>-<gzip md5>.json.gz`,
 * the same key for the same file whichever run fetched it.
 */
export function historyFileKey(input: {
  sdkAppId: number;
  chatType: HistoryChatType;
  hour: string;
  index: number;
  gzipMd5: string;
}): string {
  beijingHourStart(input.hour);
  if (!/^[0-9a-fA-F]{32}$/.test(input.gzipMd5)) throw new RangeError('gzipMd5 must be 32 hex digits');
  if (!Number.isSafeInteger(input.index) || input.index < 0) throw new RangeError('invalid index');
  const chat = input.chatType === 'C2C' ? 'c2c' : 'group';
  return `history-files/sdkappid=${input.sdkAppId}/chat=${chat}/hour=${input.hour}/${input.index}-${input.gzipMd5.toLowerCase()}.json.gz`;
}

/**
 * The messages of a file one at a time (null for a line that is not a JSON object). In the
 * documented layout (the first line ends in `"MsgList":[`) each line is parsed on its own, so only
 * one message's object is held at a time, whatever the file's size; any other text is read as one
 * JSON document.
 */
export function* eachHistoryMessage(text: string): Generator<Record<string, unknown> | null> {
  const firstEnd = text.indexOf('\n');
  const first = (firstEnd < 0 ? text : text.slice(0, firstEnd)).trim();
  if (!first.endsWith('"MsgList":[')) {
    let whole: unknown;
    try {
      whole = JSON.parse(text);
    } catch {
      whole = undefined; // Line by line below, as the documentation's parser reads it.
    }
    if (isJsonObject(whole) && Array.isArray(whole.MsgList)) {
      for (const item of whole.MsgList) yield isJsonObject(item) ? item : null;
      return;
    }
  }
  let start = 0;
  while (start < text.length) {
    const end = text.indexOf('\n', start);
    const line = text
      .slice(start, end < 0 ? text.length : end)
      .trim()
      .replace(/,$/, '');
    start = end < 0 ? text.length : end + 1;
    if (line === '' || line === ']}' || line.endsWith('"MsgList":[')) continue;
    try {
      const value: unknown = JSON.parse(line);
      yield isJsonObject(value) ? value : null;
    } catch {
      yield null;
    }
  }
}

/**
 * The pair and time a C2C file's line names: `From_Account` and `To_Account`, different and not
 * empty, and `MsgTimestamp` (the files' spelling) or `MsgTimeStamp`, seconds. What a C2C line holds
 * is not shown in the documentation's sample (a group one): a line without them names nothing.
 */
export function sightingOfHistoryLine(line: Record<string, unknown>): PairSighting | null {
  const from = line.From_Account;
  const to = line.To_Account;
  if (!isString(from) || !isString(to) || from === '' || to === '' || from === to) return null;
  const time = line.MsgTimestamp ?? line.MsgTimeStamp;
  if (typeof time !== 'number' || !Number.isSafeInteger(time) || time < 0) return null;
  const pair: SortedPair = sortPair(from, to);
  return { pair, time };
}

/** The port the hourly-file job calls (an adapter over `get_history` and the download; tests fake it). */
export interface HistoryFilesApi {
  /**
   * `get_history` for one Beijing hour of one chat type: its files, or null when Tencent has none
   * (1004: not made yet, or no message in the hour).
   */
  getHistoryFiles(
    chatType: 'C2C' | 'Group',
    hour: string,
    signal?: AbortSignal,
  ): Promise<HistoryFileEntry[] | null>;
  /** The bytes at a file's URL, as downloaded. */
  download(url: string, signal?: AbortSignal): Promise<Uint8Array>;
}

/** An hour whose `get_history` says "none" this long after it ended is taken as an hour without messages. */
export const HISTORY_FILE_EMPTY_AFTER_SEC = 6 * HOUR;

// ---------------------------------------------------------------------------------------------
// The files as a second witness (issue 26, deliverable 3; docs/one-to-one.md, Witnesses): each kept
// file's message identities as rows under `history-file-messages/`, and one row per fetched hour
// under `history-file-hours/` (which hours the files cover), both create-only, one object per file
// or hour, so reconciliation is a join (functions/query/history-file-tables.ts).
// ---------------------------------------------------------------------------------------------

/** The chat types of `get_history`, and how keys and rows name them. */
export type HistoryChatType = 'C2C' | 'Group';
export type HistoryChat = 'c2c' | 'group';
export const chatOf = (chatType: HistoryChatType): HistoryChat => (chatType === 'C2C' ? 'c2c' : 'group');

/** One message identity of a kept file (the `history_file_messages` table's row). */
export interface HistoryIndexRow {
  readonly sdk_app_id: number;
  readonly chat: HistoryChat;
  /** The file's Beijing hour, `YYYYMMDDHH`. */
  readonly hour: string;
  /** The kept raw file's key (under `history-files/`). */
  readonly file_key: string;
  /** Group lines: `GroupId`. */
  readonly group_id: string | null;
  /** C2C lines: the sorted pair as c2c_messages writes it (a JSON array). */
  readonly conversation: string | null;
  readonly from_account: string | null;
  readonly to_account: string | null;
  readonly msg_seq: number | null;
  readonly msg_random: number | null;
  readonly msg_key: string | null;
  /** `MsgTimestamp` (or `MsgTimeStamp`), epoch seconds. */
  readonly msg_time: number | null;
  /** The date `msg_time` is archived under (`dt` of messages / c2c_messages): a join on it prunes. */
  readonly msg_dt: string | null;
}

/** One fetched hour (the `history_file_hours` table's row): the hours the files cover. */
export interface HistoryHourRow {
  readonly sdk_app_id: number;
  readonly chat: HistoryChat;
  readonly hour: string;
  /** When the hour starts and ends (inclusive), epoch seconds. */
  readonly hour_start: number;
  readonly hour_end: number;
  /** Files of the hour (0: Tencent had none six hours after it ended, an hour without messages). */
  readonly files: number;
  /** Message rows indexed for the hour. */
  readonly messages: number;
  readonly run_id: string;
}

const text = (v: unknown): string | null => (isString(v) && v !== '' ? v : null);
const integer = (v: unknown): number | null =>
  typeof v === 'number' && Number.isSafeInteger(v) && v >= 0 ? v : null;

/**
 * The identity row of a file's line, or null when the line names no message of its chat type: a
 * group line needs `GroupId` and `MsgSeq` (the documented sample's identity), a C2C line two
 * different accounts and a time (docs/tencent-api.md, get_history). `dtOf` files a time under the
 * archive's date.
 */
export function historyIndexRow(
  line: Record<string, unknown>,
  file: { sdkAppId: number; chatType: HistoryChatType; hour: string; fileKey: string },
  dtOf: (epochSec: number) => string,
): HistoryIndexRow | null {
  const time = integer(line.MsgTimestamp ?? line.MsgTimeStamp);
  const from = text(line.From_Account);
  const to = text(line.To_Account);
  const groupId = text(line.GroupId);
  const seq = integer(line.MsgSeq);
  let conversation: string | null = null;
  if (file.chatType === 'Group') {
    if (groupId === null || seq === null) return null;
  } else {
    if (from === null || to === null || from === to || time === null) return null;
    conversation = conversationOf(from, to);
  }
  return {
    sdk_app_id: file.sdkAppId,
    chat: chatOf(file.chatType),
    hour: file.hour,
    file_key: file.fileKey,
    group_id: file.chatType === 'Group' ? groupId : null,
    conversation,
    from_account: from,
    to_account: file.chatType === 'C2C' ? to : null,
    msg_seq: seq,
    msg_random: integer(line.MsgRandom),
    msg_key: text(line.MsgKey),
    msg_time: time,
    msg_dt: time === null || !isFileableTime(time) ? null : dtOf(time),
  };
}

/**
 * Where a kept file's identity rows go, once (create-only):
 * `history-file-messages/sdkappid=<id>/dt=<date of the hour's start>/<chat>-<hour>-<index>-<gzip md5>.ndjson.gz`.
 */
export function historyIndexKey(input: {
  sdkAppId: number;
  chatType: HistoryChatType;
  hour: string;
  index: number;
  gzipMd5: string;
  timeZone: string;
}): string {
  const raw = historyFileKey(input);
  const name = raw.slice(raw.lastIndexOf('/') + 1).replace(/\.json\.gz$/, '');
  const dt = dateInZone(beijingHourStart(input.hour), input.timeZone);
  return `${HISTORY_INDEX_FOLDER}sdkappid=${input.sdkAppId}/dt=${dt}/${chatOf(input.chatType)}-${input.hour}-${name}.ndjson.gz`;
}

/** Where an hour's row goes once all its files are kept and indexed (create-only). */
export function historyHourKey(input: {
  sdkAppId: number;
  chatType: HistoryChatType;
  hour: string;
  timeZone: string;
}): string {
  return `${historyHourDatePrefix(input.sdkAppId, dateInZone(beijingHourStart(input.hour), input.timeZone))}${chatOf(input.chatType)}-${input.hour}.ndjson.gz`;
}

/** The hour rows filed under one date (listed to learn which hours are fetched). */
export function historyHourDatePrefix(sdkAppId: number, dt: string): string {
  return `${HISTORY_HOURS_FOLDER}sdkappid=${sdkAppId}/dt=${dt}/`;
}

/** The hour an hour row's key names, with its chat, or null for another key. */
export function hourOfHourKey(key: string): { chat: HistoryChat; hour: string } | null {
  const m = /\/(c2c|group)-(\d{10})\.ndjson\.gz$/.exec(key);
  return m === null ? null : { chat: m[1] as HistoryChat, hour: m[2] as string };
}

export const HISTORY_INDEX_FOLDER = 'history-file-messages/';
export const HISTORY_HOURS_FOLDER = 'history-file-hours/';
