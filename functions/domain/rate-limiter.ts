/**
 * Request pacing per Tencent API (e.g. 200 requests/s for `group_msg_get_simple`), safe against
 * the strictest reading of "N calls per second": at most N requests ARRIVING at the server in any
 * 1000 ms window (the counting is undocumented: docs/tencent-api.md, Rate limits).
 *
 * Hand-written rather than taken from a library: `bottleneck` and `limiter` schedule with real
 * timers and read `Date.now()` themselves, so they cannot take the injected {@link Clock}, and
 * tests would have to wait in real time. {@link SlidingWindowPacer} is pure arithmetic on the times
 * the caller passes in; the only waiting happens through `clock.sleep` in {@link RateLimiter}.
 *
 * The log holds when requests really left: a send the transport let out late (a busy thread, a
 * new connection) is moved to that time once its answer says so ({@link SlidingWindowPacer.sentLate}),
 * long before the send matters again a window later.
 *
 * Why a sliding log of ACTUAL send times and not a schedule (GCRA, token bucket): a schedule hands
 * out slots `1000 / N` ms apart whether or not they were used on time, so after an event-loop stall
 * (GC, gzip, a checkpoint) the delayed sends go out back to back and, together with the sends
 * before the stall, put more than N into one window as the server counts it. The log keeps the
 * times at which requests really went out, and a send is allowed only when the N-th most recent one
 * is more than `window + margin` ago: however late a send is, no N + 1 sends ever fall into one
 * window of `window + margin` ms.
 *
 * The margin covers the difference between when a request is sent and when it arrives: if the
 * one-way delay varies by ±J, two sends `window + margin` apart can arrive `window + margin - 2J`
 * apart, so the margin must exceed 2J. It is the larger of
 * - the observed spread of round-trip times (which bounds the spread of one-way delays), from the
 *   5th to the 95th percentile of the last 256, plus a small safety; and
 * - an AIMD term: it starts at `marginMs`, grows by half (at least `+marginMs`) on every
 *   frequency-limit answer, and shrinks by `marginMs / 10` after every N accepted requests without
 *   one, never below a floor that each frequency-limit answer raises to half a step past the margin
 *   that proved too small, so that margin is not tried again in this run.
 *
 * A margin beyond {@link MAX_JITTER_MS} (or a quarter window) cannot be about jitter any more, and
 * neither can more refusals among the requests of one round (sent with one margin) than the spare
 * slots explain: the server then counts fewer requests than configured (a plan with a lower limit,
 * a rate set too high).
 * Instead of widening the margin further, the pacer lowers the requests it allows per window by a
 * quarter (multiplicative decrease), and raises them again by one per window of accepted requests,
 * never above 90% of a count that was refused (additive increase under a ceiling): the sends stay
 * spread over the window and a frequency-limit answer stays rare, where a wide margin alone would
 * still release them in bursts of the configured count.
 */
import { AbortedError, ConfigError } from './errors.ts';
import type { Clock } from './ports.ts';

/** Options for one {@link SlidingWindowPacer}. */
export interface PacerOptions {
  /** Sustained requests per second; positive and finite. */
  ratePerSecond: number;
  /** Initial and minimum extra ms added to the window; default {@link DEFAULT_MARGIN_MS}. */
  marginMs?: number;
  /** The margin never grows beyond this; default 3 windows (a quarter of the rate). */
  maxMarginMs?: number;
}

/** Default margin for arrival jitter: small, because the observed jitter is added on top. */
export const DEFAULT_MARGIN_MS = 20;
/** RTT samples kept for the jitter estimate (about a second's worth at 200/s). */
const RTT_SAMPLES = 256;
/** The share of RTT samples left out at each end of the jitter estimate: a stall delays every answer in flight (~16 at 200/s), so 5% of 256. */
const RTT_TAIL = 0.05;
/**
 * The RTT spread also contains server processing time, which comes after arrival; past this it says
 * more about slow answers than about arrival jitter, and would only cost throughput.
 */
