/**
 * Helpers over the port's result shape (the shape itself is in `port.ts`).
 */
import type { Cell, QueryResult } from './port.ts';

export type { Cell, QueryResult, ResultColumn, ValueKind } from './port.ts';

/** Reads an async iterable fully (for small results and tests). */
export async function collectRows(result: QueryResult): Promise<Cell[][]> {
  const rows: Cell[][] = [];
  for await (const row of result.rows) rows.push([...row]);
  return rows;
}

/** The rows as objects keyed by column name (small results). */
export async function collectObjects(result: QueryResult): Promise<Record<string, Cell>[]> {
  const rows = await collectRows(result);
  return rows.map((row) => Object.fromEntries(result.columns.map((c, i) => [c.name, row[i] ?? null])));
}
