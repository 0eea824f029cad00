/**
 * Forward mode's HTTP call (functions/engine/callback-forwarder.ts decides what is forwarded and
 * what is answered when it fails): a POST of the body bytes as received, with the original
 * content type, to the app's own callback server, over kept-alive connections (fetch's pool), and
 * its status, body bytes and content type as the answer. No answer within the timeout, or a
 * network error, rejects. Redirects are not followed: the answer is the app server's own.
 */
import type { ForwardPort, ForwardRequest } from '../../engine/callback-forwarder.ts';
import type { ReceiverAnswer } from '../../engine/callback-receiver.ts';

/** The most of the app server's answer read (Tencent's answers are a few hundred bytes). */
const MAX_ANSWER_BYTES = 1024 * 1024;

export class ForwardError extends Error {
  override readonly name = 'ForwardError';
}

export const httpForwarder: ForwardPort = {
  async forward(request: ForwardRequest): Promise<ReceiverAnswer> {
    let answer: Response;
    const signal = AbortSignal.timeout(request.timeoutMs);
    try {
      answer = await fetch(request.url, {
        method: 'POST',
        body: request.body,
        headers: request.contentType === undefined ? {} : { 'content-type': request.contentType },
        redirect: 'manual',
        signal,
      });
    } catch (cause) {
      throw new ForwardError('the app server did not answer', { cause });
    }
    let bytes: Uint8Array;
    try {
      bytes = new Uint8Array(await answer.arrayBuffer());
    } catch (cause) {
      throw new ForwardError("the app server's answer was cut short", { cause });
    }
    if (bytes.length > MAX_ANSWER_BYTES) throw new ForwardError("the app server's answer is over 1 MiB");
    return {
      status: answer.status,
      body: bytes,
      contentType: answer.headers.get('content-type') ?? 'application/json',
    };
  },
};
