import type { LogFields, Logger } from '../../domain/ports.ts';
import { redactSecrets } from './redact.ts';
import { terminalSafe, terminalSafeJson } from './terminal-safe.ts';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export interface ConsoleLoggerOptions {
  level?: LogLevel;
  /** JSON lines (machines, Lambda) or `level message k=v` (people). */
  format?: 'json' | 'text';
  /** Where lines go; default stderr so stdout stays for results. */
  write?: (line: string) => void;
  /** Current secrets to mask from every line (key, UserSigs). Called per line, so renewed sigs are covered. */
  secrets?: () => Iterable<string>;
}

/**
 * A small structured logger for the CLI and tests. Every line passes through {@link redactSecrets}
 * and is made safe for a terminal (functions/adapters/logging/terminal-safe.ts).
 * Hand-written instead of pino: the CLI needs a dozen lines of output and one redaction hook, and
 * the Lambda uses Powertools Logger.
 */
export function createConsoleLogger(options: ConsoleLoggerOptions = {}): Logger {
  const min = ORDER[options.level ?? 'info'];
  const format = options.format ?? 'text';
  const write = options.write ?? ((line: string) => process.stderr.write(`${line}\n`));
  const secrets = options.secrets ?? (() => []);
  const emit = (level: LogLevel, message: string, fields?: LogFields): void => {
    if (ORDER[level] < min) return;
    // Messages quote group ids and server answers: one line each, control and bidi characters escaped.
    const line =
      format === 'json'
        ? terminalSafeJson(JSON.stringify({ level, message, ...fields }, jsonSafe))
        : terminalSafe(`${level.padEnd(5)} ${message}${formatFields(fields)}`);
    write(redactSecrets(line, secrets()));
  };
  return {
    debug: (m, f) => emit('debug', m, f),
    info: (m, f) => emit('info', m, f),
    warn: (m, f) => emit('warn', m, f),
    error: (m, f) => emit('error', m, f),
  };
}

function jsonSafe(_key: string, value: unknown): unknown {
  if (typeof value === 'bigint') return value.toString();
  if (value instanceof Error) return { name: value.name, message: value.message };
  return value;
}

function formatFields(fields: LogFields | undefined): string {
  if (fields === undefined) return '';
  const parts = Object.entries(fields).map(
    ([k, val]) => `${k}=${typeof val === 'string' ? val : JSON.stringify(val, jsonSafe)}`,
  );
  return parts.length === 0 ? '' : ` ${parts.join(' ')}`;
}
