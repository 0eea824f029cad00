/**
 * Copy one media reference into the archive: download and verify (MediaFetcher), then store the
 * bytes content-addressed and create-only. Already stored bytes (the same file in another group,
 * run or app) are not written again: a HEAD finds them, and a lost create-only race is the same.
 */
import { PreconditionFailedError, StorageError } from '../domain/errors.ts';
import { type MediaOutcome, mediaObjectKey } from '../domain/media-manifest.ts';
import type { MediaRef } from '../domain/media-refs.ts';
import type { MediaFetcher } from '../domain/ports.ts';
import type { StreamingObjectStore } from '../domain/storage.ts';

export interface CopyResult {
  outcome: MediaOutcome;
  attempts: number;
  /** Bytes written to the store by this copy (0 when deduplicated or not archived). */
  storedBytes: number;
}

/** The reason recorded for elements without URL. */
export const NO_URL_REASON = 'the element comes from an SDK 2.X/3.X client and carries no download URL';

/**
 * @throws AbortedError when `signal` fires (nothing half-written: the upload is aborted)
 * @throws StorageError when the store fails
 */
export async function copyMedia(
  ref: MediaRef,
  deps: {
    fetcher: MediaFetcher;
    store: StreamingObjectStore;
    /** Bounds concurrent writes to the store (fsyncs share the I/O thread pool with everything else). */
    writeSlots?: <T>(write: () => Promise<T>) => Promise<T>;
  },
  signal?: AbortSignal,
): Promise<CopyResult> {
  if (ref.url === null)
    return { outcome: { status: 'no_url', reason: NO_URL_REASON }, attempts: 0, storedBytes: 0 };
  const fetched = await deps.fetcher.download(ref, signal);
  if (fetched.status !== 'archived') {
    return {
      outcome: { status: fetched.status, reason: fetched.reason },
      attempts: fetched.attempts,
      storedBytes: 0,
    };
  }
  const slot = deps.writeSlots ?? (<T>(write: () => Promise<T>) => write());
  try {
    const key = mediaObjectKey(fetched.sha256);
    let storedBytes = 0;
    const existing = await slot(() => deps.store.head(key));
    if (existing === undefined) {
      try {
        const metadata: Record<string, string> = { sha256: fetched.sha256, kind: ref.kind };
        if (ref.fileName !== null) metadata['original-filename'] = ref.fileName;
        const put = await slot(() =>
          deps.store.putStream(key, fetched.open(), {
            ifNoneMatch: '*',
            ...(fetched.contentType === null ? {} : { contentType: fetched.contentType }),
            metadata,
            ...(signal ? { signal } : {}),
          }),
        );
        if (put.bytes !== fetched.bytes) {
          throw new StorageError(`stored ${put.bytes} bytes of ${key}, expected ${fetched.bytes}`, { key });
        }
        storedBytes = put.bytes;
      } catch (error) {
        if (!(error instanceof PreconditionFailedError)) throw error;
      }
    } else if (existing.bytes !== fetched.bytes) {
      throw new StorageError(
        `${key} holds ${existing.bytes} bytes but its content has ${fetched.bytes}: the stored object is damaged`,
        { key },
      );
    }
    return {
      outcome: {
        status: 'archived',
        sha256: fetched.sha256,
        bytes: fetched.bytes,
        contentType: fetched.contentType,
        reason: fetched.reason,
      },
      attempts: fetched.attempts,
      storedBytes,
    };
  } finally {
    await fetched.dispose();
  }
}
