/**
 * The query side's composition: the query-runner adapter for an archive location. A local folder
 * is opened in DuckDB with the archive's tables and views mirrored; `s3://…` is queried through
 * Athena (the SDK loaded only then). Commands (export, transcript, audit) get a `QueryRunner` and
 * never see which engine answers.
 */
import type { AthenaClient } from '@aws-sdk/client-athena';
import type { AthenaProgress } from '../adapters/aws/athena-runner.ts';
import type { Clock } from '../domain/ports.ts';
import { mirrorLocalArchive } from '../query/local-archive.ts';
import type { QueryRunner } from '../query/port.ts';

/** What the query commands (export, transcript, audit) need from the outside; tests pass fakes. */
export interface ExportDeps {
  readonly clock: Clock;
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
  /** Whether stderr is a terminal (progress rewrites one line instead of printing many). */
  readonly tty: boolean;
  readonly athenaClient?: () => AthenaClient;
  readonly signal?: AbortSignal;
}

export interface ArchiveRunnerOptions {
  /** A local folder or `s3://bucket/prefix`. */
  readonly archive: string;
  /** The archive's `archive.timeZone` (DuckDB's local times). */
  readonly timeZone: string;
  readonly clock: Clock;
  readonly workGroup: string;
  readonly database: string;
  readonly timeoutMs?: number;
  readonly onProgress?: (progress: AthenaProgress) => void;
  /** Aborting stops the running query (Athena: StopQueryExecution; DuckDB: interrupt). */
  readonly signal?: AbortSignal;
  readonly athenaClient?: () => AthenaClient;
  /**
   * DuckDB only: leave file access open, so SQL may read and write any file the user can
   * (`--allow-file-access`). By default the runner reads only the archive, and runs only SELECTs.
   */
  readonly allowFileAccess?: boolean;
}

/** What a refused statement on a locked local archive is told. */
export const FILE_ACCESS_HINT =
  'custom SQL reads only the archive; npm run export -- … --allow-file-access lifts this';

/** Whether the archive is queried with Athena (S3) rather than DuckDB (a local folder). */
export function isS3Archive(archive: string): boolean {
  return archive.startsWith('s3://');
}

/** Opens the runner for `options.archive`; the caller closes it. */
export async function openArchiveRunner(options: ArchiveRunnerOptions): Promise<QueryRunner> {
  if (isS3Archive(options.archive)) {
    const { AthenaQueryRunner, createAthenaClient } = await import('../adapters/aws/athena-runner.ts');
    return new AthenaQueryRunner({
      client: options.athenaClient?.() ?? createAthenaClient(),
      clock: options.clock,
      workGroup: options.workGroup,
      database: options.database,
      ...(options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs }),
      ...(options.onProgress ? { onProgress: options.onProgress } : {}),
      ...(options.signal ? { signal: options.signal } : {}),
    });
  }
  const { DuckDbRunner } = await import('../adapters/duckdb/duckdb-runner.ts');
  const duck = await DuckDbRunner.open();
  const interrupt = () => duck.interrupt();
  options.signal?.addEventListener('abort', interrupt, { once: true });
  const runner: QueryRunner = {
    dialect: duck.dialect,
    run: (sql, values) => duck.run(sql, values),
    close: () => {
      options.signal?.removeEventListener('abort', interrupt);
      duck.close();
    },
  };
  try {
    const readable = await mirrorLocalArchive(runner, options.archive, { timeZone: options.timeZone });
    if (options.allowFileAccess !== true) await duck.lockDown(readable, FILE_ACCESS_HINT);
    return runner;
  } catch (error) {
    runner.close();
    throw error;
  }
}
