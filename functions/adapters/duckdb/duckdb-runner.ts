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
} from '@duckdb/node-api';
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

/** One in-memory DuckDB database with one connection. */
export class DuckDbRunner implements QueryRunner {
  public readonly dialect = 'duckdb' as const;

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

  /** Runs SQL with positional `?` parameters bound from validated values (never pasted in). */
  public async run(sql: string, values: readonly ParamValue[] = []): Promise<QueryResult> {
    const prepared = await this.connection.prepare(sql);
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
