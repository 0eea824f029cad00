/**
 * Ports: the interfaces through which the pure domain and the use cases reach the outside world.
 * Adapters implement them; the composition root wires them. Nothing here does I/O.
 */

/** Time, injected everywhere so tests never really wait. */
export interface Clock {
  /** Epoch milliseconds. */
  now(): number;
  /** Resolves after `ms`; rejects with the signal's reason if `signal` aborts first. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

export type LogFields = Record<string, unknown>;

/** Structured logging. Adapters redact registered secrets from every line. */
export interface Logger {
  debug(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
}

/** Source of uniform random numbers in [0, 1); injected for deterministic jitter in tests. */
export type Random = () => number;
