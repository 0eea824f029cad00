import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { PreconditionFailedError, StorageError } from '../../../functions/domain/errors.ts';
import { mediaObjectKey } from '../../../functions/domain/media-manifest.ts';
import type { MediaRef } from '../../../functions/domain/media-refs.ts';
import type { MediaFetcher, MediaFetchResult } from '../../../functions/domain/ports.ts';
import { copyMedia, NO_URL_REASON } from '../../../functions/engine/media-copy.ts';
import { MemoryStore } from '../../helpers/engine-fakes.ts';

const REF: MediaRef = {
  sdkAppId: 1400000001,
  groupId: 'g1',
  topicId: null,
  msgSeq: 7,
  msgTime: 1_767_225_600,
  elementPath: '0',
  sizeClass: 'file',
  kind: 'file',
  uuid: 'u-7',
  url: 'https://cos.example/f/7',
  declaredSize: 5,
  fileName: 'report.pdf',
  format: null,
};

const BYTES = Buffer.from('hello');
const SHA = createHash('sha256').update(BYTES).digest('hex');
const KEY = mediaObjectKey(SHA);

/** A fetcher that answers `result` (an archived file of {@link BYTES} by default) and counts what it did. */
function fakeFetcher(
  over: Partial<Extract<MediaFetchResult, { status: 'archived' }>> | MediaFetchResult = {},
) {
  const seen = { downloads: 0, disposed: 0 };
  const fetcher: MediaFetcher = {
    refusal: () => undefined,
    download: async () => {
      seen.downloads++;
      if (over.status !== undefined && over.status !== 'archived') return over as MediaFetchResult;
      return {
        status: 'archived',
        sha256: SHA,
        bytes: BYTES.length,
        contentType: 'application/pdf',
        reason: null,
        attempts: 2,
        open: () => Readable.from([BYTES]),
        dispose: async () => {
          seen.disposed++;
        },
        ...over,
      };
    },
  };
  return { fetcher, seen };
}

describe('copyMedia', () => {
  it('records an element without URL as no_url and downloads nothing', async () => {
    const { fetcher, seen } = fakeFetcher();
    const result = await copyMedia({ ...REF, url: null }, { fetcher, store: new MemoryStore() });
    expect(result).toEqual({
      outcome: { status: 'no_url', reason: NO_URL_REASON },
      attempts: 0,
      storedBytes: 0,
    });
    expect(seen.downloads).toBe(0);
  });

  it('passes an expired, refused or failed download through without writing', async () => {
    const store = new MemoryStore();
    const { fetcher } = fakeFetcher({ status: 'expired', reason: 'HTTP 404', attempts: 1 });
    expect(await copyMedia(REF, { fetcher, store })).toEqual({
      outcome: { status: 'expired', reason: 'HTTP 404' },
      attempts: 1,
      storedBytes: 0,
    });
    expect(store.calls).toEqual([]);
  });

  it('stores new bytes content-addressed and create-only, with type and metadata, then disposes the temp copy', async () => {
    const store = new MemoryStore();
    const { fetcher, seen } = fakeFetcher();
    const result = await copyMedia(REF, { fetcher, store });
    expect(result).toEqual({
      outcome: { status: 'archived', sha256: SHA, bytes: 5, contentType: 'application/pdf', reason: null },
      attempts: 2,
      storedBytes: 5,
    });
    expect(store.calls.map((c) => `${c.op} ${c.key}`)).toEqual([`head ${KEY}`, `putStream ${KEY}`]);
    expect(store.calls[1]?.options).toEqual({
      ifNoneMatch: '*',
      contentType: 'application/pdf',
      metadata: { sha256: SHA, kind: 'file', 'original-filename': 'report.pdf' },
    });
    expect(store.text(KEY)).toBe('hello');
    expect(seen.disposed).toBe(1);
  });

  it('leaves out the content type and file name when unknown', async () => {
    const store = new MemoryStore();
    const { fetcher } = fakeFetcher({ contentType: null });
    await copyMedia({ ...REF, fileName: null }, { fetcher, store });
    expect(await store.head(KEY)).toEqual({
      bytes: 5,
      contentType: undefined,
      metadata: { sha256: SHA, kind: 'file' },
    });
  });

  it('does not write bytes already stored, and counts none as stored', async () => {
    const store = new MemoryStore();
    store.seed(KEY, BYTES);
    const { fetcher, seen } = fakeFetcher();
    const result = await copyMedia(REF, { fetcher, store });
    expect(result.outcome.status).toBe('archived');
    expect(result.storedBytes).toBe(0);
    expect(store.calls.map((c) => c.op)).toEqual(['head']);
    expect(seen.disposed).toBe(1);
  });

  it('treats a lost create-only race as already stored', async () => {
    const store = new MemoryStore().fail({
      op: 'putStream',
      key: KEY,
      error: new PreconditionFailedError(KEY),
    });
    const { fetcher } = fakeFetcher();
    const result = await copyMedia(REF, { fetcher, store });
    expect(result.outcome.status).toBe('archived');
    expect(result.storedBytes).toBe(0);
  });

  it('refuses a stored object of another size as damaged, and still disposes', async () => {
    const store = new MemoryStore();
    store.seed(KEY, 'hello world');
    const { fetcher, seen } = fakeFetcher();
    const error = await copyMedia(REF, { fetcher, store }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StorageError);
    expect((error as Error).message).toBe(
      `${KEY} holds 11 bytes but its content has 5: the stored object is damaged`,
    );
    expect(seen.disposed).toBe(1);
  });

  it('fails when the store took fewer bytes than were downloaded', async () => {
    const { fetcher } = fakeFetcher({ bytes: 6 });
    await expect(copyMedia(REF, { fetcher, store: new MemoryStore() })).rejects.toThrow(
      `stored 5 bytes of ${KEY}, expected 6`,
    );
  });

  it('passes any other storage failure on, after disposing', async () => {
    const store = new MemoryStore().fail({ op: 'putStream', key: KEY });
    const { fetcher, seen } = fakeFetcher();
    await expect(copyMedia(REF, { fetcher, store })).rejects.toThrow(/injected putStream failure/);
    expect(seen.disposed).toBe(1);
  });

  it('runs the head and the upload through the write slots', async () => {
    const { fetcher } = fakeFetcher();
    let slots = 0;
    const writeSlots = <T>(write: () => Promise<T>): Promise<T> => {
      slots++;
      return write();
    };
    await copyMedia(REF, { fetcher, store: new MemoryStore(), writeSlots });
    expect(slots).toBe(2);
  });
});
