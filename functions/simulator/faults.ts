/**
 * Injected faults: a FIFO queue of failures that matching requests consume in order.
 */
import type { ApiName } from './gateway.ts';

/** A failure to inject. `api` limits it to one API (default: any of the four); `times` defaults to 1. */
export type FaultSpec = { api?: ApiName; times?: number } & (
  | { kind: 'error-code'; code: number; info?: string }
  | { kind: 'http-status'; status: number; body?: string }
  | { kind: 'malformed-json' }
  | { kind: 'slow'; delayMs: number }
  | { kind: 'reset' }
);

interface QueuedFault {
  spec: FaultSpec;
  remaining: number;
}

/** Faults waiting to be consumed. */
export class FaultQueue {
  readonly #queue: QueuedFault[] = [];

  /** Appends faults; each is consumed by the next `times` requests it matches. */
  public push(...faults: FaultSpec[]): void {
    for (const spec of faults) {
      const times = spec.times ?? 1;
      if (!Number.isInteger(times) || times < 1)
        throw new RangeError('FaultSpec.times must be a positive integer');
      this.#queue.push({ spec, remaining: times });
    }
  }

  /** Consumes and returns the first queued fault matching `api`, if any. */
  public take(api: ApiName): FaultSpec | undefined {
    const index = this.#queue.findIndex((fault) => fault.spec.api === undefined || fault.spec.api === api);
    const fault = this.#queue[index];
    if (fault === undefined) return undefined;
    fault.remaining--;
    if (fault.remaining === 0) this.#queue.splice(index, 1);
    return fault.spec;
  }

  /** Faults still queued (with their remaining counts folded into `times`). */
  public pending(): FaultSpec[] {
    return this.#queue.map((fault) => ({ ...fault.spec, times: fault.remaining }));
  }

  public clear(): void {
    this.#queue.length = 0;
  }
}

/** What a 502 from a real reverse proxy looks like. */
export const DEFAULT_HTTP_FAULT_BODY =
  '<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n';

/** A 200 body cut off mid-document: starts like a real answer, then stops. */
export const MALFORMED_JSON_BODY = '{"ActionStatus":"OK","ErrorInfo":"","ErrorCode":0,"GroupId":"@TGS#1';
