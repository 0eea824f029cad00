/**
 * The callback materialization step (functions/engine/callback-materialize.ts) on an in-memory
 * store: the rows each command gives, duplicates and replays, a late event of an old date, and a
 * failure at every write of a commit followed by a rerun (every row once, the same bytes as a run
 * that never failed).
 */
import { describe, expect, it } from 'vitest';
import { callbackObjectKey, toCallbackEventRow } from '../../../functions/domain/callback-event.ts';
import { LATE_EVENT_DAYS } from '../../../functions/domain/callback-materialize.ts';
import { gunzipNdjson, gzipNdjson } from '../../../functions/domain/ndjson-gzip.ts';
import type { JsonObject } from '../../../functions/domain/tencent-types.ts';
import { materializeCallbacks } from '../../../functions/engine/callback-materialize.ts';
import {
  destroyEvent,
  modifyEvent,
  recallEvent,
  sendMsgEvent,
} from '../../../functions/simulator/callbacks.ts';
import { FakeClock, MemoryStore, silentLogger } from '../../helpers/engine-fakes.ts';

const APP = 1400000001;
const GROUP = { groupId: '@TGS#demo', type: 'Public' };
const DAY = 86_400_000;
const T0 = Date.UTC(2026, 11, 5, 10);

/** A raw event row as the receiver stores it, received at `at` (ms). */
function raw(command: string, event: JsonObject, at: number, eventTime = at) {
  const body = new TextEncoder().encode(
    JSON.stringify({ CallbackCommand: command, ...event, EventTime: eventTime }),
  );
  return toCallbackEventRow({
    sdkAppId: APP,
    command,
    requestTime: Math.floor(at / 1000),
    receivedAt: at,
    body,
  });
}

const send = (seq: number, at: number, text = `m${seq}`) =>
  raw(
    'Group.CallbackAfterSendMsg',
    sendMsgEvent(GROUP, {
      MsgSeq: seq,
      MsgTimeStamp: Math.floor(at / 1000),
      From_Account: 'alice',
      MsgRandom: seq * 7,
      MsgBody: [{ MsgType: 'TIMTextElem', MsgContent: { Text: text } }],
    }),
    at,
  );

let batch = 0;
async function seedObject(store: MemoryStore, rows: ReturnType<typeof raw>[], dt: string): Promise<string> {
  const key = callbackObjectKey({ sdkAppId: APP, dt, receiverId: 'r1', batch: batch++ });
  store.seed(key, await gzipNdjson(rows.map((r) => JSON.stringify(r))));
  return key;
}

function run(store: MemoryStore, maxObjects?: number, clock = new FakeClock()) {
  return materializeCallbacks({
    store,
    clock,
    logger: silentLogger,
    fence: async () => undefined,
    sdkAppId: APP,
    timeZone: 'UTC',
    ...(maxObjects === undefined ? {} : { maxObjects }),
  });
}

type Row = Record<string, unknown>;
function rowsOf(store: MemoryStore, kind: string): Row[] {
  return store
    .keys(`callback-rows/${kind}/`)
    .flatMap((key) => gunzipNdjson(store.body(key) ?? new Uint8Array()))
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line) as Row);
}

