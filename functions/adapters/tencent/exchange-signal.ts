/**
 * The signal of one HTTP exchange: the caller's signal (the run's hard stop) or the exchange's own
 * timeout, whichever fires first, with nothing left behind once the exchange settled.
 *
 * Why not `AbortSignal.any([signal, AbortSignal.timeout(ms)])`: on Node 20 every combined signal
 * leaves a weak reference in the caller's signal, kept as long as that signal lives (the whole
 * run: one per request, tens of thousands on a busy app), and `AbortSignal.timeout` keeps its
 * timer for the whole timeout, long after the answer came (docs/benchmarks.md, "Memory on busy
 * apps"). Here each exchange has one controller and one timer, cleared when it settles, and each
 * caller's signal one listener, which fans out to the exchanges in flight on it.
 */

/** One exchange's signal. */
export interface Exchange {
  readonly signal: AbortSignal;
  /** Whether the exchange's timeout fired (not the caller's signal). */
  timedOut(): boolean;
  /** Clear the timer and forget the exchange; call once it settled (more than once is harmless). */
  release(): void;
}

export class ExchangeSignals {
  /** Caller's signal → the controllers of its exchanges in flight (one listener per signal). */
  private readonly inFlight = new WeakMap<AbortSignal, Set<AbortController>>();

  /** The signal of a new exchange, aborted by `signal` or after `timeoutMs`. */
  public open(signal: AbortSignal | undefined, timeoutMs: number): Exchange {
    const controller = new AbortController();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      controller.abort(new DOMException(`no answer within ${timeoutMs} ms`, 'TimeoutError'));
    }, timeoutMs);
    const group = signal === undefined ? undefined : this.groupOf(signal);
    if (signal?.aborted) controller.abort(signal.reason);
    else group?.add(controller);
    return {
      signal: controller.signal,
      timedOut: () => timedOut,
      release: () => {
        clearTimeout(timer);
        group?.delete(controller);
      },
    };
  }

  /** Exchanges in flight on `signal` (for tests: none once every one settled). */
  public inFlightOn(signal: AbortSignal): number {
    return this.inFlight.get(signal)?.size ?? 0;
  }

  private groupOf(signal: AbortSignal): Set<AbortController> {
    let group = this.inFlight.get(signal);
    if (group === undefined) {
      const controllers = new Set<AbortController>();
      group = controllers;
      this.inFlight.set(signal, controllers);
      signal.addEventListener(
        'abort',
        () => {
          for (const c of controllers) c.abort(signal.reason);
          controllers.clear();
        },
        { once: true },
      );
    }
    return group;
  }
}
