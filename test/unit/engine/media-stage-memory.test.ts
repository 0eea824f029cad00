/**
 * Memory of the media stage (issue 23): when copying is slower than paging, the batches waiting
 * beyond MAX_WAITING_IN_MEMORY references wait as their queue objects and are read back in their
 * turn, and a batch starts only when the running ones are about to leave download slots idle; so
 * the stage holds what is in flight, not every reference the run archived.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import {
  type MediaQueueEntry,
  mediaQueuePrefix,
  parseManifestRow,
  serializeQueueEntry,
} from '../../../functions/domain/media-manifest.ts';
import type { MediaRef } from '../../../functions/domain/media-refs.ts';
import { gzipNdjson } from '../../../functions/domain/ndjson-gzip.ts';
import type { MediaFetcher } from '../../../functions/domain/ports.ts';
import { MAX_WAITING_IN_MEMORY, MediaStage } from '../../../functions/engine/media-stage.ts';
import { StateKeeper } from '../../../functions/engine/state-keeper.ts';
import { FakeClock, MemoryStore, silentLogger } from '../../helpers/engine-fakes.ts';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

/** Heap in use after a full collection (the store's bodies are array buffers, not counted). */
function heapInUse(): number {
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}

/** Heap in use and array buffers (compressed output is held in buffers) after a full collection. */
function heapAndBuffers(): number {
  gc();
  gc();
  const { heapUsed, arrayBuffers } = process.memoryUsage();
  return heapUsed + arrayBuffers;
}

const APP = 1400000005;
const T0 = Date.UTC(2025, 11, 31) / 1000;

function ref(batch: number, i: number): MediaRef {
  const msgSeq = batch * 10_000 + i;
  return {
    sdkAppId: APP,
    groupId: `@TGS#1MEDIA${String(batch).padStart(6, '0')}`,
    topicId: null,
    msgSeq,
    msgTime: T0 + msgSeq,
    elementPath: '0',
    sizeClass: 'original',
    kind: 'image',
    uuid: `uuid-${msgSeq}`,
    url: `https://cdn.test/${batch}/${msgSeq}.png`,
    declaredSize: null,
    fileName: `photo-${msgSeq}.png`,
    format: null,
  };
}

/** One checkpoint's references, as the queue writer hands them over. */
function batchEntries(batch: number, size: number): MediaQueueEntry[] {
  return Array.from({ length: size }, (_, i) => ({ ref: ref(batch, i), attempts: 0, lastError: null }));
}

async function openStage(store: MemoryStore, fetcher: MediaFetcher): Promise<MediaStage> {
  const clock = new FakeClock();
  const keeper = await StateKeeper.open({
    store,
    sdkAppId: APP,
    runId: 'run-m',
    clock,
    logger: silentLogger,
    leaseMs: 120_000,
  });
  return MediaStage.open(
    { fetcher, store, clock, logger: silentLogger },
    {
      sdkAppId: APP,
      runId: 'run-m',
      timeZone: 'UTC',
      concurrency: 4,
      imageSizes: ['original'],
      retentionDays: 7,
      headroomDays: 2,
      deadlineMs: null,
      leaseMs: 120_000,
      renewEveryMs: 60_000,
    },
    keeper,
  );
}

/** Writes the queue objects of `batches` batches of `size` (as their checkpoints would), then hands them all over. */
async function enqueueAll(
  store: MemoryStore,
  stage: MediaStage,
  batches: number,
  size: number,
): Promise<void> {
  const keys: string[] = [];
  for (let b = 0; b < batches; b++) {
    const key = stage.nextQueueKey();
    store.seed(key, await gzipNdjson(batchEntries(b, size).map(serializeQueueEntry)));
    keys.push(key);
  }
  // Handed over back to back: copying is slower than paging, so they pile up.
  keys.forEach((key, b) => {
    stage.enqueue(key, batchEntries(b, size));
  });
}

