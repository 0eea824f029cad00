/**
 * Pair discovery (issue 26; docs/one-to-one.md, Witnesses), run by the one-to-one pass before it
 * pulls: the recorded `C2C.CallbackAfterSendMsg` objects the cursor has not read
 * (functions/domain/c2c-witness.ts), and the hourly C2C `get_history` files not fetched yet
 * (functions/engine/history-files.ts: checked against the answer's sizes and MD5s, kept raw and
 * indexed once). Each names pairs and message times, committed into the pairs' shards
 * with the new cursor, exactly once:
 *
 * intent (the shard objects and the cursor object about to be written) → the changed shards (each
 * read, merged and written create-only, one at a time) → the cursor → the head naming them with the
 * intent cleared → the replaced objects deleted. A run that dies before the head leaves an intent
 * the next run rolls back (C2cStateStore.open), and the same callbacks and hours are read again
 * (a raw file kept already is not written twice: its key is the file's).
 */
import {
  type C2cPairState,
  newPairState,
  pairConversation,
  pairShard,
  serializeShard,
} from '../domain/c2c-pairs.ts';
import { c2cShardKey, c2cWitnessKey } from '../domain/c2c-state.ts';
import {
  advanceCallbackCursor,
  CALLBACK_DATE_GRACE_SEC,
  type CallbackCursor,
  callbackDatePrefix,
  datesBetween,
  EMPTY_WITNESS_CURSOR,
  type HistoryFilesCursor,
  type PairSighting,
  parseWitnessCursor,
  serializeWitnessCursor,
  sightingOfCallback,
  type WitnessCursor,
  withSighting,
} from '../domain/c2c-witness.ts';
import { StateCorruptError } from '../domain/errors.ts';
import { fetchableHours, type HistoryFilesApi, sightingOfHistoryLine } from '../domain/history-file.ts';
import { gunzipNdjson } from '../domain/ndjson-gzip.ts';
import { dateInZone } from '../domain/partition.ts';
import type { Clock, Logger } from '../domain/ports.ts';
import type { ObjectStore } from '../domain/storage.ts';
import type { C2cStateStore } from './c2c-state-store.ts';
import { type CreateOnly, fetchHistoryHour, hourIsEmpty, writeHourRow } from './history-files.ts';

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export interface DiscoveryOptions {
  readonly sdkAppId: number;
  readonly runId: string;
  readonly timeZone: string;
  /** How far back a first run reads callbacks (the pull's retention: older messages are gone). */
  readonly retentionDays: number;
  /** The pass's next object part (shards and cursor share the pass's numbering). */
  readonly nextPart: () => number;
  /** Read the recorded `C2C.CallbackAfterSendMsg` events (`c2c.fromCallbacks`). */
  readonly fromCallbacks: boolean;
  /** Fetch the hourly C2C files not fetched yet (`get_history`), when given. */
  readonly historyFiles?: HistoryFilesApi | undefined;
}

/** What discovery did, for the run report. */
export interface DiscoveryOutcome {
  /** Recorded callback objects read this run. */
  callbackObjects: number;
  /** Of those, objects that could not be read (not gzip NDJSON): marked read, logged. */
  unreadableObjects: number;
  /** `C2C.CallbackAfterSendMsg` events that named a pair. */
  sightings: number;
  /** Pairs the state did not know. */
  pairsDiscovered: number;
  /** Pairs whose `knownTime` moved. */
  pairsWitnessed: number;
  /** Beijing hours whose C2C files were all fetched, checked and kept this run. */
  historyHours: number;
  /** Hourly files whose raw copy this run wrote (a file kept by an earlier, killed run is not counted). */
  historyFilesKept: number;
  /** Hourly files not downloaded, or whose size or MD5 did not match the answer: their hour is fetched again next run. */
  historyFilesRejected: number;
  /** Lines of the hourly files that named a pair. */
  historySightings: number;
  /** Message identities of the hours fetched this run, under `history-file-messages/`. */
  historyMessagesIndexed: number;
}

