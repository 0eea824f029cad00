/**
 * Request accounting: calls, outcomes per API and per ErrorCode, rate-limit rejections, injected
 * faults, peak concurrency and messages returned.
 */
import { API_NAMES, type ApiName } from './gateway.ts';

/** Counters of one API (or of requests that matched no API). */
export interface ApiStats {
  calls: number;
  /** Envelopes with ErrorCode 0. */
  ok: number;
  /** Envelopes with a non-zero ErrorCode (including over-limit and injected error-code faults). */
  errors: number;
  /** Count per non-zero ErrorCode. */
  errorCodes: Record<string, number>;
  /** Rejected by the rate limiter. */
  overLimit: number;
  /** Injected faults consumed (any kind). */
  faults: number;
  /** Items in RspMsgList (group_msg_get_simple). */
  messagesReturned: number;
}

/** A snapshot; later requests do not change it. */
export interface SimulatorStats {
  totalCalls: number;
  perApi: Record<ApiName, ApiStats>;
  /** Requests that reached no API: bad method, unknown URL, unknown command. */
  unrouted: ApiStats;
  /** Totals over all APIs. */
  errorCodes: Record<string, number>;
  overLimit: number;
  faults: number;
  messagesReturned: number;
  /** Requests being handled right now, and the most ever handled at once. */
  inFlight: number;
  peakInFlight: number;
}

function emptyApiStats(): ApiStats {
  return { calls: 0, ok: 0, errors: 0, errorCodes: {}, overLimit: 0, faults: 0, messagesReturned: 0 };
}

function copyApiStats(stats: ApiStats): ApiStats {
  return { ...stats, errorCodes: { ...stats.errorCodes } };
}

/** Mutable counters behind `Simulator.stats()`. */
export class StatsRecorder {
  #perApi = this.#freshPerApi();
  #unrouted = emptyApiStats();
  #inFlight = 0;
  #peakInFlight = 0;

  #freshPerApi(): Record<ApiName, ApiStats> {
    return Object.fromEntries(API_NAMES.map((api) => [api, emptyApiStats()])) as Record<ApiName, ApiStats>;
  }

  #bucket(api: ApiName | undefined): ApiStats {
    return api === undefined ? this.#unrouted : this.#perApi[api];
  }

  public requestStarted(): void {
    this.#inFlight++;
    this.#peakInFlight = Math.max(this.#peakInFlight, this.#inFlight);
  }

  public requestEnded(): void {
    this.#inFlight--;
  }

  /** A call was routed to `api` (undefined: to nothing). */
  public call(api: ApiName | undefined): void {
    this.#bucket(api).calls++;
  }

  /** An envelope was answered. */
  public envelope(api: ApiName | undefined, code: number, messages: number): void {
    const stats = this.#bucket(api);
    stats.messagesReturned += messages;
    if (code === 0) {
      stats.ok++;
      return;
    }
    stats.errors++;
    stats.errorCodes[code] = (stats.errorCodes[code] ?? 0) + 1;
  }

  public overLimit(api: ApiName): void {
    this.#perApi[api].overLimit++;
  }

  public fault(api: ApiName): void {
    this.#perApi[api].faults++;
  }

  public snapshot(): SimulatorStats {
    const perApi = Object.fromEntries(
      API_NAMES.map((api) => [api, copyApiStats(this.#perApi[api])]),
    ) as Record<ApiName, ApiStats>;
    const all = [...Object.values(perApi), this.#unrouted];
    const errorCodes: Record<string, number> = {};
    for (const stats of all) {
      for (const [code, count] of Object.entries(stats.errorCodes))
        errorCodes[code] = (errorCodes[code] ?? 0) + count;
    }
    const sum = (pick: (stats: ApiStats) => number): number =>
      all.reduce((total, stats) => total + pick(stats), 0);
    return {
      totalCalls: sum((s) => s.calls),
      perApi,
      unrouted: copyApiStats(this.#unrouted),
      errorCodes,
      overLimit: sum((s) => s.overLimit),
      faults: sum((s) => s.faults),
      messagesReturned: sum((s) => s.messagesReturned),
      inFlight: this.#inFlight,
      peakInFlight: this.#peakInFlight,
    };
  }

  /** Zeroes every counter; requests in flight stay counted so the gauge cannot go negative. */
  public reset(): void {
    this.#perApi = this.#freshPerApi();
    this.#unrouted = emptyApiStats();
    this.#peakInFlight = this.#inFlight;
  }
}
