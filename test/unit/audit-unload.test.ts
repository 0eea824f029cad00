/**
 * The audit's media elements query on Athena over S3 runs as `UNLOAD … TO 's3://…/audits/unload/<run
 * id>/' WITH (format = 'JSON', compression = 'GZIP')`, and its rows are read from the files UNLOAD
 * wrote (then deleted), not paged through GetQueryResults; DuckDB, or Athena over another store,
 * keeps the query's own result. Athena is mocked at the SDK level (aws-sdk-client-mock); the mock
 * writes the result files into the store as Athena would into the bucket.
 */
import { gzipSync } from 'node:zlib';
import {
  AthenaClient,
  GetQueryExecutionCommand,
  GetQueryResultsCommand,
  StartQueryExecutionCommand,
} from '@aws-sdk/client-athena';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AthenaQueryRunner } from '../../functions/adapters/aws/athena-runner.ts';
import { readReferences } from '../../functions/query/audit/media-references.ts';
import { largeResultRows, unloadSql } from '../../functions/query/audit/unload.ts';
import { MemoryStore } from '../helpers/engine-fakes.ts';
import { FakeClock } from '../helpers/fake-clock.ts';

const athena = mockClient(AthenaClient);
const APP = 1400000000;
const PATH = `s3://bucket/prefix/messages/sdkappid=${APP}/dt=2024-03-01/part-r1-00000.ndjson.gz`;

/** A store in memory that says it is the bucket's prefix (as S3Store names its location). */
function s3LikeStore(): MemoryStore {
  const store = new MemoryStore();
  Object.defineProperty(store, 'location', { value: 's3://bucket/prefix' });
  return store;
}

/** One image element per message, seqs 1 … n, as UNLOAD's JSON lines (numbers are JSON numbers). */
const imageRows = (from: number, to: number) =>
  Array.from({ length: to - from + 1 }, (_, i) =>
    JSON.stringify({
      path: PATH,
      group_id: '@TGS#A',
      msg_seq: from + i,
      pos: 1,
      msg_type: 'TIMImageElem',
    }),
  ).join('\n');

/**
 * Athena that answers an UNLOAD by writing its rows into `store` under the TO folder, in two gzip
 * files of `rows` split in half, and any other query with one empty page.
 */
function athenaUnloadingInto(store: MemoryStore, rows: number): void {
  athena.on(StartQueryExecutionCommand).callsFake(async (input: { QueryString: string }) => {
    const to = /\nTO '([^']+)'/.exec(input.QueryString)?.[1];
    if (input.QueryString.startsWith('UNLOAD (') && to !== undefined) {
      const prefix = to.slice('s3://bucket/prefix/'.length);
      const half = Math.floor(rows / 2);
      await store.put(`${prefix}20240301_0001.gz`, gzipSync(imageRows(1, half)));
      await store.put(`${prefix}20240301_0002.gz`, gzipSync(imageRows(half + 1, rows)));
    }
    return { QueryExecutionId: 'q1' };
  });
  athena.on(GetQueryExecutionCommand).resolves({
    QueryExecution: { QueryExecutionId: 'q1', StatementType: 'DML', Status: { State: 'SUCCEEDED' } },
  });
  athena
    .on(GetQueryResultsCommand)
    .resolves({ ResultSet: { ResultSetMetadata: { ColumnInfo: [] }, Rows: [] } });
}

const runner = () =>
  new AthenaQueryRunner({
    client: new AthenaClient({ region: 'eu-central-1' }),
    clock: new FakeClock(),
    workGroup: 'chat-archive',
    database: 'chat_archive',
  });

beforeEach(() => athena.reset());
afterEach(() => athena.reset());

describe('UNLOAD for the media elements query', () => {
  it('writes the result to audits/unload/<run id>/ as gzip JSON and reads it from the store, not 1,000 rows a call', async () => {
    const store = s3LikeStore();
    athenaUnloadingInto(store, 2_500);
    const app = [{ type: 'string' as const, value: String(APP) }];

    const referenced = await readReferences({
      runner: runner(),
      app,
      store,
      objectTargets: [],
      archived: new Set(),
    });

    expect(referenced.size).toBe(2_500);
    expect([...referenced.values()].map((r) => r.seq).sort((a, b) => a - b)).toEqual(
      Array.from({ length: 2_500 }, (_, i) => i + 1),
    );
    const starts = athena.commandCalls(StartQueryExecutionCommand).map((c) => c.args[0].input);
    expect(starts).toHaveLength(1);
    const sql = starts[0]?.QueryString ?? '';
    expect(sql).toMatch(
      /^UNLOAD \(SELECT f\.path, [\s\S]*WITH ORDINALITY[\s\S]*\)\nTO 's3:\/\/bucket\/prefix\/audits\/unload\/audit-[0-9a-f-]{36}\/'\nWITH \(format = 'JSON', compression = 'GZIP'\)$/,
    );
    expect(starts[0]?.ExecutionParameters).toEqual([`'${APP}'`]);
    // The statement's own (empty) result once; the 2,500 rows came from the two files.
    expect(athena.commandCalls(GetQueryResultsCommand)).toHaveLength(1);
    // The files were read, then deleted.
    const left: string[] = [];
    for await (const key of store.list('audits/unload/')) left.push(key);
    expect(left).toEqual([]);
    expect(store.calls.filter((c) => c.op === 'get' && c.key.startsWith('audits/unload/'))).toHaveLength(2);
  });

  it('keeps a quote in the archive location from ending the TO literal', () => {
    expect(unloadSql('SELECT 1', "s3://b/it's/")).toBe(
      "UNLOAD (SELECT 1)\nTO 's3://b/it''s/'\nWITH (format = 'JSON', compression = 'GZIP')",
    );
  });

  it('pages the query result when the archive is not on S3 (no UNLOAD)', async () => {
    const store = new MemoryStore();
    athena.on(StartQueryExecutionCommand).resolves({ QueryExecutionId: 'q2' });
    athena.on(GetQueryExecutionCommand).resolves({
      QueryExecution: { QueryExecutionId: 'q2', StatementType: 'DML', Status: { State: 'SUCCEEDED' } },
    });
    athena.on(GetQueryResultsCommand).resolves({
      ResultSet: {
        ResultSetMetadata: { ColumnInfo: [{ Name: 'n', Label: 'n', Type: 'integer' }] },
        Rows: [{ Data: [{ VarCharValue: 'n' }] }, { Data: [{ VarCharValue: '7' }] }],
      },
    });
    const rows = [];
    for await (const r of largeResultRows({ runner: runner(), store, sql: 'SELECT 7 AS n', values: [] }))
      rows.push(r);
    expect(rows).toEqual([{ n: '7' }]);
    expect(athena.commandCalls(StartQueryExecutionCommand)[0]?.args[0].input.QueryString).toBe(
      'SELECT 7 AS n',
    );
  });
});
