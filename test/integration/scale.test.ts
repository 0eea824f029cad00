/**
 * Scale: one app with 200,000 groups, almost all idle (no message), archived in one process.
 * Planning must page the listing (10,000 ids a call), read info 50 ids a call while the listing
 * goes on, and never spread an array of all targets; the active groups are archived exactly once.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { LocalFolderStore } from '../../functions/adapters/local-folder/local-folder-store.ts';
import { type Simulator, startSimulator } from '../../functions/simulator/index.ts';
import { exactlyOnceProblems, identity, readArchive } from '../helpers/archive.ts';
import { engineRun } from '../helpers/engine.ts';
import { readState } from '../helpers/state.ts';

const GROUPS = 200_000;
const cleanups: (() => Promise<unknown>)[] = [];
afterAll(async () => {
  while (cleanups.length > 0) await cleanups.pop()?.();
});

describe('200,000 groups in one app', () => {
  it('plans at the API limits per call and archives the few active groups exactly once', async () => {
    const sim: Simulator = await startSimulator({
      seed: 3,
      retentionDays: 365,
      rateLimits: {
        get_appid_group_list: 1_000,
        get_group_info: 20_000,
        group_msg_get_simple: 20_000,
        get_topic: 20_000,
      },
      dataset: {
        groups: GROUPS,
        activeFraction: 0.002,
        messagesPerActiveGroup: [1, 30],
        historyDays: 5,
        typeWeights: { Public: 1, Private: 0, ChatRoom: 0, Community: 0, TopicCommunity: 0, AVChatRoom: 0 },
      },
    });
    cleanups.push(() => sim.stop());
    const dir = await mkdtemp(join(tmpdir(), 'scale-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    const store = new LocalFolderStore(dir);
    // get_group_info at its documented 200/s (4,000 calls, 20 s); the listing faster than 1/s here.
    const client = {
      requestTimeoutMs: 10_000,
      rateLimits: { groupMsgGetSimple: 2_000, getGroupInfo: 200, getAppidGroupList: 50, getTopic: 200 },
    };
    const first = engineRun(sim, store, { concurrency: 64, client });
    const report = await first.run();
    expect(report.done).toBe(true);
    expect(report.groups.seen).toBe(GROUPS);
    const calls = first.client.stats().requests;
    if (process.env.SCALE_TEST_VERBOSE)
      console.info(`planning ${report.planMs} ms; info floor ${(GROUPS / 50 / 200) * 1000} ms`);
    expect(calls.getAppidGroupList).toBe(GROUPS / 10_000 + 1);
    // 50 ids a call; a few calls may be repeated after a timeout on a loaded machine.
    expect(calls.getGroupInfo).toBeGreaterThanOrEqual(GROUPS / 50);
    expect(calls.getGroupInfo).toBeLessThanOrEqual((GROUPS / 50) * 1.05);
    const active = sim.groups().filter((g) => g.nextMsgSeq > 1);
    expect(report.groups.idle).toBe(GROUPS - active.length);
    const expected = active.flatMap((g) =>
      [...sim.groundTruth(g.groupId, { withRecalledMsg: true })].map((m) =>
        identity(g.groupId, null, m.MsgSeq),
      ),
    );
    expect(exactlyOnceProblems(await readArchive(store), expected, 'UTC')).toEqual([]);
    // A second run finds nothing new: no history call at all.
    const again = engineRun(sim, store, { client });
    const second = await again.run();
    expect(second.done).toBe(true);
    expect(second.messages).toBe(0);
    expect(again.client.stats().requests.groupMsgGetSimple).toBe(0);
    // Nothing changed: no state target object written; a done run carries no plan.
    expect(second.stateBytesWritten).toBe(0);
    expect((await readState(store, 1400000000))?.head.plan).toBeNull();
  }, 240_000);
});
