/**
 * LocalFolderStore behaviour beyond the shared contract: races between real processes, stale
 * locks, what is (not) left on disk, folder/file collisions and error messages.
 */
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  fsErrorToStorageError,
  LocalFolderStore,
} from '../../functions/adapters/local-folder/local-folder-store.ts';
import { PreconditionFailedError, StorageError } from '../../functions/domain/errors.ts';
import { listAll } from '../helpers/archive.ts';
import { rejection } from '../helpers/assertions.ts';

const PROJECT_ROOT = fileURLToPath(new URL('../..', import.meta.url));
const RACER = fileURLToPath(new URL('../helpers/local-store-racer.ts', import.meta.url));

const bytes = (text: string): Uint8Array => new TextEncoder().encode(text);
const text = (body: Uint8Array | undefined): string | undefined => body && new TextDecoder().decode(body);

/** Every file and folder under `root`, relative, sorted: what is really on disk. */
/**
 * Everything on disk under `root`. The store's temp folder may exist but must be empty: it is left
 * out only when it is, so a leftover temp file still shows up (as `.archiver-tmp/<name>`).
 */
async function onDisk(root: string): Promise<string[]> {
  const entries = (await readdir(root, { recursive: true })).map((entry) => entry.split('\\').join('/'));
  return entries.filter((entry) => entry !== '.archiver-tmp').sort();
}

/** Resolves once `child` has printed `line` on stdout. */
function printed(child: ChildProcessWithoutNullStreams, line: string): Promise<void> {
  return new Promise((resolve, reject) => {
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      if (output.split('\n').includes(line)) resolve();
    });
    child.once('exit', (code) =>
      reject(new Error(`racer exited (${code}) before printing ${line}: ${output}`)),
    );
  });
}

/** Resolves with the rounds the child won, from its last stdout line, once it exits. */
function wins(child: ChildProcessWithoutNullStreams): Promise<number[]> {
  return new Promise((resolve, reject) => {
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    child.once('close', (code) => {
      const last = output.trim().split('\n').at(-1) ?? '';
      if (code === 0 && last.startsWith('{')) resolve((JSON.parse(last) as { wins: number[] }).wins);
      else reject(new Error(`racer failed (exit ${code}): ${last}`));
    });
  });
}

/**
 * Runs `racers` processes of `local-store-racer.ts` in `mode` for `rounds` rounds each, releases
 * them together once all are ready, and returns the rounds each one won.
 */
async function race(
  mode: 'create' | 'increment',
  root: string,
  racers: number,
  rounds: number,
): Promise<number[][]> {
  const children = Array.from({ length: racers }, (_, id) =>
    spawn(process.execPath, ['--import', 'tsx', RACER, mode, root, String(rounds), String(id)], {
      cwd: PROJECT_ROOT,
      stdio: 'pipe',
    }),
  );
  const results = children.map(wins);
  await Promise.all(children.map((child) => printed(child, 'ready')));
  for (const child of children) child.stdin.end();
  return Promise.all(results);
}

const RACERS = 4;
const ROUNDS = 60;

