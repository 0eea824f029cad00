/**
 * Paging while planning goes on: history pulls start on the groups planning has decided while its
 * slower calls (get_topic here) are still out; a stop or a failure of planning leaves what paging
 * fetched committed exactly once and the run not done. The simulator over real HTTP, a local folder.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { LocalFolderStore } from '../../functions/adapters/local-folder/local-folder-store.ts';
import { systemClock } from '../../functions/adapters/system-clock.ts';
import type { ChatApi } from '../../functions/domain/ports.ts';
import { RunFailedError } from '../../functions/engine/errors.ts';
import { runArchive } from '../../functions/engine/run-archive.ts';
import type { Simulator, SimulatorOptions } from '../../functions/simulator/index.ts';
import { exactlyOnceProblems, expectedIdentities, readArchive } from '../helpers/archive.ts';
import {
  ENGINE_CLIENT_RATES,
  silentLogger,
  startEngineSimulator,
  testRunOptions,
} from '../helpers/engine.ts';
import { clientFor } from '../helpers/tencent.ts';

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()?.();
});

const COMMUNITIES = 4;
const DATASET: SimulatorOptions['dataset'] = {
  groups: 10,
  activeFraction: 1,
  messagesPerActiveGroup: [60, 120],
  historyDays: 10,
  extraGroups: Array.from({ length: COMMUNITIES }, (_, i) => ({
    groupId: `@TGS#_@TGS#cOVERLAP${i}`,
    type: 'Community' as const,
    messages: 0,
    topics: [{ topicId: `@TGS#_@TGS#cOVERLAP${i}@TOPIC#_@TOPIC#cA`, messages: 30 }],
  })),
};

async function setUp() {
  const sim = await startEngineSimulator({ seed: 29, dataset: DATASET, retentionDays: 365 });
  cleanups.push(() => sim.stop());
  const dir = await mkdtemp(join(tmpdir(), 'plan-overlap-'));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  const store = new LocalFolderStore(dir);
  const { client, app } = clientFor(sim, { clock: systemClock, rateLimits: ENGINE_CLIENT_RATES });
  return { sim, store, client, sdkAppId: app.sdkAppId };
}

/** The client, with the moment of each history call and each topic answer written down. */
function recorded(client: ChatApi, events: string[], onTopics?: () => void): ChatApi {
  return {
    listGroups: (options) => client.listGroups(options),
    getGroupInfo: (ids, signal) => client.getGroupInfo(ids, signal),
    getHistory: (request, signal) => {
      events.push('history');
      return client.getHistory(request, signal);
    },
    getTopics: async (groupId, signal) => {
      onTopics?.();
      const topics = await client.getTopics(groupId, signal);
      events.push('topics');
      return topics;
    },
    getCosSig: (urls, signal) => client.getCosSig(urls, signal),
    getProfiles: (accounts, signal) => client.getProfiles(accounts, signal),
    getGroupMembers: (groupId, accounts, signal) => client.getGroupMembers(groupId, accounts, signal),
    getGroupMemberPage: (request, signal) => client.getGroupMemberPage(request, signal),
    serverNowMs: () => client.serverNowMs(),
    serverOffsetMs: () => client.serverOffsetMs(),
  };
}

function slowTopics(sim: Simulator): void {
  sim.injectFaults({ api: 'get_topic', kind: 'slow', delayMs: 700, times: COMMUNITIES });
}

