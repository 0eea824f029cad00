/**
 * Per-app, per-API token buckets. Capacity equals the rate (one second of burst) and tokens refill
 * continuously at `rate` per second. Driven by real monotonic time, not the simulator's `now()`:
 * tests move `now()` by days to expire sigs and messages, which must not refill the buckets.
 */

/** A token bucket; `clock` returns monotonic milliseconds. */
export class TokenBucket {
  readonly #rate: number;
  readonly #clock: () => number;
  #tokens: number;
  #updatedAt: number;

  public constructor(ratePerSecond: number, clock: () => number) {
    this.#rate = ratePerSecond;
    this.#clock = clock;
    this.#tokens = ratePerSecond;
    this.#updatedAt = clock();
  }

  /** Takes one token; false when the bucket is empty (the request is over the limit). */
  public tryTake(): boolean {
    const now = this.#clock();
    this.#tokens = Math.min(this.#rate, this.#tokens + ((now - this.#updatedAt) * this.#rate) / 1000);
    this.#updatedAt = now;
    if (this.#tokens < 1) return false;
    this.#tokens -= 1;
    return true;
  }
}

/** Buckets keyed by (sdkAppId, api), created on first use. A rate of Infinity disables limiting. */
export class RateLimiter<Api extends string> {
  readonly #rates: Readonly<Record<Api, number>>;
  readonly #clock: () => number;
  readonly #buckets = new Map<string, TokenBucket>();

  public constructor(rates: Readonly<Record<Api, number>>, clock: () => number = () => performance.now()) {
    this.#rates = rates;
    this.#clock = clock;
  }

  /** True when the call may proceed. */
  public allow(sdkAppId: number, api: Api): boolean {
    const rate = this.#rates[api];
    if (rate === Number.POSITIVE_INFINITY) return true;
    const key = `${sdkAppId}/${api}`;
    let bucket = this.#buckets.get(key);
    if (bucket === undefined) {
      bucket = new TokenBucket(rate, this.#clock);
      this.#buckets.set(key, bucket);
    }
    return bucket.tryTake();
  }
}
