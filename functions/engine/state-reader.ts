/**
 * Reads the stored state of an app from the object store: the head, then the target objects it
 * names, merged (see `readLayout` in `functions/domain/state-layout.ts`).
 */
import { readLayout, type StoredState } from '../domain/state-layout.ts';
import type { ObjectStore } from '../domain/storage.ts';

export type { StoredState } from '../domain/state-layout.ts';

const decoder = new TextDecoder();

/** The app's state, or undefined when it has none. @throws StateCorruptError */
export function readStoredState(store: ObjectStore, sdkAppId: number): Promise<StoredState | undefined> {
  return readLayout(
    async (key) => {
      const object = await store.get(key);
      return object && { text: decoder.decode(object.body), etag: object.etag };
    },
    sdkAppId,
    store.location,
  );
}
