/**
 * A test hook at the store edge: the archive CLI stops dead before a chosen write, so a test can
 * SIGKILL it (or freeze it and resume it) at a named point of its work instead of after a guessed
 * delay, which lands somewhere else on every machine (test/helpers/process-archive.ts).
 *
 * `ARCHIVER_TEST_PAUSE_AT=<key prefix>[:<nth>]` arms it: before the `nth` (default 1st) `put` or
 * `putStream` of an object whose key starts with `<key prefix>` (`messages/`, `fingerprints/`,
 * `rescan/`, `state/`, `media/`, …), counted from the start of the process, the store waits until
 * every earlier matching write has settled, writes `ARCHIVER_TEST_PAUSED <prefix>:<nth> <key>` on
 * stderr and stops its own process (SIGSTOP: no thread, timer or write runs) until it gets SIGCONT
 * (then the write goes ahead) or SIGKILL. So exactly `nth - 1` matching writes are done, the `nth`
 * is not, and nothing moves meanwhile.
 *
 * Without the variable the store is returned as it is: no wrapper, no cost.
 */
import { writeSync } from 'node:fs';
import type { Readable } from 'node:stream';
import { ConfigError } from '../domain/errors.ts';
import type {
  ObjectHead,
  PutOptions,
  PutStreamOptions,
  StoredObject,
  StreamingObjectStore,
} from '../domain/storage.ts';

/** The environment variable that arms the hook. */
export const PAUSE_AT_ENV = 'ARCHIVER_TEST_PAUSE_AT';
/** Starts the stderr line written when the process pauses. */
export const PAUSED_MARKER = 'ARCHIVER_TEST_PAUSED';

/** Where to pause: before the `nth` write of a key starting with `prefix`. */
export interface PausePoint {
  prefix: string;
  nth: number;
}

/**
 * Parses `<key prefix>[:<nth>]`; undefined for an unset or empty value.
 * @throws ConfigError for an empty prefix or an `nth` that is not a positive integer
 */
export function parsePauseAt(value: string | undefined): PausePoint | undefined {
  if (value === undefined || value === '') return undefined;
  const match = /^(.*?)(?::(\d+))?$/.exec(value);
  const prefix = match?.[1] ?? '';
  const nth = match?.[2] === undefined ? 1 : Number(match[2]);
  if (prefix === '' || !Number.isSafeInteger(nth) || nth < 1) {
    throw new ConfigError(`${PAUSE_AT_ENV} must be <key prefix>[:<n>], n >= 1; got "${value}"`, {
      field: PAUSE_AT_ENV,
    });
  }
  return { prefix, nth };
}

/** Says where, then stops this process until SIGCONT (or SIGKILL, which ends it). */
function stopHere(line: string): void {
  writeSync(2, `${line}\n`);
  process.kill(process.pid, 'SIGSTOP');
}

/**
 * `store` with the pause point of `spec` (the value of {@link PAUSE_AT_ENV}) armed, or `store`
 * itself when `spec` is unset. `pause` is what happens at the point (tests of this hook record it).
 */
export function pausingStore(
  store: StreamingObjectStore,
  spec: string | undefined,
  pause: (line: string) => void = stopHere,
): StreamingObjectStore {
  const point = parsePauseAt(spec);
  if (point === undefined) return store;
  let seen = 0;
  const earlier: Promise<unknown>[] = [];
  /** Runs `write` unless it is the armed one, which pauses first (after the earlier ones settled). */
  const guard = <T>(key: string, write: () => Promise<T>): Promise<T> => {
    if (!key.startsWith(point.prefix)) return write();
    seen++;
    if (seen !== point.nth) {
      const pending = write();
      earlier.push(pending.catch(() => undefined));
      return pending;
    }
    return Promise.all(earlier).then(() => {
      pause(`${PAUSED_MARKER} ${point.prefix}:${point.nth} ${key}`);
      return write();
    });
  };
  return {
    get location() {
      return store.location;
    },
    put: (key: string, body: Uint8Array, options?: PutOptions) =>
      guard(key, () => store.put(key, body, options)),
    putStream: (key: string, body: Readable, options?: PutStreamOptions) =>
      guard(key, () => store.putStream(key, body, options)),
    get: (key: string): Promise<StoredObject | undefined> => store.get(key),
    head: (key: string): Promise<ObjectHead | undefined> => store.head(key),
    delete: (key: string) => store.delete(key),
    list: (prefix: string) => store.list(prefix),
  };
}