const MAX_JITTER_MS = 250;
/**
 * Added to the observed RTT spread: timer granularity and the odd sample outside what was seen.
 * The tails the percentiles leave out are the spare slots' ({@link spareSlots}).
 */
const JITTER_SAFETY_MS = 8;
/**
 * How many sends the even schedule may run ahead ({@link SlidingWindowPacer.earliestSendMs}): after
 * a lull, 1 + 4 go at once (20 ms of the schedule at 200/s), then one every `window / limit`. Enough
 * to absorb a late timer, too few for a burst whose tail the server counts a window late.
 */
export const BURST_SENDS = 4;

/**
 * Slots of every window the pacer leaves unused: 1% of a window of 20 or more (2 of 200). The
 * margin covers the spread of most requests (5th to 95th percentile); a rare straggler beyond it
 * arrives a window late, and with every window full it would be the N + 1st. A few free slots
 * absorb a few stragglers for 1% of the rate, where covering them with the margin would cost the
 * whole tail. Small windows (the 1/s listing) get none: one slot of 1 would be all of them.
 */
export function spareSlots(limit: number): number {
  return limit >= 20 ? Math.max(1, Math.round(limit * 0.01)) : 0;
}

function describeRate(value: unknown): string {
  return typeof value === 'number' ? String(value) : typeof value;
}

function isValidRate(rate: unknown): rate is number {
  return typeof rate === 'number' && Number.isFinite(rate) && rate > 0;
}

function requireFiniteTime(ms: number, what: string): void {
  if (!Number.isFinite(ms)) throw new RangeError(`${what} must be a finite number of ms, got ${ms}`);
}

/**
 * A pure sliding-window pacer on caller-supplied timestamps (ms): no timers, no clock of its own.
 * Rates below 1/s become one request per `1000 / rate` ms; fractional rates above 1/s round down
 * to whole requests per second.
 */
export class SlidingWindowPacer {
  public readonly ratePerSecond: number;
  /** Requests allowed per window. */
  public readonly limit: number;
  public readonly windowMs: number;
  private readonly baseMarginMs: number;
  private readonly maxMarginMs: number;
  /** The most recent `limit` send times; send number `k` is at `k % limit` (a ring). */
  private readonly sends: number[] = [];
  /** Sends recorded so far (the next send's number). */
  private count = 0;
  /** The AIMD part of the margin and its floor. */
  private aimdMarginMs: number;
  private floorMs: number;
  private acceptedSinceThrottle = 0;
  private readonly rtts: number[] = [];
  private rttNext = 0;
  private jitterMs = 0;
  private throttles = 0;
  /** Slots of each window kept free for stragglers (see {@link spareSlots}). */
  private readonly spare: number;
  /** Requests currently allowed per window (<= limit - spare), and the most they may grow back to. */
  private allowed: number;
  private ceiling: number;
  /** The newest send time, and the newest send when the margin was last raised. */
  private lastSendMs = Number.NEGATIVE_INFINITY;
  private raisedAtMs = Number.NEGATIVE_INFINITY;
  /** Frequency-limit answers to requests of the round since that increase. */
  private roundRefusals = 0;
  /** Sends are spread this far apart on average (see {@link earliestSendMs}). */
  private readonly spacingMs: number;
  /** When the next send is due on the even schedule (advanced by each send, never by a late one). */
  private scheduledMs = Number.NEGATIVE_INFINITY;

