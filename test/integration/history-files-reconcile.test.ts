/**
 * The hourly files as a second witness (issue 26, deliverable 3; docs/querying.md, Reconciliation
 * with the hourly files), end to end: the real CLI with `historyFiles.groups` and
 * `c2c.fromHistoryFiles` over the simulator keeps each group and one-to-one file once, indexes its
 * messages once, and on DuckDB `history_files_missing_from_archive` lists exactly the messages the
 * files hold and the archive does not (a dissolved group's, one deleted before the pull, one
 * deleted for both sides of a conversation), `archive_missing_from_history_files` exactly those the
 * archive holds in covered hours and the files lack (one left out of a group file, one left out of
 * a one-to-one file), and every other message neither.
 */
import { describe, expect, it } from 'vitest';
import { systemClock } from '../../functions/adapters/system-clock.ts';
import { openArchiveRunner } from '../../functions/cli/query-runners.ts';
import { conversationOf } from '../../functions/domain/c2c-record.ts';
import { beijingHour, fetchableHours } from '../../functions/domain/history-file.ts';
import { collectRows } from '../../functions/query/result.ts';
import { listKeys } from '../helpers/c2c.ts';
import { startProcessArchive, useProcessCleanups } from '../helpers/process-archive.ts';

const cleanups = useProcessCleanups();

const ALICE = 'alice.hr';
const BOB = 'bob.hr';
const ZONE = 'Asia/Shanghai';

describe('the hourly files as a second witness', () => {
  it('lists on DuckDB what the files hold and the archive lacks, and the reverse, nothing else', async () => {
    // Prepare: three groups and one conversation, every message within the files' 7 days.
    const t = await startProcessArchive(cleanups, {
      tempPrefix: 'history-reconcile-',
      simulator: {
        seed: 2603,
        latencyMs: 2,
        retentionDays: 30,
        media: false,
        dataset: {
          groups: 3,
          activeFraction: 1,
          messagesPerActiveGroup: [40, 60],
          historyDays: 3,
          typeWeights: { Public: 1, Private: 1, ChatRoom: 0, Community: 0, TopicCommunity: 0, AVChatRoom: 0 },
        },
        c2c: { generated: 0, spanDays: 3, conversations: [{ accounts: [ALICE, BOB], messages: 40 }] },
      },
      app: { c2c: { pairs: [[ALICE, BOB]], fromHistoryFiles: true }, historyFiles: { groups: true } },
      archive: { timeZone: ZONE },
      run: { checkpointSeconds: 0.3, leaseSeconds: 30 },
      media: { enabled: false },
    });
    const sim = t.sim;
    const hours = new Set(fetchableHours(Math.floor(Date.now() / 1000)));
    const covered = (time: number) => hours.has(beijingHour(time));
    const [dissolved, gapped, trimmed] = sim.groups().map((s) => s.groupId) as [string, string, string];
    const inFiles = (groupId: string) =>
      [...sim.groundTruth(groupId, { withRecalledMsg: true })].filter(
        (m) => m.IsPlaceMsg !== 1 && covered(m.MsgTimeStamp),
      );
    const [leftOut] = inFiles(gapped);
    const [deleted] = inFiles(trimmed).filter((m) => m.IsPlaceMsg !== 2);
    const dissolvedSeqs = inFiles(dissolved).map((m) => m.MsgSeq);
    const pair = t.sim.c2c.visible(ALICE, BOB).filter((m) => covered(m.MsgTimeStamp));
    const [c2cLeftOut, c2cDeleted] = pair;
    // What the files hold: every message of the covered hours but the two left out.
    const expectedIndexed =
      inFiles(gapped).length - 1 + inFiles(trimmed).length + dissolvedSeqs.length + pair.length - 1;
    expect(leftOut && deleted && c2cLeftOut && c2cDeleted && dissolvedSeqs.length > 0).toBeTruthy();
    t.sim.historyFiles.leaveOut({ groupId: gapped, seq: leftOut?.MsgSeq as number });
    t.sim.historyFiles.leaveOut({ msgKey: c2cLeftOut?.MsgKey as string });
    // Tencent makes each file an hour after its hour: before the changes below.
    for (const hour of hours) {
      t.sim.historyFiles.make('Group', hour);
      t.sim.historyFiles.make('C2C', hour);
    }
    sim.deleteGroup(dissolved);
    sim.deleteMessage(trimmed, deleted?.MsgSeq as number);
    t.sim.c2c.deleteFor(ALICE, BOB, [c2cDeleted?.MsgKey as string]);
    t.sim.c2c.deleteFor(BOB, ALICE, [c2cDeleted?.MsgKey as string]);

    // Act
    const run = await t.spawnArchive({ timeoutMs: 180_000 }).done;

    // Assess: one index object per kept file, one hour row per hour and chat.
    expect(run.code, run.stderr).toBe(0);
    const files = await listKeys(t.store, 'history-files/');
    const indexes = await listKeys(t.store, 'history-file-messages/');
    expect(files.some((k) => k.includes('/chat=group/'))).toBe(true);
    expect(files.some((k) => k.includes('/chat=c2c/'))).toBe(true);
    const name = (k: string) =>
      k.replace(/^.*\/chat=(\w+)\/hour=(\d+)\/(\d+-[0-9a-f]+)\.json\.gz$/, '$1-$2-$3');
    expect(indexes.map((k) => k.replace(/^.*\//, '').replace('.ndjson.gz', '')).sort()).toEqual(
      files.map(name).sort(),
    );
    const db = await openArchiveRunner({
      archive: t.archiveDir,
      timeZone: ZONE,
      clock: systemClock,
      workGroup: 'wg',
      database: 'db',
    });
    cleanups.push(async () => db.close());
    const rows = async (sql: string) => (await collectRows(await db.run(sql))).map((r) => r.join(' '));
    // The hours this test made (a run that crosses an hour's end fetches one more, made later).
    const inHours = `"hour" IN (${[...hours].map((h) => `'${h}'`).join(', ')})`;
    const identity = 'chat, coalesce(group_id, conversation), CAST(msg_seq AS VARCHAR)';
    const fromFiles = await rows(
      `SELECT ${identity} FROM history_files_missing_from_archive WHERE ${inHours}`,
    );
    const fromArchive = await rows(
      `SELECT ${identity} FROM archive_missing_from_history_files WHERE ${inHours}`,
    );
    const conversation = conversationOf(ALICE, BOB);
    expect(fromFiles.sort()).toEqual(
      [
        ...dissolvedSeqs.map((seq) => `group ${dissolved} ${seq}`),
        `group ${trimmed} ${deleted?.MsgSeq}`,
        // A one-to-one MsgSeq is the client's (not unique): shown here, the identity is key, time and random.
        `c2c ${conversation} ${c2cDeleted?.MsgSeq}`,
      ].sort(),
    );
    expect(fromArchive.sort()).toEqual(
      [`group ${gapped} ${leftOut?.MsgSeq}`, `c2c ${conversation} ${c2cLeftOut?.MsgSeq}`].sort(),
    );
    // Everything else is in both: the files' rows are the archive's within the covered hours.
    const [[indexed]] = (await collectRows(
      await db.run(`SELECT count(*) FROM history_file_messages WHERE ${inHours}`),
    )) as unknown as [[bigint]];
    expect(Number(indexed)).toBe(expectedIndexed);
    expect(run.stdout).toMatch(
      /group history files: \d+ hours fetched \(0 left\), \d+ files kept, 0 rejected/,
    );
  }, 360_000);
});
