/**
 * `npm run simulator`: run the simulator alone and write a config that points at it, so
 * `npm run archive -- --config .tmp/simulator.config.json` exercises the real CLI path.
 * The simulator's key is made up; it goes into a file (mode 600), never onto the terminal.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type Simulator, startSimulator } from '../simulator/index.ts';
import { EXIT } from './exit-codes.ts';

export async function runSimulatorCommand(port: string | undefined, folder = '.tmp'): Promise<number> {
  const simulator = await startSimulator({
    latencyMs: 5,
    jitterMs: 5,
    ...(port === undefined ? {} : { port: Number(port) }),
  });
  const app = simulator.apps[0];
  if (!app) throw new Error('the simulator has no app');
  await mkdir(folder, { recursive: true });
  const configFile = await writeSimulatorConfig(simulator, {
    keyFile: join(folder, 'simulator.key'),
    configFile: join(folder, 'simulator.config.json'),
    archive: { out: './archive-simulator', timeZone: 'UTC' },
  });
  process.stdout.write(
    `Simulator of the Tencent Chat REST API on ${simulator.url} (SDKAppID ${app.sdkAppId}).\n` +
      `Wrote ${configFile}; in another terminal: npm run archive -- --config ${configFile}\n` +
      'Press Ctrl-C to stop.\n',
  );
  await new Promise<void>((resolve) => process.once('SIGINT', () => resolve()));
  await simulator.stop();
  return EXIT.done;
}

/**
 * Write the simulator's made-up key to `keyFile` (mode 600) and a config file that points the CLI
 * at the simulator; returns the config's path. `app`, `archive` and `run` add or override settings.
 */
export async function writeSimulatorConfig(
  sim: Simulator,
  files: {
    keyFile: string;
    configFile: string;
    app?: Record<string, unknown>;
    archive?: Record<string, unknown>;
    run?: Record<string, unknown>;
    media?: Record<string, unknown>;
  },
): Promise<string> {
  const app = sim.apps[0];
  if (!app) throw new Error('the simulator has no app');
  await writeFile(files.keyFile, `${app.secretKey}\n`, { mode: 0o600 });
  const config = {
    apps: [
      {
        sdkAppId: app.sdkAppId,
        endpoint: sim.url,
        adminIdentifier: app.adminIdentifier,
        secretKey: { file: files.keyFile },
        ...files.app,
      },
    ],
    archive: { ...files.archive },
    ...(files.run ? { run: files.run } : {}),
    // The simulator's media listener is on loopback over HTTP: allowed explicitly, for it alone.
    media: {
      ...(sim.mediaUrl === undefined
        ? {}
        : {
            allowedHosts: [
              { host: new URL(sim.mediaUrl).host, allowHttp: true, allowPrivateAddresses: true },
            ],
          }),
      ...files.media,
    },
  };
  await writeFile(files.configFile, `${JSON.stringify(config, null, 2)}\n`);
  return files.configFile;
}
