/**
 * The command-line entry point: thin. It parses arguments, builds the runtime and the composition,
 * runs the use case, prints the report and maps the outcome to an exit code.
 *
 *   demo        run the archiver on the built-in simulator into ./archive (npm start)
 *   archive     archive the apps of a config file (npm run archive -- --config archiver.config.json)
 *   simulator   start the simulator alone and print how to reach it (npm run simulator)
 *   export      run a named query or SQL over the archive into a CSV/JSONL file, or a transcript (npm run export)
 *   audit       check the archive is complete: every seq once, every gap explained (npm run audit)
 *   verify-deploy  after a deploy: alarms reach the topic, the function's S3 access, views, schedules
 *   receiver    receive Tencent's callbacks and record them into the archive (npm run receiver)
 */
import { parseArgs } from 'node:util';
import { terminalSafeLines } from '../adapters/logging/terminal-safe.ts';
import { systemClock } from '../adapters/system-clock.ts';
import { DEFAULT_ARCHIVE_OUT } from '../config/schema.ts';
import { runArchiveCommand } from './archive-command.ts';
import { EXIT, exitCodeFor } from './exit-codes.ts';
import { cliRuntime } from './runtime.ts';

/**
 * The usage text. The commands other than `archive` (and their heavy dependencies: DuckDB, the
 * Athena SDK, the simulator) are imported only when used, which keeps `npm run archive` lean.
 */
async function usage(): Promise<string> {
  const [{ EXPORT_USAGE }, { AUDIT_USAGE }] = await Promise.all([
    import('./export-command.ts'),
    import('./audit-command.ts'),
  ]);
  return `Usage:
  npm start                                   demo: simulator -> ./archive
  npm run archive -- --config <file.json> [--out <dir|s3://bucket/prefix>] [--deadline <seconds>] [--app <sdkAppId>] [--json] [--verbose]
  npm run simulator -- [--port <n>] [--callbacks-to <url> [--callback-token-file <path>]]
  npm run receiver -- --config <file.json> [--port <n>] [--host <address>] [--out <dir|s3://bucket/prefix>]
${EXPORT_USAGE}
${AUDIT_USAGE}
  npm run verify-deploy -- --stack <name> [--time-zone <IANA zone>] [--region <region>] [--alarm-wait <seconds>]`;
}

async function main(argv: string[]): Promise<number> {
  // `main.ts --help` has options but no command.
  const command = argv[0]?.startsWith('-') ? undefined : argv[0];
  const rest = command === undefined ? argv : argv.slice(1);
  // `export` has its own arguments (a query and key=value parameters), so it parses them itself.
  if (command === 'export') return exportCommand(rest);
  if (command === 'audit') return (await import('./audit-command.ts')).runAuditCommand(rest, plainDeps());
  if (command === 'verify-deploy')
    return (await import('./verify-deploy-command.ts')).runVerifyDeployCommand(rest, plainDeps());
  const { values } = parseArgs({
    args: rest,
    options: {
      config: { type: 'string' },
      out: { type: 'string' },
      deadline: { type: 'string' },
      app: { type: 'string' },
      port: { type: 'string' },
      host: { type: 'string' },
      'callbacks-to': { type: 'string' },
      'callback-token-file': { type: 'string' },
      json: { type: 'boolean', default: false },
      verbose: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
    strict: true,
  });
  if (values.help || command === undefined) {
    process.stdout.write(`${await usage()}\n`);
    return command === undefined && !values.help ? EXIT.usage : EXIT.done;
  }
  const runtime = cliRuntime({ level: values.verbose ? 'debug' : 'info', json: values.json });
  switch (command) {
    case 'demo':
      return (await import('./demo.ts')).runDemo(runtime, { out: values.out ?? DEFAULT_ARCHIVE_OUT });
    case 'archive':
      return runArchiveCommand(runtime, {
        configPath: values.config,
        out: values.out,
        deadline: values.deadline,
        app: values.app,
      });
    case 'simulator':
      return (await import('./simulator-command.ts')).runSimulatorCommand(values.port, '.tmp', {
        to: values['callbacks-to'],
        tokenFile: values['callback-token-file'],
      });
    case 'receiver':
      return (await import('./receiver-command.ts')).runReceiverCommand(runtime, {
        configPath: values.config,
        port: values.port,
        host: values.host,
        out: values.out,
      });
    default:
      process.stderr.write(`Unknown command ${JSON.stringify(command)}.\n${await usage()}\n`);
      return EXIT.usage;
  }
}

/** The real clock and the process's streams, for the query commands. */
function plainDeps() {
  return {
    clock: systemClock,
    stdout: (text: string) => process.stdout.write(text),
    stderr: (text: string) => process.stderr.write(text),
    tty: process.stderr.isTTY === true,
  };
}

/** Runs `export`, stopping a running Athena query on Ctrl-C instead of leaving it to scan on. */
async function exportCommand(args: string[]): Promise<number> {
  const abort = new AbortController();
  // The first Ctrl-C stops the query cleanly; a second one exits at once.
  const onSigint = () => {
    if (abort.signal.aborted) process.exit(EXIT.interrupted);
    abort.abort(new Error('interrupted'));
  };
  process.on('SIGINT', onSigint);
  try {
    const { runExportCommand } = await import('./export-command.ts');
    return await runExportCommand(args, {
      clock: systemClock,
      stdout: (text) => process.stdout.write(text),
      stderr: (text) => process.stderr.write(text),
      tty: process.stderr.isTTY === true,
      signal: abort.signal,
    });
  } finally {
    process.off('SIGINT', onSigint);
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.exitCode = exitCodeFor(error);
    // A message may quote what a server or a file said: control and bidi characters are escaped.
    const text = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
    process.stderr.write(`${terminalSafeLines(text)}\n`);
  },
);
