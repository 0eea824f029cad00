/** Running the archive engine in-process against the simulator (a real client over HTTP). */
import { systemClock } from '../../functions/adapters/system-clock.ts';
import type { TencentClientOptions } from '../../functions/adapters/tencent/client.ts';
import type { Clock } from '../../functions/domain/ports.ts';
import type { ObjectStore } from '../../functions/domain/storage.ts';
import { type RunOptions, runArchive } from '../../functions/engine/run-archive.ts';
import type { Simulator } from '../../functions/simulator/index.ts';
import { clientFor } from './tencent.ts';

export const silentLogger = { debug() {}, info() {}, warn() {}, error() {} };

/** Run options at test defaults (a fresh run id, all groups, UTC, no deadline) unless given. */
export function testRunOptions(sdkAppId: number, over: Partial<RunOptions> = {}): RunOptions {
  return {
    sdkAppId,
    runId: `run${Math.random().toString(36).slice(2, 10)}`,
    groupIds: undefined,
    selection: { include: [], exclude: [], types: [] },
    withRecalledMsg: true,
    timeZone: 'UTC',
    initialLookbackDays: null,
    flushBytes: 64 * 1024 * 1024,
    checkpointIntervalMs: 60_000,
    leaseMs: 120_000,
    deadlineMs: null,
    concurrency: 16,
    ...over,
  };
}

/** A run of the engine on `store`, with every option at a test default unless given. */
export function engineRun(
  sim: Simulator,
  store: ObjectStore,
  over: Partial<RunOptions> & {
    clock?: Clock;
    logger?: typeof silentLogger;
    client?: Partial<TencentClientOptions>;
  } = {},
) {
  const clock = over.clock ?? systemClock;
  const { client, app } = clientFor(sim, {
    clock,
    rateLimits: { groupMsgGetSimple: 2_000, getGroupInfo: 2_000, getAppidGroupList: 100, getTopic: 2_000 },
    ...over.client,
  });
  const options = testRunOptions(app.sdkAppId, over);
  const deps = {
    api: client,
    store,
    clock,
    logger: over.logger ?? silentLogger,
    apiStats: () => client.stats(),
  };
  return { client, options, run: () => runArchive(deps, options) };
}
