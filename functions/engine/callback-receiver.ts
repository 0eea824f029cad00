/**
 * The callback receiver's decision for one request (issue 25, docs/callbacks.md): authenticate,
 * record durably, then answer. The HTTP adapter (functions/adapters/callbacks/receiver-server.ts)
 * only moves bytes; everything that decides what is kept and what is answered is here.
 *
 * - A request for an app the receiver does not serve, or one whose Sign or time fails, is answered
 *   401 and leaves nothing in the record; each refusal is counted by reason.
 * - An authentic request is recorded (its body verbatim, quarantined if malformed) and only then
 *   answered `{"ActionStatus":"OK","ErrorInfo":"","ErrorCode":0}`. If the record cannot be
 *   written, the answer is 500: Tencent sees a failure, and nothing it was told is kept was lost.
 * - In forward mode (functions/engine/callback-forwarder.ts) an authentic request is recorded,
 *   then forwarded unchanged to the app's own server, whose answer is returned. A request whose
 *   record failed is still forwarded (counted as `unrecorded`): the app's own callbacks, such as a
 *   "before" callback that blocks a message, never depend on the archive's storage.
 */

import { CALLBACK_OK, type ReceiverAnswer } from '../domain/callback-answer.ts';
import {
  CALLBACK_REFUSALS,
  type CallbackQuery,
  type CallbackRefusal,
  verifyCallback,
} from '../domain/callback-auth.ts';
import { type CallbackEventRow, toCallbackEventRow } from '../domain/callback-event.ts';
import type { Clock } from '../domain/ports.ts';
import type { CallbackForwarder } from './callback-forwarder.ts';

/**
 * Where authentic rows go: `record` resolves once the row is durable (the local recorder's object
 * is written, or Firehose has accepted the record) and rejects when it is not.
 */
export interface CallbackSink {
  record(row: CallbackEventRow): Promise<void>;
}

export { CALLBACK_OK, type ReceiverAnswer } from '../domain/callback-answer.ts';

/** What forward mode passes on besides the body: the query as received, the content type. */
export interface ForwardableRequest {
  rawQuery: string;
  contentType: string | undefined;
}

export interface ReceiverStats {
  accepted: number;
  quarantined: number;
  refused: Record<CallbackRefusal, number>;
  /** Authentic requests answered 500 because their record could not be written. */
  unrecorded: number;
  /** Requests refused (413) because their body was over the cap, before any check. */
  tooLarge: number;
}

export interface CallbackReceiverOptions {
  /** The callback token of each app served, by SDKAppID. */
  readonly tokens: ReadonlyMap<number, string>;
  /** The local recorder (functions/engine/callback-recorder.ts) or the Lambda's Firehose sink. */
  readonly recorder: CallbackSink;
  readonly clock: Clock;
  /** Forward mode, for the apps that have a target (`apps[].callbacks.forwardTo`). */
  readonly forwarder?: CallbackForwarder;
}

const failure = (status: number, info: string): ReceiverAnswer => ({
  status,
  body: JSON.stringify({ ActionStatus: 'FAIL', ErrorInfo: info, ErrorCode: status }),
});

export class CallbackReceiver {
  readonly stats: ReceiverStats = {
    accepted: 0,
    quarantined: 0,
    refused: Object.fromEntries(CALLBACK_REFUSALS.map((r) => [r, 0])) as Record<CallbackRefusal, number>,
    unrecorded: 0,
    tooLarge: 0,
  };

  constructor(private readonly options: CallbackReceiverOptions) {}

  /** The answer to a body over the adapter's cap (read no further). */
  tooLarge(capBytes: number): ReceiverAnswer {
    this.stats.tooLarge += 1;
    return failure(413, `the body is over ${capBytes} bytes`);
  }

  private refuse(refusal: CallbackRefusal): ReceiverAnswer {
    this.stats.refused[refusal] += 1;
    return failure(401, refusal);
  }

  /** `request` (the raw query and content type) is needed only to forward. */
  async handle(
    query: CallbackQuery,
    body: Uint8Array,
    request?: ForwardableRequest,
  ): Promise<ReceiverAnswer> {
    const receivedAt = this.options.clock.now();
    const sdkAppId = /^[0-9]{1,12}$/.test(query.sdkAppId ?? '') ? Number(query.sdkAppId) : undefined;
    const token = sdkAppId === undefined ? undefined : this.options.tokens.get(sdkAppId);
    if (sdkAppId === undefined || token === undefined) return this.refuse('wrong-app');
    const verdict = verifyCallback(query, { sdkAppId, token, nowSeconds: Math.floor(receivedAt / 1000) });
    if (!verdict.ok) return this.refuse(verdict.refusal);
    const row = toCallbackEventRow({
      sdkAppId,
      command: verdict.command,
      requestTime: verdict.requestTime,
      receivedAt,
      body,
    });
    const forwarder = this.options.forwarder;
    const forwarding = request !== undefined && forwarder?.has(sdkAppId) === true;
    try {
      await this.options.recorder.record(row);
      this.stats.accepted += 1;
      if (row.quarantined) this.stats.quarantined += 1;
    } catch {
      this.stats.unrecorded += 1;
      if (!forwarding) return failure(500, 'the event could not be recorded');
    }
    if (forwarding) return forwarder.forward(sdkAppId, { ...request, body });
    return { status: 200, body: CALLBACK_OK };
  }
}
