/**
 * Transcript and audit on an `s3://` archive: Athena (aws-sdk-client-mock, no local Athena exists)
 * finds the objects and answers the audit's SQL; the objects and the state are read from the store
 * (a local folder standing in for the bucket: the key each `s3://…` path maps to is what is tested).
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import {
  AthenaClient,
  GetQueryExecutionCommand,
  GetQueryResultsCommand,
  type GetQueryResultsOutput,
  StartQueryExecutionCommand,
} from '@aws-sdk/client-athena';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LocalFolderStore } from '../../functions/adapters/local-folder/local-folder-store.ts';
import { runAuditCommand } from '../../functions/cli/audit-command.ts';
import { EXIT } from '../../functions/cli/exit-codes.ts';
import { runExportCommand } from '../../functions/cli/export-command.ts';
import { emptyState, serializeState } from '../../functions/domain/continuation.ts';
import { stateKey } from '../../functions/domain/partition.ts';
import { toRecord } from '../../functions/domain/record.ts';
import { serializeRecord } from '../../functions/domain/record-codec.ts';
import { captureExportIo } from '../helpers/export.ts';

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
  const lines = [1, 2, 3].map((seq) =>
    serializeRecord(
      toRecord(
        {
          From_Account: 'alice',
          IsPlaceMsg: 0,
          MsgBody: [{ MsgType: 'TIMTextElem', MsgContent: { Text: `hello <${seq}>` } }],
          MsgPriority: 1,
          MsgRandom: seq,
          MsgSeq: seq,
          MsgTimeStamp: Date.UTC(2024, 2, 1, 8, seq) / 1000,
        },
        { sdkAppId: APP, groupId: '@TGS#A', topicId: null },
      ),
    ),
  );
  await store.put(KEY, gzipSync(`${lines.join('\n')}\n`));
  const state = emptyState(APP);
  state.targets.push({
    groupId: '@TGS#A',
    topicId: null,
    highWater: 3,
    generation: 0,
    highWaterTime: null,
    inProgress: null,
  });
  await store.put(stateKey(APP), new TextEncoder().encode(serializeState(state)));
});
afterEach(async () => {
  athena.reset();
  await rm(dir, { recursive: true, force: true });
});

/** Athena answers each query by its SQL: `answer(sql)` gives the column names and rows. */
function answerBy(answer: (sql: string) => { columns: string[]; rows: string[][] }) {
  const byId = new Map<string, string>();
  athena.on(StartQueryExecutionCommand).callsFake((input: { QueryString: string }) => {
    const id = `q${byId.size}`;
    byId.set(id, input.QueryString);
    return { QueryExecutionId: id };
  });
  athena.on(GetQueryExecutionCommand).callsFake((input: { QueryExecutionId: string }) => ({
    QueryExecution: {
      QueryExecutionId: input.QueryExecutionId,
      StatementType: 'DML',
      Status: { State: 'SUCCEEDED' },
    },
  }));
  athena
    .on(GetQueryResultsCommand)
    .callsFake((input: { QueryExecutionId: string }): GetQueryResultsOutput => {
      const { columns, rows } = answer(byId.get(input.QueryExecutionId) ?? '');
      const row = (cells: string[]) => ({ Data: cells.map((c) => ({ VarCharValue: c })) });
      return {
        ResultSet: {
          ResultSetMetadata: { ColumnInfo: columns.map((c) => ({ Name: c, Label: c, Type: 'varchar' })) },
          Rows: [row(columns), ...rows.map(row)],
        },
      };
    });
}

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
});

describe('audit of an s3:// archive', () => {
  const healthy = (sql: string) => {
    if (sql.includes('min(msg_seq) AS first_seq'))
      return {
        columns: ['path', 'group_id', 'topic_id', 'gen', 'first_seq', 'last_seq', 'rows_n', 'revision_rows'],
        rows: [[PATH, '@TGS#A', '', '0', '1', '3', '3', '0']],
      };
    return { columns: ['group_id'], rows: [] };
  };

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

  it('exits 4 and names the seqs when Athena reports a gap', async () => {
    answerBy((sql) =>
      sql.includes('lead(msg_seq)')
        ? {
            columns: ['group_id', 'topic_id', 'gen', 'msg_seq', 'next_seq'],
            rows: [['@TGS#A', '', '0', '1', '3']],
          }
        : healthy(sql),
    );
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
