/**
 * `npm run export -- <named query | SQL> [--params key=value ...] --out <file.csv|file.jsonl>`
 *
 * Runs a query over the archive and writes the result to a file. Where it runs depends on the
 * archive: a local folder (from --archive, or `archive.out` of --config) is queried with DuckDB,
 * `s3://…` with Athena (workgroup and database from flags, defaults as the CDK construct creates
 * them). The file is written under a temporary name and renamed when complete, so a failed query
 * never leaves a half-written export behind.
 *
 * On a local archive, DuckDB reads only the archive and runs only SELECTs (see
 * functions/adapters/duckdb/duckdb-runner.ts); `--allow-file-access` lifts that for custom SQL.
 */
import { open, rename, rm, stat } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import type { AthenaProgress } from '../adapters/aws/athena-runner.ts';
import { formatBytes } from '../adapters/errors.ts';
import { terminalSafe } from '../adapters/logging/terminal-safe.ts';
import { DEFAULT_ARCHIVE_OUT, DEFAULT_TIME_ZONE } from '../config/schema.ts';
import {
  C2C_CONVERSATION_QUERY_NAME,
  conversationParams,
  parseConversationFlag,
} from '../query/c2c-queries.ts';
import { QueryUsageError } from '../query/errors.ts';
import { type ExportFormat, formatForPath, renderExport } from '../query/export-format.ts';
import {
  describeParams,
  findNamedQuery,
  NAMED_QUERIES,
  type NamedQuery,
  type ParamValue,
  parseParams,
  runNamedQuery,
} from '../query/named-queries.ts';
import type { QueryResult } from '../query/port.ts';
import { DEFAULT_DATABASE, DEFAULT_WORKGROUP } from '../query/tables.ts';
import { EXIT } from './exit-codes.ts';
import { loadConfigFile } from './load-config.ts';
import { parseCommandArgs, parseParamWords, QUERY_COMMAND_OPTIONS } from './param-words.ts';
import { type ExportDeps, isS3Archive, openArchiveRunner } from './query-runners.ts';
import { runTranscriptCommand, TRANSCRIPT_USAGE } from './transcript-command.ts';

/** The export lines of the CLI usage (main.ts prints them under its own "Usage:"). */
export const EXPORT_USAGE = `  npm run export -- <named query | "SQL"> [--params key=value ...] --out <file.csv|file.jsonl>
  npm run export -- --conversation <a,b | ["a","b"]> [--params from=<YYYY-MM-DD> to=<YYYY-MM-DD>] --out <file.csv|file.jsonl>
                    [--archive <dir|s3://bucket/prefix>] [--config <file.json>] [--time-zone <IANA zone>]
                    [--workgroup <name>] [--database <name>] [--timeout <seconds>] [--raw-csv]
                    [--allow-file-access] [--no-names]
      --conversation a,b   one one-to-one conversation, the pair in either order (a JSON array when an
                           account holds a comma); every day unless --params from/to narrow it
      --no-names           named queries without from_name, from_role and group_name (on by default:
                           the names valid at each message's time, docs/names.md)
      --allow-file-access  a local archive's SQL may read and write any file you can (read_text,
                           COPY … TO); without it, it reads only the archive and runs only SELECTs
${TRANSCRIPT_USAGE}
Named queries:
${NAMED_QUERIES.map((q) => `  ${q.name.padEnd(17)} ${describeParams(q)}\n  ${''.padEnd(17)} ${q.description}`).join('\n')}`;

/** Parsed command line. */
export interface ExportArgs {
  readonly query: NamedQuery | { readonly sql: string };
  readonly params: Map<string, ParamValue>;
  readonly out: string;
  readonly format: ExportFormat;
  readonly archive: string | undefined;
  readonly configPath: string | undefined;
  readonly timeZone: string | undefined;
  readonly workGroup: string;
  readonly database: string;
  readonly timeoutMs: number | undefined;
  /** `--raw-csv`: write cells verbatim, without neutralising formulas (see export-format.ts). */
  readonly rawCsv: boolean;
  /** `--allow-file-access`: DuckDB's file access stays open (see query-runners.ts). */
  readonly allowFileAccess: boolean;
  /** `--names` (default) / `--no-names`: named queries with the name columns (docs/names.md). */
  readonly names: boolean;
}

/**
 * Parses the export command line. `--params a=1 b=2` and `--params a=1 --params b=2` both work:
 * `key=value` words after the query are parameters.
 *
 * @throws QueryUsageError naming the flag or parameter.
 */
