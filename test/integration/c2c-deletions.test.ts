/**
 * One-to-one deletions in the rescan window (issue 26, deliverable 4; docs/one-to-one.md,
 * functions/engine/c2c-rescan.ts): the real pass with the real client over the simulator (its
 * default, strictest reading: a deleted message is absent from the side that deleted it). After the
 * first run, inside `rescan.days`: a message deleted for both sides becomes one `deleted` revision
 * row on the next run (a third run adds none) and `c2c_messages_current` on DuckDB reads it deleted;
 * a message deleted for one side only gives no row; a recall is still a recall.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalFolderStore } from '../../functions/adapters/local-folder/local-folder-store.ts';
import { systemClock } from '../../functions/adapters/system-clock.ts';
import { openArchiveRunner } from '../../functions/cli/query-runners.ts';
import { configPairs } from '../../functions/domain/c2c-pairs.ts';
import { type C2cRecord, parseC2cRecordLine } from '../../functions/domain/c2c-record.ts';
import { type C2cReport, formatC2cLine } from '../../functions/engine/c2c-report.ts';
import { runArchive } from '../../functions/engine/run-archive.ts';
import { collectRows } from '../../functions/query/result.ts';
import type { Simulator } from '../../functions/simulator/index.ts';
import {
  ENGINE_CLIENT_RATES,
  silentLogger,
  startEngineSimulator,
  testRunOptions,
} from '../helpers/engine.ts';
import { clientFor } from '../helpers/tencent.ts';

const ALICE = 'alice.deleted';
const BOB = 'bob.deleted';
const DAY = 86_400;

let sim: Simulator;
let dir = '';

async function rowsOf(store: LocalFolderStore): Promise<C2cRecord[]> {
  const out: C2cRecord[] = [];
  for await (const key of store.list('c2c/')) {
    if (!key.endsWith('.ndjson.gz')) continue;
    const body = (await store.get(key))?.body as Uint8Array;
    for (const line of gunzipSync(body).toString('utf8').split('\n')) {
      if (line !== '') out.push(parseC2cRecordLine(line));
    }
  }
  return out;
}

beforeAll(async () => {
  sim = await startEngineSimulator({
    seed: 2628,
    media: false,
    retentionDays: 30,
    dataset: { groups: 1, activeFraction: 1, messagesPerActiveGroup: [3, 5], historyDays: 1 },
    c2c: {
      generated: 0,
      recalledFraction: 0,
      spanDays: 5,
      conversations: [{ accounts: [ALICE, BOB], messages: 150 }],
    },
  });
  dir = await mkdtemp(join(tmpdir(), 'c2c-deletions-'));
}, 120_000);

afterAll(async () => {
  await sim?.stop();
  if (dir !== '') await rm(dir, { recursive: true, force: true });
});

describe('one-to-one deletions in the rescan', () => {
  it('writes one deleted revision for a message both sides deleted, none for one side’s deletion, a recall as a recall', async () => {
    const store = new LocalFolderStore(dir);
    const { client, app } = clientFor(sim, { clock: systemClock, rateLimits: ENGINE_CLIENT_RATES });
    const run = async (observedAtSec: number) => {
      const report = await runArchive(
        { api: client, roam: client, store, clock: systemClock, logger: silentLogger },
        {
          ...testRunOptions(app.sdkAppId),
          observedAtSec,
          retentionDays: 30,
          timeZone: 'Asia/Shanghai',
          c2c: { pairs: configPairs({ pairs: [[BOB, ALICE]] }), concurrency: 1, rescanDays: 3 },
        },
      );
      expect(report.done).toBe(true);
      return (report as { c2c?: C2cReport }).c2c as C2cReport;
    };
    const nowSec = Math.floor(Date.now() / 1000);
    const first = await run(nowSec);
    expect(first.revisions).toBe(0);
    const archived = await rowsOf(store);
    expect(archived.length).toBe(150);
    const inWindow = archived
      .filter((r) => r.msg_time > nowSec - 3 * DAY + 600 && r.msg_time < nowSec - 600)
      .sort((x, y) => x.msg_time - y.msg_time);
    expect(inWindow.length).toBeGreaterThan(6);
    const key = (i: number) => (inWindow[i] as C2cRecord).msg_key as string;
    const both = inWindow[2] as C2cRecord;
    const oneSide = [key(4), key(inWindow.length - 2)];
    const recalled = key(5);
    sim.c2c.deleteFor(ALICE, BOB, [key(2)]);
    sim.c2c.deleteFor(BOB, ALICE, [key(2), key(4)]);
    sim.c2c.deleteFor(ALICE, BOB, [key(inWindow.length - 2)]);
    sim.c2c.recall(ALICE, BOB, recalled);

    const second = await run(nowSec + 60);
    expect(second).toMatchObject({
      messages: 0,
      revisions: 2,
      deletions: 1,
      // Alice's deletion only: Bob's of key(4) leaves the first side (Alice's) showing it.
      deletedForOneSide: 1,
      otherSideReads: 1,
      rescanLeft: 0,
    });
    expect(formatC2cLine(second)).toMatch(
      /; rescan: 1 pairs, \d+ pages, 2 revisions \(1 deleted\), 0 pairs left$/,
    );
    const revisions = (await rowsOf(store)).filter((r) => r.revision > 0);
    expect(revisions.map((r) => [r.msg_key, r.change]).sort()).toEqual(
      [
        [both.msg_key, 'deleted'],
        [recalled, 'recalled'],
      ].sort(),
    );
    expect(revisions.find((r) => r.change === 'deleted')).toMatchObject({
      conversation: both.conversation,
      msg_time: both.msg_time,
      from_account: both.from_account,
      to_account: both.to_account,
      msg_body: null,
      msg_flag_bits: null,
      revision: 1,
      observed_at: nowSec + 60,
    });
    expect(revisions.some((r) => oneSide.includes(r.msg_key as string))).toBe(false);

    const third = await run(nowSec + 120);
    expect(third).toMatchObject({ messages: 0, revisions: 0, deletions: 0, deletedForOneSide: 1 });
    expect((await rowsOf(store)).filter((r) => r.revision > 0)).toHaveLength(2);

    const db = await openArchiveRunner({
      archive: dir,
      timeZone: 'Asia/Shanghai',
      clock: systemClock,
      workGroup: 'wg',
      database: 'db',
    });
    try {
      const rows = await collectRows(
        await db.run(
          'SELECT msg_key, revision, change, is_recalled, is_deleted, text, from_account FROM c2c_messages_current WHERE revision > 0 ORDER BY change',
        ),
      );
      expect(rows.map((r) => [r[0], Number(r[1]), r[2], String(r[3]), String(r[4]), r[5]])).toEqual([
        [both.msg_key, 1, 'deleted', 'false', 'true', null],
        [recalled, 1, 'recalled', 'true', 'false', null],
      ]);
      expect(rows[0]?.[6]).toBe(both.from_account);
      const [deletedCount] =
        (await collectRows(await db.run('SELECT count(*) FROM c2c_messages_current WHERE is_deleted')))[0] ??
        [];
      expect(Number(deletedCount)).toBe(1);
      const [count] = (await collectRows(await db.run('SELECT count(*) FROM c2c_messages_current')))[0] ?? [];
      expect(Number(count)).toBe(150);
    } finally {
      db.close();
    }
  }, 360_000);
});
