import { describe, expect, it } from 'vitest';
import { AbortedError, ConfigError } from '../../functions/domain/errors.ts';
import type { Clock } from '../../functions/domain/ports.ts';
import { RateLimiter, TokenBucket } from '../../functions/domain/rate-limiter.ts';
import { thrown } from '../helpers/assertions.ts';
import { FakeClock } from '../helpers/fake-clock.ts';

const T0 = 1_800_000_000_000;

/** `n` reservations at the same instant. */
function reserveMany(bucket: TokenBucket, n: number, nowMs = T0): number[] {
  return Array.from({ length: n }, () => bucket.reserve(nowMs));
}

/** A caller that reserves, waits the answer out, sends, and immediately asks again. Returns send times. */
function sendBackToBack(bucket: TokenBucket, n: number, startMs = T0): number[] {
  const sends: number[] = [];
  let now = startMs;
  for (let i = 0; i < n; i++) {
    now += bucket.reserve(now);
    sends.push(now);
  }
  return sends;
}

/** Deterministic uniform numbers in [0, 1) (a 32-bit LCG), so the "random arrivals" test is repeatable. */
function lcg(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (Math.imul(state, 1_664_525) + 1_013_904_223) >>> 0;
    return state / 2 ** 32;
  };
}

describe('TokenBucket', () => {
  it('spaces reservations made at the same instant 1000/rate ms apart', () => {
    expect(reserveMany(new TokenBucket({ ratePerSecond: 200 }, T0), 5)).toEqual([0, 5, 10, 15, 20]);
    expect(reserveMany(new TokenBucket({ ratePerSecond: 4 }, T0), 4)).toEqual([0, 250, 500, 750]);
  });

  it('rounds fractional slots up to whole ms without drifting', () => {
    // 1000/3 ms slots are never handed out early (333.33 -> 334).
    expect(reserveMany(new TokenBucket({ ratePerSecond: 3 }, T0), 5)).toEqual([0, 334, 667, 1000, 1334]);
    // In floats 15 * (1000/30) is 500.00000000000006: that slot must still be 500, not 501.
    const at30 = reserveMany(new TokenBucket({ ratePerSecond: 30 }, T0), 16);
    expect([at30[1], at30[14], at30[15]]).toEqual([34, 467, 500]);
  });

  it('sustains exactly the configured rate over a long run (10,000 at 200/s span 50 s)', () => {
    const sends = sendBackToBack(new TokenBucket({ ratePerSecond: 200 }, T0), 10_000);

    // 10,000 sends occupy 10,000 slots of 5 ms: the last starts one slot before the 50 s mark.
    expect(sends.at(-1)).toBe(T0 + 50_000 - 5);
    expect(reserveMany(new TokenBucket({ ratePerSecond: 200 }, T0), 10_000).at(-1)).toBe(50_000 - 5);
  });

  it('sustains a rate whose slots are not whole ms (3,000 at 3/s fit in exactly 1,000 s)', () => {
    const sends = sendBackToBack(new TokenBucket({ ratePerSecond: 3 }, T0), 3_001);

    expect(sends.filter((t) => t < T0 + 1_000_000)).toHaveLength(3_000);
    expect(sends.at(-1)).toBe(T0 + 1_000_000);
  });

  it('allows `burst` immediate sends, then paces', () => {
    expect(reserveMany(new TokenBucket({ ratePerSecond: 10, burst: 3 }, T0), 6)).toEqual([
      0, 0, 0, 100, 200, 300,
    ]);
  });

  it('refills during idle time, up to burst and never more', () => {
    const bucket = new TokenBucket({ ratePerSecond: 10, burst: 3 }, T0);
    expect(reserveMany(bucket, 3)).toEqual([0, 0, 0]);

    // 150 ms idle regains 1.5 tokens: one send now, the next 50 ms later.
    expect(reserveMany(bucket, 2, T0 + 150)).toEqual([0, 50]);
    // A long idle spell refills to 3 tokens, not 100.
    expect(reserveMany(bucket, 5, T0 + 10_000)).toEqual([0, 0, 0, 100, 200]);
  });

  it('never lets more than rate + burst - 1 requests through in any 1-second window under random load', () => {
    const rate = 100;
    const burst = 5;
    const bucket = new TokenBucket({ ratePerSecond: rate, burst }, T0);
    const random = lcg(42);
    const arrivals = Array.from({ length: 2_000 }, () => T0 + Math.floor(random() * 5_000)).sort(
      (a, b) => a - b,
    );

    const sends = arrivals.map((arrival) => arrival + bucket.reserve(arrival)).sort((a, b) => a - b);

    // The send `rate + burst - 1` places later is always at least a full second away.
    const maxInWindow = rate + burst - 1;
    const spans = sends.slice(maxInWindow).map((send, i) => send - (sends[i] ?? Number.NaN));
    expect(Math.min(...spans)).toBeGreaterThanOrEqual(1_000);
    // And it does not under-deliver: 2,000 requests at 100/s finish within 20 s of the first arrival.
    expect(Math.max(...sends) - T0).toBeLessThanOrEqual(20_000);
  });

  it('pauseUntil hands out nothing before the pause ends, then paces without a burst', () => {
    const bucket = new TokenBucket({ ratePerSecond: 10, burst: 3 }, T0);

    bucket.pauseUntil(T0 + 1_000);

    expect(reserveMany(bucket, 3)).toEqual([1_000, 1_100, 1_200]);
    expect(bucket.reserve(T0 + 1_050)).toBe(250);
  });

  it('pauseUntil queues later reservations after the reservations already made', () => {
    const bucket = new TokenBucket({ ratePerSecond: 10 }, T0);
    expect(reserveMany(bucket, 5)).toEqual([0, 100, 200, 300, 400]);

    bucket.pauseUntil(T0 + 200); // inside the existing queue: changes nothing
    expect(bucket.reserve(T0)).toBe(500);

    bucket.pauseUntil(T0 + 2_000);
    expect(bucket.reserve(T0)).toBe(2_000);
  });

  it.each([0, -1, Number.NaN, Number.POSITIVE_INFINITY])(
    'rejects ratePerSecond %s with a ConfigError',
    (rate) => {
      const error = thrown(() => new TokenBucket({ ratePerSecond: rate }, T0));

      expect(error).toBeInstanceOf(ConfigError);
      expect((error as ConfigError).field).toBe('ratePerSecond');
    },
  );

  it.each([0, 1.5, -2])('rejects burst %s with a ConfigError', (burst) => {
    const error = thrown(() => new TokenBucket({ ratePerSecond: 1, burst }, T0));

    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).field).toBe('burst');
  });

  it('rejects a non-finite time rather than corrupting its schedule', () => {
    const bucket = new TokenBucket({ ratePerSecond: 10 }, T0);

    expect(() => bucket.reserve(Number.NaN)).toThrow(RangeError);
    expect(() => bucket.pauseUntil(Number.NaN)).toThrow(RangeError);
    expect(bucket.reserve(T0)).toBe(0);
  });
});

