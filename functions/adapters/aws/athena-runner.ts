/**
 * Runs one query on Athena: start it, poll until it finishes (with progress), then page through
 * the results. Time is injected (`Clock`), so tests poll without waiting.
 *
 * Failures become typed errors with a message that says what to do: FAILED carries Athena's
 * reason, CANCELLED says who stopped it, and the bytes-scanned cutoff explains the workgroup limit
 * and how to narrow the query by `dt`.
 */
import {
  AthenaClient,
  GetQueryExecutionCommand,
  GetQueryResultsCommand,
  GetWorkGroupCommand,
  type QueryExecution,
  StartQueryExecutionCommand,
  StopQueryExecutionCommand,
} from '@aws-sdk/client-athena';
import { AbortedError } from '../../domain/errors.ts';
import type { Clock } from '../../domain/ports.ts';
import type {
  Cell,
  ParamValue,
  QueryResult,
  QueryRunner,
  ResultColumn,
  ValueKind,
} from '../../query/port.ts';
import {
  BytesScannedLimitError,
  QueryCancelledError,
  QueryExecutionError,
  QueryFailedError,
  QueryTimeoutError,
} from '../errors.ts';

/** What the poller reports after every status check. */
export interface AthenaProgress {
  readonly queryExecutionId: string;
  readonly state: string;
  readonly bytesScanned: number;
  readonly elapsedMs: number;
}

export interface AthenaRunnerOptions {
  readonly client: AthenaClient;
  readonly clock: Clock;
  readonly workGroup: string;
  readonly database: string;
  readonly catalog?: string;
  /** First wait between status checks; it grows by half each time up to `maxPollMs`. Default 500. */
  readonly initialPollMs?: number;
  /** Default 5000. */
  readonly maxPollMs?: number;
  /** Stop the query after this long. Default 30 minutes. */
  readonly timeoutMs?: number;
  /** Rows per `GetQueryResults` page (Athena allows up to 1000). */
  readonly pageSize?: number;
  readonly onProgress?: (progress: AthenaProgress) => void;
  readonly signal?: AbortSignal;
}

const BYTES_LIMIT_REASON = /bytes scanned limit/i;

/**
 * Runs `sql` with positional `?` parameters (`executionParameters` are SQL literals, see
 * {@link athenaExecutionParameters}) and resolves when Athena has finished it successfully.
 *
 * @throws QueryFailedError | QueryCancelledError | BytesScannedLimitError | QueryTimeoutError
 * @throws AbortedError when `signal` aborts (the query is stopped first)
 */
export async function runAthenaQuery(
  sql: string,
  executionParameters: readonly string[],
  options: AthenaRunnerOptions,
): Promise<QueryResult> {
  const { client } = options;
  const started = await client.send(
    new StartQueryExecutionCommand({
      QueryString: sql,
      WorkGroup: options.workGroup,
      QueryExecutionContext: { Database: options.database, Catalog: options.catalog ?? 'AwsDataCatalog' },
      ...(executionParameters.length > 0 ? { ExecutionParameters: [...executionParameters] } : {}),
    }),
  );
  const id = started.QueryExecutionId;
  if (id === undefined) throw new QueryExecutionError('Athena did not return a QueryExecutionId', '');
  const execution = await waitForCompletion(id, options);
  return readResults(id, execution, options);
}

async function waitForCompletion(id: string, options: AthenaRunnerOptions): Promise<QueryExecution> {
  const { client, clock } = options;
  const startMs = clock.now();
  const timeoutMs = options.timeoutMs ?? 30 * 60_000;
  let waitMs = options.initialPollMs ?? 500;
  for (;;) {
    const { QueryExecution: execution } = await client.send(
      new GetQueryExecutionCommand({ QueryExecutionId: id }),
    );
    const state = execution?.Status?.State ?? 'QUEUED';
    const elapsedMs = clock.now() - startMs;
    options.onProgress?.({
      queryExecutionId: id,
      state,
      bytesScanned: execution?.Statistics?.DataScannedInBytes ?? 0,
      elapsedMs,
    });
    if (state === 'SUCCEEDED') return execution ?? {};
    if (state === 'FAILED' || state === 'CANCELLED') throw await failure(id, execution ?? {}, options);
    if (elapsedMs >= timeoutMs) {
      await stop(id, options);
      throw new QueryTimeoutError(id, timeoutMs);
    }
    try {
      await clock.sleep(Math.min(waitMs, timeoutMs - elapsedMs), options.signal);
    } catch (error) {
      await stop(id, options);
      throw new AbortedError(`Athena query ${id} stopped: the export was interrupted`, { cause: error });
    }
    waitMs = Math.min(Math.round(waitMs * 1.5), options.maxPollMs ?? 5_000);
  }
}

