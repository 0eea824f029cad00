/**
 * Transcript and audit on an `s3://` archive: Athena (aws-sdk-client-mock, no local Athena exists)
 * finds the objects and answers the audit's SQL; the objects and the state are read from the store
 * (a local folder standing in for the bucket: the key each `s3://…` path maps to is what is tested).
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { AthenaClient, StartQueryExecutionCommand } from '@aws-sdk/client-athena';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { LocalFolderStore } from '../../functions/adapters/local-folder/local-folder-store.ts';
import { runAuditCommand } from '../../functions/cli/audit-command.ts';
import { EXIT } from '../../functions/cli/exit-codes.ts';
import { runExportCommand } from '../../functions/cli/export-command.ts';
import { answerBySql, auditAnswers, type SqlAnswer, seedThreeMessages } from '../helpers/athena.ts';
import { captureExportIo } from '../helpers/export.ts';
import { archivedManifestRow } from '../helpers/media-fixtures.ts';

const athena = mockClient(AthenaClient);
const client = new AthenaClient({ region: 'eu-central-1' });
const APP = 1400000000;
const KEY = `messages/sdkappid=${APP}/dt=2024-03-01/part-r1-00000.ndjson.gz`;
const PATH = `s3://bucket/prefix/${KEY}`;

let dir = '';
let store: LocalFolderStore;
beforeEach(async () => {
  athena.reset();
  dir = await mkdtemp(join(tmpdir(), 'athena-transcript-'));
  store = new LocalFolderStore(dir);
  await seedThreeMessages(store, {
    sdkAppId: APP,
    groupId: '@TGS#A',
    key: KEY,
    from: 'alice',
    text: (seq) => `hello <${seq}>`,
    atMs: (seq) => Date.UTC(2024, 2, 1, 8, seq),
  });
});
afterEach(async () => {
  athena.reset();
  await rm(dir, { recursive: true, force: true });
});

/** Athena answers each query by its SQL: `answer(sql)` gives the column names and rows. */
const answerBy = (answer: (sql: string) => SqlAnswer) => answerBySql(athena, answer);

describe('transcript of an s3:// archive', () => {
  it('finds the objects with Athena ("$path", partition filter, bound parameters) and reads them from the bucket', async () => {
    answerBy(() => ({ columns: ['path'], rows: [[PATH]] }));
    const out = join(dir, 'chat.html');
    const io = captureExportIo({ athenaClient: () => client, store });
    const code = await runExportCommand(
      [
        'transcript',
        '--params',
        'group_id=@TGS#A',
        'from=2024-03-01',
        'to=2024-03-01',
        '--out',
        out,
        '--archive',
        's3://bucket/prefix',
      ],
      io.deps,
    );
    expect(code).toBe(0);
    const input = athena.commandCalls(StartQueryExecutionCommand)[0]?.args[0].input;
    expect(input?.QueryString).toBe(
      'SELECT DISTINCT "$path" AS path FROM messages WHERE dt BETWEEN ? AND ? AND group_id = ? ORDER BY 1',
    );
    expect(input?.ExecutionParameters).toEqual(["'2024-03-01'", "'2024-03-01'", "'@TGS#A'"]);
    const html = await readFile(out, 'utf8');
    expect(html).toContain('hello &lt;1&gt;');
    expect(html).toContain('hello &lt;3&gt;');
    expect(io.out.join('')).toBe(`wrote 3 messages to ${out}\n`);
  });

  it('names the senders from the identity rows read from the bucket, with no other Athena query (issue 24)', async () => {
    answerBy(() => ({ columns: ['path'], rows: [[PATH]] }));
    const row = { sdk_app_id: APP, account: 'alice', nick: 'Alice', image: '', status: 'active' };
    await store.put(
      `identities/users/sdkappid=${APP}/dt=2024-02-01/v1.ndjson.gz`,
      gzipSync(`${JSON.stringify({ ...row, result_code: null, observed_at: 1706745600 })}\n`),
    );
    const io = captureExportIo({ athenaClient: () => client, store });
    const code = await runExportCommand(
      ['transcript', '--params', 'group_id=@TGS#A', 'from=2024-03-01', 'to=2024-03-01'].concat([
        '--out',
        `${dir}/`,
        '--archive',
        's3://bucket/prefix',
      ]),
      io.deps,
    );
    expect(code, io.err.join('')).toBe(0);
    expect(athena.commandCalls(StartQueryExecutionCommand)).toHaveLength(1);
    // No group row: the page is named after the group id.
    const html = await readFile(join(dir, '@TGS#A.html'), 'utf8');
    expect(
      html.match(
        /<bdi class="sender" title="Alice">Alice<\/bdi> <span class="account">\(<bdi>alice<\/bdi>\)/g,
      ),
    ).toHaveLength(3);
  });
});

