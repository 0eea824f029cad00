/**
 * The nightly reconciliation end to end (issue 25, deliverable 4): the simulator's callbacks into
 * the receiver and `npm run archive` as real processes (test/helpers/callback-archive.ts). After a
 * first run, one group gets 2 messages and is dissolved (its callbacks are their only copy), and
 * another gets 5, the callback of its 3rd dropped and the 4th's replayed with another body. The
 * next run's report counts exactly that: 3 in both and equal, 1 different, 2 callback-only, 1
 * pull-only (a loss rate of 1 in 5), and names both groups; it is printed, and read back from
 * `runs_flat` on DuckDB.
 */
import { describe, expect, it } from 'vitest';
import { systemClock } from '../../functions/adapters/system-clock.ts';
import { openArchiveRunner } from '../../functions/cli/query-runners.ts';
import { collectRows } from '../../functions/query/result.ts';
import { startCallbackArchive, storedRunReports } from '../helpers/callback-archive.ts';
import { useProcessCleanups } from '../helpers/process-archive.ts';

const cleanups = useProcessCleanups();

describe('callbacks against the pull, in the run report', () => {
  it('counts the dropped, the changed and the dissolved group as the simulator injected them', async () => {
    const { t, receiver, archiveDir } = await startCallbackArchive(cleanups, {
      tempPrefix: 'callback-reconcile-run-',
      token: 'reconcile-callback-token',
      simulator: {
        seed: 12,
        latencyMs: 1,
        retentionDays: 3_650,
        dataset: { groups: 4, activeFraction: 1, messagesPerActiveGroup: [5, 10], historyDays: 1 },
        media: false,
      },
    });
    const first = await t.spawnArchive().done;
    expect(first.code, first.stderr).toBe(0);
    const callbacks = t.sim.callbacks;
    if (callbacks === undefined) throw new Error('the simulator has no callbacks');

    const plain = t.sim
      .groups()
      .filter((g) => !g.deleted && !g.topicsEnabled && g.nextMsgSeq > 1 && g.type !== 'AVChatRoom');
    const [kept, gone] = plain;
    if (kept === undefined || gone === undefined)
      throw new Error('the dataset has fewer than 2 plain groups');
    t.sim.appendMessages(gone.groupId, 2);
    t.sim.deleteGroup(gone.groupId);
    // Answered before the next messages are sent: they are sent after the first callback arrived.
    await callbacks.flush();
    t.sim.appendMessages(kept.groupId, 2);
    callbacks.inject({ kind: 'drop' });
    t.sim.appendMessages(kept.groupId, 1);
    const forged = [{ MsgType: 'TIMTextElem', MsgContent: { Text: 'not what was sent' } }];
    callbacks.inject({ kind: 'replay-changed', change: { MsgBody: forged } });
    t.sim.appendMessages(kept.groupId, 2);
    await callbacks.flush();
    await receiver.recorder.drain();
    expect(callbacks.stats()).toMatchObject({ dropped: 1, failed: 0 });

    const second = await t.spawnArchive().done;
    expect(second.code, second.stderr).toBe(0);
    const sections = (await storedRunReports(archiveDir))
      .map((r) => r.callbacks as { reconciliation?: unknown } | undefined)
      .filter((c) => c?.reconciliation !== undefined);
    expect(sections.map((c) => c?.reconciliation)).toEqual([
      {
        bothEqual: 3,
        different: 1,
        pullPlaceholder: 0,
        callbackOnly: 2,
        pullOnly: 1,
        lossRate: 1 / 5,
        groups: [
          {
            groupId: kept.groupId,
            topicId: null,
            bothEqual: 0,
            callbackOnly: 0,
            different: 1,
            pullPlaceholder: 0,
            pullOnly: 1,
          },
          {
            groupId: gone.groupId,
            topicId: null,
            bothEqual: 0,
            callbackOnly: 2,
            different: 0,
            pullPlaceholder: 0,
            pullOnly: 0,
          },
        ],
        groupsNotListed: 0,
      },
    ]);
    const db = await openArchiveRunner({
      archive: archiveDir,
      timeZone: 'UTC',
      clock: systemClock,
      workGroup: 'wg',
      database: 'db',
    });
    try {
      const flat = await collectRows(
        await db.run(
          'SELECT callback_pull_only, callback_matched, callback_only, callback_loss_rate FROM runs_flat ORDER BY started_at, callback_pull_only NULLS FIRST',
        ),
      );
      // The first run had no callback to reconcile: null; the second, its counts (4 matched: 3 equal, 1 different).
      expect(flat.map((r) => r.map((v) => (v === null ? null : Number(v))))).toEqual([
        [null, null, null, null],
        [1, 4, 2, 0.2],
      ]);
    } finally {
      db.close();
    }
    expect(second.stdout).toContain(
      '  callbacks against the pull: 3 both and equal, 1 different (flagged, both kept), 0 placeholders in the pull, 2 callback-only (unconfirmed), 1 pull-only (callback lost); loss rate 20.0%',
    );
  }, 240_000);
});
