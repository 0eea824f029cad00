/**
 * Names as of message time on DuckDB (issue 24): hand-written identity rows (the types of
 * functions/domain/identity-rows.ts, written as gzip NDJSON where the capture writes them) and
 * messages written by the partition writer, then the SCD2 views `user_names`, `group_names`,
 * `group_members` and `messages_named` checked against the timelines docs/names.md gives: a rename
 * in the middle, the first row extended backwards, a promotion at an exact boundary, a gone account
 * and a dissolved group keeping their last names, a member who left, the name card over the
 * nickname, an empty name card or nickname falling back, and hostile names coming back byte-exact.
 * An archive without identity rows keeps every view and named query working. `npm run export`
 * adds from_name, from_role and group_name by default and writes exactly today's columns with
 * `--no-names`.
 */
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalFolderStore } from '../../functions/adapters/local-folder/local-folder-store.ts';
import { systemClock } from '../../functions/adapters/system-clock.ts';
import { runExportCommand } from '../../functions/cli/export-command.ts';
import { openArchiveRunner } from '../../functions/cli/query-runners.ts';
import {
  type GroupMemberRow,
  type GroupNameRow,
  type IdentityKind,
  type IdentityRow,
  identityLocationTemplate,
  type UserNameRow,
} from '../../functions/domain/identity-rows.ts';
import { dateInZone } from '../../functions/domain/partition.ts';
import { type RecordContext, toRecord } from '../../functions/domain/record.ts';
import type { RawMessage } from '../../functions/domain/tencent-types.ts';
import { PartitionWriter } from '../../functions/engine/partition-writer.ts';
import { NAMED_QUERIES, parseParams, runNamedQuery } from '../../functions/query/named-queries.ts';
import type { QueryRunner } from '../../functions/query/port.ts';
import { collectRows } from '../../functions/query/result.ts';
import { VIEWS } from '../../functions/query/views.ts';
import { captureExportIo } from '../helpers/export.ts';

const ZONE = 'UTC';
const APP = 1400000000;
/** The three runs that observed names: a day apart. */
const T0 = Date.UTC(2026, 10, 20, 8, 0, 0) / 1000;
const T1 = T0 + 86_400;
const T2 = T0 + 2 * 86_400;
const G1 = '@TGS#1OPS';
const G2 = '@TGS#2OLD';
/** Dissolved, then a group with the same id again: not dissolved now. */
const G3 = '@TGS#3BACK';

const HOSTILE = {
  bidi: 'Ann\u202Egro.evil\u202C\u2066x\u2069',
  long: `L${'名'.repeat(4_998)}Z`,
  control: 'a\u0001b\u0007c\u001b[31md\u007f\r\ne\t\u0085\u2028f',
  card: '\u200Badmin\u200D\uFEFF',
};

const user = (account: string, nick: string | null, at: number, gone = false): UserNameRow => ({
  sdk_app_id: APP,
  account,
  nick,
  image: nick === null ? null : '',
  status: gone ? 'gone' : 'active',
  result_code: gone ? 70107 : null,
  observed_at: at,
});
const group = (group_id: string, name: string | null, at: number, errorCode?: number): GroupNameRow => ({
  sdk_app_id: APP,
  group_id,
  name,
  type: name === null ? null : group_id === G1 ? 'Public' : 'Work',
  owner_account: name === null ? null : 'alice',
  status: errorCode === undefined ? 'active' : 'dissolved',
  error_code: errorCode ?? null,
  observed_at: at,
});
const member = (account: string, role: string | null, card: string | null, at: number): GroupMemberRow => ({
  sdk_app_id: APP,
  group_id: G1,
  account,
  role,
  name_card: card,
  status: role === null ? 'left' : 'member',
  observed_at: at,
});

