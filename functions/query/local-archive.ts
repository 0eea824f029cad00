/**
 * A local archive folder as tables: the same `messages`, `runs`, `media`, identity, callback and
 * one-to-one tables and the same views as on Athena, created through a DuckDB query runner, so a
 * local archive is queried with the same commands. The SQL lives here (the query layer); the runner only executes it.
 *
 * How the mirror matches Athena:
 * - `read_json` over the `sdkappid=*\/dt=*` folders with `hive_partitioning = true` and
 *   `hive_types_autocast = false`, so the partition columns are strings as in Athena.
 * - Explicit column types derived from `RECORD_COLUMNS` / `RUN_REPORT_COLUMNS` (no inference),
 *   partition columns last, in Athena's order.
 * - Where DuckDB differs, the difference is contained: DuckDB matches JSON keys to struct fields
 *   case-sensitively, so `msg_content` (the API's mixed-case `MsgContent`) and the run report's
 *   `errors`, `media` and passes' sections (`identities`, `c2c`, `callbacks`) are read as JSON
 *   instead of structs; the views read them with JSON paths.
 * - Athena's hidden `"$path"` (the object a row came from) is a column named `$path` here.
 * - The archive folder's own name is matched literally: DuckDB reads every path as a glob, so a `[`,
 *   `*` or `?` in it would match other folders, or none (see {@link globLiteral}).
 */
import { resolve } from 'node:path';
import { IDENTITY_KINDS } from '../domain/identity-rows.ts';
import { MANIFEST_COLUMNS } from '../domain/media-manifest.ts';
import { assertTimeZone } from '../domain/partition.ts';
import { C2C_FOLDER, C2C_MESSAGES_TABLE, c2cColumns } from './c2c-tables.ts';
import {
  CALLBACK_EVENTS_TABLE,
  CALLBACK_ROW_TABLES,
  CALLBACKS_FOLDER,
  callbackEventColumns,
  callbackRowsFolder,
} from './callback-tables.ts';
import {
  HISTORY_FILE_HOURS_TABLE,
  HISTORY_FILE_MESSAGES_TABLE,
  HISTORY_HOURS_FOLDER,
  HISTORY_INDEX_FOLDER,
  historyFileHourColumns,
  historyFileMessageColumns,
} from './history-file-tables.ts';
import { parseHiveType, toDuckDbType } from './hive-types.ts';
import { IDENTITY_TABLES, identityColumns, identityFolder } from './identity-tables.ts';
import { MEDIA_COLUMN_SPEC, MEDIA_TABLE } from './media-table.ts';
import { RECORD_COLUMNS } from './message-schema.ts';
import type { QueryRunner } from './port.ts';
import { collectRows } from './result.ts';
import { MESSAGES_TABLE, RUN_REPORT_COLUMNS, RUNS_TABLE } from './tables.ts';
import { duckdbViewSql, sqlIdentifier, sqlString, VIEWS } from './views.ts';

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
const RUN_JSON_COLUMNS = new Set(['errors', 'media', 'identities', 'c2c', 'callbacks', 'history_files']);

const RUN_MIRROR: readonly MirrorColumn[] = RUN_REPORT_COLUMNS.map((c) => ({
  key: c.key,
  name: c.name,
  type: RUN_JSON_COLUMNS.has(c.name) ? 'JSON' : toDuckDbType(parseHiveType(c.type)),
}));

const MEDIA_MIRROR: readonly MirrorColumn[] = MANIFEST_COLUMNS.map((name) => ({
  key: name,
  name,
  type: toDuckDbType(parseHiveType(MEDIA_COLUMN_SPEC[name][0])),
}));

/** The identity tables' mirrors, from the same column lists as the Glue tables. */
const IDENTITY_MIRRORS = IDENTITY_KINDS.map((kind) => ({
  kind,
  name: IDENTITY_TABLES[kind],
  columns: identityColumns(kind).map((c) => ({
    key: c.name,
    name: c.name,
    type: toDuckDbType(parseHiveType(c.type)),
  })),
}));

/** The callback rows' mirror (issue 25), from the same column list as the Glue table. */
const CALLBACK_MIRROR: readonly MirrorColumn[] = callbackEventColumns().map((c) => ({
  key: c.name,
  name: c.name,
  type: toDuckDbType(parseHiveType(c.type)),
}));

