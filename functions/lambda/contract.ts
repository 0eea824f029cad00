/**
 * The contract between the archiver Lambda and what drives it (the Step Functions loop, the CDK
 * stack's alarms and dashboard). One module, imported by both sides, so a renamed field or metric
 * breaks the build instead of an alarm silently watching nothing.
 */

/**
 * `npm run verify-deploy` also sends `{ "selfCheck": true }`: the function probes its archive
 * prefix and answers a `StoreSelfCheckReport` instead of archiving (functions/lambda/self-check.ts).
 */
export type { SelfCheckEvent, StoreSelfCheckReport } from '../domain/deploy-verdicts.ts';

/** What the state machine sends: one app per invocation, so apps run in parallel. */
export interface ArchiveEvent {
  sdkAppId: number;
}

/**
 * What the function returns: small, because Step Functions keeps it in the execution history.
 * Always complete: the run state machine checks `done`, `runId`, `messages` and
 * `remainingTargets` (type and presence) before reading them, and fails only that app
 * (`InvalidResult`) if one is missing, never the whole run with a `States.Runtime` error.
 */
export interface ArchiveResult {
  sdkAppId: number;
  /** True once every selected group is caught up; the loop stops on it. */
  done: boolean;
  runId: string;
  messages: number;
  pages: number;
  remainingTargets: number;
  elapsedMs: number;
  /** Media references that got their manifest row in this invocation (progress without messages). */
  mediaDone: number;
  /** Media references left for the next invocation (deadline) or a later run (retries). */
  mediaPending: number;
  /**
   * Archived messages the rescan compared with the server in this invocation: its window moved on
   * (progress without new messages, once every target is caught up).
   */
  rescanChecked: number;
}

/** CloudWatch namespace of the function's EMF metrics and of the deadline check. */
export const METRICS_NAMESPACE = 'TencentChatArchiver';
/** Powertools `service` (a dimension of every metric, and a key of every log line). */
export const SERVICE_NAME = 'tencent-chat-archiver';
/** The per-app dimension (besides `service`). */
export const APP_DIMENSION = 'SdkAppId';
/**
 * The audit's per-stack dimension (besides `service`): two stacks on one account audit their own
 * apps, and each stack's alarm watches its own findings.
 */
export const STACK_DIMENSION = 'Stack';
/** The callback receiver's refusal reason (functions/domain/callback-auth.ts, `too-large`). */
export const REFUSAL_DIMENSION = 'Refusal';

/** Metric names, emitted once per invocation per app. */
export const METRIC = {
  messagesArchived: 'MessagesArchived',
  pages: 'Pages',
  throttles: 'Throttles',
  /** Group-level errors of the run, plus 1 for a run that failed outright. */
  errors: 'Errors',
  /** Seconds since the newest message not yet archived was sent (0 when caught up). */
  lagSeconds: 'LagSeconds',
  /** Days before the oldest message not yet archived leaves Tencent's retention. */
  retentionHeadroomDays: 'RetentionHeadroomDays',
  /** Pending groups never archived before: their oldest messages sit at the retention edge. */
  pendingNeverArchived: 'PendingNeverArchived',
  /** Targets whose seqs went backwards (re-created group, server reset): archived as a new generation. */
  seqResets: 'SeqResets',
  /** Flagged rows: page items the schema rejected, seqs too big to answer alone. */
  quarantined: 'QuarantinedItems',
  /** Invocations that found another run holding the app's lease (retried by Step Functions). */
  leaseHeld: 'LeaseHeld',
  /** 1 when the deadline check finds a run still in progress at the configured hour, else 0. */
  runNotDone: 'RunNotDoneByDeadline',
  /**
   * Media references still pending (not archived, expired or refused) whose message is within
   * `alarms.headroomDays` of Tencent's retention limit, on the server's clock; alarmed above 0.
   */
  mediaPendingNearRetention: 'MediaPendingNearRetention',
  /** Media files archived in the invocation. */
  mediaArchived: 'MediaArchived',
  /** Pages the rescan for changes fetched. */
  rescanCalls: 'RescanCalls',
  /** Changes the rescan found, one metric per kind (one new revision row each). */
  messagesModified: 'MessagesModified',
  messagesRecalled: 'MessagesRecalled',
  messagesDeleted: 'MessagesDeleted',
  messagesRestored: 'MessagesRestored',
  /** Identity lookups of the run (issue 24): the three APIs' calls together. */
  identityCalls: 'IdentityCalls',
  /** Identity rows written (changes and first sightings, every kind). */
  identityRows: 'IdentityRows',
  /** Accounts, groups and members whose names are left for the next run (budget, failed calls). */
  identityPending: 'IdentityPending',
  /** Identity lookups that failed (their items stay pending). */
  identityFailedCalls: 'IdentityFailedCalls',
  /** One-to-one pairs whose window the run paged (issue 26). */
  c2cPairsPulled: 'C2cPairsPulled',
  /** One-to-one pairs skipped because an account is gone. */
  c2cPairsSkipped: 'C2cPairsSkipped',
  /** One-to-one messages archived (with `MessagesArchived`: what the pull found new). */
  c2cMessagesArchived: 'C2cMessagesArchived',
  /** One-to-one messages served again and dropped (deduplicated by `MsgKey`). */
  c2cDuplicates: 'C2cDuplicatesDropped',
  /** Recorded callback events the run materialized (issue 25; duplicates included). */
  callbackEventsMaterialized: 'CallbackEventsMaterialized',
  /** Message rows the materialization wrote from callbacks. */
  callbackMessagesMaterialized: 'CallbackMessagesMaterialized',
  /** Known events delivered again with another body (kept and flagged: a change, or a forged body). */
  callbackBodiesReplayed: 'CallbackBodiesReplayed',
  /**
   * The run's reconciliation of the callbacks with the pull (functions/domain/callback-reconcile.ts),
   * when it ran: messages in both and equal, only in callbacks (unconfirmed), different (flagged),
   * only in the pull (a callback lost), and the loss rate in percent (unit None, like
   * RetentionHeadroomDays; only when anything was pulled).
   */
  callbackMessagesBothEqual: 'CallbackMessagesBothEqual',
  callbackOnlyMessages: 'CallbackOnlyMessages',
  callbackMessagesDifferent: 'CallbackMessagesDifferent',
  pullOnlyMessages: 'PullOnlyMessages',
  callbackLossRate: 'CallbackLossRatePercent',
  /**
   * Messages pulled whose callback came (equal, different or a placeholder; `callback_matched` in
   * `runs_flat`): with PullOnlyMessages, the loss rate of many runs, which the loss-rate alarm
   * sums over a day (infra/constructs/callback-loss-alarm.ts).
   */
  callbackMessagesMatched: 'CallbackMessagesMatched',
  /** Sent by the run state machine: a run that found another in progress and did nothing. */
  runsSkipped: 'RunsSkipped',
  /** Sent by the run state machine: a run with an app that stopped making progress. */
  appsWithoutProgress: 'AppsWithoutProgress',
  /** Sent by the audit function: findings the audit could not explain (per app, and in total). */
  auditUnexplained: 'AuditUnexplainedFindings',
  /** Sent by the audit function: every finding, explained or not (per app, and in total). */
  auditFindings: 'AuditFindings',
  /** Sent by the audit function: bytes its Athena queries scanned (what the audit costs). */
  auditBytesScanned: 'AuditBytesScanned',
  /** Sent by the callback receiver: authentic events recorded (per app). */
  callbacksAccepted: 'CallbacksAccepted',
  /** Sent by the callback receiver: authentic events kept as quarantined (malformed body). */
  callbacksQuarantined: 'CallbacksQuarantined',
  /** Sent by the callback receiver: requests refused (forged, stale, unknown app…), by `Refusal`. */
  callbacksRefused: 'CallbacksRefused',
  /** Sent by the callback receiver: authentic events answered 500 because the record failed. */
  callbacksUnrecorded: 'CallbacksUnrecorded',
} as const;

