/**
 * The command-line entry point: thin. It parses arguments, builds the runtime and the composition,
 * runs the use case, prints the report and maps the outcome to an exit code.
 *
 *   demo        run the archiver on the built-in simulator into ./archive (npm start)
 *   archive     archive the apps of a config file (npm run archive -- --config archiver.config.json)
 *   simulator   start the simulator alone and print how to reach it (npm run simulator)
 */
import { parseArgs } from 'node:util';
import { cliRuntime } from '../composition.ts';
import { runArchiveCommand } from './archive-command.ts';
import { runDemo } from './demo.ts';
import { EXIT, exitCodeFor } from './exit-codes.ts';
import { runSimulatorCommand } from './simulator-command.ts';

const USAGE = `Usage:
  npm start                                   demo: simulator -> ./archive
  npm run archive -- --config <file.json> [--out <dir|s3://bucket/prefix>] [--deadline <seconds>] [--app <sdkAppId>] [--json] [--verbose]
  npm run simulator -- [--port <n>]`;

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  const { values } = parseArgs({
    args: rest,
    options: {
      config: { type: 'string' },
      out: { type: 'string' },
      deadline: { type: 'string' },
      app: { type: 'string' },
      port: { type: 'string' },
      json: { type: 'boolean', default: false },
      verbose: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
    strict: true,
  });
  if (values.help || command === undefined) {
    process.stdout.write(`${USAGE}\n`);
    return command === undefined && !values.help ? EXIT.usage : EXIT.done;
  }
  const runtime = cliRuntime({ level: values.verbose ? 'debug' : 'info', json: values.json });
  switch (command) {
    case 'demo':
      return runDemo(runtime, { out: values.out ?? './archive' });
    case 'archive':
      return runArchiveCommand(runtime, {
        configPath: values.config,
        out: values.out,
        deadline: values.deadline,
        app: values.app,
      });
    case 'simulator':
      return runSimulatorCommand(values.port);
    default:
      process.stderr.write(`Unknown command ${JSON.stringify(command)}.\n${USAGE}\n`);
      return EXIT.usage;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.exitCode = exitCodeFor(error);
    process.stderr.write(`${error instanceof Error ? `${error.name}: ${error.message}` : String(error)}\n`);
  },
);