/** The one-to-one rows' mirror (issue 26), from the same column list as the Glue table. */
/** The materialized callback rows' mirrors (issue 25), from the same column lists as the Glue tables. */
const CALLBACK_ROW_MIRRORS = CALLBACK_ROW_TABLES.map((table) => ({
  name: table.name,
  folder: callbackRowsFolder(table.kind),
  columns: table.columns.map((c) => ({
    key: c.name,
    name: c.name,
    type: toDuckDbType(parseHiveType(c.type), { jsonFields: new Set(['msg_content']) }),
  })),
}));

const C2C_MIRROR: readonly MirrorColumn[] = c2cColumns().map((c) => ({
  key: c.name,
  name: c.name,
  type: toDuckDbType(parseHiveType(c.type), { jsonFields: new Set(['msg_content']) }),
}));

/** The hourly files' identity and hour rows (issue 26), from the same column lists as the Glue tables. */
const HISTORY_MIRRORS = [
  { name: HISTORY_FILE_MESSAGES_TABLE, folder: HISTORY_INDEX_FOLDER, columns: historyFileMessageColumns() },
  { name: HISTORY_FILE_HOURS_TABLE, folder: HISTORY_HOURS_FOLDER, columns: historyFileHourColumns() },
].map((t) => ({
  ...t,
  columns: t.columns.map((c) => ({ key: c.name, name: c.name, type: toDuckDbType(parseHiveType(c.type)) })),
}));

const PARTITIONS = ['sdkappid', 'dt'] as const;

/**
 * The object each row was read from, under Athena's name for its hidden pseudo-column, so the same
 * SQL (`SELECT DISTINCT "$path" …`) finds the objects on both engines.
 */
export const PATH_COLUMN = '$path';

/** The SELECT that mirrors one Athena table over `<root>/<folder>/sdkappid=*\/dt=*\/<file pattern>`. */
function mirrorSql(glob: string, columns: readonly MirrorColumn[], compression: string): string {
  const types = columns.map((c) => `${sqlString(c.key)}: ${sqlString(c.type)}`).join(', ');
  const select = [
    ...columns.map((c) => `${sqlIdentifier(c.key)} AS ${sqlIdentifier(c.name)}`),
    ...PARTITIONS,
    `filename AS ${sqlIdentifier(PATH_COLUMN)}`,
  ].join(', ');
  return (
    `SELECT ${select} FROM read_json(${sqlString(glob)}, format = 'newline_delimited', ` +
    `compression = ${sqlString(compression)}, hive_partitioning = true, hive_types_autocast = false, ` +
    `filename = true, columns = {${types}})`
  );
}

/** The same columns with no rows, for an archive that has no such files yet. */
function emptySql(columns: readonly MirrorColumn[]): string {
  const select = [
    ...columns.map((c) => `CAST(NULL AS ${c.type}) AS ${sqlIdentifier(c.name)}`),
    ...PARTITIONS.map((p) => `CAST(NULL AS VARCHAR) AS ${p}`),
    `CAST(NULL AS VARCHAR) AS ${sqlIdentifier(PATH_COLUMN)}`,
  ].join(', ');
  return `SELECT ${select} WHERE false`;
}

/**
 * A path as a DuckDB glob that matches exactly that path: each `[`, `*` and `?` becomes a one-character
 * class (`[[]`, `[*]`, `[?]`). DuckDB has no backslash escape; `]`, `{` and `}` alone are literal.
 */
