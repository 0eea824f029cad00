/**
 * Keeps the continuation state and the run's lease on it. The state is a small head object (the
 * one commit point) naming immutable target objects, a base and deltas (see
 * `functions/domain/state-layout.ts`). Every head write is a conditional write (`If-Match` on the
 * ETag last read, or `If-None-Match: *` for the first), serialised through one queue, so two runs
 * can never both advance the state: the loser gets a clear error. Target objects are create-only
 * and written before the head that names them.
 */
import { type TargetState, targetKey } from '../domain/continuation.ts';
import { PreconditionFailedError } from '../domain/errors.ts';
import { judgeLease, leaseValidFor, rememberRolledBack } from '../domain/lease.ts';
import { stateKey } from '../domain/partition.ts';
import type { Clock, HostProcesses, Logger } from '../domain/ports.ts';
import {
  DEFAULT_LAYOUT_BOUNDS,
  decideLayout,
  emptyHead,
  encodeTargets,
  type LayoutBounds,
  namedTargetObjects,
  type ReadHead,
  type StateHead,
  sameTargetState,
  serializeHead,
  serializeInline,
  type TargetsObjectRef,
  targetsObjectKey,
} from '../domain/state-layout.ts';
import type { ObjectStore } from '../domain/storage.ts';
import { LeaseHeldError, LeaseLostError } from './errors.ts';
import { readStoredState, type StoredState } from './state-reader.ts';

const encoder = new TextEncoder();

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
  /** When the deltas are compacted into a new base (tests set small bounds). */
  layoutBounds?: LayoutBounds | undefined;
}

/** The changed targets of a checkpoint, serialised and named, ready to be written before the commit. */
export interface StagedTargets {
  readonly kind: 'base' | 'delta';
  readonly ref: TargetsObjectRef;
  readonly body: Uint8Array;
  readonly changed: readonly TargetState[];
}

export class StateKeeper {
  private queue: Promise<unknown> = Promise.resolve();
  private nextPart = 0;

  private constructor(
    private readonly options: StateKeeperOptions,
    private read: ReadHead,
    private readonly known: Map<string, TargetState>,
    private etag: string | undefined,
  ) {}

