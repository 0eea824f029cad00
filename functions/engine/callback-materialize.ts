/**
 * Materializes recorded callbacks into rows, exactly once (issue 25, docs/callbacks.md
 * "Materialized rows"; the rules are functions/domain/callback-materialize.ts).
 *
 * Each commit takes raw objects under `callbacks/sdkappid=<id>/` that the head does not list as
 * done (any date: a late or reordered event is taken whenever its object appears), at most
 * `maxObjects` of them:
 * 1. `intent-<version>.json` ← the objects' keys (create-only);
 * 2. the rows, one object per kind and date (`callback-rows/…/<version>.ndjson.gz`, create-only);
 * 3. the seen shards it changed, as new versions (create-only);
 * 4. `head.json` ← the version, the objects done, the shards' versions (the commit);
 * 5. the intent and the replaced shard versions are deleted.
 *
 * The rows depend only on the intent's objects and the shards the head names, so a run that finds
 * an intent for the version after its head's redoes it first, to the same bytes under the same keys
 * (a key already written is the same object): a kill anywhere gives every row once. Every write is
 * fenced by the run's lease (the `fence` given).
 */

import type { CallbackEventRow } from '../domain/callback-event.ts';
import {
  CALLBACK_ROW_KINDS,
  type CallbackHead,
  type CallbackHorizon,
  type CallbackIntent,
  callbackHeadKey,
  callbackIntentKey,
  callbackRowsKey,
  commitHorizon,
  doneAfter,
  emptyCallbackHead,
  emptyCounts,
  LATE_EVENT_DAYS,
  type MaterializeCounts,
  materializeEvents,
  parseCallbackHead,
  parseCallbackIntent,
  parseEventLines,
  parseSeenShard,
  pruneSeenShard,
  rawCallbacksPrefix,
  rawObjectDt,
  type SeenIndex,
  type SeenShard,
  seenShardKey,
  seenShardOf,
  serializeSeenShard,
} from '../domain/callback-materialize.ts';
import type { Reconciliation } from '../domain/callback-reconcile.ts';
import { PreconditionFailedError, StateCorruptError } from '../domain/errors.ts';
import { gunzipNdjson, gzipNdjson } from '../domain/ndjson-gzip.ts';
import { dateInZone, isFileableTime } from '../domain/partition.ts';
import type { Clock, Logger } from '../domain/ports.ts';
import type { ObjectStore } from '../domain/storage.ts';
import { reconcileCallbacks } from './callback-reconcile.ts';
import type { RunDeps, RunOptions } from './run-options.ts';

/** Default raw objects a commit takes (each at most a receiver batch or a Firehose buffer). */
export const DEFAULT_MAX_OBJECTS = 64;

export interface CallbackMaterializeContext {
  store: ObjectStore;
  clock: Clock;
  logger: Logger;
  /** Checks the lease (and the hard stop) right before a write. */
  fence: () => Promise<void>;
  sdkAppId: number;
  timeZone: string;
  /** Raw objects a commit takes at most (default {@link DEFAULT_MAX_OBJECTS}). */
  maxObjects?: number;
  /** False once the run is out of time: no new commit starts (the rest waits for the next run). */
  mayStart?: () => boolean;
  /** Told each commit this run applies: its version and the dates of its message rows. */
  onCommit?: (version: number, messageDts: readonly string[]) => void;
}

/** What the step did, for the run report (`callbacks`). */
export interface CallbackMaterializeReport extends MaterializeCounts {
  /** Raw objects materialized. */
  objects: number;
  /** Raw objects left for the next run (out of time). */
  objectsLeft: number;
  /** Raw lines that are not event rows. */
  unreadableLines: number;
  commits: number;
  /** Whether a killed run's commit was finished first. */
  rolledForward: boolean;
  elapsedMs: number;
  /**
   * The callbacks against the pull (functions/engine/callback-reconcile.ts): absent when the app
   * has no recorded callback yet, or the run stopped before it.
   */
  reconciliation?: Reconciliation;
}

/**
 * The run report with the step's part, kept beside the report's own keys (the report's type is
 * functions/engine/report.ts's), as functions/engine/identity-capture.ts does for `identities`.
 */
