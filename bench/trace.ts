/**
 * Where the time of one `npm run archive` goes, seen from the simulator (issue 23): the bench
 * process samples the simulator's call counters every {@link SAMPLE_MS} while the archive process
 * runs, and turns the samples into phases (process start to the first call, planning, paging's
 * ramp-up, steady paging, the tail, the report and exit) and pulls per second of the run.
 *
 * Counters count a request when the simulator has read its body (about when it arrives), so the
 * times are the server's view, which is what the rate limit counts.
 */
import type { Simulator } from '../functions/simulator/index.ts';

export const SAMPLE_MS = 100;

/** Cumulative calls at one moment (ms since the archive process was started). */
interface Sample {
  atMs: number;
  pulls: number;
  /** get_group_info, get_topic and the listing. */
  planning: number;
  topics: number;
}

/** Samples `sim`'s counters until stopped. */
export class CallTrace {
  private readonly samples: Sample[] = [];
  private readonly timer: NodeJS.Timeout;
  private readonly startedAt = performance.now();
  /** The counters when the trace started. */
  private base: Sample | undefined;

  public constructor(private readonly sim: Simulator) {
    this.sample();
    this.timer = setInterval(() => this.sample(), SAMPLE_MS);
  }

  /** Stops sampling (call it as the archive process exits: that is the trace's end). */
  public stop(): TraceSummary {
    clearInterval(this.timer);
    this.sample();
    return summarize(this.samples, performance.now() - this.startedAt);
  }

  private sample(): void {
    const { perApi } = this.sim.stats();
    const now = {
      atMs: performance.now() - this.startedAt,
      pulls: perApi.group_msg_get_simple.calls,
      planning: perApi.get_group_info.calls + perApi.get_topic.calls + perApi.get_appid_group_list.calls,
      topics: perApi.get_topic.calls,
    };
    // Counted from the trace's start: an earlier run on the same simulator is not this one's.
    this.base ??= { ...now, atMs: 0 };
    const base = this.base;
    this.samples.push({
      atMs: now.atMs,
      pulls: now.pulls - base.pulls,
      planning: now.planning - base.planning,
      topics: now.topics - base.topics,
    });
  }
}

/** The phases of a run, in seconds since the archive process was started. */
export interface TraceSummary {
  /** The process's first call (startup before it: npm, tsx, config, state). */
  firstCallS: number;
  firstPullS: number;
  /** The last planning call (listing, info, topics). */
  planningEndS: number;
  /** The first topic call and the last. */
  topicsS: [number, number] | null;
  /** The first second at >= 90% of the run's best second (ramp-up before it). */
  rampedS: number;
  /** When 95% and 100% of the pulls had been made (the tail between). */
  pulls95S: number;
  lastPullS: number;
  /** Process exit (last checkpoint, report, exit after the last pull). */
  exitS: number;
  /** Pulls in each second of the run, from the process start. */
  perSecond: number[];
}

/** The first sample's time at which `value` reaches `target`. */
function timeOf(samples: readonly Sample[], value: (s: Sample) => number, target: number): number {
  return (samples.find((s) => value(s) >= target)?.atMs ?? Number.NaN) / 1000;
}

function summarize(samples: readonly Sample[], exitMs: number): TraceSummary {
  const last = samples.at(-1) as Sample;
  const perSecond: number[] = [];
  for (const s of samples) {
    const second = Math.floor(s.atMs / 1000);
    perSecond[second] = s.pulls;
  }
  // Cumulative at each second's last sample, then differences (a second without a sample repeats).
  let previous = 0;
  for (let i = 0; i < perSecond.length; i++) {
    const cumulative = perSecond[i] ?? previous;
    perSecond[i] = cumulative - previous;
    previous = cumulative;
  }
  const best = Math.max(0, ...perSecond);
  const ramped = perSecond.findIndex((n) => n >= 0.9 * best);
  const planningEnd = samples.find((s) => s.planning === last.planning)?.atMs ?? 0;
  const topicsEnd = samples.find((s) => s.topics === last.topics)?.atMs ?? 0;
  return {
    firstCallS: timeOf(samples, (s) => s.pulls + s.planning, 1),
    firstPullS: timeOf(samples, (s) => s.pulls, 1),
    planningEndS: planningEnd / 1000,
    topicsS: last.topics === 0 ? null : [timeOf(samples, (s) => s.topics, 1), topicsEnd / 1000],
    rampedS: ramped,
    pulls95S: timeOf(samples, (s) => s.pulls, 0.95 * last.pulls),
    lastPullS: (samples.find((s) => s.pulls === last.pulls)?.atMs ?? 0) / 1000,
    exitS: exitMs / 1000,
    perSecond,
  };
}

/** One line per phase, for the bench's table and docs/benchmarks.md. */
export function describeTrace(t: TraceSummary): string {
  const f = (s: number) => `${s.toFixed(1)} s`;
  const topics = t.topicsS === null ? 'no topics' : `topics ${f(t.topicsS[0])}–${f(t.topicsS[1])}`;
  return [
    `first call ${f(t.firstCallS)}, first pull ${f(t.firstPullS)}, planning ends ${f(t.planningEndS)} (${topics})`,
    `>= 90% of the best second from ${t.rampedS} s; 95% of pulls at ${f(t.pulls95S)}, last pull ${f(t.lastPullS)}, exit ${f(t.exitS)}`,
    `pulls per second: ${t.perSecond.join(' ')}`,
  ].join('; ');
}
