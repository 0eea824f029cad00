/**
 * Per-app, per-API rate-limit accounting. Tencent documents "200 calls/s" without saying how it is
 * counted (docs/tencent-api.md, Rate limits), so the simulator offers two readings:
 *
 * - `sliding` (the default, the strictest reading): at most N requests ARRIVING in any window of
 *   1000 ms, counted at arrival. Every window, not just windows aligned to a second or to the
 *   previous rejection.
 * - `token-bucket` (lenient): capacity N (one second of burst), refilled continuously at N/s.
 *
 * In the sliding reading a rejected request still counts (it arrived), unless `countRejected` is
 * off; the token bucket never charges for one. Both are driven by real monotonic time,
 * not the simulator's `now()`: tests move `now()` by days to expire sigs and messages, which must
 * not refill the budgets.
 */

export type RateLimitMode = 'sliding' | 'token-bucket';
export const RATE_LIMIT_MODES: readonly RateLimitMode[] = ['sliding', 'token-bucket'];

/** The window of the documented "per second" limits. */
export const WINDOW_MS = 1000;

/** One API's budget; `tryTake(arrivalMs)` admits or rejects one request. */
interface Budget {
  tryTake(arrivalMs: number): boolean;
}

/** A token bucket; arrival times are monotonic milliseconds. */
export class TokenBucket implements Budget {
  readonly #rate: number;
  #tokens: number;
  #updatedAt: number | undefined;

  public constructor(ratePerSecond: number) {
    this.#rate = ratePerSecond;
    this.#tokens = ratePerSecond;
  }

  /** Takes one token; false when the bucket is empty (the request is over the limit). */
  public tryTake(arrivalMs: number): boolean {
    const elapsed = this.#updatedAt === undefined ? 0 : Math.max(0, arrivalMs - this.#updatedAt);
    this.#tokens = Math.min(this.#rate, this.#tokens + (elapsed * this.#rate) / 1000);
    this.#updatedAt = Math.max(this.#updatedAt ?? arrivalMs, arrivalMs);
    if (this.#tokens < 1) return false;
    this.#tokens -= 1;
    return true;
  }
}

/**
 * At most `limit` admitted arrivals in any half-open window `[s, s + windowMs)`, for every `s`
 * (with `countRejected`, a new arrival is refused while `limit` counted ones, rejected included,
 * share a window with it).
 *
 * Arrivals may be presented out of order (jitter reorders them), so a new arrival is checked
 * against every window that contains it, on both sides, not only the window that ends at it:
 * it is admitted only if no `limit + 1` consecutive admitted arrivals (in time order, itself
 * included) would span less than `windowMs`.
 */
export class SlidingWindowLog implements Budget {
  readonly #limit: number;
  readonly #windowMs: number;
  readonly #countRejected: boolean;
  /** Counted arrival times, ascending. */
  #times: number[] = [];
  #newest = Number.NEGATIVE_INFINITY;

  public constructor(limit: number, options: { windowMs?: number; countRejected?: boolean } = {}) {
    this.#limit = Math.max(1, Math.floor(limit));
    this.#windowMs = options.windowMs ?? WINDOW_MS;
    this.#countRejected = options.countRejected ?? false;
  }

  public tryTake(arrivalMs: number): boolean {
    this.#newest = Math.max(this.#newest, arrivalMs);
    this.#prune();
    const times = this.#times;
    const at = upperBound(times, arrivalMs);
    const n = this.#limit;
    // With the arrival inserted at index `at`, every run of n + 1 consecutive times containing it
    // starts at some index in [at - n, at] of the merged list.
    for (let start = Math.max(0, at - n); start <= at; start++) {
      const end = start + n; // index in the merged list
      if (end > times.length) break; // fewer than n + 1 times from `start` on
      const first = start === at ? arrivalMs : (times[start] as number);
      const last = end === at ? arrivalMs : (times[end - 1] as number);
      if (last - first < this.#windowMs) {
        if (this.#countRejected) times.splice(at, 0, arrivalMs);
        return false;
      }
    }
    times.splice(at, 0, arrivalMs);
    return true;
  }

  /** Drops times that no window with a present or future arrival can contain. */
  #prune(): void {
    const horizon = this.#newest - 2 * this.#windowMs;
    let drop = 0;
    while (drop < this.#times.length && (this.#times[drop] as number) < horizon) drop++;
    if (drop > 0) this.#times.splice(0, drop);
  }
}

/** Index of the first element greater than `value` in an ascending array. */
function upperBound(sorted: readonly number[], value: number): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((sorted[mid] as number) <= value) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Budgets keyed by (sdkAppId, api), created on first use. A rate of Infinity disables limiting. */
export class RateLimiter<Api extends string> {
  readonly #rates: Readonly<Record<Api, number>>;
  readonly #mode: RateLimitMode;
  readonly #countRejected: boolean;
  readonly #budgets = new Map<string, Budget>();

  public constructor(
    rates: Readonly<Record<Api, number>>,
    mode: RateLimitMode = 'sliding',
    options: { countRejected?: boolean } = {},
  ) {
    this.#rates = rates;
    this.#mode = mode;
    this.#countRejected = options.countRejected ?? true;
  }

  /** True when the call arriving at `arrivalMs` (monotonic ms) may proceed. */
  public allow(sdkAppId: number, api: Api, arrivalMs: number): boolean {
    const rate = this.#rates[api];
    if (rate === Number.POSITIVE_INFINITY) return true;
    const key = `${sdkAppId}/${api}`;
    let budget = this.#budgets.get(key);
    if (budget === undefined) {
      budget =
        this.#mode === 'sliding'
          ? new SlidingWindowLog(rate, { countRejected: this.#countRejected })
          : new TokenBucket(rate);
      this.#budgets.set(key, budget);
    }
    return budget.tryTake(arrivalMs);
  }
}