/** Read what the witnesses report since the cursor, and commit it with the new cursor. */
export async function discoverPairs(
  deps: { store: ObjectStore; clock: Clock; logger: Logger; signal: AbortSignal },
  state: C2cStateStore,
  options: DiscoveryOptions,
): Promise<DiscoveryOutcome> {
  const cursor = await readCursor(deps.store, state.head.witnessKey);
  const nowSec = Math.floor(deps.clock.now() / 1000);
  const outcome: DiscoveryOutcome = {
    callbackObjects: 0,
    unreadableObjects: 0,
    sightings: 0,
    pairsDiscovered: 0,
    pairsWitnessed: 0,
    historyHours: 0,
    historyFilesKept: 0,
    historyFilesRejected: 0,
    historySightings: 0,
    historyMessagesIndexed: 0,
  };
  const found = new Map<string, PairSighting>();
  const work = { nowSec, options, found, outcome };
  const next: WitnessCursor = {
    version: 1,
    callbacks: options.fromCallbacks ? await readCallbacks(deps, cursor.callbacks, work) : cursor.callbacks,
    historyFiles: options.historyFiles
      ? await readHistoryFiles({ ...deps, api: options.historyFiles }, state, cursor.historyFiles, work)
      : cursor.historyFiles,
  };
  if (found.size === 0 && JSON.stringify(next) === JSON.stringify(cursor)) return outcome;
  await commit(deps, state, { found, cursor: next, options, outcome });
  return outcome;
}

interface Work {
  readonly nowSec: number;
  readonly options: DiscoveryOptions;
  readonly found: Map<string, PairSighting>;
  readonly outcome: DiscoveryOutcome;
}

/** Keeps the newest time per pair. */
function note(found: Map<string, PairSighting>, sighting: PairSighting): void {
  const conversation = JSON.stringify(sighting.pair);
  const known = found.get(conversation);
  if (known === undefined || known.time < sighting.time) found.set(conversation, sighting);
}

/** The recorded callback objects not read yet: what they name into `found`; the next cursor. */
async function readCallbacks(
  deps: { store: ObjectStore; logger: Logger; signal: AbortSignal },
  cursor: CallbackCursor | null,
  work: Work,
): Promise<CallbackCursor> {
  const { store } = deps;
  const { nowSec, options, outcome } = work;
  const today = dateInZone(nowSec, options.timeZone);
  const previous: CallbackCursor = cursor ?? {
    from: dateInZone(Math.max(0, nowSec - options.retentionDays * 86_400), options.timeZone),
    read: [],
  };
  const seen = new Set(previous.read);
  const newlyRead: string[] = [];
  for (const dt of datesBetween(previous.from, today)) {
    for await (const key of store.list(callbackDatePrefix(options.sdkAppId, dt))) {
      deps.signal.throwIfAborted();
      if (seen.has(key) || !key.endsWith('.ndjson.gz')) continue;
      newlyRead.push(key);
      outcome.callbackObjects++;
      if (!(await readCallbackObject(deps, key, work))) outcome.unreadableObjects++;
    }
  }
  const closedBefore = dateInZone(Math.max(0, nowSec - CALLBACK_DATE_GRACE_SEC), options.timeZone);
  return advanceCallbackCursor(previous, newlyRead, closedBefore);
}

/**
 * The hours within the files' 7 days not fetched yet: each hour's C2C files fetched, checked, kept
 * raw and indexed once (functions/engine/history-files.ts), their pairs into `found`, and the hour's
 * row written. An hour is fetched once all its files passed; a file that fails the check leaves its
 * hour for the next run. An hour Tencent still has no file for HISTORY_FILE_EMPTY_AFTER_SEC after
 * it ended is taken as an hour without messages.
 */
async function readHistoryFiles(
  deps: { api: HistoryFilesApi; logger: Logger; signal: AbortSignal },
  state: C2cStateStore,
  cursor: HistoryFilesCursor | null,
  work: Work,
): Promise<HistoryFilesCursor> {
  const { nowSec, options, outcome } = work;
  const hours = fetchableHours(nowSec);
  const fetched = new Set((cursor?.fetched ?? []).filter((h) => hours.includes(h)));
  const create: CreateOnly = (key, body, type) => state.create(key, body, type);
  const onLine = (line: Record<string, unknown>) => {
    const sighting = sightingOfHistoryLine(line);
    if (sighting === null) return;
    outcome.historySightings++;
    note(work.found, sighting);
  };
  for (const hour of hours) {
    if (fetched.has(hour)) continue;
    deps.signal.throwIfAborted();
    const job = { sdkAppId: options.sdkAppId, chatType: 'C2C' as const, hour, timeZone: options.timeZone };
    const got = await fetchHistoryHour({ ...deps, create }, job, onLine);
    outcome.historyFilesKept += got.filesKept;
    if (got.status === 'rejected') {
      outcome.historyFilesRejected++;
      continue;
    }
    if (got.status === 'none' && !hourIsEmpty(hour, nowSec)) continue;
    outcome.historyMessagesIndexed += got.messages;
    await writeHourRow(create, job, { files: got.files, messages: got.messages, runId: options.runId });
    fetched.add(hour);
    if (got.status === 'kept') outcome.historyHours++;
  }
  return { fetched: [...fetched].sort() };
}

