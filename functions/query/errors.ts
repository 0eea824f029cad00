/**
 * Errors of the query layer (exports, transcripts, the audit). Each message says what happened and
 * what to do next. The engines' own failures are their adapters' errors (`functions/adapters/errors.ts`).
 */
import { ArchiverError } from '../domain/errors.ts';

/** Wrong use of the export command: unknown query, bad or missing parameter, bad output path. */
export class QueryUsageError extends ArchiverError {
  /** The offending parameter or flag, e.g. `--params from`. */
  public readonly field: string | undefined;
  public constructor(message: string, options?: ErrorOptions & { field?: string }) {
    super(message, options);
    this.name = 'QueryUsageError';
    this.field = options?.field;
  }
}

/**
 * Another audit of the same app replaced the totals while this one ran: this audit's report is
 * still right, but its totals are not kept (functions/query/audit/totals.ts, docs/audit.md).
 */
export class AuditTotalsConflictError extends ArchiverError {
  public readonly key: string;
  public constructor(key: string, options?: ErrorOptions) {
    super(
      `another audit replaced ${key} while this one ran: its totals were not kept; run the audit again when the other has finished`,
      options,
    );
    this.name = 'AuditTotalsConflictError';
    this.key = key;
  }
}
