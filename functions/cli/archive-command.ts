/** `npm run archive -- --config <file>`: archive every configured app (or one) once. */
import { terminalSafe, terminalSafeData } from '../adapters/logging/terminal-safe.ts';
import { PAUSE_AT_ENV, pausingStore } from '../adapters/pause-at.ts';
import { composeAppRun, openStore, type Runtime } from '../composition.ts';
import { MAX_DEADLINE_SECONDS } from '../config/schema.ts';
import { ConfigError } from '../domain/errors.ts';
import type { RunReport } from '../engine/report.ts';
import { formatReport, type StoredRunReport } from '../engine/report-format.ts';
import { runArchive } from '../engine/run-archive.ts';
import { EXIT, exitCodeForReports } from './exit-codes.ts';
import { loadConfigFile } from './load-config.ts';
import { createProgressView } from './progress.ts';

export interface ArchiveArgs {
  configPath: string | undefined;
  out: string | undefined;
  deadline: string | undefined;
  app: string | undefined;
}

export async function runArchiveCommand(runtime: Runtime, args: ArchiveArgs): Promise<number> {
  if (args.configPath === undefined) {
    throw new ConfigError('--config <file.json> is required (see archiver.config.example.json)', {
      field: '--config',
    });
  }
  const config = await loadConfigFile(args.configPath);
  if (args.out !== undefined) config.archive.out = args.out;
  const deadlineMs = parseDeadline(args.deadline, runtime.clock.now());
  const indexes = selectApps(
    config.apps.map((a) => a.sdkAppId),
    args.app,
  );
  // Inert unless a test arms a pause point (functions/adapters/pause-at.ts).
  const store = pausingStore(await openStore(config.archive.out), process.env[PAUSE_AT_ENV]);
  const reports: RunReport[] = [];
  const interrupt = onInterrupt(runtime);
  try {
    for (const index of indexes) {
      if (interrupt.signal.aborted) break;
      reports.push(await archiveApp(runtime, { config, index, store, deadlineMs, stop: interrupt.signal }));
    }
  } finally {
    interrupt.dispose();
  }
  process.stdout.write(formatRunReports(reports, store.location));
  if (interrupt.received !== undefined)
    return interrupt.received === 'SIGINT' ? EXIT.interrupted : EXIT.terminated;
  return exitCodeForReports(reports);
}

/**
 * The reports as printed, every string in them (group ids and error texts come from the server)
 * with control and bidi characters escaped.
 */
export function formatRunReports(reports: readonly StoredRunReport[], location: string): string {
  const text = reports.map((report) => `${formatReport(terminalSafeData(report))}\n`).join('');
  return `${text}archive: ${terminalSafe(location)}\n`;
}

/** One app's run: the config, which app of it, the store, the deadline and the interrupt's signal. */
interface AppRun {
  readonly config: Awaited<ReturnType<typeof loadConfigFile>>;
  /** The app's index in `config.apps`. */
  readonly index: number;
  readonly store: Awaited<ReturnType<typeof openStore>>;
  readonly deadlineMs: number | undefined;
  readonly stop: AbortSignal;
}

async function archiveApp(runtime: Runtime, run: AppRun): Promise<RunReport> {
  const { config, index, store, deadlineMs, stop } = run;
  const view = createProgressView({
    tty: process.stderr.isTTY === true,
    write: (line) => process.stderr.write(`${line}\n`),
    label: `app ${config.apps[index]?.sdkAppId}`,
  });
  const { deps, options } = await composeAppRun(config, index, runtime, {
    store,
    ...(deadlineMs === undefined ? {} : { deadlineMs }),
    onProgress: (p) => view.update(p),
  });
  try {
    return await runArchive(deps, options, undefined, stop);
  } finally {
    view.stop();
  }
}

/**
 * SIGINT / SIGTERM: the first one lets the run finish its current checkpoint, write its report and
 * release the lease, then the command exits with 130 / 143. A second one exits at once (the lease
 * is left behind; the next run on this host takes it over at once, as its process is gone).
 */
function onInterrupt(runtime: Runtime): {
  signal: AbortSignal;
  received: NodeJS.Signals | undefined;
  dispose(): void;
} {
  const controller = new AbortController();
  const state = {
    signal: controller.signal,
    received: undefined as NodeJS.Signals | undefined,
    dispose: () => {
      process.off('SIGINT', handler);
      process.off('SIGTERM', handler);
    },
  };
  const handler = (name: NodeJS.Signals): void => {
    const code = name === 'SIGINT' ? EXIT.interrupted : EXIT.terminated;
    if (state.received !== undefined) process.exit(code);
    state.received = name;
    runtime.logger.warn(
      `${name}: finishing the current checkpoint, then releasing the lease (again to exit at once)`,
    );
    controller.abort(new Error(name));
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
  return state;
}

function parseDeadline(text: string | undefined, now: number): number | undefined {
  if (text === undefined) return undefined;
  const seconds = Number(text);
  if (!Number.isFinite(seconds) || seconds <= 0 || seconds > MAX_DEADLINE_SECONDS) {
    throw new ConfigError(
      `--deadline must be a positive number of seconds, got ${JSON.stringify(text)} (at most ${MAX_DEADLINE_SECONDS}, 7 days)`,
      { field: '--deadline' },
    );
  }
  return now + seconds * 1000;
}

function selectApps(ids: number[], app: string | undefined): number[] {
  if (app === undefined) return ids.map((_, i) => i);
  const index = ids.indexOf(Number(app));
  if (index < 0) {
    throw new ConfigError(`--app ${app} is not in the config (configured: ${ids.join(', ')})`, {
      field: '--app',
    });
  }
  return [index];
}