async function readCursor(store: ObjectStore, key: string | null): Promise<WitnessCursor> {
  if (key === null) return EMPTY_WITNESS_CURSOR;
  const stored = await store.get(key);
  if (!stored) throw new StateCorruptError(`The one-to-one state names ${key}, which is missing`);
  try {
    return parseWitnessCursor(decoder.decode(stored.body));
  } catch (cause) {
    throw new StateCorruptError(`The witness cursor ${key} cannot be read: ${String(cause)}`, { cause });
  }
}

/** Adds the pairs one object names to `found` (the newest time per pair); false when unreadable. */
async function readCallbackObject(
  deps: { store: ObjectStore; logger: Logger },
  key: string,
  work: Work,
): Promise<boolean> {
  const stored = await deps.store.get(key);
  if (!stored) return true; // deleted since the listing (a lifecycle rule): nothing to read
  let lines: string[];
  try {
    lines = gunzipNdjson(stored.body);
  } catch (error) {
    deps.logger.warn('a recorded callback object is not gzip NDJSON; skipped', { key, error: String(error) });
    return false;
  }
  for (const line of lines) {
    let row: unknown;
    try {
      row = JSON.parse(line);
    } catch {
      continue;
    }
    const sighting = sightingOfCallback(row);
    if (sighting === null) continue;
    work.outcome.sightings++;
    note(work.found, sighting);
  }
  return true;
}

/** Intent → shards (one at a time) → cursor → head → replaced objects deleted. */
async function commit(
  deps: { store: ObjectStore; logger: Logger },
  state: C2cStateStore,
  work: {
    found: Map<string, PairSighting>;
    cursor: WitnessCursor;
    options: DiscoveryOptions;
    outcome: DiscoveryOutcome;
  },
): Promise<void> {
  const { options, outcome } = work;
  const head = state.head;
  const byShard = new Map<number, PairSighting[]>();
  for (const [conversation, sighting] of work.found) {
    const index = pairShard(conversation, head.shards);
    const list = byShard.get(index) ?? [];
    list.push(sighting);
    byShard.set(index, list);
  }
  const shards = [...byShard.keys()]
    .sort((a, b) => a - b)
    .map((index) => ({
      index,
      key: c2cShardKey({
        sdkAppId: options.sdkAppId,
        shard: index,
        runId: options.runId,
        part: options.nextPart(),
      }),
    }));
  const witnessKey = c2cWitnessKey({
    sdkAppId: options.sdkAppId,
    runId: options.runId,
    part: options.nextPart(),
  });
  const objects = [...shards.map((s) => s.key), witnessKey];
  await state.write({ ...head, pending: { runId: options.runId, objects } });
  const shardKeys = [...head.shardKeys];
  const replaced: string[] = head.witnessKey === null ? [] : [head.witnessKey];
  for (const { index, key } of shards) {
    const old = head.shardKeys[index] ?? null;
    const pairs = new Map<string, C2cPairState>();
    for (const pair of old === null ? [] : await state.readShard(old))
      pairs.set(pairConversation(pair), pair);
    for (const sighting of byShard.get(index) ?? []) {
      const conversation = JSON.stringify(sighting.pair);
      const before = pairs.get(conversation);
      if (before === undefined) outcome.pairsDiscovered++;
      const after = withSighting(before ?? newPairState(sighting.pair), sighting.time);
      if (after !== before) outcome.pairsWitnessed++;
      pairs.set(conversation, after);
    }
    await state.create(key, encoder.encode(serializeShard(pairs.values())), 'application/x-ndjson');
    if (old !== null) replaced.push(old);
    shardKeys[index] = key;
  }
  await state.create(witnessKey, encoder.encode(serializeWitnessCursor(work.cursor)), 'application/json');
  await state.write({ ...state.head, shardKeys, witnessKey, pending: null });
  await state.deleteReplaced(replaced, deps.logger);
}
