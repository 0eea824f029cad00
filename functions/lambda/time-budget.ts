/**
 * How much of an invocation the engine may spend paging. Pure, so the arithmetic is unit-tested.
 *
 * Two stops protect the commit:
 * - the soft deadline: no new page after it; in-flight pages drain, the last checkpoint is written
 *   and committed, the run report is written and the lease is released;
 * - the hard stop: the engine aborts whatever is still in flight and writes nothing more, shortly before
 *   Lambda would kill the process (the run then resumes from its last commit on the next call).
 */

/**
 * What a handler keeps back of the invocation's remaining time for its last checkpoint and reply
 * when no other margin is given (the archiver's and the audit's handlers).
 */
export const DEFAULT_HARD_STOP_MS = 10_000;

export interface TimeBudgetOptions {
  /** The engine's hard stop, before the Lambda timeout. */
  hardStopMs: number;
  /** Share of the remaining time kept for drain + flush + commit. */
  reserveFraction?: number;
  /** Never keep back more than this (a 15-minute invocation keeps 90 s). */
  maxReserveMs?: number;
}

export interface TimeBudget {
  /** Epoch ms after which the engine starts no new page. */
  deadlineMs: number;
  /** What was kept back for the final checkpoint. */
  reserveMs: number;
}

/**
 * `deadline = now + remaining - reserve`, where the reserve is a share of the remaining time,
 * capped, and always at least twice the hard-stop margin so the soft deadline comes first.
 */
export function timeBudget(nowMs: number, remainingMs: number, options: TimeBudgetOptions): TimeBudget {
  const fraction = options.reserveFraction ?? 0.25;
  const maxReserve = options.maxReserveMs ?? 90_000;
  const reserveMs = Math.round(
    Math.max(Math.min(remainingMs * fraction, maxReserve), 2 * options.hardStopMs),
  );
  return { deadlineMs: nowMs + Math.max(0, remainingMs - reserveMs), reserveMs };
}
