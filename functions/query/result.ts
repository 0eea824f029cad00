/**
 * One result shape for both engines, so the export writers do not care where rows came from.
 * Cells are text (Athena returns only text; DuckDB values are rendered to the same text) or null,
 * and each column has a kind that decides how JSONL writes it.
 */

/** How a column's text is written to JSONL. */
export type ValueKind = 'integer' | 'number' | 'boolean' | 'string';

export interface ResultColumn {
  readonly name: string;
  readonly kind: ValueKind;
  /** The engine's own type name (`bigint`, `VARCHAR[]`), for messages. */
  readonly engineType: string;
}

export type Cell = string | null;

/** A query result: columns known up front, rows streamed. */
export interface QueryResult {
  readonly columns: readonly ResultColumn[];
  readonly rows: AsyncIterable<readonly Cell[]>;
}

/** Kind of an Athena/Trino type name as `GetQueryResults` reports it (`bigint`, `varchar`, `decimal`). */
export function athenaKind(type: string): ValueKind {
  const base = type.toLowerCase().replace(/\(.*$/, '');
  if (['tinyint', 'smallint', 'integer', 'int', 'bigint'].includes(base)) return 'integer';
  if (['double', 'real', 'float', 'decimal'].includes(base)) return 'number';
  if (base === 'boolean') return 'boolean';
  return 'string';
}

/** Reads an async iterable fully (for small results and tests). */
export async function collectRows(result: QueryResult): Promise<Cell[][]> {
  const rows: Cell[][] = [];
  for await (const row of result.rows) rows.push([...row]);
  return rows;
}
