import { FakeClock } from './fake-clock.ts';

/** Dependencies for `runExportCommand` that capture its output, with a fake clock (no real waits). */
export function captureExportIo<Extra extends object = Record<never, never>>(extra?: Extra) {
  const out: string[] = [];
  const err: string[] = [];
  return {
    out,
    err,
    deps: {
      clock: new FakeClock(),
      stdout: (t: string) => out.push(t),
      stderr: (t: string) => err.push(t),
      tty: false,
      ...(extra as Extra),
    },
  };
}
