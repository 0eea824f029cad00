import type { Clock } from '../../functions/domain/ports.ts';

interface Timer {
  at: number;
  order: number;
  resolve(): void;
}

/**
 * Discrete-event virtual time for concurrent code: `sleep(ms)` resolves when {@link run} reaches
 * `now + ms`, so concurrent sleeps overlap as they would in real time (unlike FakeClock, which runs
 * them back to back). `stall(atMs, ms)` makes the event loop "freeze": the first timer due at or
 * after `atMs` fires `ms` late, together with every timer that fell due meanwhile.
 */
export class VirtualTime implements Clock {
  private nowMs: number;
  private timers: Timer[] = [];
  private order = 0;
  private stalls: { atMs: number; ms: number }[] = [];

  public constructor(startMs: number) {
    this.nowMs = startMs;
  }

  public now(): number {
    return this.nowMs;
  }

  public sleep(ms: number, signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    return new Promise((resolve, reject) => {
      const timer: Timer = { at: this.nowMs + Math.max(0, ms), order: this.order++, resolve };
      this.timers.push(timer);
      signal?.addEventListener(
        'abort',
        () => {
          this.timers = this.timers.filter((t) => t !== timer);
          reject(signal.reason);
        },
        { once: true },
      );
    });
  }

  /** The event loop freezes for `ms` when it first reaches `atMs`. */
  public stall(atMs: number, ms: number): void {
    this.stalls.push({ atMs, ms });
  }

  /** Fires timers in time order (letting promise chains settle in between) until none is left. */
  public async run(limit = 1_000_000): Promise<void> {
    for (let i = 0; i < limit; i++) {
      await settle();
      if (this.timers.length === 0) return;
      this.timers.sort((a, b) => a.at - b.at || a.order - b.order);
      const next = this.timers[0] as Timer;
      let at = Math.max(this.nowMs, next.at);
      const stall = this.stalls.find((s) => s.atMs <= at);
      if (stall !== undefined) {
        this.stalls = this.stalls.filter((s) => s !== stall);
        at += stall.ms;
      }
      this.nowMs = at;
      // Everything due by now fires (late ones in the order they were due).
      const due = this.timers.filter((t) => t.at <= at);
      this.timers = this.timers.filter((t) => t.at > at);
      for (const t of due) t.resolve();
    }
    throw new Error('VirtualTime.run: too many timer rounds');
  }
}

/** Lets pending promise reactions run (a macrotask turn, so long async chains settle too). */
async function settle(): Promise<void> {
  for (let i = 0; i < 3; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}
