/**
 * The nightly reconciliation of the callbacks with the pull (issue 25, docs/callbacks.md
 * "Reconciliation in the run report"; the rules are functions/domain/callback-reconcile.ts), run
 * right after the materialization (functions/engine/callback-materialize.ts).
 *
 * It reads, one date at a time (memory: one partition's callback messages and one object's records):
 * - the dates whose callback messages this run materialized: every materialized callback message
 *   object of the date, this run's message objects, and an earlier run's only when the
 *   fingerprint log beside it names a message a callback of this run awaits;
 * - the dates the pull wrote this run (its objects are named by the run id: a listing per date
 *   within the retention, from the app's first recorded callback on): those objects, with the
 *   date's callback messages.
 *
 * When the app's first callback arrived is kept under `state/callbacks/sdkappid=<id>/first-callback.json`
 * (create-only, found once from the raw objects of the earliest date).
 */
import type { CallbackMessageRow } from '../domain/callback-materialize.ts';
import { CALLBACK_ROWS_FOLDER, parseEventLines, rawCallbacksPrefix } from '../domain/callback-materialize.ts';
import { Reconciler, type Reconciliation } from '../domain/callback-reconcile.ts';
import { PreconditionFailedError } from '../domain/errors.ts';
import { FingerprintTable } from '../domain/fingerprint-log.ts';
import { isJsonObject, isSafeInt, isString } from '../domain/json-guards.ts';
import { gunzipNdjson, gunzipText } from '../domain/ndjson-gzip.ts';
import { dateInZone, messagePartitionPrefix } from '../domain/partition.ts';
import type { Logger } from '../domain/ports.ts';
import type { ArchiveRecord } from '../domain/record.ts';
import type { ObjectStore } from '../domain/storage.ts';

/** Days looked back for the pull's objects when the plan's retention is not configured (Tencent's default). */
export const DEFAULT_LOOKBACK_DAYS = 7;

export interface ReconcileContext {
  store: ObjectStore;
  logger: Logger;
  fence: () => Promise<void>;
  sdkAppId: number;
  timeZone: string;
  runId: string;
  /** Now, epoch seconds. */
  nowSec: number;
  /** The plan's retention: no pull can first capture an older message. */
  retentionDays?: number | null | undefined;
  /** False once the run is out of time: the reconciliation stops and reports nothing (no partial counts). */
  mayContinue?: () => boolean;
}

/** What this run's materialization did: the versions it committed and the dates of their messages. */
export interface MaterializedThisRun {
  versions: ReadonlySet<number>;
  dts: ReadonlySet<string>;
}

export const firstCallbackKey = (sdkAppId: number) =>
  `state/callbacks/sdkappid=${sdkAppId}/first-callback.json`;

const encode = (text: string): Uint8Array => new TextEncoder().encode(text);
const decode = (body: Uint8Array): string => new TextDecoder().decode(body);
const DAY = 86_400;

/** The run's counts; undefined when the app has no recorded callback yet, or the run ran out of time. */
export async function reconcileCallbacks(
  ctx: ReconcileContext,
  thisRun: MaterializedThisRun,
): Promise<Reconciliation | undefined> {
  const firstSec = await firstCallbackSec(ctx);
  if (firstSec === undefined) return undefined;
  const firstDt = dateInZone(firstSec, ctx.timeZone);
  const pullDts = await datesPulledThisRun(ctx, firstDt);
  const reconciler = new Reconciler(firstSec);
  const dts = [...new Set([...thisRun.dts, ...pullDts])].sort();
  for (const dt of dts) {
    if (!(ctx.mayContinue?.() ?? true)) {
      ctx.logger.warn('out of time: callbacks not reconciled in this run', { dates: dts.length });
      return undefined;
    }
    for await (const { rows, version } of callbackMessageObjects(ctx, dt))
      for (const row of rows) reconciler.addCallback(row, thisRun.versions.has(version));
    const runPart = `part-${ctx.runId}-`;
    const prefix = messagePartitionPrefix(ctx.sdkAppId, dt);
    const pullPrefix = thisRun.dts.has(dt) ? prefix : `${prefix}${runPart}`;
    for await (const key of ctx.store.list(pullPrefix)) {
      if (!key.endsWith('.ndjson.gz')) continue;
      const mine = key.startsWith(`${prefix}${runPart}`);
      if (!mine && !(await earlierObjectMatters(ctx, key, reconciler))) continue;
      for (const record of await readRecords(ctx.store, key)) reconciler.addPull(record, mine);
    }
    reconciler.closePartition();
  }
  return reconciler.result();
}

