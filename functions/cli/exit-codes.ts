import { ConfigError } from '../domain/errors.ts';
import { isConfigGiveUp } from '../domain/retry-policy.ts';
import { LeaseHeldError, LeaseLostError, RunFailedError } from '../engine/errors.ts';
import type { RunReport } from '../engine/report.ts';
import { QueryUsageError } from '../query/errors.ts';

/** Exit codes of the CLI, documented in the README. */
export const EXIT = {
  done: 0,
  failed: 1,
  usage: 2,
  /** The run stopped at its deadline; run again to continue. */
  notDone: 3,
  /** The audit found something it cannot explain (a missing seq, a duplicate, an orphan object…). */
  auditUnexplained: 4,
  /** Another run holds the lease, or took it over from this one (EX_TEMPFAIL): try again later. */
  leaseHeld: 75,
  /** Bad configuration (EX_CONFIG). */
  config: 78,
  /** Stopped by Ctrl-C (SIGINT) after committing the current checkpoint and releasing the lease (128 + 2). */
  interrupted: 130,
  /** Stopped by SIGTERM, likewise (128 + 15). */
  terminated: 143,
} as const;

/** Map an error that escaped a command to its exit code. */
export function exitCodeFor(error: unknown): number {
  if (error instanceof ConfigError) return EXIT.config;
  if (error instanceof LeaseHeldError || error instanceof LeaseLostError) return EXIT.leaseHeld;
  // A wrong key, region or admin account is a configuration problem, even when found mid-run.
  if (error instanceof RunFailedError && isConfigGiveUp(error.cause)) return EXIT.config;
  if (error instanceof RunFailedError) return EXIT.failed;
  if (error instanceof QueryUsageError) return EXIT.usage;
  if ((error as { code?: unknown }).code?.toString().startsWith('ERR_PARSE_ARGS')) return EXIT.usage;
  return EXIT.failed;
}

/**
 * The exit code of runs that ended without an error escaping: 1 when any group or topic failed (the
 * report says why), else 3 when work is left (the deadline came first), else 0. A failure wins over
 * the deadline: running again is not all it takes.
 */
export function exitCodeForReports(reports: readonly RunReport[]): number {
  const failed = (r: RunReport) => r.errors.length > 0 || r.groups.failed > 0 || r.fatalError !== undefined;
  if (reports.some(failed)) return EXIT.failed;
  return reports.every((r) => r.done) ? EXIT.done : EXIT.notDone;
}
