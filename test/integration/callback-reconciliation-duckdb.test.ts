/**
 * Callbacks against the pull on DuckDB (issue 25): the `callback-reconciliation` and
 * `callback-unconfirmed` named queries over what the receiver recorded (from the simulator's
 * sender, with a replayed body) and what the pull archived (the partition writer), one group:
 *
 * | seq | pull                | callbacks                      | verdict          |
 * | --- | ------------------- | ------------------------------ | ---------------- |
 * | 1   | "m1"                | "m1", delivered twice          | both-equal       |
 * | 2   | "m2 (edited)"       | "m2" (edited before the pull)  | different        |
 * | 3   | "m3"                | "m3", then replayed as "forged"| different        |
 * | 4   | placeholder (gone)  | "m4"                           | pull-placeholder |
 * | 5   | "m5"                | lost                           | pull-only        |
 * | 6   | (dissolved: none)   | "m6"                           | callback-only    |
 * | 7   | none                | "m7", online only              | left out         |
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningReceiver } from '../../functions/adapters/callbacks/receiver-server.ts';
import { LocalFolderStore } from '../../functions/adapters/local-folder/local-folder-store.ts';
import { systemClock } from '../../functions/adapters/system-clock.ts';
import { openArchiveRunner } from '../../functions/cli/query-runners.ts';
import { dateInZone } from '../../functions/domain/partition.ts';
import { toRecord } from '../../functions/domain/record.ts';
import type { JsonObject, RawMessage } from '../../functions/domain/tencent-types.ts';
import { PartitionWriter } from '../../functions/engine/partition-writer.ts';
import { findNamedQuery, parseParams, runNamedQuery } from '../../functions/query/named-queries.ts';
import type { QueryRunner } from '../../functions/query/port.ts';
import { collectRows } from '../../functions/query/result.ts';
import { sendMsgEvent } from '../../functions/simulator/callbacks.ts';
import { startTestReceiver } from '../helpers/callbacks.ts';
import { FakeClock } from '../helpers/fake-clock.ts';

const APP = 1400000001;
const TOKEN = 'reconciliation-token';
const ZONE = 'Asia/Shanghai';
const GROUP = '@TGS#1RECON';
/** The receiver's clock (virtual), and the messages' times just after it. */
const T0 = Math.floor(Date.UTC(2026, 11, 7, 3) / 1000);
let dir = '';
let db: QueryRunner;
let running: RunningReceiver | undefined;

const text = (t: string) => [{ MsgType: 'TIMTextElem', MsgContent: { Text: t } }];
const pulled = (seq: number, body: string | null): RawMessage => ({
  From_Account: body === null ? '' : `u${seq}`,
  IsPlaceMsg: body === null ? 1 : 0,
  MsgBody: body === null ? [] : text(body),
  MsgRandom: body === null ? 0 : seq,
  MsgSeq: seq,
  MsgTimeStamp: T0 + seq,
});
const sent = (seq: number, body: string, extra: JsonObject = {}) => ({
  ...sendMsgEvent(
    { groupId: GROUP, type: 'Public' },
    { MsgSeq: seq, MsgTimeStamp: T0 + seq, MsgRandom: seq, From_Account: `u${seq}`, MsgBody: text(body) },
  ),
  ...extra,
});

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'callback-reconciliation-'));
  const store = new LocalFolderStore(dir);
  const clock = new FakeClock(T0 * 1000);
  const test = await startTestReceiver({
    store,
    sdkAppId: APP,
    token: TOKEN,
    clock,
    timeZone: ZONE,
    maxRows: 1,
  });
  running = test.running;
  const { sender, recorder } = test;
  // Faults are taken one per event, in emit order: seq 1 duplicated, seq 5 dropped (a lost callback).
  sender.inject({ kind: 'duplicate' }, { kind: 'drop' });
  sender.emit('Group.CallbackAfterSendMsg', sent(1, 'm1'));
  sender.emit('Group.CallbackAfterSendMsg', sent(5, 'm5'));
  sender.emit('Group.CallbackAfterSendMsg', sent(2, 'm2'));
  sender.inject({
    kind: 'replay-changed',
    change: { MsgBody: text('forged') },
  });
  sender.emit('Group.CallbackAfterSendMsg', sent(3, 'm3'));
  sender.emit('Group.CallbackAfterSendMsg', sent(4, 'm4'));
  sender.emit('Group.CallbackAfterSendMsg', sent(6, 'm6'));
  sender.emit('Group.CallbackAfterSendMsg', sent(7, 'm7', { OnlineOnlyFlag: 1 }));
  await sender.flush();
  await recorder.drain();
  expect(sender.stats()).toMatchObject({ emitted: 7, dropped: 1, failed: 0 });

  const writer = new PartitionWriter({ sdkAppId: APP, runId: 'run-recon', timeZone: ZONE, store });
  const ctx = { sdkAppId: APP, groupId: GROUP, topicId: null, observedAt: T0 + 600 };
  writer.addAll(
    [pulled(1, 'm1'), pulled(2, 'm2 (edited)'), pulled(3, 'm3'), pulled(4, null), pulled(5, 'm5')].map(
      (raw) => toRecord(raw, ctx),
    ),
  );
  await writer.flush();
  db = await openArchiveRunner({
    archive: dir,
    timeZone: ZONE,
    clock: systemClock,
    workGroup: 'wg',
    database: 'db',
  });
}, 60_000);

afterAll(async () => {
  await running?.close();
  await rm(dir, { recursive: true, force: true });
});

async function named(name: string): Promise<string[][]> {
  const day = dateInZone(T0, ZONE);
  const query = findNamedQuery(name);
  if (query === undefined) throw new Error(`no named query ${name}`);
  const result = await runNamedQuery(db, query, parseParams(query, { from: day, to: day }));
  return (await collectRows(result)).map((row) => row.map((v) => (v === null ? 'null' : String(v))));
}

describe('callbacks against the pull (DuckDB)', () => {
  it('counts per group: equal, different, pull placeholder, pull only (lost), callback only, replays', async () => {
    const rows = await named('callback-reconciliation');
    // sdk_app_id, group_id, both_equal, callback_only, pull_only, different, pull_placeholder, replayed_bodies
    expect(rows).toEqual([[String(APP), GROUP, '1', '1', '1', '2', '1', '1']]);
  });

  it('lists the messages only callbacks hold (unconfirmed), online-only ones left out', async () => {
    const rows = await named('callback-unconfirmed');
    expect(rows.map((r) => [r[3], r[5], r[6]])).toEqual([['6', 'u6', 'm6']]);
  });

  it('reads the callback side per message through callback_messages', async () => {
    const rows = await collectRows(
      await db.run(
        `SELECT msg_seq, count(*), count(DISTINCT body_sha256), min(text), bool_or(online_only) FROM callback_messages GROUP BY msg_seq ORDER BY msg_seq`,
      ),
    );
    expect(rows.map((r) => r.map(String))).toEqual([
      ['1', '2', '1', 'm1', 'false'],
      ['2', '1', '1', 'm2', 'false'],
      ['3', '2', '2', 'forged', 'false'],
      ['4', '1', '1', 'm4', 'false'],
      ['6', '1', '1', 'm6', 'false'],
      ['7', '1', '1', 'm7', 'true'],
    ]);
  });
});