describe('LocalFolderStore', () => {
  let root: string;
  let store: LocalFolderStore;

  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), 'local-store-'));
    store = new LocalFolderStore(root);
  });
  afterEach(() => rm(root, { recursive: true, force: true }));

  it('reports its root as its location', () => {
    expect(store.location).toBe(root);
  });

  describe('races between processes', () => {
    it('lets exactly one process create each key with ifNoneMatch', async () => {
      // Act: every racer tries to create the same ROUNDS keys, in the same order.
      const won = await race('create', root, RACERS, ROUNDS);

      // Assess: each key has exactly one winner, and its body is that winner's.
      const winnersPerRound = Array.from({ length: ROUNDS }, (_, round) =>
        won.flatMap((rounds, racer) => (rounds.includes(round) ? [racer] : [])),
      );
      expect(winnersPerRound.filter((winners) => winners.length !== 1)).toEqual([]);
      for (const [round, winners] of winnersPerRound.entries()) {
        expect(text((await store.get(`race/key-${round}`))?.body)).toBe(String(winners[0]));
      }
      expect((await onDisk(root)).filter((name) => name.includes('.archiver-'))).toEqual([]);
    });

    it('never loses an update when processes increment a counter with ifMatch', async () => {
      // Prepare
      await store.put('counter', bytes('0'));

      // Act
      const won = await race('increment', root, RACERS, ROUNDS);

      // Assess: every won compare-and-swap added exactly one, so the sum of wins is the count.
      const totalWins = won.reduce((sum, rounds) => sum + rounds.length, 0);
      expect(totalWins).toBeGreaterThanOrEqual(ROUNDS);
      expect(text((await store.get('counter'))?.body)).toBe(String(totalWins));
      // No temp file and no lock is left behind.
      expect(await onDisk(root)).toEqual(['counter']);
    });
  });

  describe('locks', () => {
    it('takes over a lock left behind by a killed process', async () => {
      // Prepare: a lock folder whose mtime was last refreshed a minute ago.
      const { etag } = await store.put('state.json', bytes('v1'));
      const staleLock = join(root, '.archiver-lock-state.json');
      await mkdir(staleLock);
      const aMinuteAgo = new Date(Date.now() - 60_000);
      await utimes(staleLock, aMinuteAgo, aMinuteAgo);

      // Act
      const v2 = await store.put('state.json', bytes('v2'), { ifMatch: etag });

      // Assess
      expect(await store.get('state.json')).toEqual({ body: bytes('v2'), etag: v2.etag });
      expect(existsSync(staleLock)).toBe(false);
    });
  });

  describe('what is on disk', () => {
    it('sweeps temp files that a killed writer left behind, and only stale ones', async () => {
      // Prepare: what a writer killed mid-put leaves, long ago and just now.
      const temps = join(root, '.archiver-tmp');
      await mkdir(temps, { recursive: true });
      await writeFile(join(temps, '.archiver-tmp-dead'), 'half a body');
      const anHourAgo = new Date(Date.now() - 3_600_000);
      await utimes(join(temps, '.archiver-tmp-dead'), anHourAgo, anHourAgo);
      await writeFile(join(temps, '.archiver-tmp-live'), 'being written');

      // Act
      await new LocalFolderStore(root).put('x', bytes('1'));

      // Assess
      expect(await onDisk(root)).toEqual(['.archiver-tmp/.archiver-tmp-live', 'x']);
    });

    it('stores only the objects: no temp, lock or metadata files after successful writes', async () => {
      // Act
      const { etag } = await store.put('a/b.json', bytes('1'), { ifNoneMatch: '*' });
      await store.put('a/b.json', bytes('2'), { ifMatch: etag });
      await store.put('c', bytes('3'));

      // Assess
      expect(await onDisk(root)).toEqual(['a', 'a/b.json', 'c']);
    });

    it('leaves no temp file after failed puts', async () => {
      // Prepare
      await store.put('state.json', bytes('v1'));
      await store.put('dir/inner', bytes('x'));

      // Act
      const failures = await Promise.all([
        rejection(store.put('state.json', bytes('v2'), { ifNoneMatch: '*' })),
        rejection(store.put('state.json', bytes('v2'), { ifMatch: '"stale"' })),
        rejection(store.put('dir', bytes('collides with a folder'))),
      ]);

      // Assess
      expect(failures.map((e) => (e as Error).name)).toEqual([
        'PreconditionFailedError',
        'PreconditionFailedError',
        'StorageError',
      ]);
      expect(await onDisk(root)).toEqual(['dir', 'dir/inner', 'state.json']);
    });

    it('never lists stray temp files or locks (e.g. left by a killed process)', async () => {
      // Prepare
      await store.put('events/a', bytes('a'));
      await writeFile(join(root, 'events', '.archiver-tmp-0123456789abcdef'), 'half-written');
      await mkdir(join(root, 'events', '.archiver-lock-a'));

      // Act
      const keys = await listAll(store, '');

      // Assess
      expect(keys).toEqual(['events/a']);
    });

    it('lists in UTF-8 byte order, like S3, whatever the folder structure', async () => {
      // Prepare: "-" < "." < "/" < "0" in ASCII; U+FFFD sorts before an emoji in UTF-8 but not in UTF-16.
      const keys = ['z', 'x0', 'x/1', 'x.z', 'x-y', 'a-b', 'a', '\u{1F600}', '\uFFFD'];
      for (const key of keys) await store.put(key, bytes(key));

      // Act
      const listed = await listAll(store, '');

      // Assess
      expect(listed).toEqual(['a', 'a-b', 'x-y', 'x.z', 'x/1', 'x0', 'z', '\uFFFD', '\u{1F600}']);
    });
  });

  describe('keys that cannot escape the root', () => {
    it.each(['../escape', 'a/../../escape', '/tmp/escape', 'a\\..\\..\\escape'])(
      'refuses %j and writes nothing outside the root',
      async (key) => {
        // Act
        const error = await rejection(store.put(key, bytes('x')));

        // Assess
        expect(error).toBeInstanceOf(StorageError);
        expect(existsSync(join(root, '..', 'escape'))).toBe(false);
        expect(await onDisk(root)).toEqual([]);
      },
    );
  });

  describe('file/folder collisions and file-system errors', () => {
    it('reports a root that is a file, naming the path', async () => {
      // Prepare
      const file = join(root, 'not-a-folder');
      await writeFile(file, 'x');
      const misconfigured = new LocalFolderStore(file);

      // Act
      const error = await rejection(misconfigured.put('state.json', bytes('v1')));

      // Assess
      expect(error).toBeInstanceOf(StorageError);
      expect((error as StorageError).message).toContain(file);
      expect((error as StorageError).message).toMatch(/ENOTDIR|EEXIST/);
      expect((error as StorageError).retryable).toBe(false);
      expect((error as StorageError).cause).toBeInstanceOf(Error);
    });

    it('refuses a key that is a folder of other keys, even with ifNoneMatch', async () => {
      // Prepare
      await store.put('a/b', bytes('x'));

      // Act
      const plain = await rejection(store.put('a', bytes('y')));
      const createOnly = await rejection(store.put('a', bytes('y'), { ifNoneMatch: '*' }));

      // Assess: a collision is a storage problem, not a lost race.
      expect(plain).toBeInstanceOf(StorageError);
      expect((plain as StorageError).message).toContain(join(root, 'a'));
      expect((plain as StorageError).message).toContain('collide');
      expect(createOnly).toBeInstanceOf(StorageError);
      expect(createOnly).not.toBeInstanceOf(PreconditionFailedError);
    });

    it('treats a folder as an absent object on get and delete, and keeps what is inside', async () => {
      // Prepare
      await store.put('a/b', bytes('x'));

      // Act
      const got = await store.get('a');
      await store.delete('a');

      // Assess
      expect(got).toBeUndefined();
      expect(text((await store.get('a/b'))?.body)).toBe('x');
    });

    it('refuses to combine ifNoneMatch and ifMatch', async () => {
      const error = await rejection(store.put('k', bytes('x'), { ifNoneMatch: '*', ifMatch: '"e"' }));
      expect(error).toBeInstanceOf(StorageError);
      expect(await onDisk(root)).toEqual([]);
    });
  });

  describe('fsErrorToStorageError', () => {
    // Running as root makes EACCES impossible to provoke, and ENOSPC/EROFS need special mounts.
    const errno = (code: string): NodeJS.ErrnoException =>
      Object.assign(new Error(`${code}: boom`), { code });

    it.each([
      ['EACCES', 'read and write access', false],
      ['EPERM', 'read and write access', false],
      ['ENOSPC', 'disk is full', false],
      ['EROFS', 'read-only', false],
      ['EMFILE', 'too many open files', true],
      ['EBUSY', 'retry later', true],
    ])('maps %s to a StorageError naming the path and the fix', (code, fix, retryable) => {
      // Prepare
      const cause = errno(code);

      // Act
      const error = fsErrorToStorageError('write', '/srv/archive/state.json', cause, 'state.json');

      // Assess
      expect(error).toBeInstanceOf(StorageError);
      expect(error.message).toContain('/srv/archive/state.json');
      expect(error.message).toContain(code);
      expect(error.message).toContain(fix);
      expect(error.retryable).toBe(retryable);
      expect(error.key).toBe('state.json');
      expect(error.cause).toBe(cause);
    });

    it('falls back to the original message for an unexpected code', () => {
      const error = fsErrorToStorageError('read', '/srv/x', errno('EWEIRD'));
      expect(error.message).toBe('Local archive folder: cannot read /srv/x (EWEIRD): EWEIRD: boom');
      expect(error.retryable).toBe(false);
    });
  });
});
