/**
 * The run's options (functions/engine/run-options.ts): its declarations are checked by tsc; its one
 * rule, the run's `observed_at`, is checked here.
 */
import { describe, expect, it } from 'vitest';
import { runObservedAt } from '../../../functions/engine/run-options.ts';

describe('runObservedAt', () => {
  it('is the given observedAtSec, even 0', () => {
    expect(runObservedAt({ observedAtSec: 1_700_000_123 }, Date.UTC(2026, 0, 1))).toBe(1_700_000_123);
    expect(runObservedAt({ observedAtSec: 0 }, Date.UTC(2026, 0, 1))).toBe(0);
  });

  it("is otherwise the run's start, rounded down to the second", () => {
    expect(runObservedAt({}, Date.UTC(2026, 0, 1, 2, 0, 0, 999))).toBe(Date.UTC(2026, 0, 1, 2) / 1000);
  });
});
