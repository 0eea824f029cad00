/**
 * Reads the stored state of an app: the head, then the target objects it names, merged (see
 * `functions/domain/state-layout.ts`). Used by the state keeper and by the audit.
 */
import type { TargetState } from '../domain/continuation.ts';
import { StateCorruptError } from '../domain/continuation.ts';
import { stateKey } from '../domain/partition.ts';
import {
  mergeTargets,
  namedTargetObjects,
  parseHead,
  parseTargets,
  type ReadHead,
} from '../domain/state-layout.ts';
import type { ObjectStore } from '../domain/storage.ts';

const decoder = new TextDecoder();

/** A state as stored: its head (either layout), its targets, and the head's ETag. */
export interface StoredState {
  read: ReadHead;
  targets: Map<string, TargetState>;
  etag: string | undefined;
}

/** Times the head is read again when a target object it named is gone (compacted meanwhile). */
const REREADS = 5;

/**
 * Read the head and the base and deltas it names. Returns undefined when the app has no state.
 * @throws StateCorruptError when an object is unreadable, or named but missing even after re-reading the head
 */
export async function readStoredState(
  store: ObjectStore,
  sdkAppId: number,
): Promise<StoredState | undefined> {
  const key = stateKey(sdkAppId);
  for (let attempt = 1; ; attempt++) {
    const stored = await store.get(key);
    if (stored === undefined) return undefined;
    const read = parseHead(decoder.decode(stored.body), sdkAppId, `${store.location}/${key}`);
    if (read.layout === 'inline') {
      return { read, targets: mergeTargets(read.targets, []), etag: stored.etag };
    }
    const names = namedTargetObjects(read.head);
    const parts: TargetState[][] = [];
    let missing: string | undefined;
    for (const name of names) {
      const object = await store.get(name);
      if (object === undefined) {
        missing = name;
        break;
      }
      parts.push(parseTargets(decoder.decode(object.body), sdkAppId, `${store.location}/${name}`));
    }
    if (missing === undefined) {
      const [base = [], ...deltas] = read.head.base ? parts : [[], ...parts];
      return { read, targets: mergeTargets(base, deltas), etag: stored.etag };
    }
    // A run compacted between our reads and deleted what the head we read named: read it again.
    if (attempt >= REREADS) {
      throw new StateCorruptError(
        `The state object ${store.location}/${key} names ${store.location}/${missing}, which is missing. ` +
          'Restore it from a previous version (S3 versioning) or a backup.',
      );
    }
  }
}
