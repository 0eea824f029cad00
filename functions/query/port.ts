/**
 * The query-runner port: how the query layer (exports, transcripts, the audit) runs SQL over the
 * archive without knowing which engine answers. Adapters implement it: DuckDB over a local folder
 * (`functions/adapters/duckdb`), Athena over S3 (`functions/adapters/aws/athena-runner.ts`). They
 * import nothing else from `functions/query/` but its errors (`errors.ts`; a test checks the import
 * statements).
 *
 * One result shape for both engines, so callers do not care where rows came from: cells are text
 * (Athena returns only text; DuckDB values are rendered to the same text) or null, and each column
 * has a kind that decides how JSONL writes it.
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

/** A validated parameter value, bound to a positional `?` (never pasted into the SQL). */
export type ParamValue =
  | { readonly type: 'string' | 'date'; readonly value: string }
  | { readonly type: 'integer'; readonly value: bigint };

/** The SQL dialect a runner speaks; the query layer picks the SQL variant by it. */
export type SqlDialect = 'athena' | 'duckdb';

/** Runs SQL over an archive. */
export interface QueryRunner {
  readonly dialect: SqlDialect;
  /**
   * Runs `sql` with positional `?` parameters bound from `values`, in order.
   * Engine failures are the adapter's typed errors (with `cause`).
   */
  run(sql: string, values?: readonly ParamValue[]): Promise<QueryResult>;
  /** Releases the engine (a no-op for a remote service). */
  close(): void;
}