describe('media stage memory', () => {
  it('holds under 250 bytes per waiting reference when 100,000 pile up behind held downloads (was about 540)', async () => {
    const store = new MemoryStore();
    const release: (() => void)[] = [];
    /** Holds every download: nothing finishes while the references pile up. */
    const held: MediaFetcher = {
      refusal: () => undefined,
      download: async () => {
        await new Promise<void>((resolve) => release.push(resolve));
        return { status: 'failed', reason: 'held', attempts: 1 };
      },
    };
    const stage = await openStage(store, held);
    const batches = 100;
    const size = 1_000;
    const keys: string[] = [];
    for (let b = 0; b < batches; b++) {
      const key = stage.nextQueueKey();
      store.seed(key, await gzipNdjson(batchEntries(b, size).map(serializeQueueEntry)));
      keys.push(key);
    }
    const before = heapInUse();
    keys.forEach((key, b) => {
      stage.enqueue(key, batchEntries(b, size));
    });
    await new Promise<void>((resolve) => setImmediate(resolve));
    const perReference = (heapInUse() - before) / (batches * size);
    expect(release).toHaveLength(4);
    // Measured about 110 bytes: the 20,000 kept in memory and the running batch; the old stage
    // kept all 100,000 (about 540 bytes each in this test), twice the bound.
    expect(perReference).toBeLessThan(250);
    stage.close();
    for (const go of release) go();
    await stage.finish().catch(() => undefined);
  });

  it('holds under 150 bytes per reference of a batch of 20,000 in flight, its rows waiting for its last download (was about 880)', async () => {
    const store = new MemoryStore();
    const size = 20_000;
    let calls = 0;
    let reached: () => void = () => undefined;
    let releaseLast: () => void = () => undefined;
    const lastHeld = new Promise<void>((resolve) => {
      reached = resolve;
    });
    /** Every download but the last answers at once (expired: a final row); the last is held. */
    const expiring: MediaFetcher = {
      refusal: () => undefined,
      download: async () => {
        calls++;
        if (calls === size) {
          reached();
          await new Promise<void>((resolve) => {
            releaseLast = resolve;
          });
        }
        return { status: 'expired', reason: 'gone', attempts: 1 };
      },
    };
    const stage = await openStage(store, expiring);
    const key = stage.nextQueueKey();
    store.seed(key, await gzipNdjson(batchEntries(0, size).map(serializeQueueEntry)));
    // A few turns of the loop, so what gzipping the seed held is released before the baseline.
    for (let i = 0; i < 3; i++) await new Promise<void>((resolve) => setTimeout(resolve, 10));
    const before = heapAndBuffers();
    stage.enqueueStored(key, size);
    await lastHeld;
    // Every reference but one has its final row; none is committed yet (the batch waits for the last).
    const perReference = (heapAndBuffers() - before) / size;
    expect(store.keys('media-manifest/')).toEqual([]);
    releaseLast();
    const report = await stage.finish();
    expect(report).toMatchObject({ references: size, expired: size, pending: 0, checkpoints: 1 });
    // Streamed: a slice of references and the rows gzipped as they come. The stage that read the
    // batch whole held every reference as an object and every row as its line: about 880 bytes each
    // here (measured about 65 now).
    expect(perReference).toBeLessThan(150);
  });

  it('copies every reference of the batches that waited as queue objects, once', async () => {
    const store = new MemoryStore();
    /** Refuses every host: a final row without a download, so batches go as fast as they can. */
    const refusing: MediaFetcher = {
      refusal: () => 'host not allowed',
      download: () => Promise.reject(new Error('no download expected')),
    };
    const stage = await openStage(store, refusing);
    const batches = 30;
    const size = 1_000;
    expect(batches * size).toBeGreaterThan(MAX_WAITING_IN_MEMORY);
    await enqueueAll(store, stage, batches, size);
    const report = await stage.finish();

    expect(report).toMatchObject({ references: batches * size, refused: batches * size, pending: 0 });
    const seqs: number[] = [];
    for (const key of store.keys('media-manifest/')) {
      const text = gunzipSync((await store.get(key))?.body ?? new Uint8Array()).toString('utf8');
      for (const line of text.split('\n')) if (line !== '') seqs.push(parseManifestRow(line).msg_seq);
    }
    expect(seqs).toHaveLength(batches * size);
    expect(new Set(seqs).size).toBe(batches * size);
    // Every queue object was consumed (deleted once its rows were committed).
    expect(store.keys(mediaQueuePrefix(APP))).toEqual([]);
  });
});
