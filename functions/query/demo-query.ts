/**
 * The end of `npm start`: one named query over the demo archive with DuckDB, printed as a table,
 * with the command that reproduces it as a file export.
 */
import { formatTable } from './export-format.ts';
import { findNamedQuery, parseParams, runNamedQuery } from './named-queries.ts';
import type { QueryRunner } from './port.ts';
import { collectRows } from './result.ts';

/** The query the demo runs: small output, touches every message. */
export const DEMO_QUERY = 'element-types';

/**
 * Runs {@link DEMO_QUERY} over the whole date range of the local archive at `root`, opened in
 * `runner` (a DuckDB runner with the archive mirrored).
 *
 * @returns the lines to print.
 */
export async function runDemoQuery(runner: QueryRunner, root: string): Promise<string[]> {
  const query = findNamedQuery(DEMO_QUERY);
  if (query === undefined) throw new Error(`named query ${DEMO_QUERY} is missing`);
  const range = await collectRows(await runner.run('SELECT min(dt), max(dt) FROM messages'));
  const [from, to] = range[0] ?? [];
  if (from == null || to == null) return ['(the archive has no messages to query yet)'];
  const result = await runNamedQuery(runner, query, parseParams(query, { from, to }));
  const rows = await collectRows(result);
  return [
    `Query "${query.name}" (${query.description.toLowerCase()}) with DuckDB over ${root}, dt ${from} to ${to}:`,
    '',
    formatTable(result.columns, rows),
    '',
    'The same as a file, or against S3 through Athena with --archive s3://bucket/prefix:',
    `  npm run export -- ${query.name} --params from=${from} to=${to} --out element-types.csv`,
  ];
}

/** What the demo prints for an S3 archive, which DuckDB here does not read. */
export function demoQueryHintForS3(root: string): string[] {
  return [
    `To query ${root}: npm run export -- ${DEMO_QUERY} --params from=… to=… --archive ${root} --out types.csv`,
  ];
}