/** Best effort: a query we abandon should not keep scanning (and billing). */
async function stop(id: string, options: AthenaRunnerOptions): Promise<void> {
  await options.client.send(new StopQueryExecutionCommand({ QueryExecutionId: id })).catch(() => undefined);
}

async function failure(id: string, execution: QueryExecution, options: AthenaRunnerOptions): Promise<Error> {
  const status = execution.Status ?? {};
  const reason = status.StateChangeReason ?? status.AthenaError?.ErrorMessage ?? '';
  // The cutoff ends a query as CANCELLED on engine v3 (FAILED has been seen too): match the reason.
  if (BYTES_LIMIT_REASON.test(reason)) {
    return new BytesScannedLimitError(id, {
      workGroup: options.workGroup,
      reason,
      cutoffBytes: await workGroupCutoff(options),
      scannedBytes: execution.Statistics?.DataScannedInBytes,
    });
  }
  if (status.State === 'CANCELLED') return new QueryCancelledError(id, reason);
  const errorType = status.AthenaError?.ErrorType;
  return new QueryFailedError(id, reason, errorType === undefined ? undefined : `error type ${errorType}`);
}

/** The workgroup's per-query limit, for the message; undefined if it cannot be read. */
async function workGroupCutoff(options: AthenaRunnerOptions): Promise<number | undefined> {
  try {
    const { WorkGroup } = await options.client.send(
      new GetWorkGroupCommand({ WorkGroup: options.workGroup }),
    );
    return WorkGroup?.Configuration?.BytesScannedCutoffPerQuery;
  } catch {
    return undefined;
  }
}

/**
 * Pages through `GetQueryResults`. For a SELECT (statement type DML) the first row of the first
 * page repeats the column names, so it is skipped; other statements (SHOW, DESCRIBE) have none.
 */
async function readResults(
  id: string,
  execution: QueryExecution,
  options: AthenaRunnerOptions,
): Promise<QueryResult> {
  const { client } = options;
  const pageSize = options.pageSize ?? 1000;
  const first = await client.send(new GetQueryResultsCommand({ QueryExecutionId: id, MaxResults: pageSize }));
  const columns: ResultColumn[] = (first.ResultSet?.ResultSetMetadata?.ColumnInfo ?? []).map((c) => ({
    name: c.Label ?? c.Name ?? '',
    kind: athenaKind(c.Type ?? 'varchar'),
    engineType: c.Type ?? 'varchar',
  }));
  const hasHeader = execution.StatementType === 'DML';
  const toCells = (row: { Data?: { VarCharValue?: string }[] }): Cell[] =>
    columns.map((_, i) => row.Data?.[i]?.VarCharValue ?? null);

  async function* rows(): AsyncGenerator<Cell[]> {
    let page = first;
    let firstPage = true;
    for (;;) {
      const pageRows = page.ResultSet?.Rows ?? [];
      for (const row of firstPage && hasHeader ? pageRows.slice(1) : pageRows) yield toCells(row);
      if (page.NextToken === undefined) return;
      firstPage = false;
      page = await client.send(
        new GetQueryResultsCommand({ QueryExecutionId: id, MaxResults: pageSize, NextToken: page.NextToken }),
      );
    }
  }
  return { columns, rows: rows() };
}

/** Kind of an Athena/Trino type name as `GetQueryResults` reports it (`bigint`, `varchar`, `decimal`). */
export function athenaKind(type: string): ValueKind {
  const base = type.toLowerCase().replace(/\(.*$/, '');
  if (['tinyint', 'smallint', 'integer', 'int', 'bigint'].includes(base)) return 'integer';
  if (['double', 'real', 'float', 'decimal'].includes(base)) return 'number';
  if (base === 'boolean') return 'boolean';
  return 'string';
}

/**
 * Athena `ExecutionParameters`: each value is a SQL literal. Strings are quoted with embedded
 * quotes doubled, so a value can never end the literal; integers are validated digits.
 */
export function athenaExecutionParameters(values: readonly ParamValue[]): string[] {
  return values.map((v) =>
    v.type === 'integer' ? v.value.toString() : `'${v.value.replaceAll("'", "''")}'`,
  );
}

/** The query-runner port on Athena: each `run` is one query execution. */
export class AthenaQueryRunner implements QueryRunner {
  public readonly dialect = 'athena' as const;
  public constructor(private readonly options: AthenaRunnerOptions) {}

  public run(sql: string, values: readonly ParamValue[] = []): Promise<QueryResult> {
    return runAthenaQuery(sql, athenaExecutionParameters(values), this.options);
  }

  /** Nothing to release: each query ends on its own. */
  public close(): void {}
}

/** The Athena client for exports: region and credentials from the usual AWS environment. */
export function createAthenaClient(): AthenaClient {
  return new AthenaClient({});
}
