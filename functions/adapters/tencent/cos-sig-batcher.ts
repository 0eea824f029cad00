/**
 * Coalesces `get_cos_sig` lookups: at most {@link IN_FLIGHT} requests are out at once, and URLs
 * that arrive meanwhile wait and go together in the next one (up to {@link MAX_BATCH}), so signing
 * thousands of files costs a few hundred calls under the API's own rate limit. Hand-written: it
 * is a few lines around the client's call.
 */
import type { ChatApi } from '../../domain/ports.ts';
import type { CosSigResult } from '../../domain/tencent-types.ts';

/** URLs per request. The docs give no limit for `RawURLs`; 20 keeps answers small. */
export const MAX_BATCH = 20;
/** Requests out at once. */
export const IN_FLIGHT = 2;

interface Waiting {
  rawUrl: string;
  resolve: (result: CosSigResult | undefined) => void;
  reject: (error: unknown) => void;
}

export function cosSigBatcher(
  api: Pick<ChatApi, 'getCosSig'>,
): (rawUrl: string) => Promise<CosSigResult | undefined> {
  let waiting: Waiting[] = [];
  let scheduled = false;
  let inFlight = 0;
  const send = async (batch: Waiting[]): Promise<void> => {
    inFlight++;
    try {
      // ResourceID is the item's index in the batch, a JSON integer as documented.
      const answers = await api.getCosSig(batch.map((w, i) => ({ resourceId: i, rawUrl: w.rawUrl })));
      const byId = new Map(answers.map((a) => [a.resourceId, a]));
      batch.forEach((w, i) => {
        w.resolve(byId.get(i));
      });
    } catch (error) {
      for (const w of batch) w.reject(error);
    } finally {
      inFlight--;
      flush();
    }
  };
  const flush = (): void => {
    scheduled = false;
    while (waiting.length > 0 && inFlight < IN_FLIGHT) {
      void send(waiting.slice(0, MAX_BATCH));
      waiting = waiting.slice(MAX_BATCH);
    }
  };
  return (rawUrl) =>
    new Promise((resolve, reject) => {
      waiting.push({ rawUrl, resolve, reject });
      if (!scheduled) {
        scheduled = true;
        setImmediate(flush);
      }
    });
}
