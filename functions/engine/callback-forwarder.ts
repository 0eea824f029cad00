/**
 * Forward mode (issue 25, deliverable 2; docs/callbacks.md, Forward mode): Tencent allows one
 * callback URL per app, and most apps already use it. The receiver records the event first, then
 * forwards the request unchanged (the same query, Sign and RequestTime included, the same body
 * bytes and content type) to the app's own server, and answers with that server's status and
 * body. If the app's server does not answer within the timeout (1,800 ms by default, inside
 * Tencent's 2 s), the receiver answers as the app chose:
 *
 * - `fail-open` (default): `{"ActionStatus":"OK","ErrorInfo":"","ErrorCode":0}`, so a "before"
 *   callback (such as `Group.CallbackBeforeSendMsg`) lets the message through;
 * - `fail-closed`: 502 with an error body, a failure for Tencent, which then applies its own rule
 *   for a failed callback.
 *
 * The HTTP call is behind {@link ForwardPort} (functions/adapters/callbacks/http-forwarder.ts).
 */
import { CALLBACK_OK, type ReceiverAnswer } from '../domain/callback-answer.ts';

export type ForwardFailureMode = 'fail-open' | 'fail-closed';

/** What is forwarded: the app's URL with the original query, the body bytes, the content type. */
export interface ForwardRequest {
  readonly url: string;
  readonly body: Uint8Array;
  readonly contentType: string | undefined;
  readonly timeoutMs: number;
}

/** The port for the HTTP call: resolves with the app server's answer, rejects when there is none. */
export interface ForwardPort {
  forward(request: ForwardRequest): Promise<ReceiverAnswer>;
}

/** One app's forward settings (`apps[].callbacks`). */
export interface ForwardTarget {
  readonly url: string;
  readonly onFailure: ForwardFailureMode;
  readonly timeoutMs: number;
}

export interface ForwarderStats {
  /** Requests answered by the app's server (whatever its answer). */
  forwarded: number;
  /** Requests the app's server did not answer: answered fail-open or fail-closed. */
  failedOpen: number;
  failedClosed: number;
}

/** The answer when the app's server did not answer and the app chose fail-closed. */
export const FORWARD_FAILED_CLOSED: ReceiverAnswer = {
  status: 502,
  body: '{"ActionStatus":"FAIL","ErrorInfo":"the app\'s callback server did not answer","ErrorCode":502}',
};

/** The app's URL with the request's query: appended to a query the URL already has. */
export function forwardUrl(target: string, rawQuery: string): string {
  if (rawQuery === '') return target;
  const hash = target.indexOf('#');
  const base = hash < 0 ? target : target.slice(0, hash);
  return `${base}${base.includes('?') ? '&' : '?'}${rawQuery}`;
}

export class CallbackForwarder {
  readonly stats: ForwarderStats = { forwarded: 0, failedOpen: 0, failedClosed: 0 };

  constructor(
    private readonly targets: ReadonlyMap<number, ForwardTarget>,
    private readonly port: ForwardPort,
  ) {}

  /** Whether the app's events go to its own server too. */
  has(sdkAppId: number): boolean {
    return this.targets.has(sdkAppId);
  }

  /** Forwards an authentic (already recorded) request; never rejects. */
  async forward(
    sdkAppId: number,
    request: { rawQuery: string; body: Uint8Array; contentType: string | undefined },
  ): Promise<ReceiverAnswer> {
    const target = this.targets.get(sdkAppId);
    if (target === undefined) return { status: 200, body: CALLBACK_OK };
    try {
      const answer = await this.port.forward({
        url: forwardUrl(target.url, request.rawQuery),
        body: request.body,
        contentType: request.contentType,
        timeoutMs: target.timeoutMs,
      });
      this.stats.forwarded += 1;
      return answer;
    } catch {
      if (target.onFailure === 'fail-closed') {
        this.stats.failedClosed += 1;
        return FORWARD_FAILED_CLOSED;
      }
      this.stats.failedOpen += 1;
      return { status: 200, body: CALLBACK_OK };
    }
  }
}
