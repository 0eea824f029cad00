import { describe, expect, it } from 'vitest';
import {
  advanceTarget,
  emptyState,
  evaluatePage,
  inWindow,
  parseState,
  rangesToArchive,
  StateCorruptError,
  serializeState,
  type TargetState,
  windowsBelow,
} from '../../functions/domain/continuation.ts';

const target = (over: Partial<TargetState> = {}): TargetState => ({
  groupId: 'g',
  topicId: null,
  highWater: 0,
  highWaterTime: null,
  inProgress: null,
  generation: 0,
  ...over,
});

describe('windowsBelow', () => {
  it('splits a range into windows of 20, newest first, the last one partial', () => {
    expect([...windowsBelow(45, 1)]).toEqual([
      { lo: 26, hi: 45 },
      { lo: 6, hi: 25 },
      { lo: 1, hi: 5 },
    ]);
  });
  it('yields nothing when the cursor is below the floor', () => {
    expect([...windowsBelow(10, 11)]).toEqual([]);
  });
  it('covers every seq exactly once', () => {
    const seqs = [...windowsBelow(1_000, 37)].flatMap((w) =>
      Array.from({ length: w.hi - w.lo + 1 }, (_, i) => w.lo + i),
    );
    expect(seqs.length).toBe(1_000 - 37 + 1);
    expect(new Set(seqs).size).toBe(seqs.length);
  });
});

describe('evaluatePage (reference §3.6)', () => {
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

describe('advanceTarget', () => {
  const range = { top: 300, cursor: 300, floorTime: null, topTime: null };
  it('records partial progress without moving the high-water mark', () => {
    expect(advanceTarget(target({ highWater: 100 }), range, 200, false)).toEqual(
      target({ highWater: 100, inProgress: { top: 300, cursor: 200, floorTime: null, topTime: null } }),
    );
  });
  it('remembers the time of the newest archived message when a range completes', () => {
    const done = advanceTarget(
      target({ highWater: 100, highWaterTime: 5 }),
      { ...range, topTime: 900 },
      100,
      false,
    );
    expect(done).toEqual(target({ highWater: 300, highWaterTime: 900 }));
  });
  it('reads state documents written before highWaterTime and topTime existed', () => {
    const old =
      '{"version":1,"sdkAppId":1,"lease":null,"pending":null,"targets":[{"groupId":"g","topicId":null,"highWater":3,"inProgress":{"top":9,"cursor":5,"floorTime":null}}]}';
    expect(parseState(old, 1, 'x').targets[0]).toEqual(
      target({ highWater: 3, inProgress: { top: 9, cursor: 5, floorTime: null, topTime: null } }),
    );
  });
  it('moves the high-water mark only when the range is complete', () => {
    expect(advanceTarget(target({ highWater: 100 }), range, 100, false)).toEqual(target({ highWater: 300 }));
    expect(advanceTarget(target({ highWater: 100 }), range, 250, true)).toEqual(target({ highWater: 300 }));
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
