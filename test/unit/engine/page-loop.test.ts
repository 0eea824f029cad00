/**
 * The paging loop (functions/engine/page-loop.ts) over a scripted ChatApi, the in-memory store and
 * a fake clock: following pages down a range, empty pages over deleted seqs, a server that repeats
 * its first page whatever is asked, the deadline, a soft stop, a fatal error, checkpoints while
 * paging goes on.
 */
import { describe, expect, it } from 'vitest';
import { type RangeProgress, type TargetState, targetKey } from '../../../functions/domain/continuation.ts';
import { GiveUpError } from '../../../functions/domain/errors.ts';
import type { HistoryRequest } from '../../../functions/domain/tencent-types.ts';
import { pageTargets, type RunContext } from '../../../functions/engine/page-loop.ts';
import { PartitionWriter } from '../../../functions/engine/partition-writer.ts';
import { emptyReport } from '../../../functions/engine/report.ts';
import type { RunOptions } from '../../../functions/engine/run-options.ts';
import { StateKeeper } from '../../../functions/engine/state-keeper.ts';
import { readStoredState } from '../../../functions/engine/state-reader.ts';
import { TargetWork } from '../../../functions/engine/target-work.ts';
import {
  FakeChatApi,
  type FakeChatApiOptions,
  FakeClock,
  MemoryStore,
  messageRun,
  silentLogger,
  testRunOptions,
} from '../../helpers/engine-fakes.ts';

const APP = 1400000001;
const NOW_SEC = Date.UTC(2026, 0, 1) / 1000;
const ALPHA = '@TGS#alpha';
const BETA = '@TGS#beta';

/** A fresh target whose one range is seqs 1..top, paged in at most `spans` spans. */
function target(groupId: string, top: number, spans = 1): TargetWork {
  const ref = { groupId, topicId: null };
  const state: TargetState = { ...ref, highWater: 0, highWaterTime: null, inProgress: null, generation: 0 };
  const range: RangeProgress = { top, cursor: top, floorTime: null, topTime: null };
  return new TargetWork({ ref, state, ranges: [range], lastMsgTime: NOW_SEC, maxSpans: spans });
}

async function setup(api: FakeChatApiOptions, over: Partial<RunOptions> = {}) {
  const store = new MemoryStore();
  const clock = new FakeClock();
  const chat = new FakeChatApi({ serverNowMs: () => clock.now(), ...api });
  const options = testRunOptions(APP, { runId: 'run1', observedAtSec: NOW_SEC, ...over });
  const keeper = await StateKeeper.open({
    store,
    sdkAppId: APP,
    runId: options.runId,
    clock,
    logger: silentLogger,
    leaseMs: options.leaseMs,
  });
  const writer = new PartitionWriter({ sdkAppId: APP, runId: options.runId, timeZone: 'UTC', store });
  const report = emptyReport(options.runId, APP, clock.now());
  const deps = { api: chat, store, clock, logger: silentLogger };
  const run: RunContext = {
    deps,
    options,
    keeper,
    writer,
    report,
    signal: undefined,
    fence: async () => undefined,
  };
  return { store, clock, chat, run, report };
}

/** The committed state of a group, read back from the store. */
async function committed(store: MemoryStore, groupId: string): Promise<TargetState | undefined> {
  return (await readStoredState(store, APP))?.targets.get(targetKey({ groupId, topicId: null }));
}

function window(request: HistoryRequest): string {
  return `${request.reqMsgSeq}/${request.reqMsgNumber}`;
}

