/**
 * Request pacing per Tencent API (e.g. 200 requests/s for `group_msg_get_simple`).
 *
 * Hand-written rather than taken from a library: `bottleneck` and `limiter` schedule with real
 * timers and read `Date.now()` themselves, so they cannot take the injected {@link Clock}, and
 * tests would have to wait in real time. This module is pure arithmetic; the only waiting happens
 * through `clock.sleep`.
 *
 * The bucket is the GCRA ("virtual scheduling") form of a token bucket: instead of counting
 * tokens it keeps the theoretical arrival time (TAT) of the next request. That one number gives
 * fair FIFO queueing (each reservation gets the next free slot, even at the same instant), an
 * exact long-run rate (slots are `1000 / rate` ms apart, never rounded), and a burst allowance
 * (a reservation goes out at once while the TAT is fewer than `burst` slots ahead of now; idle
 * time lets the TAT fall back to now, which is what "refills" the bucket, never past `burst`).
 */
import { AbortedError, ConfigError } from './errors.ts';
import type { Clock } from './ports.ts';

/** Options for one {@link TokenBucket}. */
export interface TokenBucketOptions {
  /** Sustained requests per second; positive and finite. */
  ratePerSecond: number;
  /** Requests that may go out back to back after idle time; a positive integer, default 1 (no bursts). */
  burst?: number;
}

/**
 * Waits are handed out as whole milliseconds, rounded up so no request goes out early. The slack
 * absorbs float error: at 30/s, 15 slots of 1000/30 ms come to 500.00000000000006 ms, which must
 * not become 501.
 */
const ROUNDING_SLACK_MS = 1e-6;

function describeRate(value: unknown): string {
  return typeof value === 'number' ? String(value) : typeof value;
}

function isValidRate(rate: unknown): rate is number {
  return typeof rate === 'number' && Number.isFinite(rate) && rate > 0;
}

function validateBurst(burst: number, field: string): void {
  if (!Number.isSafeInteger(burst) || burst < 1) {
    throw new ConfigError(`${field} must be a positive integer, got ${describeRate(burst)}`, { field });
  }
}

function requireFiniteTime(ms: number, what: string): void {
  if (!Number.isFinite(ms)) throw new RangeError(`${what} must be a finite number of ms, got ${ms}`);
}

/** A pure token bucket on caller-supplied timestamps (epoch ms): no timers, no clock of its own. */
export class TokenBucket {
  public readonly ratePerSecond: number;
  /** Milliseconds between two slots at the sustained rate (fractional for rates like 3/s). */
  private readonly intervalMs: number;
  /** How many slots ahead of "now" may still be handed out at once. */
  private readonly toleranceSlots: number;
  /**
   * The theoretical arrival time (TAT: the slot the next reservation gets, before the burst
   * tolerance) is `baseMs + slots * intervalMs`. It is kept in two parts because epoch
   * milliseconds (~1.8e12) carry only about 1/4000 ms of float precision: adding fractional
   * intervals to them one by one would drift, while `base - now` stays exact for whole-ms inputs
   * and `slots * intervalMs` is a single rounding.
   */
  private baseMs: number;
  private slots = 0;

  /**
   * @param startMs the time at which the bucket starts full (`burst` immediate sends available).
   * @throws ConfigError when the rate is not a positive finite number or burst is not a positive integer.
   */
  public constructor(options: TokenBucketOptions, startMs: number) {
    if (!isValidRate(options.ratePerSecond)) {
      throw new ConfigError(
        `ratePerSecond must be a positive finite number, got ${describeRate(options.ratePerSecond)}`,
        { field: 'ratePerSecond' },
      );
    }
    const burst = options.burst ?? 1;
    validateBurst(burst, 'burst');
    requireFiniteTime(startMs, 'startMs');
    this.ratePerSecond = options.ratePerSecond;
    this.intervalMs = 1000 / options.ratePerSecond;
    this.toleranceSlots = burst - 1;
    this.baseMs = startMs;
  }