const IDENTITIES: Record<IdentityKind, IdentityRow[]> = {
  users: [
    user('alice', 'Alice', T0),
    user('alice', 'Alice Chen', T2),
    user('bob', 'Bob', T0),
    user('carol', 'Carol', T0),
    user('carol', null, T1, true),
    user('dave', null, T0, true),
    user('h-bidi', HOSTILE.bidi, T0),
    user('h-long', HOSTILE.long, T0),
    user('h-control', HOSTILE.control, T0),
    user('h-empty', '', T0),
  ],
  groups: [
    group(G1, 'Ops', T0),
    group(G1, 'Operations', T2),
    group(G2, 'Old team', T0),
    group(G2, null, T1, 10010),
    group(G2, null, T2, 10015),
    group(G3, 'Back', T0),
    group(G3, null, T1, 10010),
    group(G3, 'Back again', T2),
  ],
  members: [
    member('alice', 'Member', '', T0),
    member('alice', 'Admin', '', T1),
    member('bob', 'Member', 'Bobby (ops)', T0),
    member('bob', null, null, T2),
    member('h-bidi', 'Owner', HOSTILE.card, T0),
    member('h-empty', 'Member', '', T0),
  ],
};

/** Messages of G1 by seq: sender and time; seq 100 is in G2. */
const MESSAGES: Record<number, [string, number]> = {
  1: ['alice', T0 - 3_600],
  2: ['bob', T0 + 10],
  3: ['alice', T1 - 1],
  4: ['alice', T1],
  5: ['alice', T2 + 10],
  6: ['bob', T2 + 20],
  7: ['carol', T0 + 20],
  8: ['dave', T0 + 30],
  9: ['eve', T0 + 40],
  10: ['h-bidi', T0 + 50],
  11: ['h-long', T0 + 60],
  12: ['h-control', T0 + 70],
  13: ['h-empty', T0 + 80],
};

const message = (seq: number, from: string, at: number): RawMessage => ({
  From_Account: from,
  IsPlaceMsg: 0,
  MsgBody: [{ MsgType: 'TIMTextElem', MsgContent: { Text: `m${seq}` } }],
  MsgRandom: seq,
  MsgSeq: seq,
  MsgTimeStamp: at,
});

async function writeMessages(dir: string, groupId: string, raws: RawMessage[]): Promise<void> {
  const ctx: RecordContext = { sdkAppId: APP, groupId, topicId: null, observedAt: T2 + 1_000 };
  const writer = new PartitionWriter({
    sdkAppId: APP,
    runId: `run-${groupId.slice(5)}`,
    timeZone: ZONE,
    store: new LocalFolderStore(dir),
  });
  writer.addAll(raws.map((raw) => toRecord(raw, ctx)));
  await writer.flush();
}

/** Each row in the object of its observed date, one object per kind and date. */
async function writeIdentities(dir: string, rows: Record<IdentityKind, IdentityRow[]>): Promise<void> {
  for (const [kind, list] of Object.entries(rows) as [IdentityKind, IdentityRow[]][]) {
    const byDt = new Map<string, IdentityRow[]>();
    for (const row of list) {
      const dt = dateInZone(row.observed_at, ZONE);
      byDt.set(dt, [...(byDt.get(dt) ?? []), row]);
    }
    for (const [dt, dayRows] of byDt) {
      const folder = join(
        dir,
        // biome-ignore lint/suspicious/noTemplateCurlyInString: the projection placeholders, filled here.
        identityLocationTemplate(kind).replace('${sdkappid}', String(APP)).replace('${dt}', dt),
      );
      await mkdir(folder, { recursive: true });
      const lines = dayRows.map((row) => `${JSON.stringify(row)}\n`).join('');
      await writeFile(join(folder, 'part-00000.ndjson.gz'), gzipSync(lines));
    }
  }
}

async function open(dir: string): Promise<QueryRunner> {
  return openArchiveRunner({
    archive: dir,
    timeZone: ZONE,
    clock: systemClock,
    workGroup: 'wg',
    database: 'db',
  });
}

let dir = '';
let db: QueryRunner;
const rows = async (sql: string) => collectRows(await db.run(sql));
const s = String;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'names-duckdb-'));
  await writeMessages(
    dir,
    G1,
    Object.entries(MESSAGES).map(([seq, [from, at]]) => message(Number(seq), from, at)),
  );
  // Seq 101: a deletion that came back with a zeroed time, never known (msg_time null).
  const zeroed: RawMessage = {
    IsPlaceMsg: 1,
    MsgBody: [],
    From_Account: 'bob',
    MsgSeq: 101,
    MsgTimeStamp: 0,
  };
  await writeMessages(dir, G2, [message(100, 'alice', T0 + 5), zeroed]);
  await writeIdentities(dir, IDENTITIES);
  db = await open(dir);
});

