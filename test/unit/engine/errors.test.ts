import { describe, expect, it } from 'vitest';
import { ArchiverError } from '../../../functions/domain/errors.ts';
import {
  describeError,
  HardStopError,
  LeaseHeldError,
  LeaseLostError,
  RunFailedError,
} from '../../../functions/engine/errors.ts';
import { emptyReport } from '../../../functions/engine/report.ts';

describe('describeError', () => {
  it('gives the message of an Error and the string of anything else', () => {
    expect(describeError(new TypeError('bad type'))).toBe('bad type');
    expect(describeError('plain text')).toBe('plain text');
    expect(describeError(42)).toBe('42');
    expect(describeError(undefined)).toBe('undefined');
    expect(describeError({ toString: () => 'custom' })).toBe('custom');
  });
});

describe('engine errors', () => {
  it('LeaseHeldError names the owner, the holder process and when the lease ends', () => {
    const expiresAtMs = Date.UTC(2026, 0, 1, 12, 30);
    const error = new LeaseHeldError('run-a', expiresAtMs, { host: 'box', pid: 77, startedAt: 's' });
    expect(error).toBeInstanceOf(ArchiverError);
    expect(error.name).toBe('LeaseHeldError');
    expect(error.owner).toBe('run-a');
    expect(error.expiresAtMs).toBe(expiresAtMs);
    expect(error.holder).toEqual({ host: 'box', pid: 77, startedAt: 's' });
    expect(error.message).toContain('Another run (run-a) (process 77 on box)');
    expect(error.message).toContain('2026-01-01T12:30:00.000Z');
  });

  it('LeaseHeldError without a holder names no process', () => {
    const error = new LeaseHeldError('run-b', 0);
    expect(error.holder).toBeNull();
    expect(error.message).toMatch(/^Another run \(run-b\) is archiving/);
  });

  it('RunFailedError carries the report and the cause', () => {
    const report = emptyReport('run-c', 1400000001, 1000);
    const cause = new Error('disk full');
    const error = new RunFailedError('stopped', report, { cause });
    expect(error.name).toBe('RunFailedError');
    expect(error.report).toBe(report);
    expect(error.cause).toBe(cause);
  });

  it('LeaseLostError and HardStopError keep their names and causes', () => {
    const cause = new Error('precondition');
    const lost = new LeaseLostError('lost', { cause });
    const stop = new HardStopError('time is up');
    expect([lost.name, stop.name]).toEqual(['LeaseLostError', 'HardStopError']);
    expect(lost.cause).toBe(cause);
    expect(stop).toBeInstanceOf(ArchiverError);
    expect(lost).not.toBeInstanceOf(HardStopError);
  });
});
