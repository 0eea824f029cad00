/**
 * An ObjectStore on a local folder: each key is a file under the root, and `/` in a key is a
 * sub-folder. Nothing but the objects themselves is kept on disk: the ETag is the MD5 of the
 * content, recomputed on `get`, which is also what S3 reports for a single-part upload.
 *
 * Atomicity, also against other processes sharing the folder:
 * - every write goes to a temp file in `<root>/.archiver-tmp/` (same file system), is fsynced,
 *   then published with a single rename or link, so readers see the old body or the new one;
 * - temp files that a killed process left behind are swept from that one folder by the next store
 *   that writes (only when older than {@link STALE_TEMP_MS}, so live writers are never touched);
 * - `ifNoneMatch: '*'` publishes with `link()`, which fails with EEXIST if the name exists;
 * - `ifMatch` compares and renames while holding a proper-lockfile lock on the key.
 * Temp and lock files use the reserved `.archiver-` name prefix, which `list()` skips and which
 * keys may not use.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream, type Dirent } from 'node:fs';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { type Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { lock } from 'proper-lockfile';
import { PreconditionFailedError, StorageError } from '../../domain/errors.ts';
import type {
  ObjectHead,
  PutOptions,
  PutStreamOptions,
  StoredObject,
  StreamingObjectStore,
} from '../../domain/storage.ts';
import { RESERVED_NAME_PREFIX, validateListPrefix, validateObjectKey } from '../object-key.ts';

const TEMP_PREFIX = `${RESERVED_NAME_PREFIX}tmp-`;
/** The one folder, directly under the root, that holds temp files while they are written. */
const TEMP_FOLDER = `${RESERVED_NAME_PREFIX}tmp`;
/** A temp file this old belongs to a writer that died: a live write takes milliseconds. */
const STALE_TEMP_MS = 15 * 60_000;
const LOCK_PREFIX = `${RESERVED_NAME_PREFIX}lock-`;
/** Sidecar with an object's content type and metadata (folders have no object metadata). */
const META_PREFIX = `${RESERVED_NAME_PREFIX}meta-`;

/**
 * A lock older than this is taken over: its holder was killed (a live holder refreshes the lock's
 * mtime every `stale / 2`). The critical section is one read and one rename, a few milliseconds.
 */
const LOCK_STALE_MS = 10_000;

/**
 * Waits for a busy lock for about 12 s in total, i.e. longer than {@link LOCK_STALE_MS}, so a lock
 * left behind by a killed process is recovered within a single `put` instead of failing it.
 */
const LOCK_RETRIES = { retries: 30, factor: 1.5, minTimeout: 20, maxTimeout: 500, randomize: true };

/** Folders cannot do what S3 prefixes can: hold an object and a "sub-folder" of the same name. */
const COLLISION_HINT =
  'a file and a folder collide at this path: a key cannot also be a prefix of other keys ("a" and "a/b" cannot both exist in a folder), and the root must be a folder';

/** Fix-it hints for the errno codes a misconfigured archive folder produces. */
const ERRNO_HINTS: Readonly<Record<string, string>> = {
  EACCES: "permission denied: give the archiver's user read and write access to the archive folder",
  EPERM: "operation not permitted: give the archiver's user read and write access to the archive folder",
  ENOSPC: 'the disk is full: free some space or choose an archive folder on another disk',
  EDQUOT: 'the disk quota is exceeded: raise the quota or choose another archive folder',
  EROFS: 'the file system is read-only: choose a writable archive folder',
  ENOTDIR: COLLISION_HINT,
  EEXIST: COLLISION_HINT,
  EISDIR: COLLISION_HINT,
  ENAMETOOLONG: 'the key is too long for this file system: use shorter keys',
  EIO: 'the disk reported an I/O error: check the disk',
  EMFILE: 'too many open files: retry later, or raise the open-file limit (ulimit -n)',
  ENFILE: 'too many open files system-wide: retry later',
  EBUSY: 'the file is busy: retry later',
  EAGAIN: 'the resource is temporarily unavailable: retry later',
};

/** Transient conditions: the same call can succeed a moment later. */
const RETRYABLE_ERRNOS: ReadonlySet<string> = new Set(['EMFILE', 'ENFILE', 'EBUSY', 'EAGAIN']);

