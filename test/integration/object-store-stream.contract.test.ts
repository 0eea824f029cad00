/**
 * The streaming part of the ObjectStore contract (putStream, head), run against the local folder
 * and S3 (s3rver): bytes intact through a multipart upload, create-only, metadata, and nothing left
 * behind by a body that fails or an upload that is aborted.
 */
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalFolderStore } from '../../functions/adapters/local-folder/local-folder-store.ts';
import { PreconditionFailedError, StorageError } from '../../functions/domain/errors.ts';
import { listAll } from '../helpers/archive.ts';
import { rejection } from '../helpers/assertions.ts';
import { storeHarnesses } from '../helpers/store-harness.ts';

/** `length` deterministic bytes in 1 MiB chunks, streamed. */
function bytesStream(length: number, seed = 7): Readable {
  return Readable.from(chunks(length, seed));
}
function* chunks(length: number, seed: number): Generator<Buffer> {
  for (let offset = 0; offset < length; offset += 1 << 20) {
    const size = Math.min(1 << 20, length - offset);
    const chunk = Buffer.allocUnsafe(size);
    for (let i = 0; i < size; i++) chunk[i] = (offset + i + seed) % 253;
    yield chunk;
  }
}
const expected = (length: number, seed = 7) => Buffer.concat([...chunks(length, seed)]);

describe.each(storeHarnesses())('StreamingObjectStore contract: $name', (harness) => {
  beforeAll(() => harness.start());
  afterAll(() => harness.stop());

  it('stores a streamed body byte for byte (12 MiB: several multipart parts on S3)', async () => {
    // Prepare
    const { store } = await harness.fresh();
    const length = 12 * 1024 * 1024 + 5;

    // Act
    const { bytes } = await store.putStream('media/sha256/ab/big', bytesStream(length), {
      ifNoneMatch: '*',
      contentType: 'video/mp4',
    });
    const stored = await store.get('media/sha256/ab/big');

    // Assess
    expect(bytes).toBe(length);
    expect(Buffer.from(stored?.body ?? []).equals(expected(length))).toBe(true);
  });

  it('keeps the content type and metadata, non-ASCII file names included', async () => {
    // Prepare
    const { store } = await harness.fresh();

    // Act
    await store.putStream('media/x', bytesStream(10), {
      contentType: 'application/pdf',
      metadata: { 'original-filename': '季度报告 Q3 100%.pdf', kind: 'file' },
    });
    const head = await store.head('media/x');

    // Assess
    expect(head).toEqual({
      bytes: 10,
      contentType: 'application/pdf',
      metadata: { 'original-filename': '季度报告 Q3 100%.pdf', kind: 'file' },
    });
    expect(await store.head('media/absent')).toBeUndefined();
  });

  it('is create-only with ifNoneMatch: the second put fails and the first body stays', async () => {
    // Prepare
    const { store } = await harness.fresh();
    await store.putStream('media/once', bytesStream(100, 1), { ifNoneMatch: '*' });

    // Act
    const error = await rejection(store.putStream('media/once', bytesStream(100, 2), { ifNoneMatch: '*' }));

    // Assess
    expect(error).toBeInstanceOf(PreconditionFailedError);
    expect(Buffer.from((await store.get('media/once'))?.body ?? []).equals(expected(100, 1))).toBe(true);
  });

  it('leaves nothing behind when the body fails midway', async () => {
    // Prepare
    const { store } = await harness.fresh();
    async function* failing() {
      yield Buffer.alloc(6 * 1024 * 1024, 1);
      throw new Error('connection to the media server reset');
    }

    // Act
    const error = await rejection(
      store.putStream('media/broken', Readable.from(failing()), { ifNoneMatch: '*' }),
    );

    // Assess
    expect(error).toBeInstanceOf(StorageError);
    expect(await store.get('media/broken')).toBeUndefined();
    expect(await listAll(store, '')).toEqual([]);
  });

  it('publishes nothing when aborted', async () => {
    // Prepare
    const { store } = await harness.fresh();
    const controller = new AbortController();
    async function* slow() {
      yield Buffer.alloc(1024, 1);
      controller.abort();
      yield Buffer.alloc(1024, 2);
    }

    // Act
    const error = await rejection(
      store.putStream('media/aborted', Readable.from(slow()), { signal: controller.signal }),
    );

    // Assess
    expect(error).toBeInstanceOf(StorageError);
    expect(await store.get('media/aborted')).toBeUndefined();
  });
});

describe('LocalFolderStore.putStream temp files', () => {
  it('leaves no temp file after a failed body', async () => {
    const root = await mkdtemp(join(tmpdir(), 'stream-temp-'));
    try {
      const store = new LocalFolderStore(root);
      async function* failing() {
        yield Buffer.alloc(1000);
        throw new Error('boom');
      }
      await rejection(store.putStream('media/t', Readable.from(failing())));
      expect(await readdir(join(root, '.archiver-tmp'))).toEqual([]);
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });
});
