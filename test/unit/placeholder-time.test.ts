/**
 * Zeroed placeholders (`MsgTimeStamp` 0): upper bounds from newer messages, and the day they are
 * filed under. (The page judge's side is in page-trust.test.ts.)
 */
import { describe, expect, it } from 'vitest';
import { filingTimes, isZeroedTime, newerBounds } from '../../functions/domain/placeholder-time.ts';

describe('placeholder times', () => {
  it('takes 0 (and anything before 1970) as no time at all', () => {
    expect(isZeroedTime(0)).toBe(true);
    expect(isZeroedTime(-5)).toBe(true);
    expect(isZeroedTime(1)).toBe(false);
  });

  it('bounds a zeroed item by the oldest newer time on the page, else by the time known above it', () => {
    const items = [
      { seq: 10, time: 0 },
      { seq: 9, time: 900 },
      { seq: 8, time: 0 },
      { seq: 7, time: 0 },
      { seq: 6, time: 600 },
      { seq: 5, time: 0 },
    ];
    expect(newerBounds(items, 1_000)).toEqual(
      new Map([
        [10, 1_000],
        [9, 900],
        [8, 900],
        [7, 900],
        [6, 600],
        [5, 600],
      ]),
    );
    expect(newerBounds(items, null).get(10)).toBeNull();
    expect(newerBounds(items, 0).get(10)).toBeNull();
  });

  it('files a zeroed item beside its neighbours on the page, else under a newer time from outside, else the observation', () => {
    const items = [
      { seq: 4, time: 0 },
      { seq: 3, time: 300 },
      { seq: 2, time: 0 },
      { seq: 1, time: 100 },
    ];
    // Nearest newer on the page (seq 2 -> 300); at the top, the nearest older one (seq 4 -> 300).
    expect(filingTimes(items, 500, 999)).toEqual(
      new Map([
        [4, 300],
        [2, 300],
      ]),
    );
    expect(filingTimes([{ seq: 4, time: 0 }], 500, 999)).toEqual(new Map([[4, 500]]));
    expect(filingTimes([{ seq: 4, time: 0 }], null, 999)).toEqual(new Map([[4, 999]]));
    expect(filingTimes([{ seq: 4, time: 0 }], 0, 999)).toEqual(new Map([[4, 999]]));
  });
});
