import { describe, expect, it } from 'vitest';
import { judgePage, retentionHorizonSec } from '../../functions/domain/page-trust.ts';
import { listingProblem, MAX_EMPTY_LIST_PAGES } from '../../functions/domain/planner.ts';

const DAY = 86_400;
const NOW = 1_800_000_000;
const horizon = retentionHorizonSec(NOW * 1000, 7) as number;
const placeholder = (time: number) => ({ time, place: 1 });
const live = (time: number) => ({ time, place: 0 });

describe('judgePage', () => {
  it('trusts IsFinished 2 only over expired placeholders', () => {
    expect(horizon).toBe(NOW - 7 * DAY);
    const old = horizon - 3 * DAY;
    expect(
      judgePage({ isFinished: 2, items: [placeholder(old)], rejected: 0, horizonSec: horizon }).kind,
    ).toBe('expired');
    expect(judgePage({ isFinished: 2, items: [live(old)], rejected: 0, horizonSec: horizon }).kind).toBe(
      'distrust',
    );
    expect(judgePage({ isFinished: 2, items: [], rejected: 0, horizonSec: horizon }).kind).toBe('distrust');
    const recent = placeholder(NOW - DAY);
    expect(judgePage({ isFinished: 2, items: [recent], rejected: 0, horizonSec: horizon })).toMatchObject({
      kind: 'distrust',
      reason: expect.stringContaining('newer than the retention horizon'),
    });
    // Unknown retention: placeholders alone are enough.
    expect(judgePage({ isFinished: 2, items: [recent], rejected: 0, horizonSec: null }).kind).toBe('expired');
  });

  it('distrusts IsFinished 0 with nothing returned', () => {
    expect(judgePage({ isFinished: 0, items: [], rejected: 0, horizonSec: null }).kind).toBe('distrust');
    expect(judgePage({ isFinished: 0, items: [], rejected: 1, horizonSec: null }).kind).toBe('ok');
    expect(judgePage({ isFinished: 1, items: [], rejected: 0, horizonSec: null }).kind).toBe('ok');
  });

  it('ends the range at placeholders a day beyond the horizon (backstop), never at live messages', () => {
    const page = (items: { time: number; place: number }[]) =>
      judgePage({ isFinished: 1, items, rejected: 0, horizonSec: horizon });
    expect(page([placeholder(horizon - 2 * DAY), placeholder(horizon - 3 * DAY)]).kind).toBe('expired');
    expect(page([placeholder(horizon - 3_600)]).kind).toBe('ok');
    expect(page([placeholder(horizon - 2 * DAY), live(horizon - 3 * DAY)]).kind).toBe('ok');
  });
});

describe('judgePage with zeroed placeholders', () => {
  const zeroed = (bound: number | null) => ({ time: 0, place: 1, bound });

  it('never ends a range at placeholders whose time is unknown', () => {
    const page = (items: { time: number; place: number; bound: number | null }[]) =>
      judgePage({ isFinished: 1, items, rejected: 0, horizonSec: horizon }).kind;
    expect(page([zeroed(null), zeroed(null)])).toBe('ok');
    // A newer message inside retention bounds nothing below it: still no proof of expiry.
    expect(page([zeroed(NOW - DAY), zeroed(NOW - DAY)])).toBe('ok');
    // A newer message a day beyond the horizon: everything below it is older still.
    expect(page([zeroed(horizon - 2 * DAY), zeroed(horizon - 2 * DAY)])).toBe('expired');
    expect(page([zeroed(horizon - 2 * DAY), zeroed(null)])).toBe('ok');
  });

  it('lets a zeroed placeholder neither prove nor refute IsFinished 2', () => {
    expect(judgePage({ isFinished: 2, items: [zeroed(null)], rejected: 0, horizonSec: horizon }).kind).toBe(
      'expired',
    );
    expect(
      judgePage({ isFinished: 2, items: [zeroed(NOW - DAY)], rejected: 0, horizonSec: horizon }).kind,
    ).toBe('expired');
    expect(
      judgePage({
        isFinished: 2,
        items: [zeroed(null), { time: NOW - DAY, place: 1 }],
        rejected: 0,
        horizonSec: horizon,
      }).kind,
    ).toBe('distrust');
  });
});

describe('listingProblem', () => {
  it('stops at a repeated Next, and after a bounded run of empty pages with a Next', () => {
    const progress = { seen: new Set<bigint>(), emptyInARow: 0 };
    expect(listingProblem(progress, { count: 10, next: 5n })).toBeUndefined();
    expect(listingProblem(progress, { count: 10, next: 5n })).toContain('a second time');
    const empty = { seen: new Set<bigint>(), emptyInARow: 0 };
    for (let i = 1; i <= MAX_EMPTY_LIST_PAGES; i++)
      expect(listingProblem(empty, { count: 0, next: BigInt(i) })).toBeUndefined();
    expect(listingProblem(empty, { count: 0, next: 99n })).toContain('empty pages in a row');
    expect(listingProblem(empty, { count: 0, next: 0n })).toBeUndefined();
  });
});
