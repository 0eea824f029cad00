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