  /** @throws ConfigError when the rate is not a positive finite number or the margins are negative. */
  public constructor(options: PacerOptions) {
    if (!isValidRate(options.ratePerSecond)) {
      throw new ConfigError(
        `ratePerSecond must be a positive finite number, got ${describeRate(options.ratePerSecond)}`,
        { field: 'ratePerSecond' },
      );
    }
    this.ratePerSecond = options.ratePerSecond;
    this.limit = Math.max(1, Math.floor(options.ratePerSecond));
    this.windowMs = (1000 * this.limit) / options.ratePerSecond;
    const margin = options.marginMs ?? DEFAULT_MARGIN_MS;
    const max = options.maxMarginMs ?? 3 * this.windowMs;
    if (!(margin >= 0 && Number.isFinite(margin)) || !(max >= margin && Number.isFinite(max))) {
      throw new ConfigError(`marginMs must be >= 0 and <= maxMarginMs, got ${margin} and ${max}`, {
        field: 'marginMs',
      });
    }
    this.baseMarginMs = margin;
    this.maxMarginMs = max;
    this.aimdMarginMs = margin;
    this.floorMs = margin;
    this.spare = spareSlots(this.limit);
    this.allowed = this.limit - this.spare;
    this.ceiling = this.allowed;
    this.spacingMs = this.windowMs / this.limit;
  }

  /** Requests currently allowed per window: the configured count, or less after frequency limits. */
  public get allowedPerWindow(): number {
    return this.allowed;
  }

  /** The extra ms currently added to the window. */
  public get marginMs(): number {
    const observed = this.rtts.length === 0 ? 0 : this.jitterMs + JITTER_SAFETY_MS;
    return Math.min(this.maxMarginMs, Math.max(this.aimdMarginMs, observed));
  }

  /** Frequency-limit answers reported so far. */
  public get throttleCount(): number {
    return this.throttles;
  }

  /**
   * The earliest time (>= nowMs) at which one more request may be sent: the `allowed`-th most
   * recent send more than a window (and the margin) ago, and the even schedule no more than
   * {@link BURST_SENDS} sends ahead.
   *
   * The schedule is what the log alone does not give: after a lull (planning done, the rescan
   * starting, a stall) the log would let a whole window's count out at once, and a window later
   * its echo. The server stamps a burst's requests one after the other as it takes them in (and
   * the transport sends them as connections free up), so the first burst's tail is counted late
   * while the echo's head is counted on time: more than the limit in one window as the server
   * counts it, with every send a window and the margin apart as the client logged them (seen as
   * 10006 answers in test/integration/strict-server-run.test.ts).
   *
   * So sends follow an even schedule, `window / limit` apart, with a burst of at most
   * {@link BURST_SENDS} + 1. The schedule advances by whole steps from when each send was due
   * (a virtual schedule, as in a cell-rate algorithm), not from when the timer really woke: a wake-up
   * a millisecond late takes that millisecond from the next wait, so timer lateness never lowers the
   * rate below the limit (a 5 ms gap counted from each real send fell to about 6 ms, 166/s).
   */
  public earliestSendMs(nowMs: number): number {
    requireFiniteTime(nowMs, 'nowMs');
    const spaced = Math.max(nowMs, this.scheduledMs - BURST_SENDS * this.spacingMs);
    const n = this.allowed;
    if (this.count < n) return spaced;
    const nth = this.sends[(this.count - n) % this.limit] as number;
    return Math.max(spaced, nth + this.windowMs + this.marginMs);
  }

  /**
   * Record a request that goes out at `atMs` (the caller sends it now). Returns the send's number,
   * for {@link sentLate}.
   */
  public recordSend(atMs: number): number {
    requireFiniteTime(atMs, 'atMs');
    this.lastSendMs = Math.max(this.lastSendMs, atMs);
    this.scheduledMs = Math.max(this.scheduledMs, atMs) + this.spacingMs;
    const send = this.count++;
    if (this.sends.length < this.limit) this.sends.push(atMs);
    else this.sends[send % this.limit] = atMs;
    return send;
  }

  /**
   * Send number `send` really left `lateMs` after it was recorded (it waited in the transport's
   * queue: a busy thread, a burst of connections). Its entry in the log moves to when it left, so
   * the next window is paced on the real send, as the server will count it. A send the log no
   * longer holds (more than `limit` sends ago) no longer matters.
   */
  public sentLate(send: number, lateMs: number): void {
    if (!(lateMs > 0 && Number.isFinite(lateMs))) return;
    if (!Number.isInteger(send) || send < this.count - this.limit || send >= this.count) return;
    // `lastSendMs` stays on the times of the permits, which frequency-limit answers are judged by.
    this.sends[send % this.limit] = (this.sends[send % this.limit] as number) + lateMs;
  }

