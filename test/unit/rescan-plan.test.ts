/**
 * The rescan plan: the window on the server's clock inside retention, the days it covers, when a
 * cycle continues or starts over, which archived messages are compared and how few windows do it.
 */
import { describe, expect, it } from 'vitest';
import { FingerprintLogBuilder, FingerprintTable } from '../../functions/domain/fingerprint-log.ts';
import { toRecord } from '../../functions/domain/record.ts';
import {
  chooseCycle,
  currentGenerations,
  daysBetween,
  judgeRescanned,
  parseRescanProgress,
  RETENTION_MARGIN_SECONDS,
  type RescanCycle,
  rescanWindowStart,
  rescanWindows,
} from '../../functions/domain/rescan-plan.ts';
import { contentFingerprint } from '../../functions/domain/revisions.ts';

const NOW = Date.UTC(2026, 10, 25, 12) / 1000;
const DAY = 86_400;

describe('rescan window', () => {
  it('covers the last days, but never the last hour before the retention edge', () => {
    expect(rescanWindowStart(NOW, 3, 7)).toBe(NOW - 3 * DAY);
    expect(rescanWindowStart(NOW, 7, 7)).toBe(NOW - 7 * DAY + RETENTION_MARGIN_SECONDS);
  });

  it('lists every dt it touches, oldest first, in the archive zone', () => {
    expect(daysBetween(NOW - 3 * DAY, NOW, 'UTC')).toEqual([
      '2026-11-22',
      '2026-11-23',
      '2026-11-24',
      '2026-11-25',
    ]);
    // 12:00 UTC is 20:00 in Shanghai: the window ends on the 25th there too, but starts on the 22nd at 20:00.
    expect(daysBetween(NOW - DAY, NOW, 'Asia/Shanghai')).toEqual(['2026-11-24', '2026-11-25']);
    expect(daysBetween(NOW - 60, NOW, 'UTC')).toEqual(['2026-11-25']);
  });
});

describe('chooseCycle', () => {
  const base = { localNowSec: NOW, serverNowSec: NOW, days: 3, retentionDays: 7, timeZone: 'UTC' };
  const running: RescanCycle = {
    startedAtSec: NOW - 600,
    windowStartSec: NOW - 3 * DAY - 600,
    days: ['2026-11-22', '2026-11-23', '2026-11-24', '2026-11-25'],
    dayIndex: 2,
    targetsDone: 5,
  };

  it('continues a recent cycle in progress, and starts one otherwise', () => {
    expect(chooseCycle({ ...base, progress: { version: 1, cycle: running, lastCompletedAtSec: null } })).toBe(
      running,
    );
    const fresh = chooseCycle({ ...base, progress: parseRescanProgress(undefined) });
    expect(fresh).toEqual({
      startedAtSec: NOW,
      windowStartSec: NOW - 3 * DAY,
      days: ['2026-11-22', '2026-11-23', '2026-11-24', '2026-11-25'],
      dayIndex: 0,
      targetsDone: 0,
    });
    const stale = { ...running, startedAtSec: NOW - 2 * DAY };
    expect(
      chooseCycle({ ...base, progress: { version: 1, cycle: stale, lastCompletedAtSec: null } }).startedAtSec,
    ).toBe(NOW);
  });

  it('drops a cycle whose window slid out of retention, and reads damaged progress as none', () => {
    const tooOld = { ...running, windowStartSec: NOW - 7 * DAY };
    expect(
      chooseCycle({ ...base, progress: { version: 1, cycle: tooOld, lastCompletedAtSec: null } }).dayIndex,
    ).toBe(0);
    expect(parseRescanProgress('{"version":2}')).toEqual({
      version: 1,
      cycle: null,
      lastCompletedAtSec: null,
    });
    expect(parseRescanProgress('not json').cycle).toBeNull();
  });
});

