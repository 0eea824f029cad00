import { createConsoleLogger } from '../../functions/adapters/logging/console-logger.ts';
import { TencentClient, type TencentClientOptions } from '../../functions/adapters/tencent/client.ts';
import {
  genUserSig,
  type UserSigProvider,
  userSigFromKey,
} from '../../functions/adapters/tencent/user-sig.ts';
import { TENCENT_APIS, type TencentApiKey } from '../../functions/domain/tencent-types.ts';
import { createPrng } from '../../functions/simulator/hash.ts';
import {
  type ApiName,
  DEMO_APP,
  type Simulator,
  type SimulatorOptions,
  startSimulator,
} from '../../functions/simulator/index.ts';
import { FakeClock } from './fake-clock.ts';

/** A seeded uniform generator (the simulator's mulberry32), so jitter and `random` repeat in tests. */
export const seededRandom = (seed = 42): (() => number) => createPrng(seed);

/** Captures log lines without redaction, so a test can prove nothing secret was ever written. */
export function captureLogger() {
  const lines: string[] = [];
  const logger = createConsoleLogger({ level: 'debug', format: 'json', write: (line) => lines.push(line) });
  return { logger, lines };
}

/**
 * A client for the simulator's first app, with a fake clock (virtual sleeps) that starts at the real
 * time, so the UserSigs it signs are valid for the simulator.
 */
export function clientFor(
  sim: Simulator,
  over: Partial<TencentClientOptions> & { userSig?: UserSigProvider } = {},
) {
  const app = sim.apps[0];
  if (!app) throw new Error('simulator has no app');
  const clock = new FakeClock(Date.now());
  const { logger, lines } = captureLogger();
  const userSig =
    over.userSig ??
    userSigFromKey({ sdkAppId: app.sdkAppId, key: app.secretKey, identifier: app.adminIdentifier, clock });
  const client = new TencentClient({
    sdkAppId: app.sdkAppId,
    adminIdentifier: app.adminIdentifier,
    endpoint: sim.url,
    clock,
    random: seededRandom(),
    logger,
    requestTimeoutMs: 2_000,
    ...over,
    userSig,
  });
  return { client, clock, lines, app, userSig };
}

/** Requests per second per API, as the client (and the `app.rateLimits` config) names them. */
export type ClientRates = Readonly<Partial<Record<TencentApiKey, number>>>;

/** The simulator's `rateLimits` for the client's: the same rate per API, keyed by command name. */
export function simulatorRatesFor(rates: ClientRates): Partial<Record<ApiName, number>> {
  const out: Partial<Record<ApiName, number>> = {};
  for (const [api, rate] of Object.entries(rates) as [TencentApiKey, number | undefined][]) {
    if (rate !== undefined) out[TENCENT_APIS[api].split('/')[1] as ApiName] = rate;
  }
  return out;
}

/**
 * Starts the simulator allowing exactly the rates the client under test is configured for (its
 * strict sliding window on the rest): one source of the rates, so a test neither hides a client
 * sending too fast behind a lenient server nor fails on a server stricter than the client it runs.
 */
export function startSimulatorForClient(
  rates: ClientRates,
  options: Omit<SimulatorOptions, 'rateLimits'> = {},
): Promise<Simulator> {
  return startSimulator({ ...options, rateLimits: simulatorRatesFor(rates) });
}

/**
 * The query string of one admin REST call to the simulator's demo app, signed with a fresh
 * UserSig (`random` as given), for tests that POST raw bodies.
 */
export function signedDemoQuery(random: string): URLSearchParams {
  return new URLSearchParams({
    sdkappid: String(DEMO_APP.sdkAppId),
    identifier: DEMO_APP.adminIdentifier,
    usersig: genUserSig({
      sdkAppId: DEMO_APP.sdkAppId,
      key: DEMO_APP.secretKey,
      identifier: DEMO_APP.adminIdentifier,
      expireSeconds: 86_400,
      nowSeconds: Math.floor(Date.now() / 1000),
    }),
    random,
    contenttype: 'json',
  });
}