  /** A request was answered (whatever the outcome) `rttMs` after it was sent: feeds the jitter estimate. */
  public observeRtt(rttMs: number): void {
    if (!(rttMs >= 0 && Number.isFinite(rttMs))) return;
    if (this.rtts.length < RTT_SAMPLES) this.rtts.push(rttMs);
    else this.rtts[this.rttNext] = rttMs;
    this.rttNext = (this.rttNext + 1) % RTT_SAMPLES;
    // Recomputed every 16 samples: cheap, and the estimate moves slowly anyway. The spread between
    // the 5th and 95th percentile, not min to max: one answer read late because this process's
    // event loop was busy (GC, a checkpoint) says nothing about arrival jitter, and would widen
    // the margin for the next 256 calls. A jitter tail beyond the percentiles is what the AIMD term
    // is for.
    if (this.rttNext % 16 === 0 || this.rtts.length < 16) {
      const sorted = [...this.rtts].sort((a, b) => a - b);
      const cut = Math.floor(sorted.length * RTT_TAIL);
      const low = sorted[cut] as number;
      const high = sorted[sorted.length - 1 - cut] as number;
      this.jitterMs = Math.min(high - low, MAX_JITTER_MS);
    }
  }

  /** A request was accepted (not answered with a frequency limit): additive decrease of the margin. */
  public accepted(): void {
    this.acceptedSinceThrottle++;
    if (this.acceptedSinceThrottle >= this.allowed) {
      this.acceptedSinceThrottle = 0;
      this.aimdMarginMs = Math.max(this.floorMs, this.aimdMarginMs - Math.max(1, this.baseMarginMs / 10));
      this.allowed = Math.min(this.ceiling, this.allowed + 1);
    }
  }

  /**
   * A frequency-limit answer to a request sent at `sentAtMs`: multiplicative increase of the margin,
   * and a higher floor. Answers to requests sent before the last increase were paced with the old
   * margin and say nothing new about it, so they count but do not raise it again (one increase per
   * round); only many of them in one round (past what the spare slots explain) mean the server
   * counts fewer, and lower the requests allowed per window.
   */
  public throttled(sentAtMs: number = Number.POSITIVE_INFINITY): void {
    this.throttles++;
    this.acceptedSinceThrottle = 0;
    // Sent no later than the newest send at the last increase (a burst at one moment counts once).
    if (sentAtMs <= this.raisedAtMs) {
      // More refusals among the requests of one round than stragglers explain (the spare slots
      // take a few): the window was overfull by many, so the server counts fewer than allowed.
      if (++this.roundRefusals === this.spare + 3) this.allowFewer();
      return;
    }
    this.raisedAtMs = this.lastSendMs;
    this.roundRefusals = 1;
    const current = this.marginMs;
    const step = Math.max(this.baseMarginMs, 10);
    // The margin that failed is not tried again (the floor goes just past it), but one answer does
    // not ratchet the floor far: with spare slots in every window, an answer is more often one
    // straggler than a margin too small, and a floor raised by half each time would, after a few
    // stragglers in a long run, keep the rate a fifth below the limit for good.
    const floor = Math.min(this.maxMarginMs, Math.max(this.floorMs, current + step / 2));
    const margin = Math.min(this.maxMarginMs, Math.max(1.5 * current, current + step, floor));
    if (margin > Math.max(MAX_JITTER_MS, this.windowMs / 4) && this.allowed > 1) {
      // No jitter is this large: the server counts fewer than `allowed`.
      this.allowFewer();
      return;
    }
    this.floorMs = floor;
    this.aimdMarginMs = margin;
  }

