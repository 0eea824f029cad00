import { getEventListeners } from 'node:events';
import { describe, expect, it } from 'vitest';
import { AbortedError, ConfigError } from '../../functions/domain/errors.ts';
import type { Clock } from '../../functions/domain/ports.ts';
import {
  BURST_SENDS,
  DEFAULT_MARGIN_MS,
  RateLimiter,
  SlidingWindowPacer,
  spareSlots,
} from '../../functions/domain/rate-limiter.ts';
import { SlidingWindowLog } from '../../functions/simulator/rate-limit.ts';
import { thrown } from '../helpers/assertions.ts';
import { FakeClock } from '../helpers/fake-clock.ts';
import { VirtualTime } from '../helpers/virtual-time.ts';

const T0 = 1_800_000_000_000;

/** The most times in any half-open window [s, s + windowMs). */
function busiest(times: readonly number[], windowMs = 1000): number {
  const sorted = [...times].sort((a, b) => a - b);
  let best = 0;
  let lo = 0;
  for (let hi = 0; hi < sorted.length; hi++) {
    while ((sorted[hi] as number) - (sorted[lo] as number) >= windowMs) lo++;
    best = Math.max(best, hi - lo + 1);
  }
  return best;
}

/** Deterministic uniform numbers in [0, 1) (a 32-bit LCG). */
function lcg(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (Math.imul(state, 1_664_525) + 1_013_904_223) >>> 0;
    return state / 2 ** 32;
  };
}

/** `n` callers queued at once on `limiter`; resolves with their send times once virtual time has run out. */
async function sendAll(time: VirtualTime, limiter: RateLimiter, n: number, api = 'a'): Promise<number[]> {
  const sends: number[] = [];
  for (let i = 0; i < n; i++) void limiter.acquire(api).then((p) => sends.push(p.sentAtMs));
  await time.run();
  return sends;
}

