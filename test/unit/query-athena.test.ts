/**
 * The Athena export path at the SDK level (aws-sdk-client-mock): start, polling with progress on a
 * fake clock (no real waiting), result pagination, and one typed, actionable error per failure.
 */
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  AthenaClient,
  GetQueryExecutionCommand,
  GetQueryResultsCommand,
  type GetQueryResultsOutput,
  GetWorkGroupCommand,
  type QueryExecutionState,
  StartQueryExecutionCommand,
  StopQueryExecutionCommand,
} from '@aws-sdk/client-athena';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type AthenaProgress, runAthenaQuery } from '../../functions/adapters/aws/athena-runner.ts';
import {
  BytesScannedLimitError,
  QueryCancelledError,
  QueryFailedError,
  QueryTimeoutError,
} from '../../functions/adapters/errors.ts';
import { runExportCommand } from '../../functions/cli/export-command.ts';
import { AbortedError } from '../../functions/domain/errors.ts';
import { collectRows } from '../../functions/query/result.ts';
import { captureExportIo } from '../helpers/export.ts';
import { FakeClock } from '../helpers/fake-clock.ts';

const athena = mockClient(AthenaClient);
const client = new AthenaClient({ region: 'eu-central-1' });
const ID = 'q-1234';

beforeEach(() => athena.reset());
afterEach(() => athena.reset());

function status(
  state: QueryExecutionState,
  extra: { reason?: string; bytes?: number; type?: 'DML' | 'UTILITY' } = {},
) {
  return {
    QueryExecution: {
      QueryExecutionId: ID,
      StatementType: extra.type ?? 'DML',
      Status: { State: state, ...(extra.reason ? { StateChangeReason: extra.reason } : {}) },
      Statistics: { DataScannedInBytes: extra.bytes ?? 0 },
    },
  };
}

const COLUMNS = [
  { Name: 'group_id', Label: 'group_id', Type: 'varchar' },
  { Name: 'messages', Label: 'messages', Type: 'bigint' },
];
const row = (...cells: (string | undefined)[]) => ({
  Data: cells.map((c) => (c === undefined ? {} : { VarCharValue: c })),
});
function page(rows: ReturnType<typeof row>[], next?: string): GetQueryResultsOutput {
  return {
    ResultSet: { ResultSetMetadata: { ColumnInfo: COLUMNS }, Rows: rows },
    ...(next ? { NextToken: next } : {}),
  };
}

function options(clock: FakeClock, over: Partial<Parameters<typeof runAthenaQuery>[2]> = {}) {
  return { client, clock, workGroup: 'chat-archive', database: 'chat_archive', ...over };
}