describe('rescanWindows', () => {
  const table = (entries: [seq: number, time: number, observedAt: number | null, generation?: number][]) => {
    const builder = new FingerprintLogBuilder();
    for (const [seq, time, observedAt, generation] of entries) {
      builder.add(
        toRecord(
          { MsgSeq: seq, MsgTimeStamp: time, MsgBody: [] },
          { sdkAppId: 1, groupId: 'g', topicId: null, observedAt, generation: generation ?? 0 },
        ),
      );
    }
    const t = new FingerprintTable();
    t.addLog(builder.build(), 'test');
    return t.targets();
  };
  const cycle: RescanCycle = {
    startedAtSec: 1_000,
    windowStartSec: 500,
    days: [],
    dayIndex: 0,
    targetsDone: 0,
  };

  it('covers every candidate in windows of at most 20 seqs, newest first, skipping gaps', () => {
    const seqs = [...Array.from({ length: 45 }, (_, i) => i + 1), 200, 201];
    const [prints] = table(seqs.map((s) => [s, 600, 900]));
    expect(prints && rescanWindows(prints, cycle)).toEqual([
      { lo: 182, hi: 201 },
      { lo: 26, hi: 45 },
      { lo: 6, hi: 25 },
      { lo: 1, hi: 5 },
    ]);
  });

  it('leaves out messages before the window and those observed in this cycle', () => {
    const [prints] = table([
      [1, 400, 900],
      [2, 600, 1_000],
      [3, 600, null],
      [4, 600, 999],
    ]);
    expect(prints && rescanWindows(prints, cycle)).toEqual([{ lo: 1, hi: 4 }]);
    const [none] = table([
      [1, 400, 900],
      [2, 600, 1_200],
    ]);
    expect(none && rescanWindows(none, cycle)).toEqual([]);
  });

  it('keeps only the newest generation of a group', () => {
    const targets = table([
      [5, 600, 900, 0],
      [1, 600, 900, 1],
    ]);
    expect(currentGenerations(targets).map((t) => t.target.generation)).toEqual([1]);
  });
});

describe('judgeRescanned', () => {
  const cycle: RescanCycle = {
    startedAtSec: NOW,
    windowStartSec: NOW - 3 * DAY,
    days: [],
    dayIndex: 0,
    targetsDone: 0,
  };
  const ctx = { sdkAppId: 1, groupId: 'g', topicId: null, observedAt: NOW - DAY };
  const sent = NOW - DAY;
  const original = toRecord(
    {
      From_Account: 'alice',
      IsPlaceMsg: 0,
      MsgBody: [{ MsgType: 'TIMTextElem', MsgContent: { Text: 'hi' } }],
      MsgRandom: 42,
      MsgSeq: 7,
      MsgTimeStamp: sent,
    },
    ctx,
  );
  const [prints] = (() => {
    const builder = new FingerprintLogBuilder();
    builder.add(original);
    const table = new FingerprintTable();
    table.addLog(builder.build(), 'test');
    return table.targets();
  })();
  const archived = prints?.find(7);
  const state = (raw: Parameters<typeof toRecord>[0]) => {
    const record = toRecord(raw, ctx);
    return { place: record.is_place_msg, fingerprint: contentFingerprint(record) };
  };
  const zeroed = state({
    From_Account: '',
    IsPlaceMsg: 1,
    MsgBody: [],
    MsgRandom: 0,
    MsgSeq: 7,
    MsgTimeStamp: 0,
  });
  const horizon = NOW - 30 * DAY + RETENTION_MARGIN_SECONDS;

  it('decides by the fingerprint log time, never by a zeroed served time', () => {
    expect(archived?.msgTime).toBe(sent);
    // The placeholder says MsgTimeStamp 0, far beyond the horizon; the archive knows better.
    expect(judgeRescanned(archived as NonNullable<typeof archived>, zeroed, cycle, horizon)).toEqual({
      kind: 'changed',
      change: 'deleted',
      revision: 1,
      filedAt: sent,
    });
    // The same content as archived: compared, nothing to record.
    const same = { place: 0, fingerprint: contentFingerprint(original) };
    expect(judgeRescanned(archived as NonNullable<typeof archived>, same, cycle, horizon)).toEqual({
      kind: 'same',
    });
  });

  it('skips a message the archive dates beyond the horizon or before the window, whatever is served', () => {
    const entry = archived as NonNullable<typeof archived>;
    expect(judgeRescanned(entry, zeroed, cycle, sent + 1)).toEqual({ kind: 'skip' });
    expect(judgeRescanned(entry, zeroed, { ...cycle, windowStartSec: sent + 1 }, horizon)).toEqual({
      kind: 'skip',
    });
  });

  it('keeps the time it is filed under in the fingerprint log, not the zeroed one of the row', () => {
    const revision = { ...toRecord({ IsPlaceMsg: 1, MsgBody: [], MsgSeq: 7, MsgTimeStamp: 0 }, ctx) };
    const builder = new FingerprintLogBuilder();
    builder.add({ ...revision, revision: 1, change: 'deleted' }, sent);
    const table = new FingerprintTable();
    table.addLog(builder.build(), 'test');
    expect(table.targets()[0]?.find(7)).toMatchObject({ revision: 1, place: 1, msgTime: sent });
  });
});
