/** What a run is asked to do (options) and what it is given to do it with (deps). */
import type { ImageSizeClass } from '../domain/media-refs.ts';
import type { GroupSelection } from '../domain/planner.ts';
import type { ChatApi, Clock, HostProcesses, Logger, MediaFetcher } from '../domain/ports.ts';
import type { LayoutBounds } from '../domain/state-layout.ts';
import type { ObjectStore, StreamingObjectStore } from '../domain/storage.ts';

export interface RunOptions {
  sdkAppId: number;
  runId: string;
  /** Configured group ids (no discovery), or undefined to discover with `get_appid_group_list`. */
  groupIds: readonly string[] | undefined;
  selection: GroupSelection;
  withRecalledMsg: boolean;
  timeZone: string;
  /** First run of a target: archive only this many days back (null = all retained history). */
  initialLookbackDays: number | null;
  /** Flush buffered records when this many uncompressed bytes are buffered. */
  flushBytes: number;
  /** Commit a checkpoint at least this often (also renews the lease). */
  checkpointIntervalMs: number;
  leaseMs: number;
  /** Epoch ms after which no new page is started; the run then flushes, commits and reports `done: false`. */
  deadlineMs: number | null;
  /**
   * The plan's history retention: with the server's clock it gives the retention horizon, the
   * backstop that ends a range at expired placeholders (page-trust.ts). Null/absent: unknown.
   */
  retentionDays?: number | null;
  /** Windows (page requests) in flight at once. */
  concurrency: number;
  /**
   * Re-read this many days of every target after new history, for changes (default 0: off; the
   * config's `rescan.days` defaults to 3).
   */
  rescanDays?: number;
  /** `observed_at` of the records this run writes, epoch seconds (default: the run's start). */
  observedAtSec?: number;
  /**
   * Epoch ms of the hard stop (the Lambda's time is up): in-flight requests are aborted, nothing more
   * is written, the lease is released and the run fails with HardStopError. Null: none.
   */
  hardStopAtMs?: number | null;
  /** Media copying (`media.*` config); absent or disabled: only URLs are archived. */
  media?: MediaRunOptions;
  /** A carried plan older than this is not used: the invocation plans afresh (default 6 h, carried-plan.ts). */
  planMaxAgeMs?: number;
  /** When the state's deltas are compacted into a new base (default: state-layout.ts; tests set small ones). */
  layoutBounds?: LayoutBounds;
}

export interface MediaRunOptions {
  enabled: boolean;
  /** Downloads in flight at once. */
  concurrency: number;
  imageSizes: readonly ImageSizeClass[];
  /** The plan's retention in days: failed downloads are retried by later runs until then. */
  retentionDays: number;
  /**
   * Pending media whose message is this close (days) to leaving retention is counted in the
   * report (`media.nearRetention`); the stack alarms on it. Default 2 (`DEFAULT_HEADROOM_DAYS`).
   */
  headroomDays?: number;
}

/** What the media stage needs; `store` is the archive store, able to stream. */
export interface MediaDeps {
  fetcher: MediaFetcher;
  store: StreamingObjectStore;
}

export interface Progress {
  targetsTotal: number;
  targetsDone: number;
  messages: number;
  pages: number;
  objects: number;
}

export interface RunDeps {
  api: ChatApi;
  store: ObjectStore;
  clock: Clock;
  logger: Logger;
  /** Counters of the API client, copied into the report. */
  apiStats?: () => { requests: Record<string, number>; retries: number; throttles: number };
  onProgress?: (progress: Progress) => void;
  /** Media copying; required when `options.media.enabled`. */
  media?: MediaDeps;
  /** This host's processes: the lease names its holder, and a crashed holder on this host is taken over at once. */
  processes?: HostProcesses;
}

/**
 * `observed_at` of what a run writes and compares (epoch seconds): the option when given, else the
 * second the run started. Every record of a run carries the same value, which is what tells the
 * rescan which messages this run itself archived (functions/domain/rescan-plan.ts `isCandidate`).
 */
export function runObservedAt(options: Pick<RunOptions, 'observedAtSec'>, startedAtMs: number): number {
  return options.observedAtSec ?? Math.floor(startedAtMs / 1000);
}
