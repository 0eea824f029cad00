/**
 * The printed run report's sections added by other passes: the identity capture's (issue 24), the
 * one-to-one pass's (issue 26) and the callback materialization's (issue 25), each printed only
 * when the run report has it.
 */
import { describe, expect, it } from 'vitest';
import { emptyC2cReport, noteSkipped } from '../../../functions/engine/c2c-report.ts';
import type { CallbackMaterializeReport } from '../../../functions/engine/callback-materialize.ts';
import type { IdentityReport } from '../../../functions/engine/identity-capture.ts';
import { emptyReport } from '../../../functions/engine/report.ts';
import { formatReport, type StoredRunReport } from '../../../functions/engine/report-format.ts';

const APP = 1400000001;

function identities(over: Partial<IdentityReport> = {}): IdentityReport {
  return {
    calls: { groupInfo: 2, profiles: 3, members: 4 },
    duringPaging: 1,
    budget: 40,
    otherCalls: 800,
    groupsFromPlanning: 5,
    rollCall: 1,
    rows: { users: 6, groups: 1, members: 8 },
    firstRows: 11,
    pending: { users: 0, groups: 0, members: 0 },
    dropped: 0,
    failedCalls: 0,
    rolledForward: false,
    elapsedMs: 900,
    ...over,
  };
}

function linesOf(report: StoredRunReport, prefix: string): string[] {
  return formatReport(report)
    .split('\n')
    .filter((line) => line.startsWith(prefix));
}

describe('formatReport: the identity capture', () => {
  it('prints calls by API against the budget and rows by kind with first sightings', () => {
    const report: StoredRunReport = { ...emptyReport('run1', APP, 0), identities: identities() };
    expect(linesOf(report, '  names:')).toEqual([
      '  names: 9 calls (2 group info, 3 profiles, 4 members; 1 while paging) of a budget of 40; 15 rows written (6 users, 1 groups, 8 members; 11 first sightings)',
    ]);
  });

  it('adds what is left for the next run, dropped items, failed calls and a rolled-forward commit', () => {
    const report: StoredRunReport = {
      ...emptyReport('run1', APP, 0),
      identities: identities({
        pending: { users: 120, groups: 0, members: 7 },
        dropped: 3,
        failedCalls: 2,
        rolledForward: true,
      }),
    };
    expect(linesOf(report, '  names:')).toEqual([
      '  names: 9 calls (2 group info, 3 profiles, 4 members; 1 while paging) of a budget of 40; 15 rows written (6 users, 1 groups, 8 members; 11 first sightings); 127 left for the next run (120 users, 0 groups, 7 members)',
      "  names: 2 calls failed (their items stay pending); 3 pending items dropped over identities.maxPending; finished an interrupted run's commit first",
    ]);
  });

  it('prints nothing about names when the capture did not run', () => {
    expect(linesOf(emptyReport('run1', APP, 0), '  names:')).toEqual([]);
  });
});

describe('formatReport: the one-to-one pass', () => {
  it('prints pairs pulled, caught up and skipped, messages and duplicates dropped', () => {
    const c2c = {
      ...emptyC2cReport(),
      pairsKnown: 5,
      pairsPulled: 4,
      pairsCaughtUp: 3,
      pairsLeftOpen: 1,
      messages: 290,
      recalled: 2,
      duplicates: 6,
      pages: 17,
      done: false,
    };
    noteSkipped(c2c, '["alice","bob"]', 'account gone (90003)');
    const lines = linesOf({ ...emptyReport('run1', APP, 0), c2c }, '  one-to-one');
    expect(lines).toEqual([
      '  one-to-one: 5 pairs known, 4 pulled, 3 caught up, 1 left open, 1 skipped (account gone); 290 messages (2 recalled, 0 quarantined) in 17 pages; 6 duplicates dropped; NOT done, run again to continue',
      '  one-to-one skipped: ["alice","bob"]: account gone (90003)',
    ]);
  });

  it('counts the skipped pairs it does not name', () => {
    const c2c = { ...emptyC2cReport(), done: true };
    for (let i = 0; i < 103; i++) noteSkipped(c2c, `["a${i}","b"]`, 'gone');
    const lines = linesOf({ ...emptyReport('run1', APP, 0), c2c }, '  one-to-one');
    expect(lines[0]).toMatch(/103 skipped .*; 0 duplicates dropped$/);
    expect(lines.filter((l) => l.startsWith('  one-to-one skipped: ["a'))).toHaveLength(100);
    expect(lines.at(-1)).toBe('  one-to-one skipped: 3 more not listed');
  });

  it('prints nothing about one-to-one history when the app has no c2c config', () => {
    expect(linesOf(emptyReport('run1', APP, 0), '  one-to-one')).toEqual([]);
  });
});

