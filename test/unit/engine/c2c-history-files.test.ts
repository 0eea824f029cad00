/**
 * Pair discovery from the hourly `get_history` files (functions/engine/c2c-discovery.ts) in the
 * one-to-one pass over the in-memory fakes: a pair only an hourly file names is archived; the raw
 * file is kept once under `history-files/`; a file whose MD5 does not match is rejected and its hour
 * fetched again next run, a fetched hour is not; a run killed after keeping a file and before its
 * head writes it no second time, and every message is archived once.
 */
import { createHash } from 'node:crypto';
import { gunzipSync, gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { conversationOf, parseC2cRecordLine } from '../../../functions/domain/c2c-record.ts';
import { StorageError } from '../../../functions/domain/errors.ts';
import {
  beijingHour,
  type HistoryFileEntry,
  type HistoryFilesApi,
} from '../../../functions/domain/history-file.ts';
import type { RoamMessage } from '../../../functions/domain/tencent-types.ts';
import { runC2cPass } from '../../../functions/engine/c2c-pass.ts';
import { FakeChatApi, FakeClock, MemoryStore, silentLogger } from '../../helpers/engine-fakes.ts';

const APP = 1400000001;
const NOW_SEC = Date.UTC(2026, 0, 1, 12) / 1000;

function conversation(from: string, to: string, count: number, startSec: number): RoamMessage[] {
  return Array.from({ length: count }, (_, i) => ({
    From_Account: i % 2 === 0 ? from : to,
    To_Account: i % 2 === 0 ? to : from,
    MsgSeq: i,
    MsgRandom: i,
    MsgTimeStamp: startSec + i * 30,
    MsgKey: `${from}-${to}-${i}`,
    MsgFlagBits: 0,
    MsgBody: [{ MsgType: 'TIMTextElem', MsgContent: { Text: `m${i}` } }],
  }));
}

const md5 = (data: Uint8Array | string) => createHash('md5').update(data).digest('hex');

/** A file in the documented layout holding these messages, and its answer entry. */
function hourFile(url: string, messages: RoamMessage[]): { entry: HistoryFileEntry; bytes: Uint8Array } {
  const lines = messages.map((m) =>
    JSON.stringify({
      ChatType: 'C2C',
      From_Account: m.From_Account,
      To_Account: m.To_Account,
      MsgTimestamp: m.MsgTimeStamp,
      MsgSeq: m.MsgSeq,
      MsgBody: m.MsgBody,
    }),
  );
  const text = `{"MsgList":[\n${lines.map((l) => `${l},`).join('\n')}\n]}`;
  const bytes = new Uint8Array(gzipSync(text));
  return {
    entry: {
      url,
      gzipSize: bytes.byteLength,
      gzipMd5: md5(bytes),
      fileSize: Buffer.byteLength(text),
      fileMd5: md5(text),
    },
    bytes,
  };
}

/** A fake `get_history`: the files of each hour; null (1004) for every other hour. */
class FakeHistoryFiles implements HistoryFilesApi {
  public readonly asked: string[] = [];
  public readonly files = new Map<string, { entry: HistoryFileEntry; bytes: Uint8Array }[]>();

  public async getHistoryFiles(chatType: 'C2C' | 'Group', hour: string): Promise<HistoryFileEntry[] | null> {
    expect(chatType).toBe('C2C');
    this.asked.push(hour);
    return this.files.get(hour)?.map((f) => f.entry) ?? null;
  }

  public async download(url: string): Promise<Uint8Array> {
    for (const list of this.files.values()) {
      const found = list.find((f) => f.entry.url === url);
      if (found) return found.bytes;
    }
    throw new Error(`no file at ${url}`);
  }
}

function archivedIds(store: MemoryStore): string[] {
  return store.keys('c2c/').flatMap((key) =>
    gunzipSync(store.body(key) as Uint8Array)
      .toString('utf8')
      .split('\n')
      .filter((line) => line !== '')
      .map((line) => {
        const row = parseC2cRecordLine(line);
        return `${row.conversation} ${row.msg_key}`;
      }),
  );
}

function setup() {
  const store = new MemoryStore();
  const clock = new FakeClock(NOW_SEC * 1000);
  // dave and erin talked five hours ago; only the hourly file of that hour says so.
  const de = {
    accounts: ['dave', 'erin'] as const,
    messages: conversation('erin', 'dave', 30, NOW_SEC - 5 * 3_600),
  };
  // frank and gina talked four hours ago; their hour's file comes corrupted first.
  const fg = {
    accounts: ['frank', 'gina'] as const,
    messages: conversation('frank', 'gina', 6, NOW_SEC - 4 * 3_600),
  };
  const api = new FakeChatApi({ c2c: [de, fg], serverNowMs: () => clock.now() });
  const files = new FakeHistoryFiles();
  const deHour = beijingHour(de.messages[0]?.MsgTimeStamp as number);
  const fgHour = beijingHour(fg.messages[0]?.MsgTimeStamp as number);
  expect(deHour).not.toBe(fgHour);
  files.files.set(deHour, [hourFile('https://files.example/de', de.messages)]);
  const good = hourFile('https://files.example/fg', fg.messages);
  files.files.set(fgHour, [{ entry: { ...good.entry, gzipMd5: md5('something else') }, bytes: good.bytes }]);
  let run = 0;
  const pass = () =>
    runC2cPass(
      {
        roam: api,
        store,
        clock,
        logger: silentLogger,
        serverNowMs: () => clock.now(),
        fence: async () => {},
        signal: new AbortController().signal,
        historyFiles: files,
      },
      {
        sdkAppId: APP,
        runId: `run${++run}`,
        timeZone: 'UTC',
        retentionDays: 7,
        deadlineMs: null,
        observedAtSec: NOW_SEC,
        checkpointIntervalMs: 60_000,
        flushBytes: 1 << 20,
        concurrency: 2,
        pairs: [],
        shards: 8,
      },
    );
  return { store, files, de, fg, deHour, fgHour, good, pass };
}

const idsOf = (accounts: readonly [string, string], messages: RoamMessage[]) =>
  messages.map((m) => `${conversationOf(...accounts)} ${m.MsgKey}`);

describe('pair discovery from the hourly files', () => {
  it('archives a pair only a file names, keeps the file once, and fetches again only the hour that failed its check', async () => {
    const { store, files, de, fg, deHour, fgHour, good, pass } = setup();

    const first = await pass();

    expect(first).toMatchObject({
      pairsDiscovered: 1,
      historyFilesKept: 1,
      historyFilesRejected: 1,
      historySightings: 30,
      done: true,
    });
    expect(archivedIds(store).sort()).toEqual(idsOf(de.accounts, de.messages).sort());
    const kept = store.keys('history-files/');
    expect(kept).toEqual([
      `history-files/sdkappid=${APP}/chat=c2c/hour=${deHour}/0-${md5(files.files.get(deHour)?.[0]?.bytes as Uint8Array)}.json.gz`,
    ]);
    expect(store.body(kept[0] as string)).toEqual(files.files.get(deHour)?.[0]?.bytes);

    // The corrupted file is served right now: the next run asks for its hour again, not for the good one.
    files.files.set(fgHour, [good]);
    files.asked.length = 0;
    const second = await pass();

    expect(files.asked).toContain(fgHour);
    expect(files.asked).not.toContain(deHour);
    expect(second).toMatchObject({ pairsDiscovered: 1, historyFilesKept: 1, historyFilesRejected: 0 });
    const ids = archivedIds(store);
    expect(ids.length).toBe(new Set(ids).size);
    expect(ids.sort()).toEqual(
      [...idsOf(de.accounts, de.messages), ...idsOf(fg.accounts, fg.messages)].sort(),
    );
    expect(store.keys('history-files/')).toHaveLength(2);
  });

  it('keeps a file once when the run died after keeping it and before its head', async () => {
    const { store, de, fgHour, good, files, pass } = setup();
    files.files.set(fgHour, [good]);
    store.fail({
      op: 'put',
      key: (k) => k.includes('/witness/'),
      when: 'after',
      error: new StorageError('boom'),
    });

    await expect(pass()).rejects.toBeInstanceOf(StorageError);
    expect(store.keys('history-files/')).toHaveLength(2);
    expect(archivedIds(store)).toEqual([]);

    const second = await pass();

    expect(second).toMatchObject({
      historyFilesKept: 0,
      pairsDiscovered: 2,
      rolledBackObjects: expect.any(Number),
    });
    expect(second.rolledBackObjects).toBeGreaterThan(0);
    expect(store.keys('history-files/')).toHaveLength(2);
    const ids = archivedIds(store);
    expect(ids.length).toBe(new Set(ids).size);
    expect(ids.filter((id) => id.startsWith(conversationOf('dave', 'erin'))).sort()).toEqual(
      idsOf(de.accounts, de.messages).sort(),
    );
  });
});