describe('runAthenaQuery', () => {
  it('starts, polls QUEUED → RUNNING → SUCCEEDED with backoff, and pages through every result', async () => {
    athena.on(StartQueryExecutionCommand).resolves({ QueryExecutionId: ID });
    athena
      .on(GetQueryExecutionCommand)
      .resolvesOnce(status('QUEUED'))
      .resolvesOnce(status('RUNNING', { bytes: 1024 }))
      .resolvesOnce(status('RUNNING', { bytes: 4096 }))
      .resolves(status('SUCCEEDED', { bytes: 8192 }));
    athena
      .on(GetQueryResultsCommand)
      .resolvesOnce(page([row('group_id', 'messages'), row('@TGS#a', '3'), row('@TGS#b', '')], 'token-2'))
      .resolvesOnce(page([row('group_id', 'row-not-a-header'), row(undefined, '5')], 'token-3'))
      .resolvesOnce(page([row('@TGS#d', '9007199254740993')]));
    const clock = new FakeClock();
    const progress: AthenaProgress[] = [];

    const result = await runAthenaQuery(
      'SELECT ... WHERE dt = ? AND group_id = ?',
      ["'2024-03-01'", "'it''s'"],
      {
        ...options(clock),
        onProgress: (p) => progress.push(p),
      },
    );
    const rows = await collectRows(result);

    expect(athena.commandCalls(StartQueryExecutionCommand)[0]?.args[0].input).toEqual({
      QueryString: 'SELECT ... WHERE dt = ? AND group_id = ?',
      WorkGroup: 'chat-archive',
      QueryExecutionContext: { Database: 'chat_archive', Catalog: 'AwsDataCatalog' },
      ExecutionParameters: ["'2024-03-01'", "'it''s'"],
    });
    expect(result.columns.map((c) => [c.name, c.kind])).toEqual([
      ['group_id', 'string'],
      ['messages', 'integer'],
    ]);
    // Header skipped on the first page only; a missing VarCharValue is NULL, '' stays ''.
    expect(rows).toEqual([
      ['@TGS#a', '3'],
      ['@TGS#b', ''],
      ['group_id', 'row-not-a-header'],
      [null, '5'],
      ['@TGS#d', '9007199254740993'],
    ]);
    const tokens = athena.commandCalls(GetQueryResultsCommand).map((c) => c.args[0].input.NextToken);
    expect(tokens).toEqual([undefined, 'token-2', 'token-3']);
    expect(progress.map((p) => [p.state, p.bytesScanned])).toEqual([
      ['QUEUED', 0],
      ['RUNNING', 1024],
      ['RUNNING', 4096],
      ['SUCCEEDED', 8192],
    ]);
    // Virtual waits that grow by half, and elapsed time measured on the injected clock.
    expect(clock.sleeps).toEqual([500, 750, 1125]);
    expect(progress.at(-1)?.elapsedMs).toBe(2375);
  });

  it('does not skip a first row for statements without a header (SHOW, DESCRIBE)', async () => {
    athena.on(StartQueryExecutionCommand).resolves({ QueryExecutionId: ID });
    athena.on(GetQueryExecutionCommand).resolves(status('SUCCEEDED', { type: 'UTILITY' }));
    athena.on(GetQueryResultsCommand).resolves(page([row('messages', '1')]));
    const result = await runAthenaQuery('SHOW TABLES', [], options(new FakeClock()));
    expect(await collectRows(result)).toEqual([['messages', '1']]);
    expect(
      athena.commandCalls(StartQueryExecutionCommand)[0]?.args[0].input.ExecutionParameters,
    ).toBeUndefined();
  });

  it('raises QueryFailedError with Athena’s reason when the query FAILED', async () => {
    athena.on(StartQueryExecutionCommand).resolves({ QueryExecutionId: ID });
    const failed = status('FAILED', {
      reason: "COLUMN_NOT_FOUND: line 1:8: Column 'nope' cannot be resolved",
    });
    (failed.QueryExecution.Status as Record<string, unknown>).AthenaError = {
      ErrorType: 1006,
      ErrorCategory: 2,
    };
    athena.on(GetQueryExecutionCommand).resolves(failed);
    const error = await runAthenaQuery('SELECT nope', [], options(new FakeClock())).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(QueryFailedError);
    expect((error as Error).message).toBe(
      `Athena query ${ID} failed: COLUMN_NOT_FOUND: line 1:8: Column 'nope' cannot be resolved [error type 1006]`,
    );
    expect(athena.commandCalls(GetQueryResultsCommand)).toHaveLength(0);
  });

  it('raises QueryCancelledError when someone cancelled the query', async () => {
    athena.on(StartQueryExecutionCommand).resolves({ QueryExecutionId: ID });
    athena.on(GetQueryExecutionCommand).resolves(status('CANCELLED'));
    const error = await runAthenaQuery('SELECT 1', [], options(new FakeClock())).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(QueryCancelledError);
    expect((error as Error).message).toBe(`Athena query ${ID} was cancelled (by a user or an administrator)`);
  });

  it.each(['CANCELLED', 'FAILED'] as const)(
    'explains the workgroup bytes-scanned limit and how to narrow by dt (state %s)',
    async (state) => {
      athena.on(StartQueryExecutionCommand).resolves({ QueryExecutionId: ID });
      athena
        .on(GetQueryExecutionCommand)
        .resolves(status(state, { reason: 'Bytes scanned limit was exceeded', bytes: 10_737_418_240 }));
      athena.on(GetWorkGroupCommand, { WorkGroup: 'chat-archive' }).resolves({
        WorkGroup: { Name: 'chat-archive', Configuration: { BytesScannedCutoffPerQuery: 10_737_418_240 } },
      });
      const error = await runAthenaQuery('SELECT * FROM messages', [], options(new FakeClock())).catch(
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(BytesScannedLimitError);
      const message = (error as Error).message;
      expect(message).toContain('per-query limit of 10.0 GiB of workgroup "chat-archive"');
      expect(message).toContain('Bytes scanned limit was exceeded');
      expect(message).toContain("WHERE dt BETWEEN '2024-03-01' AND '2024-03-07'");
      expect(message).toContain('BytesScannedCutoffPerQuery');
      expect((error as BytesScannedLimitError).cutoffBytes).toBe(10_737_418_240);
    },
  );

  it('still explains the limit when the workgroup cannot be read', async () => {
    athena.on(StartQueryExecutionCommand).resolves({ QueryExecutionId: ID });
    athena
      .on(GetQueryExecutionCommand)
      .resolves(status('CANCELLED', { reason: 'Bytes scanned limit was exceeded' }));
    athena.on(GetWorkGroupCommand).rejects(new Error('AccessDenied'));
    const error = await runAthenaQuery('SELECT 1', [], options(new FakeClock())).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BytesScannedLimitError);
    expect((error as Error).message).toContain('per-query limit of workgroup "chat-archive"');
  });

  it('stops the query and raises QueryTimeoutError when it runs past the timeout', async () => {
    athena.on(StartQueryExecutionCommand).resolves({ QueryExecutionId: ID });
    athena.on(GetQueryExecutionCommand).resolves(status('RUNNING'));
    athena.on(StopQueryExecutionCommand).resolves({});
    const clock = new FakeClock();
    const error = await runAthenaQuery('SELECT 1', [], options(clock, { timeoutMs: 60_000 })).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(QueryTimeoutError);
    expect(athena.commandCalls(StopQueryExecutionCommand)[0]?.args[0].input).toEqual({
      QueryExecutionId: ID,
    });
    // Polling is capped at 5 s and never sleeps past the deadline.
    expect(Math.max(...clock.sleeps)).toBe(5_000);
    expect(clock.sleptMs).toBe(60_000);
  });

  it('stops the query when the caller aborts', async () => {
    athena.on(StartQueryExecutionCommand).resolves({ QueryExecutionId: ID });
    athena.on(GetQueryExecutionCommand).resolves(status('RUNNING'));
    athena.on(StopQueryExecutionCommand).resolves({});
    const abort = new AbortController();
    abort.abort(new Error('Ctrl-C'));
    const error = await runAthenaQuery(
      'SELECT 1',
      [],
      options(new FakeClock(), { signal: abort.signal }),
    ).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AbortedError);
    expect(athena.commandCalls(StopQueryExecutionCommand)).toHaveLength(1);
  });
});

