/**
 * The one-to-one pass in-process over the simulator with the real client (issue 26;
 * docs/one-to-one.md): a run stopped after a few pages of a long conversation commits its cursor,
 * and the next run continues from it with `LastMsgKey` (not from the top of the window); a message
 * recalled before it was pulled is archived recalled; every message once.
 */
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemClock } from '../../functions/adapters/system-clock.ts';
import { configPairs } from '../../functions/domain/c2c-pairs.ts';
import { type C2cRecord, conversationOf, parseC2cRecordLine } from '../../functions/domain/c2c-record.ts';
import type { RoamApi } from '../../functions/domain/ports.ts';
import type { RoamRequest } from '../../functions/domain/tencent-types.ts';
import type { C2cReport } from '../../functions/engine/c2c-report.ts';
import { runArchive } from '../../functions/engine/run-archive.ts';
import type { Simulator } from '../../functions/simulator/index.ts';
import { startC2cSimulator } from '../helpers/c2c.ts';
import { ENGINE_CLIENT_RATES, silentLogger, testRunOptions } from '../helpers/engine.ts';
import { MemoryStore } from '../helpers/engine-fakes.ts';
import { clientFor } from '../helpers/tencent.ts';

const ALICE = 'alice.c2c';
const BOB = 'bob]"c2c';
const CAROL = 'carol.c2c';

let sim: Simulator;
beforeAll(async () => {
  sim = await startC2cSimulator({
    seed: 261,
    c2c: {
      recalledFraction: 0,
      conversations: [
        { accounts: [ALICE, BOB], messages: 500 },
        { accounts: [ALICE, CAROL], messages: 40 },
      ],
    },
  });
});
afterAll(async () => {
  await sim.stop();
});

function rowsOf(store: MemoryStore): C2cRecord[] {
  return store.keys('c2c/').flatMap((key) =>
    gunzipSync(store.body(key) as Uint8Array)
      .toString('utf8')
      .split('\n')
      .filter((line) => line !== '')
      .map(parseC2cRecordLine),
  );
}

describe('the one-to-one pass over the simulator', () => {
  it('continues a stopped window at its committed cursor, and archives every message once', async () => {
    const store = new MemoryStore();
    const { client, app } = clientFor(sim, { clock: systemClock, rateLimits: ENGINE_CLIENT_RATES });
    const requests: RoamRequest[] = [];
    const stop = new AbortController();
    // A soft stop after the third page: pages in flight drain, the checkpoint commits.
    const roam: RoamApi = {
      getRoamMessages: async (request, signal) => {
        requests.push(request);
        const page = await client.getRoamMessages(request, signal);
        if (requests.length === 3) stop.abort();
        return page;
      },
    };
    const deps = { api: client, roam, store, clock: systemClock, logger: silentLogger };
    const options = {
      ...testRunOptions(app.sdkAppId),
      retentionDays: 30,
      c2c: {
        pairs: configPairs({
          pairs: [
            [BOB, ALICE],
            [CAROL, ALICE],
          ],
        }),
        concurrency: 1,
      },
    };

    const first = await runArchive(deps, options, undefined, stop.signal);
    const c2c = (first as { c2c?: C2cReport }).c2c as C2cReport;
    expect(first.done).toBe(false);
    expect(c2c).toMatchObject({ pages: 3, pairsLeftOpen: 1 });
    const cursor = requests[2] as RoamRequest;
    expect(rowsOf(store).length).toBe(c2c.messages);

    // Before the next run, a message not pulled yet is recalled.
    const older = sim.c2c.visible(ALICE, BOB)[10]?.MsgKey as string;
    sim.c2c.recall(ALICE, BOB, older);
    const seen = requests.length;
    const second = await runArchive(deps, { ...options, runId: 'second' });
    expect(second.done).toBe(true);
    // The window goes on where the last committed page ended, not at the top.
    const resumed = requests[seen] as RoamRequest;
    expect(resumed.lastMsgKey).toBeDefined();
    expect(resumed.lastMsgKey).not.toBe(cursor.lastMsgKey);
    expect(resumed.maxTime).toBeLessThan(requests[0]?.maxTime as number);

    const rows = rowsOf(store);
    const ids = rows.map((r) => `${r.conversation} ${r.msg_key}`);
    expect(ids.length).toBe(new Set(ids).size);
    const expected = [
      ...sim.c2c.visible(ALICE, BOB).map((m) => `${conversationOf(ALICE, BOB)} ${m.MsgKey}`),
      ...sim.c2c.visible(ALICE, CAROL).map((m) => `${conversationOf(ALICE, CAROL)} ${m.MsgKey}`),
    ];
    expect(ids.sort()).toEqual(expected.sort());
    expect(rows.find((r) => r.msg_key === older)?.msg_flag_bits).toBe(8);
  });
});