/** The dates (from the first callback's, within the retention) where this run wrote message objects. */
async function datesPulledThisRun(ctx: ReconcileContext, firstDt: string): Promise<string[]> {
  const days = (ctx.retentionDays ?? DEFAULT_LOOKBACK_DAYS) + 1;
  const dates = new Set<string>();
  // One more day ahead: a message's time may be a little ahead of the local clock.
  for (let k = -1; k <= days; k++) dates.add(dateInZone(ctx.nowSec - k * DAY, ctx.timeZone));
  const out: string[] = [];
  for (const dt of [...dates].sort()) {
    if (dt < firstDt) continue;
    const prefix = `${messagePartitionPrefix(ctx.sdkAppId, dt)}part-${ctx.runId}-`;
    for await (const key of ctx.store.list(prefix)) {
      if (key.endsWith('.ndjson.gz')) {
        out.push(dt);
        break;
      }
    }
  }
  return out;
}

/**
 * Whether an earlier run's message object holds a message a callback of this run awaits, by the
 * fingerprint log beside it (same name under `fingerprints/`, a few bytes per message): most of a
 * day's objects are then never read. Without a readable log, the object is read.
 */
async function earlierObjectMatters(
  ctx: ReconcileContext,
  key: string,
  reconciler: Reconciler,
): Promise<boolean> {
  const logKey = key.replace(/^messages\//, 'fingerprints/').replace(/\.ndjson\.gz$/, '.fp.gz');
  const log = await ctx.store.get(logKey);
  if (log === undefined) return true;
  const table = new FingerprintTable();
  try {
    table.addLog(gunzipText(log.body), logKey);
  } catch {
    return true;
  }
  for (const target of table.targets())
    for (let i = 0; i < target.size; i++)
      if (reconciler.awaitsEarlierPull(target.target.groupId, target.target.topicId, target.at(i).seq))
        return true;
  return false;
}

/** The version a materialized rows object is named by (functions/domain/callback-materialize.ts). */
const versionOf = (key: string): number => Number(/(\d+)\.ndjson\.gz$/.exec(key)?.[1] ?? Number.NaN);

async function* callbackMessageObjects(
  ctx: ReconcileContext,
  dt: string,
): AsyncIterable<{ rows: CallbackMessageRow[]; version: number }> {
  const prefix = `${CALLBACK_ROWS_FOLDER}messages/sdkappid=${ctx.sdkAppId}/dt=${dt}/`;
  for await (const key of ctx.store.list(prefix)) {
    if (!key.endsWith('.ndjson.gz')) continue;
    const rows = (await readRecords(ctx.store, key)) as CallbackMessageRow[];
    yield { rows, version: versionOf(key) };
  }
}

/** The records of one gzip NDJSON object; lines that are not records are skipped. */
async function readRecords(store: ObjectStore, key: string): Promise<ArchiveRecord[]> {
  const object = await store.get(key);
  if (object === undefined) return [];
  const out: ArchiveRecord[] = [];
  for (const line of gunzipNdjson(object.body)) {
    if (line.trim() === '') continue;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch {
      continue;
    }
    if (isRecordLike(value)) out.push(value as unknown as ArchiveRecord);
  }
  return out;
}

function isRecordLike(value: unknown): boolean {
  return (
    isJsonObject(value) &&
    isString(value.group_id) &&
    (value.topic_id === null || isString(value.topic_id)) &&
    isSafeInt(value.msg_seq) &&
    isSafeInt(value.msg_time) &&
    isSafeInt(value.revision)
  );
}

/** When the app's first recorded callback arrived (epoch seconds), found once and then kept. */
async function firstCallbackSec(ctx: ReconcileContext): Promise<number | undefined> {
  const key = firstCallbackKey(ctx.sdkAppId);
  const stored = await ctx.store.get(key);
  if (stored !== undefined) {
    const value: unknown = JSON.parse(decode(stored.body));
    if (isJsonObject(value) && isSafeInt(value.receivedAt)) return Math.floor(value.receivedAt / 1000);
    ctx.logger.warn('first-callback state unreadable: found again from the raw objects', { key });
  }
  // The raw objects of the earliest date only (their keys are named by date, then receiver).
  let earliest: { dt: string; keys: string[] } | undefined;
  for await (const raw of ctx.store.list(rawCallbacksPrefix(ctx.sdkAppId))) {
    const dt = /\/dt=([^/]+)\//.exec(raw)?.[1];
    if (dt === undefined || !raw.endsWith('.ndjson.gz')) continue;
    if (earliest === undefined || dt < earliest.dt) earliest = { dt, keys: [raw] };
    else if (dt === earliest.dt) earliest.keys.push(raw);
  }
  let receivedAt: number | undefined;
  for (const raw of earliest?.keys ?? []) {
    const object = await ctx.store.get(raw);
    if (object === undefined) continue;
    for (const row of parseEventLines(gunzipNdjson(object.body)).rows)
      receivedAt = Math.min(receivedAt ?? row.received_at, row.received_at);
  }
  if (receivedAt === undefined) return undefined;
  await ctx.fence();
  try {
    await ctx.store.put(key, encode(`${JSON.stringify({ receivedAt })}\n`), {
      ifNoneMatch: '*',
      contentType: 'application/json',
    });
  } catch (error) {
    if (!(error instanceof PreconditionFailedError)) throw error;
  }
  return Math.floor(receivedAt / 1000);
}
