/**
 * The one-to-one table and views on DuckDB (issue 26; docs/querying.md): rows written by the real
 * one-to-one pass over the simulator (accounts holding quotes, brackets and commas), plus a later
 * revision of one message (a recall as a rescan would append it), read back through
 * `c2c_messages`, `c2c_messages_current` and `conversations`.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalFolderStore } from '../../functions/adapters/local-folder/local-folder-store.ts';
import { systemClock } from '../../functions/adapters/system-clock.ts';
import { openArchiveRunner } from '../../functions/cli/query-runners.ts';
import { configPairs } from '../../functions/domain/c2c-pairs.ts';
import {
  type C2cRecord,
  conversationOf,
  serializeC2cRecord,
  toQuarantinedC2cRecord,
} from '../../functions/domain/c2c-record.ts';
import type { QueryRunner } from '../../functions/query/port.ts';
import { collectRows } from '../../functions/query/result.ts';
import type { Simulator } from '../../functions/simulator/index.ts';
import { c2cEngine, c2cRowsWithKeys, startC2cSimulator } from '../helpers/c2c.ts';

const ALICE = 'alice.c2c';
const BOB = 'bob]"c2c,\'x';
const CAROL = 'carol.c2c';

let sim: Simulator;
let dir = '';
let db: QueryRunner;
let archived: C2cRecord[] = [];
let revised: C2cRecord;
let unreadable: C2cRecord;

beforeAll(async () => {
  sim = await startC2cSimulator({
    seed: 2605,
    c2c: {
      recalledFraction: 0,
      conversations: [
        { accounts: [ALICE, BOB], messages: 120 },
        { accounts: [CAROL, ALICE], messages: 30 },
      ],
    },
  });
  dir = await mkdtemp(join(tmpdir(), 'c2c-duckdb-'));
  const store = new LocalFolderStore(dir);
  const report = await c2cEngine(sim, store).run({
    timeZone: 'Asia/Shanghai',
    c2c: {
      pairs: configPairs({
        pairs: [
          [BOB, ALICE],
          [ALICE, CAROL],
        ],
      }),
      concurrency: 2,
    },
  });
  expect(report.done).toBe(true);
  const stored = await c2cRowsWithKeys(store);
  archived = stored.map((s) => s.row);
  // A recall seen after the pull, as the rescan appends it: revision 1 in the message's own dt.
  const first = stored.find(
    (s) => s.row.conversation === conversationOf(ALICE, BOB),
  ) as (typeof stored)[number];
  revised = {
    ...first.row,
    msg_flag_bits: 8,
    msg_body: [],
    revision: 1,
    change: 'recalled',
    observed_at: (first.row.observed_at ?? 0) + 60,
  };
  const folder = first.key.slice(0, first.key.lastIndexOf('/') + 1);
  // An item the page schema rejected, kept as a flagged row with its exact text.
  unreadable = toQuarantinedC2cRecord(
    {
      text: '{"MsgKey":7,"From_Account":"bob","MsgTimeStamp":"x"',
      reason: 'MsgKey is not a string',
      msgSeq: null,
    },
    {
      sdkAppId: first.row.sdk_app_id,
      accounts: [ALICE, BOB],
      source: 'roam',
      fallbackTime: first.row.msg_time,
    },
  );
  const lines = [revised, unreadable].map((r) => `${serializeC2cRecord(r)}\n`).join('');
  await store.put(`${folder}part-rescan-00000.ndjson.gz`, gzipSync(lines));
  db = await openArchiveRunner({
    archive: dir,
    timeZone: 'Asia/Shanghai',
    clock: systemClock,
    workGroup: 'wg',
    database: 'db',
  });
}, 120_000);

afterAll(async () => {
  db?.close();
  await sim?.stop();
  if (dir !== '') await rm(dir, { recursive: true, force: true });
});

const rows = async (sql: string) => collectRows(await db.run(sql));

describe('c2c_messages on DuckDB', () => {
  it('holds every archived row and the revision, with the partitions of their objects', async () => {
    const sql =
      'SELECT count(*), count(*) FILTER (WHERE revision > 0), count(DISTINCT sdkappid) FROM c2c_messages';
    const [count, revisions, apps] = (await rows(sql))[0] ?? [];
    expect(Number(count)).toBe(archived.length + 2);
    expect(Number(revisions)).toBe(1);
    expect(Number(apps)).toBe(1);
    const [mismatched] =
      (
        await rows(
          "SELECT count(*) FROM c2c_messages WHERE dt <> strftime(timezone('Asia/Shanghai', to_timestamp(msg_time)), '%Y-%m-%d')",
        )
      )[0] ?? [];
    expect(Number(mismatched)).toBe(0);
  });
});

describe('c2c_messages_current on DuckDB', () => {
  it('gives each message once, its latest revision, with both accounts of the pair', async () => {
    const all = await rows(
      'SELECT conversation, msg_key, account_a, account_b, revision, is_recalled, text FROM c2c_messages_current',
    );
    const ids = all.map((r) => `${r[0]} ${r[1]}`);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids.sort()).toEqual(archived.map((r) => `${r.conversation} ${r.msg_key}`).sort());
    for (const [conversation, , a, b] of all) {
      expect([a, b]).toEqual(JSON.parse(conversation as string));
    }
    const recalled = all.filter((r) => String(r[5]) === 'true');
    expect(recalled.map((r) => [r[1], Number(r[4]), r[6]])).toEqual([[revised.msg_key, 1, null]]);
  });

  it('joins the text elements of a message with a newline', async () => {
    const withText = archived.find(
      (r) => r.msg_key !== revised.msg_key && (r.msg_body ?? []).some((e) => e.msg_type === 'TIMTextElem'),
    ) as C2cRecord;
    const expected = (withText.msg_body ?? [])
      .filter((e) => e.msg_type === 'TIMTextElem')
      .map((e) => e.msg_content.Text)
      .join('\n');
    const found = await rows(
      `SELECT text, element_types, sent_at FROM c2c_messages_current WHERE msg_key = '${String(withText.msg_key).replaceAll("'", "''")}'`,
    );
    expect(found[0]?.[0]).toBe(expected);
    expect(found[0]?.[1]).toBe((withText.msg_body ?? []).map((e) => e.msg_type).join(','));
    expect(found[0]?.[2]).toMatch(/^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/);
  });
});

describe('c2c_messages_unreadable on DuckDB', () => {
  it('lists the flagged item with its pair, reason and exact text', async () => {
    const found = await rows(
      'SELECT account_a, account_b, msg_key, reason, raw FROM c2c_messages_unreadable',
    );
    expect(found).toEqual([[ALICE, BOB, null, 'MsgKey is not a string', unreadable.raw]]);
  });
});

describe('conversations on DuckDB', () => {
  it('has one row per sorted pair with its first and last message time and count', async () => {
    const found = await rows(
      'SELECT account_a, account_b, first_msg_time, last_msg_time, messages, recalled FROM conversations ORDER BY account_a, account_b',
    );
    const expected = [
      [ALICE, BOB],
      [ALICE, CAROL],
    ].map(([x, y]) => {
      const served = sim.c2c.visible(x as string, y as string);
      const times = served.map((m) => m.MsgTimeStamp);
      const [a, b] = JSON.parse(conversationOf(x as string, y as string)) as [string, string];
      const recalled = conversationOf(a, b) === revised.conversation ? 1 : 0;
      return [a, b, Math.min(...times), Math.max(...times), served.length, recalled];
    });
    expect(found.map((r) => r.map((v, i) => (i < 2 ? v : Number(v))))).toEqual(expected);
  });
});
