import { describe, expect, it } from 'vitest';
import {
  completeRange,
  emptyState,
  evaluatePage,
  inWindow,
  MIN_SPAN_SEQS,
  pageRequest,
  parseState,
  pendingSpans,
  planSpans,
  type RangeProgress,
  rangesToArchive,
  rangeWithSpans,
  type SeqWindow,
  serializeState,
  type TargetState,
} from '../../functions/domain/continuation.ts';
import { StateCorruptError } from '../../functions/domain/errors.ts';

const target = (over: Partial<TargetState> = {}): TargetState => ({
  groupId: 'g',
  topicId: null,
  highWater: 0,
  highWaterTime: null,
  inProgress: null,
  generation: 0,
  ...over,
});

/** Every seq of the windows, checking that none repeats. */
function seqsOf(windows: readonly SeqWindow[]): number[] {
  const seqs = windows.flatMap((w) => Array.from({ length: w.hi - w.lo + 1 }, (_, i) => w.hi - i));
  expect(new Set(seqs).size).toBe(seqs.length);
  return seqs;
}

describe('planSpans', () => {
  it('keeps a range below the minimum span size as one span: sequential page-following, no extra call', () => {
    expect(planSpans([{ lo: 1, hi: MIN_SPAN_SEQS * 2 - 1 }], 64)).toEqual([
      { lo: 1, hi: MIN_SPAN_SEQS * 2 - 1 },
    ]);
  });

  it('splits a large range into at most maxSpans spans, highest first, cut at multiples of 20 below the top', () => {
    const spans = planSpans([{ lo: 1, hi: 1_000_000 }], 64);
    expect(spans.length).toBeLessThanOrEqual(64);
    expect(spans.length).toBeGreaterThan(60);
    expect(spans[0]?.hi).toBe(1_000_000);
    for (const [i, w] of spans.entries()) {
      if (i < spans.length - 1) expect((w.hi - w.lo + 1) % 20).toBe(0);
      if (i > 0) expect(w.hi).toBe((spans[i - 1] as SeqWindow).lo - 1);
    }
    expect(seqsOf(spans)).toHaveLength(1_000_000);
  });

  it('never cuts spans below the minimum size', () => {
    const spans = planSpans([{ lo: 101, hi: 100 + MIN_SPAN_SEQS * 5 }], 64);
    expect(spans).toHaveLength(5);
    expect(seqsOf(spans)).toHaveLength(MIN_SPAN_SEQS * 5);
  });

  it('keeps the intervals of a resumed range and cuts only the large ones', () => {
    const pending = [
      { lo: 900_001, hi: 900_050 },
      { lo: 1, hi: 400_000 },
    ];
    const spans = planSpans(pending, 16);
    expect(spans[0]).toEqual({ lo: 900_001, hi: 900_050 });
    expect(spans.length).toBeLessThanOrEqual(17);
    expect(seqsOf(spans)).toHaveLength(400_050);
  });
});

