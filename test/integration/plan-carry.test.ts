/**
 * The plan carried across invocations: a run stopped by its deadline stores the targets still to
 * do; the next invocations of the unfinished run rebuild their work from it without listing the
 * app's groups (no get_appid_group_list, no get_group_info), and a finished run drops it.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { LocalFolderStore } from '../../functions/adapters/local-folder/local-folder-store.ts';
import { systemClock } from '../../functions/adapters/system-clock.ts';
import type { Clock } from '../../functions/domain/ports.ts';
import { type Simulator, startSimulator } from '../../functions/simulator/index.ts';
import { exactlyOnceProblems, expectedIdentities, readArchive } from '../helpers/archive.ts';
import { engineRun } from '../helpers/engine.ts';
import { readState } from '../helpers/state.ts';

const APP = 1400000000;
const cleanups: (() => Promise<unknown>)[] = [];
afterAll(async () => {
  while (cleanups.length > 0) await cleanups.pop()?.();
});

async function world(): Promise<{ sim: Simulator; store: LocalFolderStore }> {
  const sim = await startSimulator({
    seed: 5,
    retentionDays: 365,
    rateLimits: { get_appid_group_list: 1_000, get_group_info: 20_000, group_msg_get_simple: 20_000 },
    dataset: {
      groups: 12,
      activeFraction: 1,
      messagesPerActiveGroup: [100, 400],
      historyDays: 5,
      typeWeights: { Public: 1, Private: 0, ChatRoom: 0, Community: 0, TopicCommunity: 0, AVChatRoom: 0 },
    },
  });
  cleanups.push(() => sim.stop());
  const dir = await mkdtemp(join(tmpdir(), 'plan-carry-'));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  return { sim, store: new LocalFolderStore(dir) };
}

/** A clock that passes the deadline (10 s away) after `reads` reads: each invocation does a little. */
function shortLived(reads: number): { clock: Clock; deadlineMs: number } {
  let calls = 0;
  return {
    clock: { now: () => Date.now() + (calls++ > reads ? 20_000 : 0), sleep: systemClock.sleep },
    deadlineMs: Date.now() + 10_000,
  };
}

async function planKeys(store: LocalFolderStore): Promise<string[]> {
  const keys: string[] = [];
  for await (const key of store.list(`state/sdkappid=${APP}/plans/`)) keys.push(key);
  return keys;
}

describe('a plan carried across invocations', () => {
  it('lists the groups once per run: later invocations of an unfinished run carry the plan on', async () => {
    const { sim, store } = await world();
    const first = engineRun(sim, store, { ...shortLived(60), concurrency: 2 });
    const report = await first.run();
    expect(report.done).toBe(false);
    expect(report.planCarried).toBe(false);
    expect(first.client.stats().requests.getAppidGroupList).toBeGreaterThan(0);
    const head = (await readState(store, APP))?.head;
    expect(head?.plan?.targets).toBeGreaterThan(0);
    expect(await planKeys(store)).toEqual([head?.plan?.key]);

    let invocations = 1;
    const listingInvocations: number[] = [];
    for (let done = false; !done && invocations < 100; invocations++) {
      const next = engineRun(sim, store, { ...shortLived(60), concurrency: 2 });
      const r = await next.run();
      done = r.done;
      const calls = next.client.stats().requests;
      // Only the invocation that finishes the carried plan lists again (a run is done only when a
      // fresh plan finds nothing left), so at most one or two of them list; all others carry on.
      if (calls.getAppidGroupList > 0) listingInvocations.push(invocations);
      else expect(calls.getGroupInfo).toBe(0);
      if (!done && calls.getAppidGroupList === 0) expect(r.planCarried).toBe(true);
    }
    expect(invocations).toBeGreaterThan(4);
    expect(listingInvocations.length).toBeLessThanOrEqual(2);
    // Done: the plan is dropped and its object deleted; every message once.
    expect((await readState(store, APP))?.head.plan).toBeNull();
    expect(await planKeys(store)).toEqual([]);
    expect(exactlyOnceProblems(await readArchive(store), expectedIdentities(sim), 'UTC')).toEqual([]);

    // The next run plans afresh: it sees what arrived since.
    sim.appendMessages(sim.groups()[0]?.groupId ?? '', 3);
    const later = engineRun(sim, store);
    const after = await later.run();
    expect(after.planCarried).toBe(false);
    expect(later.client.stats().requests.getAppidGroupList).toBeGreaterThan(0);
    expect(after.messages).toBe(3);
  }, 180_000);

  it('plans afresh when the carried plan is older than the bound, or was made for another selection', async () => {
    const { sim, store } = await world();
    expect((await engineRun(sim, store, { ...shortLived(60), concurrency: 2 }).run()).done).toBe(false);
    const old = (await readState(store, APP))?.head.plan?.key;
    const stale = engineRun(sim, store, { ...shortLived(60), concurrency: 2, planMaxAgeMs: 0 });
    const report = await stale.run();
    expect(report.planCarried).toBe(false);
    expect(stale.client.stats().requests.getAppidGroupList).toBeGreaterThan(0);
    // The replaced plan is deleted; the head names the new one (the run was not done yet).
    const keys = await planKeys(store);
    expect(keys).not.toContain(old);
    expect(keys).toEqual(report.done ? [] : [(await readState(store, APP))?.head.plan?.key]);

    const other = engineRun(sim, store, {
      ...shortLived(60),
      concurrency: 2,
      selection: { include: ['@TGS#*'], exclude: [], types: [] },
    });
    expect((await other.run()).planCarried).toBe(false);
    expect(other.client.stats().requests.getAppidGroupList).toBeGreaterThan(0);
  }, 180_000);
});
