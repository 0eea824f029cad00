/**
 * One-to-one changes in the rescan window (issue 26, deliverable 4; docs/one-to-one.md): the real
 * pass with the real client over the simulator. A message recalled after the first run archived it,
 * inside `rescan.days`, becomes exactly one revision row on the next run (a third run adds none),
 * and `c2c_messages_current` on DuckDB reads it recalled; a recall older than the window is not
 * looked for.
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

const ALICE = 'alice.rescan';
const BOB = 'bob.rescan';
const DAY = 86_400;

let sim: Simulator;
let dir = '';

beforeAll(async () => {
  sim = await startC2cSimulator({
    seed: 2626,
    c2c: { recalledFraction: 0, spanDays: 5, conversations: [{ accounts: [ALICE, BOB], messages: 150 }] },
  });
  dir = await mkdtemp(join(tmpdir(), 'c2c-rescan-'));
}, 120_000);

afterAll(async () => {
  await sim?.stop();
  if (dir !== '') await rm(dir, { recursive: true, force: true });
});

describe('the one-to-one rescan', () => {
  it('turns a recall inside rescan.days into one revision row, read recalled by c2c_messages_current', async () => {
    const store = new LocalFolderStore(dir);
    const run = c2cRescanRuns(sim, store, [BOB, ALICE]);
    const nowSec = Math.floor(Date.now() / 1000);
    const first = await run(nowSec);
    expect(first.revisions).toBe(0);
    const archived = await c2cRows(store);
    expect(archived.length).toBe(150);
    const inWindow = archived.filter((r) => r.msg_time > nowSec - 3 * DAY + 600 && r.msg_time < nowSec - 600);
    const older = archived.filter((r) => r.msg_time < nowSec - 3 * DAY - 600);
    expect(inWindow.length).toBeGreaterThan(0);
    expect(older.length).toBeGreaterThan(0);
    const target = inWindow[Math.floor(inWindow.length / 2)] as C2cRecord;
    sim.c2c.recall(ALICE, BOB, target.msg_key as string);
    sim.c2c.recall(ALICE, BOB, (older[0] as C2cRecord).msg_key as string);

    const second = await run(nowSec + 60);
    expect(second).toMatchObject({ messages: 0, revisions: 1, pairsRescanned: 1, rescanLeft: 0 });
    expect(formatC2cLine(second)).toMatch(/; rescan: 1 pairs, \d+ pages, 1 revisions, 0 pairs left$/);
    expect(formatC2cLine(first)).not.toContain('rescan');
    const revisions = (await c2cRows(store)).filter((r) => r.revision > 0);
    expect(revisions).toHaveLength(1);
    expect(revisions[0]).toMatchObject({
      msg_key: target.msg_key,
      conversation: target.conversation,
      from_account: target.from_account,
      msg_time: target.msg_time,
      msg_flag_bits: 8,
      revision: 1,
      change: 'recalled',
      observed_at: nowSec + 60,
    });

    const third = await run(nowSec + 120);
    expect(third).toMatchObject({ messages: 0, revisions: 0 });
    expect((await c2cRows(store)).filter((r) => r.revision > 0)).toHaveLength(1);

    const db = await openArchiveRunner({
      archive: dir,
      timeZone: 'Asia/Shanghai',
      clock: systemClock,
      workGroup: 'wg',
      database: 'db',
    });
    try {
      const rows = await collectRows(
        await db.run('SELECT msg_key, revision, is_recalled FROM c2c_messages_current WHERE is_recalled'),
      );
      expect(rows.map((r) => [r[0], Number(r[1]), String(r[2])])).toEqual([[target.msg_key, 1, 'true']]);
      const [count] = (await collectRows(await db.run('SELECT count(*) FROM c2c_messages_current')))[0] ?? [];
      expect(Number(count)).toBe(150);
    } finally {
      db.close();
    }
  }, 360_000);
});
