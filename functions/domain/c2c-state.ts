/**
 * Where and how the one-to-one pass keeps its state (issue 26; docs/one-to-one.md): a small head
 * object, the one commit point, written with If-Match, naming one immutable object per shard of
 * pairs (create-only, written before the head that names it) and the intent of the checkpoint in
 * progress (the objects it is about to write, deleted by the next run if it never committed).
 */
import { isJsonObject, isSafeInt, isString } from './json-guards.ts';

/** Shards of a new state: 1,000,000 pairs make ~3,900 a shard, a few hundred KB of text each. */
export const DEFAULT_C2C_SHARDS = 256;

/** The head of the pass's state. */
export interface C2cHead {
  readonly version: 1;
  readonly sdkAppId: number;
  /** How many shards the pairs are hashed into (fixed when the state is created). */
  readonly shards: number;
  /** The object of each shard (index = shard), or null for a shard without pairs. */
  readonly shardKeys: readonly (string | null)[];
  /** The checkpoint under way: the objects it writes (rows and shards), or null. */
  readonly pending: { readonly runId: string; readonly objects: readonly string[] } | null;
  /**
   * The witnesses' cursor object (functions/domain/c2c-witness.ts: which recorded callback objects
   * were read), or null before the first; absent from heads written before witnesses.
   */
  readonly witnessKey: string | null;
}

const RUN_ID = /^[A-Za-z0-9_-]{1,64}$/;

function root(sdkAppId: number): string {
  if (!Number.isSafeInteger(sdkAppId) || sdkAppId <= 0) throw new RangeError(`invalid sdkAppId ${sdkAppId}`);
  return `state/c2c/sdkappid=${sdkAppId}/`;
}

/** `state/c2c/sdkappid=<id>/head.json`. */
export function c2cHeadKey(sdkAppId: number): string {
  return `${root(sdkAppId)}head.json`;
}

/** `state/c2c/sdkappid=<id>/shard-<nnnn>/<run>-<part>.ndjson`: deterministic in (app, shard, run, part). */
export function c2cShardKey(input: { sdkAppId: number; shard: number; runId: string; part: number }): string {
  if (!RUN_ID.test(input.runId)) throw new RangeError(`invalid runId ${JSON.stringify(input.runId)}`);
  if (!Number.isSafeInteger(input.shard) || input.shard < 0) throw new RangeError('invalid shard');
  if (!Number.isSafeInteger(input.part) || input.part < 0) throw new RangeError('invalid part');
  const shard = String(input.shard).padStart(4, '0');
  return `${root(input.sdkAppId)}shard-${shard}/${input.runId}-${String(input.part).padStart(5, '0')}.ndjson`;
}

/** `state/c2c/sdkappid=<id>/witness/<run>-<part>.json`: the witnesses' cursor, create-only like a shard. */
export function c2cWitnessKey(input: { sdkAppId: number; runId: string; part: number }): string {
  if (!RUN_ID.test(input.runId)) throw new RangeError(`invalid runId ${JSON.stringify(input.runId)}`);
  if (!Number.isSafeInteger(input.part) || input.part < 0) throw new RangeError('invalid part');
  return `${root(input.sdkAppId)}witness/${input.runId}-${String(input.part).padStart(5, '0')}.json`;
}

/** An empty head with `shards` shards. */
export function emptyC2cHead(sdkAppId: number, shards: number): C2cHead {
  if (!Number.isSafeInteger(shards) || shards < 1) throw new RangeError('shards must be a positive integer');
  return {
    version: 1,
    sdkAppId,
    shards,
    shardKeys: new Array<null>(shards).fill(null),
    pending: null,
    witnessKey: null,
  };
}

export function serializeC2cHead(head: C2cHead): string {
  return `${JSON.stringify(head)}\n`;
}

/**
 * @throws TypeError when the text is not a head of this app
 */
export function parseC2cHead(text: string, sdkAppId: number): C2cHead {
  const v: unknown = JSON.parse(text);
  if (!isJsonObject(v) || v.version !== 1 || v.sdkAppId !== sdkAppId) {
    throw new TypeError(`not a version-1 one-to-one state head of app ${sdkAppId}`);
  }
  const { shards, shardKeys, pending, witnessKey = null } = v;
  if (!isSafeInt(shards) || shards < 1) throw new TypeError('head.shards must be a positive integer');
  if (!Array.isArray(shardKeys) || shardKeys.length !== shards) {
    throw new TypeError('head.shardKeys must have one entry per shard');
  }
  if (!shardKeys.every((k) => k === null || isString(k))) throw new TypeError('head.shardKeys: keys or null');
  let intent: C2cHead['pending'] = null;
  if (pending !== null) {
    if (
      !isJsonObject(pending) ||
      !isString(pending.runId) ||
      !Array.isArray(pending.objects) ||
      !pending.objects.every(isString)
    ) {
      throw new TypeError('head.pending must be null or { runId, objects }');
    }
    intent = { runId: pending.runId, objects: pending.objects as string[] };
  }
  if (witnessKey !== null && !isString(witnessKey)) throw new TypeError('head.witnessKey: a key or null');
  return {
    version: 1,
    sdkAppId,
    shards,
    shardKeys: shardKeys as (string | null)[],
    pending: intent,
    witnessKey,
  };
}
