/**
 * Forward mode's HTTP call (functions/engine/callback-forwarder.ts decides what is forwarded and
 * what is answered when it fails): a POST of the body bytes as received, with the original
 * content type, to the app's own callback server, over kept-alive connections (node:http and
 * node:https agents; fetch cost several times more CPU per request in `npm run bench`'s receiver
 * section), and its status, body bytes and content type as the answer. No answer within the
 * timeout, or a network error, rejects. Redirects are not followed: the answer is the app
 * server's own.
 */
import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import type { ForwardPort, ForwardRequest } from '../../engine/callback-forwarder.ts';
import type { ReceiverAnswer } from '../../engine/callback-receiver.ts';

/** The most of the app server's answer read (Tencent's answers are a few hundred bytes). */
const MAX_ANSWER_BYTES = 1024 * 1024;

export class ForwardError extends Error {
  override readonly name = 'ForwardError';
}

const agents = {
  http: new HttpAgent({ keepAlive: true, keepAliveMsecs: 30_000, maxSockets: 256 }),
  https: new HttpsAgent({ keepAlive: true, keepAliveMsecs: 30_000, maxSockets: 256 }),
};

function readAnswer(response: IncomingMessage): Promise<ReceiverAnswer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    response.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_ANSWER_BYTES)
        response.destroy(new ForwardError("the app server's answer is over 1 MiB"));
      else chunks.push(chunk);
    });
    response.once('end', () =>
      resolve({
        status: response.statusCode ?? 502,
        body: new Uint8Array(Buffer.concat(chunks)),
        contentType: response.headers['content-type'] ?? 'application/json',
      }),
    );
    response.once('error', (cause) =>
      reject(new ForwardError("the app server's answer was cut short", { cause })),
    );
  });
}

export const httpForwarder: ForwardPort = {
  forward(request: ForwardRequest): Promise<ReceiverAnswer> {
    const url = new URL(request.url);
    const secure = url.protocol === 'https:';
    return new Promise((resolve, reject) => {
      const req = (secure ? httpsRequest : httpRequest)(
        url,
        {
          method: 'POST',
          agent: secure ? agents.https : agents.http,
          headers: {
            ...(request.contentType === undefined ? {} : { 'content-type': request.contentType }),
            'content-length': request.body.length,
          },
          timeout: request.timeoutMs,
        },
        (response) => {
          readAnswer(response).then(resolve, reject);
        },
      );
      const timer = setTimeout(
        () => req.destroy(new ForwardError(`no answer within ${request.timeoutMs} ms`)),
        request.timeoutMs,
      );
      req.once('close', () => clearTimeout(timer));
      req.once('error', (cause) => reject(new ForwardError('the app server did not answer', { cause })));
      req.end(request.body);
    });
  },
};
