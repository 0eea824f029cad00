/**
 * A byte semaphore (issue 22): work that needs some bytes of a shared resource (the media temp
 * folder) reserves them before it starts and releases them when it is done, so the bytes reserved
 * at any moment never exceed the budget.
 *
 * Rules:
 * - **FIFO.** Reservations are granted in the order they were asked for. A small one never overtakes
 *   a large one waiting at the head, so a large file cannot be starved by a stream of small ones.
 * - **Oversize runs alone.** A reservation larger than the whole budget waits until nothing else is
 *   reserved, then is granted alone: it never waits for ever, and nothing else is granted until it
 *   is released.
 * - **Abort.** A waiting reservation whose signal fires leaves the queue and rejects with
 *   AbortedError; those behind it are granted if they now fit.
 * - **Release** is idempotent: releasing twice frees the bytes once.
 *
 * Hand-written: `p-limit` (in package.json) counts tasks, not weights. Pure logic: no clock, no I/O.
 */
import { AbortedError } from './errors.ts';

/** Bytes held until `release` is called. */
export interface ByteReservation {
  readonly bytes: number;
  /** Give the bytes back (once; later calls do nothing). */
  release(): void;
}

interface Waiter {
  bytes: number;
  grant: (reservation: ByteReservation) => void;
  /** Stop listening on the caller's signal. */
  detach: () => void;
}

export class ByteBudget {
  private used = 0;
  private readonly queue: Waiter[] = [];

  /** @throws RangeError unless `capacity` is a positive safe integer */
  public constructor(public readonly capacity: number) {
    if (!Number.isSafeInteger(capacity) || capacity < 1) {
      throw new RangeError(`a byte budget must be a positive whole number of bytes, got ${capacity}`);
    }
  }

  /** Bytes reserved now (above `capacity` only while one oversize reservation runs alone). */
  public get inUse(): number {
    return this.used;
  }

  /** Reservations waiting. */
  public get waiting(): number {
    return this.queue.length;
  }

  /**
   * Reserve `bytes`, waiting (in arrival order) until they fit.
   * @throws RangeError unless `bytes` is a non-negative safe integer
   * @throws AbortedError when `signal` fires before the bytes are granted (nothing stays reserved)
   */
  public acquire(bytes: number, signal?: AbortSignal): Promise<ByteReservation> {
    if (!Number.isSafeInteger(bytes) || bytes < 0) {
      return Promise.reject(new RangeError(`a reservation must be a whole number of bytes, got ${bytes}`));
    }
    if (signal?.aborted) return Promise.reject(aborted(signal));
    if (this.queue.length === 0 && this.fits(bytes)) return Promise.resolve(this.take(bytes));
    return new Promise((resolve, reject) => {
      const onAbort = () => {
        const at = this.queue.indexOf(waiter);
        if (at === -1) return;
        this.queue.splice(at, 1);
        reject(aborted(signal as AbortSignal));
        // The one that left may have been what held the others back.
        this.drain();
      };
      const waiter: Waiter = {
        bytes,
        grant: resolve,
        detach: () => signal?.removeEventListener('abort', onAbort),
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.queue.push(waiter);
    });
  }

  /** Within the budget, or alone when larger than the whole budget. */
  private fits(bytes: number): boolean {
    return this.used === 0 || this.used + bytes <= this.capacity;
  }

  private take(bytes: number): ByteReservation {
    this.used += bytes;
    let held = true;
    return {
      bytes,
      release: () => {
        if (!held) return;
        held = false;
        this.used -= bytes;
        this.drain();
      },
    };
  }

  /** Grant from the head of the queue while the head fits; never past a head that does not. */
  private drain(): void {
    for (let head = this.queue[0]; head !== undefined && this.fits(head.bytes); head = this.queue[0]) {
      this.queue.shift();
      head.detach();
      head.grant(this.take(head.bytes));
    }
  }
}

function aborted(signal: AbortSignal): AbortedError {
  return new AbortedError('gave up waiting for bytes of the budget', { cause: signal.reason });
}