describe('materializeCallbacks', () => {
  it('gives message, revision and dissolution rows, once each, a replay flagged', async () => {
    const store = new MemoryStore();
    const one = send(1, T0);
    const replay = send(1, T0, 'forged');
    const online = raw(
      'Group.CallbackAfterSendMsg',
      { ...sendMsgEvent(GROUP, { MsgSeq: 3, MsgTimeStamp: 1 }), OnlineOnlyFlag: 1 },
      T0,
    );
    await seedObject(store, [one, one, send(2, T0 + 1000), online], '2026-12-05');
    await seedObject(
      store,
      [
        one,
        replay,
        raw(
          'Group.CallbackAfterRecallMsg',
          recallEvent(GROUP, { seqs: [1, 2], operator: 'admin' }),
          T0 + 5000,
        ),
        raw(
          'Group.CallbackAfterModifyMsg',
          modifyEvent(GROUP.groupId, {
            seq: 2,
            operator: 'alice',
            body: [{ MsgType: 'TIMTextElem', MsgContent: { Text: 'edited' } }],
          }),
          T0 + 6000,
        ),
        raw(
          'Group.CallbackAfterGroupDestroyed',
          destroyEvent({ ...GROUP, name: 'Demo', owner: 'bob', members: ['alice', 'bob'] }),
          T0 + 7000,
        ),
      ],
      '2026-12-05',
    );
    const report = await run(store);
    expect(report).toMatchObject({
      events: 9,
      duplicates: 2,
      replayed: 1,
      onlineOnly: 1,
      messages: 3,
      revisions: 3,
      dissolutions: 1,
      objects: 2,
      commits: 1,
    });
    const messages = rowsOf(store, 'messages');
    expect(messages.map((m) => [m.msg_seq, m.text, m.replayed, m.source, m.unconfirmed])).toEqual([
      [1, 'm1', false, 'callback', true],
      [2, 'm2', false, 'callback', true],
      [1, 'forged', true, 'callback', true],
    ]);
    const revisions = rowsOf(store, 'revisions');
    expect(revisions.map((r) => [r.msg_seq, r.change, r.changed_by, r.changed_at, r.text])).toEqual([
      [1, 'recalled', 'admin', T0 + 5000, null],
      [2, 'recalled', 'admin', T0 + 5000, null],
      [2, 'modified', 'alice', T0 + 6000, 'edited'],
    ]);
    expect(rowsOf(store, 'dissolutions')).toMatchObject([
      {
        group_id: GROUP.groupId,
        name: 'Demo',
        owner_account: 'bob',
        members: ['alice', 'bob'],
        dissolved_at: T0 + 7000,
      },
    ]);
    // A second run finds nothing new, and writes nothing.
    const puts = store.calls.filter((c) => c.op === 'put').length;
    expect(await run(store)).toMatchObject({ events: 0, objects: 0, commits: 0 });
    expect(store.calls.filter((c) => c.op === 'put').length).toBe(puts);
  });

  it('lands a late event of an old date once, under its own date, and a redelivery of it not again', async () => {
    const store = new MemoryStore();
    await seedObject(store, [send(5, T0)], '2026-12-05');
    await run(store);
    // Three days later, an event sent two days before arrives (a delayed or reordered delivery).
    const late = send(4, T0 - 2 * DAY);
    await seedObject(store, [late], '2026-12-08');
    await seedObject(store, [late], '2026-12-08');
    const report = await run(store, 1);
    expect(report).toMatchObject({ events: 2, duplicates: 1, messages: 1, commits: 2 });
    expect(store.keys('callback-rows/messages/').map((k) => k.split('/')[3])).toEqual([
      'dt=2026-12-03',
      'dt=2026-12-05',
    ]);
    expect(rowsOf(store, 'messages').map((m) => m.msg_seq)).toEqual([4, 5]);
  });

  const writes = [
    'state/callbacks/sdkappid=1400000001/intent-',
    'callback-rows/',
    'state/callbacks/sdkappid=1400000001/seen/',
    'state/callbacks/sdkappid=1400000001/head.json',
  ];
  for (const prefix of writes) {
    for (const when of ['before', 'after'] as const) {
      it(`a write failing ${when} ${prefix.split('/').at(-1) || prefix} leaves every row once after the next run`, async () => {
        const seedAll = async (store: MemoryStore) => {
          batch = 0;
          await seedObject(store, [send(1, T0), send(2, T0 + 1)], '2026-12-05');
          await seedObject(
            store,
            [
              send(1, T0),
              raw('Group.CallbackAfterRecallMsg', recallEvent(GROUP, { seqs: [1], operator: 'bob' }), T0 + 9),
            ],
            '2026-12-05',
          );
          await seedObject(store, [send(3, T0 - DAY)], '2026-12-06');
        };
        const clean = new MemoryStore();
        await seedAll(clean);
        await run(clean, 2);
        const store = new MemoryStore();
        await seedAll(store);
        store.fail({ op: 'put', key: (k) => k.startsWith(prefix), when });
        await expect(run(store, 2)).rejects.toThrow();
        await run(store, 2);
        expect(rowsOf(store, 'messages')).toEqual(rowsOf(clean, 'messages'));
        expect(rowsOf(store, 'revisions')).toEqual(rowsOf(clean, 'revisions'));
        expect(rowsOf(store, 'messages').map((m) => m.msg_seq)).toEqual([3, 1, 2]);
        expect(store.keys('state/callbacks/').filter((k) => k.includes('intent-'))).toEqual([]);
      });
    }
  }

  it('keeps its state bounded over months: the head and the seen shards drop what is past the late-event window, exactly once kept', async () => {
    // Prepare: 60 days of callbacks, 40 events a day in one raw object each (arrival date = that day).
    const store = new MemoryStore();
    const start = Date.UTC(2026, 8, 1, 12);
    const clock = new FakeClock(start);
    const dtOf = (ms: number) => new Date(ms).toISOString().slice(0, 10);
    const stateSize = () => {
      const head = JSON.parse(
        new TextDecoder().decode(store.body(`state/callbacks/sdkappid=${APP}/head.json`)),
      );
      const seenKeys = store
        .keys(`state/callbacks/sdkappid=${APP}/seen/`)
        .map((k) => JSON.parse(new TextDecoder().decode(store.body(k))) as { keys: Record<string, unknown> })
        .reduce((n, shard) => n + Object.keys(shard.keys).length, 0);
      return { done: head.done.length as number, seenKeys, doneBefore: head.doneBefore as string };
    };
    const sizes: ReturnType<typeof stateSize>[] = [];
    let seq = 1;
    let yesterday: ReturnType<typeof send>[] = [];

    const state = `state/callbacks/sdkappid=${APP}/`;
    const faults = new Map<number, { prefix: string; when: 'before' | 'after' }>([
      [30, { prefix: `${state}head.json`, when: 'before' }],
      [45, { prefix: `${state}seen/`, when: 'after' }],
    ]);

    // Act: a nightly run each day (two of them failing at a write first); on day 59 a duplicate of
    // day 58's events and a late object of day 57.
    for (let day = 0; day < 60; day++) {
      const at = start + day * DAY;
      const events = Array.from({ length: 40 }, (_, i) => send(seq++, at + i * 1000));
      await seedObject(store, events, dtOf(at));
      if (day === 59) {
        await seedObject(store, yesterday, dtOf(at));
        await seedObject(store, [send(seq++, at - 2 * DAY)], dtOf(at - 2 * DAY));
      }
      yesterday = events;
      clock.advance(day === 0 ? 0 : DAY);
      const fault = faults.get(day);
      if (fault !== undefined) {
        // A write fails; the next run, an hour later, redoes the commit by its intent's horizon.
        store.fail({ op: 'put', key: (k) => k.startsWith(fault.prefix), when: fault.when });
        await expect(run(store, undefined, clock)).rejects.toThrow();
        clock.advance(3_600_000);
      }
      const report = await run(store, undefined, clock);
      if (day === 59) expect(report).toMatchObject({ duplicates: 40, messages: 41 });
      sizes.push(stateSize());
    }

    // Assess: every message once; the state of day 59 no larger than of a week in, far below 60 days'.
    const seqs = rowsOf(store, 'messages').map((m) => m.msg_seq as number);
    expect(seqs.length).toBe(60 * 40 + 1);
    expect(new Set(seqs).size).toBe(seqs.length);
    const last = sizes.at(-1);
    expect(last?.done).toBeLessThanOrEqual(LATE_EVENT_DAYS + 3);
    // A shard drops old keys when a commit rewrites it: a shard no event touched for a day keeps a day more.
    const bound = (LATE_EVENT_DAYS + 4) * 40;
    expect(last?.seenKeys).toBeLessThanOrEqual(bound);
    expect(last?.doneBefore).toBe(dtOf(start + (59 - LATE_EVENT_DAYS) * DAY));
    expect(Math.max(...sizes.map((s) => s.seenKeys))).toBeLessThanOrEqual(bound + 1);
    expect(Math.max(...sizes.map((s) => s.done))).toBeLessThanOrEqual(LATE_EVENT_DAYS + 3);
  });
});