export function withCallbacks<R extends object>(report: R): R & { callbacks?: CallbackMaterializeReport } {
  return report as R & { callbacks?: CallbackMaterializeReport };
}

const decode = (body: Uint8Array): string => new TextDecoder().decode(body);
const encode = (text: string): Uint8Array => new TextEncoder().encode(text);

/** Materializes every raw object not done yet (commit by commit), after finishing a killed commit. */
export async function materializeCallbacks(
  ctx: CallbackMaterializeContext,
): Promise<CallbackMaterializeReport> {
  const started = ctx.clock.now();
  const report: CallbackMaterializeReport = {
    ...emptyCounts(),
    objects: 0,
    objectsLeft: 0,
    unreadableLines: 0,
    commits: 0,
    rolledForward: false,
    elapsedMs: 0,
  };
  let head = await readHead(ctx);
  const pending = await readIntent(ctx, head.head.version + 1);
  if (pending !== undefined) {
    ctx.logger.info('finishing the callback materialization a stopped run left', {
      version: pending.version,
    });
    head = await applyCommit(ctx, head, pending, report);
    report.rolledForward = true;
  } else await tidyDoneIntent(ctx, head.head);
  const todo = await listTodo(ctx, head.head);
  const max = Math.max(1, ctx.maxObjects ?? DEFAULT_MAX_OBJECTS);
  while (todo.length > 0 && (ctx.mayStart?.() ?? true)) {
    const objects = todo.splice(0, max);
    const horizon = horizonFor(ctx, head.head, todo);
    const intent: CallbackIntent = {
      version: head.head.version + 1,
      objects,
      ...(horizon === undefined ? {} : { horizon }),
    };
    await ctx.fence();
    await ctx.store.put(
      callbackIntentKey(ctx.sdkAppId, intent.version),
      encode(`${JSON.stringify(intent)}\n`),
      {
        ifNoneMatch: '*',
        contentType: 'application/json',
      },
    );
    head = await applyCommit(ctx, head, intent, report);
  }
  report.objectsLeft = todo.length;
  report.elapsedMs = ctx.clock.now() - started;
  return report;
}

const DAY_MS = 86_400_000;

/**
 * The raw objects not done yet, sorted (so by arrival date): the app's whole prefix is listed (a
 * listing is 1,000 keys a call), and the objects of a date before the head's `doneBefore` are done.
 */
async function listTodo(ctx: CallbackMaterializeContext, head: CallbackHead): Promise<string[]> {
  const done = new Set(head.done);
  const todo: string[] = [];
  for await (const key of ctx.store.list(rawCallbacksPrefix(ctx.sdkAppId))) {
    const dt = rawObjectDt(key);
    const before = head.doneBefore !== undefined && dt !== undefined && dt < head.doneBefore;
    if (key.endsWith('.ndjson.gz') && !done.has(key) && !before) todo.push(key);
  }
  return todo.sort();
}

/** The horizon of a commit ({@link commitHorizon}); none while the clock is too early to date. */
function horizonFor(
  ctx: CallbackMaterializeContext,
  head: CallbackHead,
  remaining: readonly string[],
): CallbackHorizon | undefined {
  const nowMs = ctx.clock.now();
  const cutoffSec = Math.floor((nowMs - LATE_EVENT_DAYS * DAY_MS) / 1000);
  if (!isFileableTime(cutoffSec)) return undefined;
  return commitHorizon({ cutoffDt: dateInZone(cutoffSec, ctx.timeZone), nowMs, remaining, head });
}

/** The head and its ETag: the commit replaces exactly what it read (undefined: none yet). */
interface HeadAt {
  head: CallbackHead;
  etag: string | undefined;
}

async function readHead(ctx: CallbackMaterializeContext): Promise<HeadAt> {
  const key = callbackHeadKey(ctx.sdkAppId);
  const stored = await ctx.store.get(key);
  if (stored === undefined) return { head: emptyCallbackHead(), etag: undefined };
  return { head: parseCallbackHead(decode(stored.body), key), etag: stored.etag };
}

async function readIntent(
  ctx: CallbackMaterializeContext,
  version: number,
): Promise<CallbackIntent | undefined> {
  const key = callbackIntentKey(ctx.sdkAppId, version);
  const stored = await ctx.store.get(key);
  return stored === undefined ? undefined : parseCallbackIntent(decode(stored.body), key);
}