afterAll(async () => {
  db?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('SCD2 views on DuckDB', () => {
  it('user_names: valid_from null on the first row, valid_to the next row, a gone account keeps its last nick', async () => {
    expect(
      await rows(
        "SELECT account, nick, status, gone_since, valid_from, valid_to FROM user_names WHERE account IN ('alice', 'carol', 'dave') ORDER BY account, observed_at",
      ),
    ).toEqual([
      ['alice', 'Alice', 'active', null, null, s(T2)],
      ['alice', 'Alice Chen', 'active', null, s(T2), null],
      ['carol', 'Carol', 'active', s(T1), null, s(T1)],
      ['carol', 'Carol', 'gone', s(T1), s(T1), null],
      ['dave', null, 'gone', s(T0), null, null],
    ]);
  });

  it('group_names: a rename, and a dissolved group keeping its name and when it was first seen dissolved', async () => {
    expect(
      await rows(
        'SELECT group_id, name, type, status, error_code, dissolved_since, valid_from, valid_to FROM group_names ORDER BY group_id, observed_at',
      ),
    ).toEqual([
      [G1, 'Ops', 'Public', 'active', null, null, null, s(T2)],
      [G1, 'Operations', 'Public', 'active', null, null, s(T2), null],
      [G2, 'Old team', 'Work', 'active', null, s(T1), null, s(T1)],
      [G2, 'Old team', 'Work', 'dissolved', '10010', s(T1), s(T1), s(T2)],
      [G2, 'Old team', 'Work', 'dissolved', '10015', s(T1), s(T2), null],
      [G3, 'Back', 'Work', 'active', null, null, null, s(T1)],
      [G3, 'Back', 'Work', 'dissolved', '10010', null, s(T1), s(T2)],
      [G3, 'Back again', 'Work', 'active', null, null, s(T2), null],
    ]);
  });

  it('group_members: a promotion and a member who left (no role, no name card carried)', async () => {
    expect(
      await rows(
        "SELECT account, role, name_card, status, valid_from, valid_to, dt FROM group_members WHERE account IN ('alice', 'bob') ORDER BY account, observed_at",
      ),
    ).toEqual([
      ['alice', 'Member', '', 'member', null, s(T1), '2026-11-20'],
      ['alice', 'Admin', '', 'member', s(T1), null, '2026-11-21'],
      ['bob', 'Member', 'Bobby (ops)', 'member', null, s(T2), '2026-11-20'],
      ['bob', null, null, 'left', s(T2), null, '2026-11-22'],
    ]);
  });
});

describe('messages_named on DuckDB', () => {
  const named = async (groupId: string) =>
    rows(
      `SELECT msg_seq, sender, from_name, from_name_source, from_role, from_gone, group_name, group_type, group_dissolved FROM messages_named WHERE group_id = '${groupId}' ORDER BY msg_seq`,
    );

  it('names each message as of its time (docs/names.md), one row per message', async () => {
    const got = await named(G1);
    expect(got.filter((r) => !String(r[1]).startsWith('h-'))).toEqual([
      // Before the first observation: the first rows stand for the time before them.
      ['1', 'alice', 'Alice', 'nick', 'Member', 'false', 'Ops', 'Public', 'false'],
      // The name card wins over the nickname.
      ['2', 'bob', 'Bobby (ops)', 'name_card', 'Member', 'false', 'Ops', 'Public', 'false'],
      // valid_to is exclusive, valid_from inclusive: promoted exactly at T1.
      ['3', 'alice', 'Alice', 'nick', 'Member', 'false', 'Ops', 'Public', 'false'],
      ['4', 'alice', 'Alice', 'nick', 'Admin', 'false', 'Ops', 'Public', 'false'],
      // After the renames of T2: the new nick and group name.
      ['5', 'alice', 'Alice Chen', 'nick', 'Admin', 'false', 'Operations', 'Public', 'false'],
      // Bob left at T2: no role, no name card, his nickname.
      ['6', 'bob', 'Bob', 'nick', null, 'false', 'Operations', 'Public', 'false'],
      // Carol is gone now: her last known nick, marked gone.
      ['7', 'carol', 'Carol', 'nick', null, 'true', 'Ops', 'Public', 'false'],
      // Dave was gone before any nick was seen; Eve has no identity rows: the account.
      ['8', 'dave', 'dave', 'account', null, 'true', 'Ops', 'Public', 'false'],
      ['9', 'eve', 'eve', 'account', null, 'false', 'Ops', 'Public', 'false'],
    ]);
    expect(got).toHaveLength(Object.keys(MESSAGES).length);
    expect(await rows('SELECT count(*) FROM messages_named')).toEqual(
      await rows('SELECT count(*) FROM messages_flat'),
    );
  });

  it('keeps a dissolved group’s last known name, marked dissolved', async () => {
    expect((await named(G2))[0]).toEqual([
      '100',
      'alice',
      'Alice',
      'nick',
      null,
      'false',
      'Old team',
      'Work',
      'true',
    ]);
  });

  it('matches a message whose time is unknown only to a key’s only row (docs/names.md)', async () => {
    // Bob has one user row (it holds at any time); G2 has three (none holds at an unknown time).
    expect((await named(G2))[1]).toEqual(['101', 'bob', 'Bob', 'nick', null, 'false', null, null, 'false']);
    expect(await rows('SELECT msg_time FROM messages_flat WHERE msg_seq = 101')).toEqual([[null]]);
  });

  it('gives hostile names back byte for byte; an empty name card or nickname falls back', async () => {
    const got = new Map((await named(G1)).map((r) => [r[1], r]));
    expect(got.get('h-bidi')?.slice(2, 5)).toEqual([HOSTILE.card, 'name_card', 'Owner']);
    expect(got.get('h-long')?.slice(2, 4)).toEqual([HOSTILE.long, 'nick']);
    expect(got.get('h-long')?.[2]).toHaveLength(5_000);
    expect(got.get('h-control')?.slice(2, 4)).toEqual([HOSTILE.control, 'nick']);
    expect(got.get('h-empty')?.slice(2, 5)).toEqual(['h-empty', 'account', 'Member']);
    expect(await rows("SELECT nick FROM user_names WHERE account = 'h-bidi'")).toEqual([[HOSTILE.bidi]]);
  });

  it('has the columns of messages_flat, then the name columns, then the partitions', async () => {
    const flat = (await db.run('SELECT * FROM messages_flat LIMIT 0')).columns.map((c) => c.name);
    const namedColumns = (await db.run('SELECT * FROM messages_named LIMIT 0')).columns.map((c) => c.name);
    expect(namedColumns).toEqual([
      ...flat.slice(0, -2),
      'from_name',
      'from_name_source',
      'from_role',
      'from_gone',
      'group_name',
      'group_type',
      'group_dissolved',
      'sdkappid',
      'dt',
    ]);
  });
});

describe('an archive without identity rows', () => {
  it('keeps every view and named query working; names fall back to the account', async () => {
    const bare = await mkdtemp(join(tmpdir(), 'names-bare-'));
    try {
      await writeMessages(bare, G1, [message(1, 'alice', T0)]);
      const local = await open(bare);
      try {
        for (const view of VIEWS) await collectRows(await local.run(`SELECT * FROM "${view.name}"`));
        expect(
          await collectRows(
            await local.run(
              'SELECT sender, from_name, from_name_source, from_role, from_gone, group_name FROM messages_named',
            ),
          ),
        ).toEqual([['alice', 'alice', 'account', null, 'false', null]]);
        for (const query of NAMED_QUERIES) {
          for (const names of [false, true])
            await collectRows(
              await runNamedQuery(local, query, parseParams(query, paramsOf(query)), { names }),
            );
        }
      } finally {
        local.close();
      }
    } finally {
      await rm(bare, { recursive: true, force: true });
    }
  });
});

type Query = (typeof NAMED_QUERIES)[number];
const namedQuery = (name: string) => NAMED_QUERIES.find((q) => q.name === name) as Query;

/** Values for every parameter of a query: the whole month, group G1, text 'm5'. */
function paramsOf(query: Query): Record<string, string> {
  const values: Record<string, string> = { from: '2026-11-01', to: '2026-11-30', group_id: G1, text: 'm5' };
  return Object.fromEntries(query.params.map((p) => [p.name, values[p.name] ?? 'x']));
}

const CONVERSATION = ['conversation', '--params', `group_id=${G1}`, 'from=2026-11-01', 'to=2026-11-30'];

describe('npm run export with and without names', () => {
  const exportTo = async (file: string, ...flags: string[]) => {
    const io = captureExportIo();
    const code = await runExportCommand(
      [...CONVERSATION, '--out', file, '--archive', dir, ...flags],
      io.deps,
    );
    expect(code, io.err.join('')).toBe(0);
    return readFile(file, 'utf8');
  };

  it('adds from_name, from_role and group_name by default (CSV), the name as of each message', async () => {
    const csv = (await exportTo(join(dir, 'named.csv'))).split('\r\n');
    expect(csv[0]).toBe(
      'sent_at,sender,from_name,from_role,text,element_types,is_deleted,is_recalled,is_system,group_id,group_name,topic_id,msg_seq,dt,unreadable,raw',
    );
    // Alice's and Bob's lines (hostile names hold commas and line breaks: left out here).
    const plainLines = csv
      .map((line) => line.split(','))
      .filter((f) => ['alice', 'bob'].includes(f[1] ?? ''));
    const bySeq = new Map(plainLines.map((fields) => [fields[12], fields]));
    expect(bySeq.get('1')?.slice(1, 4)).toEqual(['alice', 'Alice', 'Member']);
    expect(bySeq.get('5')?.slice(1, 4)).toEqual(['alice', 'Alice Chen', 'Admin']);
    expect(bySeq.get('5')?.[10]).toBe('Operations');
    expect(bySeq.get('2')?.slice(1, 4)).toEqual(['bob', 'Bobby (ops)', 'Member']);
  });

  it('writes the names into JSON Lines too', async () => {
    const lines = (await exportTo(join(dir, 'named.jsonl'))).trimEnd().split('\n');
    const records = lines.map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(records.find((r) => r.msg_seq === 1)).toMatchObject({
      sender: 'alice',
      from_name: 'Alice',
      from_role: 'Member',
      group_name: 'Ops',
    });
    expect(records.find((r) => r.sender === 'h-long')?.from_name).toBe(HOSTILE.long);
    expect(records.find((r) => r.sender === 'h-control')?.from_name).toBe(HOSTILE.control);
  });

  it('writes exactly the columns without names with --no-names', async () => {
    const plain = (await exportTo(join(dir, 'plain.csv'), '--no-names')).split('\r\n');
    const query = namedQuery('conversation');
    const expected = await runNamedQuery(db, query, parseParams(query, paramsOf(query)));
    expect(plain[0]).toBe(expected.columns.map((c) => c.name).join(','));
    expect(plain[0]).toBe(
      'sent_at,sender,text,element_types,is_deleted,is_recalled,is_system,group_id,topic_id,msg_seq,dt,unreadable,raw',
    );
    expect(plain.filter((line) => line !== '')).toHaveLength(Object.keys(MESSAGES).length + 1);
  });

  it('refuses --names with --no-names, naming the flags', async () => {
    const io = captureExportIo();
    const out = join(dir, 'x.csv');
    const code = await runExportCommand(
      [...CONVERSATION, '--out', out, '--archive', dir, '--names', '--no-names'],
      io.deps,
    );
    expect(code).toBe(2);
    expect(io.err.join('')).toContain('--names and --no-names');
  });
});

describe('the other named queries with names on DuckDB', () => {
  it.each(['text-search', 'deleted-recalled', 'changes'])('%s gains the name columns', async (name) => {
    const query = namedQuery(name);
    const plain = await runNamedQuery(db, query, parseParams(query, paramsOf(query)));
    const named = await runNamedQuery(db, query, parseParams(query, paramsOf(query)), { names: true });
    const added = ['from_name', 'from_role', 'group_name'];
    const columns = named.columns.map((c) => c.name);
    expect(columns.filter((c) => !added.includes(c))).toEqual(plain.columns.map((c) => c.name));
    expect(columns).toEqual(expect.arrayContaining(added));
    await collectRows(plain);
    const got = await collectRows(named);
    if (name === 'text-search') {
      const at = (c: string) => columns.indexOf(c);
      expect(got.map((r) => [r[at('sender')], r[at('from_name')], r[at('group_name')]])).toEqual([
        ['alice', 'Alice Chen', 'Operations'],
      ]);
    }
  });
});
