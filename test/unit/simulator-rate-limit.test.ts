import { describe, expect, it } from 'vitest';
import { RateLimiter, SlidingWindowLog, TokenBucket } from '../../functions/simulator/rate-limit.ts';

/** Admit each arrival time in the given (processing) order; returns which were admitted. */
function admit(budget: { tryTake(ms: number): boolean }, arrivals: readonly number[]): boolean[] {
  return arrivals.map((ms) => budget.tryTake(ms));
}

/** The most admitted arrivals in any half-open window [s, s + 1000). */
function busiestWindow(times: readonly number[]): number {
  const sorted = [...times].sort((a, b) => a - b);
  let best = 0;
  let lo = 0;
  for (let hi = 0; hi < sorted.length; hi++) {
    while ((sorted[hi] as number) - (sorted[lo] as number) >= 1000) lo++;
    best = Math.max(best, hi - lo + 1);
  }
  return best;
}

describe('simulator SlidingWindowLog', () => {
  it('admits N arrivals in any 1000 ms and rejects the next until the oldest leaves the window', () => {
    const log = new SlidingWindowLog(3);
    expect(admit(log, [0, 10, 20, 30, 999, 1000, 1005, 1010, 1020])).toEqual([
      true,
      true,
      true,
      false, // 4th inside [0, 1000)
      false,
      true, // 0 left the window
      false, // [10, 1010) still holds 10, 20, 1000
      true, // 10 left
      true, // 20 left
    ]);
  });

  it('rejects what a token bucket would let through: a second burst just after the first', () => {
    // Token bucket: 200 at t=0 empties it; by t=500 it holds 100 tokens again. The sliding window
    // allows nothing until t=1000.
    const bucket = new TokenBucket(200);
    const log = new SlidingWindowLog(200);
    const burst = (at: number) => Array.from({ length: 100 }, () => at);
    admit(bucket, burst(0).concat(burst(0)));
    admit(log, burst(0).concat(burst(0)));
    expect(admit(bucket, burst(500)).filter(Boolean)).toHaveLength(100);
    expect(admit(log, burst(500)).filter(Boolean)).toHaveLength(0);
    expect(admit(log, burst(1000)).filter(Boolean)).toHaveLength(100);
  });

  it('checks the windows on both sides of an arrival that comes out of order', () => {
    const log = new SlidingWindowLog(2);
    expect(log.tryTake(1000)).toBe(true);
    expect(log.tryTake(1500)).toBe(true);
    // 600 would put 600, 1000, 1500 into [600, 1600): rejected although [−400, 600] is empty.
    expect(log.tryTake(600)).toBe(false);
    expect(log.tryTake(400)).toBe(true); // [400, 1400) holds 400 and 1000 only
  });

  it('never admits more than N in any window, for jittered out-of-order arrivals', () => {
    let state = 7;
    const random = () => {
      state = (Math.imul(state, 1_664_525) + 1_013_904_223) >>> 0;
      return state / 2 ** 32;
    };
    const log = new SlidingWindowLog(20);
    const admitted: number[] = [];
    // Sent every 40 ms (25/s, over the limit of 20), arriving 40 ± 30 ms later, processed in send order.
    for (let i = 0; i < 500; i++) {
      const arrival = i * 40 + 40 + (random() * 2 - 1) * 30;
      if (log.tryTake(arrival)) admitted.push(arrival);
    }
    expect(busiestWindow(admitted)).toBe(20);
    // Rejections cost no budget: about 20 of every 25 are admitted.
    expect(admitted.length).toBeGreaterThan(380);
  });
});

describe('simulator RateLimiter', () => {
  it('keeps one budget per app and API, in the chosen mode', () => {
    const sliding = new RateLimiter({ a: 2, b: Number.POSITIVE_INFINITY }, 'sliding');
    expect([0, 1, 2].map((t) => sliding.allow(1, 'a', t))).toEqual([true, true, false]);
    expect(sliding.allow(2, 'a', 2)).toBe(true);
    expect([0, 0, 0, 0].every((t) => sliding.allow(1, 'b', t))).toBe(true);
    const bucket = new RateLimiter({ a: 2 }, 'token-bucket');
    // 2 at once, then one token back after 500 ms: the sliding reading refuses that one.
    expect([0, 0, 500].map((t) => bucket.allow(1, 'a', t))).toEqual([true, true, true]);
    expect(sliding.allow(1, 'a', 500)).toBe(false);
  });
});

describe('simulator SlidingWindowLog counting rejected requests (the default of the server)', () => {
  it('keeps refusing a client that keeps sending over the limit', () => {
    const strict = new SlidingWindowLog(2, { countRejected: true });
    const lenient = new SlidingWindowLog(2);
    const arrivals = [0, 500, 900, 1100, 1600, 2200];
    // 900 is refused. Lenient forgets it, so 1100 and 1600 fit; strict counts 900, then 1100 too.
    expect(admit(lenient, arrivals)).toEqual([true, true, false, true, true, true]);
    expect(admit(strict, arrivals)).toEqual([true, true, false, false, false, true]);
  });
});
