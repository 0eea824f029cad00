import { ConfigError, GiveUpError } from '../domain/errors.ts';
import { LeaseHeldError, LeaseLostError, RunFailedError } from '../engine/errors.ts';

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
  if (
    error instanceof RunFailedError &&
    error.cause instanceof GiveUpError &&
    error.cause.action === 'fatal-config'
  ) {
    return EXIT.config;
  }
  if (error instanceof RunFailedError) return EXIT.failed;
  if ((error as { code?: unknown }).code?.toString().startsWith('ERR_PARSE_ARGS')) return EXIT.usage;
  return EXIT.failed;
}
