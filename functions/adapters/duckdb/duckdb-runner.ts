/**
 * The archive in a local folder, queried with DuckDB: the same tables, views and named queries as
 * on Athena, so the local demo can be queried with the same commands.
 *
 * How the mirror matches Athena:
 * - `read_json` over the `sdkappid=*\/dt=*` folders with `hive_partitioning = true` and
 *   `hive_types_autocast = false`, so the partition columns are strings as in Athena.
 * - Explicit column types derived from `RECORD_COLUMNS` / `RUN_REPORT_COLUMNS` (no inference),
 *   partition columns last, in Athena's order.
 * - Where DuckDB differs, the difference is contained: DuckDB matches JSON keys to struct fields
 *   case-sensitively, so `msg_content` (the API's mixed-case `MsgContent`) and the run report's
 *   `errors` are read as JSON instead of structs; the views read neither.
 */
import {
  type DuckDBConnection,
  DuckDBInstance,
  type DuckDBType,
  DuckDBTypeId,
  type DuckDBValue,
} from '@duckdb/node-api';
import { assertTimeZone } from '../../domain/partition.ts';
import { parseHiveType, toDuckDbType } from '../../query/hive-types.ts';
import { RECORD_COLUMNS } from '../../query/message-schema.ts';
import { compiledFor, type NamedQuery, orderedValues, type ParamValue } from '../../query/named-queries.ts';
import type { Cell, QueryResult, ResultColumn, ValueKind } from '../../query/result.ts';
import { MESSAGES_TABLE, RUN_REPORT_COLUMNS, RUNS_TABLE } from '../../query/tables.ts';
import { duckdbViewSql, sqlIdentifier, sqlString, VIEWS } from '../../query/views.ts';

/** A column of a DuckDB mirror: the JSON key it reads, its name in the table and its DuckDB type. */
interface MirrorColumn {
  readonly key: string;
  readonly name: string;
  readonly type: string;
}

const MESSAGE_MIRROR: readonly MirrorColumn[] = RECORD_COLUMNS.map((c) => ({
  key: c.name,
  name: c.name,
  type: toDuckDbType(parseHiveType(c.athenaType), { jsonFields: new Set(['msg_content']) }),
}));

/** Run-report columns whose nested keys are camelCase: read as JSON (see the file header). */
const RUN_JSON_COLUMNS = new Set(['errors']);

const RUN_MIRROR: readonly MirrorColumn[] = RUN_REPORT_COLUMNS.map((c) => ({
  key: c.key,
  name: c.name,
  type: RUN_JSON_COLUMNS.has(c.name) ? 'JSON' : toDuckDbType(parseHiveType(c.type)),
}));

const PARTITIONS = ['sdkappid', 'dt'] as const;

/** The SELECT that mirrors one Athena table over `<root>/<folder>/sdkappid=*\/dt=*\/<file pattern>`. */
function mirrorSql(glob: string, columns: readonly MirrorColumn[], compression: string): string {
  const types = columns.map((c) => `${sqlString(c.key)}: ${sqlString(c.type)}`).join(', ');
  const select = [
    ...columns.map((c) => `${sqlIdentifier(c.key)} AS ${sqlIdentifier(c.name)}`),
    ...PARTITIONS,
  ].join(', ');
  return (
    `SELECT ${select} FROM read_json(${sqlString(glob)}, format = 'newline_delimited', ` +
    `compression = ${sqlString(compression)}, hive_partitioning = true, hive_types_autocast = false, ` +
    `columns = {${types}})`
  );
}

/** The same columns with no rows, for an archive that has no such files yet. */
function emptySql(columns: readonly MirrorColumn[]): string {
  const select = [
    ...columns.map((c) => `CAST(NULL AS ${c.type}) AS ${sqlIdentifier(c.name)}`),
    ...PARTITIONS.map((p) => `CAST(NULL AS VARCHAR) AS ${p}`),
  ].join(', ');
  return `SELECT ${select} WHERE false`;
}

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

/** Options of {@link DuckDbArchive.open}. */
export interface DuckDbArchiveOptions {
  /** The archive's `archive.timeZone`: the views show local times in it. */
  readonly timeZone: string;
}

/** A local archive folder opened in an in-memory DuckDB, with the tables and views created. */
export class DuckDbArchive {
  private constructor(
    private readonly instance: DuckDBInstance,
    private readonly connection: DuckDBConnection,
  ) {}

  /**
   * Opens `root` (the folder `archive.out` points at) and creates `messages`, `runs`,
   * `messages_flat` and `runs_flat`. Folders without files yet give empty tables.
   *
   * @throws ConfigError (field `archive.timeZone`) for an unknown zone.
   */
  public static async open(root: string, options: DuckDbArchiveOptions): Promise<DuckDbArchive> {
    assertTimeZone(options.timeZone);
    const instance = await DuckDBInstance.create(':memory:');
    const connection = await instance.connect();
    const archive = new DuckDbArchive(instance, connection);
    try {
      const base = root.replace(/\/+$/, '');
      await connection.run(`SET TimeZone = ${sqlString(options.timeZone)}`);
      await archive.createMirror(
        MESSAGES_TABLE,
        `${base}/messages/sdkappid=*/dt=*/*.ndjson.gz`,
        MESSAGE_MIRROR,
        'gzip',
      );
      await archive.createMirror(
        RUNS_TABLE,
        `${base}/runs/sdkappid=*/dt=*/*.json`,
        RUN_MIRROR,
        'uncompressed',
      );
      for (const view of VIEWS) {
        await connection.run(
          `CREATE VIEW ${sqlIdentifier(view.name)} AS ${duckdbViewSql(view, { timeZone: options.timeZone })}`,
        );
      }
      return archive;
    } catch (error) {
      archive.close();
      throw error;
    }
  }

  private async createMirror(
    name: string,
    glob: string,
    columns: readonly MirrorColumn[],
    compression: string,
  ): Promise<void> {
    const found = await this.connection.runAndReadAll(`SELECT count(*) FROM glob(${sqlString(glob)})`);
    const files = Number(found.getRows()[0]?.[0] ?? 0);
    const select = files > 0 ? mirrorSql(glob, columns, compression) : emptySql(columns);
    await this.connection.run(`CREATE VIEW ${sqlIdentifier(name)} AS ${select}`);
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

  /** Runs a named query with its validated parameters. */
  public async runNamed(query: NamedQuery, values: ReadonlyMap<string, ParamValue>): Promise<QueryResult> {
    const compiled = compiledFor(query, 'duckdb');
    return this.run(compiled.sql, orderedValues(compiled, values));
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