describe('SlidingWindowPacer', () => {
  it('keeps spare slots so that stragglers later than the margin do not overflow a full window', async () => {
    // Prepare: every send arrives 40 ms later, except one in 97 that arrives 150 ms later (far past
    // the 20 ms margin), so every window is full when a straggler lands in it.
    const time = new VirtualTime(T0);
    const limiter = new RateLimiter({ a: 200 }, time, { marginMs: DEFAULT_MARGIN_MS });

    // Act
    const sends = await sendAll(time, limiter, 3_000);
    const arrivals = sends.map((t, i) => t + (i % 97 === 50 ? 150 : 40));

    // Assess
    expect(spareSlots(200)).toBe(2);
    expect(busiest(arrivals)).toBeLessThanOrEqual(200);
    // The same backlog sent 200 a window (no spare slot, as the pacer sends it: a window's worth
    // each time the oldest is window + margin old) overflows with the same stragglers.
    expect(busiest(sends)).toBe(198);
    const full = sends.map((_, i) => T0 + Math.floor(i / 200) * (1000 + DEFAULT_MARGIN_MS));
    const fullArrivals = full.map((t, i) => t + (i % 97 === 50 ? 150 : 40));
    expect(busiest(fullArrivals)).toBeGreaterThan(200);
  });

  it('keeps no spare slot in small windows (the 1/s listing)', () => {
    expect(spareSlots(1)).toBe(0);
    expect(spareSlots(19)).toBe(0);
    expect(spareSlots(20)).toBe(1);
  });

  it('lets N go at once at a low rate (the burst allowance spans the window), then the next only when the N-th most recent send is window + margin old', () => {
    const pacer = new SlidingWindowPacer({ ratePerSecond: 3, marginMs: 20 });
    for (const t of [0, 0, 5]) {
      expect(pacer.earliestSendMs(T0 + t)).toBe(T0 + t);
      pacer.recordSend(T0 + t);
    }
    expect(pacer.earliestSendMs(T0 + 10)).toBe(T0 + 1020);
    pacer.recordSend(T0 + 1020);
    expect(pacer.earliestSendMs(T0 + 1020)).toBe(T0 + 1020); // the second send at T0 + 0
    pacer.recordSend(T0 + 1020);
    expect(pacer.earliestSendMs(T0 + 1020)).toBe(T0 + 1025);
  });

  it(`lets at most ${BURST_SENDS + 1} go at once at 200/s, then one every 5 ms of the schedule`, () => {
    const pacer = new SlidingWindowPacer({ ratePerSecond: 200, marginMs: 20 });
    for (let i = 0; i <= BURST_SENDS; i++) {
      expect(pacer.earliestSendMs(T0)).toBe(T0);
      pacer.recordSend(T0);
    }
    expect(pacer.earliestSendMs(T0)).toBe(T0 + 5);
    pacer.recordSend(T0 + 5);
    expect(pacer.earliestSendMs(T0 + 5)).toBe(T0 + 10);
  });

  it('never lets a window out at once: a burst and its echo a window later stay spread', () => {
    // Prepare: 200/s, one send every 5 ms of the schedule, a burst of at most 5.
    const pacer = new SlidingWindowPacer({ ratePerSecond: 200, marginMs: 20 });
    const sends: number[] = [];
    let now = T0;
    // Act: callers waiting all the time for 3 s.
    while (now < T0 + 3000) {
      now = pacer.earliestSendMs(now);
      pacer.recordSend(now);
      sends.push(now);
    }
    // Assess: any k + 1 consecutive sends span at least (k - 4) x 5 ms, and never more than 198
    // within 1020 ms.
    const apart = (i: number, k: number) => (sends[i] as number) - (sends[i - k] as number);
    for (const k of [BURST_SENDS + 1, 10, 40]) {
      for (let i = k; i < sends.length; i++)
        expect(apart(i, k)).toBeGreaterThanOrEqual((k - BURST_SENDS) * 5);
    }
    for (let i = 198; i < sends.length; i++) expect(apart(i, 198)).toBeGreaterThanOrEqual(1020);
  });

  it('keeps the rate when every wake-up is late: the schedule, not the late send, sets the next', () => {
    // Prepare: 200/s with no log limit in reach (a short run), each caller waking 1.5 ms late.
    const pacer = new SlidingWindowPacer({ ratePerSecond: 200, marginMs: 20 });
    let now = T0;
    const sends: number[] = [];
    // Act: 150 sends, each 1.5 ms after the time the pacer gave (a busy event loop).
    for (let i = 0; i < 150; i++) {
      const at = pacer.earliestSendMs(now);
      now = at > now ? at + 1.5 : now;
      pacer.recordSend(now);
      sends.push(now);
    }
    // Assess: 150 sends take 145 steps of 5 ms (plus the one late wake-up), not 145 x 6.5 ms.
    expect((sends.at(-1) as number) - T0).toBeLessThanOrEqual(145 * 5 + 1.5);
  });

  it('paces on the times sends really happened: a late send pushes the next ones back', () => {
    const pacer = new SlidingWindowPacer({ ratePerSecond: 2, marginMs: 0 });
    pacer.recordSend(T0);
    // Allowed at T0, but the caller only got to send at T0 + 700 (a stall).
    pacer.recordSend(T0 + 700);
    expect(pacer.earliestSendMs(T0 + 700)).toBe(T0 + 1000);
    pacer.recordSend(T0 + 1000);
    expect(pacer.earliestSendMs(T0 + 1000)).toBe(T0 + 1700); // not T0 + 1500 as a schedule would say
  });

  it('moves a send the transport let out late to when it really left, while the log holds it', () => {
    const pacer = new SlidingWindowPacer({ ratePerSecond: 3, marginMs: 0 });
    const first = pacer.recordSend(T0);
    pacer.recordSend(T0);
    pacer.recordSend(T0);
    expect(pacer.earliestSendMs(T0)).toBe(T0 + 1000);

    // The first left 300 ms after its permit: its slot frees 300 ms later.
    pacer.sentLate(first, 300);
    expect(pacer.earliestSendMs(T0)).toBe(T0 + 1300);
    // Nonsense and sends the log no longer holds change nothing.
    pacer.sentLate(first, Number.NaN);
    pacer.sentLate(first, -5);
    pacer.sentLate(99, 50);
    expect(pacer.earliestSendMs(T0)).toBe(T0 + 1300);
    for (let i = 0; i < 3; i++) pacer.recordSend(T0 + 1300);
    pacer.sentLate(first, 10_000);
    expect(pacer.earliestSendMs(T0 + 1300)).toBe(T0 + 2300);
  });

  it('raises the margin once for frequency-limit answers to sends of one moment', () => {
    const pacer = new SlidingWindowPacer({ ratePerSecond: 200, marginMs: 20 });
    for (let i = 0; i < 3; i++) pacer.recordSend(T0);
    // A burst at T0, three of its requests refused: the margin they were sent with failed once.
    for (let i = 0; i < 3; i++) pacer.throttled(T0);
    expect(pacer.marginMs).toBe(40);
    expect(pacer.throttleCount).toBe(3);
    // A request sent after the increase and refused again raises it again.
    pacer.recordSend(T0 + 1);
    pacer.throttled(T0 + 1);
    expect(pacer.marginMs).toBe(60);
  });

  it('allows fewer per window only when one round has more refusals than stragglers explain', () => {
    // Four refusals among the sends of one moment: stragglers and a margin too small (once).
    const few = new SlidingWindowPacer({ ratePerSecond: 200, marginMs: 20 });
    for (let i = 0; i < 10; i++) few.recordSend(T0);
    for (let i = 0; i < 2 + 2; i++) few.throttled(T0);
    expect([few.allowedPerWindow, few.marginMs]).toEqual([198, 40]);
    // Five (the 2 spare slots and 3 more): the window was overfull by many; the server counts fewer.
    const many = new SlidingWindowPacer({ ratePerSecond: 200, marginMs: 20 });
    for (let i = 0; i < 10; i++) many.recordSend(T0);
    for (let i = 0; i < 2 + 3; i++) many.throttled(T0);
    expect(many.allowedPerWindow).toBe(Math.floor(198 * 0.75));
  });

  it('paces rates below 1/s as one request per 1000/rate ms', () => {
    const pacer = new SlidingWindowPacer({ ratePerSecond: 0.5, marginMs: 10 });
    pacer.recordSend(T0);
    expect(pacer.limit).toBe(1);
    expect(pacer.earliestSendMs(T0)).toBe(T0 + 2010);
  });

  it('widens the margin to the observed RTT spread', () => {
    const pacer = new SlidingWindowPacer({ ratePerSecond: 200, marginMs: 10 });
    expect(pacer.marginMs).toBe(10);
    const random = lcg(3);
    for (let i = 0; i < 512; i++) pacer.observeRtt(60 + random() * 40); // 80 ± 20 ms
    // The 5th to 95th percentile of 80 ± 20 ms is 36 ms, plus the safety.
    expect(pacer.marginMs).toBeGreaterThan(40);
    expect(pacer.marginMs).toBeLessThan(50);
    // Timeouts are not fed in by the client; absurd samples are ignored.
    pacer.observeRtt(Number.NaN);
    pacer.observeRtt(-1);
    expect(pacer.marginMs).toBeLessThan(50);
  });

  it('does not let a few answers read late (a stalled event loop) widen the margin', () => {
    const pacer = new SlidingWindowPacer({ ratePerSecond: 200, marginMs: 10 });
    const random = lcg(5);
    // A 300 ms stall: the 12 answers in flight then are all read late.
    for (let i = 0; i < 256; i++)
      pacer.observeRtt(i >= 100 && i < 112 ? 100 + 25 * (i - 99) : 60 + random() * 40);
    expect(pacer.marginMs).toBeLessThan(50);
    // A lasting change of the spread is followed.
    for (let i = 0; i < 256; i++) pacer.observeRtt(40 + random() * 120);
    expect(pacer.marginMs).toBeGreaterThan(110);
  });

  it('widens the margin by half on a frequency-limit answer and lowers it by steps, not below the raised floor', () => {
    const pacer = new SlidingWindowPacer({ ratePerSecond: 10, marginMs: 20 });
    pacer.throttled();
    expect(pacer.marginMs).toBe(40);
    pacer.throttled();
    expect(pacer.marginMs).toBe(60);
    expect(pacer.throttleCount).toBe(2);
    // Each window's worth (10) of accepted answers takes 2 ms off, down to the floor: half a step
    // (of 20) past the 40 ms that failed.
    for (let i = 0; i < 10; i++) pacer.accepted();
    expect(pacer.marginMs).toBe(58);
    for (let i = 0; i < 1_000; i++) pacer.accepted();
    expect(pacer.marginMs).toBe(50);
  });

  it('caps the margin', () => {
    const pacer = new SlidingWindowPacer({ ratePerSecond: 10, marginMs: 20, maxMarginMs: 100 });
    for (let i = 0; i < 10; i++) pacer.throttled();
    expect(pacer.marginMs).toBe(100);
  });

  it.each([0, -3, Number.NaN, Number.POSITIVE_INFINITY])('rejects a rate of %s', (rate) => {
    expect(thrown(() => new SlidingWindowPacer({ ratePerSecond: rate }))).toBeInstanceOf(ConfigError);
  });

  it('rejects a negative margin and non-finite times', () => {
    expect(() => new SlidingWindowPacer({ ratePerSecond: 1, marginMs: -1 })).toThrow(ConfigError);
    const pacer = new SlidingWindowPacer({ ratePerSecond: 1 });
    expect(() => pacer.earliestSendMs(Number.NaN)).toThrow(RangeError);
    expect(() => pacer.recordSend(Number.POSITIVE_INFINITY)).toThrow(RangeError);
  });
});

