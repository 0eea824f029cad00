/**
 * The engine layer's errors: a run that stopped on a fatal error, and the lease conflicts of the
 * state object. Domain errors (`functions/domain/errors.ts`) are what the adapters raise; these are
 * what the use case adds on top.
 */
import { ArchiverError } from '../domain/errors.ts';
import type { LeaseHolder } from '../domain/lease.ts';
import type { RunReport } from './report.ts';

/** A fatal failure after which the run committed what it safely could and stopped. */
export class RunFailedError extends ArchiverError {
  public readonly report: RunReport;
  public constructor(message: string, report: RunReport, options?: ErrorOptions) {
    super(message, options);
    this.name = 'RunFailedError';
    this.report = report;
  }
}

/** Another run holds the lease: this one must not write. Retry after `expiresAtMs`. */
export class LeaseHeldError extends ArchiverError {
  public readonly owner: string;
  public readonly expiresAtMs: number;
  public readonly holder: LeaseHolder | null;
  public constructor(owner: string, expiresAtMs: number, holder: LeaseHolder | null = null) {
    const where = holder ? ` (process ${holder.pid} on ${holder.host})` : '';
    super(
      `Another run (${owner})${where} is archiving this app and holds the lease until ${new Date(expiresAtMs).toISOString()}. ` +
        'This run stops without writing. If that run crashed on another host, its lease expires by itself; run again after that time ' +
        '(a crashed run on this host is taken over at once).',
    );
    this.name = 'LeaseHeldError';
    this.owner = owner;
    this.expiresAtMs = expiresAtMs;
    this.holder = holder;
  }
}

/** The state changed under us (another run took over after our lease expired). Stop writing. */
export class LeaseLostError extends ArchiverError {
  public constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'LeaseLostError';
  }
}

/** The message of any thrown value. */
export function describeError(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** The engine's hard stop came (the invocation's time is up): in-flight work was aborted, nothing more written. */
export class HardStopError extends ArchiverError {
  public constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'HardStopError';
  }
}
