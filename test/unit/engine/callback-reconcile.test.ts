/**
 * The nightly reconciliation (functions/engine/callback-reconcile.ts, rules in
 * functions/domain/callback-reconcile.ts), through the run's step `callbacksForRun` on an in-memory
 * store: recorded callbacks and the pull's message objects of two runs give each outcome once, a
 * rerun with nothing new counts nothing, and a callback-only message the next run pulls is counted
 * then as both-equal.
 */
import { describe, expect, it } from 'vitest';
import { callbackObjectKey, toCallbackEventRow } from '../../../functions/domain/callback-event.ts';
import { FingerprintLogBuilder } from '../../../functions/domain/fingerprint-log.ts';
import { gzipNdjson, gzipText } from '../../../functions/domain/ndjson-gzip.ts';
import { fingerprintObjectKey, messageObjectKey } from '../../../functions/domain/partition.ts';
import { toRecord } from '../../../functions/domain/record.ts';
import type { ObjectStore } from '../../../functions/domain/storage.ts';
import type { RawMessage } from '../../../functions/domain/tencent-types.ts';
import { callbacksForRun } from '../../../functions/engine/callback-materialize.ts';
import { sendMsgEvent } from '../../../functions/simulator/callbacks.ts';
import { FakeClock, MemoryStore, silentLogger } from '../../helpers/engine-fakes.ts';

const APP = 1400000001;
const LIVE = { groupId: '@TGS#live', type: 'Public' };
const GONE = { groupId: '@TGS#gone', type: 'Public' };
const T0 = Date.UTC(2026, 11, 5, 10);
const DT = '2026-12-05';
const sec = (ms: number) => Math.floor(ms / 1000);

const message = (seq: number, text: string, extra: Partial<RawMessage> = {}): RawMessage => ({
  MsgSeq: seq,
  MsgTimeStamp: sec(T0) + seq,
  From_Account: 'alice',
  MsgRandom: seq * 7,
  MsgPriority: 1,
  MsgBody: [{ MsgType: 'TIMTextElem', MsgContent: { Text: text } }],
  ...extra,
});

let batch = 0;
/** A raw object of send callbacks as the receiver stores it, received at T0 + seq seconds. */
async function seedCallbacks(store: MemoryStore, events: { group: typeof LIVE; msg: RawMessage }[]) {
  const rows = events.map(({ group, msg }) => {
    const at = T0 + msg.MsgSeq * 1000 + 500;
    const command = 'Group.CallbackAfterSendMsg';
    const body = JSON.stringify({ CallbackCommand: command, ...sendMsgEvent(group, msg), EventTime: at });
    return toCallbackEventRow({
      sdkAppId: APP,
      command,
      requestTime: sec(at),
      receivedAt: at,
      body: new TextEncoder().encode(body),
    });
  });
  const key = callbackObjectKey({ sdkAppId: APP, dt: DT, receiverId: 'r1', batch: batch++ });
  store.seed(key, await gzipNdjson(rows.map((r) => JSON.stringify(r))));
}

/** The pull's message object of a run: first captures observed at the run's time. */
async function seedPull(store: MemoryStore, runId: string, messages: RawMessage[]) {
  const records = messages.map((m) =>
    toRecord(m, { sdkAppId: APP, groupId: LIVE.groupId, topicId: null, observedAt: sec(T0) + 3600 }),
  );
  const key = messageObjectKey({ sdkAppId: APP, dt: DT, runId, part: 0 });
  store.seed(key, await gzipNdjson(records.map((r) => JSON.stringify(r))));
}

function nightly(store: MemoryStore, runId: string) {
  const clock = new FakeClock(T0 + 2 * 3600_000);
  return callbacksForRun(
    { store, clock, logger: silentLogger },
    { sdkAppId: APP, timeZone: 'UTC', deadlineMs: null, runId, retentionDays: 7, callbacks: {} },
    { fence: async () => undefined },
  );
}