  /**
   * The server counts fewer than `allowed`: allow fewer, and drop the margin that was widened on
   * the wrong diagnosis back to where it started.
   */
  private allowFewer(): void {
    if (this.allowed <= 1) return;
    this.ceiling = Math.max(1, Math.floor(this.allowed * 0.9));
    this.allowed = Math.max(1, Math.floor(this.allowed * 0.75));
    this.floorMs = this.baseMarginMs;
    this.aimdMarginMs = this.baseMarginMs;
  }
}

interface Waiter {
  resolve(permit: SendPermit): void;
  reject(error: unknown): void;
  signal: AbortSignal | undefined;
  /** Rejects this waiter with an AbortedError (a no-op once it is done). */
  onAbort: (() => void) | undefined;
  done: boolean;
}

/**
 * The waiters of each caller signal, behind ONE abort listener per signal: every call of a run
 * shares the run's signal, and a listener per waiter would put dozens on it (Node warns past 10).
 */
class AbortWatch {
  private readonly waiting = new WeakMap<AbortSignal, Set<Waiter>>();

  public add(signal: AbortSignal, waiter: Waiter): void {
    let set = this.waiting.get(signal);
    if (set === undefined) {
      const created = new Set<Waiter>();
      set = created;
      this.waiting.set(signal, created);
      signal.addEventListener(
        'abort',
        () => {
          this.waiting.delete(signal);
          for (const w of created) w.onAbort?.();
        },
        { once: true },
      );
    }
    set.add(waiter);
  }

  /** The waiter no longer waits (granted); the signal's listener stays for the next waiter. */
  public remove(signal: AbortSignal, waiter: Waiter): void {
    this.waiting.get(signal)?.delete(waiter);
  }
}

/** One API's pacer and the callers waiting for it, served first come, first served. */
class Lane {
  public readonly queue: Waiter[] = [];
  public pumping = false;
  public constructor(public readonly pacer: SlidingWindowPacer) {}
}

/** A permit to send one request, returned by {@link RateLimiter.acquire}. */
export interface SendPermit {
  /** When the request was let through (clock ms). */
  readonly sentAtMs: number;
  /** The send's number in its API's log (see {@link SlidingWindowPacer.sentLate}). */
  readonly send: number;
}

/**
 * One {@link SlidingWindowPacer} per API, shared by every caller of the client (one client per app),
 * and a FIFO queue in front of each. `acquire()` resolves at the moment the send is recorded, so the
 * caller must send right away.
 */
export class RateLimiter {
  private readonly lanes = new Map<string, Lane>();
  private readonly watch = new AbortWatch();

  /**
   * @param rates requests per second for each API name; every API the caller will use must be listed.
   * @param options.marginMs initial and minimum margin for arrival jitter (default {@link DEFAULT_MARGIN_MS}).
   * @throws ConfigError (field `rateLimits.<api>`) when a rate is not a positive finite number.
   */
  public constructor(
    rates: Record<string, number>,
    private readonly clock: Clock,
    options?: { marginMs?: number },
  ) {
    for (const [api, rate] of Object.entries(rates)) {
      if (!isValidRate(rate)) {
        throw new ConfigError(
          `Rate limit for API "${api}" must be a positive finite number of requests per second, got ${describeRate(rate)}`,
          { field: `rateLimits.${api}` },
        );
      }
      const pacerOptions: PacerOptions = { ratePerSecond: rate };
      if (options?.marginMs !== undefined) pacerOptions.marginMs = options.marginMs;
      this.lanes.set(api, new Lane(new SlidingWindowPacer(pacerOptions)));
    }
  }