  /**
   * Read the state (or start an empty one) and take the lease.
   * @throws LeaseHeldError when another run holds an unexpired lease
   * @throws StateCorruptError when the stored state cannot be trusted
   */
  public static async open(options: StateKeeperOptions): Promise<StateKeeper> {
    for (let attempt = 1; ; attempt++) {
      const stored: StoredState = (await readStoredState(options.store, options.sdkAppId)) ?? {
        read: { layout: 'head', head: emptyHead(options.sdkAppId) },
        targets: new Map(),
        etag: undefined,
      };
      const head = stored.read.head;
      const verdict = judgeLease(
        head.lease,
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
      const keeper = new StateKeeper(options, stored.read, stored.targets, stored.etag);
      try {
        await keeper.update((s) => s);
        return keeper;
      } catch (error) {
        // Someone wrote between our read and our write: read again to report who, or to retry.
        if (!(error instanceof LeaseLostError) || attempt >= 3) throw error;
      }
    }
  }

  /** The head as last written (lease, intent, rolled-back keys, the plan). */
  public get head(): StateHead {
    return this.read.head;
  }

  /** Every target's committed state, by `targetKey`. */
  public get targets(): ReadonlyMap<string, TargetState> {
    return this.known;
  }

  /** When our lease ends unless renewed. */
  public get leaseExpiresAtMs(): number {
    return this.read.head.lease?.expiresAtMs ?? 0;
  }

  /**
   * Apply `change` to the head and write it conditionally, renewing the lease. Writes are serialised.
   * @throws LeaseLostError if the object changed since we last wrote it
   */
  public update(change: (head: StateHead) => StateHead): Promise<void> {
    return this.enqueue(() => this.write(change, undefined));
  }

  /**
   * The object that would store these targets' new states: a delta of those that changed, or a
   * new base of every target when the deltas are past their bounds (or the state is version 1).
   * Returns undefined when nothing changed. Name its key in the intent, write it
   * ({@link writeStaged}), then {@link commit}.
   */
  public stage(states: Iterable<TargetState>): StagedTargets | undefined {
    const changed = new Map<string, TargetState>();
    for (const t of states) {
      const key = targetKey(t);
      if (!sameTargetState(this.known.get(key), t)) changed.set(key, t);
    }
    if (changed.size === 0 && this.read.layout === 'head') return undefined;
    const sdkAppId = this.options.sdkAppId;
    const delta = encodeTargets(sdkAppId, changed.values());
    const kind = decideLayout(
      this.read,
      delta.byteLength,
      this.options.layoutBounds ?? DEFAULT_LAYOUT_BOUNDS,
    );
    const part = this.nextPart++;
    let body = delta;
    let count = changed.size;
    if (kind === 'compact') {
      const known = this.known;
      count = 0;
      body = encodeTargets(
        sdkAppId,
        (function* () {
          for (const [key, t] of known) {
            count++;
            yield changed.get(key) ?? t;
          }
          for (const [key, t] of changed) {
            if (known.has(key)) continue;
            count++;
            yield t;
          }
        })(),
      );
    }
    const objectKind = kind === 'compact' ? 'base' : 'delta';
    return {
      kind: objectKind,
      ref: {
        key: targetsObjectKey(sdkAppId, this.options.runId, part, objectKind),
        bytes: body.byteLength,
        targets: count,
      },
      body,
      changed: [...changed.values()],
    };
  }

  /** Write a staged target object, create-only (fence it first, and name it in the intent). */
  public async writeStaged(staged: StagedTargets): Promise<void> {
    await this.options.store.put(staged.ref.key, staged.body, {
      contentType: 'application/json',
      ifNoneMatch: '*',
    });
  }

  /**
   * Commit: write the head naming the staged object (if any) with `change` applied, renewing the
   * lease. A new base replaces the old base and deltas, which are then deleted (and remembered as
   * rolled-back keys, so a run that crashed before deleting them has them deleted by the next).
   * @throws LeaseLostError if the head changed since we last wrote it
   */
  public commit(staged: StagedTargets | undefined, change: (head: StateHead) => StateHead): Promise<void> {
    return this.enqueue(async () => {
      const replaced = staged?.kind === 'base' ? namedTargetObjects(this.read.head) : [];
      await this.write((head) => {
        const next = change(head);
        if (staged === undefined) return next;
        if (staged.kind === 'delta') return { ...next, deltas: [...next.deltas, staged.ref] };
        return {
          ...next,
          base: staged.ref,
          deltas: [],
          rolledBack: rememberRolledBack(next.rolledBack, replaced, this.options.clock.now()),
        };
      }, staged);
      for (const key of replaced) {
        await this.options.store.delete(key).catch((error: unknown) => {
          this.options.logger.warn('could not delete a replaced state object; the next run deletes it', {
            key,
            error: String(error),
          });
        });
      }
    });
  }

  /** Give the lease back so the next run need not wait for it to expire. */
  public release(): Promise<void> {
    return this.enqueue(() => this.writeHead({ ...this.read.head, lease: null }, undefined));
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

  private enqueue(job: () => Promise<void>): Promise<void> {
    const run = this.queue.then(job);
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async write(
    change: (head: StateHead) => StateHead,
    staged: StagedTargets | undefined,
  ): Promise<void> {
    const next = change({ ...this.read.head });
    await this.writeHead(
      {
        ...next,
        // Measured before the write is sent: the lease is never assumed longer than it is.
        lease: {
          owner: this.options.runId,
          expiresAtMs: this.options.clock.now() + this.options.leaseMs,
          holder: this.options.processes?.self ?? null,
        },
      },
      staged,
    );
  }

  private async writeHead(next: StateHead, staged: StagedTargets | undefined): Promise<void> {
    const key = stateKey(this.options.sdkAppId);
    // A version-1 state stays inline (every target in the head) until its first compaction.
    const inline = this.read.layout === 'inline' && staged?.kind !== 'base';
    const text = inline ? serializeInline(next, this.known.values()) : serializeHead(next);
    try {
      const { etag } = await this.options.store.put(key, encoder.encode(text), {
        contentType: 'application/json',
        ...(this.etag === undefined ? { ifNoneMatch: '*' as const } : { ifMatch: this.etag }),
      });
      this.etag = etag;
      this.read = inline ? { layout: 'inline', head: next, targets: [] } : { layout: 'head', head: next };
      for (const t of staged?.changed ?? []) this.known.set(targetKey(t), t);
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
