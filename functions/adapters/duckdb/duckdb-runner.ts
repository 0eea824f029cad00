/**
 * The query-runner port on DuckDB: an in-memory database that reads local files. It knows nothing
 * of the archive's tables; the query layer creates them through `run` (see
 * `functions/query/local-archive.ts`).
 */
import {
  type DuckDBConnection,
  DuckDBInstance,
  type DuckDBType,
  DuckDBTypeId,
  type DuckDBValue,
  StatementType,
} from '@duckdb/node-api';
import { QueryUsageError } from '../../query/errors.ts';
import type {
  Cell,
  ParamValue,
  QueryResult,
  QueryRunner,
  ResultColumn,
  ValueKind,
} from '../../query/port.ts';

function kindOf(type: DuckDBType): ValueKind {
  switch (type.typeId) {
    case DuckDBTypeId.TINYINT:
    case DuckDBTypeId.SMALLINT:
    case DuckDBTypeId.INTEGER:
    case DuckDBTypeId.BIGINT:
    case DuckDBTypeId.HUGEINT:
    case DuckDBTypeId.UTINYINT:
    case DuckDBTypeId.USMALLINT:
    case DuckDBTypeId.UINTEGER:
    case DuckDBTypeId.UBIGINT:
    case DuckDBTypeId.UHUGEINT:
      return 'integer';
    case DuckDBTypeId.FLOAT:
    case DuckDBTypeId.DOUBLE:
    case DuckDBTypeId.DECIMAL:
      return 'number';
    case DuckDBTypeId.BOOLEAN:
      return 'boolean';
    default:
      return 'string';
  }
}

/** Renders a DuckDB value as the text Athena would return for it. */
function cellOf(value: DuckDBValue): Cell {
  if (value === null) return null;
  if (typeof value === 'string') return value;
  return String(value);
}

/** DuckDB's words for an access its `enable_external_access = false` refused. */
const ACCESS_REFUSED = /disabled by configuration|the configuration has been locked/;

/** A SQL string literal, quotes doubled. */
const literal = (text: string) => `'${text.replaceAll("'", "''")}'`;

/** One in-memory DuckDB database with one connection. */
export class DuckDbRunner implements QueryRunner {
  public readonly dialect = 'duckdb' as const;
  /** Set by {@link lockDown}: what to tell someone whose SQL was refused. */
  private lockedHint: string | undefined;

  private constructor(
    private readonly instance: DuckDBInstance,
    private readonly connection: DuckDBConnection,
  ) {}

  /** Opens an empty in-memory database. */
  public static async open(): Promise<DuckDbRunner> {
    const instance = await DuckDBInstance.create(':memory:');
    try {
      return new DuckDbRunner(instance, await instance.connect());
    } catch (error) {
      instance.closeSync();
      throw error;
    }
  }

  /**
   * Locks file access down, for good, once the tables and views exist: from then on DuckDB reads
   * only below `directories` (with `/` at the end; the archive) and writes nowhere. Without it, any
   * SQL could read every file the user can (`read_text('/etc/passwd')`) and write anywhere
   * (`COPY … TO`). `enable_external_access = false` refuses every other file, extension and
   * attachment; `lock_configuration` keeps a later `SET` from undoing it; and, since DuckDB would
   * still let `COPY … TO` write below an allowed directory, only SELECT statements run at all.
   * `hint` is added to the message of a refused statement (how to lift the lock).
   */
  public async lockDown(directories: readonly string[], hint: string): Promise<void> {
    await this.connection.run(`SET allowed_directories = [${directories.map(literal).join(', ')}]`);
    await this.connection.run('SET enable_external_access = false');
    await this.connection.run('SET lock_configuration = true');
    this.lockedHint = hint;
  }

  /** Runs SQL with positional `?` parameters bound from validated values (never pasted in). */
  public async run(sql: string, values: readonly ParamValue[] = []): Promise<QueryResult> {
    try {
      return await this.runUnguarded(sql, values);
    } catch (error) {
      const hint = this.lockedHint;
      if (hint === undefined || !ACCESS_REFUSED.test((error as Error).message)) throw error;
      throw new QueryUsageError(`${(error as Error).message.split('\n')[0]} (${hint})`, { cause: error });
    }
  }

  private async runUnguarded(sql: string, values: readonly ParamValue[]): Promise<QueryResult> {
    const prepared = await this.connection.prepare(sql);
    if (this.lockedHint !== undefined && prepared.statementType !== StatementType.SELECT) {
      throw new QueryUsageError(
        `only a query (SELECT …) runs on a local archive, since file access is locked down (${this.lockedHint})`,
      );
    }
    values.forEach((v, i) => {
      if (v.type === 'integer') prepared.bindBigInt(i + 1, v.value);
      else prepared.bindVarchar(i + 1, v.value);
    });
    const result = await prepared.stream();
    const names = result.deduplicatedColumnNames();
    const columns: ResultColumn[] = result.columnTypes().map((type, i) => ({
      name: names[i] ?? `_col${i}`,
      kind: kindOf(type),
      engineType: type.toString(),
    }));
    async function* rows(): AsyncGenerator<Cell[]> {
      for await (const chunk of result.yieldRows()) {
        for (const row of chunk) yield row.map(cellOf);
      }
    }
    return { columns, rows: rows() };
  }

  /** Interrupts the running query (it then fails with DuckDB's interrupt error). */
  public interrupt(): void {
    this.connection.interrupt();
  }

  public close(): void {
    this.connection.closeSync();
    this.instance.closeSync();
  }
}