describe('callbacksForRun: reconciliation', () => {
  it('counts each outcome once, per run, with the groups to look at', async () => {
    const store = new MemoryStore();
    // Before the first callback: the pull's seq 1 is not counted (callbacks had not begun).
    await seedCallbacks(store, [
      { group: LIVE, msg: message(2, 'equal') },
      { group: LIVE, msg: message(3, 'forged') },
      { group: LIVE, msg: message(5, 'recalled later') },
      { group: LIVE, msg: message(6, 'replayed') },
      { group: LIVE, msg: message(6, 'replayed, changed') },
      { group: GONE, msg: message(7, 'last words') },
      { group: LIVE, msg: message(9, 'sent after the pull') },
    ]);
    await seedPull(store, 'run1', [
      message(1, 'before callbacks'),
      message(2, 'equal'),
      message(3, 'real'),
      message(4, 'callback lost'),
      message(5, '', { IsPlaceMsg: 2, MsgBody: [] }),
      message(6, 'replayed'),
      message(8, 'callback lost too'),
    ]);
    const first = await nightly(store, 'run1');
    expect(first.messages).toBe(7);
    expect(first.replayed).toBe(1);
    expect(first.reconciliation).toEqual({
      bothEqual: 1,
      different: 2,
      pullPlaceholder: 1,
      pullOnly: 2,
      callbackOnly: 2,
      lossRate: 2 / 6,
      groups: [
        {
          groupId: LIVE.groupId,
          topicId: null,
          bothEqual: 0,
          callbackOnly: 1,
          different: 2,
          pullPlaceholder: 0,
          pullOnly: 2,
        },
        {
          groupId: GONE.groupId,
          topicId: null,
          bothEqual: 0,
          callbackOnly: 1,
          different: 0,
          pullPlaceholder: 0,
          pullOnly: 0,
        },
      ],
      groupsNotListed: 0,
    });

    // A rerun with nothing new counts nothing again.
    const again = await nightly(store, 'run1b');
    expect(again.reconciliation).toMatchObject({ bothEqual: 0, callbackOnly: 0, different: 0, pullOnly: 0 });
    expect(again.reconciliation?.lossRate).toBeNull();

    // The next run pulls seq 9, whose callback an earlier run materialized: both-equal now.
    await seedPull(store, 'run2', [message(9, 'sent after the pull')]);
    const next = await nightly(store, 'run2');
    expect(next.reconciliation).toMatchObject({ bothEqual: 1, callbackOnly: 0, pullOnly: 0, lossRate: 0 });
  });

  it('reports no partial counts when the run stops during the reconciliation', async () => {
    const store = new MemoryStore();
    await seedCallbacks(store, [{ group: LIVE, msg: message(2, 'equal') }]);
    await seedPull(store, 'run1', [message(2, 'equal'), message(3, 'lost')]);
    const stop = new AbortController();
    // The run is stopped (a Ctrl-C, the deadline) once the reconciliation starts looking for the pull's dates.
    const stopping: ObjectStore = {
      location: store.location,
      get: (key) => store.get(key),
      put: (key, body, options) => store.put(key, body, options),
      delete: (key) => store.delete(key),
      list: (prefix) => {
        if (prefix.startsWith('messages/')) stop.abort();
        return store.list(prefix);
      },
    };
    const options = { sdkAppId: APP, timeZone: 'UTC', deadlineMs: null, runId: 'run1', retentionDays: 7 };
    const deps = { store: stopping, clock: new FakeClock(T0 + 2 * 3600_000), logger: silentLogger };
    const stopped = await callbacksForRun(
      deps,
      { ...options, callbacks: {} },
      { fence: async () => undefined, stop: stop.signal },
    );
    expect(stopped.messages).toBe(1);
    expect(stopped.reconciliation).toBeUndefined();
  });

  it("reads an earlier run's message object only when its fingerprint log holds an awaited message", async () => {
    const store = new MemoryStore();
    // An earlier run pulled seq 20 (part 0) and seq 21 (part 1); tonight a callback of seq 20 arrives late.
    for (const [part, seq] of [
      [0, 20],
      [1, 21],
    ] as const) {
      const record = toRecord(message(seq, `m${seq}`), {
        sdkAppId: APP,
        groupId: LIVE.groupId,
        topicId: null,
        observedAt: sec(T0),
      });
      const name = { sdkAppId: APP, dt: DT, runId: 'run0', part };
      store.seed(messageObjectKey(name), await gzipNdjson([JSON.stringify(record)]));
      const log = new FingerprintLogBuilder();
      log.add(record);
      store.seed(fingerprintObjectKey(name), await gzipText(log.build()));
    }
    await seedCallbacks(store, [{ group: LIVE, msg: message(20, 'm20') }]);
    const read: string[] = [];
    const counting: ObjectStore = {
      location: store.location,
      get: (key) => {
        if (key.startsWith('messages/')) read.push(key);
        return store.get(key);
      },
      put: (key, body, options) => store.put(key, body, options),
      delete: (key) => store.delete(key),
      list: (prefix) => store.list(prefix),
    };
    const report = await callbacksForRun(
      { store: counting, clock: new FakeClock(T0 + 2 * 3600_000), logger: silentLogger },
      { sdkAppId: APP, timeZone: 'UTC', deadlineMs: null, runId: 'run1', retentionDays: 7, callbacks: {} },
      { fence: async () => undefined },
    );
    expect(report.reconciliation).toMatchObject({ bothEqual: 1, callbackOnly: 0, pullOnly: 0 });
    expect(read).toEqual([messageObjectKey({ sdkAppId: APP, dt: DT, runId: 'run0', part: 0 })]);
  });

  it('reports nothing for an app that never recorded a callback', async () => {
    const store = new MemoryStore();
    await seedPull(store, 'run1', [message(1, 'no callbacks here')]);
    const report = await nightly(store, 'run1');
    expect(report.reconciliation).toBeUndefined();
  });
});
