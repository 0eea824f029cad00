/**
 * `npm run audit -- --archive <dir|s3://…> [--config file] [--app id] [--json] [--report file.json]
 *   [--incremental [--full]]`
 *
 * The completeness audit (see `functions/query/audit/audit.ts`): a readable summary on stdout (or
 * the JSON report with --json; --report also writes it to a file). Exit 0 when every finding is
 * explained, EXIT.auditUnexplained otherwise, 2 for a usage error. A local archive is queried with
 * DuckDB, `s3://…` with Athena (the tables and workgroup the stack creates). `--incremental` reads
 * only the partitions new or changed since the running totals it keeps in the archive, `--full`
 * with it reads every partition and rewrites them (docs/audit.md).
 */
import { writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { terminalSafeData, terminalSafeJson } from '../adapters/logging/terminal-safe.ts';
import { openStore } from '../composition.ts';
import { DEFAULT_ARCHIVE_OUT, DEFAULT_TIME_ZONE } from '../config/schema.ts';
import type { ObjectStore } from '../domain/storage.ts';
import { auditArchive } from '../query/audit/audit.ts';
import { formatAuditReport } from '../query/audit/report.ts';
import { QueryUsageError } from '../query/errors.ts';
import { DEFAULT_DATABASE, DEFAULT_WORKGROUP } from '../query/tables.ts';
import { EXIT } from './exit-codes.ts';
import { assertOutputFolder, progressPrinter } from './export-command.ts';
import { loadConfigFile } from './load-config.ts';
import { type ExportDeps, openArchiveRunner } from './query-runners.ts';

export const AUDIT_USAGE = `  npm run audit -- --archive <dir|s3://bucket/prefix> [--config <file.json>] [--app <sdkAppId>] [--json]
                   [--report <file.json>] [--time-zone <IANA zone>] [--workgroup <name>] [--database <name>]
                   [--incremental [--full]]`;

export interface AuditDeps extends ExportDeps {
  readonly store?: ObjectStore;
}

function parse(argv: readonly string[]) {
  try {
    return parseArgs({
      args: [...argv],
      strict: true,
      options: {
        archive: { type: 'string' },
        config: { type: 'string' },
        app: { type: 'string', multiple: true },
        json: { type: 'boolean', default: false },
        report: { type: 'string' },
        'time-zone': { type: 'string' },
        workgroup: { type: 'string' },
        database: { type: 'string' },
        incremental: { type: 'boolean', default: false },
        full: { type: 'boolean', default: false },
      },
    }).values;
  } catch (error) {
    throw new QueryUsageError((error as Error).message, { cause: error });
  }
}

/** Runs the audit; returns the exit code. */
export async function runAuditCommand(argv: readonly string[], deps: AuditDeps): Promise<number> {
  let values: ReturnType<typeof parse>;
  let apps: number[] | undefined;
  try {
    values = parse(argv);
    apps = values.app?.map((a) => {
      if (!/^[1-9]\d{0,15}$/.test(a))
        throw new QueryUsageError(`--app must be an SDKAppID, got ${JSON.stringify(a)}`, { field: '--app' });
      return Number(a);
    });
    if (values.archive === undefined && values.config === undefined) {
      throw new QueryUsageError(
        '--archive <dir|s3://bucket/prefix> (or --config with archive.out) is required',
        { field: '--archive' },
      );
    }
    if (values.full && !values.incremental)
      throw new QueryUsageError('--full goes with --incremental (without it every audit reads everything)', {
        field: '--full',
      });
    if (values.report !== undefined) await assertOutputFolder(values.report, '--report');
  } catch (error) {
    if (!(error instanceof QueryUsageError)) throw error;
    deps.stderr(`${error.message}\nUsage:\n${AUDIT_USAGE}\n`);
    return EXIT.usage;
  }
  const config = values.config === undefined ? undefined : await loadConfigFile(values.config);
  const archive = values.archive ?? config?.archive.out ?? DEFAULT_ARCHIVE_OUT;
  const timeZone = values['time-zone'] ?? config?.archive.timeZone ?? DEFAULT_TIME_ZONE;
  const sdkAppIds = apps ?? config?.apps.map((a) => a.sdkAppId);
  const store = deps.store ?? (await openStore(archive));
  const runner = await openArchiveRunner({
    archive,
    timeZone,
    clock: deps.clock,
    workGroup: values.workgroup ?? DEFAULT_WORKGROUP,
    database: values.database ?? DEFAULT_DATABASE,
    onProgress: progressPrinter(deps),
    ...(deps.signal ? { signal: deps.signal } : {}),
    ...(deps.athenaClient ? { athenaClient: deps.athenaClient } : {}),
  });
  try {
    const report = await auditArchive(runner, store, {
      archive,
      timeZone,
      nowMs: deps.clock.now(),
      ...(sdkAppIds === undefined ? {} : { sdkAppIds }),
      ...(values.incremental ? { incremental: { full: values.full } } : {}),
    });
    const json = `${JSON.stringify(report, null, 2)}\n`;
    if (values.report !== undefined) await writeFile(values.report, json, 'utf8');
    // Group ids and object names come from the archive: escaped for the terminal (the file keeps them).
    deps.stdout(values.json ? terminalSafeJson(json) : `${formatAuditReport(terminalSafeData(report))}\n`);
    return report.unexplained === 0 ? EXIT.done : EXIT.auditUnexplained;
  } finally {
    runner.close();
  }
}
