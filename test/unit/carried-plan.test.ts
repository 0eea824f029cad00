import { describe, expect, it } from 'vitest';
import {
  type CarriedPlan,
  decidePlan,
  PLAN_MAX_AGE_MS,
  parsePlan,
  planObjectKey,
  planScope,
  serializePlan,
} from '../../functions/domain/carried-plan.ts';

const selection = { include: [], exclude: [], types: [] };
const scope = planScope({ groupIds: undefined, selection, initialLookbackDays: null });
const ref = { key: 'k', madeAtMs: 1_000_000, targets: 3, scope };

describe('decidePlan', () => {
  it('carries a fresh plan made for the same selection on', () => {
    expect(decidePlan(ref, { nowMs: 1_000_000 + PLAN_MAX_AGE_MS, maxAgeMs: PLAN_MAX_AGE_MS, scope })).toEqual(
      {
        kind: 'carry',
      },
    );
  });

  it('plans afresh without a plan, past the age bound, with a clock set back, or for another selection', () => {
    const args = { nowMs: 1_000_000, maxAgeMs: 60_000, scope };
    expect(decidePlan(null, args)).toEqual({ kind: 'plan', reason: 'none' });
    expect(decidePlan(ref, { ...args, nowMs: 1_060_001 })).toEqual({ kind: 'plan', reason: 'too-old' });
    expect(decidePlan(ref, { ...args, nowMs: 999_999 })).toEqual({ kind: 'plan', reason: 'too-old' });
    const other = planScope({ groupIds: ['@TGS#1A'], selection, initialLookbackDays: null });
    expect(decidePlan(ref, { ...args, scope: other })).toEqual({ kind: 'plan', reason: 'other-selection' });
    const lookback = planScope({ groupIds: undefined, selection, initialLookbackDays: 3 });
    expect(lookback).not.toBe(scope);
  });
});

describe('plan objects', () => {
  it('round-trip, one target a line, and refuse another app', () => {
    const plan: CarriedPlan = {
      version: 1,
      sdkAppId: 7,
      madeAtMs: 5,
      scope,
      floorTime: null,
      targets: [
        { groupId: 'g1', topicId: null, newestSeq: 10, lastMsgTime: 100 },
        { groupId: 'g2', topicId: 't', newestSeq: 0, lastMsgTime: 0 },
      ],
    };
    const text = serializePlan(plan);
    expect(text.split('\n')).toHaveLength(5);
    expect(parsePlan(text, 7, 'loc')).toEqual(plan);
    expect(() => parsePlan(text, 8, 'loc')).toThrow(/loc/);
    expect(() => parsePlan('{', 7, 'loc')).toThrow(/not valid JSON/);
    expect(planObjectKey(7, 'run1')).toBe('state/sdkappid=7/plans/run1.plan.json');
  });
});