  /**
   * Waits (through the injected clock) until `api` may send one more request, and records the
   * send. Callers are served in arrival order.
   *
   * @throws ConfigError when `api` has no configured rate; AbortedError when `signal` aborts
   *   (before or while waiting; an aborted waiter takes no slot).
   */
  public acquire(api: string, signal?: AbortSignal): Promise<SendPermit> {
    let lane: Lane;
    try {
      lane = this.laneFor(api);
    } catch (error) {
      return Promise.reject(error);
    }
    if (signal?.aborted) {
      return Promise.reject(
        new AbortedError(`Rate limiter wait for ${api} aborted`, { cause: signal.reason }),
      );
    }
    const granted = new Promise<SendPermit>((resolve, reject) => {
      const waiter: Waiter = {
        resolve,
        reject,
        signal,
        onAbort: undefined,
        done: false,
      };
      if (signal !== undefined) {
        waiter.onAbort = () => {
          if (waiter.done) return;
          waiter.done = true;
          reject(new AbortedError(`Rate limiter wait for ${api} aborted`, { cause: signal.reason }));
        };
        this.watch.add(signal, waiter);
      }
      lane.queue.push(waiter);
    });
    this.pump(lane);
    return granted;
  }

  /**
   * The request sent under `permit` got an answer from the API (an envelope, whatever its code):
   * feeds the jitter estimate, and adapts the margin. Not for transport failures (timeouts would
   * read as jitter). `timing.rttMs`: the round trip as the transport timed it (default: since the
   * permit); `timing.lateMs`: how long after the permit the request really left (see
   * {@link SlidingWindowPacer.sentLate}).
   */
  public answered(
    api: string,
    permit: SendPermit,
    outcome: 'accepted' | 'throttled' | 'other',
    timing: { rttMs?: number | undefined; lateMs?: number | undefined } = {},
  ): void {
    const pacer = this.laneFor(api).pacer;
    if (timing.lateMs !== undefined) pacer.sentLate(permit.send, timing.lateMs);
    pacer.observeRtt(timing.rttMs ?? this.clock.now() - permit.sentAtMs);
    if (outcome === 'accepted') pacer.accepted();
    if (outcome === 'throttled') pacer.throttled(permit.sentAtMs);
  }

  /**
   * When a call answered with a frequency limit may be sent again: one window (and the margin, just
   * raised) after its rejected send, so the server's window has moved past it. Only that call waits;
   * the lane keeps serving the others. Without this, a client configured faster than the server
   * counts would repeat every rejected call at once, while its log still has room: a burst.
   */
  public retryNotBeforeMs(api: string, permit: SendPermit): number {
    const pacer = this.laneFor(api).pacer;
    return permit.sentAtMs + pacer.windowMs + pacer.marginMs;
  }

  /** The pacer of `api` (for reports and tests). */
  public pacer(api: string): SlidingWindowPacer {
    return this.laneFor(api).pacer;
  }

  /** Lets queued callers through as the pacer allows; one pump per lane at a time. */
  private pump(lane: Lane): void {
    if (lane.pumping) return;
    lane.pumping = true;
    void (async () => {
      try {
        for (;;) {
          while (lane.queue[0]?.done) lane.queue.shift();
          const head = lane.queue[0];
          if (head === undefined) return;
          const now = this.clock.now();
          const at = lane.pacer.earliestSendMs(now);
          if (at > now) {
            // The real time of the send is read again after the sleep: a late wake-up is paced on
            // when it really happens, not on when it was planned.
            await this.clock.sleep(Math.ceil(at - now));
            continue;
          }
          lane.queue.shift();
          head.done = true;
          if (head.signal !== undefined) this.watch.remove(head.signal, head);
          const send = lane.pacer.recordSend(now);
          head.resolve({ sentAtMs: now, send });
        }
      } catch (error) {
        // Clock.sleep rejects only on abort, and this sleep has no signal; fail the waiters loudly.
        for (const waiter of lane.queue.splice(0)) if (!waiter.done) waiter.reject(error);
      } finally {
        lane.pumping = false;
      }
    })();
  }

  private laneFor(api: string): Lane {
    const lane = this.lanes.get(api);
    if (lane === undefined) {
      const known = [...this.lanes.keys()].join(', ') || '(none)';
      throw new ConfigError(`No rate limit configured for API "${api}" (configured: ${known})`, {
        field: `rateLimits.${api}`,
      });
    }
    return lane;
  }
}