/** A clock whose sleeps stay pending until the signal aborts, to test an abort mid-wait. */
class NeverWakingClock implements Clock {
  public readonly sleeps: number[] = [];
  public now(): number {
    return T0;
  }
  public sleep(ms: number, signal?: AbortSignal): Promise<void> {
    this.sleeps.push(ms);
    return new Promise((_resolve, reject) => {
      signal?.addEventListener('abort', () => reject(signal.reason), { once: true });
    });
  }
}

describe('RateLimiter', () => {
  it('sleeps the reserved time through the injected clock', async () => {
    const clock = new FakeClock(T0);
    const limiter = new RateLimiter({ groupMsgGetSimple: 10 }, clock);

    for (let i = 0; i < 4; i++) await limiter.acquire('groupMsgGetSimple');

    expect(clock.sleeps).toEqual([100, 100, 100]);
    expect(clock.now()).toBe(T0 + 300);
  });

  it('keeps a separate bucket per API', async () => {
    const clock = new FakeClock(T0);
    const limiter = new RateLimiter({ a: 10, b: 5 }, clock);

    await limiter.acquire('a');
    await limiter.acquire('b');
    expect(clock.sleeps).toEqual([]);

    await limiter.acquire('b');
    expect(clock.sleeps).toEqual([200]);
  });

  it('passes the burst option to every bucket', async () => {
    const clock = new FakeClock(T0);
    const limiter = new RateLimiter({ a: 10 }, clock, { burst: 2 });

    for (let i = 0; i < 4; i++) await limiter.acquire('a');

    expect(clock.sleeps).toEqual([100, 100]);
  });

  it('pause() delays the next request by the given ms', async () => {
    const clock = new FakeClock(T0);
    const limiter = new RateLimiter({ a: 10 }, clock);
    await limiter.acquire('a');

    limiter.pause('a', 5_000);
    await limiter.acquire('a');

    expect(clock.sleeps).toEqual([5_000]);
    expect(clock.now()).toBe(T0 + 5_000);
  });

  it('rejects an unknown API with a ConfigError naming it', async () => {
    const limiter = new RateLimiter({ a: 10 }, new FakeClock(T0));

    await expect(limiter.acquire('getTopic')).rejects.toThrow(ConfigError);
    await expect(limiter.acquire('getTopic')).rejects.toThrow(/"getTopic"/);
    expect(() => limiter.pause('getTopic', 1)).toThrow(ConfigError);
  });

  it.each([0, -3, Number.NaN, Number.POSITIVE_INFINITY])(
    'rejects a rate of %s with a ConfigError naming the API',
    (rate) => {
      const error = thrown(() => new RateLimiter({ a: 10, getTopic: rate }, new FakeClock(T0)));

      expect(error).toBeInstanceOf(ConfigError);
      expect((error as ConfigError).field).toBe('rateLimits.getTopic');
      expect((error as Error).message).toMatch(/"getTopic"/);
    },
  );

  it('rejects an already aborted signal without sleeping or spending a token', async () => {
    const clock = new FakeClock(T0);
    const limiter = new RateLimiter({ a: 10 }, clock);
    await limiter.acquire('a');
    const reason = new Error('deadline');

    const error = await limiter.acquire('a', AbortSignal.abort(reason)).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(AbortedError);
    expect((error as AbortedError).cause).toBe(reason);
    expect(clock.sleeps).toEqual([]);
    await limiter.acquire('a');
    expect(clock.sleeps).toEqual([100]); // the aborted call did not take the slot
  });

  it('rejects with AbortedError when the signal fires during the wait', async () => {
    const clock = new NeverWakingClock();
    const limiter = new RateLimiter({ a: 10 }, clock);
    await limiter.acquire('a');
    const controller = new AbortController();
    const reason = new Error('run cancelled');

    const pending = limiter.acquire('a', controller.signal);
    controller.abort(reason);
    const error = await pending.catch((e: unknown) => e);

    expect(clock.sleeps).toEqual([100]);
    expect(error).toBeInstanceOf(AbortedError);
    expect((error as AbortedError).cause).toBe(reason);
  });
});

describe('FakeClock', () => {
  it('advances virtual time on sleep and advance, and rejects an aborted sleep with its reason', async () => {
    const clock = new FakeClock(T0);
    const reason = new Error('stop');

    await clock.sleep(250);
    clock.advance(50);

    expect(clock.now()).toBe(T0 + 300);
    expect(clock.sleeps).toEqual([250]);
    expect(clock.sleptMs).toBe(250);
    await expect(clock.sleep(10, AbortSignal.abort(reason))).rejects.toBe(reason);
    expect(clock.now()).toBe(T0 + 300);
  });
});