describe('pageTargets', () => {
  it('follows each range down page by page, round robin over the targets, and commits both', async () => {
    const { store, chat, run, report } = await setup({
      groups: { [ALPHA]: messageRun(45, NOW_SEC - 86_400), [BETA]: messageRun(12, NOW_SEC - 86_400) },
    });

    await pageTargets(run, [target(ALPHA, 45), target(BETA, 12)]);

    expect(chat.historyRequests.map((r) => `${r.groupId} ${window(r)}`)).toEqual([
      `${ALPHA} 45/20`,
      `${BETA} 12/12`,
      `${ALPHA} 25/20`,
      `${ALPHA} 5/5`,
    ]);
    expect(report).toMatchObject({ messages: 57, pages: 4, done: true, remainingTargets: 0 });
    expect(report.groups.archived).toBe(2);
    expect(await committed(store, ALPHA)).toMatchObject({ highWater: 45, inProgress: null });
    expect(await committed(store, BETA)).toMatchObject({ highWater: 12, inProgress: null });
  });

  it('pages the longest chain first, so that it does not start last and run alone at the end (issue 23)', async () => {
    const LONG = '@TGS#long';
    const { chat, run, report } = await setup(
      {
        groups: {
          [ALPHA]: messageRun(20, NOW_SEC - 86_400),
          [BETA]: messageRun(30, NOW_SEC - 86_400),
          [LONG]: messageRun(70, NOW_SEC - 86_400),
        },
      },
      { concurrency: 2 },
    );

    // Listed last, as a listing may hand out a big group after a thousand small ones.
    await pageTargets(run, [target(ALPHA, 20), target(BETA, 30), target(LONG, 70)]);

    const order = chat.historyRequests.map((r) => `${r.groupId} ${window(r)}`);
    // The long one at once and at every turn while it has more left than the others.
    expect(order.slice(0, 2)).toEqual([`${LONG} 70/20`, `${BETA} 30/20`]);
    expect(order.filter((o) => o.startsWith(LONG))).toEqual([
      `${LONG} 70/20`,
      `${LONG} 50/20`,
      `${LONG} 30/20`,
      `${LONG} 10/10`,
    ]);
    expect(order.indexOf(`${ALPHA} 20/20`)).toBeGreaterThan(order.indexOf(`${LONG} 50/20`));
    expect(report).toMatchObject({ messages: 120, done: true, remainingTargets: 0 });
  });

  it('goes on below empty pages (seqs that no longer exist) and claims the whole range', async () => {
    // Only seqs 1..10 exist; 11..50 were deleted: the server answers their pages empty and complete.
    const { store, chat, run, report } = await setup({
      groups: { [ALPHA]: messageRun(10, NOW_SEC - 86_400) },
      history: (request) =>
        (request.reqMsgSeq ?? 0) > 10 ? { groupId: request.groupId, isFinished: 1, messages: [] } : undefined,
    });

    await pageTargets(run, [target(ALPHA, 50)]);

    expect(chat.historyRequests.map(window)).toEqual(['50/20', '30/20', '10/10']);
    expect(report.messages).toBe(10);
    expect(report.done).toBe(true);
    expect(await committed(store, ALPHA)).toMatchObject({ highWater: 50, inProgress: null });
  });

  it('never loops on a server that repeats its first page: the target fails with a clear error, what was archived is claimed', async () => {
    const first = messageRun(45, NOW_SEC - 86_400)
      .slice(25)
      .reverse(); // 45..26
    const { store, chat, run, report } = await setup({
      history: (request) => ({ groupId: request.groupId, isFinished: 0, messages: structuredClone(first) }),
    });

    await pageTargets(run, [target(ALPHA, 45)]);

    // The first page, then the repeat asked again smaller down to one seq, then given up.
    expect(chat.historyRequests.map(window)).toEqual([
      '45/20',
      '25/20',
      '25/10',
      '25/5',
      '25/3',
      '25/2',
      '25/1',
    ]);
    expect(report.messages).toBe(20);
    expect(report.groups.failed).toBe(1);
    expect(report.errors).toHaveLength(1);
    expect(report.errors[0]?.error).toMatch(/ReqMsgSeq 25 of @TGS#alpha, even for a single seq/);
    expect(report.done).toBe(false);
    expect(report.remainingTargets).toBe(1);
    const state = await committed(store, ALPHA);
    expect(state?.highWater).toBe(0);
    expect(state?.inProgress).toMatchObject({ top: 45, cursor: 25 });
  });

  it('starts no page after the deadline: the page in flight settles and is committed, the rest is left', async () => {
    const { store, clock, chat, run, report } = await setup(
      { groups: { [ALPHA]: messageRun(45, NOW_SEC - 86_400) } },
      { concurrency: 1 },
    );
    const deadline = clock.now() + 1_000;
    run.options.deadlineMs = deadline;
    const api = chat.getHistory.bind(chat);
    chat.getHistory = async (request) => {
      clock.advance(1_000); // the first page takes until the deadline
      return api(request);
    };

    await pageTargets(run, [target(ALPHA, 45)]);

    expect(chat.historyRequests.map(window)).toEqual(['45/20']);
    expect(report).toMatchObject({ messages: 20, done: false, remainingTargets: 1 });
    expect(await committed(store, ALPHA)).toMatchObject({ highWater: 0, inProgress: { cursor: 25 } });
  });

  it('starts no page after a soft stop, and still commits', async () => {
    const { store, chat, run, report } = await setup({
      groups: { [ALPHA]: messageRun(45, NOW_SEC - 86_400) },
    });
    const stop = new AbortController();
    stop.abort();

    await pageTargets(run, [target(ALPHA, 45)], { stop: stop.signal });

    expect(chat.historyRequests).toEqual([]);
    expect(report.done).toBe(false);
    expect(report.checkpoints).toBe(1);
    expect(await committed(store, ALPHA)).toMatchObject({
      highWater: 0,
      inProgress: { top: 45, cursor: 45 },
    });
  });

  it('stops the run on a fatal error, after committing what other pages brought', async () => {
    const fatal = new GiveUpError('fatal', 'the client is broken', { attempts: 1 });
    const { store, run, report } = await setup({
      groups: { [ALPHA]: messageRun(45, NOW_SEC - 86_400), [BETA]: messageRun(12, NOW_SEC - 86_400) },
      history: (request) => {
        if (request.groupId === ALPHA && request.reqMsgSeq === 25) throw fatal;
        return undefined;
      },
    });

    await expect(pageTargets(run, [target(ALPHA, 45), target(BETA, 12)])).rejects.toBe(fatal);

    expect(report.done).toBe(false);
    expect(report.errors).toEqual([]);
    expect(report.messages).toBe(32);
    expect(await committed(store, ALPHA)).toMatchObject({ highWater: 0, inProgress: { cursor: 25 } });
    expect(await committed(store, BETA)).toMatchObject({ highWater: 12, inProgress: null });
    expect((await readStoredState(store, APP))?.read.head.pending).toBeNull();
  });

  it('writes checkpoints while paging goes on when the buffer fills, each message once', async () => {
    const { store, run, report } = await setup(
      { groups: { [ALPHA]: messageRun(100, NOW_SEC - 86_400) } },
      { flushBytes: 2_000, concurrency: 1 },
    );

    await pageTargets(run, [target(ALPHA, 100)]);

    expect(report.checkpoints).toBeGreaterThan(2);
    expect(report.messages).toBe(100);
    expect(report.done).toBe(true);
    expect(await committed(store, ALPHA)).toMatchObject({ highWater: 100, inProgress: null });
  });
});
