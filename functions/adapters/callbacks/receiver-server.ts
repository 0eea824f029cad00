/**
 * The callback receiver over HTTP (node:http): POST only, the body read up to a cap, then handed
 * with the query to the engine's CallbackReceiver, whose answer is sent as is. Nothing here decides
 * what is kept (functions/engine/callback-receiver.ts does).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { CallbackQuery } from '../../domain/callback-auth.ts';
import type { CallbackReceiver, ReceiverAnswer } from '../../engine/callback-receiver.ts';

/** Default cap on a callback body: a group's destroy event lists its members, so not 12 KB. */
export const DEFAULT_MAX_BODY_BYTES = 1024 * 1024;

export interface ReceiverServerOptions {
  readonly receiver: CallbackReceiver;
  /** Default 0 (any free port). */
  readonly port?: number;
  /** Default 127.0.0.1. */
  readonly host?: string;
  /** Default {@link DEFAULT_MAX_BODY_BYTES}. */
  readonly maxBodyBytes?: number;
}

export interface RunningReceiver {
  readonly url: string;
  readonly server: Server;
  close(): Promise<void>;
}

function queryOf(url: string | undefined): CallbackQuery {
  const params = new URL(url ?? '/', 'http://receiver.invalid').searchParams;
  const one = (name: string) => params.get(name) ?? undefined;
  return {
    sdkAppId: one('SdkAppid'),
    command: one('CallbackCommand'),
    sign: one('Sign'),
    requestTime: one('RequestTime'),
  };
}

/** The body, or undefined when it grew past the cap (the rest is not read). */
async function readBody(request: IncomingMessage, cap: number): Promise<Uint8Array | undefined> {
  const declared = Number(request.headers['content-length']);
  if (Number.isFinite(declared) && declared > cap) return undefined;
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request) {
    size += (chunk as Buffer).length;
    if (size > cap) return undefined;
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

function send(response: ServerResponse, answer: ReceiverAnswer, close = false): void {
  response.writeHead(answer.status, {
    'content-type': answer.contentType ?? 'application/json',
    'content-length': Buffer.byteLength(answer.body),
    ...(close ? { connection: 'close' } : {}),
  });
  response.end(answer.body);
}

async function serve(options: ReceiverServerOptions, request: IncomingMessage, response: ServerResponse) {
  if (request.method !== 'POST') {
    send(response, { status: 405, body: '{"ActionStatus":"FAIL","ErrorInfo":"POST only","ErrorCode":405}' });
    return;
  }
  const cap = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const body = await readBody(request, cap);
  if (body === undefined) {
    send(response, options.receiver.tooLarge(cap), true);
    return;
  }
  const url = request.url ?? '/';
  const question = url.indexOf('?');
  const contentType = request.headers['content-type'];
  send(
    response,
    await options.receiver.handle(queryOf(url), body, {
      rawQuery: question < 0 ? '' : url.slice(question + 1),
      contentType,
    }),
  );
}

/** Starts listening; resolves once the port is bound. */
export function startReceiverServer(options: ReceiverServerOptions): Promise<RunningReceiver> {
  const server = createServer((request, response) => {
    serve(options, request, response).catch(() => {
      if (!response.headersSent)
        send(response, { status: 500, body: '{"ActionStatus":"FAIL","ErrorCode":500}' }, true);
      else response.destroy();
    });
  });
  server.keepAliveTimeout = 65_000; // Tencent keeps connections open ("默认使用长连接方式")
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => {
      const address = server.address() as AddressInfo;
      const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
      resolve({
        url: `http://${host}:${address.port}/`,
        server,
        close: () =>
          new Promise<void>((done) => {
            server.closeAllConnections();
            server.close(() => done());
          }),
      });
    });
  });
}