export function globLiteral(path: string): string {
  return path.replace(/[[*?]/g, (ch) => `[${ch}]`);
}

/** Options of {@link mirrorLocalArchive}. */
export interface LocalArchiveOptions {
  /** The archive's `archive.timeZone`: the views show local times in it. */
  readonly timeZone: string;
}

/**
 * Creates the tables (`messages`, `runs`, `media`, `identity_users`, `identity_groups`,
 * `identity_members`, `callback_events`, `c2c_messages`) and the views over the folder `root` (the folder `archive.out` points at) in
 * a DuckDB runner. Folders without files yet give empty tables, so every view works on an archive
 * that has no identity rows yet (its names fall back to the account).
 *
 * @returns the directories the tables read, each as a path and as the glob-escaped form the views
 *   name it by (both end in `/`): what DuckDB must still be allowed to read once file access is
 *   locked down (see functions/adapters/duckdb/duckdb-runner.ts).
 * @throws ConfigError (field `archive.timeZone`) for an unknown zone.
 */
export async function mirrorLocalArchive(
  runner: QueryRunner,
  root: string,
  options: LocalArchiveOptions,
): Promise<string[]> {
  if (runner.dialect !== 'duckdb') throw new RangeError('a local archive is mirrored on DuckDB only');
  assertTimeZone(options.timeZone);
  // Absolute, so that no `~` or relative part is read differently by DuckDB.
  const folder = resolve(root);
  const base = globLiteral(folder).replace(/\/+$/, '');
  await exec(runner, `SET TimeZone = ${sqlString(options.timeZone)}`);
  await createMirror(runner, {
    name: MESSAGES_TABLE,
    glob: `${base}/messages/sdkappid=*/dt=*/*.ndjson.gz`,
    columns: MESSAGE_MIRROR,
    compression: 'gzip',
  });
  await createMirror(runner, {
    name: RUNS_TABLE,
    glob: `${base}/runs/sdkappid=*/dt=*/*.json`,
    columns: RUN_MIRROR,
    compression: 'uncompressed',
  });
  await createMirror(runner, {
    name: MEDIA_TABLE,
    glob: `${base}/media-manifest/sdkappid=*/dt=*/*.ndjson.gz`,
    columns: MEDIA_MIRROR,
    compression: 'gzip',
  });
  for (const mirror of IDENTITY_MIRRORS) {
    await createMirror(runner, {
      name: mirror.name,
      glob: `${base}/${identityFolder(mirror.kind)}sdkappid=*/dt=*/*.ndjson.gz`,
      columns: mirror.columns,
      compression: 'gzip',
    });
  }
  await createMirror(runner, {
    name: CALLBACK_EVENTS_TABLE,
    glob: `${base}/${CALLBACKS_FOLDER}sdkappid=*/dt=*/*.ndjson.gz`,
    columns: CALLBACK_MIRROR,
    compression: 'gzip',
  });
  await createMirror(runner, {
    name: C2C_MESSAGES_TABLE,
    glob: `${base}/${C2C_FOLDER}sdkappid=*/dt=*/*.ndjson.gz`,
    columns: C2C_MIRROR,
    compression: 'gzip',
  });
  for (const mirror of HISTORY_MIRRORS) {
    await createMirror(runner, {
      name: mirror.name,
      glob: `${base}/${mirror.folder}sdkappid=*/dt=*/*.ndjson.gz`,
      columns: mirror.columns,
      compression: 'gzip',
    });
  }
  for (const mirror of CALLBACK_ROW_MIRRORS) {
    await createMirror(runner, {
      name: mirror.name,
      glob: `${base}/${mirror.folder}sdkappid=*/dt=*/*.ndjson.gz`,
      columns: mirror.columns,
      compression: 'gzip',
    });
  }
  for (const view of VIEWS) {
    await exec(
      runner,
      `CREATE VIEW ${sqlIdentifier(view.name)} AS ${duckdbViewSql(view, { timeZone: options.timeZone })}`,
    );
  }
  return [...new Set([`${folder.replace(/\/+$/, '')}/`, `${base}/`])];
}

/** One mirrored table: its name, the files it reads, their columns and their compression. */
interface MirrorSpec {
  readonly name: string;
  readonly glob: string;
  readonly columns: readonly MirrorColumn[];
  readonly compression: string;
}

/** Creates the view `name` over the files of `glob`, or an empty table of its columns when there are none. */
async function createMirror(runner: QueryRunner, spec: MirrorSpec): Promise<void> {
  const { name, glob, columns, compression } = spec;
  const found = await collectRows(await runner.run(`SELECT count(*) FROM glob(${sqlString(glob)})`));
  const files = Number(found[0]?.[0] ?? 0);
  const select = files > 0 ? mirrorSql(glob, columns, compression) : emptySql(columns);
  await exec(runner, `CREATE VIEW ${sqlIdentifier(name)} AS ${select}`);
}

/** Runs a statement and drains its (empty) result. */
async function exec(runner: QueryRunner, sql: string): Promise<void> {
  await collectRows(await runner.run(sql));
}