describe('pendingSpans and rangeWithSpans: the todo list of a range', () => {
  const range: RangeProgress = { top: 5_000, cursor: 5_000, floorTime: null, topTime: null };

  it('reads a range without todo as everything from its cursor down to the floor', () => {
    expect(pendingSpans({ ...range, cursor: 3_000 }, 101)).toEqual([{ lo: 101, hi: 3_000 }]);
    expect(pendingSpans({ ...range, cursor: 100 }, 101)).toEqual([]);
  });

  it('records spans in progress as a todo list whose first hi is the cursor, and reads it back', () => {
    const spans = [
      { lo: 101, hi: 1_500 },
      { lo: 2_601, hi: 4_321 },
    ];
    const progress = rangeWithSpans(range, spans, 101);
    expect(progress).toEqual({
      ...range,
      cursor: 4_321,
      todo: [
        { lo: 2_601, hi: 4_321 },
        { lo: 101, hi: 1_500 },
      ],
    });
    expect(pendingSpans(progress as RangeProgress, 101)).toEqual(progress?.todo);
    // The document round-trips.
    const state = { ...emptyState(1), targets: [target({ highWater: 100, inProgress: progress })] };
    expect(parseState(serializeState(state), 1, 'x')).toEqual(state);
  });

  it('writes the plain form (no todo) when one span is left reaching down to the floor', () => {
    expect(rangeWithSpans(range, [{ lo: 101, hi: 777 }], 101)).toEqual({ ...range, cursor: 777 });
  });

  it('drops exhausted spans, and says null when nothing is left', () => {
    expect(
      rangeWithSpans(
        range,
        [
          { lo: 2_000, hi: 1_999 },
          { lo: 101, hi: 500 },
        ],
        101,
      ),
    ).toEqual({
      ...range,
      cursor: 500,
    });
    expect(rangeWithSpans(range, [{ lo: 2_000, hi: 1_999 }], 101)).toBeNull();
  });

  it('never claims an unfetched seq: todo plus what it leaves out cover the range exactly', () => {
    const spans = planSpans([{ lo: 101, hi: 5_000 }], 2).map((w, i) => ({ ...w, hi: w.hi - 37 * (i + 1) }));
    const progress = rangeWithSpans(range, spans, 101) as RangeProgress;
    const todo = new Set(seqsOf(pendingSpans(progress, 101)));
    const fetched = new Set(
      spans.flatMap((w, i) => Array.from({ length: 37 * (i + 1) }, (_, k) => w.hi + 1 + k)),
    );
    for (let seq = 101; seq <= 5_000; seq++) expect(todo.has(seq) !== fetched.has(seq)).toBe(true);
  });

  it('rejects a todo list that does not start at the cursor or overlaps', () => {
    const doc = (todo: SeqWindow[]) =>
      JSON.stringify({
        ...emptyState(1),
        targets: [target({ inProgress: { ...range, cursor: 4_000, todo } })],
      });
    expect(() => parseState(doc([{ lo: 1, hi: 3_000 }]), 1, 'x')).toThrow(StateCorruptError);
    expect(() =>
      parseState(
        doc([
          { lo: 2_000, hi: 4_000 },
          { lo: 1, hi: 2_000 },
        ]),
        1,
        'x',
      ),
    ).toThrow(/todo must be disjoint/);
  });
});

describe('pageRequest', () => {
  it('asks for at most 20 seqs from the span top, never below its bottom', () => {
    expect(pageRequest({ lo: 1, hi: 100 })).toEqual({ reqMsgSeq: 100, reqMsgNumber: 20 });
    expect(pageRequest({ lo: 95, hi: 100 })).toEqual({ reqMsgSeq: 100, reqMsgNumber: 6 });
  });
});

describe('evaluatePage (docs/tencent-api.md, Paging rules)', () => {
  const window = { lo: 81, hi: 100 };
  const base = {
    window,
    reqMsgSeq: 100,
    reqMsgNumber: 20,
    oldestTime: 1_000,
    floorTime: null,
    topTime: null,
  };
  it.each([
    [
      'a whole window (IsFinished 1)',
      { isFinished: 1, seqs: [100, 90, 81] },
      { kind: 'window-done', stopTarget: false },
    ],
    [
      'a full page reaching the bottom (IsFinished 0)',
      { isFinished: 0, seqs: [100, 81] },
      { kind: 'window-done', stopTarget: false },
    ],
    [
      'a short page (IsFinished 0)',
      { isFinished: 0, seqs: [100, 95, 93] },
      { kind: 'continue', reqMsgSeq: 92, reqMsgNumber: 12 },
    ],
    ['an empty page', { isFinished: 0, seqs: [] }, { kind: 'window-done', stopTarget: false }],
    [
      'an expired window (IsFinished 2)',
      { isFinished: 2, seqs: [100] },
      { kind: 'window-done', stopTarget: true, reason: 'expired' },
    ],
  ] as const)('%s', (_label, page, expected) => {
    expect(evaluatePage({ ...base, ...page })).toEqual(expected);
  });

  it('continues below a complete sub-window when the request asked for less than the window (after 10018)', () => {
    expect(evaluatePage({ ...base, reqMsgNumber: 10, isFinished: 1, seqs: [100, 95] })).toEqual({
      kind: 'continue',
      reqMsgSeq: 90,
      reqMsgNumber: 10,
    });
  });

  it('stops the target at messages older than the look-back floor', () => {
    expect(evaluatePage({ ...base, isFinished: 1, seqs: [100], oldestTime: 10, floorTime: 500 })).toEqual({
      kind: 'window-done',
      stopTarget: true,
      reason: 'before-floor-time',
    });
  });
});

