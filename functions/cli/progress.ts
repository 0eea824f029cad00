/**
 * Progress on long runs: a live bar on a terminal, a plain line every few seconds otherwise
 * (CI logs, files), so people and machines both see that work moves.
 */
import cliProgress from 'cli-progress';
import { terminalSafe } from '../adapters/logging/terminal-safe.ts';
import type { Progress } from '../engine/run-archive.ts';

export interface ProgressView {
  update(progress: Progress): void;
  stop(): void;
}

export function createProgressView(options: {
  tty: boolean;
  write: (line: string) => void;
  label: string;
}): ProgressView {
  const started = Date.now();
  const label = terminalSafe(options.label);
  if (options.tty) {
    const bar = new cliProgress.SingleBar(
      {
        format: `${label} [{bar}] {value}/{total} targets | {messages} msgs | {pages} pages | {rate} pages/s | {objects} objects`,
        hideCursor: true,
        clearOnComplete: false,
        fps: 5,
      },
      cliProgress.Presets.shades_classic,
    );
    let startedBar = false;
    return {
      update(p) {
        const payload = {
          messages: p.messages,
          pages: p.pages,
          objects: p.objects,
          rate: rate(p.pages, started),
        };
        if (!startedBar) {
          bar.start(p.targetsTotal, p.targetsDone, payload);
          startedBar = true;
        }
        bar.setTotal(p.targetsTotal);
        bar.update(p.targetsDone, payload);
      },
      stop() {
        if (startedBar) bar.stop();
      },
    };
  }
  let last = 0;
  let latest: Progress | undefined;
  const line = (p: Progress) =>
    `${label}: ${p.targetsDone}/${p.targetsTotal} targets, ${p.messages} messages, ${p.pages} pages (${rate(p.pages, started)}/s), ${p.objects} objects`;
  return {
    update(p) {
      latest = p;
      const now = Date.now();
      if (now - last >= 5_000) {
        last = now;
        options.write(line(p));
      }
    },
    stop() {
      if (latest) options.write(line(latest));
    },
  };
}

function rate(pages: number, started: number): string {
  const seconds = Math.max(0.001, (Date.now() - started) / 1000);
  return (pages / seconds).toFixed(0);
}
