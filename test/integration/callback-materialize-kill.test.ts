/**
 * The callback materialization step killed with SIGKILL, with the real CLI in a real process
 * (issue 25): an app with a `callbackToken` materializes its recorded callbacks at the end of
 * `npm run archive`; each run stops dead before a named write of the step
 * (functions/adapters/pause-at.ts: the intent, a rows object, a seen shard, the head), is killed,
 * more raw objects arrive (redeliveries of earlier events, a late event of an old date, a replay
 * with another body), and the next run goes on. Afterwards every delivered (event, body) is
 * materialized exactly once, and no commit is left half-done.
 */
import { rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { callbackObjectKey, toCallbackEventRow } from '../../functions/domain/callback-event.ts';
import { gunzipNdjson, gzipNdjson } from '../../functions/domain/ndjson-gzip.ts';
import { recallEvent, sendMsgEvent } from '../../functions/simulator/callbacks.ts';
import { runKilledAt, startProcessArchive, useProcessCleanups } from '../helpers/process-archive.ts';

const cleanups = useProcessCleanups();

/** Before the intent, before the first and the second rows object, before a seen shard, before the head. */
const POINTS = [
  'state/callbacks/:1',
  'callback-rows/:1',
  'callback-rows/:2',
  'state/callbacks/:2',
  'state/callbacks/:3',
];

const GROUP = { groupId: '@TGS#callbacks', type: 'Public' };
const DAY = 86_400_000;
// Arrival times within the late-event window of the runs (LATE_EVENT_DAYS, 3 days, in
// functions/domain/callback-materialize.ts): the rounds arrive 12 hours apart over the last 2.5 days.
const T0 = Date.now() - 2.5 * DAY;
const dtOf = (ms: number) => new Date(ms).toISOString().slice(0, 10);

type Row = Record<string, unknown>;

describe('callback materialization killed at named points', () => {
  it('materializes every delivered event and body exactly once', async () => {
    const tokenFile = join(tmpdir(), `callback-kill-token-${process.pid}`);
    await writeFile(tokenFile, 'callback-token');
    cleanups.push(() => rm(tokenFile, { force: true }));
    const t = await startProcessArchive(cleanups, {
      tempPrefix: 'callback-kill-',
      simulator: {
        seed: 7,
        latencyMs: 2,
        retentionDays: 3_650,
        dataset: { groups: 2, activeFraction: 1, messagesPerActiveGroup: [5, 10], historyDays: 1 },
        media: false,
      },
      app: { callbackToken: { file: tokenFile } },
      run: { checkpointSeconds: 60 },
    });
    const sdkAppId = t.sdkAppId;
    let batch = 0;
    const send = (seq: number, at: number, text = `m${seq}`) => {
      const event = sendMsgEvent(GROUP, {
        MsgSeq: seq,
        MsgTimeStamp: Math.floor(at / 1000),
        From_Account: 'alice',
        MsgRandom: seq,
        MsgBody: [{ MsgType: 'TIMTextElem', MsgContent: { Text: text } }],
      });
      return row('Group.CallbackAfterSendMsg', event, at);
    };
    const row = (command: string, event: Record<string, unknown>, at: number) => {
      const body = new TextEncoder().encode(
        JSON.stringify({ CallbackCommand: command, ...event, EventTime: at }),
      );
      return toCallbackEventRow({
        sdkAppId,
        command,
        requestTime: Math.floor(at / 1000),
        receivedAt: at,
        body,
      });
    };
    const delivered = new Set<string>();
    const deliver = async (rows: ReturnType<typeof send>[], dt: string) => {
      for (const r of rows)
        if (r.callback_command === 'Group.CallbackAfterSendMsg')
          delivered.add(`${r.event_key} ${r.body_sha256}`);
      const key = callbackObjectKey({ sdkAppId, dt, receiverId: 'kill-test', batch: batch++ });
      await t.store.put(key, await gzipNdjson(rows.map((r) => JSON.stringify(r))), { ifNoneMatch: '*' });
    };

    let seq = 1;
    for (const [round, point] of POINTS.entries()) {
      const at = T0 + (round * DAY) / 2;
      const dt = dtOf(at);
      // New events, the previous round's first event again, and (from round 2) an event two days old.
      const fresh = [send(seq, at), send(seq + 1, at + 1000)];
      const again = round > 0 ? [send(seq - 2, at - DAY)] : [];
      const late = round > 1 ? [send(1000 + round, at - 2 * DAY)] : [];
      await deliver([...fresh, ...again], dt);
      await deliver([...late, send(seq + 1, at + 1000, 'replayed with another body')], dt);
      seq += 2;
      const killed = await runKilledAt(t, point);
      expect(killed.paused, `the run reached ${point}: ${killed.result.stderr}`).toBe(true);
    }
    await deliver(
      [row('Group.CallbackAfterRecallMsg', recallEvent(GROUP, { seqs: [1], operator: 'admin' }), Date.now())],
      dtOf(Date.now()),
    );
    const last = await t.spawnArchive().done;
    expect(last.code, last.stderr).toBe(0);

    const rows = async (kind: string): Promise<Row[]> => {
      const out: Row[] = [];
      for await (const key of t.store.list(`callback-rows/${kind}/`)) {
        const object = await t.store.get(key);
        if (object)
          for (const line of gunzipNdjson(object.body)) if (line !== '') out.push(JSON.parse(line) as Row);
      }
      return out;
    };
    const messages = (await rows('messages')).map((m) => `${m.event_key} ${m.body_sha256}`);
    expect(new Set(messages).size, 'a delivery materialized twice').toBe(messages.length);
    expect(new Set(messages)).toEqual(delivered);
    expect(await rows('revisions')).toMatchObject([{ msg_seq: 1, change: 'recalled', changed_by: 'admin' }]);
    const left: string[] = [];
    for await (const key of t.store.list('state/callbacks/')) if (key.includes('intent-')) left.push(key);
    expect(left).toEqual([]);
  }, 180_000);
});
