/**
 * Materialized callbacks on DuckDB (issue 25): raw events as the receiver stores them, the pull's
 * rows as the partition writer stores them, the materialization step, then the tables
 * (`callback_message_rows`, `callback_revisions`, `group_dissolutions`) and the named queries
 * `messages-with-source` and `message-revisions` through the local archive's mirror:
 *
 * | seq | pull           | callbacks                | messages-with-source            |
 * | --- | -------------- | ------------------------ | ------------------------------- |
 * | 1   | "m1"           | "m1", delivered twice    | both, the pull's copy           |
 * | 2   | "m2 (edited)"  | "m2"                     | both, differs, the pull's copy  |
 * | 3   | "m3"; deleted  | lost                     | pull                            |
 * | 4   | none           | "m4" (group dissolved)   | callback, unconfirmed           |
 *
 * Seq 1 is recalled by an admin (a callback revision with who and when), seq 3's deletion is a
 * pull revision (seen by the rescan, by whom unknown), and the group's destroy event is a
 * dissolution with its members.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalFolderStore } from '../../functions/adapters/local-folder/local-folder-store.ts';
import { systemClock } from '../../functions/adapters/system-clock.ts';
import { openArchiveRunner } from '../../functions/cli/query-runners.ts';
import { callbackObjectKey, toCallbackEventRow } from '../../functions/domain/callback-event.ts';
import { gzipNdjson } from '../../functions/domain/ndjson-gzip.ts';
import { dateInZone } from '../../functions/domain/partition.ts';
import { toRecord } from '../../functions/domain/record.ts';
import type { JsonObject, RawMessage } from '../../functions/domain/tencent-types.ts';
import { materializeCallbacks } from '../../functions/engine/callback-materialize.ts';
import { PartitionWriter } from '../../functions/engine/partition-writer.ts';
import { findNamedQuery, parseParams, runNamedQuery } from '../../functions/query/named-queries.ts';
import type { QueryRunner } from '../../functions/query/port.ts';
import { collectRows } from '../../functions/query/result.ts';
import { destroyEvent, recallEvent, sendMsgEvent } from '../../functions/simulator/callbacks.ts';
import { FakeClock, silentLogger } from '../helpers/engine-fakes.ts';

const APP = 1400000001;
const ZONE = 'Asia/Shanghai';
const GROUP = { groupId: '@TGS#1SOURCE', type: 'Public' };
const T0 = Math.floor(Date.UTC(2026, 11, 7, 3) / 1000);
let dir = '';
let db: QueryRunner;

const text = (t: string) => [{ MsgType: 'TIMTextElem', MsgContent: { Text: t } }];
const message = (seq: number, body: string): RawMessage => ({
  From_Account: `u${seq}`,
  MsgBody: text(body),
  MsgRandom: seq,
  MsgSeq: seq,
  MsgTimeStamp: T0 + seq,
});
const event = (command: string, body: JsonObject, atMs: number) =>
  toCallbackEventRow({
    sdkAppId: APP,
    command,
    requestTime: Math.floor(atMs / 1000),
    receivedAt: atMs,
    body: new TextEncoder().encode(JSON.stringify({ CallbackCommand: command, ...body, EventTime: atMs })),
  });
const send = (seq: number, body: string) =>
  event('Group.CallbackAfterSendMsg', sendMsgEvent(GROUP, message(seq, body)), (T0 + seq) * 1000);

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'callback-materialized-'));
  const store = new LocalFolderStore(dir);
  const recalledAt = (T0 + 60) * 1000;
  const dissolvedAt = (T0 + 120) * 1000;
  const raw = [
    send(1, 'm1'),
    send(1, 'm1'),
    send(2, 'm2'),
    send(4, 'm4'),
    event('Group.CallbackAfterRecallMsg', recallEvent(GROUP, { seqs: [1], operator: 'admin' }), recalledAt),
    event(
      'Group.CallbackAfterGroupDestroyed',
      destroyEvent({ ...GROUP, name: 'Project X', owner: 'u1', members: ['u1', 'u2', 'u4'] }),
      dissolvedAt,
    ),
  ];
  const key = callbackObjectKey({ sdkAppId: APP, dt: dateInZone(T0, ZONE), receiverId: 'test', batch: 0 });
  await store.put(key, await gzipNdjson(raw.map((r) => JSON.stringify(r))), { ifNoneMatch: '*' });

  const writer = new PartitionWriter({ sdkAppId: APP, runId: 'run-source', timeZone: ZONE, store });
  const ctx = { sdkAppId: APP, groupId: GROUP.groupId, topicId: null, observedAt: T0 + 30 };
  writer.addAll([message(1, 'm1'), message(2, 'm2 (edited)'), message(3, 'm3')].map((m) => toRecord(m, ctx)));
  const deleted: RawMessage = { MsgSeq: 3, MsgTimeStamp: T0 + 3, IsPlaceMsg: 1, MsgBody: [] };
  writer.addAll([toRecord(deleted, { ...ctx, observedAt: T0 + 90, revision: 1, change: 'deleted' })]);
  await writer.flush();

  const report = await materializeCallbacks({
    store,
    clock: new FakeClock(),
    logger: silentLogger,
    fence: async () => undefined,
    sdkAppId: APP,
    timeZone: ZONE,
  });
  expect(report).toMatchObject({ events: 6, duplicates: 1, messages: 3, revisions: 1, dissolutions: 1 });
  db = await openArchiveRunner({
    archive: dir,
    timeZone: ZONE,
    clock: systemClock,
    workGroup: 'wg',
    database: 'db',
  });
}, 60_000);

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function named(name: string): Promise<string[][]> {
  const day = dateInZone(T0, ZONE);
  const query = findNamedQuery(name);
  if (query === undefined) throw new Error(`no named query ${name}`);
  const result = await runNamedQuery(db, query, parseParams(query, { from: day, to: day }));
  return (await collectRows(result)).map((row) => row.map((v) => (v === null ? 'null' : String(v))));
}

describe('materialized callbacks (DuckDB)', () => {
  it('gives each message once with its source; the pull copy when both hold it', async () => {
    const rows = await named('messages-with-source');
    // msg_seq, from_account, text, source, unconfirmed, differs
    expect(rows.map((r) => [r[3], r[5], r[7], r[9], r[10], r[11]])).toEqual([
      ['1', 'u1', 'm1', 'both', 'false', 'false'],
      ['2', 'u2', 'm2 (edited)', 'both', 'false', 'true'],
      ['3', 'u3', 'm3', 'pull', 'false', 'false'],
      ['4', 'u4', 'm4', 'callback', 'true', 'false'],
    ]);
  });

  it('lists revisions from the rescan and from callbacks, with who and when for the latter', async () => {
    const rows = await named('message-revisions');
    // msg_seq, change, source, changed_by, changed_at, observed_at
    expect(rows.map((r) => r.slice(3, 9))).toEqual([
      ['1', 'recalled', 'callback', 'admin', String((T0 + 60) * 1000), 'null'],
      ['3', 'deleted', 'pull', 'null', 'null', String(T0 + 90)],
    ]);
  });

  it('reads the dissolution with its time, owner, name and members', async () => {
    const rows = await collectRows(
      await db.run(
        "SELECT group_id, name, owner_account, array_to_string(members, ','), dissolved_at FROM group_dissolutions",
      ),
    );
    expect(rows.map((r) => r.map(String))).toEqual([
      [GROUP.groupId, 'Project X', 'u1', 'u1,u2,u4', String((T0 + 120) * 1000)],
    ]);
  });
});
