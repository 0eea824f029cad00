/**
 * Runs the real CLI (`node --import tsx functions/cli/main.ts …`) as a child process (which a test
 * may SIGKILL while it runs) and collects its exit code, signal and output.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeSimulatorConfig as writeConfigFor } from '../../functions/cli/simulator-command.ts';
import type { Simulator } from '../../functions/simulator/index.ts';

export const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));

export interface CliResult {
  /** Exit code, or null when the process was ended by a signal. */
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  elapsedMs: number;
}

export interface CliOptions {
  /** Extra environment variables. */
  env?: Record<string, string>;
  /** Safety net: SIGKILL after this long and fail (default 60 s). */
  timeoutMs?: number;
}

/** A running CLI process. */
export interface CliProcess {
  /** Settles when the process has exited and its output is read. */
  readonly done: Promise<CliResult>;
  /** Whether the process has exited. */
  readonly exited: boolean;
  /** The process id (undefined if it could not be spawned). */
  readonly pid: number | undefined;
  /** SIGKILL the process (if it still runs). */
  kill(): void;
  /** Send `signal` (SIGINT, SIGTERM, SIGSTOP, SIGCONT, …) if the process still runs. */
  signal(signal: NodeJS.Signals): void;
  /** Resolves true once stderr contains `text`, false if the process exits first. */
  waitForStderr(text: string): Promise<boolean>;
}

const running = new Set<ChildProcess>();

/** SIGKILL every child this helper started that is still running (for afterEach). */
export function killStrayChildren(): void {
  for (const child of running) child.kill('SIGKILL');
  running.clear();
}

/** Run the CLI to its end. */
export function runCli(args: readonly string[], options: CliOptions = {}): Promise<CliResult> {
  return spawnCli(args, options).done;
}

/** Start the CLI; the caller may kill it while it runs. */
export function spawnCli(args: readonly string[], options: CliOptions = {}): CliProcess {
  const started = Date.now();
  const child = spawn(process.execPath, ['--import', 'tsx', 'functions/cli/main.ts', ...args], {
    cwd: REPO_ROOT,
    env: { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true', ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  running.add(child);
  let stdout = '';
  let stderr = '';
  const stderrWaiters = new Set<() => void>();
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk;
  });
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
    for (const check of stderrWaiters) check();
  });
  let timedOut = false;
  let exited = false;
  const timer = setTimeout(() => {
    timedOut = true;
    child.kill('SIGKILL');
  }, options.timeoutMs ?? 60_000);
  const done = new Promise<CliResult>((resolve, reject) => {
    child.once('error', (error) => {
      clearTimeout(timer);
      running.delete(child);
      exited = true;
      reject(error);
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      running.delete(child);
      exited = true;
      if (timedOut) {
        reject(new Error(`CLI ${args.join(' ')} timed out\nstdout:\n${stdout}\nstderr:\n${stderr}`));
        return;
      }
      resolve({ code, signal, stdout, stderr, elapsedMs: Date.now() - started });
    });
  });
  return {
    done,
    get exited() {
      return exited;
    },
    pid: child.pid,
    kill: () => {
      if (!exited) child.kill('SIGKILL');
    },
    signal: (signal) => {
      if (!exited) child.kill(signal);
    },
    waitForStderr: (text) =>
      new Promise<boolean>((resolve) => {
        const check = () => {
          if (stderr.includes(text)) {
            stderrWaiters.delete(check);
            resolve(true);
          }
        };
        stderrWaiters.add(check);
        check();
        // After 'close' all output is read: a text not seen by then never comes.
        done.then(
          () => {
            check();
            stderrWaiters.delete(check);
            resolve(false);
          },
          () => resolve(false),
        );
      }),
  };
}

/** Writes the simulator's key into `dir/secret.key` and a config pointing at the simulator; returns its path. */
export function writeSimulatorConfig(
  sim: Simulator,
  dir: string,
  over: {
    app?: Record<string, unknown>;
    archive?: Record<string, unknown>;
    run?: Record<string, unknown>;
    media?: Record<string, unknown>;
  } = {},
): Promise<string> {
  return writeConfigFor(sim, {
    keyFile: join(dir, 'secret.key'),
    configFile: join(dir, 'config.json'),
    ...over,
    archive: { out: join(dir, 'archive'), ...over.archive },
  });
}
