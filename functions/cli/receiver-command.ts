/**
 * `npm run receiver -- --config <file> [--port 8080] [--host 127.0.0.1] [--out <dir|s3://…>]`:
 * receive Tencent IM's callbacks for the configured apps that have a `callbackToken`, and record
 * each authentic event into the archive store before acking it (docs/callbacks.md). Ctrl-C stops
 * accepting, writes what is waiting, prints the counts and exits.
 */
import { hostname } from 'node:os';
import { startReceiverServer } from '../adapters/callbacks/receiver-server.ts';
import { terminalSafe } from '../adapters/logging/terminal-safe.ts';
import { PAUSE_AT_ENV, pausingStore } from '../adapters/pause-at.ts';
import { composeReceiver, openStore, type Runtime } from '../composition.ts';
import { ConfigError } from '../domain/errors.ts';
import { EXIT } from './exit-codes.ts';
import { loadConfigFile } from './load-config.ts';

export interface ReceiverArgs {
  configPath: string | undefined;
  port: string | undefined;
  host: string | undefined;
  out: string | undefined;
}

function parsePort(text: string | undefined): number {
  if (text === undefined) return 8080;
  const port = Number(text);
  if (!/^[0-9]{1,5}$/.test(text) || port > 65_535) {
    throw new ConfigError(`--port must be a port number 0-65535, got ${JSON.stringify(text)}`, {
      field: '--port',
    });
  }
  return port;
}

/** Unique to this process, for the record's object names: host, pid and start time. */
function receiverIdOf(now: number): string {
  const host =
    hostname()
      .replace(/[^A-Za-z0-9.-]/g, '-')
      .slice(0, 64) || 'host';
  return `${host}-${process.pid}-${now.toString(36)}`;
}

export async function runReceiverCommand(runtime: Runtime, args: ReceiverArgs): Promise<number> {
  if (args.configPath === undefined) {
    throw new ConfigError('--config <file.json> is required (see archiver.config.example.json)', {
      field: '--config',
    });
  }
  const config = await loadConfigFile(args.configPath);
  const port = parsePort(args.port);
  // Inert unless a test arms a pause point (functions/adapters/pause-at.ts).
  const store = pausingStore(await openStore(args.out ?? config.archive.out), process.env[PAUSE_AT_ENV]);
  const { receiver, recorder, forwarder, apps } = await composeReceiver(config, runtime, {
    store,
    receiverId: receiverIdOf(runtime.clock.now()),
  });
  const running = await startReceiverServer({ receiver, port, host: args.host ?? '127.0.0.1' });
  process.stderr.write(
    `Receiving callbacks for ${apps.join(', ')} on ${terminalSafe(running.url)}; ` +
      `recording into ${terminalSafe(store.location)}` +
      (forwarder === undefined ? '' : "; forwarding to the apps' own callback URLs (apps[].callbacks)") +
      '. Ctrl-C to stop.\n',
  );
  await new Promise<void>((resolve) => {
    process.once('SIGINT', () => resolve());
    process.once('SIGTERM', () => resolve());
  });
  await running.close();
  await recorder.drain();
  const counts = { receiver: receiver.stats, recorder: recorder.stats, forwarder: forwarder?.stats };
  process.stdout.write(`${JSON.stringify(counts)}\n`);
  return EXIT.done;
}