/** "This key names no object": absent, or a path component is a file, or the key is a folder. */
const NOT_AN_OBJECT_ERRNOS: ReadonlySet<string> = new Set(['ENOENT', 'ENOTDIR', 'EISDIR']);

export class LocalFolderStore implements StreamingObjectStore {
  public readonly location: string;
  private readonly rootPath: string;
  private readonly tempFolder: string;
  private prepared: Promise<void> | undefined;

  /** @param root the archive folder; created on the first `put` if missing. */
  public constructor(root: string) {
    this.location = root;
    this.rootPath = path.resolve(root);
    this.tempFolder = path.join(this.rootPath, TEMP_FOLDER);
  }

  /**
   * Writes `body` under `key` atomically (see the module comment for how each mode is made safe
   * against other processes).
   * @throws PreconditionFailedError when `ifNoneMatch`/`ifMatch` does not hold
   * @throws StorageError for an invalid key or a file-system failure (message names the path)
   */
  public async put(key: string, body: Uint8Array, options: PutOptions = {}): Promise<{ etag: string }> {
    const target = this.pathFor(key);
    if (options.ifNoneMatch !== undefined && options.ifMatch !== undefined) {
      throw new StorageError(`put ${key}: ifNoneMatch and ifMatch cannot be combined`, { key });
    }
    await this.makeParentFolder(key, target);
    this.prepared ??= this.prepareTempFolder(key);
    await this.prepared;
    const temp = await writeTempFile(key, this.tempFolder, body);
    try {
      if (options.ifNoneMatch === '*') await publishIfAbsent(key, temp, target);
      else if (options.ifMatch !== undefined) await this.publishIfMatch(key, temp, target, options.ifMatch);
      else await publish(key, temp, target);
    } finally {
      // After a rename the temp name is already gone; after a link or a failure it must go now.
      await removeQuietly(temp);
    }
    await syncFolder(path.dirname(target));
    return { etag: etagOf(body) };
  }

  /**
   * Streams `body` into a temp file (fsynced), then publishes it like `put`; the content type and
   * metadata go to a sidecar `.archiver-meta-<name>` next to the object, written after it.
   * @throws PreconditionFailedError when `ifNoneMatch` is set and the key exists
   * @throws StorageError for an invalid key or a file-system failure; an abort leaves no file
   */
  public async putStream(
    key: string,
    body: Readable,
    options: PutStreamOptions = {},
  ): Promise<{ bytes: number }> {
    const target = this.pathFor(key);
    await this.makeParentFolder(key, target);
    this.prepared ??= this.prepareTempFolder(key);
    await this.prepared;
    const temp = path.join(this.tempFolder, `${TEMP_PREFIX}${randomBytes(8).toString('hex')}`);
    let bytes = 0;
    try {
      const counter = new Transform({
        transform(chunk: Buffer, _encoding, callback) {
          bytes += chunk.length;
          callback(null, chunk);
        },
      });
      const out = createWriteStream(temp, { flags: 'wx' });
      await pipeline(body, counter, out, options.signal ? { signal: options.signal } : {});
      const handle = await fs.open(temp, 'r+');
      try {
        await handle.sync();
      } finally {
        await handle.close();
      }
    } catch (error) {
      await removeQuietly(temp);
      if (options.signal?.aborted) throw new StorageError(`put ${key}: aborted`, { cause: error, key });
      throw fsErrorToStorageError('write', temp, error, key);
    }
    try {
      if (options.ifNoneMatch === '*') await publishIfAbsent(key, temp, target);
      else await publish(key, temp, target);
    } finally {
      await removeQuietly(temp);
    }
    const meta = { contentType: options.contentType, metadata: options.metadata ?? {} };
    // The sidecar is a convenience (the manifest has the same facts): no fsync of its own.
    const metaTemp = path.join(this.tempFolder, `${TEMP_PREFIX}${randomBytes(8).toString('hex')}`);
    try {
      await fs.writeFile(metaTemp, JSON.stringify(meta), { flag: 'wx' });
    } catch (error) {
      await removeQuietly(metaTemp);
      throw fsErrorToStorageError('write', metaTemp, error, key);
    }
    await publish(key, metaTemp, metaPathOf(target));
    await syncFolder(path.dirname(target));
    return { bytes };
  }

