/** What a run is asked to do (options) and what it is given to do it with (deps). */
import type { GroupSelection } from '../domain/planner.ts';
import type { Clock, HostProcesses, Logger } from '../domain/ports.ts';
import type { ObjectStore } from '../domain/storage.ts';
import type { ChatApi } from '../domain/tencent-types.ts';

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
   * Epoch ms of the hard stop (the Lambda's time is up): in-flight requests are aborted, nothing more
   * is written, the lease is released and the run fails with HardStopError. Null: none.
   */
  hardStopAtMs?: number | null;
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
  /** This host's processes: the lease names its holder, and a crashed holder on this host is taken over at once. */
  processes?: HostProcesses;
}
