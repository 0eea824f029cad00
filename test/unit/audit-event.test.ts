/**
 * The audit function's event (functions/lambda/audit-event.ts): the stack's schedule sends
 * `incremental: true`; `full: true` with it reads every partition; anything else is the full audit
 * that keeps no totals.
 */
import { describe, expect, it } from 'vitest';
import { auditModeOf } from '../../functions/lambda/audit-event.ts';

describe('audit event', () => {
  it('asks for the incremental audit only with incremental: true, and for all partitions with full: true', () => {
    expect(auditModeOf({ source: 'audit-schedule', incremental: true })).toEqual({ full: false });
    expect(auditModeOf({ incremental: true, full: true })).toEqual({ full: true });
    expect(auditModeOf({ source: 'audit-schedule' })).toBeUndefined();
    expect(auditModeOf({ incremental: 'yes', full: true })).toBeUndefined();
    expect(auditModeOf(null)).toBeUndefined();
    expect(auditModeOf('incremental')).toBeUndefined();
  });
});