  /** Size, content type and metadata of `key`, or `undefined` if absent. */
  public async head(key: string): Promise<ObjectHead | undefined> {
    const target = this.pathFor(key);
    let size: number;
    try {
      const stat = await fs.stat(target);
      if (!stat.isFile()) return undefined;
      size = stat.size;
    } catch (error) {
      if (NOT_AN_OBJECT_ERRNOS.has(errnoOf(error))) return undefined;
      throw fsErrorToStorageError('read', target, error, key);
    }
    const meta = await fs.readFile(metaPathOf(target), 'utf8').then(
      (text) => JSON.parse(text) as { contentType?: string; metadata?: Record<string, string> },
      () => ({}) as { contentType?: string; metadata?: Record<string, string> },
    );
    return { bytes: size, contentType: meta.contentType, metadata: meta.metadata ?? {} };
  }

  /** Create the temp folder once per store and sweep what killed writers left in it. */
  private async prepareTempFolder(key: string): Promise<void> {
    try {
      await fs.mkdir(this.tempFolder, { recursive: true });
    } catch (error) {
      this.prepared = undefined;
      throw fsErrorToStorageError('create folder', this.tempFolder, error, key);
    }
    const cutoff = Date.now() - STALE_TEMP_MS;
    for (const name of await fs.readdir(this.tempFolder).catch(() => [] as string[])) {
      const file = path.join(this.tempFolder, name);
      const stat = await fs.lstat(file).catch(() => undefined);
      if (stat?.isFile() && name.startsWith(TEMP_PREFIX) && stat.mtimeMs < cutoff) await removeQuietly(file);
    }
  }

  /**
   * Reads `key`. A key that names a folder or lies below a file is absent, as on S3.
   * @throws StorageError for an invalid key or a file-system failure
   */
  public async get(key: string): Promise<StoredObject | undefined> {
    const target = this.pathFor(key);
    const body = await readIfPresent(key, target);
    return body && { body, etag: etagOf(body) };
  }

  /**
   * Deletes `key`; an absent key is not an error. Empty folders are left behind on purpose:
   * removing one could race with a concurrent `put` that has just created it.
   * @throws StorageError for an invalid key or a file-system failure
   */
  public async delete(key: string): Promise<void> {
    const target = this.pathFor(key);
    try {
      await fs.unlink(target);
    } catch (error) {
      if (NOT_AN_OBJECT_ERRNOS.has(errnoOf(error))) return;
      throw fsErrorToStorageError('delete', target, error, key);
    }
    await removeQuietly(metaPathOf(target));
  }

  /**
   * Every key starting with `prefix`, recursively, in byte order (S3's order), streamed folder by
   * folder. Temp and lock files are never listed.
   * @throws StorageError for an invalid prefix or a file-system failure
   */
  public async *list(prefix: string): AsyncIterable<string> {
    validateListPrefix(prefix);
    // The folder fully named by the prefix; the rest of it filters that folder's entries.
    const slash = prefix.lastIndexOf('/');
    const baseKey = prefix.slice(0, slash + 1);
    const partialName = prefix.slice(slash + 1);
    const baseFolder = path.join(this.rootPath, ...baseKey.split('/'));
    yield* this.walk(baseFolder, baseKey, (name) => name.startsWith(partialName));
  }

  private async *walk(
    folder: string,
    keyPrefix: string,
    accept: (name: string) => boolean,
  ): AsyncGenerator<string> {
    const entries = await readFolder(folder);
    for (const entry of sortedObjectEntries(entries).filter((e) => accept(e.name))) {
      const key = `${keyPrefix}${entry.name}`;
      if (entry.isDirectory()) yield* this.walk(path.join(folder, entry.name), `${key}/`, () => true);
      else yield key;
    }
  }

