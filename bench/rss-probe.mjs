/**
 * Preloaded (NODE_OPTIONS=--import) into every Node process that `npm run archive` starts, by the
 * benchmark: each appends its peak RSS (KiB) to $BENCH_RSS_FILE when it exits; the archiving process
 * is the largest. So the CLI is measured exactly as users run it.
 */
import { appendFileSync } from 'node:fs';

const file = process.env.BENCH_RSS_FILE;
if (file) process.on('exit', () => appendFileSync(file, `${process.resourceUsage().maxRSS}\n`));
