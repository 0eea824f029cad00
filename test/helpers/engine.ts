/** Running the archive engine in-process against the simulator (a real client over HTTP). */
import { systemClock } from '../../functions/adapters/system-clock.ts';
import type { TencentClient, TencentClientOptions } from '../../functions/adapters/tencent/client.ts';
import type { Clock, Logger } from '../../functions/domain/ports.ts';
import type { ObjectStore } from '../../functions/domain/storage.ts';
import { type RunDeps, type RunOptions, runArchive } from '../../functions/engine/run-archive.ts';
import type { Simulator, SimulatorOptions } from '../../functions/simulator/index.ts';
import { silentLogger, testRunOptions } from './engine-fakes.ts';
import { type ClientRates, clientFor, startSimulatorForClient } from './tencent.ts';

/** The client's rates in engine tests; {@link startEngineSimulator} allows the same. */
export const ENGINE_CLIENT_RATES = {
  groupMsgGetSimple: 2_000,
  getGroupInfo: 2_000,
  getAppidGroupList: 100,
  getTopic: 2_000,
} as const satisfies ClientRates;

/** A simulator for {@link engineRun}: it allows exactly {@link ENGINE_CLIENT_RATES}. */
export function startEngineSimulator(options: Omit<SimulatorOptions, 'rateLimits'> = {}): Promise<Simulator> {
  return startSimulatorForClient(ENGINE_CLIENT_RATES, options);
}

// Moved to engine-fakes.ts (no simulator import there, for the engine's unit tests); re-exported here.
export { silentLogger, testRunOptions };

/** A run of the engine on `store`, with every option at a test default unless given. */
export function engineRun(
  sim: Simulator,
  store: ObjectStore,
  over: Partial<RunOptions> & {
    clock?: Clock;
    logger?: Logger;
    client?: Partial<TencentClientOptions>;
    /** Media copying (for runs with `media.enabled`), given the run's client. */
    mediaDeps?: (client: TencentClient) => RunDeps['media'];
  } = {},
) {
  const { clock = systemClock, logger = silentLogger, client: clientOver, mediaDeps, ...runOver } = over;
  const { client, app } = clientFor(sim, { clock, rateLimits: ENGINE_CLIENT_RATES, ...clientOver });
  const options = testRunOptions(app.sdkAppId, runOver);
  const media = mediaDeps?.(client);
  const deps: RunDeps = {
    api: client,
    store,
    clock,
    logger,
    apiStats: () => client.stats(),
    ...(media ? { media } : {}),
  };
  return {
    client,
    options,
    sdkAppId: app.sdkAppId,
    /** One run, with `runOver` on top of the options. */
    run: (runOver: Partial<RunOptions> = {}) => runArchive(deps, { ...options, ...runOver }),
  };
}
