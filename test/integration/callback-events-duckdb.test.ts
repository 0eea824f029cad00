/**
 * The `callback_events` table on DuckDB (issue 25): what the local receiver records, with the
 * simulator's sender duplicating, replaying and forging, reads back row for row; the duplicates
 * and the replayed body are visible by event_key and body_sha256, the forged request is not there.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningReceiver } from '../../functions/adapters/callbacks/receiver-server.ts';
import { LocalFolderStore } from '../../functions/adapters/local-folder/local-folder-store.ts';
import { systemClock } from '../../functions/adapters/system-clock.ts';
import { openArchiveRunner } from '../../functions/cli/query-runners.ts';
import type { QueryRunner } from '../../functions/query/port.ts';
import { collectRows } from '../../functions/query/result.ts';
import { recallEvent, sendMsgEvent } from '../../functions/simulator/callbacks.ts';
import { startTestReceiver } from '../helpers/callbacks.ts';

const APP = 1400000001;
const TOKEN = 'duckdb-callback-token';
let dir = '';
let db: QueryRunner;
let running: RunningReceiver | undefined;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'callback-events-'));
  const test = await startTestReceiver({
    store: new LocalFolderStore(dir),
    sdkAppId: APP,
    token: TOKEN,
    timeZone: 'Asia/Shanghai',
  });
  running = test.running;
  const { sender, recorder } = test;
  const group = { groupId: '@TGS#1', type: 'Public' };
  const message = (seq: number) => ({
    MsgSeq: seq,
    MsgTimeStamp: 1_800_000_000 + seq,
    MsgRandom: seq,
    From_Account: `u${seq}`,
    MsgBody: [{ MsgType: 'TIMTextElem', MsgContent: { Text: `hi ‮${seq}` } }],
  });
  sender.inject(
    { kind: 'duplicate' },
    { kind: 'wrong-sign' },
    {
      kind: 'replay-changed',
      change: { MsgBody: [{ MsgType: 'TIMTextElem', MsgContent: { Text: 'forged' } }] },
    },
  );
  for (let seq = 1; seq <= 4; seq++)
    sender.emit('Group.CallbackAfterSendMsg', sendMsgEvent(group, message(seq)));
  sender.emit('Group.CallbackAfterRecallMsg', recallEvent(group, { seqs: [4], operator: 'admin' }));
  await sender.flush();
  await recorder.drain();
  db = await openArchiveRunner({
    archive: dir,
    timeZone: 'Asia/Shanghai',
    clock: systemClock,
    workGroup: 'wg',
    database: 'db',
  });
}, 60_000);

afterAll(async () => {
  await running?.close();
  await db?.close?.();
  await rm(dir, { recursive: true, force: true });
});

const rows = async (sql: string) => collectRows(await db.run(sql));

describe('callback_events on DuckDB', () => {
  it('holds every recorded delivery, the forged one left out, with its partitions', async () => {
    const all = await rows(
      `SELECT callback_command, json_extract(body, '$.MsgSeq')::BIGINT AS seq, sdkappid, dt FROM callback_events ORDER BY received_at, seq`,
    );
    // seq 1 twice (duplicate), seq 2 refused (wrong Sign), seq 3 and its replay, seq 4, the recall.
    const sends = all.filter((r) => r[0] === 'Group.CallbackAfterSendMsg').map((r) => Number(r[1]));
    expect(sends.sort()).toEqual([1, 1, 3, 3, 4]);
    expect(all.filter((r) => r[0] === 'Group.CallbackAfterRecallMsg')).toHaveLength(1);
    expect(new Set(all.map((r) => r[2]))).toEqual(new Set([String(APP)]));
  });

  it('tells a redelivery (same event_key and body) from a replay with another body (same event_key)', async () => {
    const byKey = await rows(
      `SELECT json_extract(any_value(body), '$.MsgSeq')::BIGINT, count(*), count(DISTINCT body_sha256)
       FROM callback_events WHERE callback_command = 'Group.CallbackAfterSendMsg' GROUP BY event_key ORDER BY 1`,
    );
    expect(byKey.map((r) => r.map(Number))).toEqual([
      [1, 2, 1],
      [3, 2, 2],
      [4, 1, 1],
    ]);
  });

  it('keeps bodies byte for byte (a bidi control included)', async () => {
    const [row] = await rows(
      `SELECT body FROM callback_events WHERE json_extract(body, '$.MsgSeq')::BIGINT = 4 AND callback_command = 'Group.CallbackAfterSendMsg'`,
    );
    expect(JSON.parse(String(row?.[0])).MsgBody[0].MsgContent.Text).toBe('hi ‮4');
  });
});
