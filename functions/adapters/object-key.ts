/**
 * Object-key rules shared by every ObjectStore adapter, so that a key accepted by one store is
 * accepted by all of them (the archive can move from a local folder to S3 unchanged).
 *
 * A key is `/`-separated and relative: no leading `/`, no empty, `.` or `..` segment, no
 * backslash and no NUL. On a file system that guarantees a key never escapes the store's root;
 * on S3 it keeps keys free of the `a//b` and `a/./b` aliases that a folder cannot represent.
 */
import { StorageError } from '../domain/errors.ts';

/**
 * Names starting with this are the local store's own temp and lock files. Keys may not use it,
 * so `list()` can skip such names without ever hiding a real object.
 */
export const RESERVED_NAME_PREFIX = '.archiver-';

/**
 * Checks `key` and returns its segments.
 * @throws StorageError (non-retryable) naming the key and the broken rule
 */
export function validateObjectKey(key: string): string[] {
  const problem = objectKeyProblem(key);
  if (problem !== undefined) throw invalidKey(key, problem);
  return key.split('/');
}

/**
 * Checks a `list()` prefix: the same rules as a key, except that it may be empty and its last
 * segment may be empty or partial (`events/` and `events/dt=2026-0` are both valid prefixes).
 * @throws StorageError (non-retryable) naming the prefix and the broken rule
 */
export function validateListPrefix(prefix: string): void {
  const problem = listPrefixProblem(prefix);
  if (problem !== undefined) throw invalidKey(prefix, problem);
}

/** Why `key` is not a valid object key, or `undefined` if it is. */
export function objectKeyProblem(key: string): string | undefined {
  if (key.length === 0) return 'it is empty';
  return segmentsProblem(key, key.split('/'));
}

/** Why `prefix` is not a valid list prefix, or `undefined` if it is. */
export function listPrefixProblem(prefix: string): string | undefined {
  // Only the complete segments (everything before the last `/`) must be proper segments.
  return segmentsProblem(prefix, prefix.split('/').slice(0, -1));
}

function segmentsProblem(text: string, segments: string[]): string | undefined {
  if (text.includes('\\')) return 'it contains a backslash';
  if (text.includes('\0')) return 'it contains a NUL character';
  if (text.startsWith('/')) return 'it is absolute (starts with "/")';
  for (const segment of segments) {
    if (segment === '') return 'it has an empty segment ("//" or a trailing "/")';
    if (segment === '.' || segment === '..') return `it has a "${segment}" segment`;
    if (segment.startsWith(RESERVED_NAME_PREFIX)) {
      return `"${RESERVED_NAME_PREFIX}" names are reserved for the local store's own temp and lock files`;
    }
  }
  return undefined;
}

function invalidKey(key: string, reason: string): StorageError {
  // JSON.stringify shows invisible characters (NUL, trailing spaces) in the message.
  return new StorageError(`Invalid object key ${JSON.stringify(key)}: ${reason}`, { key, retryable: false });
}
