/**
 * A pair discovered only through callbacks, end to end (issue 26; docs/one-to-one.md, Witnesses):
 * the simulator sends `C2C.CallbackAfterSendMsg` for the one-to-one messages it appends, the
 * project's receiver records them, and the archive run (in-process, the real client) reads the
 * recorded events, learns the pair no config names, and archives its whole history once; a second
 * run reads no object again and does not pull the quiet pair.
 */
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemClock } from '../../functions/adapters/system-clock.ts';
import { configPairs } from '../../functions/domain/c2c-pairs.ts';
import { conversationOf, parseC2cRecordLine } from '../../functions/domain/c2c-record.ts';
import type { RoamApi } from '../../functions/domain/ports.ts';
import type { RoamRequest } from '../../functions/domain/tencent-types.ts';
import type { C2cReport } from '../../functions/engine/c2c-report.ts';
import { runArchive } from '../../functions/engine/run-archive.ts';
import type { Simulator } from '../../functions/simulator/index.ts';
import { startC2cSimulator } from '../helpers/c2c.ts';
import { startTestReceiver, type TestReceiver } from '../helpers/callbacks.ts';
import { ENGINE_CLIENT_RATES, silentLogger, testRunOptions } from '../helpers/engine.ts';
import { MemoryStore } from '../helpers/engine-fakes.ts';
import { clientFor } from '../helpers/tencent.ts';

const ALICE = 'alice.cb';
const BOB = 'bob.cb';
const DAVE = 'dave "cb"';
const ERIN = 'erin,cb';
const TOKEN = 'c2c-discovery-token';

let sim: Simulator;
let receiver: TestReceiver;
const store = new MemoryStore();
beforeAll(async () => {
  receiver = await startTestReceiver({ store, sdkAppId: 1400000000, token: TOKEN });
  sim = await startC2cSimulator({
    seed: 262,
    c2c: {
      recalledFraction: 0,
      conversations: [
        { accounts: [ALICE, BOB], messages: 20 },
        { accounts: [DAVE, ERIN], messages: 60 },
      ],
    },
    callbacks: { url: receiver.url, token: TOKEN },
  });
});
afterAll(async () => {
  await sim?.stop();
  await receiver?.close();
});

const idsOf = () =>
  store.keys('c2c/').flatMap((key) =>
    gunzipSync(store.body(key) as Uint8Array)
      .toString('utf8')
      .split('\n')
      .filter((line) => line !== '')
      .map((line) => {
        const row = parseC2cRecordLine(line);
        return `${row.conversation} ${row.msg_key}`;
      }),
  );

describe('a pair discovered only through callbacks', () => {
  it('is archived whole, once, and a quiet night does not pull it again', async () => {
    const { client, app } = clientFor(sim, { clock: systemClock, rateLimits: ENGINE_CLIENT_RATES });
    expect(app.sdkAppId).toBe(1400000000);
    const operators: string[] = [];
    const roam: RoamApi = {
      getRoamMessages: (request: RoamRequest, signal) => {
        operators.push(request.operatorAccount);
        return client.getRoamMessages(request, signal);
      },
    };
    // dave and erin talk: three new messages, each sent as a callback and recorded.
    sim.c2c.append(DAVE, ERIN, 3);
    await sim.callbacks?.flush();
    expect(sim.callbacks?.stats()).toMatchObject({ emitted: 3, acked: 3 });

    const deps = { api: client, roam, store, clock: systemClock, logger: silentLogger };
    const options = () => ({
      ...testRunOptions(app.sdkAppId),
      retentionDays: 30,
      c2c: { pairs: configPairs({ pairs: [[ALICE, BOB]] }), concurrency: 2, fromCallbacks: true },
    });
    const first = await runArchive(deps, options());

    expect(first.done).toBe(true);
    expect((first as { c2c?: C2cReport }).c2c).toMatchObject({
      callbackObjectsRead: expect.any(Number),
      callbackSightings: 3,
      pairsDiscovered: 1,
    });
    const expected = [
      ...sim.c2c.visible(ALICE, BOB).map((m) => `${conversationOf(ALICE, BOB)} ${m.MsgKey}`),
      ...sim.c2c.visible(DAVE, ERIN).map((m) => `${conversationOf(DAVE, ERIN)} ${m.MsgKey}`),
    ];
    expect(expected.length).toBe(83);
    const ids = idsOf();
    expect(ids.length).toBe(new Set(ids).size);
    expect(ids.sort()).toEqual(expected.sort());

    operators.length = 0;
    const second = await runArchive(deps, options());
    expect((second as { c2c?: C2cReport }).c2c).toMatchObject({ callbackObjectsRead: 0, messages: 0 });
    expect(new Set(operators)).toEqual(new Set([ALICE]));
    expect(idsOf().length).toBe(83);
  });
});
