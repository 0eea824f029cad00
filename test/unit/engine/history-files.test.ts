/**
 * The group hourly files (functions/engine/history-files.ts) over the in-memory fakes: each hour's
 * files kept raw and indexed once, with one row per hour; an hour whose file fails its MD5 gets no
 * row and is asked again next run, a fetched hour is not; a stop between hours leaves the rest
 * (`hoursLeft`, not done); a line without `GroupId` and `MsgSeq` is counted, not indexed.
 */
import { createHash } from 'node:crypto';
import { gunzipSync, gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import {
  fetchableHours,
  type HistoryFileEntry,
  type HistoryFilesApi,
} from '../../../functions/domain/history-file.ts';
import { fetchGroupHistoryFiles } from '../../../functions/engine/history-files.ts';
import { MemoryStore, silentLogger } from '../../helpers/engine-fakes.ts';
import { FakeClock } from '../../helpers/fake-clock.ts';

const APP = 1400000001;
const NOW_SEC = Date.UTC(2026, 0, 10, 12) / 1000;
const md5 = (data: Uint8Array | string) => createHash('md5').update(data).digest('hex');

/** A group file of these lines in the documented layout, and its answer entry (`spoil`: a wrong MD5). */
function groupFile(url: string, lines: object[], spoil = false) {
  const text = `{"MsgList":[\n${lines.map((l) => `${JSON.stringify(l)},`).join('\n')}\n]}`;
  const bytes = new Uint8Array(gzipSync(text));
  const entry: HistoryFileEntry = {
    url,
    gzipSize: bytes.byteLength,
    gzipMd5: spoil ? md5('other') : md5(bytes),
    fileSize: Buffer.byteLength(text),
    fileMd5: md5(text),
  };
  return { entry, bytes };
}

class FakeGroupFiles implements HistoryFilesApi {
  public readonly asked: string[] = [];
  public readonly files = new Map<string, ReturnType<typeof groupFile>[]>();

  public async getHistoryFiles(chatType: 'C2C' | 'Group', hour: string): Promise<HistoryFileEntry[] | null> {
    expect(chatType).toBe('Group');
    this.asked.push(hour);
    return this.files.get(hour)?.map((f) => f.entry) ?? null;
  }

  public async download(url: string): Promise<Uint8Array> {
    for (const list of this.files.values()) {
      const found = list.find((f) => f.entry.url === url);
      if (found) return found.bytes;
    }
    throw new Error('no such file');
  }
}

async function keys(store: MemoryStore, prefix: string): Promise<string[]> {
  const out: string[] = [];
  for await (const key of store.list(prefix)) out.push(key);
  return out.sort();
}

const line = (groupId: string, seq: number, time: number) => ({
  GroupId: groupId,
  From_Account: 'u',
  MsgTimestamp: time,
  MsgSeq: seq,
  MsgBody: [],
});

function run(api: FakeGroupFiles, store: MemoryStore, clock: FakeClock, stop?: AbortSignal) {
  return fetchGroupHistoryFiles(
    { api, store, clock, logger: silentLogger },
    { sdkAppId: APP, runId: 'r1', timeZone: 'Asia/Shanghai', deadlineMs: null },
    { fence: async () => undefined, signal: new AbortController().signal, stop },
  );
}

describe('fetchGroupHistoryFiles', () => {
  it('keeps and indexes each file once, writes one row per hour, and asks only for hours without one', async () => {
    // Prepare: two hours with files (one of two files, one with a spoiled MD5), the rest empty.
    const hours = fetchableHours(NOW_SEC);
    const [a, b] = [hours.at(-10) as string, hours.at(-9) as string];
    const api = new FakeGroupFiles();
    api.files.set(a, [
      groupFile('u/a0', [line('g1', 1, 100), line('g1', 2, 101), { From_Account: 'x' }]),
      groupFile('u/a1', [line('g2', 7, 102)]),
    ]);
    api.files.set(b, [groupFile('u/b0', [line('g1', 3, 200)], true)]);
    const store = new MemoryStore();
    const clock = new FakeClock(NOW_SEC * 1000);

    // Act
    const first = await run(api, store, clock);

    // Assess
    expect(first).toMatchObject({ filesKept: 2, filesRejected: 1, messagesIndexed: 3, unreadableLines: 1 });
    expect(first.done).toBe(true);
    const indexes = await keys(store, 'history-file-messages/');
    expect(indexes).toHaveLength(2);
    const rows = indexes.flatMap((k) =>
      gunzipSync(store.body(k) as Uint8Array)
        .toString('utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as { group_id: string; msg_seq: number; hour: string; msg_dt: string }),
    );
    expect(rows.map((r) => `${r.hour} ${r.group_id} ${r.msg_seq}`).sort()).toEqual([
      `${a} g1 1`,
      `${a} g1 2`,
      `${a} g2 7`,
    ]);
    const hourRows = await keys(store, 'history-file-hours/');
    expect(hourRows.some((k) => k.endsWith(`/group-${a}.ndjson.gz`))).toBe(true);
    expect(hourRows.some((k) => k.endsWith(`/group-${b}.ndjson.gz`))).toBe(false);
    // Empty hours six hours past their end get a row; the newest hours do not yet.
    expect(first.hours).toBe(hourRows.length);
    expect(hourRows.length).toBeLessThan(hours.length - 1);

    // A second run asks for the spoiled hour and the newest ones only, and writes nothing twice.
    api.files.set(b, [groupFile('u/b0', [line('g1', 3, 200)])]);
    api.asked.length = 0;
    const second = await run(api, store, clock);
    expect(api.asked).toContain(b);
    expect(api.asked).not.toContain(a);
    expect(api.asked.length).toBe(hours.length - hourRows.length);
    expect(second).toMatchObject({ filesKept: 1, filesRejected: 0, messagesIndexed: 1 });
    expect(await keys(store, 'history-file-messages/')).toHaveLength(3);
  });

  it('stops between hours at a stop, leaving the rest for the next run', async () => {
    const api = new FakeGroupFiles();
    const store = new MemoryStore();
    const stop = new AbortController();
    stop.abort();
    const report = await run(api, store, new FakeClock(NOW_SEC * 1000), stop.signal);
    expect(report).toMatchObject({ hours: 0, hoursLeft: fetchableHours(NOW_SEC).length, done: false });
    expect(api.asked).toEqual([]);
  });
});
