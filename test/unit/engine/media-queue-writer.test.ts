import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import {
  type MediaQueueEntry,
  mediaQueueKey,
  parseQueueEntry,
} from '../../../functions/domain/media-manifest.ts';
import type { ImageSizeClass } from '../../../functions/domain/media-refs.ts';
import { gunzipNdjson } from '../../../functions/domain/ndjson-gzip.ts';
import { type ArchiveRecord, type RecordContext, toRecord } from '../../../functions/domain/record.ts';
import type { RawMessage } from '../../../functions/domain/tencent-types.ts';
import { MediaQueueWriter } from '../../../functions/engine/media-queue-writer.ts';
import type { MediaStage } from '../../../functions/engine/media-stage.ts';
import { MemoryStore, textMessage } from '../../helpers/engine-fakes.ts';

const APP = 1400000001;
const DAY0 = Date.UTC(2026, 2, 10) / 1000;

function fileMessage(seq: number, name = `f${seq}.txt`): RawMessage {
  return {
    ...textMessage(seq, DAY0 + seq),
    MsgBody: [
      { MsgType: 'TIMTextElem', MsgContent: { Text: 'see attached' } },
      {
        MsgType: 'TIMFileElem',
        MsgContent: { UUID: `u${seq}`, Url: `https://cos.example/${seq}`, FileSize: 10, FileName: name },
      },
    ],
  };
}

/** An image of three sizes; `urlOf` names each size's URL (o, l, t). */
function imageMessage(seq: number, urlOf = (size: string) => `https://cos.example/${size}`): RawMessage {
  return {
    ...textMessage(seq, DAY0 + seq),
    MsgBody: [
      {
        MsgType: 'TIMImageElem',
        MsgContent: {
          UUID: `img${seq}`,
          ImageFormat: 3,
          ImageInfoArray: [
            { Type: 1, Size: 100, URL: urlOf('o') },
            { Type: 2, Size: 50, URL: urlOf('l') },
            { Type: 3, Size: 10, URL: urlOf('t') },
          ],
        },
      },
    ],
  };
}

function rec(message: RawMessage, over: Partial<RecordContext> = {}): ArchiveRecord {
  return toRecord(message, { sdkAppId: APP, groupId: 'g1', topicId: null, ...over });
}

/** The three members of MediaStage the writer uses; everything it is handed is recorded. */
function fakeStage(imageSizes: readonly ImageSizeClass[] = ['original']) {
  let part = 0;
  const enqueued: { key: string; count: number }[] = [];
  const stage = {
    imageSizes,
    nextQueueKey: () => mediaQueueKey(APP, 'runA', part++),
    enqueueStored: (key: string, count: number) => enqueued.push({ key, count }),
  };
  return { stage: stage as unknown as MediaStage, enqueued };
}

function newWriter(store: MemoryStore, stage: MediaStage) {
  return new MediaQueueWriter({ sdkAppId: APP, runId: 'runA', timeZone: 'UTC', store }, stage);
}

function queueIn(store: MemoryStore, key: string): MediaQueueEntry[] {
  const body = store.body(key);
  if (body === undefined) throw new Error(`${key} was not written`);
  return gunzipNdjson(body).map(parseQueueEntry);
}