describe('export command on an s3:// archive (Athena)', () => {
  let dir = '';
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'export-athena-'));
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  const deps = () => captureExportIo({ athenaClient: () => client });

  it('binds validated parameters as literals, prints progress and writes the CSV', async () => {
    athena.on(StartQueryExecutionCommand).resolves({ QueryExecutionId: ID });
    athena
      .on(GetQueryExecutionCommand)
      .resolvesOnce(status('RUNNING', { bytes: 2048 }))
      .resolves(status('SUCCEEDED', { bytes: 4096 }));
    athena.on(GetQueryResultsCommand).resolves(page([row('group_id', 'messages'), row('a,"b"', '2')]));
    const io = deps();
    const file = join(dir, 'out.csv');
    const code = await runExportCommand(
      [
        'conversation',
        '--params',
        "group_id=x' OR '1'='1",
        'from=2024-03-01',
        'to=2024-03-02',
        '--out',
        file,
        '--archive',
        's3://bucket/prefix',
        '--workgroup',
        'wg',
        '--database',
        'db',
      ],
      io.deps,
    );
    expect(code).toBe(0);
    const input = athena.commandCalls(StartQueryExecutionCommand)[0]?.args[0].input;
    expect(input?.WorkGroup).toBe('wg');
    expect(input?.QueryExecutionContext?.Database).toBe('db');
    expect(input?.QueryString).toContain('WHERE dt BETWEEN ? AND ? AND group_id = ?');
    expect(input?.ExecutionParameters).toEqual(["'2024-03-01'", "'2024-03-02'", "'x'' OR ''1''=''1'"]);
    expect(await readFile(file, 'utf8')).toBe('group_id,messages\r\n"a,""b""",2\r\n');
    expect(io.err.join('')).toMatch(/athena q-1234: RUNNING, 2\.0 KiB scanned, 0\.0 s\n/);
    expect(io.err.join('')).toMatch(/athena q-1234: SUCCEEDED, 4\.0 KiB scanned/);
    expect(io.out.join('')).toBe(`wrote 1 rows to ${file}\n`);
  });

  it.each([
    [[], 'messages_named'],
    [['--no-names'], 'messages_flat'],
  ])('runs the names variant unless %j (issue 24): reads %s', async (flags, view) => {
    athena.on(StartQueryExecutionCommand).resolves({ QueryExecutionId: ID });
    athena.on(GetQueryExecutionCommand).resolves(status('SUCCEEDED'));
    athena.on(GetQueryResultsCommand).resolves(page([row('group_id', 'messages')]));
    const params = ['group_id=g', 'from=2024-03-01', 'to=2024-03-02'];
    const out = ['--out', join(dir, 'out.csv'), '--archive', 's3://bucket/prefix', ...flags];
    expect(await runExportCommand(['conversation', '--params', ...params, ...out], deps().deps)).toBe(0);
    const sql = athena.commandCalls(StartQueryExecutionCommand)[0]?.args[0].input.QueryString ?? '';
    expect(sql).toContain(`FROM ${view}`);
    expect(sql.includes('from_name, from_role')).toBe(view === 'messages_named');
  });

  it('leaves no file (not even a partial one) when the query fails', async () => {
    athena.on(StartQueryExecutionCommand).resolves({ QueryExecutionId: ID });
    athena.on(GetQueryExecutionCommand).resolves(status('FAILED', { reason: 'boom' }));
    const io = deps();
    await expect(
      runExportCommand(['SELECT 1 AS x', '--out', join(dir, 'x.jsonl'), '--archive', 's3://b/p'], io.deps),
    ).rejects.toBeInstanceOf(QueryFailedError);
    expect(await readdir(dir)).toEqual([]);
  });

  it.each([
    [['nope', '--out', 'x.csv'], /unknown named query "nope"/],
    [
      ['daily-volume', '--params', 'from=2024-02-30', 'to=2024-03-01', '--out', 'x.csv'],
      /--params from: must be a date/,
    ],
    [
      ['daily-volume', '--params', 'from=2024-03-02', 'to=2024-03-01', '--out', 'x.csv'],
      /--params from: 2024-03-02 is after/,
    ],
    [['daily-volume', '--params', 'from=2024-03-01', '--out', 'x.csv'], /--params to: missing/],
    [
      ['daily-volume', '--params', 'from=2024-03-01', 'to=2024-03-01', 'zone=x', '--out', 'x.csv'],
      /--params zone: "daily-volume" has no such parameter/,
    ],
    [
      ['daily-volume', '--params', 'from=2024-03-01', 'to=2024-03-01', '--out', 'x.txt'],
      /must end in \.csv or \.jsonl/,
    ],
    [['SELECT 1', '--params', 'a=1', '--out', 'x.csv'], /only named queries take parameters/],
  ])('rejects bad usage with exit code 2 and a message naming the problem: %j', async (argv, message) => {
    const io = deps();
    expect(await runExportCommand(argv, io.deps)).toBe(2);
    expect(io.err.join('')).toMatch(message);
    expect(athena.calls()).toHaveLength(0);
  });
});
