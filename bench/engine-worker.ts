/**
 * Runs the archive engine for the benchmark in its own process, so its peak RSS is measured
 * without the simulator's. Usage: tsx bench/engine-worker.ts <config.json>
 * Prints one JSON line: { report, maxRssMb }.
 */

import { loadConfigFile } from '../functions/cli/load-config.ts';
import { cliRuntime } from '../functions/cli/runtime.ts';
import { composeAppRun } from '../functions/composition.ts';
import { runArchive } from '../functions/engine/run-archive.ts';

const path = process.argv[2];
if (!path) throw new Error('usage: engine-worker <config.json>');
const config = await loadConfigFile(path);
const runtime = cliRuntime({ level: 'warn' });
const { deps, options } = await composeAppRun(config, 0, runtime);
const report = await runArchive(deps, options);
process.stdout.write(`${JSON.stringify({ report, maxRssMb: process.resourceUsage().maxRSS / 1024 })}\n`);
