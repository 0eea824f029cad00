/**
 * The end of `npm start`: one named query over the demo archive with DuckDB, printed as a table,
 * with the command that reproduces it as a file export.
 */
import { DuckDbArchive } from '../adapters/duckdb/duckdb-runner.ts';
import { formatTable } from './export-format.ts';
import { findNamedQuery, parseParams } from './named-queries.ts';
import { collectRows } from './result.ts';

/** The query the demo runs: small output, touches every message. */
export const DEMO_QUERY = 'element-types';

/**
 * Runs {@link DEMO_QUERY} over the whole date range of the local archive at `root`.
 *
 * @returns the lines to print.
 */
export async function runDemoQuery(root: string, timeZone: string): Promise<string[]> {
  const query = findNamedQuery(DEMO_QUERY);
  if (query === undefined) throw new Error(`named query ${DEMO_QUERY} is missing`);
  if (root.startsWith('s3://')) {
    // DuckDB here reads local folders only; S3 archives are queried through Athena.
    return [
      `To query ${root}: npm run export -- ${DEMO_QUERY} --params from=… to=… --archive ${root} --out types.csv`,
    ];
  }
  const db = await DuckDbArchive.open(root, { timeZone });
  try {
    const range = await collectRows(await db.run('SELECT min(dt), max(dt) FROM messages'));
    const [from, to] = range[0] ?? [];
    if (from == null || to == null) return ['(the archive has no messages to query yet)'];
    const result = await db.runNamed(query, parseParams(query, { from, to }));
    const rows = await collectRows(result);
    return [
      `Query "${query.name}" (${query.description.toLowerCase()}) with DuckDB over ${root}, dt ${from} to ${to}:`,
      '',
      formatTable(result.columns, rows),
      '',
      'The same as a file, or against S3 through Athena with --archive s3://bucket/prefix:',
      `  npm run export -- ${query.name} --params from=${from} to=${to} --out element-types.csv`,
    ];
  } finally {
    db.close();
  }
}
