/**
 * API quirks, each switched on in the simulator (off by default) and archived over real HTTP:
 * nothing lost, nothing duplicated, nothing skipped silently.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { LocalFolderStore } from '../../functions/adapters/local-folder/local-folder-store.ts';
import { InconsistentAnswerError } from '../../functions/domain/errors.ts';
import { formatReport } from '../../functions/engine/report-format.ts';
import {
  PLACEHOLDER_READINGS,
  type PlaceholderReading,
  type Simulator,
  type SimulatorOptions,
} from '../../functions/simulator/index.ts';
import { exactlyOnceProblems, expectedIdentities, identity, readArchive } from '../helpers/archive.ts';
import { rejection } from '../helpers/assertions.ts';
import { engineRun, startEngineSimulator } from '../helpers/engine.ts';
import { readState as readStoredTestState } from '../helpers/state.ts';

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()?.();
});

const GROUP = '@TGS#1QUIRKS';
const OTHER = '@TGS#1OTHER';

async function startWorld(placeholders: PlaceholderReading, over: Omit<SimulatorOptions, 'rateLimits'> = {}) {
  const sim: Simulator = await startEngineSimulator({
    seed: 17,
    placeholders,
    retentionDays: 365,
    dataset: {
      groups: 3,
      activeFraction: 1,
      messagesPerActiveGroup: [30, 90],
      historyDays: 10,
      extraGroups: [
        { groupId: GROUP, type: 'Public', messages: 95 },
        { groupId: OTHER, type: 'Public', messages: 40 },
      ],
    },
    ...over,
  });
  cleanups.push(() => sim.stop());
  const dir = await mkdtemp(join(tmpdir(), 'quirks-'));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  const store = new LocalFolderStore(dir);
  const state = async () => {
    const read = await readStoredTestState(store, 1400000000);
    if (read === undefined) throw new Error('no state');
    return read;
  };
  return { sim, store, state };
}

// Every test runs on each reading of a deleted or expired placeholder (world.ts).
describe.each(PLACEHOLDER_READINGS)('API quirks (%s placeholders)', (placeholders) => {
  const world = (over: Omit<SimulatorOptions, 'rateLimits'> = {}) => startWorld(placeholders, over);

  it('archives an item the page schema rejects (MsgTimeStamp null) as a flagged row, and the group continues', async () => {
    const { sim, store } = await world({ quirks: { nullTimestampSeqs: { [GROUP]: [7, 60] } } });
    const report = await engineRun(sim, store).run();
    expect(report.done).toBe(true);
    expect(report.quarantined).toBe(2);
    const rows = await readArchive(store);
    expect(exactlyOnceProblems(rows, expectedIdentities(sim), 'UTC')).toEqual([]);
    const flagged = rows.filter((r) => r.record.quarantined);
    expect(flagged.map((r) => r.record.msg_seq).sort((a, b) => a - b)).toEqual([7, 60]);
    for (const row of flagged) {
      expect(row.record.raw).toContain('"MsgTimeStamp":null');
      expect(row.record.raw).toContain(`"MsgSeq":${row.record.msg_seq}`);
      expect(JSON.stringify(row.record.extra)).toContain('MsgTimeStamp');
    }
  });

  it('archives a message dated after the year 9999 as a flagged row beside its neighbours, reports it by group and seq, and every other group goes on', async () => {
    const far = '99999999999999';
    const { sim, store } = await world({ quirks: { servedTimestamps: { [GROUP]: { 41: far } } } });
    const report = await engineRun(sim, store).run();
    expect(report.fatalError).toBeUndefined();
    expect(report.errors).toEqual([]);
    expect(report.done).toBe(true);
    expect(report.quarantined).toBe(1);
    expect(report.quarantinedItems).toEqual([
      { groupId: GROUP, topicId: null, msgSeq: 41, reason: expect.stringContaining('MsgTimeStamp') },
    ]);
    expect(formatReport(report)).toContain(`quarantined: ${GROUP} seq 41: MsgTimeStamp`);
    const rows = await readArchive(store);
    expect(exactlyOnceProblems(rows, expectedIdentities(sim), 'UTC')).toEqual([]);
    const flagged = rows.filter((r) => r.record.quarantined);
    expect(flagged.map((r) => [r.record.group_id, r.record.msg_seq])).toEqual([[GROUP, 41]]);
    const row = flagged[0];
    // Kept exactly as served; filed under a neighbour's time (placeholder-time.ts), never its own.
    expect(row?.record.raw).toContain(`"MsgTimeStamp":${far}`);
    expect(row?.record.raw).toContain('"MsgSeq":41');
    const older = rows
      .filter((r) => r.record.group_id === GROUP && r.record.msg_seq < 41 && r.record.msg_time > 0)
      .map((r) => r.record.msg_time);
    expect(row?.record.msg_time).toBeGreaterThanOrEqual(Math.max(...older));
    expect(row?.record.msg_time).toBeLessThanOrEqual(Math.ceil(Date.now() / 1000));
    // Nothing is left behind: the next run has nothing to do.
    const next = await engineRun(sim, store).run();
    expect([next.done, next.quarantined, next.messages]).toEqual([true, 0, 0]);
  });

  it('records a seq too big to answer even alone (10018 at ReqMsgNumber 1) the same way, never retrying forever', async () => {
    const { sim, store } = await world({ quirks: { oversizedSeqs: { [GROUP]: [33] } } });
    const report = await engineRun(sim, store).run();
    expect(report.done).toBe(true);
    expect(report.quarantined).toBe(1);
    const rows = await readArchive(store);
    expect(exactlyOnceProblems(rows, expectedIdentities(sim), 'UTC')).toEqual([]);
    const flagged = rows.find((r) => r.record.quarantined);
    expect(flagged?.record.msg_seq).toBe(33);
    expect(JSON.stringify(flagged?.record.extra)).toContain('10018');
  });

  it('detects a newest seq below the high-water mark, reports it and archives the group as a new generation', async () => {
    const { sim, store, state } = await world();
    await engineRun(sim, store).run();
    sim.recreateGroup(GROUP, 6);
    const report = await engineRun(sim, store).run();
    expect(report.done).toBe(true);
    expect(report.seqResets).toEqual([
      { groupId: GROUP, topicId: null, highWater: 95, newestSeq: 6, generation: 1 },
    ]);
    const rows = await readArchive(store);
    const second = rows.filter((r) => r.record.group_id === GROUP && r.record.generation === 1);
    expect(second.map((r) => r.record.msg_seq).sort((a, b) => a - b)).toEqual([1, 2, 3, 4, 5, 6]);
    // The first generation stays in the archive, each row once.
    const first = rows.filter((r) => r.record.group_id === GROUP && r.record.generation === 0);
    expect(new Set(first.map((r) => r.record.msg_seq)).size).toBe(95);
    expect((await state()).targets.find((t) => t.groupId === GROUP)).toMatchObject({
      highWater: 6,
      generation: 1,
    });
    // Nothing new: no second reset.
    expect((await engineRun(sim, store).run()).seqResets).toEqual([]);
  });

  it('does not trust IsFinished 2 over live messages: a one-off is retried smaller, a persistent one fails the target', async () => {
    const once = await world({ quirks: { isFinished: { mode: 'spurious-2', streams: [GROUP], times: 1 } } });
    const report = await engineRun(once.sim, once.store).run();
    expect(report.done).toBe(true);
    expect(report.inconsistentAnswers).toBeGreaterThanOrEqual(1);
    expect(exactlyOnceProblems(await readArchive(once.store), expectedIdentities(once.sim), 'UTC')).toEqual(
      [],
    );

    const always = await world({ quirks: { isFinished: { mode: 'spurious-2', streams: [GROUP] } } });
    const failed = await engineRun(always.sim, always.store).run();
    expect(failed.done).toBe(false);
    expect(failed.groups.failed).toBe(1);
    expect(failed.errors[0]?.groupId).toBe(GROUP);
    expect(failed.errors[0]?.error).toContain(
      'IsFinished 2 ("all expired") but it holds messages that are not expired placeholders',
    );
    // Nothing is claimed for it; every other group is archived exactly once.
    const target = (await always.state()).targets.find((t) => t.groupId === GROUP);
    expect(target?.highWater ?? 0).toBe(0);
    const others = expectedIdentities(always.sim).filter((id) => !id.startsWith(`${GROUP}|`));
    const rows = (await readArchive(always.store)).filter((r) => r.record.group_id !== GROUP);
    expect(exactlyOnceProblems(rows, others, 'UTC')).toEqual([]);
  });

  it('does not take IsFinished 0 with no message as "nothing left in the window"', async () => {
    const { sim, store } = await world({
      quirks: { isFinished: { mode: 'empty-0', streams: [GROUP], times: 2 } },
    });
    const report = await engineRun(sim, store).run();
    expect(report.done).toBe(true);
    expect(report.inconsistentAnswers).toBe(2);
    expect(exactlyOnceProblems(await readArchive(store), expectedIdentities(sim), 'UTC')).toEqual([]);
  });

  it('stops at the retention horizon (server clock) when the server never answers IsFinished 2', async () => {
    const { sim, store } = await world({
      retentionDays: 4,
      quirks: { isFinished: { mode: 'never-2', streams: [GROUP, OTHER] } },
      dataset: {
        groups: 2,
        activeFraction: 1,
        messagesPerActiveGroup: [30, 90],
        historyDays: 30,
        extraGroups: [
          { groupId: GROUP, type: 'Public', messages: 600 },
          { groupId: OTHER, type: 'Public', messages: 300 },
        ],
      },
    });
    const report = await engineRun(sim, store, { retentionDays: 4 }).run();
    expect(report.done).toBe(true);
    const rows = await readArchive(store);
    const archived = new Set(
      rows.map((r) => identity(r.record.group_id, r.record.topic_id, r.record.msg_seq)),
    );
    for (const groupId of [GROUP, OTHER]) {
      const truth = [...sim.groundTruth(groupId, { withRecalledMsg: true })];
      // Every retained message is archived …
      for (const m of truth.filter((x) => x.IsPlaceMsg !== 1))
        expect(archived.has(identity(groupId, null, m.MsgSeq))).toBe(true);
      if (placeholders === 'zeroed') {
        // … and with no time and no IsFinished 2, nothing tells an expired placeholder from a
        // deleted one: the range is paged to seq 1 rather than ending at a guess, each seq once.
        expect(truth.every((m) => archived.has(identity(groupId, null, m.MsgSeq)))).toBe(true);
        continue;
      }
      // … but the expired seqs below the horizon were not paged through to seq 1.
      const expired = truth.filter((x) => x.IsPlaceMsg === 1).length;
      const archivedExpired = rows.filter(
        (r) => r.record.group_id === groupId && r.record.is_place_msg === 1,
      ).length;
      // At most the placeholders within the backstop's day of slack, plus the two windows that end the range.
      const nearHorizon = truth.filter(
        (x) => x.IsPlaceMsg === 1 && x.MsgTimeStamp >= Date.now() / 1000 - 5 * 86_400 - 60,
      ).length;
      expect(archivedExpired).toBeLessThanOrEqual(nearHorizon + 40);
      expect(expired).toBeGreaterThan(2 * (nearHorizon + 40));
    }
  });

  it('a whole page of deleted messages inside retention ends nothing: the older history is archived', async () => {
    const { sim, store } = await world({ retentionDays: 30 });
    // 30 deleted in a row: at least one page (20 seqs) holds nothing but placeholders.
    for (let seq = 31; seq <= 60; seq++) sim.deleteMessage(GROUP, seq);
    const report = await engineRun(sim, store, { retentionDays: 30 }).run();
    expect(report.done).toBe(true);
    const rows = await readArchive(store);
    expect(exactlyOnceProblems(rows, expectedIdentities(sim), 'UTC')).toEqual([]);
    const group = rows.filter((r) => r.record.group_id === GROUP);
    expect(group.length).toBe(95);
    expect(group.filter((r) => r.record.msg_seq < 31 && r.record.is_place_msg === 0).length).toBeGreaterThan(
      20,
    );
    // The rows are exactly as served; a zeroed one is filed beside its neighbours, never in 1970.
    const deleted = group.filter((r) => r.record.msg_seq >= 31 && r.record.msg_seq <= 60);
    expect(deleted.every((r) => r.record.is_place_msg === 1 && r.record.msg_body.length === 0)).toBe(true);
    expect(deleted.every((r) => (r.record.msg_time === 0) === (placeholders === 'zeroed'))).toBe(true);
    expect(deleted.some((r) => r.dt.startsWith('1970'))).toBe(false);
  });

  it('ends the group listing with a clear error when get_appid_group_list repeats a Next', async () => {
    const { sim, store } = await world({ quirks: { groupList: 'repeat-next' } });
    const error = await rejection(engineRun(sim, store).run());
    expect(error).toBeInstanceOf(InconsistentAnswerError);
    expect((error as Error).message).toContain('a second time');
    expect(sim.stats().perApi.get_appid_group_list.calls).toBeLessThanOrEqual(3);
  });
});
