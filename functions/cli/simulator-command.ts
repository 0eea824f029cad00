/**
 * `npm run simulator`: run the simulator alone and write a config that points at it, so
 * `npm run archive -- --config .tmp/simulator.config.json` exercises the real CLI path.
 * The simulator's key is made up; it goes into a file (mode 600), never onto the terminal.
 *
 * With `--callbacks-to <url>` the simulator also sends Tencent's signed callbacks for every change
 * it makes (functions/simulator/callbacks.ts) to that URL, with the token read from
 * `--callback-token-file <path>` or made up and written to `.tmp/simulator.callback-token`
 * (mode 600); the config written names it as `callbackToken: { file }`, so
 * `npm run receiver -- --config .tmp/simulator.config.json` receives them (docs/callbacks.md).
 * Commands on stdin (functions/cli/simulator-console.ts) add messages, recall one or dissolve a group.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ConfigError } from '../domain/errors.ts';
import { type Simulator, startSimulator } from '../simulator/index.ts';
import { EXIT } from './exit-codes.ts';
import { SIMULATOR_CONSOLE_HELP, startSimulatorConsole } from './simulator-console.ts';

export interface SimulatorCallbackArgs {
  /** `--callbacks-to`: the receiver's URL. */
  to?: string | undefined;
  /** `--callback-token-file`: the token to sign with; default a made-up one. */
  tokenFile?: string | undefined;
}

/** The callback token and the file that holds it (made up and written, mode 600, when none is given). */
async function callbackToken(folder: string, tokenFile: string | undefined) {
  if (tokenFile !== undefined) {
    const token = (await readFile(tokenFile, 'utf8')).trim();
    if (token === '')
      throw new ConfigError(`--callback-token-file ${tokenFile} is empty`, {
        field: '--callback-token-file',
      });
    return { token, file: tokenFile };
  }
  const file = join(folder, 'simulator.callback-token');
  const token = randomBytes(24).toString('hex');
  await writeFile(file, `${token}\n`, { mode: 0o600 });
  return { token, file };
}

function callbackUrl(text: string): string {
  const url = URL.canParse(text) ? new URL(text) : undefined;
  if (url === undefined || (url.protocol !== 'http:' && url.protocol !== 'https:')) {
    throw new ConfigError(`--callbacks-to must be an http(s) URL, got ${JSON.stringify(text)}`, {
      field: '--callbacks-to',
    });
  }
  return url.toString();
}

/** ` --port <n>` when the callback URL's port is not the receiver's default (8080). */
function receiverPortArg(url: string): string {
  const parsed = new URL(url);
  const port = parsed.port !== '' ? parsed.port : parsed.protocol === 'https:' ? '443' : '80';
  return port === '8080' ? '' : ` --port ${port}`;
}

export async function runSimulatorCommand(
  port: string | undefined,
  folder = '.tmp',
  callbackArgs: SimulatorCallbackArgs = {},
): Promise<number> {
  await mkdir(folder, { recursive: true });
  const url = callbackArgs.to === undefined ? undefined : callbackUrl(callbackArgs.to);
  const token = url === undefined ? undefined : await callbackToken(folder, callbackArgs.tokenFile);
  const simulator = await startSimulator({
    latencyMs: 5,
    jitterMs: 5,
    ...(port === undefined ? {} : { port: Number(port) }),
    ...(url === undefined || token === undefined ? {} : { callbacks: { url, token: token.token } }),
  });
  const app = simulator.apps[0];
  if (!app) throw new Error('the simulator has no app');
  const configFile = await writeSimulatorConfig(simulator, {
    keyFile: join(folder, 'simulator.key'),
    configFile: join(folder, 'simulator.config.json'),
    archive: { out: './archive-simulator', timeZone: 'UTC' },
    ...(token === undefined ? {} : { app: { callbackToken: { file: token.file } } }),
  });
  process.stdout.write(
    `Simulator of the Tencent Chat REST API on ${simulator.url} (SDKAppID ${app.sdkAppId}).\n` +
      `Wrote ${configFile}; in another terminal: npm run archive -- --config ${configFile}\n` +
      (url === undefined
        ? ''
        : `Callbacks go to ${url} (token in ${token?.file}); to receive them: npm run receiver -- --config ${configFile}${receiverPortArg(url)}\n`) +
      `${SIMULATOR_CONSOLE_HELP}\n` +
      'Press Ctrl-C to stop.\n',
  );
  const stopConsole = startSimulatorConsole(simulator, process.stdin, (text) => process.stdout.write(text));
  await new Promise<void>((resolve) => process.once('SIGINT', () => resolve()));
  stopConsole();
  await simulator.callbacks?.flush();
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
