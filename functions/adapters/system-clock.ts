import { setTimeout as delay } from 'node:timers/promises';
import type { Clock } from '../domain/ports.ts';

/** The real clock. Everything else receives a `Clock`, so tests can use a fake one. */
export const systemClock: Clock = {
  now: () => Date.now(),
  sleep: (ms, signal) => (ms <= 0 ? Promise.resolve() : delay(ms, undefined, signal ? { signal } : {})),
};
