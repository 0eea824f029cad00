import { describe, expect, it } from 'vitest';
import { timeBudget } from '../../functions/lambda/time-budget.ts';

describe('timeBudget', () => {
  it('keeps 90 s of a 15-minute invocation for drain, flush and commit', () => {
    expect(timeBudget(1_000, 900_000, { hardStopMs: 10_000 })).toEqual({
      deadlineMs: 811_000,
      reserveMs: 90_000,
    });
  });

  it('keeps a quarter of a shorter invocation', () => {
    expect(timeBudget(0, 200_000, { hardStopMs: 10_000 })).toEqual({
      deadlineMs: 150_000,
      reserveMs: 50_000,
    });
  });

  it('always stops paging before the hard stop, by at least the hard-stop margin again', () => {
    const { deadlineMs, reserveMs } = timeBudget(0, 30_000, { hardStopMs: 10_000 });
    expect(reserveMs).toBe(20_000);
    expect(deadlineMs).toBe(10_000);
  });

  it('starts no page at all when less time remains than the reserve', () => {
    expect(timeBudget(5, 15_000, { hardStopMs: 10_000 }).deadlineMs).toBe(5);
  });
});
