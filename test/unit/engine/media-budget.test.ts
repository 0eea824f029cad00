/**
 * withByteBudget (functions/engine/media-budget.ts): what a download reserves, and that the bytes
 * come back when its temp file is gone: after dispose (even a failed one), at once for a download
 * without a file, and when the download throws.
 */
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { ByteBudget } from '../../../functions/domain/byte-budget.ts';
import type { MediaRef } from '../../../functions/domain/media-refs.ts';
import type { MediaFetcher, MediaFetchResult } from '../../../functions/domain/ports.ts';
import { reservedBytes, withByteBudget } from '../../../functions/engine/media-budget.ts';

function fileRef(declaredSize: number | null): MediaRef {
  return {
    sdkAppId: 1400000003,
    groupId: 'g1',
    topicId: null,
    msgSeq: 1,
    msgTime: 1_767_139_200,
    elementPath: '0',
    sizeClass: 'original',
    kind: 'file',
    uuid: null,
    url: 'https://cdn.test/f.bin',
    declaredSize,
    fileName: null,
    format: null,
  };
}

/** Answers every download with `answer`, recording the budget's bytes in use meanwhile. */
function fetcherOf(
  answer: () => Promise<MediaFetchResult>,
  budget: ByteBudget,
  seen: number[],
): MediaFetcher {
  return {
    refusal: () => undefined,
    download: () => {
      seen.push(budget.inUse);
      return answer();
    },
  };
}

function archived(dispose: () => Promise<void>): MediaFetchResult {
  return {
    status: 'archived',
    sha256: '0'.repeat(64),
    bytes: 3,
    contentType: null,
    reason: null,
    attempts: 1,
    open: () => Readable.from([Buffer.from('abc')]),
    dispose,
  };
}

describe('withByteBudget', () => {
  it('reserves the declared size, maxBytes when none is declared, never more than maxBytes', () => {
    expect(reservedBytes(fileRef(300), 1_000)).toBe(300);
    expect(reservedBytes(fileRef(null), 1_000)).toBe(1_000);
    expect(reservedBytes(fileRef(5_000), 1_000)).toBe(1_000);
  });

  it('holds the bytes from before the download until its temp file is disposed', async () => {
    const budget = new ByteBudget(1_000);
    const seen: number[] = [];
    const fetcher = withByteBudget(
      fetcherOf(async () => archived(async () => undefined), budget, seen),
      budget,
      1_000,
    );
    const result = await fetcher.download(fileRef(300));
    expect(seen).toEqual([300]);
    expect(budget.inUse).toBe(300);
    if (result.status !== 'archived') throw new Error('expected a file');
    await result.dispose();
    expect(budget.inUse).toBe(0);
  });

  it('gives the bytes back when removing the temp file fails, and reports the failure', async () => {
    const budget = new ByteBudget(1_000);
    const fetcher = withByteBudget(
      fetcherOf(async () => archived(() => Promise.reject(new Error('EBUSY'))), budget, []),
      budget,
      1_000,
    );
    const result = await fetcher.download(fileRef(null));
    expect(budget.inUse).toBe(1_000);
    if (result.status !== 'archived') throw new Error('expected a file');
    await expect(result.dispose()).rejects.toThrow('EBUSY');
    expect(budget.inUse).toBe(0);
  });

  it('gives the bytes back at once for a download that leaves no file, or throws', async () => {
    const budget = new ByteBudget(1_000);
    const refused = withByteBudget(
      fetcherOf(async () => ({ status: 'refused', reason: 'too large', attempts: 1 }), budget, []),
      budget,
      1_000,
    );
    expect(await refused.download(fileRef(200))).toMatchObject({ status: 'refused' });
    expect(budget.inUse).toBe(0);

    const throwing = withByteBudget(
      fetcherOf(() => Promise.reject(new Error('aborted')), budget, []),
      budget,
      1_000,
    );
    await expect(throwing.download(fileRef(200))).rejects.toThrow('aborted');
    expect(budget.inUse).toBe(0);
  });
});
