import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  type RunningReceiver,
  startReceiverServer,
} from '../../functions/adapters/callbacks/receiver-server.ts';
import { LocalFolderStore } from '../../functions/adapters/local-folder/local-folder-store.ts';
import { systemClock } from '../../functions/adapters/system-clock.ts';
import { callbackSign } from '../../functions/domain/callback-auth.ts';
import { gunzipNdjson } from '../../functions/domain/ndjson-gzip.ts';
import { CALLBACK_OK, CallbackReceiver } from '../../functions/engine/callback-receiver.ts';
import { CallbackRecorder } from '../../functions/engine/callback-recorder.ts';

const APP = 1400000001;
const TOKEN = 'receiver-test-token';
let running: RunningReceiver | undefined;
let folder: string | undefined;

afterEach(async () => {
  await running?.close();
  if (folder) await rm(folder, { recursive: true, force: true });
  running = undefined;
  folder = undefined;
});

async function start(maxBodyBytes?: number) {
  folder = await mkdtemp(join(tmpdir(), 'receiver-'));
  const store = new LocalFolderStore(folder);
  const recorder = new CallbackRecorder({ store, clock: systemClock, timeZone: 'UTC', receiverId: 'test' });
  const receiver = new CallbackReceiver({ tokens: new Map([[APP, TOKEN]]), recorder, clock: systemClock });
  running = await startReceiverServer({ receiver, ...(maxBodyBytes ? { maxBodyBytes } : {}) });
  return { store, receiver, url: running.url };
}

function callbackUrl(base: string, over: Record<string, string> = {}): string {
  const time = String(Math.floor(Date.now() / 1000));
  const params = new URLSearchParams({
    SdkAppid: String(APP),
    CallbackCommand: 'Group.CallbackAfterSendMsg',
    contenttype: 'json',
    ClientIP: '203.0.113.9',
    OptPlatform: 'RESTAPI',
    RequestTime: time,
    Sign: callbackSign(TOKEN, time),
    ...over,
  });
  return `${base}?${params}`;
}

async function storedBodies(store: LocalFolderStore): Promise<string[]> {
  const out: string[] = [];
  for await (const key of store.list('callbacks/')) {
    const object = await store.get(key);
    for (const line of await gunzipNdjson(object?.body as Uint8Array)) out.push(JSON.parse(line).body);
  }
  return out;
}

describe('the callback receiver over HTTP', () => {
  it('acks signed events with the answer Tencent expects, each stored once it is acked', async () => {
    const { store, url } = await start();
    const bodies = Array.from({ length: 40 }, (_, i) =>
      JSON.stringify({ GroupId: 'g', MsgSeq: i + 1, EventTime: i }),
    );
    const answers = await Promise.all(
      bodies.map((body) =>
        fetch(callbackUrl(url), { method: 'POST', body, headers: { 'content-type': 'application/json' } }),
      ),
    );
    expect(answers.map((a) => a.status)).toEqual(bodies.map(() => 200));
    expect(await Promise.all(answers.map((a) => a.text()))).toEqual(bodies.map(() => CALLBACK_OK));
    expect((await storedBodies(store)).sort()).toEqual([...bodies].sort());
  });

  it('refuses a forged Sign and a wrong app with 401, GET with 405, and a body over the cap with 413: none stored', async () => {
    const { store, receiver, url } = await start(1024);
    const forged = await fetch(callbackUrl(url, { Sign: '0'.repeat(64) }), { method: 'POST', body: '{}' });
    const otherApp = await fetch(callbackUrl(url, { SdkAppid: '1400000002' }), {
      method: 'POST',
      body: '{}',
    });
    const get = await fetch(callbackUrl(url));
    const big = await fetch(callbackUrl(url), { method: 'POST', body: 'x'.repeat(4096) });
    expect([forged.status, otherApp.status, get.status, big.status]).toEqual([401, 401, 405, 413]);
    expect(await storedBodies(store)).toEqual([]);
    expect(receiver.stats).toMatchObject({
      accepted: 0,
      tooLarge: 1,
      refused: { forged: 1, 'wrong-app': 1 },
    });
  });
});
