/**
 * The command-line parsing the query commands share: strict `node:util` parsing whose errors are
 * usage errors, and the `key=value` words of `--params a=1 b=2` (or `--params a=1 --params b=2`).
 */
import { type ParseArgsConfig, parseArgs } from 'node:util';
import { QueryUsageError } from '../query/errors.ts';

/** The flags every archive query command takes (`--params`, where the archive is, which Athena). */
export const QUERY_COMMAND_OPTIONS = {
  params: { type: 'string', multiple: true },
  out: { type: 'string' },
  archive: { type: 'string' },
  config: { type: 'string' },
  'time-zone': { type: 'string' },
  workgroup: { type: 'string' },
  database: { type: 'string' },
} as const;

/**
 * Parses `argv` strictly (unknown flags are errors), with positionals.
 *
 * @throws QueryUsageError carrying the parser's message (and the parser's error as `cause`).
 */
export function parseCommandArgs<const T extends NonNullable<ParseArgsConfig['options']>>(
  argv: readonly string[],
  options: T,
) {
  try {
    return parseArgs({ args: [...argv], allowPositionals: true, strict: true, options });
  } catch (error) {
    throw new QueryUsageError((error as Error).message, { cause: error });
  }
}

/**
 * The parameters of `key=value` words, in order. A key may be given once.
 *
 * @throws QueryUsageError (field `--params`) for a word without `=` or with an empty key, and
 *   (field `--params <key>`) for a key given twice.
 */
export function parseParamWords(words: readonly string[]): Record<string, string> {
  const params: Record<string, string> = {};
  for (const word of words) {
    const eq = word.indexOf('=');
    if (eq <= 0) {
      throw new QueryUsageError(`--params: expected key=value, got ${JSON.stringify(word)}`, {
        field: '--params',
      });
    }
    const key = word.slice(0, eq);
    if (Object.hasOwn(params, key)) {
      throw new QueryUsageError(`--params ${key}: given twice`, { field: `--params ${key}` });
    }
    params[key] = word.slice(eq + 1);
  }
  return params;
}
