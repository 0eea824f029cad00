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