  /** Compare-and-swap under a cross-process lock, so two CAS writers cannot both win. */
  private async publishIfMatch(key: string, temp: string, target: string, expected: string): Promise<void> {
    const lockHandle = await acquireLock(key, target);
    try {
      const current = await readIfPresent(key, target);
      if (current === undefined || stripQuotes(etagOf(current)) !== stripQuotes(expected)) {
        throw new PreconditionFailedError(key);
      }
      await publish(key, temp, target);
    } finally {
      await lockHandle.release();
    }
    try {
      lockHandle.assertNotCompromised();
    } catch (error) {
      // This process was frozen while it held the lock (SIGSTOP, a sleeping laptop) and another
      // run took the lock over as stale: to this run the object has changed hands, as when any
      // conditional write loses (the state keeper then stops with LeaseLostError, exit 75). Most
      // likely the freeze fell after the rename (during its fsync), so this write landed before the
      // other run's; a freeze between the check and the rename itself is what a lock file cannot
      // fence (S3's conditional writes can).
      throw new PreconditionFailedError(key, { cause: error });
    }
  }

  private pathFor(key: string): string {
    const target = path.join(this.rootPath, ...validateObjectKey(key));
    // Defence in depth: validation already rules out `..`, absolute paths and backslashes.
    if (!target.startsWith(this.rootPath + path.sep)) {
      throw new StorageError(`Invalid object key ${JSON.stringify(key)}: it escapes the archive folder`, {
        key,
      });
    }
    return target;
  }

  private async makeParentFolder(key: string, target: string): Promise<void> {
    const folder = path.dirname(target);
    try {
      await fs.mkdir(folder, { recursive: true });
    } catch (error) {
      throw fsErrorToStorageError('create folder', folder, error, key);
    }
  }
}

/**
 * Turns a file-system error into a StorageError whose message names the path, the errno code and
 * the likely fix. Exported for its unit test: some codes (EACCES as root, ENOSPC) cannot be
 * provoked on a test machine.
 */
export function fsErrorToStorageError(
  operation: string,
  filePath: string,
  error: unknown,
  key?: string,
): StorageError {
  const code = errnoOf(error);
  const hint = ERRNO_HINTS[code] ?? (error instanceof Error ? error.message : String(error));
  return new StorageError(
    `Local archive folder: cannot ${operation} ${filePath} (${code || 'unknown error'}): ${hint}`,
    {
      cause: error,
      key,
      retryable: RETRYABLE_ERRNOS.has(code),
    },
  );
}

function metaPathOf(target: string): string {
  return path.join(path.dirname(target), `${META_PREFIX}${path.basename(target)}`);
}

/** S3's ETag for a single-part upload: the quoted hex MD5 of the body. */
function etagOf(body: Uint8Array): string {
  return `"${createHash('md5').update(body).digest('hex')}"`;
}

function stripQuotes(etag: string): string {
  return etag.replace(/^"(.*)"$/, '$1');
}

/** Writes and fsyncs a uniquely named temp file next to `target`, so publishing it is one rename. */
async function writeTempFile(key: string, folder: string, body: Uint8Array): Promise<string> {
  const temp = path.join(folder, `${TEMP_PREFIX}${randomBytes(8).toString('hex')}`);
  try {
    // 'wx': never follow or clobber an existing name, however unlikely a clash is.
    const handle = await fs.open(temp, 'wx');
    try {
      await handle.writeFile(body);
      // Without the fsync, a crash right after the rename could publish an empty or torn file.
      await handle.sync();
    } finally {
      await handle.close();
    }
  } catch (error) {
    await removeQuietly(temp);
    throw fsErrorToStorageError('write', temp, error, key);
  }
  return temp;
}

/** Unconditional replace: rename is atomic, readers never see a partial file. */
async function publish(key: string, temp: string, target: string): Promise<void> {
  try {
    await fs.rename(temp, target);
  } catch (error) {
    throw fsErrorToStorageError('write', target, error, key);
  }
}

/** Create-only: link() fails with EEXIST if any process has published the name first. */
async function publishIfAbsent(key: string, temp: string, target: string): Promise<void> {
  try {
    await fs.link(temp, target);
  } catch (error) {
    if (errnoOf(error) === 'EEXIST' && !(await isFolder(target))) {
      throw new PreconditionFailedError(key, { cause: error });
    }
    // A folder at the target is a key collision, not a lost race.
    throw fsErrorToStorageError('write', target, error, key);
  }
}

