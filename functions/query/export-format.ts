/**
 * Writing a query result as CSV (RFC 4180) or JSON Lines, and as a small text table for the demo.
 * Pure: the writers produce strings; the export command streams them to a file.
 *
 * CSV is formula-safe by default (CSV injection, OWASP "CSV Injection"): chat text is written by
 * users, and a cell that starts with `=`, `+`, `-`, `@`, tab or CR is taken as a formula (or a DDE
 * command) when the file is opened in Excel, LibreOffice or Google Sheets; so is one where those
 * characters follow leading white space (spaces, LF, the ideographic space), which spreadsheets may
 * trim, or come in their full-width forms (`＝`, `＋`, `－`, `＠`), which some IMEs type and some
 * spreadsheets fold to ASCII. Such a cell gets a leading `'` and is quoted, as OWASP recommends,
 * so the spreadsheet shows it as text. Every other cell is written exactly as before (RFC 4180
 * only), and values of numeric columns that are real
 * numbers (`-5`, `-1.5e3`) are left alone: they cannot be formulas; so are Tencent's generated
 * group and topic ids (`@TGS#…` with only letters, digits, `_`, `#` and `@`), which hold no
 * operator, parenthesis or `|` and so cannot call anything, and which would otherwise no longer
 * match the ids elsewhere. `--raw-csv` turns it off.
 */
import type { Cell, QueryResult, ResultColumn } from './result.ts';

export type ExportFormat = 'csv' | 'jsonl';

/** The format from the output file's extension, or undefined. */
export function formatForPath(path: string): ExportFormat | undefined {
  const lower = path.toLowerCase();
  if (lower.endsWith('.csv')) return 'csv';
  if (lower.endsWith('.jsonl') || lower.endsWith('.ndjson')) return 'jsonl';
  return undefined;
}

const CSV_NEEDS_QUOTES = /[",\r\n]/;

/** JSON number grammar (RFC 8259): what may be written unquoted. */
const JSON_NUMBER = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?$/;

/**
 * Starts that make a spreadsheet read a cell as a formula: OWASP's list (`=`, `+`, `-`, `@`, tab,
 * CR), those of `=+-@` behind leading white space (`\s` covers LF, NBSP, the ideographic space and
 * the BOM), and their full-width forms.
 */
const FORMULA_START = /^(?:[\t\r]|\s*[=+\-@\uFF1D\uFF0B\uFF0D\uFF20])/;

/** A Tencent-generated group or topic id: no operator, no call, no DDE; safe as it is. */
const TENCENT_ID = /^@TGS#[A-Za-z0-9_#@]+$/;

/** How CSV cells are written. */
export interface CsvOptions {
  /** Neutralise cells a spreadsheet would run as formulas (default true). */
  readonly formulaSafe?: boolean;
}

/**
 * One RFC 4180 field: quoted when it holds a quote, comma, CR or LF, quotes doubled. SQL NULL is
 * an empty unquoted field and the empty string is `""`, so a reader can tell them apart.
 */
export function csvField(cell: Cell): string {
  if (cell === null) return '';
  if (cell === '' || CSV_NEEDS_QUOTES.test(cell)) return `"${cell.replaceAll('"', '""')}"`;
  return cell;
}

/**
 * A cell a spreadsheet would run as a formula, neutralised (OWASP): `'` prepended and the field
 * quoted. Numbers of numeric columns (`-5` is a number, not a formula) and Tencent ids are kept.
 */
export function safeCsvField(cell: Cell, kind: ResultColumn['kind'] = 'string'): string {
  if (cell === null || !FORMULA_START.test(cell) || TENCENT_ID.test(cell)) return csvField(cell);
  if ((kind === 'integer' || kind === 'number') && JSON_NUMBER.test(cell)) return cell;
  return `"'${cell.replaceAll('"', '""')}"`;
}

/** One CSV record, CRLF-terminated as RFC 4180 specifies; formula-safe unless turned off. */
export function csvRecord(
  cells: readonly Cell[],
  columns?: readonly ResultColumn[],
  options: CsvOptions = {},
): string {
  const safe = options.formulaSafe ?? true;
  const fields = cells.map((cell, i) => (safe ? safeCsvField(cell, columns?.[i]?.kind) : csvField(cell)));
  return `${fields.join(',')}\r\n`;
}

/**
 * One JSONL value. Integers (any size, including beyond 2^53) are written as JSON numbers digit
 * for digit, never rounded through a double; other numbers likewise when they are valid JSON
 * numbers (NaN and Infinity become strings); booleans as booleans; everything else as strings.
 */
export function jsonValue(column: ResultColumn, cell: Cell): string {
  if (cell === null) return 'null';
  switch (column.kind) {
    case 'integer':
    case 'number':
      return JSON_NUMBER.test(cell) ? cell : JSON.stringify(cell);
    case 'boolean':
      return cell === 'true' || cell === 'false' ? cell : JSON.stringify(cell);
    case 'string':
      return JSON.stringify(cell);
  }
}

/** One JSON Lines record keyed by column name. */
export function jsonlRecord(columns: readonly ResultColumn[], cells: readonly Cell[]): string {
  const fields = columns.map((c, i) => `${JSON.stringify(c.name)}:${jsonValue(c, cells[i] ?? null)}`);
  return `{${fields.join(',')}}\n`;
}

/**
 * Column names made unique (`count`, `count_2`), since JSONL keys must be: `SELECT 1, 1` is legal
 * SQL but would otherwise lose a value.
 */
export function uniqueColumns(columns: readonly ResultColumn[]): ResultColumn[] {
  const seen = new Map<string, number>();
  return columns.map((c) => {
    const n = (seen.get(c.name) ?? 0) + 1;
    seen.set(c.name, n);
    return n === 1 ? c : { ...c, name: `${c.name}_${n}` };
  });
}

/**
 * The whole export as chunks of text: the header (CSV), then one record per row.
 * Streaming keeps memory flat for large Athena results.
 */
export async function* renderExport(
  result: QueryResult,
  format: ExportFormat,
  csv: CsvOptions = {},
): AsyncGenerator<string> {
  const columns = uniqueColumns(result.columns);
  if (format === 'csv')
    yield csvRecord(
      columns.map((c) => c.name),
      undefined,
      csv,
    );
  for await (const row of result.rows) {
    yield format === 'csv' ? csvRecord(row, columns, csv) : jsonlRecord(columns, row);
  }
}

/** A small aligned text table for the terminal (the demo's sample query). */
export function formatTable(columns: readonly ResultColumn[], rows: readonly (readonly Cell[])[]): string {
  const text = (cell: Cell) => (cell === null ? '' : cell.replace(/\s+/g, ' '));
  const widths = columns.map((c, i) =>
    Math.max(c.name.length, ...rows.map((r) => [...text(r[i] ?? null)].length)),
  );
  const right = columns.map((c) => c.kind === 'integer' || c.kind === 'number');
  const line = (cells: readonly string[]) =>
    cells
      .map((cell, i) => {
        const pad = ' '.repeat(Math.max(0, (widths[i] ?? 0) - [...cell].length));
        return right[i] ? pad + cell : cell + pad;
      })
      .join('  ')
      .trimEnd();
  return [
    line(columns.map((c) => c.name)),
    line(widths.map((w) => '-'.repeat(w))),
    ...rows.map((r) => line(columns.map((_, i) => text(r[i] ?? null)))),
  ].join('\n');
}
