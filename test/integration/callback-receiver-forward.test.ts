import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { httpForwarder } from '../../functions/adapters/callbacks/http-forwarder.ts';
import { callbackSign } from '../../functions/domain/callback-auth.ts';
import {
  CallbackForwarder,
  FORWARD_FAILED_CLOSED,
  type ForwardFailureMode,
} from '../../functions/engine/callback-forwarder.ts';
import { CALLBACK_OK } from '../../functions/engine/callback-receiver.ts';
import { startTestReceiver, storedCallbackRows } from '../helpers/callbacks.ts';
import { MemoryStore } from '../helpers/engine-fakes.ts';

const APP = 1400000001;
const TOKEN = 'forward-test-token';
const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0)) await close();
});

interface Got {
  url: string;
  body: Buffer;
  contentType: string | undefined;
}

/** The app's own callback server: records each request, answers `answer` after `delayMs`. */
async function appServer(answer: { status: number; body: string; type: string }, delayMs = 0) {
  const got: Got[] = [];
  const server: Server = createServer(async (request: IncomingMessage, response) => {
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    got.push({
      url: request.url ?? '',
      body: Buffer.concat(chunks),
      contentType: request.headers['content-type'],
    });
    setTimeout(() => {
      response.writeHead(answer.status, { 'content-type': answer.type });
      response.end(answer.body);
    }, delayMs);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  closers.push(
    () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  );
  return { got, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/im/callback?hook=1` };
}

async function receiverTo(url: string, onFailure: ForwardFailureMode = 'fail-open', timeoutMs = 1800) {
  const store = new MemoryStore();
  const forwarder = new CallbackForwarder(new Map([[APP, { url, onFailure, timeoutMs }]]), httpForwarder);
  const test = await startTestReceiver({ store, sdkAppId: APP, token: TOKEN, forwarder });
  closers.unshift(() => test.close());
  const stored = async () => (await storedCallbackRows(store)).map((row) => row.body);
  return { url: test.url, stored, forwarder };
}

function query(sign?: string): string {
  const time = String(Math.floor(Date.now() / 1000));
  return new URLSearchParams({
    SdkAppid: String(APP),
    CallbackCommand: 'Group.CallbackBeforeSendMsg',
    contenttype: 'json',
    ClientIP: '203.0.113.9',
    OptPlatform: 'Android',
    RequestTime: time,
    Sign: sign ?? callbackSign(TOKEN, time),
  }).toString();
}

// Not canonical JSON on purpose (spaces, key order, a non-ASCII name): the bytes must pass unchanged.
const BODY = Buffer.from(
  '{ "CallbackCommand":"Group.CallbackBeforeSendMsg",  "GroupId":"@TGS#1", "From_Account":"小明", "Random":7 }',
);

describe('forward mode over HTTP', () => {
  it("the app's server gets the exact query and body bytes, and its answer is returned as is", async () => {
    const blocking = '{"ActionStatus":"OK","ErrorInfo":"","ErrorCode":1}';
    const app = await appServer({ status: 200, body: blocking, type: 'application/json; charset=utf-8' });
    const receiver = await receiverTo(app.url);
    const q = query();
    const answer = await fetch(`${receiver.url}?${q}`, {
      method: 'POST',
      body: BODY,
      headers: { 'content-type': 'application/json; charset=utf-8' },
    });
    expect([answer.status, await answer.text(), answer.headers.get('content-type')]).toEqual([
      200,
      blocking,
      'application/json; charset=utf-8',
    ]);
    expect(app.got).toHaveLength(1);
    expect(app.got[0]?.url).toBe(`/im/callback?hook=1&${q}`);
    expect(app.got[0]?.body.equals(BODY)).toBe(true);
    expect(app.got[0]?.contentType).toBe('application/json; charset=utf-8');
    expect(await receiver.stored()).toEqual([BODY.toString('utf8')]);
  });

  it.each([
    ['fail-open', 200, CALLBACK_OK],
    ['fail-closed', 502, FORWARD_FAILED_CLOSED.body],
  ] as const)(
    'the app server down or too slow, %s: the chosen answer, the event still recorded',
    async (mode, status, text) => {
      const slow = await appServer({ status: 200, body: CALLBACK_OK, type: 'application/json' }, 1_000);
      const receiver = await receiverTo(slow.url, mode, 200);
      const answer = await fetch(`${receiver.url}?${query()}`, { method: 'POST', body: BODY });
      expect([answer.status, await answer.text()]).toEqual([status, text]);
      expect(await receiver.stored()).toEqual([BODY.toString('utf8')]);
      const down = await receiverTo('http://127.0.0.1:9/nothing-listens', mode);
      const refused = await fetch(`${down.url}?${query()}`, { method: 'POST', body: BODY });
      expect([refused.status, await refused.text()]).toEqual([status, text]);
      expect(await down.stored()).toEqual([BODY.toString('utf8')]);
    },
  );

  it('a forged request is refused and never reaches the app server', async () => {
    const app = await appServer({ status: 200, body: CALLBACK_OK, type: 'application/json' });
    const receiver = await receiverTo(app.url);
    const answer = await fetch(`${receiver.url}?${query('0'.repeat(64))}`, { method: 'POST', body: BODY });
    expect(answer.status).toBe(401);
    expect(app.got).toEqual([]);
    expect(await receiver.stored()).toEqual([]);
  });
});
