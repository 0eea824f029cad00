/**
 * The CLI's `Runtime` (see composition.ts): the real clock, text or JSON logs on stderr with every
 * line scrubbed of secrets, and secrets from the environment, a file or SSM. The Lambda's twin is
 * `functions/lambda/runtime.ts`; keeping this one out of composition.ts keeps the CLI's secret
 * sources out of the Lambda bundle.
 */
import { createConsoleLogger } from '../adapters/logging/console-logger.ts';
import { hostProcesses } from '../adapters/process/host-processes.ts';
import { createSecretResolver } from '../adapters/secrets/resolve-secret.ts';
import { systemClock } from '../adapters/system-clock.ts';
import { type Runtime, SecretRegistry } from '../composition.ts';

/** A runtime for the CLI: real clock, text or JSON logs on stderr with secrets masked. */
export function cliRuntime(
  options: { level?: 'debug' | 'info' | 'warn' | 'error'; json?: boolean } = {},
): Runtime {
  const secrets = new SecretRegistry();
  return {
    clock: systemClock,
    random: Math.random,
    logger: createConsoleLogger({
      level: options.level ?? 'info',
      format: options.json ? 'json' : 'text',
      secrets: () => secrets.all(),
    }),
    resolveSecret: createSecretResolver(),
    secrets,
    processes: hostProcesses(),
  };
}