describe('inWindow', () => {
  it('drops messages that a page returned from below the window', () => {
    const msgs = [{ MsgSeq: 100 }, { MsgSeq: 81 }, { MsgSeq: 80 }, { MsgSeq: 101 }];
    expect(inWindow({ lo: 81, hi: 100 }, msgs).map((m) => m.MsgSeq)).toEqual([100, 81]);
  });
});

describe('rangesToArchive', () => {
  it('starts with everything on the first run, with the look-back floor', () => {
    expect(rangesToArchive(undefined, 500, 1234)).toEqual([
      { top: 500, cursor: 500, floorTime: 1234, topTime: null },
    ]);
  });
  it('has no work for an idle target (no history call needed)', () => {
    expect(rangesToArchive(target({ highWater: 500 }), 500, null)).toEqual([]);
  });
  it('archives only what is new above the high-water mark, without a look-back', () => {
    expect(rangesToArchive(target({ highWater: 500 }), 520, 99)).toEqual([
      { top: 520, cursor: 520, floorTime: null, topTime: null },
    ]);
  });
  it('resumes an interrupted range, then takes what arrived since', () => {
    const t = target({
      highWater: 100,
      inProgress: { top: 300, cursor: 180, floorTime: null, topTime: null },
    });
    expect(rangesToArchive(t, 350, null)).toEqual([
      { top: 300, cursor: 180, floorTime: null, topTime: null },
      { top: 350, cursor: 350, floorTime: null, topTime: null },
    ]);
  });
});

describe('completeRange', () => {
  const range = { top: 300, cursor: 300, floorTime: null, topTime: null };
  it('moves the high-water mark to the top and remembers the newest archived time', () => {
    expect(completeRange(target({ highWater: 100, highWaterTime: 5 }), { ...range, topTime: 900 })).toEqual(
      target({ highWater: 300, highWaterTime: 900 }),
    );
    expect(completeRange(target({ highWater: 100, highWaterTime: 5 }), range)).toEqual(
      target({ highWater: 300, highWaterTime: 5 }),
    );
  });
  it('reads state documents written before highWaterTime and topTime existed', () => {
    const old =
      '{"version":1,"sdkAppId":1,"lease":null,"pending":null,"targets":[{"groupId":"g","topicId":null,"highWater":3,"inProgress":{"top":9,"cursor":5,"floorTime":null}}]}';
    expect(parseState(old, 1, 'x').targets[0]).toEqual(
      target({ highWater: 3, inProgress: { top: 9, cursor: 5, floorTime: null, topTime: null } }),
    );
  });
});

describe('parseState', () => {
  it('round-trips a state document', () => {
    const state = { ...emptyState(1400000000), targets: [target({ highWater: 5 })] };
    expect(parseState(serializeState(state), 1400000000, 'x')).toEqual(state);
  });
  it.each([
    ['not JSON', '{"version":', /not valid JSON/],
    ['an unknown version', '{"version":2}', /version 2/],
    [
      'a damaged document',
      '{"version":1,"sdkAppId":1,"lease":null,"pending":null,"targets":[{"groupId":"g"}]}',
      /damaged \(targets\.0/,
    ],
    [
      'a cursor above its top',
      JSON.stringify({
        ...emptyState(1),
        targets: [target({ inProgress: { top: 1, cursor: 5, floorTime: null, topTime: null } })],
      }),
      /cursor must not exceed top/,
    ],
  ])('refuses %s with a clear error instead of restarting from scratch', (_label, text, message) => {
    expect(() => parseState(text, 1, 'state/x')).toThrow(StateCorruptError);
    expect(() => parseState(text, 1, 'state/x')).toThrow(message);
  });
  it('refuses the state of another app', () => {
    expect(() => parseState(serializeState(emptyState(2)), 1, 'x')).toThrow(/belongs to SDKAppID 2/);
  });
});
