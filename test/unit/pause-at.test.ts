/**
 * The test pause hook of the archive CLI (functions/adapters/pause-at.ts): inert without its
 * variable, and, when armed, pausing before exactly the nth write under a key prefix, after every
 * earlier matching write has settled. The real blocking (the CLI killed while paused) is exercised
 * by test/integration/rescan-kill.test.ts.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { LocalFolderStore } from '../../functions/adapters/local-folder/local-folder-store.ts';
import { PAUSED_MARKER, parsePauseAt, pausingStore } from '../../functions/adapters/pause-at.ts';
import { ConfigError } from '../../functions/domain/errors.ts';
import { listAll } from '../helpers/archive.ts';
import { thrown } from '../helpers/assertions.ts';

const dirs: string[] = [];
afterEach(async () => {
  while (dirs.length > 0) await rm(dirs.pop() as string, { recursive: true, force: true });
});

async function folder(): Promise<LocalFolderStore> {
  const dir = await mkdtemp(join(tmpdir(), 'pause-at-'));
  dirs.push(dir);
  return new LocalFolderStore(dir);
}

/** Whether `key` is stored in `store`'s folder right now (checked synchronously, as a pause is). */
const storedNow = (store: LocalFolderStore, key: string) => existsSync(join(store.location, key));

const bytes = (text: string) => new TextEncoder().encode(text);

describe('ARCHIVER_TEST_PAUSE_AT', () => {
  it('parses <key prefix>[:<nth>] and refuses anything else', () => {
    expect(parsePauseAt(undefined)).toBeUndefined();
    expect(parsePauseAt('')).toBeUndefined();
    expect(parsePauseAt('messages/')).toEqual({ prefix: 'messages/', nth: 1 });
    expect(parsePauseAt('rescan/:3')).toEqual({ prefix: 'rescan/', nth: 3 });
    expect(thrown(() => parsePauseAt('messages/:0'))).toBeInstanceOf(ConfigError);
    expect(thrown(() => parsePauseAt(':2'))).toBeInstanceOf(ConfigError);
  });

  it('returns the store itself when the variable is unset', async () => {
    const store = await folder();
    expect(pausingStore(store, undefined)).toBe(store);
  });

  it('pauses before the nth matching write, once the earlier ones are stored, and counts nothing else', async () => {
    // Prepare
    const inner = await folder();
    const lines: string[] = [];
    const store = pausingStore(inner, 'messages/:3', (line) => {
      lines.push(line);
    });

    // Act: two matching writes in flight together, other prefixes between them, then the third.
    await Promise.all([
      store.put('messages/a', bytes('a')),
      store.putStream('messages/b', Readable.from([bytes('b')])),
      store.put('state/s', bytes('s')),
    ]);
    await store.put('fingerprints/f', bytes('f'));
    await store.put('messages/c', bytes('c'));
    await store.put('messages/d', bytes('d'));

    // Assess: exactly one pause, at messages/c, named on the marker line.
    expect(lines).toEqual([`${PAUSED_MARKER} messages/:3 messages/c`]);
    expect(await listAll(inner, 'messages/')).toEqual([
      'messages/a',
      'messages/b',
      'messages/c',
      'messages/d',
    ]);
  });

  it('pauses only after every earlier matching write has settled', async () => {
    // Prepare
    const inner = await folder();
    const storedAtPause: boolean[] = [];
    const store = pausingStore(inner, 'messages/:2', () => {
      storedAtPause.push(storedNow(inner, 'messages/1'), storedNow(inner, 'messages/2'));
    });

    // Act: the second write is asked for while the first is still in flight.
    const first = store.putStream('messages/1', Readable.from([bytes('one')]));
    const second = store.put('messages/2', bytes('two'));
    await Promise.all([first, second]);

    // Assess: at the pause the first is stored and the second not yet.
    expect(storedAtPause).toEqual([true, false]);
    expect(storedNow(inner, 'messages/2')).toBe(true);
  });
});