describe('RateLimiter', () => {
  it('never puts more than N sends into any 1000 ms window after a 300 ms stall and a backlog', async () => {
    const time = new VirtualTime(T0);
    const limiter = new RateLimiter({ a: 200 }, time);
    // The loop freezes for 300 ms in the middle of the second second, while 1,400 callers wait.
    time.stall(T0 + 1_500, 300);
    const sends = await sendAll(time, limiter, 1_400);

    expect(sends).toHaveLength(1_400);
    // At most N less the spare slots kept for stragglers, in every window.
    const perWindow = 200 - spareSlots(200);
    expect(busiest(sends)).toBe(perWindow);
    // Not even in a window widened by the margin: that is what absorbs arrival jitter.
    expect(busiest(sends, 1000 + DEFAULT_MARGIN_MS)).toBe(perWindow);
    // The stall happened: nothing was sent during it.
    expect(sends.filter((t) => t > T0 + 1_500 && t < T0 + 1_800)).toEqual([]);
  });

  /**
   * 64 callers at 200/s whose requests the transport lets out late: every 2 s it is busy for 100 ms
   * (a starved thread), and what was permitted meanwhile leaves at the end of it. Answers come
   * 80 ms after the real send; `reportLate` says whether they tell the limiter how late it was.
   * Returns the real send times.
   */
  async function busyTransportRun(reportLate: boolean): Promise<number[]> {
    const time = new VirtualTime(T0);
    const limiter = new RateLimiter({ a: 200 }, time);
    const left: number[] = [];
    let calls = 3_000;
    const caller = async (): Promise<void> => {
      for (; calls > 0; calls--) {
        const permit = await limiter.acquire('a');
        const phase = (permit.sentAtMs - T0) % 2_000;
        const at = phase >= 1_500 && phase < 1_600 ? permit.sentAtMs + 1_600 - phase : permit.sentAtMs;
        left.push(at);
        await time.sleep(at + 80 - time.now());
        limiter.answered('a', permit, 'accepted', {
          rttMs: 80,
          lateMs: reportLate ? at - permit.sentAtMs : 0,
        });
      }
    };
    const callers = Array.from({ length: 64 }, caller);
    await time.run();
    await Promise.all(callers);
    return left;
  }

  it('paces on when requests really left the transport, so its delays never overfill a window', async () => {
    const reported = await busyTransportRun(true);
    expect(reported.length).toBeGreaterThanOrEqual(3_000);
    expect(busiest(reported)).toBeLessThanOrEqual(200 - spareSlots(200));
    // Paced on the permits alone, the requests held back and let out together overfill windows.
    const unreported = await busyTransportRun(false);
    expect(busiest(unreported)).toBeGreaterThan(200);
  });

  /**
   * The event loop itself stalls (issue 23: CPU hogs on a 2-core machine): 64 callers at 200/s; a
   * permitted request goes out on the next turn of the loop (the hop to the transport thread), so
   * every request permitted just before a stall leaves at its end, together with the burst the
   * pacer lets out when it wakes late; the answers that came in meanwhile are read late too.
   * Requests arrive 40 ± 20 ms after they left (virtual time on the server's side too, counted at
   * arrival), answers 40 ms after that. `reportLate` says whether the answers tell the limiter how
   * late each request left. Returns the arrival times.
   */
  async function stalledLoopRun(reportLate: boolean): Promise<number[]> {
    const time = new VirtualTime(T0);
    const limiter = new RateLimiter({ a: 200 }, time);
    const random = lcg(23);
    // At the first burst, mid-run for 300 ms, and for longer than a window (1,200 ms).
    time.stall(T0, 300);
    time.stall(T0 + 4_000, 300);
    time.stall(T0 + 9_000, 1_200);
    const arrivals: number[] = [];
    let calls = 3_000;
    const caller = async (): Promise<void> => {
      for (; calls > 0; calls--) {
        const permit = await limiter.acquire('a');
        await time.sleep(0); // the hop to the transport: a stall now delays the send
        const sentAt = time.now();
        const arrival = sentAt + 40 + (random() * 2 - 1) * 20;
        arrivals.push(arrival);
        await time.sleep(arrival + 40 - time.now()); // read when the loop gets to it
        limiter.answered('a', permit, 'accepted', {
          rttMs: arrival + 40 - sentAt,
          lateMs: reportLate ? sentAt - permit.sentAtMs : 0,
        });
      }
    };
    const callers = Array.from({ length: 64 }, caller);
    await time.run();
    await Promise.all(callers);
    return arrivals;
  }

  it('after a stalled event loop, never lets more arrive in any window than the limit (the delayed sends and the late burst together)', async () => {
    const arrivals = await stalledLoopRun(true);
    expect(arrivals.length).toBeGreaterThanOrEqual(3_000);
    expect(busiest(arrivals)).toBeLessThanOrEqual(200);
    // Paced on the permits alone, the sends the stall held back land in the next window's count.
    expect(busiest(await stalledLoopRun(false))).toBeGreaterThan(200);
  });

  it('the same check fails for sends on a fixed schedule released late (the GCRA failure)', () => {
    // What a scheduled pacer does: slots 5 ms apart; those due in the stall all go at its end.
    const slots = Array.from({ length: 1_400 }, (_, i) => T0 + i * 5);
    const released = slots.map((t) => (t > T0 + 1_500 && t < T0 + 1_800 ? T0 + 1_800 : t));
    expect(busiest(released)).toBeGreaterThan(200);
  });

  it('sustains the configured rate within 5% over a long run (10,000 at 200/s)', async () => {
    const time = new VirtualTime(T0);
    const limiter = new RateLimiter({ a: 200 }, time);
    const sends = await sendAll(time, limiter, 10_000);
    const seconds = ((sends.at(-1) as number) - T0) / 1000;
    const rate = (sends.length - 200) / seconds; // the first window's 200 go at once
    expect(rate).toBeGreaterThan(200 * 0.95);
    expect(rate).toBeLessThanOrEqual(200);
  });

  /**
   * `callers` at a time (like the client's concurrency slots) make `calls` calls against a strict
   * sliding-window server (50/s) with 40 ± 20 ms inbound and 40 ms outbound latency, retrying a
   * rejected call through the limiter, as the client does. `feedRtt` false withholds the RTT
   * samples, so the margin comes from AIMD alone.
   */
  async function strictServerRun(
    feedRtt: boolean,
    calls = 1_500,
    { clientRate = 50, holdRetries = false } = {},
  ) {
    const time = new VirtualTime(T0);
    // Margin 10: the pacer starts too tight for ±20 ms of arrival jitter.
    const limiter = new RateLimiter({ a: clientRate }, time, { marginMs: 10 });
    const server = new SlidingWindowLog(50);
    const random = lcg(11);
    let sends = 0;
    let throttles = 0;
    const arrivals: number[] = [];
    const throttledAt: number[] = [];
    /** For each retried send: ms since the same call's rejected send. */
    const retryGaps: number[] = [];
    const retrySends: number[] = [];
    const accepted = new Set<number>();
    const call = async (id: number): Promise<void> => {
      let rejectedSentAt: number | undefined;
      for (;;) {
        const permit = await limiter.acquire('a');
        sends++;
        if (rejectedSentAt !== undefined) {
          retryGaps.push(permit.sentAtMs - rejectedSentAt);
          retrySends.push(permit.sentAtMs);
        }
        const arrival = permit.sentAtMs + 40 + (random() * 2 - 1) * 20;
        await time.sleep(arrival - time.now());
        const ok = server.tryTake(arrival);
        await time.sleep(40);
        // Without the RTT feed, the pacer hears only the outcomes.
        const pacer = limiter.pacer('a');
        if (ok) {
          arrivals.push(arrival);
          accepted.add(id);
          if (feedRtt) limiter.answered('a', permit, 'accepted');
          else pacer.accepted();
          return;
        }
        throttles++;
        throttledAt.push(arrival);
        if (feedRtt) limiter.answered('a', permit, 'throttled');
        else pacer.throttled(permit.sentAtMs);
        rejectedSentAt = permit.sentAtMs;
        // As the client does: this call alone waits until a window after its rejected send.
        if (holdRetries) await time.sleep(Math.max(0, limiter.retryNotBeforeMs('a', permit) - time.now()));
      }
    };
    const queue = Array.from({ length: calls }, (_, i) => i);
    const worker = async (): Promise<void> => {
      for (let id = queue.shift(); id !== undefined; id = queue.shift()) await call(id);
    };
    const workers = Array.from({ length: 8 }, worker);
    await time.run();
    await Promise.all(workers);
    const seconds = (time.now() - T0) / 1000;
    return {
      accepted,
      sends,
      throttles,
      arrivals,
      throttledAt,
      retryGaps,
      retrySends,
      seconds,
      margin: limiter.pacer('a').marginMs,
    };
  }

  it('with a client set faster than the server counts, retries wait a window each and never go out in a burst', async () => {
    // The client believes 100/s, the server counts 50/s: the pacer's log has room, so without the
    // hold every rejected call would be repeated at once.
    const held = await strictServerRun(false, 1_500, { clientRate: 100, holdRetries: true });
    expect(held.accepted.size).toBe(1_500);
    expect(held.throttles).toBeGreaterThan(0);
    expect(Math.min(...held.retryGaps)).toBeGreaterThanOrEqual(1_000);
    // No burst: at most a window's worth of the server's limit of retries in any 100 ms.
    expect(busiest(held.retrySends, 100)).toBeLessThanOrEqual(8);
    // Adapted: the server saw no more than its limit in any window, and the run did not stall.
    expect(busiest(held.arrivals)).toBeLessThanOrEqual(50);
    // It learns the server's count: few frequency-limit answers, nearly none once learnt, and the
    // run takes about what 50/s allows.
    expect(held.throttles).toBeLessThan(100);
    const half = held.arrivals[750] as number;
    // (A few: one answer raises the floor only just past the margin that failed, so that rare
    // stragglers do not keep a long run below the rate for good.)
    expect(held.throttledAt.filter((t) => t >= half).length).toBeLessThanOrEqual(3);
    expect(held.seconds).toBeLessThan(30 * 1.25);

    const unheld = await strictServerRun(false, 1_500, { clientRate: 100, holdRetries: false });
    expect(Math.min(...unheld.retryGaps)).toBeLessThan(1_000);
  });

  it('under a strict server with jitter, a frequency-limit answer repeats only that call, and the margin adapts', async () => {
    const run = await strictServerRun(false, 3_000);

    expect(run.accepted.size).toBe(3_000);
    // Every frequency-limit answer cost exactly one more send: nothing else was repeated.
    expect(run.sends).toBe(3_000 + run.throttles);
    expect(run.throttles).toBeGreaterThan(0);
    expect(run.throttles).toBeLessThan(6);
    // Adapted: wider than the 10 ms it started with (the spare slot absorbs the rest).
    expect(run.margin).toBeGreaterThan(10);
    expect(busiest(run.arrivals)).toBeLessThanOrEqual(50);
    // Once adapted, it stays adapted: none in the second half of the run.
    const half = run.arrivals[1_500] as number;
    expect(run.throttledAt.filter((t) => t >= half)).toEqual([]);
    // And no app-wide pause: 3,000 calls at 50/s take 60 s plus the margin, not seconds more.
    expect(run.seconds).toBeLessThan(60 * 1.1);
  });

  it('under a strict server with jitter, the observed RTT spread sets the margin before any frequency-limit answer', async () => {
    const run = await strictServerRun(true);

    expect(run.throttles).toBe(0);
    // Adapted: wider than the 10 ms it started with (the spare slot absorbs the rest).
    expect(run.margin).toBeGreaterThan(10);
    expect(run.seconds).toBeLessThan(30 * 1.1);
  });

  it('keeps a separate pacer per API', async () => {
    const time = new VirtualTime(T0);
    const limiter = new RateLimiter({ a: 2, b: 1 }, time, { marginMs: 0 });
    const a = sendAll(time, limiter, 3, 'a');
    const b: number[] = [];
    for (let i = 0; i < 2; i++) void limiter.acquire('b').then((p) => b.push(p.sentAtMs));
    expect(await a).toEqual([T0, T0, T0 + 1000]);
    expect(b).toEqual([T0, T0 + 1000]);
  });

  it('serves callers first come, first served', async () => {
    const time = new VirtualTime(T0);
    const limiter = new RateLimiter({ a: 1 }, time, { marginMs: 0 });
    const order: number[] = [];
    for (let i = 0; i < 4; i++) void limiter.acquire('a').then(() => order.push(i));
    await time.run();
    expect(order).toEqual([0, 1, 2, 3]);
  });

  it('rejects an unknown API with a ConfigError naming it', async () => {
    const limiter = new RateLimiter({ a: 10 }, new FakeClock(T0));

    await expect(limiter.acquire('getTopic')).rejects.toThrow(ConfigError);
    await expect(limiter.acquire('getTopic')).rejects.toThrow(/"getTopic"/);
    expect(() => limiter.pacer('getTopic')).toThrow(ConfigError);
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

  it('rejects an already aborted signal without taking a slot', async () => {
    const time = new VirtualTime(T0);
    const limiter = new RateLimiter({ a: 1 }, time, { marginMs: 0 });
    const reason = new Error('deadline');

    const error = await limiter.acquire('a', AbortSignal.abort(reason)).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(AbortedError);
    expect((error as AbortedError).cause).toBe(reason);
    expect(await sendAll(time, limiter, 1)).toEqual([T0]); // the aborted call did not take the slot
  });

  it('rejects with AbortedError when the signal fires during the wait, and the slot goes to the next caller', async () => {
    const time = new VirtualTime(T0);
    const limiter = new RateLimiter({ a: 1 }, time, { marginMs: 0 });
    await limiter.acquire('a');
    const controller = new AbortController();
    const reason = new Error('run cancelled');

    const pending = limiter.acquire('a', controller.signal).catch((e: unknown) => e);
    const next = limiter.acquire('a');
    controller.abort(reason);
    const error = await pending;
    await time.run();

    expect(error).toBeInstanceOf(AbortedError);
    expect((error as AbortedError).cause).toBe(reason);
    expect((await next).sentAtMs).toBe(T0 + 1000);
  });
});

describe('RateLimiter waiters sharing one signal', () => {
  it('puts one abort listener on a signal however many callers wait on it, and rejects them all on abort', async () => {
    // Prepare
    const time = new VirtualTime(T0);
    const limiter = new RateLimiter({ a: 1 }, time, { marginMs: 0 });
    const controller = new AbortController();
    await limiter.acquire('a', controller.signal);

    // Act
    const waiting = Array.from({ length: 40 }, () =>
      limiter.acquire('a', controller.signal).catch((e: unknown) => e),
    );
    const listeners = getEventListeners(controller.signal, 'abort').length;
    controller.abort(new Error('run stopped'));
    const outcomes = await Promise.all(waiting);

    // Assess
    expect(listeners).toBe(1);
    expect(outcomes.every((e) => e instanceof AbortedError)).toBe(true);
  });

  it('grants later callers on a signal whose earlier waiters were all served', async () => {
    // Prepare
    const time = new VirtualTime(T0);
    const limiter = new RateLimiter({ a: 2 }, time, { marginMs: 0 });
    const controller = new AbortController();

    // Act
    const first = [limiter.acquire('a', controller.signal), limiter.acquire('a', controller.signal)];
    await time.run();
    await Promise.all(first);
    const later = limiter.acquire('a', controller.signal);
    await time.run();

    // Assess
    expect((await later).sentAtMs).toBe(T0 + 1000);
    expect(getEventListeners(controller.signal, 'abort').length).toBe(1);
  });
});

describe('FakeClock', () => {
  it('advances virtual time on sleep and advance, and rejects an aborted sleep with its reason', async () => {
    const clock: Clock & { sleeps: number[] } = new FakeClock(T0);
    const reason = new Error('stop');

    await clock.sleep(250);
    (clock as FakeClock).advance(50);

    expect(clock.now()).toBe(T0 + 300);
    expect(clock.sleeps).toEqual([250]);
    await expect(clock.sleep(10, AbortSignal.abort(reason))).rejects.toBe(reason);
    expect(clock.now()).toBe(T0 + 300);
  });
});
