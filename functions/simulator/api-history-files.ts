/**
 * `v4/open_msg_svc/get_history` (docs/tencent-api.md, get_history): download links to all
 * one-to-one (c2c-world.ts) or group (world.ts) messages of the app in one Beijing hour, with strict
 * readings:
 *
 * - the body must be an object with `ChatType` and `MsgTime`, both strings (1001 otherwise);
 *   `ChatType` `C2C` or `Group`, `MsgTime` a real hour `YYYYMMDDHH` (1002 otherwise);
 * - an hour is made an hour after it ends (before: 1004, "文件尚未生成"), and its files are deleted 7
 *   days after they were made (1005); an hour without messages is 1004;
 * - a group line is the documentation's sample (`GroupId`, `From_Account`, `MsgTimestamp`, `MsgSeq`,
 *   `MsgBody`: no `MsgRandom`, no `MsgKey`); it holds the messages of the groups' own streams that
 *   are not deleted when the file is made, dissolved groups' too (they were sent); topic messages
 *   are left out (whether Tencent's files hold them is not documented), and so are groups whose
 *   type keeps no history (AVChatRoom);
 * - the files are made once, when first asked for, and then stay as they were (a snapshot: later
 *   recalls and messages do not change them); each holds at most {@link LINES_PER_FILE} messages,
 *   so a busy hour has several (`File[]`); the answer states each file's `FileSize`/`FileMD5` and
 *   `GzipSize`/`GzipMD5`; the layout is the documented one (a first line ending in `"MsgList":[`, a
 *   message a line with a trailing comma, `]}`);
 * - a file is downloaded with GET `/history-files/[group/]<hour>/<index>` on the simulator's own address.
 */
import { createHash } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { beijingHour, beijingHourStart } from '../domain/history-file.ts';
import { TYPES_WITHOUT_HISTORY } from '../domain/planner.ts';
import type { JsonObject } from '../domain/tencent-types.ts';
import type { C2cWorld } from './c2c-world.ts';
import { type ApiAnswer, ApiFailure, type BodyObject, OK_HEAD } from './envelope.ts';
import type { SimWorld, StreamState } from './world.ts';

/** Messages a file holds at most (none documented: small, so tests see hours of several files). */
export const LINES_PER_FILE = 200;
const HOUR = 3_600;
const KEPT_SEC = 7 * 86_400;

interface MadeFile {
  readonly gzip: Uint8Array;
  readonly fileSize: number;
  readonly fileMd5: string;
  readonly gzipMd5: string;
}

const md5Hex = (data: Uint8Array | string) => createHash('md5').update(data).digest('hex');
const two = (n: number) => String(n).padStart(2, '0');

/** `ExpireTime` as the sample writes it (`2015-12-02 16:45:23`), in Beijing time. */
function beijingStamp(epochSec: number): string {
  const d = new Date((epochSec + 8 * HOUR) * 1000);
  return `${d.getUTCFullYear()}-${two(d.getUTCMonth() + 1)}-${two(d.getUTCDate())} ${two(d.getUTCHours())}:${two(d.getUTCMinutes())}:${two(d.getUTCSeconds())}`;
}

/** The hourly files of the simulated app. */
export class SimHistoryFiles {
  readonly #made = new Map<string, MadeFile[]>();
  /** Messages the files leave out (tests: a message the witness lacks), by `group <id> <seq>` or `c2c <MsgKey>`. */
  readonly #leftOut = new Set<string>();

  public constructor(
    private readonly world: C2cWorld,
    private readonly groups?: SimWorld,
  ) {}

