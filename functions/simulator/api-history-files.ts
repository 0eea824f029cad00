/**
 * `v4/open_msg_svc/get_history` (docs/tencent-api.md, get_history): download links to all
 * one-to-one messages of the app in one Beijing hour, served from c2c-world.ts with strict readings:
 *
 * - the body must be an object with `ChatType` and `MsgTime`, both strings (1001 otherwise);
 *   `ChatType` `C2C` or `Group`, `MsgTime` a real hour `YYYYMMDDHH` (1002 otherwise);
 * - an hour is made an hour after it ends (before: 1004, "文件尚未生成"), and its files are deleted 7
 *   days after they were made (1005); an hour without messages is 1004; group files are not
 *   simulated (always 1004);
 * - the files are made once, when first asked for, and then stay as they were (a snapshot: later
 *   recalls and messages do not change them); each holds at most {@link LINES_PER_FILE} messages,
 *   so a busy hour has several (`File[]`); the answer states each file's `FileSize`/`FileMD5` and
 *   `GzipSize`/`GzipMD5`; the layout is the documented one (a first line ending in `"MsgList":[`, a
 *   message a line with a trailing comma, `]}`);
 * - a file is downloaded with GET `/history-files/<hour>/<index>` on the simulator's own address.
 */
import { createHash } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { beijingHour, beijingHourStart } from '../domain/history-file.ts';
import type { JsonObject } from '../domain/tencent-types.ts';
import type { C2cWorld } from './c2c-world.ts';
import { type ApiAnswer, ApiFailure, type BodyObject, OK_HEAD } from './envelope.ts';

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

  public constructor(private readonly world: C2cWorld) {}

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
    const files = chatType === 'C2C' ? this.#files(hour, start) : [];
    if (files.length === 0) throw new ApiFailure(1004, 'no message in this hour');
    const answer: JsonObject = {
      ...OK_HEAD,
      File: files.map((f, index) => ({
        URL: `${baseUrl}/history-files/${hour}/${index}`,
        ExpireTime: beijingStamp(madeAt + KEPT_SEC),
        FileSize: f.fileSize,
        FileMD5: f.fileMd5,
        GzipSize: f.gzip.byteLength,
        GzipMD5: f.gzipMd5,
      })),
    };
    return { code: 0, body: JSON.stringify(answer), messages: 0 };
  }

  /** The bytes of `/history-files/<hour>/<index>`, or undefined for a file never answered. */
  public download(pathname: string): Uint8Array | undefined {
    const match = /^\/history-files\/(\d{10})\/(\d+)$/.exec(pathname);
    if (match === null) return undefined;
    return this.#made.get(match[1] as string)?.[Number(match[2])]?.gzip;
  }

  /** The hour's files, made the first time they are asked for. */
  #files(hour: string, start: number): MadeFile[] {
    const made = this.#made.get(hour);
    if (made !== undefined) return made;
    const messages = this.world.sentBetween(start, start + HOUR - 1);
    const files: MadeFile[] = [];
    for (let i = 0; i < messages.length; i += LINES_PER_FILE) {
      const lines = messages.slice(i, i + LINES_PER_FILE).map((m) =>
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
      const text = `{"SdkAppId":0,"ChatType":"C2C","MsgTime":"${hour}","MsgList":[\n${lines.join(',\n')}\n]}`;
      const gzip = new Uint8Array(gzipSync(text));
      files.push({ gzip, fileSize: Buffer.byteLength(text), fileMd5: md5Hex(text), gzipMd5: md5Hex(gzip) });
    }
    this.#made.set(hour, files);
    // Sanity: the hour named is the hour of its messages.
    if (messages.length > 0 && beijingHour(messages[0]?.MsgTimeStamp as number) !== hour) {
      throw new RangeError(`messages of another hour in ${hour}`);
    }
    return files;
  }
}
