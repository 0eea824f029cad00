import { describe, expect, it } from 'vitest';
import { callbackSign } from '../../../functions/domain/callback-auth.ts';
import { gunzipNdjson } from '../../../functions/domain/ndjson-gzip.ts';
import { CALLBACK_OK, CallbackReceiver } from '../../../functions/engine/callback-receiver.ts';
import { CallbackRecorder } from '../../../functions/engine/callback-recorder.ts';
import { MemoryStore } from '../../helpers/engine-fakes.ts';
import { FakeClock } from '../../helpers/fake-clock.ts';

const APP = 1400000001;
const TOKEN = 'token-of-app-1';

function setup(store = new MemoryStore()) {
  const clock = new FakeClock(Date.UTC(2026, 11, 7, 12));
  const recorder = new CallbackRecorder({ store, clock, timeZone: 'UTC', receiverId: 'r1', maxRows: 1 });
  const receiver = new CallbackReceiver({ tokens: new Map([[APP, TOKEN]]), recorder, clock });
  const now = String(Math.floor(clock.now() / 1000));
  const query = (over: Record<string, string | undefined> = {}) => ({
    sdkAppId: String(APP),
    command: 'Group.CallbackAfterSendMsg',
    requestTime: now,
    sign: callbackSign(TOKEN, now),
    ...over,
  });
  return { store, clock, receiver, query, now };
}

const body = (seq: number) =>
  new TextEncoder().encode(JSON.stringify({ GroupId: 'g', MsgSeq: seq, EventTime: 1 }));

async function rows(store: MemoryStore): Promise<{ body: string; quarantined: boolean }[]> {
  const out = [];
  for (const key of store.keys('callbacks/'))
    out.push(...(await gunzipNdjson(store.body(key) as Uint8Array)).map((l) => JSON.parse(l)));
  return out;
}

describe('CallbackReceiver', () => {
  it('records an authentic event, then answers OK', async () => {
    const { store, receiver, query } = setup();
    expect(await receiver.handle(query(), body(1))).toEqual({ status: 200, body: CALLBACK_OK });
    expect((await rows(store)).map((r) => JSON.parse(r.body).MsgSeq)).toEqual([1]);
    expect(receiver.stats.accepted).toBe(1);
  });

  it('leaves nothing for forged, stale, unsigned and other-app requests, and counts each', async () => {
    const { store, receiver, query, now } = setup();
    const answers = [
      await receiver.handle(query({ sign: callbackSign('guessed', now) }), body(1)),
      await receiver.handle(
        query({ requestTime: String(Number(now) - 61), sign: callbackSign(TOKEN, String(Number(now) - 61)) }),
        body(2),
      ),
      await receiver.handle(query({ sign: undefined }), body(3)),
      await receiver.handle(query({ sdkAppId: '1400000002' }), body(4)),
      await receiver.handle(query({ sdkAppId: '14e8' }), body(5)),
    ];
    expect(answers.map((a) => a.status)).toEqual([401, 401, 401, 401, 401]);
    expect(answers.map((a) => JSON.parse(String(a.body)).ErrorInfo)).toEqual([
      'forged',
      'stale',
      'no-sign',
      'wrong-app',
      'wrong-app',
    ]);
    expect(store.keys()).toEqual([]);
    expect(receiver.stats.refused).toMatchObject({ forged: 1, stale: 1, 'no-sign': 1, 'wrong-app': 2 });
    expect(receiver.stats.accepted).toBe(0);
  });

  it('keeps a malformed authentic body as quarantined, and acks it', async () => {
    const { store, receiver, query } = setup();
    const answer = await receiver.handle(query(), new TextEncoder().encode('{not json'));
    expect(answer.status).toBe(200);
    expect(await rows(store)).toMatchObject([{ body: '{not json', quarantined: true }]);
    expect(receiver.stats.quarantined).toBe(1);
  });

  it('answers 500, not OK, when the record cannot be written', async () => {
    const store = new MemoryStore().fail({ op: 'put', key: () => true });
    const { receiver, query } = setup(store);
    const answer = await receiver.handle(query(), body(1));
    expect(answer.status).toBe(500);
    expect(answer.body).not.toBe(CALLBACK_OK);
    expect(receiver.stats).toMatchObject({ accepted: 0, unrecorded: 1 });
  });

  it('never puts the token in an answer', async () => {
    const { receiver, query } = setup();
    const answers = [
      await receiver.handle(query({ sign: 'x' }), body(1)),
      await receiver.handle(query(), body(2)),
      receiver.tooLarge(10),
    ];
    for (const a of answers) expect(a.body).not.toContain(TOKEN);
  });
});
