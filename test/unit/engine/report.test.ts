import { describe, expect, it } from 'vitest';
import { toQuarantinedRecord, toRecord } from '../../../functions/domain/record.ts';
import { emptyMediaReport } from '../../../functions/engine/media-report.ts';
import {
  emptyReport,
  MAX_REPORTED_QUARANTINED,
  noteQuarantined,
  runReportJson,
} from '../../../functions/engine/report.ts';
import { formatReport } from '../../../functions/engine/report-format.ts';
import { textMessage } from '../../helpers/engine-fakes.ts';

const APP = 1400000001;
const ctx = { sdkAppId: APP, groupId: 'g1', topicId: null };

function quarantined(seq: number) {
  return toQuarantinedRecord(
    {
      text: `{"MsgSeq":${seq},"MsgTimeStamp":null}`,
      reason: 'MsgTimeStamp: expected number, got null',
      msgSeq: seq,
    },
    { ...ctx, fallbackTime: 1_767_225_600 },
  );
}

describe('emptyReport', () => {
  it('starts every counter at zero, the rescan complete and the media counts empty', () => {
    const report = emptyReport('run1', APP, 5_000);
    expect(report).toMatchObject({
      runId: 'run1',
      sdkAppId: APP,
      startedAtMs: 5_000,
      finishedAtMs: 5_000,
      done: false,
    });
    expect(report.messages + report.pages + report.checkpoints + report.objectsWritten).toBe(0);
    expect(report.rescan).toMatchObject({ days: 0, complete: true });
    expect(report.media?.archived).toBe(0);
    // Each call gives fresh containers: one report's counts never leak into another's.
    const other = emptyReport('run2', APP, 0);
    report.errors.push({ groupId: 'g', topicId: null, error: 'x' });
    expect(other.errors).toEqual([]);
  });
});

describe('noteQuarantined', () => {
  it('counts every flagged row with its reason, naming only the first MAX_REPORTED_QUARANTINED', () => {
    const report = emptyReport('run1', APP, 0);
    for (let seq = 1; seq <= MAX_REPORTED_QUARANTINED + 5; seq++) noteQuarantined(report, quarantined(seq));
    expect(report.quarantined).toBe(MAX_REPORTED_QUARANTINED + 5);
    expect(report.quarantinedItems).toHaveLength(MAX_REPORTED_QUARANTINED);
    expect(report.quarantinedItems[0]).toEqual({
      groupId: 'g1',
      topicId: null,
      msgSeq: 1,
      reason: 'MsgTimeStamp: expected number, got null',
    });
    expect(formatReport(report)).toContain('quarantined: 5 more not listed');
  });

  it('records an empty reason for a record without one', () => {
    const report = emptyReport('run1', APP, 0);
    noteQuarantined(report, toRecord(textMessage(3, 100), ctx));
    expect(report.quarantinedItems).toEqual([{ groupId: 'g1', topicId: null, msgSeq: 3, reason: '' }]);
  });
});

describe('runReportJson', () => {
  it('is one JSON line that parses back to the report', () => {
    const report = emptyReport('run1', APP, 0);
    report.messages = 12;
    const line = runReportJson(report);
    expect(line.endsWith('}\n')).toBe(true);
    expect(line.split('\n')).toHaveLength(2);
    expect(JSON.parse(line)).toEqual(report);
  });

  it('replaces a lone surrogate and keeps the exact text in raw', () => {
    const report = emptyReport('run1', APP, 0);
    report.errors.push({ groupId: 'g\ud800', topicId: null, error: 'boom' });
    const parsed = JSON.parse(runReportJson(report));
    expect(parsed.errors[0].groupId).toBe('g\ufffd');
    expect(JSON.parse(parsed.raw).errors[0].groupId).toBe('g\ud800');
  });
});

describe('formatReport', () => {
  it('says whether the run is done and names skips, calls, seq resets, errors and a fatal error', () => {
    const report = emptyReport('run1', APP, 0);
    report.elapsedMs = 2_500;
    report.groups.skipped = { deleted: 2 };
    report.calls = { groupMsgGetSimple: 7 };
    report.seqResets.push({ groupId: 'g2', topicId: 't1', highWater: 50, newestSeq: 3, generation: 1 });
    report.errors.push({ groupId: 'g3', topicId: null, error: 'timeout' });
    report.fatalError = 'lease lost';
    const text = formatReport(report);
    expect(text.split('\n')[0]).toBe(`run run1 (app ${APP}): NOT done, run again to continue in 2.5 s`);
    expect(text).toContain('skipped: deleted 2');
    expect(text).toContain('calls: groupMsgGetSimple 7;');
    expect(text).toContain(
      'seq reset: g2 / t1: newest seq 3 below the archived 50; archived as generation 1',
    );
    expect(text).toContain('  error: g3: timeout');
    expect(text).toContain('  FATAL: lease lost');
    expect(text).not.toContain('rescan (');
    expect(text).not.toContain('media:');
  });

  it('shows the rescan when it is on, the media line when there was media, a carried plan and rollbacks', () => {
    const report = emptyReport('run1', APP, 0);
    report.done = true;
    report.calls = {};
    report.planCarried = true;
    report.targetsWithWork = 4;
    report.rolledBackObjects = 3;
    report.rescan = { ...report.rescan, days: 3, checked: 9, calls: 2, modified: 1, complete: false };
    report.media = { ...emptyMediaReport(), references: 2, archived: 2 };
    const text = formatReport(report);
    expect(text).toContain('done in 0.0 s');
    expect(text).toContain('calls: none;');
    expect(text).toContain(
      'plan: carried on from an earlier invocation of this run (no listing), 4 targets with work',
    );
    expect(text).toContain('rescan (3 days): 9 checked in 2 calls; changes: 1 modified');
    expect(text).toContain('NOT complete, run again to continue');
    expect(text).toContain(', 3 rolled back');
    expect(text).toContain('  media: 2 archived');
  });
});
