/**
 * A large audit result on Athena through `UNLOAD`: the query writes its rows as gzip JSON files
 * under `audits/unload/<run id>/` in the archive (auditUnloadPrefix), and the audit reads those
 * files from the store, one at a time, instead of paging `GetQueryResults` 1,000 rows a call. The
 * files are deleted once read. Used for the media elements (one row per media element: about
 * 5 M rows at 100 M messages, docs/audit.md); DuckDB answers the query directly.
 */
import { randomUUID } from 'node:crypto';
import { gunzipSync } from 'node:zlib';
import { auditUnloadPrefix } from '../../domain/partition.ts';
import type { ObjectStore } from '../../domain/storage.ts';
import type { Cell, ParamValue, QueryRunner } from '../port.ts';
import { collectRows } from '../result.ts';
import { rowsOf } from './targets.ts';

type Row = Record<string, Cell>;

/** Whether `UNLOAD` serves this audit: Athena over an `s3://` archive. */
export function canUnload(runner: QueryRunner, store: ObjectStore): boolean {
  return runner.dialect === 'athena' && store.location.startsWith('s3://');
}

/** The `UNLOAD` statement for `sql` into `url` (an `s3://` folder; a quote in it is doubled). */
export function unloadSql(sql: string, url: string): string {
  return `UNLOAD (${sql})\nTO '${url.replaceAll("'", "''")}'\nWITH (format = 'JSON', compression = 'GZIP')`;
}

/** A JSON value of an unloaded row as a result cell (text, as both engines give cells). */
function cellOf(value: unknown): Cell {
  if (value === null || value === undefined) return null;
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return JSON.stringify(value);
}

/**
 * The rows of `sql`: through `UNLOAD` when {@link canUnload}, else the query's own result. Rows
 * are yielded file by file (a file is read whole, gunzipped and parsed, then deleted).
 */
export async function* largeResultRows(options: {
  readonly runner: QueryRunner;
  readonly store: ObjectStore;
  readonly sql: string;
  readonly values: readonly ParamValue[];
  /** Names the UNLOAD folder; default a random one. */
  readonly runId?: string;
}): AsyncGenerator<Row> {
  const { runner, store, sql, values } = options;
  if (!canUnload(runner, store)) {
    yield* await rowsOf(runner, sql, values);
    return;
  }
  const prefix = auditUnloadPrefix(options.runId ?? `audit-${randomUUID()}`);
  const url = `${store.location.replace(/\/+$/, '')}/${prefix}`;
  await collectRows(await runner.run(unloadSql(sql, url), values));
  const keys: string[] = [];
  for await (const key of store.list(prefix)) keys.push(key);
  for (const key of keys) {
    const object = await store.get(key);
    if (object === undefined) continue;
    const text = new TextDecoder().decode(isGzip(object.body) ? gunzipSync(object.body) : object.body);
    for (const line of text.split('\n')) {
      if (line.trim() === '') continue;
      const parsed = JSON.parse(line) as Record<string, unknown>;
      yield Object.fromEntries(Object.entries(parsed).map(([k, v]) => [k, cellOf(v)]));
    }
    await store.delete(key);
  }
}

const isGzip = (body: Uint8Array) => body[0] === 0x1f && body[1] === 0x8b;