  /** Leaves a message out of the files made from now on (a gap in Tencent's witness, for tests). */
  public leaveOut(message: { groupId: string; seq: number } | { msgKey: string }): void {
    this.#leftOut.add(
      'msgKey' in message ? `c2c ${message.msgKey}` : `group ${message.groupId} ${message.seq}`,
    );
  }

  /** Makes an hour's files now, as Tencent does after the hour (what a later change no longer alters). */
  public make(chatType: 'C2C' | 'Group', hour: string): number {
    return this.#files(chatType, hour, beijingHourStart(hour)).length;
  }

  /** The answer to one `get_history` request at `nowSec`. @throws ApiFailure (1001, 1002, 1004, 1005) */
  public answer(body: BodyObject, nowSec: number, baseUrl: string): ApiAnswer {
    const { ChatType: chatType, MsgTime: hour } = body;
    if (typeof chatType !== 'string' || typeof hour !== 'string') {
      throw new ApiFailure(1001, 'ChatType and MsgTime must be strings');
    }
    if (chatType !== 'C2C' && chatType !== 'Group')
      throw new ApiFailure(1002, 'ChatType must be C2C or Group');
    let start: number;
    try {
      start = beijingHourStart(hour);
    } catch {
      throw new ApiFailure(1002, 'MsgTime must be an hour YYYYMMDDHH');
    }
    const madeAt = start + 2 * HOUR;
    if (nowSec < madeAt) throw new ApiFailure(1004, 'the file is not made yet');
    if (nowSec >= madeAt + KEPT_SEC) throw new ApiFailure(1005, 'the file has expired');
    const files = this.#files(chatType, hour, start);
    if (files.length === 0) throw new ApiFailure(1004, 'no message in this hour');
    const answer: JsonObject = {
      ...OK_HEAD,
      File: files.map((f, index) => ({
        URL: `${baseUrl}/history-files/${chatType === 'C2C' ? '' : 'group/'}${hour}/${index}`,
        ExpireTime: beijingStamp(madeAt + KEPT_SEC),
        FileSize: f.fileSize,
        FileMD5: f.fileMd5,
        GzipSize: f.gzip.byteLength,
        GzipMD5: f.gzipMd5,
      })),
    };
    return { code: 0, body: JSON.stringify(answer), messages: 0 };
  }

  /** The bytes of `/history-files/[group/]<hour>/<index>`, or undefined for a file never answered. */
  public download(pathname: string): Uint8Array | undefined {
    const match = /^\/history-files\/(group\/)?(\d{10})\/(\d+)$/.exec(pathname);
    if (match === null) return undefined;
    const chatType = match[1] === undefined ? 'C2C' : 'Group';
    return this.#made.get(`${chatType} ${match[2]}`)?.[Number(match[3])]?.gzip;
  }

  /** The hour's files, made the first time they are asked for. */
  #files(chatType: 'C2C' | 'Group', hour: string, start: number): MadeFile[] {
    const made = this.#made.get(`${chatType} ${hour}`);
    if (made !== undefined) return made;
    const lines = chatType === 'C2C' ? this.#c2cLines(start) : this.#groupLines(start);
    const files: MadeFile[] = [];
    for (let i = 0; i < lines.length; i += LINES_PER_FILE) {
      const text = `{"SdkAppId":0,"ChatType":"${chatType}","MsgTime":"${hour}","MsgList":[\n${lines.slice(i, i + LINES_PER_FILE).join(',\n')}\n]}`;
      const gzip = new Uint8Array(gzipSync(text));
      files.push({ gzip, fileSize: Buffer.byteLength(text), fileMd5: md5Hex(text), gzipMd5: md5Hex(gzip) });
    }
    this.#made.set(`${chatType} ${hour}`, files);
    return files;
  }

  #c2cLines(start: number): string[] {
    const messages = this.world.sentBetween(start, start + HOUR - 1);
    // Sanity: the hour named is the hour of its messages.
    if (messages.length > 0 && beijingHour(messages[0]?.MsgTimeStamp as number) !== beijingHour(start)) {
      throw new RangeError(`messages of another hour in ${beijingHour(start)}`);
    }
    return messages
      .filter((m) => !this.#leftOut.has(`c2c ${m.MsgKey}`))
      .map((m) =>
        JSON.stringify({
          ChatType: 'C2C',
          MsgTimestamp: m.MsgTimeStamp,
          From_Account: m.From_Account,
          To_Account: m.To_Account,
          MsgSeq: m.MsgSeq,
          MsgRandom: m.MsgRandom,
          MsgKey: m.MsgKey,
          MsgBody: m.MsgBody,
        }),
      );
  }

  /** The group lines of the hour from `start`, by time (groups in catalogue order within a second). */
  #groupLines(start: number): string[] {
    const world = this.groups;
    if (world === undefined) return [];
    const nowSec = world.nowSec();
    const found: { time: number; line: string }[] = [];
    for (const summary of world.summaries()) {
      // Tencent keeps no history of these (docs/tencent-api.md): no file line either.
      if (TYPES_WITHOUT_HISTORY.has(summary.type)) continue;
      const group = world.group(summary.groupId);
      if (group === undefined) continue;
      for (const seq of seqsBetween(world, group.main, start, start + HOUR - 1)) {
        if (this.#leftOut.has(`group ${summary.groupId} ${seq}`)) continue;
        const rendered = world.render(group.main, seq, true, nowSec);
        if (rendered === undefined || rendered.message.IsPlaceMsg === 1) continue;
        const m = rendered.message;
        const line = JSON.stringify({
          GroupId: summary.groupId,
          From_Account: m.From_Account,
          MsgTimestamp: m.MsgTimeStamp,
          MsgSeq: m.MsgSeq,
          MsgBody: m.MsgBody,
        });
        found.push({ time: m.MsgTimeStamp, line });
      }
    }
    return found.sort((a, b) => a.time - b.time).map((f) => f.line);
  }
}

/** The seqs of a stream sent between `from` and `to` (inclusive): seq times never go back. */
function* seqsBetween(world: SimWorld, stream: StreamState, from: number, to: number): Generator<number> {
  const newest = stream.nextSeq - 1;
  let lo = 1;
  let hi = newest + 1;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (world.timeOf(stream, mid) < from) lo = mid + 1;
    else hi = mid;
  }
  for (let seq = lo; seq <= newest && world.timeOf(stream, seq) <= to; seq++) yield seq;
}
