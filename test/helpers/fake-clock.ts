import type { Clock } from '../../functions/domain/ports.ts';

/** 2026-01-01T00:00:00Z: a fixed, readable default start for virtual time. */
export const FAKE_CLOCK_START_MS = Date.UTC(2026, 0, 1);

/**
 * A virtual clock for tests: `sleep` resolves at once and moves virtual time forward by `ms`, so
 * nothing ever waits for real. Each sleep is recorded in `sleeps`.
 *
 * Sleeps run back to back in virtual time: two concurrent `sleep(100)` calls advance the clock by
 * 200 ms, not 100. That is exact for sequential code; for concurrent code, assert on `sleeps`.
 */
export class FakeClock implements Clock {
  /** Every `sleep` duration requested, in call order (aborted sleeps are not recorded). */
  public readonly sleeps: number[] = [];
  private nowMs: number;

  public constructor(startMs: number = FAKE_CLOCK_START_MS) {
    this.nowMs = startMs;
  }

  public now(): number {
    return this.nowMs;
  }

  /** Rejects with the signal's reason if it is already aborted (per the Clock contract), else advances time. */
  public async sleep(ms: number, signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) throw signal.reason;
    this.sleeps.push(ms);
    this.nowMs += Math.max(0, ms);
  }

  /** Moves virtual time forward (or back, with a negative `ms`, to simulate clock skew). */
  public advance(ms: number): void {
    this.nowMs += ms;
  }

  /** Total virtual time spent in `sleep`. */
  public get sleptMs(): number {
    return this.sleeps.reduce((sum, ms) => sum + ms, 0);
  }
}