describe('audit of an s3:// archive', () => {
  const healthy = auditAnswers(PATH, '@TGS#A');

  it('runs the same SQL as DuckDB, with the Athena date expression, and passes a complete archive', async () => {
    answerBy(healthy);
    const io = captureExportIo({ athenaClient: () => client, store });
    // topic_id '' stands for NULL here: the mock has no nulls; the target is matched by group.
    const code = await runAuditCommand(
      ['--archive', 's3://bucket/prefix', '--app', String(APP), '--time-zone', 'Asia/Shanghai'],
      io.deps,
    );
    const calls = athena.commandCalls(StartQueryExecutionCommand).map((c) => c.args[0].input);
    const wrong = calls.find((c) => c.QueryString?.includes('expected'));
    expect(wrong?.QueryString).toContain("format_datetime(from_unixtime(msg_time, ?), 'yyyy-MM-dd')");
    expect(wrong?.ExecutionParameters).toEqual(["'Asia/Shanghai'", `'${APP}'`]);
    expect(calls.every((c) => c.QueryString?.includes('sdkappid = ?'))).toBe(true);
    expect(calls).toHaveLength(6);
    expect(io.out.join('')).toContain('(Athena)');
    expect([code, io.out.join('')]).toEqual([EXIT.done, expect.stringContaining('Result: complete.')]);
  });

  it('finds media references with UNNEST in Athena, nested forwards included, without reading message objects', async () => {
    // An image at element 0 of seq 2 (manifested), and a forward at element 1 of seq 3 whose
    // nested message holds a file (no manifest row): Athena returns the elements, not the objects.
    const image = {
      groupId: '@TGS#A',
      topicId: null,
      msgSeq: 2,
      elementPath: '0',
      sizeClass: 'original' as const,
    };
    const mediaKey = `media/sha256/ab/${'a'.repeat(64)}`;
    await store.put(mediaKey, new Uint8Array([1]));
    const manifest = JSON.stringify(archivedManifestRow(image, mediaKey, 'image/png', 1));
    await store.put(
      `media-manifest/sdkappid=${APP}/dt=2024-03-01/part-t-00000.ndjson.gz`,
      gzipSync(`${manifest}\n`),
    );
    const forward = JSON.stringify([{ MsgBody: [{ MsgType: 'TIMFileElem', MsgContent: { Url: 'u' } }] }]);
    answerBy((sql) => {
      if (sql.includes('WITH ORDINALITY'))
        return {
          columns: ['path', 'group_id', 'topic_id', 'msg_seq', 'pos', 'msg_type', 'msg_list'],
          rows: [
            [PATH, '@TGS#A', '', '2', '1', 'TIMImageElem', ''],
            [PATH, '@TGS#A', '', '3', '2', 'TIMRelayElem', forward],
          ],
        };
      return healthy(sql);
    });
    const get = vi.spyOn(store, 'get');
    const io = captureExportIo({ athenaClient: () => client, store });
    const code = await runAuditCommand(
      ['--archive', 's3://bucket/prefix', '--app', String(APP), '--json'],
      io.deps,
    );

    const sqls = athena
      .commandCalls(StartQueryExecutionCommand)
      .map((c) => c.args[0].input.QueryString ?? '');
    expect(sqls.find((q) => q.includes('WITH ORDINALITY'))).toContain(
      'CROSS JOIN UNNEST(f.msg_body) WITH ORDINALITY AS e(msg_type, msg_content, pos)',
    );
    expect(get.mock.calls.filter(([key]) => key.startsWith('messages/'))).toEqual([]);
    const report = JSON.parse(io.out.join(''));
    expect(report.apps[0].media).toMatchObject({ audited: true, references: 2 });
    expect([code, report.findings]).toEqual([
      EXIT.auditUnexplained,
      [expect.objectContaining({ kind: 'media-unmanifested', groupId: '@TGS#A', seqs: [[3, 3]] })],
    ]);
  });

  it('exits 4 and names the seqs when Athena reports a gap', async () => {
    answerBy(auditAnswers(PATH, '@TGS#A', true));
    const io = captureExportIo({ athenaClient: () => client, store });
    const code = await runAuditCommand(
      ['--archive', 's3://bucket/prefix', '--app', String(APP), '--json'],
      io.deps,
    );
    expect(code).toBe(EXIT.auditUnexplained);
    const report = JSON.parse(io.out.join(''));
    expect(report.findings).toEqual([
      expect.objectContaining({ kind: 'missing-seqs', groupId: '@TGS#A', seqs: [[2, 2]] }),
    ]);
  });
});