/** A run killed after its head and before deleting its intent left it: done, only tidied here. */
async function tidyDoneIntent(ctx: CallbackMaterializeContext, head: CallbackHead): Promise<void> {
  if (head.version === 0) return;
  const key = callbackIntentKey(ctx.sdkAppId, head.version);
  if ((await ctx.store.get(key)) === undefined) return;
  await ctx.fence();
  await ctx.store.delete(key);
}

/** Reads the intent's raw objects, in its order; a raw object gone (deleted by hand) counts as empty. */
async function readEvents(
  ctx: CallbackMaterializeContext,
  intent: CallbackIntent,
  report: CallbackMaterializeReport,
): Promise<CallbackEventRow[]> {
  const events: CallbackEventRow[] = [];
  for (const key of intent.objects) {
    const object = await ctx.store.get(key);
    if (object === undefined) {
      ctx.logger.warn('a raw callback object named by a commit is gone', { key });
      continue;
    }
    const { rows, unreadable } = parseEventLines(gunzipNdjson(object.body));
    report.unreadableLines += unreadable;
    events.push(...rows);
  }
  return events;
}

/** Applies a commit whose intent is written; every step can be repeated. Returns the new head. */
async function applyCommit(
  ctx: CallbackMaterializeContext,
  at: HeadAt,
  intent: CallbackIntent,
  report: CallbackMaterializeReport,
): Promise<HeadAt> {
  const { store, sdkAppId } = ctx;
  const { head } = at;
  const events = await readEvents(ctx, intent, report);
  const shards = new Set(events.map((e) => seenShardOf(e.event_key)));
  const seen: SeenIndex = new Map();
  const loaded = new Map<string, SeenShard>();
  for (const shard of shards) {
    const stored = await readSeenShard(ctx, shard, head.shards[shard]);
    loaded.set(shard, stored);
    for (const [key, hashes] of stored.index) seen.set(key, hashes);
  }
  // When each event key was first received (this commit's deliveries; earlier ones are in the shards).
  const firstAt = new Map<string, number>();
  for (const e of events)
    firstAt.set(e.event_key, Math.min(firstAt.get(e.event_key) ?? e.received_at, e.received_at));
  const result = materializeEvents(events, seen, ctx.timeZone);
  for (const [dt, byKind] of [...result.rows.entries()].sort(([a], [b]) => (a < b ? -1 : 1))) {
    for (const kind of CALLBACK_ROW_KINDS) {
      const rows = byKind[kind];
      if (rows.length === 0) continue;
      const body = await gzipNdjson(rows.map((row) => JSON.stringify(row)));
      await createOnce(
        ctx,
        callbackRowsKey(kind, sdkAppId, dt, intent.version),
        body,
        'application/x-ndjson',
      );
    }
  }
  const shardVersions = { ...head.shards };
  for (const [shard, added] of [...result.added.entries()].sort(([a], [b]) => (a < b ? -1 : 1))) {
    const stored = loaded.get(shard) ?? {
      index: new Map<string, string[]>(),
      firstAt: new Map<string, number>(),
    };
    for (const [key, hashes] of added) {
      if (!stored.index.has(key)) stored.firstAt.set(key, firstAt.get(key) ?? 0);
      stored.index.set(key, [...(stored.index.get(key) ?? []), ...hashes]);
    }
    const since = intent.horizon?.seenSinceMs;
    const text = serializeSeenShard(since === undefined ? stored : pruneSeenShard(stored, since));
    await createOnce(ctx, seenShardKey(sdkAppId, shard, intent.version), encode(text), 'application/json');
    shardVersions[shard] = intent.version;
  }
  const doneBefore = intent.horizon?.doneBefore ?? head.doneBefore;
  const next: CallbackHead = {
    version: intent.version,
    done: doneAfter(head, intent),
    shards: shardVersions,
    ...(doneBefore === undefined ? {} : { doneBefore }),
  };
  await ctx.fence();
  // Conditional: a second materializer of the app (no lease outside a run) fails here.
  const { etag } = await store.put(callbackHeadKey(sdkAppId), encode(`${JSON.stringify(next)}\n`), {
    ...(at.etag === undefined ? { ifNoneMatch: '*' as const } : { ifMatch: at.etag }),
    contentType: 'application/json',
  });
  await store.delete(callbackIntentKey(sdkAppId, intent.version));
  for (const shard of result.added.keys()) {
    const old = head.shards[shard];
    if (old !== undefined) await store.delete(seenShardKey(sdkAppId, shard, old));
  }
  addCounts(report, result.counts);
  ctx.onCommit?.(
    intent.version,
    [...result.rows.entries()].filter(([, rows]) => rows.messages.length > 0).map(([dt]) => dt),
  );
  report.objects += intent.objects.length;
  report.commits++;
  return { head: next, etag };
}

