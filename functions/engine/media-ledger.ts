/**
 * The media ledger (`state/sdkappid=<id>/media-ledger.json`): the intents of media checkpoints,
 * written with conditional writes like the state object. A media checkpoint turns one queue object
 * (the source) into manifest objects plus, for what is left, a new queue object:
 *
 *   1. intent: add `{source, objects}` to the ledger;
 *   2. write the manifest objects and the remainder queue object (create-only);
 *   3. delete the source;
 *   4. commit: remove the entry.
 *
 * Recovery (`recoverMediaCheckpoints`): an entry whose source still exists is rolled back (its
 * objects deleted; the source is processed again); one whose source is gone was complete up to
 * step 3 and is rolled forward. So every reference gets exactly one manifest row across kills.
 */
import { PreconditionFailedError, StorageError } from '../domain/errors.ts';
import { mediaLedgerKey } from '../domain/media-manifest.ts';
import type { Logger } from '../domain/ports.ts';
import type { ObjectStore } from '../domain/storage.ts';
import { LeaseLostError } from './errors.ts';

export interface LedgerEntry {
  runId: string;
  /** The queue object being turned into manifest rows. */
  source: string;
  /** Manifest objects and the remainder queue object this checkpoint writes. */
  objects: string[];
}

interface LedgerDocument {
  version: 1;
  pending: LedgerEntry[];
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export class MediaLedger {
  private queue: Promise<unknown> = Promise.resolve();

  private constructor(
    private readonly store: ObjectStore,
    private readonly key: string,
    private document: LedgerDocument,
    private etag: string | undefined,
  ) {}

  /** @throws StorageError when the ledger exists but cannot be read */
  public static async open(store: ObjectStore, sdkAppId: number): Promise<MediaLedger> {
    const key = mediaLedgerKey(sdkAppId);
    const stored = await store.get(key);
    let document: LedgerDocument = { version: 1, pending: [] };
    if (stored) {
      try {
        const parsed = JSON.parse(decoder.decode(stored.body)) as LedgerDocument;
        if (parsed.version !== 1 || !Array.isArray(parsed.pending))
          throw new TypeError('unknown ledger version');
        document = parsed;
      } catch (error) {
        throw new StorageError(
          `The media ledger ${store.location}/${key} cannot be read; restore it from a backup (or an older version of the object)`,
          { cause: error, key },
        );
      }
    }
    return new MediaLedger(store, key, document, stored?.etag);
  }

  public get pending(): readonly LedgerEntry[] {
    return this.document.pending;
  }

  /**
   * Apply `change` and write conditionally; writes are serialised.
   * @throws LeaseLostError when another run changed the ledger
   */
  public update(change: (pending: LedgerEntry[]) => LedgerEntry[]): Promise<void> {
    const run = this.queue.then(async () => {
      const next: LedgerDocument = { version: 1, pending: change(structuredClone(this.document.pending)) };
      try {
        const { etag } = await this.store.put(this.key, encoder.encode(`${JSON.stringify(next)}\n`), {
          contentType: 'application/json',
          ...(this.etag === undefined ? { ifNoneMatch: '*' as const } : { ifMatch: this.etag }),
        });
        this.etag = etag;
        this.document = next;
      } catch (error) {
        if (error instanceof PreconditionFailedError) {
          throw new LeaseLostError(
            `The media ledger ${this.key} was changed by another run; this run stops.`,
            {
              cause: error,
            },
          );
        }
        throw error;
      }
    });
    this.queue = run.catch(() => undefined);
    return run;
  }
}

/** Finish or undo the media checkpoints a killed run left; returns the objects rolled back. */
export async function recoverMediaCheckpoints(
  ledger: MediaLedger,
  store: ObjectStore,
  logger: Logger,
): Promise<number> {
  let rolledBack = 0;
  for (const entry of ledger.pending) {
    if ((await store.get(entry.source)) !== undefined) {
      logger.warn('rolling back an uncommitted media checkpoint of an earlier run', {
        runId: entry.runId,
        objects: entry.objects.length,
      });
      for (const key of entry.objects) await store.delete(key);
      rolledBack += entry.objects.length;
    }
  }
  if (ledger.pending.length > 0) await ledger.update(() => []);
  return rolledBack;
}
