/**
 * Media in flight bounded by bytes (issue 22): a MediaFetcher that reserves a download's bytes of
 * the temp folder's budget before the download starts, and gives them back once its temp file is
 * gone (after `dispose`, or at once when the download ends without a file: expired, refused,
 * failed, aborted, thrown). So the temp files at any moment add up to at most the budget, counted
 * at their declared sizes, whatever the number of downloads in flight.
 *
 * A download reserves its declared size, or `maxBytes` when none is declared, never more than
 * `maxBytes` (the downloader stops any body at that, and at the declared size:
 * functions/adapters/media/downloader.ts). The order and the rule for a reservation larger than
 * the budget are the budget's (functions/domain/byte-budget.ts). A download waiting for its bytes
 * when the stage's signal fires (deadline, hard stop) is not started: the wait ends with
 * AbortedError, which the media stage reads as "left for the next invocation".
 */
import type { ByteBudget } from '../domain/byte-budget.ts';
import type { MediaRef } from '../domain/media-refs.ts';
import type { MediaFetcher, MediaFetchResult } from '../domain/ports.ts';

/** The bytes a download of `ref` reserves. */
export function reservedBytes(ref: MediaRef, maxBytes: number): number {
  return Math.min(ref.declaredSize ?? maxBytes, maxBytes);
}

/**
 * `fetcher` with every download inside `budget`.
 * @param maxBytes the largest file the fetcher accepts (`media.maxBytes`)
 */
export function withByteBudget(fetcher: MediaFetcher, budget: ByteBudget, maxBytes: number): MediaFetcher {
  return {
    refusal: (ref) => fetcher.refusal(ref),
    download: async (ref, signal) => {
      const reservation = await budget.acquire(reservedBytes(ref, maxBytes), signal);
      let result: MediaFetchResult;
      try {
        result = await fetcher.download(ref, signal);
      } catch (error) {
        reservation.release();
        throw error;
      }
      if (result.status !== 'archived') {
        reservation.release();
        return result;
      }
      const file = result;
      return {
        ...file,
        // Released even when removing the file fails (an error the caller sees): holding it for
        // ever would shrink the budget for the rest of the run. The Lambda empties the temp folder
        // at its next cold start (functions/lambda/handler.ts).
        dispose: () => file.dispose().finally(() => reservation.release()),
      };
    },
  };
}