export function parseExportArgs(argv: readonly string[]): ExportArgs {
  const { values, positionals } = parseCommandArgs(argv, {
    ...QUERY_COMMAND_OPTIONS,
    timeout: { type: 'string' },
    'raw-csv': { type: 'boolean', default: false },
    'allow-file-access': { type: 'boolean', default: false },
    names: { type: 'boolean' },
    'no-names': { type: 'boolean' },
    conversation: { type: 'string' },
  });
  if (values.names === true && values['no-names'] === true) {
    throw new QueryUsageError('--names and --no-names: give one of them', { field: '--no-names' });
  }
  const { query, params } =
    values.conversation === undefined
      ? queryOf(positionals, values.params ?? [])
      : conversationOf(values.conversation, positionals, values.params ?? []);
  if (values.out === undefined)
    throw new QueryUsageError('--out <file.csv|file.jsonl> is required', { field: '--out' });
  const format = formatForPath(values.out);
  if (format === undefined) {
    throw new QueryUsageError(`--out ${values.out}: the file must end in .csv or .jsonl`, { field: '--out' });
  }
  return {
    query,
    params,
    out: values.out,
    format,
    archive: values.archive,
    configPath: values.config,
    timeZone: values['time-zone'],
    workGroup: values.workgroup ?? DEFAULT_WORKGROUP,
    database: values.database ?? DEFAULT_DATABASE,
    timeoutMs: parseTimeout(values.timeout),
    rawCsv: values['raw-csv'] ?? false,
    allowFileAccess: values['allow-file-access'] ?? false,
    names: values['no-names'] !== true,
  };
}

type QueryAndParams = Pick<ExportArgs, 'query' | 'params'>;

/** The query of the first word (a named query, or SQL) and its `key=value` parameters. */
function queryOf(positionals: readonly string[], paramWords: readonly string[]): QueryAndParams {
  const [target, ...extra] = positionals;
  if (target === undefined) throw new QueryUsageError('name a query or give SQL', { field: 'query' });
  const rawParams = parseParamWords([...paramWords, ...extra]);
  const named = findNamedQuery(target);
  if (named) return { query: named, params: parseParams(named, rawParams) };
  if (/\s/.test(target.trim())) {
    if (Object.keys(rawParams).length > 0) {
      throw new QueryUsageError('--params: only named queries take parameters; write values into your SQL', {
        field: '--params',
      });
    }
    return { query: { sql: target }, params: new Map() };
  }
  throw new QueryUsageError(
    `unknown named query ${JSON.stringify(target)} (known: ${NAMED_QUERIES.map((q) => q.name).join(', ')}); ` +
      'SQL must be quoted as one argument',
    { field: 'query' },
  );
}

/** `--conversation a,b`: the named query of one one-to-one conversation, the pair sorted (c2c-queries.ts). */
function conversationOf(
  flag: string,
  positionals: readonly string[],
  paramWords: readonly string[],
): QueryAndParams {
  const field = '--conversation';
  if (positionals.some((word) => !word.includes('='))) {
    throw new QueryUsageError(`${field}: give it instead of a query, not with one`, { field });
  }
  const query = findNamedQuery(C2C_CONVERSATION_QUERY_NAME);
  if (query === undefined) throw new Error(`named query ${C2C_CONVERSATION_QUERY_NAME} is missing`);
  const { from, to, ...other } = parseParamWords([...paramWords, ...positionals]);
  const unknown = Object.keys(other)[0];
  if (unknown !== undefined) {
    throw new QueryUsageError(`--params ${unknown}: ${field} takes only from and to`, {
      field: `--params ${unknown}`,
    });
  }
  return { query, params: parseParams(query, conversationParams(parseConversationFlag(flag), { from, to })) };
}

function parseTimeout(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const seconds = Number(text);
  if (!Number.isFinite(seconds) || seconds <= 0 || seconds > MAX_TIMEOUT_SECONDS) {
    throw new QueryUsageError(
      `--timeout must be a positive number of seconds, got ${JSON.stringify(text)} (at most ${MAX_TIMEOUT_SECONDS}, 1 day)`,
      { field: '--timeout' },
    );
  }
  return seconds * 1000;
}

/** Longest `--timeout`: 1 day (its timer stays far below Node's 2^31 - 1 ms). */
const MAX_TIMEOUT_SECONDS = 86_400;

/**
 * Checks that the folder of an output file exists, before any query runs. It is not created: a
 * mistyped path would otherwise leave files where nobody looks.
 *
 * @throws QueryUsageError naming `flag`, the folder and the fix.
 */
