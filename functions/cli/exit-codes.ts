/**
 * The CLI's exit codes, and the one table that maps an error escaping a command to its code. The
 * table in docs/cli.md (Exit codes) lists the same codes: `test/unit/cli-exit-codes.test.ts` compares
 * the two.
 */
import { ConfigError } from '../domain/errors.ts';
import { isConfigGiveUp } from '../domain/retry-policy.ts';
import { LeaseHeldError, LeaseLostError, RunFailedError } from '../engine/errors.ts';
import type { RunReport } from '../engine/report.ts';
import { QueryUsageError } from '../query/errors.ts';

/** Exit codes of the CLI, documented in docs/cli.md (Exit codes). */
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

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/** One row of {@link ERROR_EXIT_CODES}: the errors it matches, in words and as a test. */
export interface ErrorExitCode {
  readonly errors: string;
  readonly matches: (error: unknown) => boolean;
  readonly code: ExitCode;
}

/**
 * Errors that escape a command → exit codes: the first row that matches wins; anything else is
 * {@link EXIT.failed}. The only place that maps an error to an exit code.
 */
export const ERROR_EXIT_CODES: readonly ErrorExitCode[] = [
  { errors: 'ConfigError', matches: (e) => e instanceof ConfigError, code: EXIT.config },
  {
    errors: 'LeaseHeldError, LeaseLostError',
    matches: (e) => e instanceof LeaseHeldError || e instanceof LeaseLostError,
    code: EXIT.leaseHeld,
  },
  {
    // A wrong key, region or admin account is a configuration problem, even when found mid-run.
    errors: 'RunFailedError caused by a configuration give-up (GiveUpError fatal-config)',
    matches: (e) => e instanceof RunFailedError && isConfigGiveUp(e.cause),
    code: EXIT.config,
  },
  {
    errors: 'RunFailedError (any other cause)',
    matches: (e) => e instanceof RunFailedError,
    code: EXIT.failed,
  },
  { errors: 'QueryUsageError', matches: (e) => e instanceof QueryUsageError, code: EXIT.usage },
  {
    errors: "node:util parseArgs' ERR_PARSE_ARGS_* (an unknown or malformed flag)",
    matches: (e) => (e as { code?: unknown } | null)?.code?.toString().startsWith('ERR_PARSE_ARGS') === true,
    code: EXIT.usage,
  },
];

/** Map an error that escaped a command to its exit code ({@link ERROR_EXIT_CODES}). */
export function exitCodeFor(error: unknown): ExitCode {
  return ERROR_EXIT_CODES.find((row) => row.matches(error))?.code ?? EXIT.failed;
}

/**
 * The exit code of runs that ended without an error escaping: 1 when any group or topic failed (the
 * report says why), else 3 when work is left (the deadline came first), else 0. A failure wins over
 * the deadline: running again is not all it takes.
 */
export function exitCodeForReports(reports: readonly RunReport[]): ExitCode {
  const failed = (r: RunReport) => r.errors.length > 0 || r.groups.failed > 0 || r.fatalError !== undefined;
  if (reports.some(failed)) return EXIT.failed;
  return reports.every((r) => r.done) ? EXIT.done : EXIT.notDone;
}