describe('paging while planning', () => {
  it('pulls the history of planned groups while get_topic is still out, and archives everything once', async () => {
    // Prepare
    const { sim, store, client, sdkAppId } = await setUp();
    slowTopics(sim);
    const events: string[] = [];
    const deps = { api: recorded(client, events), store, clock: systemClock, logger: silentLogger };

    // Act
    const report = await runArchive(deps, testRunOptions(sdkAppId));

    // Assess
    const firstTopicAnswer = events.indexOf('topics');
    expect(firstTopicAnswer).toBeGreaterThan(0);
    expect(events.slice(0, firstTopicAnswer)).toContain('history');
    expect(report.done).toBe(true);
    expect(exactlyOnceProblems(await readArchive(store), expectedIdentities(sim), 'UTC')).toEqual([]);
    expect(report.messages).toBe(expectedIdentities(sim).length);
  }, 60_000);

  it('stops softly during planning: what was fetched is committed, not done, and the next run completes it once', async () => {
    // Prepare
    const { sim, store, client, sdkAppId } = await setUp();
    slowTopics(sim);
    const stop = new AbortController();
    const events: string[] = [];
    // Stopped once history pulls are under way and the topics are still out.
    const api = recorded(client, events, () => setTimeout(() => stop.abort(new Error('Ctrl-C')), 300));
    const deps = { api, store, clock: systemClock, logger: silentLogger };

    // Act
    const first = await runArchive(deps, testRunOptions(sdkAppId), undefined, stop.signal);
    const archivedFirst = (await readArchive(store)).length;
    const second = await runArchive(deps, testRunOptions(sdkAppId));

    // Assess
    expect(first.done).toBe(false);
    expect(events).toContain('history');
    expect(archivedFirst).toBe(first.messages);
    expect(second.done).toBe(true);
    expect(exactlyOnceProblems(await readArchive(store), expectedIdentities(sim), 'UTC')).toEqual([]);
  }, 60_000);

  it('fails the run when planning fails, with what paging fetched committed, and the next run completes it once', async () => {
    // Prepare
    const { sim, store, client, sdkAppId } = await setUp();
    slowTopics(sim);
    const events: string[] = [];
    let failTopics = true;
    const base = recorded(client, events);
    const api: ChatApi = {
      ...base,
      getTopics: async (groupId, signal) => {
        if (!failTopics) return base.getTopics(groupId, signal);
        await new Promise((resolve) => setTimeout(resolve, 400));
        throw new Error('planning broke');
      },
    };
    const deps = { api, store, clock: systemClock, logger: silentLogger };

    // Act
    const error = await runArchive(deps, testRunOptions(sdkAppId)).catch((e: unknown) => e);
    const archivedFirst = await readArchive(store);
    failTopics = false;
    const second = await runArchive(deps, testRunOptions(sdkAppId));

    // Assess
    expect(error).toBeInstanceOf(RunFailedError);
    const report = (error as RunFailedError).report;
    expect(report.done).toBe(false);
    expect(report.fatalError).toContain('planning broke');
    expect(events).toContain('history');
    expect(archivedFirst.length).toBe(report.messages);
    expect(second.done).toBe(true);
    expect(exactlyOnceProblems(await readArchive(store), expectedIdentities(sim), 'UTC')).toEqual([]);
  }, 60_000);

  it('counts, when the deadline ends paging during planning, the targets planning decided afterwards as remaining', async () => {
    // Prepare: one topic answers 700 ms late, the others 1,500 ms late; the deadline (300 ms)
    // ends paging when the first comes, and planning decides the others after.
    const { sim, store, client, sdkAppId } = await setUp();
    sim.injectFaults(
      { api: 'get_topic', kind: 'slow', delayMs: 700, times: 1 },
      { api: 'get_topic', kind: 'slow', delayMs: 1_500, times: COMMUNITIES - 1 },
    );
    const events: string[] = [];
    const deps = { api: recorded(client, events), store, clock: systemClock, logger: silentLogger };

    // Act
    const first = await runArchive(deps, testRunOptions(sdkAppId, { deadlineMs: Date.now() + 300 }));
    const second = await runArchive(deps, testRunOptions(sdkAppId));

    // Assess: every target planned and not archived is remaining, the topics among them.
    expect(first.done).toBe(false);
    expect(first.groups.failed).toBe(0);
    expect(first.remainingTargets).toBe(first.targetsWithWork - first.groups.archived);
    expect(first.remainingTargets).toBeGreaterThanOrEqual(COMMUNITIES);
    expect(first.pendingNeverArchived).toBeGreaterThanOrEqual(COMMUNITIES);
    expect(second.done).toBe(true);
    expect(exactlyOnceProblems(await readArchive(store), expectedIdentities(sim), 'UTC')).toEqual([]);
  }, 60_000);

  it('leaves planning only the slots its calls need: while the topics are out, paging uses the rest', async () => {
    // Prepare: 16 slots; planning has the 4 slow get_topic calls out (and the listing is done).
    const { sim, store, client, sdkAppId } = await setUp();
    slowTopics(sim);
    let topicsAnswered = false;
    let historyOut = 0;
    let mostHistoryOut = 0;
    const base = recorded(client, []);
    const api: ChatApi = {
      ...base,
      getHistory: async (request, signal) => {
        historyOut++;
        if (!topicsAnswered) mostHistoryOut = Math.max(mostHistoryOut, historyOut);
        try {
          return await base.getHistory(request, signal);
        } finally {
          historyOut--;
        }
      },
      getTopics: async (groupId, signal) => {
        const topics = await base.getTopics(groupId, signal);
        topicsAnswered = true;
        return topics;
      },
    };
    const deps = { api, store, clock: systemClock, logger: silentLogger };

    // Act
    const report = await runArchive(deps, testRunOptions(sdkAppId, { concurrency: 16 }));

    // Assess: more pages at once than the one slot a fixed share for planning (49 of 16) left.
    expect(mostHistoryOut).toBeGreaterThan(1);
    expect(report.done).toBe(true);
    expect(exactlyOnceProblems(await readArchive(store), expectedIdentities(sim), 'UTC')).toEqual([]);
  }, 60_000);
});