export async function assertOutputFolder(path: string, flag: string): Promise<void> {
  const folder = dirname(resolve(path));
  const found = await stat(folder).catch((error: NodeJS.ErrnoException) => error.code ?? 'unreadable');
  if (typeof found !== 'string' && found.isDirectory()) return;
  const why =
    found === 'ENOENT'
      ? 'does not exist'
      : typeof found === 'string'
        ? `cannot be read (${found})`
        : 'is not a folder';
  throw new QueryUsageError(
    `${flag} ${path}: the folder ${folder} ${why}; create it first, or write elsewhere`,
    {
      field: flag,
    },
  );
}

/** Runs the command; usage errors print the usage and return 2, other errors propagate. */
export async function runExportCommand(argv: readonly string[], deps: ExportDeps): Promise<number> {
  if (argv[0] === 'transcript') return runTranscriptCommand(argv.slice(1), deps);
  let args: ExportArgs;
  try {
    args = parseExportArgs(argv);
  } catch (error) {
    if (!(error instanceof QueryUsageError)) throw error;
    deps.stderr(`${terminalSafe(error.message)}\nUsage:\n${EXPORT_USAGE}\n`);
    return EXIT.usage;
  }
  try {
    await assertOutputFolder(args.out, '--out');
  } catch (error) {
    if (!(error instanceof QueryUsageError)) throw error;
    deps.stderr(`${terminalSafe(error.message)}\n`);
    return EXIT.usage;
  }
  const config = args.configPath === undefined ? undefined : await loadConfigFile(args.configPath);
  const archive = args.archive ?? config?.archive.out ?? DEFAULT_ARCHIVE_OUT;
  const timeZone = args.timeZone ?? config?.archive.timeZone ?? DEFAULT_TIME_ZONE;
  if (!isS3Archive(archive))
    deps.stderr(`duckdb: querying the local archive ${terminalSafe(archive)} (dt in ${timeZone})\n`);
  const runner = await openArchiveRunner({
    archive,
    timeZone,
    clock: deps.clock,
    workGroup: args.workGroup,
    database: args.database,
    ...(args.timeoutMs === undefined ? {} : { timeoutMs: args.timeoutMs }),
    onProgress: progressPrinter(deps),
    ...(deps.signal ? { signal: deps.signal } : {}),
    ...(deps.athenaClient ? { athenaClient: deps.athenaClient } : {}),
    allowFileAccess: args.allowFileAccess,
  });
  try {
    const rows = await exportWith(args, () =>
      'name' in args.query
        ? runNamedQuery(runner, args.query, args.params, { names: args.names })
        : runner.run(args.query.sql),
    );
    deps.stdout(`wrote ${rows} rows to ${terminalSafe(args.out)}\n`);
    return EXIT.done;
  } finally {
    runner.close();
  }
}

/** Prints Athena progress on stderr: one rewritten line on a terminal, a line per state otherwise. */
export function progressPrinter(deps: Pick<ExportDeps, 'stderr' | 'tty'>): (p: AthenaProgress) => void {
  let lastState = '';
  return (p) => {
    // The id and state come from AWS's answers: escaped like everything else a terminal shows.
    const line = terminalSafe(
      `athena ${p.queryExecutionId}: ${p.state}, ${formatBytes(p.bytesScanned)} scanned, ${(p.elapsedMs / 1000).toFixed(1)} s`,
    );
    const terminal = p.state === 'SUCCEEDED' || p.state === 'FAILED' || p.state === 'CANCELLED';
    if (deps.tty) deps.stderr(`\r${line}${terminal ? '\n' : ''}`);
    else if (p.state !== lastState) deps.stderr(`${line}\n`);
    lastState = p.state;
  };
}

/** Bytes gathered before one write: few syscalls, flat memory. */
const WRITE_BATCH = 64 * 1024;

/** Runs the query and streams the result into `args.out` via a temp file; returns the row count. */
async function exportWith(args: ExportArgs, run: () => Promise<QueryResult>): Promise<number> {
  const result = await run();
  const temp = `${args.out}.partial`;
  const file = await open(temp, 'w');
  let rows = 0;
  try {
    let batch = '';
    for await (const chunk of renderExport(result, args.format, { formulaSafe: !args.rawCsv })) {
      batch += chunk;
      rows++;
      if (batch.length >= WRITE_BATCH) {
        await file.write(batch, null, 'utf8');
        batch = '';
      }
    }
    await file.write(batch, null, 'utf8');
    await file.close();
    await rename(temp, args.out);
  } catch (error) {
    await file.close().catch(() => undefined);
    await rm(temp, { force: true });
    throw error;
  }
  // The CSV header is a chunk too.
  return args.format === 'csv' ? rows - 1 : rows;
}
