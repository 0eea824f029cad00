/**
 * Keeps the continuation state object and the run's lease on it. Every write is a conditional
 * write (`If-Match` on the ETag last read, or `If-None-Match: *` for the first), serialised through
 * one queue, so two runs can never both advance the state: the loser gets a clear error.
 */
import { type ArchiveState, emptyState, parseState, serializeState } from '../domain/continuation.ts';
import { PreconditionFailedError } from '../domain/errors.ts';
import { judgeLease, leaseValidFor } from '../domain/lease.ts';
import { stateKey } from '../domain/partition.ts';
import type { Clock, HostProcesses, Logger } from '../domain/ports.ts';
import type { ObjectStore } from '../domain/storage.ts';
import { LeaseHeldError, LeaseLostError } from './errors.ts';

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export interface StateKeeperOptions {
  store: ObjectStore;
  sdkAppId: number;
  runId: string;
  clock: Clock;
  logger: Logger;
  /** How long a lease lasts without renewal. Every state write renews it. */
  leaseMs: number;
  /** This host's processes: names the holder in the lease, and spots a crashed holder on this host. */
  processes?: HostProcesses | undefined;
}

export class StateKeeper {
  private queue: Promise<unknown> = Promise.resolve();

  private constructor(
    private readonly options: StateKeeperOptions,
    private current: ArchiveState,
    private etag: string | undefined,
  ) {}

  /**
   * Read the state (or start an empty one) and take the lease.
   * @throws LeaseHeldError when another run holds an unexpired lease
   * @throws StateCorruptError when the stored state cannot be trusted
   */
  public static async open(options: StateKeeperOptions): Promise<StateKeeper> {
    const key = stateKey(options.sdkAppId);
    for (let attempt = 1; ; attempt++) {
      const stored = await options.store.get(key);
      const state = stored
        ? parseState(decoder.decode(stored.body), options.sdkAppId, `${options.store.location}/${key}`)
        : emptyState(options.sdkAppId);
      const verdict = judgeLease(
        state.lease,
        options.runId,
        options.clock.now(),
        (holder) => options.processes?.isGone(holder) ?? false,
      );
      if (verdict.kind === 'held') {
        throw new LeaseHeldError(verdict.lease.owner, verdict.lease.expiresAtMs, verdict.lease.holder);
      }
      if (verdict.kind === 'holder-gone') {
        options.logger.warn(
          'taking over at once: the run holding the lease ran on this host and its process is gone',
          {
            previousOwner: verdict.previous.owner,
            holder: verdict.previous.holder,
            leaseWouldExpireAt: new Date(verdict.previous.expiresAtMs).toISOString(),
          },
        );
      } else if (verdict.kind === 'expired') {
        options.logger.warn('taking over an expired lease', {
          previousOwner: verdict.previous.owner,
          holder: verdict.previous.holder,
        });
      }
      const keeper = new StateKeeper(options, state, stored?.etag);
      try {
        await keeper.update((s) => s);
        return keeper;
      } catch (error) {
        // Someone wrote between our read and our write: read again to report who, or to retry.
        if (!(error instanceof LeaseLostError) || attempt >= 3) throw error;
      }
    }
  }

  /** The state as last written. */
  public get state(): ArchiveState {
    return this.current;
  }

  /** When our lease ends unless renewed. */
  public get leaseExpiresAtMs(): number {
    return this.current.lease?.expiresAtMs ?? 0;
  }

  /**
   * Apply `change` and write the result conditionally, renewing the lease. Writes are serialised.
   * @throws LeaseLostError if the object changed since we last wrote it
   */
  public update(change: (state: ArchiveState) => ArchiveState): Promise<void> {
    const run = this.queue.then(() => this.write(change));
    this.queue = run.catch(() => undefined);
    return run;
  }

  /** Give the lease back so the next run need not wait for it to expire. */
  public release(): Promise<void> {
    const run = this.queue.then(() => this.writeRaw({ ...this.current, lease: null }));
    this.queue = run.catch(() => undefined);
    return run;
  }

  /**
   * The fence before every object write: is our lease good for `marginMs` more, on our own clock?
   * If not, renew it with a conditional write, which fails when another run took the state over
   * (this process was frozen or stalled past its lease): then nothing more may be written.
   * @throws LeaseLostError when the lease cannot be kept
   */
  public async ensureLease(marginMs: number): Promise<void> {
    if (leaseValidFor(this.leaseExpiresAtMs, this.options.clock.now(), marginMs)) return;
    await this.update((s) => s);
    if (!leaseValidFor(this.leaseExpiresAtMs, this.options.clock.now(), marginMs)) {
      throw new LeaseLostError(
        `The lease on ${stateKey(this.options.sdkAppId)} cannot be kept ${marginMs} ms ahead (the lease is shorter than the state write takes); stopping before writing without it.`,
      );
    }
  }

  private async write(change: (state: ArchiveState) => ArchiveState): Promise<void> {
    const next = change(structuredClone(this.current));
    await this.writeRaw({
      ...next,
      // Measured before the write is sent: the lease is never assumed longer than it is.
      lease: {
        owner: this.options.runId,
        expiresAtMs: this.options.clock.now() + this.options.leaseMs,
        holder: this.options.processes?.self ?? null,
      },
    });
  }

  private async writeRaw(next: ArchiveState): Promise<void> {
    const key = stateKey(this.options.sdkAppId);
    try {
      const { etag } = await this.options.store.put(key, encoder.encode(serializeState(next)), {
        contentType: 'application/json',
        ...(this.etag === undefined ? { ifNoneMatch: '*' as const } : { ifMatch: this.etag }),
      });
      this.etag = etag;
      this.current = next;
    } catch (error) {
      if (error instanceof PreconditionFailedError) {
        throw new LeaseLostError(
          `The state object ${key} was changed by another run (${this.options.runId} lost its lease). This run stops; nothing it has not committed is claimed.`,
          { cause: error },
        );
      }
      throw error;
    }
  }
}
