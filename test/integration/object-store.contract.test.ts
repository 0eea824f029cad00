/**
 * The ObjectStore contract, run against every adapter: the local folder and S3 (s3rver with the
 * conditional-write shim). A caller written against the port must see the same behaviour from both.
 */
import { gunzipSync, gzipSync } from 'node:zlib';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { PreconditionFailedError, StorageError } from '../../functions/domain/errors.ts';
import type { ObjectStore } from '../../functions/domain/storage.ts';
import { listAll } from '../helpers/archive.ts';
import { rejection } from '../helpers/assertions.ts';
import { type FreshStore, storeHarnesses } from '../helpers/store-harness.ts';

const bytes = (text: string): Uint8Array => new TextEncoder().encode(text);
const text = (body: Uint8Array | undefined): string | undefined => body && new TextDecoder().decode(body);

describe.each(storeHarnesses())('ObjectStore contract: $name', (harness) => {
  let store: ObjectStore;
  let fresh: FreshStore;

  beforeAll(() => harness.start());
  afterAll(() => harness.stop());
  beforeEach(async () => {
    fresh = await harness.fresh();
    store = fresh.store;
  });

  describe('put and get', () => {
    it('returns exactly the bytes put, for every byte value', async () => {
      // Prepare
      const body = Uint8Array.from({ length: 512 }, (_, i) => (i * 7) % 256);

      // Act
      const { etag } = await store.put('bin/all-bytes', body);
      const stored = await store.get('bin/all-bytes');

      // Assess
      expect(stored?.body).toEqual(body);
      expect(stored?.etag).toBe(etag);
    });

    it('keeps gzip bytes intact (never decompresses a Content-Encoding: gzip object)', async () => {
      // Prepare
      const ndjson = '{"seq":1,"text":"hello"}\n'.repeat(200);
      const gz = new Uint8Array(gzipSync(ndjson));

      // Act
      await store.put('events/dt=2026-01-01/part-0.json.gz', gz, {
        contentType: 'application/x-ndjson',
        contentEncoding: 'gzip',
      });
      const stored = await store.get('events/dt=2026-01-01/part-0.json.gz');

      // Assess
      expect(stored?.body).toEqual(gz);
      expect(gunzipSync(stored?.body ?? new Uint8Array()).toString()).toBe(ndjson);
    });

    it('returns undefined for an absent key', async () => {
      expect(await store.get('nothing/here')).toBeUndefined();
    });

    it('returns an ETag that changes with the content and is stable for the same content', async () => {
      // Act
      const first = await store.put('state.json', bytes('{"v":1}'));
      const second = await store.put('state.json', bytes('{"v":2}'));
      const again = await store.put('other.json', bytes('{"v":2}'));

      // Assess
      expect(first.etag).toMatch(/^"[0-9a-f]{32}"$/);
      expect(second.etag).not.toBe(first.etag);
      expect(again.etag).toBe(second.etag);
      expect(text((await store.get('state.json'))?.body)).toBe('{"v":2}');
      expect((await store.get('state.json'))?.etag).toBe(second.etag);
    });
  });

  describe('conditional writes', () => {
    it('creates once with ifNoneMatch and refuses the second create', async () => {
      // Prepare
      const first = await store.put('state.json', bytes('first'), { ifNoneMatch: '*' });

      // Act
      const error = await rejection(store.put('state.json', bytes('second'), { ifNoneMatch: '*' }));

      // Assess
      expect(error).toBeInstanceOf(PreconditionFailedError);
      expect((error as PreconditionFailedError).key).toBe('state.json');
      expect(await store.get('state.json')).toEqual({ body: bytes('first'), etag: first.etag });
    });

    it('replaces with ifMatch when the ETag is current, and returns the new ETag', async () => {
      // Prepare
      const v1 = await store.put('state.json', bytes('v1'));

      // Act
      const v2 = await store.put('state.json', bytes('v2'), { ifMatch: v1.etag });

      // Assess
      expect(v2.etag).not.toBe(v1.etag);
      expect(await store.get('state.json')).toEqual({ body: bytes('v2'), etag: v2.etag });
    });

    it('refuses ifMatch with a stale ETag and keeps the current body', async () => {
      // Prepare
      const v1 = await store.put('state.json', bytes('v1'));
      const v2 = await store.put('state.json', bytes('v2'), { ifMatch: v1.etag });

      // Act
      const error = await rejection(store.put('state.json', bytes('v3'), { ifMatch: v1.etag }));

      // Assess
      expect(error).toBeInstanceOf(PreconditionFailedError);
      expect(await store.get('state.json')).toEqual({ body: bytes('v2'), etag: v2.etag });
    });

    it('refuses ifMatch when the object is absent, and does not create it', async () => {
      // Act
      const error = await rejection(
        store.put('state.json', bytes('v1'), { ifMatch: '"0123456789abcdef0123456789abcdef"' }),
      );

      // Assess
      expect(error).toBeInstanceOf(PreconditionFailedError);
      expect(await store.get('state.json')).toBeUndefined();
    });
  });

  describe('delete', () => {
    it('removes an object, and deleting it again or deleting a never-written key is fine', async () => {
      // Prepare
      await store.put('reports/run-1.json', bytes('{}'));

      // Act
      await store.delete('reports/run-1.json');
      await store.delete('reports/run-1.json');
      await store.delete('never/written');

      // Assess
      expect(await store.get('reports/run-1.json')).toBeUndefined();
      expect(await listAll(store, '')).toEqual([]);
    });
  });

  describe('list', () => {
    // No key here is another key plus a character below "." (like "a" and "a-b"): s3rver lists
    // those out of order (it sorts its `<key>._S3rver_object` file names). The local store's
    // own test covers that ordering; real S3 returns byte order.
    const keys = ['b/2', 'a', 'b/1', 'b/10', 'c/d/e', 'a0', 'b0'];

    beforeEach(async () => {
      for (const key of keys) await store.put(key, bytes(key));
    });

    it('lists every key recursively in byte order', async () => {
      // "/" (0x2f) sorts before "0" (0x30), so b/… comes before b0, as on S3.
      expect(await listAll(store, '')).toEqual(['a', 'a0', 'b/1', 'b/10', 'b/2', 'b0', 'c/d/e']);
    });

    it.each([
      ['b/', ['b/1', 'b/10', 'b/2']],
      ['b', ['b/1', 'b/10', 'b/2', 'b0']],
      ['b/1', ['b/1', 'b/10']],
      ['c/d/', ['c/d/e']],
      ['a', ['a', 'a0']],
      ['zzz/', []],
      ['zzz', []],
    ])('lists the keys starting with %j', async (prefix, expected) => {
      expect(await listAll(store, prefix)).toEqual(expected);
    });

    it('does not list a deleted key', async () => {
      await store.delete('b/10');
      expect(await listAll(store, 'b/')).toEqual(['b/1', 'b/2']);
    });
  });

  describe('scoping', () => {
    it('reads, writes and lists keys relative to the store root', async () => {
      // Prepare
      await store.put('x/y/z', bytes('inner'));
      await store.put('outside', bytes('outer'));
      const inner = fresh.scoped('x');

      // Act
      await inner.put('y/new', bytes('written through the scoped store'));

      // Assess
      expect(await listAll(inner, '')).toEqual(['y/new', 'y/z']);
      expect(text((await inner.get('y/z'))?.body)).toBe('inner');
      expect(await inner.get('outside')).toBeUndefined();
      expect(await listAll(store, '')).toEqual(['outside', 'x/y/new', 'x/y/z']);
    });
  });

  describe('key validation', () => {
    it.each([
      ['', 'empty'],
      ['/etc/passwd', 'absolute'],
      ['../escape', 'a ".." segment'],
      ['a/../../escape', 'a ".." segment'],
      ['a/./b', 'a "." segment'],
      ['a//b', 'empty segment'],
      ['a/', 'empty segment'],
      ['a\\b', 'backslash'],
      ['.archiver-tmp-1234', 'reserved'],
    ])('rejects the key %j (%s) on put, get and delete', async (key, reason) => {
      for (const attempt of [
        () => store.put(key, bytes('x')),
        () => store.get(key),
        () => store.delete(key),
      ]) {
        const error = await rejection(attempt());
        expect(error).toBeInstanceOf(StorageError);
        expect((error as StorageError).message).toContain(reason);
        expect((error as StorageError).retryable).toBe(false);
      }
    });

    it('rejects a list prefix that climbs out of the root', async () => {
      const error = await rejection(listAll(store, '../'));
      expect(error).toBeInstanceOf(StorageError);
    });
  });
});