describe('formatReport: the callback materialization', () => {
  const callbacks: CallbackMaterializeReport = {
    events: 40,
    duplicates: 3,
    replayed: 0,
    unreadable: 0,
    onlineOnly: 2,
    ignored: 5,
    messages: 25,
    revisions: 4,
    dissolutions: 1,
    objects: 6,
    objectsLeft: 0,
    unreadableLines: 0,
    commits: 2,
    rolledForward: false,
    elapsedMs: 300,
  };

  it('prints the events read and what they became', () => {
    expect(linesOf({ ...emptyReport('run1', APP, 0), callbacks }, '  callbacks:')).toEqual([
      '  callbacks: 40 events from 6 recorded objects in 2 commits; 25 messages, 4 revisions, 1 dissolutions; 3 duplicates, 2 online-only, 5 other commands',
    ]);
  });

  it('adds replayed bodies, unreadable events, objects left and a rolled-forward commit', () => {
    const troubled = {
      ...callbacks,
      replayed: 2,
      unreadable: 1,
      unreadableLines: 3,
      objectsLeft: 4,
      rolledForward: true,
    };
    expect(linesOf({ ...emptyReport('run1', APP, 0), callbacks: troubled }, '  callbacks:')[1]).toBe(
      "  callbacks: 2 events delivered again with another body (kept, flagged); 1 unreadable or quarantined events and 3 unreadable lines (kept in callback_events); 4 recorded objects left for the next run; finished an interrupted run's commit first",
    );
  });

  it('prints the callbacks against the pull: counts, loss rate and the groups to look at', () => {
    const reconciliation = {
      bothEqual: 95,
      callbackOnly: 3,
      different: 1,
      pullPlaceholder: 0,
      pullOnly: 4,
      lossRate: 0.04,
      groups: [
        {
          groupId: 'g1',
          topicId: null,
          bothEqual: 0,
          callbackOnly: 0,
          different: 1,
          pullPlaceholder: 0,
          pullOnly: 4,
        },
        {
          groupId: 'g2',
          topicId: 't',
          bothEqual: 0,
          callbackOnly: 3,
          different: 0,
          pullPlaceholder: 0,
          pullOnly: 0,
        },
      ],
      groupsNotListed: 2,
    };
    const report = { ...emptyReport('run1', APP, 0), callbacks: { ...callbacks, reconciliation } };
    expect(linesOf(report, '  callbacks against the pull:')).toEqual([
      '  callbacks against the pull: 95 both and equal, 1 different (flagged, both kept), 0 placeholders in the pull, 3 callback-only (unconfirmed), 4 pull-only (callback lost); loss rate 4.0%',
      '  callbacks against the pull: g1: 4 pull-only, 1 different, 0 callback-only',
      '  callbacks against the pull: g2 / t: 0 pull-only, 0 different, 3 callback-only',
      '  callbacks against the pull: 2 more groups not listed',
    ]);
    const quiet = {
      ...reconciliation,
      bothEqual: 0,
      pullOnly: 0,
      lossRate: null,
      groups: [],
      groupsNotListed: 0,
    };
    expect(
      linesOf({ ...report, callbacks: { ...callbacks, reconciliation: quiet } }, '  callbacks against'),
    ).toEqual([
      '  callbacks against the pull: 0 both and equal, 1 different (flagged, both kept), 0 placeholders in the pull, 3 callback-only (unconfirmed), 0 pull-only (callback lost); no loss rate (nothing pulled since callbacks began)',
    ]);
  });

  it('prints nothing about callbacks for an app without a callback token', () => {
    expect(linesOf(emptyReport('run1', APP, 0), '  callbacks:')).toEqual([]);
  });
});