  /**
   * Reserve one token at `nowMs`; returns how many ms the caller must wait before sending
   * (0 = send now). Reservations queue fairly: successive calls at the same instant get
   * increasing waits (1000/rate apart).
   */
  public reserve(nowMs: number): number {
    requireFiniteTime(nowMs, 'nowMs');
    // An idle bucket's TAT lies in the past; catching it up to now is what caps the refill at `burst`.
    if (this.msAheadOf(nowMs, 0) < 0) this.restartAt(nowMs, 0);
    const waitMs = this.msAheadOf(nowMs, this.toleranceSlots);
    this.slots += 1;
    return waitMs <= ROUNDING_SLACK_MS ? 0 : Math.ceil(waitMs - ROUNDING_SLACK_MS);
  }

  /**
   * Hand out no token before `untilMs` (after a frequency-limit answer); later reservations queue
   * after it. Only one token is available at `untilMs`, then the bucket paces again: right after a
   * throttle answer is the worst moment for a burst. Waits already returned are not changed.
   */
  public pauseUntil(untilMs: number): void {
    requireFiniteTime(untilMs, 'untilMs');
    // The burst tolerance lets slots start `toleranceSlots` early, so the TAT goes that much past the pause.
    if (this.msAheadOf(untilMs, 0) < this.toleranceSlots * this.intervalMs) {
      this.restartAt(untilMs, this.toleranceSlots);
    }
  }

  /** How far the TAT, less `lessSlots` slots, lies after `ms` (negative: before it). */
  private msAheadOf(ms: number, lessSlots: number): number {
    return this.baseMs - ms + (this.slots - lessSlots) * this.intervalMs;
  }

  private restartAt(baseMs: number, slots: number): void {
    this.baseMs = baseMs;
    this.slots = slots;
  }
}

/** Limits per API name, sharing one clock. acquire() reserves then sleeps via clock.sleep(ms, signal). */
export class RateLimiter {
  private readonly buckets = new Map<string, TokenBucket>();

  /**
   * @param rates requests per second for each API name; every API the caller will use must be listed.
   * @param options.burst immediate sends allowed after idle time, per API (default 1).
   * @throws ConfigError (field `rateLimits.<api>`) when a rate is not a positive finite number.
   */
  public constructor(
    rates: Record<string, number>,
    private readonly clock: Clock,
    options?: { burst?: number },
  ) {
    const burst = options?.burst ?? 1;
    validateBurst(burst, 'rateLimits.burst');
    const startMs = clock.now();
    for (const [api, rate] of Object.entries(rates)) {
      if (!isValidRate(rate)) {
        throw new ConfigError(
          `Rate limit for API "${api}" must be a positive finite number of requests per second, got ${describeRate(rate)}`,
          { field: `rateLimits.${api}` },
        );
      }
      this.buckets.set(api, new TokenBucket({ ratePerSecond: rate, burst }, startMs));
    }
  }

  /**
   * Waits (through the injected clock) until `api` may send one more request.
   *
   * A token reserved before an abort is not given back: returning it could let a later caller
   * jump the queue ahead of reservations made meanwhile, and losing one slot only sends slower.
   *
   * @throws ConfigError when `api` has no configured rate; AbortedError when `signal` aborts
   *   (before reserving, or during the wait).
   */
  public async acquire(api: string, signal?: AbortSignal): Promise<void> {
    const bucket = this.bucketFor(api);
    if (signal?.aborted) {
      throw new AbortedError(`Rate limiter wait for ${api} aborted`, { cause: signal.reason });
    }
    const waitMs = bucket.reserve(this.clock.now());
    if (waitMs === 0) return;
    try {
      await this.clock.sleep(waitMs, signal);
    } catch (cause) {
      // The Clock contract rejects only on abort; anything else is not ours to relabel.
      if (signal?.aborted) throw new AbortedError(`Rate limiter wait for ${api} aborted`, { cause });
      throw cause;
    }
  }

  /**
   * Sends nothing to `api` for the next `ms` (after a frequency-limit answer); queued and later
   * reservations go after the pause.
   *
   * @throws ConfigError when `api` has no configured rate.
   */
  public pause(api: string, ms: number): void {
    this.bucketFor(api).pauseUntil(this.clock.now() + ms);
  }

  private bucketFor(api: string): TokenBucket {
    const bucket = this.buckets.get(api);
    if (bucket === undefined) {
      const known = [...this.buckets.keys()].join(', ') || '(none)';
      throw new ConfigError(`No rate limit configured for API "${api}" (configured: ${known})`, {
        field: `rateLimits.${api}`,
      });
    }
    return bucket;
  }
}