async function readIfPresent(key: string, target: string): Promise<Uint8Array | undefined> {
  try {
    const buffer = await fs.readFile(target);
    // A plain Uint8Array view: callers compare bodies, and a Buffer is a different type to them.
    return new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
  } catch (error) {
    if (NOT_AN_OBJECT_ERRNOS.has(errnoOf(error))) return undefined;
    throw fsErrorToStorageError('read', target, error, key);
  }
}

/** The folder's entries; none when nothing was ever written there (or a file stands in its place). */
async function readFolder(folder: string): Promise<Dirent[]> {
  try {
    return await fs.readdir(folder, { withFileTypes: true });
  } catch (error) {
    if (errnoOf(error) === 'ENOENT' || errnoOf(error) === 'ENOTDIR') return [];
    throw fsErrorToStorageError('list', folder, error);
  }
}

/**
 * Objects and sub-folders in the order their keys sort: a folder `d` sorts as `d/`, since every key
 * below it starts with `d/` and no entry name contains `/`. That makes a depth-first walk emit
 * keys in global byte order without collecting them first. Symlinks and other special files are
 * not objects (we never create them, and following them could leave the root).
 */
function sortedObjectEntries(entries: Dirent[]): Dirent[] {
  const sortKey = (e: Dirent): Buffer => Buffer.from(e.isDirectory() ? `${e.name}/` : e.name);
  return entries
    .filter((e) => !e.name.startsWith(RESERVED_NAME_PREFIX) && (e.isFile() || e.isDirectory()))
    .map((entry) => ({ entry, sortKey: sortKey(entry) }))
    .sort((a, b) => Buffer.compare(a.sortKey, b.sortKey))
    .map(({ entry }) => entry);
}

interface LockHandle {
  release(): Promise<void>;
  /** Throws if the lock was lost while held (its mtime could not be refreshed). */
  assertNotCompromised(): void;
}

/** Locks `target` across processes with a sibling `.archiver-lock-<name>` folder. */
async function acquireLock(key: string, target: string): Promise<LockHandle> {
  const lockPath = path.join(path.dirname(target), `${LOCK_PREFIX}${path.basename(target)}`);
  let compromised: Error | undefined;
  let release: () => Promise<void>;
  try {
    release = await lock(target, {
      lockfilePath: lockPath,
      // The target may not exist yet, and realpath() would fail on it.
      realpath: false,
      stale: LOCK_STALE_MS,
      retries: LOCK_RETRIES,
      // The default throws from a timer, which would crash the process.
      onCompromised: (error) => {
        compromised = error;
      },
    });
  } catch (error) {
    throw lockError(key, lockPath, error);
  }
  return {
    release: () => release().catch(() => undefined), // a compromised lock is reported below instead
    assertNotCompromised: () => {
      if (compromised) {
        throw new StorageError(
          `Local archive folder: the lock ${lockPath} was lost during a conditional write to ${key}; another process may have written it too`,
          { cause: compromised, key },
        );
      }
    },
  };
}

function lockError(key: string, lockPath: string, error: unknown): StorageError {
  if (errnoOf(error) === 'ELOCKED') {
    return new StorageError(
      `Local archive folder: ${lockPath} is held by another process writing ${key}; retry later (a lock left by a killed process expires after ${LOCK_STALE_MS / 1000} s)`,
      { cause: error, key, retryable: true },
    );
  }
  return fsErrorToStorageError('lock', lockPath, error, key);
}

/** fsync the folder so the rename or link itself survives a crash; best effort (not all file systems allow it). */
async function syncFolder(folder: string): Promise<void> {
  try {
    const handle = await fs.open(folder, 'r');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  } catch {
    // Durability of the folder entry is a bonus; the write itself already succeeded.
  }
}

async function isFolder(target: string): Promise<boolean> {
  const stat = await fs.lstat(target).catch(() => undefined);
  return stat?.isDirectory() ?? false;
}

async function removeQuietly(file: string): Promise<void> {
  await fs.rm(file, { force: true }).catch(() => undefined);
}

function errnoOf(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : '';
}
