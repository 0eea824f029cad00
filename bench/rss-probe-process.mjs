/**
 * Preloaded (NODE_OPTIONS=--import) into every Node process that `npm run archive` starts, by
 * bench/rss-process.ts: each appends one JSON line to $BENCH_RSS_FILE when it exits, with its pid,
 * parent pid, the script it ran, its peak RSS (KiB) and its CPU time (ms), so the process that did the work is named,
 * not guessed (npm and the node process that runs functions/cli/main.ts are two
 * processes). With $BENCH_RSS_TRACE set, the process whose argv names functions/cli/main.ts also
 * appends a line of process.memoryUsage() (bytes) every $BENCH_RSS_TRACE_MS (default 1000) to it.
 */
import { appendFileSync } from 'node:fs';

const file = process.env.BENCH_RSS_FILE;
const script = process.argv.slice(1).join(' ');
if (file) {
  process.on('exit', () => {
    const usage = process.resourceUsage();
    const cpuMs = Math.round((usage.userCPUTime + usage.systemCPUTime) / 1000);
    const line = { pid: process.pid, ppid: process.ppid, script, maxRssKb: usage.maxRSS, cpuMs };
    appendFileSync(file, `${JSON.stringify(line)}\n`);
  });
}
const trace = process.env.BENCH_RSS_TRACE;
/** The node process that runs main.ts itself (`node --import tsx functions/cli/main.ts`). */
const isArchiveWorker = process.argv[1]?.endsWith('functions/cli/main.ts') === true;
if (trace && isArchiveWorker) {
  const started = Date.now();
  const every = Number(process.env.BENCH_RSS_TRACE_MS ?? '1000');
  setInterval(() => {
    const m = process.memoryUsage();
    const s = ((Date.now() - started) / 1000).toFixed(1);
    appendFileSync(
      trace,
      `${s} rss=${(m.rss / 2 ** 20).toFixed(0)} heapUsed=${(m.heapUsed / 2 ** 20).toFixed(0)} heapTotal=${(m.heapTotal / 2 ** 20).toFixed(0)} external=${(m.external / 2 ** 20).toFixed(0)} arrayBuffers=${(m.arrayBuffers / 2 ** 20).toFixed(0)}\n`,
    );
  }, every).unref();
}