describe('MediaQueueWriter', () => {
  it('names a queue object in the plan, writes it with the messages, and hands it on only once committed', async () => {
    const store = new MemoryStore();
    const { stage, enqueued } = fakeStage();
    const writer = newWriter(store, stage);
    writer.addAll([rec(fileMessage(1)), rec(textMessage(2, DAY0 + 2)), rec(fileMessage(3))]);
    const queueKey = mediaQueueKey(APP, 'runA', 0);
    const planned = writer.planFlush();
    expect(planned.map((p) => p.kind)).toEqual(['messages', 'fingerprints', 'media-queue']);
    expect(planned[2]).toEqual({ key: queueKey, dt: '', kind: 'media-queue' });

    const result = await writer.flush();
    expect(result.objects).toBe(2);
    expect(result.records).toBe(3);
    const queuePut = store.calls.find((c) => c.key === queueKey);
    expect(queuePut?.options).toEqual({
      ifNoneMatch: '*',
      contentType: 'application/x-ndjson',
      contentEncoding: 'gzip',
    });
    const messageBytes = store.body(planned[0]?.key ?? '')?.byteLength ?? 0;
    expect(result.bytes).toBe(messageBytes + (store.body(queueKey)?.byteLength ?? 0));
    const entries = queueIn(store, queueKey);
    expect(
      entries.map((e) => [e.ref.msgSeq, e.ref.elementPath, e.ref.fileName, e.attempts, e.lastError]),
    ).toEqual([
      [1, '1', 'f1.txt', 0, null],
      [3, '1', 'f3.txt', 0, null],
    ]);

    expect(enqueued).toEqual([]);
    writer.committed();
    expect(enqueued).toEqual([{ key: queueKey, count: entries.length }]);
    writer.committed();
    expect(enqueued).toHaveLength(1);
  });

  it('plans and writes no queue object for records without media', async () => {
    const store = new MemoryStore();
    const { stage, enqueued } = fakeStage();
    const writer = newWriter(store, stage);
    writer.addAll([rec(textMessage(1, DAY0))]);
    expect(writer.planFlush().map((p) => p.kind)).toEqual(['messages', 'fingerprints']);
    await writer.flush();
    writer.committed();
    expect(store.keys('state/')).toEqual([]);
    expect(enqueued).toEqual([]);
  });

  it('queues the media of first captures and of changed content, not of recalls or deletions', async () => {
    const store = new MemoryStore();
    const { stage } = fakeStage();
    const writer = newWriter(store, stage);
    writer.addAll([
      rec(fileMessage(1), { revision: 1, change: 'modified' }),
      rec(fileMessage(2), { revision: 2, change: 'restored' }),
      rec(fileMessage(3), { revision: 1, change: 'recalled' }),
      rec(fileMessage(4), { revision: 1, change: 'deleted' }),
      rec(fileMessage(5)),
    ]);
    await writer.flush();
    const entries = queueIn(store, mediaQueueKey(APP, 'runA', 0));
    expect(entries.map((e) => [e.ref.msgSeq, e.ref.revision])).toEqual([
      [1, 1],
      [2, 2],
      [5, undefined],
    ]);
  });

  it('queues every image size the stage copies', async () => {
    const store = new MemoryStore();
    const { stage } = fakeStage(['original', 'thumbnail']);
    const writer = newWriter(store, stage);
    writer.addAll([rec(imageMessage(1))]);
    await writer.flush();
    const entries = queueIn(store, mediaQueueKey(APP, 'runA', 0));
    expect(entries.map((e) => [e.ref.sizeClass, e.ref.url])).toEqual([
      ['original', 'https://cos.example/o'],
      ['thumbnail', 'https://cos.example/t'],
    ]);
  });

  it('keeps references added after the plan for the next queue object', async () => {
    const store = new MemoryStore();
    const { stage, enqueued } = fakeStage();
    const writer = newWriter(store, stage);
    writer.addAll([rec(fileMessage(1))]);
    writer.planFlush();
    writer.addAll([rec(fileMessage(2))]);
    await writer.flush();
    writer.committed();
    await writer.flush();
    writer.committed();
    expect(enqueued.map((q) => [q.key, queueIn(store, q.key).map((e) => e.ref.msgSeq)])).toEqual([
      [mediaQueueKey(APP, 'runA', 0), [1]],
      [mediaQueueKey(APP, 'runA', 1), [2]],
    ]);
  });

  it('drops its references on discard, and writes no queue when the fence stops the flush', async () => {
    const store = new MemoryStore();
    const { stage, enqueued } = fakeStage();
    const writer = newWriter(store, stage);
    writer.addAll([rec(fileMessage(1))]);
    const stop = new Error('lease lost');
    await expect(
      writer.flush(async () => {
        throw stop;
      }),
    ).rejects.toBe(stop);
    expect(store.keys()).toEqual([]);
    writer.discard();
    writer.addAll([rec(textMessage(2, DAY0 + 2))]);
    expect(writer.planFlush().map((p) => p.kind)).toEqual(['messages', 'fingerprints']);
    await writer.flush();
    writer.committed();
    expect(enqueued).toEqual([]);
    expect(store.keys('state/')).toEqual([]);
  });

  it("holds a checkpoint's buffered references gzipped as they come: under 200 bytes each with their records (lines: about 440, entry objects: about 810)", async () => {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    /** Heap in use and array buffers (what waits for the compressor, and its output) after a full collection. */
    const inUse = () => {
      gc();
      gc();
      const { heapUsed, arrayBuffers } = process.memoryUsage();
      return heapUsed + arrayBuffers;
    };
    const turns = async () => {
      for (let i = 0; i < 3; i++) await new Promise<void>((resolve) => setTimeout(resolve, 10));
    };
    const { stage } = fakeStage();
    const writer = newWriter(new MemoryStore(), stage);
    await turns();
    const before = inUse();
    const count = 20_000;
    // One original-size image each, with a long URL, as a busy group's checkpoint would buffer; the
    // loop turns between pages, as paging's does.
    for (let seq = 1; seq <= count; seq++) {
      const urlOf = (size: string) => `https://cos.example.com/im/${seq}/${size}-0123456789abcdef.jpg`;
      writer.addAll([rec(imageMessage(seq, urlOf))]);
      if (seq % 1_000 === 0) await turns();
    }
    await turns();
    const perReference = (inUse() - before) / count;
    expect(writer.bufferedRecords).toBe(count);
    // Measured about 115 (the records' partition and fingerprint log included); about 440 with the
    // queue lines held, about 810 with entry objects.
    expect(perReference).toBeLessThan(200);
  });
});
