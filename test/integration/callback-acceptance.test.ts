/**
 * Issue 25's acceptance, as a new user would try it: the simulator sends its callbacks to the
 * project's receiver (real HTTP, recording into the archive folder), `npm run archive` runs as a
 * real process for an app with a `callbackToken`. After a first run, a group gets new messages, one
 * of them is recalled by an admin, and the group is dissolved: the pull can no longer read it. After
 * the next run, its new messages are in the archive with `source = 'callback'` (unconfirmed), its
 * earlier ones with `source = 'pull'`, the recall's revision row names the admin and the time, and
 * the dissolution is recorded with the group's members.
 */
import { describe, expect, it } from 'vitest';
import { systemClock } from '../../functions/adapters/system-clock.ts';
import { openArchiveRunner } from '../../functions/cli/query-runners.ts';
import { findNamedQuery, parseParams, runNamedQuery } from '../../functions/query/named-queries.ts';
import { collectRows } from '../../functions/query/result.ts';
import { startCallbackArchive, storedRunReports } from '../helpers/callback-archive.ts';
import { useProcessCleanups } from '../helpers/process-archive.ts';

const cleanups = useProcessCleanups();
const TOKEN = 'acceptance-callback-token';

describe('callbacks end to end (issue 25 acceptance)', () => {
  it("keeps a dissolved group's last messages (source callback) and who recalled what, when", async () => {
    const { t, receiver, archiveDir } = await startCallbackArchive(cleanups, {
      tempPrefix: 'callback-acceptance-',
      token: TOKEN,
      simulator: {
        seed: 11,
        latencyMs: 1,
        retentionDays: 3_650,
        dataset: { groups: 4, activeFraction: 1, messagesPerActiveGroup: [5, 10], historyDays: 1 },
        media: false,
      },
    });
    const first = await t.spawnArchive().done;
    expect(first.code, first.stderr).toBe(0);

    const group = t.sim
      .groups()
      .find((g) => !g.deleted && !g.topicsEnabled && g.nextMsgSeq > 1 && g.type !== 'AVChatRoom');
    if (group === undefined) throw new Error('the dataset has no plain group');
    const pulledSeqs = [...t.sim.groundTruth(group.groupId)].map((m) => m.MsgSeq);
    t.sim.appendMessages(group.groupId, 3);
    const newSeqs = [...t.sim.groundTruth(group.groupId)]
      .map((m) => m.MsgSeq)
      .filter((s) => !pulledSeqs.includes(s));
    const recalled = newSeqs[0] as number;
    const beforeRecall = Date.now();
    t.sim.recallMessage(group.groupId, recalled, { operator: 'moderator' });
    const members = t.sim.identities.members(group.groupId).map((m) => m.account);
    t.sim.deleteGroup(group.groupId);
    await t.sim.callbacks?.flush();
    await receiver.recorder.drain();
    expect(t.sim.callbacks?.stats()).toMatchObject({ failed: 0, dropped: 0 });

    const second = await t.spawnArchive().done;
    expect(second.code, second.stderr).toBe(0);

    const db = await openArchiveRunner({
      archive: archiveDir,
      timeZone: 'UTC',
      clock: systemClock,
      workGroup: 'wg',
      database: 'db',
    });
    const named = async (name: string) => {
      const query = findNamedQuery(name);
      if (query === undefined) throw new Error(`no named query ${name}`);
      const result = await runNamedQuery(
        db,
        query,
        parseParams(query, { from: '2000-01-01', to: '2100-01-01' }),
      );
      return (await collectRows(result)).filter((r) => r[1] === group.groupId);
    };
    // sdk_app_id, group_id, topic_id, msg_seq, …, source (9), unconfirmed (10)
    const messages = await named('messages-with-source');
    const sourceOf = new Map(messages.map((r) => [Number(r[3]), [r[9], r[10]]]));
    for (const seq of newSeqs) expect(sourceOf.get(seq), `seq ${seq}`).toEqual(['callback', 'true']);
    for (const seq of pulledSeqs) expect(sourceOf.get(seq)?.[0], `seq ${seq}`).toBe('pull');
    expect(messages.length).toBe(pulledSeqs.length + newSeqs.length);

    // msg_seq (3), change, source, changed_by, changed_at
    const revisions = (await named('message-revisions')).filter((r) => r[5] === 'callback');
    expect(revisions.map((r) => [Number(r[3]), r[4], r[6]])).toEqual([[recalled, 'recalled', 'moderator']]);
    const changedAt = Number(revisions[0]?.[7]);
    expect(changedAt).toBeGreaterThanOrEqual(beforeRecall);
    expect(changedAt).toBeLessThanOrEqual(Date.now());

    // The run report's section: the second run materialized what the receiver recorded since the first.
    const reports = await storedRunReports(archiveDir);
    const sections = reports.map((r) => r.callbacks).filter((c) => c !== undefined);
    expect(sections).toContainEqual(
      expect.objectContaining({ messages: newSeqs.length, revisions: 1, dissolutions: 1, duplicates: 0 }),
    );

    const dissolved = await collectRows(
      await db.run(`SELECT group_id, array_to_string(members, ',') FROM group_dissolutions`),
    );
    expect(dissolved).toEqual([[group.groupId, members.join(',')]]);
  }, 180_000);
});