/**
 * The `outcome` of a run state machine execution that succeeds (a failed one ends FAILED with
 * error `AppsFailed` and the apps, each with its error, as the cause).
 */
export const RUN_OUTCOME = {
  /** Every app caught up (or stopped for lack of progress: see `AppsWithoutProgress`). */
  done: 'done',
  /** Some apps were still behind after this execution's invocations: a new execution continues. */
  continued: 'continued',
  /** Another run was in progress; this one did nothing. */
  skipped: 'skipped',
} as const;

/** Environment variables the stack sets and the handler reads. */
export const ENV = {
  /** The validated archiver config (the CLI's schema), as JSON (tests, older stacks). */
  config: 'ARCHIVER_CONFIG',
  /**
   * The file holding that JSON, bundled with the function (relative paths: to the function's
   * folder, `LAMBDA_TASK_ROOT`). The stack sets this one: an environment holds at most 4 KB.
   */
  configFile: 'ARCHIVER_CONFIG_FILE',
  bucket: 'ARCHIVE_BUCKET',
  /** Key prefix inside the bucket, e.g. `archive/` (may be empty). */
  prefix: 'ARCHIVE_PREFIX',
  /** How long a fetched SSM value is reused before it is read again (rotation takes effect). */
  secretCacheSeconds: 'SECRET_CACHE_SECONDS',
  /** The stack's `alarms.headroomDays` (days), for the count of media pending near retention. */
  headroomDays: 'ALARM_HEADROOM_DAYS',
  /** The stack's name: the audit's metrics carry it as {@link STACK_DIMENSION}. */
  stack: 'ARCHIVER_STACK',
  /** The callback receiver's Firehose delivery stream. */
  callbackStream: 'CALLBACK_DELIVERY_STREAM',
  /** The audit function's Athena workgroup and Glue database. */
  workGroup: 'ATHENA_WORKGROUP',
  database: 'GLUE_DATABASE',
} as const;

/**
 * Error names the state machine matches in Retry/Catch. The Lambda runtime reports an error's
 * `name` as its `errorType`, which is what Step Functions compares.
 */
export const ERROR_NAME = {
  /** Another run holds the app's lease: retry later. */
  leaseHeld: 'LeaseHeldError',
  /** The engine's hard stop fired before the run could finish its commit (in-flight work aborted). */
  timeout: 'TimeoutError',
  /** Throttling or an outage (S3, SSM, Tencent) outlasted the in-process retries: retry later. */
  transient: 'TransientError',
  /** Bad configuration or event: retrying cannot help. */
  config: 'ConfigError',
} as const;