async function readSeenShard(
  ctx: CallbackMaterializeContext,
  shard: string,
  version: number | undefined,
): Promise<SeenShard> {
  if (version === undefined) return { index: new Map(), firstAt: new Map() };
  const key = seenShardKey(ctx.sdkAppId, shard, version);
  const stored = await ctx.store.get(key);
  if (stored === undefined) throw new StateCorruptError(`${key}: named by the head but missing`);
  return parseSeenShard(decode(stored.body), key);
}

/** Create-only; a key already there was written by a stopped run of the same commit (same bytes). */
async function createOnce(
  ctx: CallbackMaterializeContext,
  key: string,
  body: Uint8Array,
  contentType: string,
): Promise<void> {
  await ctx.fence();
  try {
    await ctx.store.put(key, body, {
      ifNoneMatch: '*',
      contentType,
      ...(key.endsWith('.gz') ? { contentEncoding: 'gzip' } : {}),
    });
  } catch (error) {
    if (!(error instanceof PreconditionFailedError)) throw error;
  }
}

function addCounts(report: CallbackMaterializeReport, counts: MaterializeCounts): void {
  for (const key of Object.keys(counts) as (keyof MaterializeCounts)[]) report[key] += counts[key];
}

/** The `callbacks` part of a run's options (set for an app with a `callbackToken`). */
export interface CallbackRunOptions {
  /** Raw objects a commit takes at most (default {@link DEFAULT_MAX_OBJECTS}). */
  maxObjects?: number;
}

/**
 * The step at the end of a run (functions/engine/run-archive.ts): the run's store, lease and
 * deadline. After the materialization, the reconciliation with the pull, unless the run is out of
 * time or objects are left (a callback not materialized yet would count as lost).
 */
export async function callbacksForRun(
  deps: Pick<RunDeps, 'store' | 'clock' | 'logger'>,
  options: Pick<RunOptions, 'sdkAppId' | 'timeZone' | 'deadlineMs' | 'runId' | 'retentionDays'> & {
    callbacks: CallbackRunOptions;
  },
  at: { fence: () => Promise<void>; stop?: AbortSignal | undefined },
): Promise<CallbackMaterializeReport> {
  const { clock } = deps;
  const mayStart = () =>
    !at.stop?.aborted && (options.deadlineMs === null || clock.now() < options.deadlineMs);
  const versions = new Set<number>();
  const dts = new Set<string>();
  const report = await materializeCallbacks({
    ...deps,
    fence: at.fence,
    sdkAppId: options.sdkAppId,
    timeZone: options.timeZone,
    ...(options.callbacks.maxObjects === undefined ? {} : { maxObjects: options.callbacks.maxObjects }),
    mayStart,
    onCommit: (version, messageDts) => {
      versions.add(version);
      for (const dt of messageDts) dts.add(dt);
    },
  });
  if (report.objectsLeft > 0 || !mayStart()) return report;
  const started = clock.now();
  const reconciliation = await reconcileCallbacks(
    {
      ...deps,
      fence: at.fence,
      sdkAppId: options.sdkAppId,
      timeZone: options.timeZone,
      runId: options.runId,
      nowSec: Math.floor(clock.now() / 1000),
      retentionDays: options.retentionDays,
      mayContinue: mayStart,
    },
    { versions, dts },
  );
  if (reconciliation !== undefined) report.reconciliation = reconciliation;
  report.elapsedMs += clock.now() - started;
  return report;
}
