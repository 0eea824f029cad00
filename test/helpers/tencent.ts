import { createConsoleLogger } from '../../functions/adapters/logging/console-logger.ts';
import { TencentClient, type TencentClientOptions } from '../../functions/adapters/tencent/client.ts';
import { type UserSigProvider, userSigFromKey } from '../../functions/adapters/tencent/user-sig.ts';
import { createPrng } from '../../functions/simulator/hash.ts';
import type { Simulator } from '../../functions/simulator/index.ts';
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
