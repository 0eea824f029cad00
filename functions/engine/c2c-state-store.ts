/**
 * The one-to-one pass's state in the store (functions/domain/c2c-state.ts): the head, written with
 * If-Match on the ETag last read (If-None-Match for the first) after the run's lease fence, so a run
 * that lost its lease or raced another cannot advance it; shard objects read one at a time; the
 * roll-back of a checkpoint a killed run left half written.
 */
import { type C2cPairState, parseShard } from '../domain/c2c-pairs.ts';
import {
  type C2cHead,
  c2cHeadKey,
  emptyC2cHead,
  parseC2cHead,
  serializeC2cHead,
} from '../domain/c2c-state.ts';
import { PreconditionFailedError, StateCorruptError } from '../domain/errors.ts';
import type { Logger } from '../domain/ports.ts';
import type { ObjectStore } from '../domain/storage.ts';
import { LeaseLostError } from './errors.ts';

const decoder = new TextDecoder();
const encoder = new TextEncoder();

export class C2cStateStore {
  private constructor(
    private readonly store: ObjectStore,
    private readonly fence: () => Promise<void>,
    private current: C2cHead,
    private etag: string | undefined,
  ) {}

  /**
   * Read the head (or start one with `shards` shards) and roll back the checkpoint a run left
   * unfinished: its objects are deleted and the intent cleared, before anything else is written.
   * @throws StateCorruptError when the head cannot be read
   */
  public static async open(
    ports: { store: ObjectStore; logger: Logger; fence: () => Promise<void> },
    sdkAppId: number,
    shards: number,
  ): Promise<{ state: C2cStateStore; rolledBack: number }> {
    const key = c2cHeadKey(sdkAppId);
    const stored = await ports.store.get(key);
    let head = emptyC2cHead(sdkAppId, shards);
    if (stored) {
      try {
        head = parseC2cHead(decoder.decode(stored.body), sdkAppId);
      } catch (cause) {
        throw new StateCorruptError(`The one-to-one state ${key} cannot be read: ${String(cause)}`, {
          cause,
        });
      }
    }
    const state = new C2cStateStore(ports.store, ports.fence, head, stored?.etag);
    const pending = head.pending;
    if (pending === null) return { state, rolledBack: 0 };
    ports.logger.warn('rolling back the one-to-one checkpoint an earlier run left unfinished', {
      runId: pending.runId,
      objects: pending.objects.length,
    });
    for (const object of pending.objects) await ports.store.delete(object);
    await state.write({ ...head, pending: null });
    return { state, rolledBack: pending.objects.length };
  }

  public get head(): C2cHead {
    return this.current;
  }

  /** The pairs of a shard object. @throws StateCorruptError when it is missing or unreadable */
  public async readShard(key: string): Promise<C2cPairState[]> {
    const stored = await this.store.get(key);
    if (!stored) throw new StateCorruptError(`The one-to-one state names ${key}, which is missing`);
    try {
      return parseShard(decoder.decode(stored.body));
    } catch (cause) {
      throw new StateCorruptError(`The one-to-one shard ${key} cannot be read: ${String(cause)}`, { cause });
    }
  }

  /** Create an object the intent names (rows or a shard), create-only, behind the fence. */
  public async create(key: string, body: Uint8Array, contentType: string): Promise<void> {
    await this.fence();
    await this.store.put(key, body, { ifNoneMatch: '*', contentType });
  }

  /**
   * Write the head, conditionally, behind the fence.
   * @throws LeaseLostError when another run changed it since this run last read or wrote it
   */
  public async write(next: C2cHead): Promise<void> {
    await this.fence();
    const key = c2cHeadKey(next.sdkAppId);
    try {
      const { etag } = await this.store.put(key, encoder.encode(serializeC2cHead(next)), {
        contentType: 'application/json',
        ...(this.etag === undefined ? { ifNoneMatch: '*' as const } : { ifMatch: this.etag }),
      });
      this.etag = etag;
      this.current = next;
    } catch (error) {
      if (error instanceof PreconditionFailedError) {
        throw new LeaseLostError(`The one-to-one state ${key} was changed by another run; this run stops.`, {
          cause: error,
        });
      }
      throw error;
    }
  }

  /** Delete replaced shard objects (best effort: one left behind is never read again). */
  public async deleteReplaced(keys: readonly string[], logger: Logger): Promise<void> {
    for (const key of keys) {
      await this.store.delete(key).catch((error: unknown) => {
        logger.warn('could not delete a replaced one-to-one shard', { key, error: String(error) });
      });
    }
  }
}
