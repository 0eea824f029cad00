/**
 * The ObjectStore adapters side by side for the contract tests: the local folder and S3 (s3rver
 * with the conditional-write shim), each started once per file and handing out one fresh, empty
 * store per test.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalFolderStore } from '../../functions/adapters/local-folder/local-folder-store.ts';
import { S3Store } from '../../functions/adapters/s3/s3-store.ts';
import type { StreamingObjectStore } from '../../functions/domain/storage.ts';
import { type S3rverHandle, startS3rver } from './s3rver.ts';

/** One fresh, empty store per test, plus stores rooted at a sub-path of it. */
export interface FreshStore {
  store: StreamingObjectStore;
  /** A store whose root is `sub` inside `store` (a sub-folder, or a longer S3 prefix). */
  scoped(sub: string): StreamingObjectStore;
}

export interface StoreHarness {
  name: string;
  start(): Promise<void>;
  stop(): Promise<void>;
  fresh(): Promise<FreshStore>;
}

export function localHarness(): StoreHarness {
  let base = '';
  return {
    name: 'LocalFolderStore',
    start: async () => {
      base = await mkdtemp(join(tmpdir(), 'local-store-contract-'));
    },
    stop: () => rm(base, { recursive: true, force: true }),
    fresh: async () => {
      const root = await mkdtemp(join(base, 'case-'));
      return {
        store: new LocalFolderStore(root),
        scoped: (sub) => new LocalFolderStore(join(root, sub)),
      };
    },
  };
}

export function s3Harness(): StoreHarness {
  let server: S3rverHandle | undefined;
  let cases = 0;
  const open = (prefix: string): S3Store => {
    if (!server) throw new Error('s3rver is not running');
    // pageSize 2: every listing below spans several ListObjectsV2 pages.
    return new S3Store({ client: server.client, bucket: server.bucket, prefix, pageSize: 2 });
  };
  return {
    name: 'S3Store (s3rver)',
    start: async () => {
      server = await startS3rver();
    },
    stop: async () => {
      await server?.stop();
    },
    fresh: async () => {
      // A prefix per test isolates the tests and checks that keys are relative to the prefix.
      cases += 1;
      const prefix = `case-${cases}/`;
      return { store: open(prefix), scoped: (sub) => open(`${prefix}${sub}/`) };
    },
  };
}

/** Both adapters, for `describe.each`. */
export const storeHarnesses = (): StoreHarness[] => [localHarness(), s3Harness()];
