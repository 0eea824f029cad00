import { describe, expect, it } from 'vitest';
import { callbackSign } from '../../../functions/domain/callback-auth.ts';
import { gunzipNdjson } from '../../../functions/domain/ndjson-gzip.ts';
import {
  CallbackForwarder,
  FORWARD_FAILED_CLOSED,
  type ForwardFailureMode,
  type ForwardPort,
  type ForwardRequest,
  forwardUrl,
} from '../../../functions/engine/callback-forwarder.ts';
import {
  CALLBACK_OK,
  CallbackReceiver,
  type ReceiverAnswer,
} from '../../../functions/engine/callback-receiver.ts';
import { CallbackRecorder } from '../../../functions/engine/callback-recorder.ts';
import { MemoryStore } from '../../helpers/engine-fakes.ts';
import { FakeClock } from '../../helpers/fake-clock.ts';

const APP = 1400000001;
const TOKEN = 'token-of-app-1';
const APP_URL = 'https://chat.example.com/im/callback?from=tencent';

/** The app's server: records what it got, answers `answer` or fails. */
class FakeAppServer implements ForwardPort {
  readonly got: ForwardRequest[] = [];
  constructor(private readonly answer: ReceiverAnswer | 'down') {}
  async forward(request: ForwardRequest): Promise<ReceiverAnswer> {
    this.got.push(request);
    if (this.answer === 'down') throw new Error('connect ECONNREFUSED');
    return this.answer;
  }
}

function setup(app: FakeAppServer, onFailure: ForwardFailureMode = 'fail-open', store = new MemoryStore()) {
  const clock = new FakeClock(Date.UTC(2026, 11, 7, 12));
  const recorder = new CallbackRecorder({ store, clock, timeZone: 'UTC', receiverId: 'r1', maxRows: 1 });
  const forwarder = new CallbackForwarder(
    new Map([[APP, { url: APP_URL, onFailure, timeoutMs: 1800 }]]),
    app,
  );
  const receiver = new CallbackReceiver({ tokens: new Map([[APP, TOKEN]]), recorder, clock, forwarder });
  const now = String(Math.floor(clock.now() / 1000));
  const sign = callbackSign(TOKEN, now);
  const rawQuery = `SdkAppid=${APP}&CallbackCommand=Group.CallbackBeforeSendMsg&contenttype=json&ClientIP=203.0.113.9&OptPlatform=iOS&RequestTime=${now}&Sign=${sign}`;
  const query = { sdkAppId: String(APP), command: 'Group.CallbackBeforeSendMsg', requestTime: now, sign };
  return { store, receiver, forwarder, query, rawQuery, now };
}

const body = new TextEncoder().encode(
  '{"CallbackCommand":"Group.CallbackBeforeSendMsg","GroupId":"g","Random":1}',
);

async function storedCount(store: MemoryStore): Promise<number> {
  let n = 0;
  for (const key of store.keys('callbacks/')) n += (await gunzipNdjson(store.body(key) as Uint8Array)).length;
  return n;
}

describe('forward mode (CallbackForwarder in the receiver)', () => {
  it("records, then forwards the exact query, body and content type, and returns the app server's answer", async () => {
    const blocked = { status: 200, body: '{"ActionStatus":"OK","ErrorCode":1,"ErrorInfo":"blocked"}' };
    const app = new FakeAppServer(blocked);
    const { store, receiver, query, rawQuery } = setup(app);
    const answer = await receiver.handle(query, body, {
      rawQuery,
      contentType: 'application/json; charset=utf-8',
    });
    expect(answer).toEqual(blocked);
    expect(app.got).toEqual([
      {
        url: `${APP_URL}&${rawQuery}`,
        body,
        contentType: 'application/json; charset=utf-8',
        timeoutMs: 1800,
      },
    ]);
    expect(await storedCount(store)).toBe(1);
  });

  it.each([
    ['fail-open', { status: 200, body: CALLBACK_OK }],
    ['fail-closed', FORWARD_FAILED_CLOSED],
  ] as const)(
    'app server down, %s: answers as chosen, and the event is still recorded',
    async (mode, expected) => {
      const app = new FakeAppServer('down');
      const { store, receiver, forwarder, query, rawQuery } = setup(app, mode);
      expect(await receiver.handle(query, body, { rawQuery, contentType: 'application/json' })).toEqual(
        expected,
      );
      expect(app.got).toHaveLength(1);
      expect(await storedCount(store)).toBe(1);
      expect(forwarder.stats).toEqual({
        forwarded: 0,
        failedOpen: mode === 'fail-open' ? 1 : 0,
        failedClosed: mode === 'fail-closed' ? 1 : 0,
      });
    },
  );

  it('does not forward a forged or stale request', async () => {
    const app = new FakeAppServer({ status: 200, body: CALLBACK_OK });
    const { store, receiver, query, rawQuery, now } = setup(app);
    const old = String(Number(now) - 120);
    const forged = await receiver.handle({ ...query, sign: callbackSign('guessed', now) }, body, {
      rawQuery,
      contentType: undefined,
    });
    const stale = await receiver.handle(
      { ...query, requestTime: old, sign: callbackSign(TOKEN, old) },
      body,
      {
        rawQuery,
        contentType: undefined,
      },
    );
    expect([forged.status, stale.status]).toEqual([401, 401]);
    expect(app.got).toEqual([]);
    expect(await storedCount(store)).toBe(0);
  });

  it("still forwards when the record fails, so the app's own callbacks never depend on the archive", async () => {
    const app = new FakeAppServer({ status: 200, body: CALLBACK_OK });
    const store = new MemoryStore().fail({ op: 'put', key: () => true });
    const { receiver, query, rawQuery } = setup(app, 'fail-closed', store);
    expect(await receiver.handle(query, body, { rawQuery, contentType: 'application/json' })).toEqual({
      status: 200,
      body: CALLBACK_OK,
    });
    expect(app.got).toHaveLength(1);
    expect(receiver.stats).toMatchObject({ accepted: 0, unrecorded: 1 });
  });

  it("appends the query to the app URL's own query, or starts one", () => {
    expect(forwardUrl('https://a.example/cb', 'x=1&y=2')).toBe('https://a.example/cb?x=1&y=2');
    expect(forwardUrl('https://a.example/cb?k=v', 'x=1')).toBe('https://a.example/cb?k=v&x=1');
    expect(forwardUrl('https://a.example/cb#frag', 'x=1')).toBe('https://a.example/cb?x=1');
  });
});
