/**
 * Pair discovery from the recorded callbacks (issue 26; docs/one-to-one.md, Witnesses), run by the
 * one-to-one pass before it pulls: reads the recorded callback objects the cursor has not read
 * (functions/domain/c2c-witness.ts), takes the pair and time each `C2C.CallbackAfterSendMsg` names,
 * and commits them into the pairs' shards with the new cursor, exactly once:
 *
 * intent (the shard objects and the cursor object about to be written) → the changed shards (each
 * read, merged and written create-only, one at a time) → the cursor → the head naming them with the
 * intent cleared → the replaced objects deleted. A run that dies before the head leaves an intent
 * the next run rolls back (C2cStateStore.open), and the same callbacks are read again.
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
  type PairSighting,
  parseWitnessCursor,
  serializeWitnessCursor,
  sightingOfCallback,
  type WitnessCursor,
  withSighting,
} from '../domain/c2c-witness.ts';
import { StateCorruptError } from '../domain/errors.ts';
import { gunzipNdjson } from '../domain/ndjson-gzip.ts';
import { dateInZone } from '../domain/partition.ts';
import type { Clock, Logger } from '../domain/ports.ts';
import type { ObjectStore } from '../domain/storage.ts';
import type { C2cStateStore } from './c2c-state-store.ts';

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
}

/** Read the unread callbacks and commit what they name. */
export async function discoverFromCallbacks(
  deps: { store: ObjectStore; clock: Clock; logger: Logger; signal: AbortSignal },
  state: C2cStateStore,
  options: DiscoveryOptions,
): Promise<DiscoveryOutcome> {
  const { store, clock } = deps;
  const cursor = await readCursor(store, state.head.witnessKey);
  const nowSec = Math.floor(clock.now() / 1000);
  const today = dateInZone(nowSec, options.timeZone);
  const previous: CallbackCursor = cursor.callbacks ?? {
    from: dateInZone(Math.max(0, nowSec - options.retentionDays * 86_400), options.timeZone),
    read: [],
  };
  const outcome: DiscoveryOutcome = {
    callbackObjects: 0,
    unreadableObjects: 0,
    sightings: 0,
    pairsDiscovered: 0,
    pairsWitnessed: 0,
  };
  const seen = new Set(previous.read);
  const newlyRead: string[] = [];
  const found = new Map<string, PairSighting>();
  for (const dt of datesBetween(previous.from, today)) {
    for await (const key of store.list(callbackDatePrefix(options.sdkAppId, dt))) {
      deps.signal.throwIfAborted();
      if (seen.has(key) || !key.endsWith('.ndjson.gz')) continue;
      newlyRead.push(key);
      outcome.callbackObjects++;
      if (!(await readCallbackObject(deps, key, found, outcome))) outcome.unreadableObjects++;
    }
  }
  const closedBefore = dateInZone(Math.max(0, nowSec - CALLBACK_DATE_GRACE_SEC), options.timeZone);
  const next: WitnessCursor = {
    version: 1,
    callbacks: advanceCallbackCursor(previous, newlyRead, closedBefore),
  };
  const unchanged =
    cursor.callbacks !== null &&
    next.callbacks?.from === cursor.callbacks.from &&
    next.callbacks.read.length === cursor.callbacks.read.length;
  if (found.size === 0 && unchanged) return outcome;
  await commit(deps, state, { found, cursor: next, options, outcome });
  return outcome;
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
  found: Map<string, PairSighting>,
  outcome: DiscoveryOutcome,
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
    outcome.sightings++;
    const conversation = JSON.stringify(sighting.pair);
    const known = found.get(conversation);
    if (known === undefined || known.time < sighting.time) found.set(conversation, sighting);
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
