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
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalFolderStore } from '../../functions/adapters/local-folder/local-folder-store.ts';
import { systemClock } from '../../functions/adapters/system-clock.ts';
import { openArchiveRunner } from '../../functions/cli/query-runners.ts';
import type { C2cRecord } from '../../functions/domain/c2c-record.ts';
import { formatC2cLine } from '../../functions/engine/c2c-report.ts';
import { collectRows } from '../../functions/query/result.ts';
import type { Simulator } from '../../functions/simulator/index.ts';
import { c2cRescanRuns, c2cRows, startC2cSimulator } from '../helpers/c2c.ts';

const ALICE = 'alice.deleted';
const BOB = 'bob.deleted';
const DAY = 86_400;

let sim: Simulator;
let dir = '';

beforeAll(async () => {
  sim = await startC2cSimulator({
    seed: 2628,
    c2c: { recalledFraction: 0, spanDays: 5, conversations: [{ accounts: [ALICE, BOB], messages: 150 }] },
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
    const run = c2cRescanRuns(sim, store, [BOB, ALICE]);
    const nowSec = Math.floor(Date.now() / 1000);
    const first = await run(nowSec);
    expect(first.revisions).toBe(0);
    const archived = await c2cRows(store);
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
    const revisions = (await c2cRows(store)).filter((r) => r.revision > 0);
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
    expect((await c2cRows(store)).filter((r) => r.revision > 0)).toHaveLength(2);

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
