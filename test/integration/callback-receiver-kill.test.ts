import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { LocalFolderStore } from '../../functions/adapters/local-folder/local-folder-store.ts';
import { PAUSE_AT_ENV, PAUSED_MARKER } from '../../functions/adapters/pause-at.ts';
import { callbackSign } from '../../functions/domain/callback-auth.ts';
import { gunzipNdjson } from '../../functions/domain/ndjson-gzip.ts';
import { killStrayChildren, spawnCli } from '../helpers/cli.ts';

const APP = 1400000001;
const TOKEN = 'kill-test-token';
const folders: string[] = [];

afterEach(async () => {
  killStrayChildren();
  for (const folder of folders.splice(0)) await rm(folder, { recursive: true, force: true });
});

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

async function setup() {
  const folder = await mkdtemp(join(tmpdir(), 'receiver-kill-'));
  folders.push(folder);
  const config = join(folder, 'config.json');
  await writeFile(
    config,
    JSON.stringify({
      apps: [
        {
          sdkAppId: APP,
          region: 'singapore',
          secretKey: { env: 'UNUSED_SECRET_KEY' },
          callbackToken: { env: 'CB_TOKEN' },
        },
      ],
      archive: { out: join(folder, 'archive'), timeZone: 'UTC' },
    }),
  );
  return { folder, config, store: new LocalFolderStore(join(folder, 'archive')) };
}

/** POSTs one signed event; resolves to its HTTP status, or 'no answer' when the connection died. */
async function send(url: string, seq: number): Promise<number | 'no answer'> {
  const time = String(Math.floor(Date.now() / 1000));
  const query = new URLSearchParams({
    SdkAppid: String(APP),
    CallbackCommand: 'Group.CallbackAfterSendMsg',
    RequestTime: time,
    Sign: callbackSign(TOKEN, time),
  });
  try {
    const answer = await fetch(`${url}?${query}`, {
      method: 'POST',
      body: JSON.stringify({ GroupId: 'g', MsgSeq: seq, EventTime: seq }),
    });
    await answer.text();
    return answer.status;
  } catch {
    return 'no answer';
  }
}

async function storedSeqs(store: LocalFolderStore): Promise<number[]> {
  const seqs: number[] = [];
  for await (const key of store.list('callbacks/')) {
    const object = await store.get(key);
    for (const line of await gunzipNdjson(object?.body as Uint8Array))
      seqs.push(JSON.parse(JSON.parse(line).body).MsgSeq);
  }
  return seqs.sort((a, b) => a - b);
}

describe('the receiver killed mid-burst (npm run receiver, SIGKILL at a named point)', () => {
  it('loses nothing it acked: the killed batch was never acked, and every acked event is stored', async () => {
    const { config, store } = await setup();
    const port = await freePort();
    // 20 events one at a time (each acked before the next is sent, so each is its own object),
    // then a burst of 10 whose first object pauses before it is written: the 21st under callbacks/.
    const receiver = spawnCli(['receiver', '--config', config, '--port', String(port)], {
      env: { CB_TOKEN: TOKEN, UNUSED_SECRET_KEY: 'x', [PAUSE_AT_ENV]: 'callbacks/:21' },
    });
    expect(await receiver.waitForStderr('Receiving callbacks')).toBe(true);
    const url = `http://127.0.0.1:${port}/`;
    const answers: (number | 'no answer')[] = [];
    for (let seq = 1; seq <= 20; seq++) answers.push(await send(url, seq));
    const burst = Promise.all(Array.from({ length: 10 }, (_, i) => send(url, 21 + i)));
    expect(await receiver.waitForStderr(`${PAUSED_MARKER} callbacks/:21 `)).toBe(true);
    receiver.kill();
    answers.push(...(await burst));
    await receiver.done;

    const acked = answers.flatMap((status, i) => (status === 200 ? [i + 1] : []));
    expect(acked.slice(0, 20)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    expect(answers.filter((a) => a === 'no answer').length).toBeGreaterThan(0); // the kill landed mid-burst
    expect(answers.filter((a) => a !== 200 && a !== 'no answer')).toEqual([]);
    expect(await storedSeqs(store)).toEqual(acked);

    // A new receiver on the same archive writes under its own id: nothing of the old one is overwritten.
    const again = spawnCli(['receiver', '--config', config, '--port', String(port)], {
      env: { CB_TOKEN: TOKEN, UNUSED_SECRET_KEY: 'x' },
    });
    expect(await again.waitForStderr('Receiving callbacks')).toBe(true);
    expect(await Promise.all(Array.from({ length: 10 }, (_, i) => send(url, 21 + i)))).toEqual(
      Array(10).fill(200),
    );
    again.signal('SIGINT');
    const result = await again.done;
    expect(JSON.parse(result.stdout.trim())).toMatchObject({
      receiver: { accepted: 10 },
      recorder: { rowsStored: 10 },
    });
    expect(await storedSeqs(store)).toEqual(Array.from({ length: 30 }, (_, i) => i + 1));
  }, 120_000);
});
