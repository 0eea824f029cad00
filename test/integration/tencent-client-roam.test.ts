/**
 * `TencentClient.getRoamMessages` against the simulator's `admin_getroammsg` (docs/tencent-api.md,
 * admin_getroammsg; functions/adapters/tencent/wire-roam.ts): the documented continuation from either
 * side gives every message once, the test fake pages the same conversation to the same messages,
 * calls are paced with the API's own budget, and refusals surface as the API's codes.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemClock } from '../../functions/adapters/system-clock.ts';
import { MAX_ROAM_COUNT, type TencentClient } from '../../functions/adapters/tencent/client.ts';
import { splitRoamItems } from '../../functions/adapters/tencent/wire-roam.ts';
import { GiveUpError, TencentApiError } from '../../functions/domain/errors.ts';
import type { RoamApi } from '../../functions/domain/ports.ts';
import type { RoamMessage, RoamRequest } from '../../functions/domain/tencent-types.ts';
import { type Simulator, startSimulator } from '../../functions/simulator/index.ts';
import { FakeChatApi } from '../helpers/engine-fakes.ts';
import { clientFor, startSimulatorForClient } from '../helpers/tencent.ts';

const ALICE = 'alice.roam';
const BOB = 'bob.roam';
const MESSAGES = 250;

let sim: Simulator;
let client: TencentClient;
beforeAll(async () => {
  sim = await startSimulator({
    seed: 126,
    media: false,
    c2c: { generated: 0, conversations: [{ accounts: [ALICE, BOB], messages: MESSAGES }] },
  });
  ({ client } = clientFor(sim, { clock: systemClock }));
});
afterAll(async () => {
  await sim.stop();
});

/** Pages the whole window with the documented continuation; the messages and the calls made. */
async function pullAll(api: RoamApi, operator: string, peer: string, maxCnt = MAX_ROAM_COUNT) {
  let request: RoamRequest = {
    operatorAccount: operator,
    peerAccount: peer,
    maxCnt,
    minTime: 0,
    maxTime: 2 ** 31,
  };
  const messages: RoamMessage[] = [];
  for (let calls = 1; ; calls++) {
    const page = await api.getRoamMessages(request);
    expect(page.rejected).toBeUndefined();
    messages.push(...page.messages);
    if (page.complete) return { messages, calls };
    request = { ...request, maxTime: page.lastMsgTime, lastMsgKey: page.lastMsgKey };
  }
}

const keys = (messages: readonly RoamMessage[]): string[] => messages.map((m) => m.MsgKey);

describe('TencentClient.getRoamMessages', () => {
  it('pages a conversation from either side to every message once, as the fake does', async () => {
    const truth = [...sim.c2c.visible(ALICE, BOB)].reverse();
    const fromAlice = await pullAll(client, ALICE, BOB);
    const fromBob = await pullAll(client, BOB, ALICE);
    expect(keys(fromAlice.messages)).toEqual(keys(truth));
    expect(fromBob.messages).toEqual(fromAlice.messages);
    expect(fromAlice.messages).toEqual(truth);
    expect(client.stats().requests.adminGetRoamMsg).toBe(fromAlice.calls + fromBob.calls);

    const fake = new FakeChatApi({
      c2c: [{ accounts: [BOB, ALICE], messages: sim.c2c.visible(ALICE, BOB) }],
    });
    const fromFake = await pullAll(fake, ALICE, BOB, 9);
    expect(keys(fromFake.messages)).toEqual(keys(truth));
    expect(fromFake.calls).toBe(Math.ceil(MESSAGES / 9));
  });

  it("does not depend on the order inside a page: the samples' ascending pages give the same messages", async () => {
    const ascending = await startSimulator({
      seed: 126,
      media: false,
      c2c: {
        generated: 0,
        pageOrder: 'ascending',
        conversations: [{ accounts: [ALICE, BOB], messages: MESSAGES }],
      },
    });
    try {
      const { client: other } = clientFor(ascending, { clock: systemClock });
      const { messages, calls } = await pullAll(other, BOB, ALICE);
      expect(calls).toBeGreaterThan(1);
      expect(messages).toHaveLength(MESSAGES);
      expect(new Set(keys(messages))).toEqual(new Set(keys(ascending.c2c.visible(ALICE, BOB))));
    } finally {
      await ascending.stop();
    }
  });

  it('paces the calls at the API budget: no frequency-limit answer', async () => {
    const rates = { adminGetRoamMsg: 20 };
    const paced = await startSimulatorForClient(rates, {
      seed: 126,
      media: false,
      c2c: { generated: 0, conversations: [{ accounts: [ALICE, BOB], messages: 5 }] },
    });
    try {
      const { client: slow } = clientFor(paced, { clock: systemClock, rateLimits: rates });
      const request = { operatorAccount: ALICE, peerAccount: BOB, maxCnt: 10, minTime: 0, maxTime: 2 ** 31 };
      const started = performance.now();
      const pages = await Promise.all(Array.from({ length: 50 }, () => slow.getRoamMessages(request)));
      const elapsedMs = performance.now() - started;
      expect(pages.every((p) => p.complete && p.messages.length === 5)).toBe(true);
      expect(paced.stats().perApi.admin_getroammsg).toMatchObject({ calls: 50, overLimit: 0 });
      expect(slow.stats().throttles).toBe(0);
      // 50 calls at 20 in any second: the last one leaves at least two windows after the first.
      expect(elapsedMs).toBeGreaterThanOrEqual(2_000);
    } finally {
      await paced.stop();
    }
  });

  it('surfaces the API refusal of an unknown account with its code, and checks the request before sending', async () => {
    const request = { operatorAccount: 'nobody.roam', peerAccount: BOB, maxCnt: 10, minTime: 0, maxTime: 10 };
    const { client: quick } = clientFor(sim, { retry: { maxAttempts: 2 } });
    const error = await quick.getRoamMessages(request).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(GiveUpError);
    expect((error as GiveUpError).cause).toBeInstanceOf(TencentApiError);
    expect(((error as GiveUpError).cause as TencentApiError).code).toBe(90008);

    const before = quick.stats().requests.adminGetRoamMsg;
    await expect(quick.getRoamMessages({ ...request, maxCnt: MAX_ROAM_COUNT + 1 })).rejects.toThrow(
      RangeError,
    );
    await expect(quick.getRoamMessages({ ...request, minTime: 11 })).rejects.toThrow(RangeError);
    expect(quick.stats().requests.adminGetRoamMsg).toBe(before);
  });
});

describe('splitRoamItems', () => {
  it('keeps valid messages and the exact text of each item without a MsgKey or a fileable time', () => {
    const good = { MsgKey: '1_2_3', MsgTimeStamp: 3, MsgSeq: 1 };
    const items = [good, { MsgSeq: 5, MsgTimeStamp: 3 }, { MsgKey: 'k', MsgTimeStamp: 1e15 }, null];
    const { messages, rejected } = splitRoamItems(items);
    expect(messages).toEqual([good]);
    expect(rejected.map((r) => [r.text, r.msgSeq])).toEqual([
      ['{"MsgSeq":5,"MsgTimeStamp":3}', 5],
      ['{"MsgKey":"k","MsgTimeStamp":1000000000000000}', null],
      ['null', null],
    ]);
    expect(rejected[0]?.reason).toMatch(/MsgKey/);
  });
});
