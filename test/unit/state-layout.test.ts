import { describe, expect, it } from 'vitest';
import { emptyState, serializeState, type TargetState } from '../../functions/domain/continuation.ts';
import {
  decideLayout,
  emptyHead,
  encodeTargets,
  HEAD_VERSION,
  mergeTargets,
  parseHead,
  parseTargets,
  sameTargetState,
  serializeHead,
  serializeTargets,
  targetsObjectKey,
} from '../../functions/domain/state-layout.ts';

const target = (groupId: string, over: Partial<TargetState> = {}): TargetState => ({
  groupId,
  topicId: null,
  highWater: 10,
  highWaterTime: 1_700_000_000,
  inProgress: null,
  generation: 0,
  ...over,
});
const ref = (bytes: number) => ({ key: `k${bytes}`, bytes, targets: 1 });
const bounds = { deltaBytes: 1_000, deltas: 3 };

describe('mergeTargets', () => {
  it('applies the deltas over the base in order: a later entry wins, new targets are added', () => {
    const merged = mergeTargets(
      [target('a'), target('b')],
      [[target('b', { highWater: 20 })], [target('b', { highWater: 30 }), target('c', { highWater: 1 })]],
    );
    expect([...merged.values()].map((t) => [t.groupId, t.highWater])).toEqual([
      ['a', 10],
      ['b', 30],
      ['c', 1],
    ]);
  });

  it('keeps a group and its topics apart', () => {
    const merged = mergeTargets(
      [target('g'), target('g', { topicId: 't1' })],
      [[target('g', { highWater: 5 })]],
    );
    expect(merged.size).toBe(2);
  });
});

describe('decideLayout', () => {
  const head = (base: number | null, deltas: number[]) => ({
    layout: 'head' as const,
    head: { ...emptyHead(1), base: base === null ? null : ref(base), deltas: deltas.map(ref) },
  });

  it('adds a delta while the deltas stay within the byte and count bounds', () => {
    expect(decideLayout(head(null, []), 100, bounds)).toBe('delta');
    expect(decideLayout(head(500, [300, 300]), 300, bounds)).toBe('delta');
  });

  it('compacts when the deltas would pass the byte bound', () => {
    expect(decideLayout(head(500, [600]), 401, bounds)).toBe('compact');
  });

  it('compacts when the deltas would pass the count bound', () => {
    expect(decideLayout(head(500, [1, 1, 1]), 1, bounds)).toBe('compact');
  });

  it('lets the byte bound grow with the base (half of it), so compactions stay rare for a large state', () => {
    expect(decideLayout(head(100_000, [20_000]), 20_000, bounds)).toBe('delta');
    expect(decideLayout(head(100_000, [30_000]), 20_001, bounds)).toBe('compact');
  });

  it('compacts a version-1 (inline) state at its first checkpoint: the migration', () => {
    expect(decideLayout({ layout: 'inline', head: emptyHead(1) }, 0, bounds)).toBe('compact');
  });
});

describe('parseHead', () => {
  it('reads a version-1 state with its targets inline (migration)', () => {
    const v1 = { ...emptyState(7), targets: [target('a')], pending: { runId: 'r', objects: ['x'] } };
    const read = parseHead(serializeState(v1), 7, 'loc');
    expect(read.layout).toBe('inline');
    expect(read.layout === 'inline' && read.targets).toEqual([target('a')]);
    expect(read.head.pending).toEqual({ runId: 'r', objects: ['x'] });
    expect(read.head.base).toBeNull();
  });

  it('round-trips a version-2 head', () => {
    const head = { ...emptyHead(7), base: ref(10), deltas: [ref(2), ref(3)] };
    const read = parseHead(serializeHead(head), 7, 'loc');
    expect(read).toEqual({ layout: 'head', head });
  });

  it('refuses unknown versions, another app and damaged heads, naming the object', () => {
    expect(() => parseHead('{"version":9}', 7, 'loc')).toThrow(/loc has version 9/);
    expect(() => parseHead(serializeHead(emptyHead(8)), 7, 'loc')).toThrow(/belongs to SDKAppID 8/);
    expect(() => parseHead(`{"version":${HEAD_VERSION},"sdkAppId":7}`, 7, 'loc')).toThrow(/damaged/);
  });
});

describe('target objects', () => {
  it('round-trip, one target a line', () => {
    const targets = [
      target('a'),
      target('b', { inProgress: { top: 9, cursor: 5, floorTime: null, topTime: 3 } }),
    ];
    const text = serializeTargets(7, targets);
    expect(text.split('\n').length).toBeGreaterThan(targets.length);
    expect(parseTargets(text, 7, 'loc')).toEqual(targets);
    expect(() => parseTargets(text, 8, 'loc')).toThrow(/belongs to SDKAppID 7/);
  });

  it('have create-only keys unique per run and part, beside the head', () => {
    expect(targetsObjectKey(7, 'run1', 3, 'delta')).toBe('state/sdkappid=7/targets/run1-00003.delta.json');
    expect(targetsObjectKey(7, 'run1', 3, 'base')).not.toBe(targetsObjectKey(7, 'run1', 3, 'delta'));
  });
});

describe('sameTargetState', () => {
  it('compares field by field, whatever the key order', () => {
    const a = target('a', {
      inProgress: { top: 9, cursor: 5, floorTime: null, topTime: 3, todo: [{ lo: 1, hi: 5 }] },
    });
    const b = JSON.parse(JSON.stringify({ ...a, groupId: 'a' })) as TargetState;
    expect(sameTargetState(a, b)).toBe(true);
    expect(sameTargetState(undefined, b)).toBe(false);
    expect(sameTargetState(a, { ...b, highWater: 11 })).toBe(false);
    expect(sameTargetState(a, { ...b, inProgress: null })).toBe(false);
    expect(sameTargetState(a, { ...b, inProgress: { top: 9, cursor: 5, floorTime: null, topTime: 3 } })).toBe(
      false,
    );
    expect(
      sameTargetState(a, {
        ...b,
        inProgress: { top: 9, cursor: 5, floorTime: null, topTime: 3, todo: [{ lo: 2, hi: 5 }] },
      }),
    ).toBe(false);
  });
});

describe('encodeTargets', () => {
  it('gives the bytes of serializeTargets, for none, one, and many targets across its blocks', () => {
    const many = Array.from({ length: 3_000 }, (_, i) =>
      target(`@TGS#${i}-名前-𠮷`, { topicId: i % 3 === 0 ? `@TOPIC#${i}` : null }),
    );
    for (const targets of [[], [target('@TGS#1')], many]) {
      const bytes = encodeTargets(1400000000, targets);
      expect(new TextDecoder().decode(bytes)).toBe(serializeTargets(1400000000, targets));
      expect(parseTargets(new TextDecoder().decode(bytes), 1400000000, 'x')).toEqual(targets);
    }
  });
});
