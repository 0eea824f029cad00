/**
 * The audit function's invocation event (functions/lambda/audit-handler.ts), apart from the
 * handler so that reading it needs no Lambda environment.
 */

/**
 * The invocation event: the stack's schedule sends `{ source, incremental: true }` (only the
 * partitions new or changed since the running totals are read); add `full: true` to read every
 * partition and rewrite the totals. Without `incremental` the audit reads everything and keeps no
 * totals.
 */
export interface AuditEvent {
  readonly incremental?: boolean;
  readonly full?: boolean;
}

/** The audit mode an event asks for (anything but `true` is false). */
export function auditModeOf(event: unknown): { readonly full: boolean } | undefined {
  const e = (typeof event === 'object' && event !== null ? event : {}) as AuditEvent;
  return e.incremental === true ? { full: e.full === true } : undefined;
}
