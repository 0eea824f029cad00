import { describe, expect, it } from 'vitest';
import { ServerClockEstimate } from '../../functions/domain/server-clock.ts';

describe('ServerClockEstimate', () => {
  it('is the local clock until the first answer', () => {
    const clock = new ServerClockEstimate();
    expect(clock.offsetMs).toBeUndefined();
    expect(clock.serverTime(1_000)).toBe(1_000);
  });

  it('narrows the offset by intersecting observations of a whole-second Date header', () => {
    const clock = new ServerClockEstimate();
    const offset = -7_250; // the server runs 7.25 s behind
    // Answers produced at local instants 10_000, 10_400, 10_800 … each with 50 ms round trips.
    for (let local = 10_000; local < 20_000; local += 400) {
      const serverAtAnswer = local + 25 + offset;
      const date = Math.floor(serverAtAnswer / 1000) * 1000;
      clock.observe(date, local, local + 50);
    }
    expect(Math.abs((clock.offsetMs ?? 0) - offset)).toBeLessThanOrEqual(150);
    expect(clock.uncertaintyMs).toBeLessThanOrEqual(150);
    expect(Math.abs(clock.serverTime(100_000) - (100_000 + offset))).toBeLessThanOrEqual(150);
  });

  it('starts over when a clock is stepped (an observation contradicts the interval)', () => {
    const clock = new ServerClockEstimate();
    clock.observe(5_000, 5_000, 5_010);
    expect(Math.abs(clock.offsetMs ?? 99)).toBeLessThanOrEqual(500);
    clock.observe(3_605_000, 6_000, 6_010); // the server stepped an hour ahead
    expect(Math.abs((clock.offsetMs ?? 0) - 3_599_500)).toBeLessThanOrEqual(500);
  });

  it('ignores an unparseable Date header', () => {
    const clock = new ServerClockEstimate();
    clock.observe(Number.NaN, 1, 2);
    expect(clock.offsetMs).toBeUndefined();
  });
});
