/**
 * The state's storage layout: a small head object plus immutable target objects, so that a
 * checkpoint writes bytes in proportion to the targets it touched, not to all targets.
 *
 *   state/sdkappid=<id>/state.json                      the head: lease, intent, rolled-back keys,
 *                                                       and the names of the objects below (the ONE
 *                                                       commit point, written with If-Match)
 *   state/sdkappid=<id>/targets/<runId>-<n>.base.json   every target, as of a compaction
 *   state/sdkappid=<id>/targets/<runId>-<n>.delta.json  only the targets one checkpoint changed
 *
 * The targets are the base with the deltas applied in order (a later entry for the same target
 * wins). Target objects are written create-only before the head that names them, and their keys
 * are in the head's intent (`pending`) first, so an object no committed head names is rolled back
 * like any uncommitted message object. A compaction writes a new base and drops the deltas; the
 * objects it replaces are remembered as rolled-back keys and deleted.
 *
 * Version 1 (one `state.json` holding every target) is still read; the first checkpoint of a
 * migrated state compacts, and from then on the head is written as version 2. Pure.
 */
import * as z from 'zod';
import {
  type ArchiveState,
  HeadFieldsShape,
  type PendingWrite,
  parseState,
  STATE_VERSION,
  TargetSchema,
  type TargetState,
  targetKey,
} from './continuation.ts';
import { StateCorruptError } from './errors.ts';
import type { Lease, RolledBackKey } from './lease.ts';
import { stateKey } from './partition.ts';

export const HEAD_VERSION = 2;

/** A target object the head names. */
export interface TargetsObjectRef {
  key: string;
  /** Its size, for the compaction decision. */
  bytes: number;
  /** Targets it holds. */
  targets: number;
}

/** The head of a version-2 state (every field but the targets themselves). */
export interface StateHead {
  version: typeof HEAD_VERSION;
  sdkAppId: number;
  lease: Lease | null;
  pending: PendingWrite | null;
  rolledBack: RolledBackKey[];
  base: TargetsObjectRef | null;
  deltas: TargetsObjectRef[];
  /** The run's plan carried across invocations (see carried-plan.ts), or null. */
  plan: PlanRef | null;
}

/** The head's reference to a stored plan: the targets still to do when an invocation stopped. */
export interface PlanRef {
  key: string;
  /** When the plan was made, on the planning run's clock (epoch ms). */
  madeAtMs: number;
  /** Targets in the plan. */
  targets: number;
  /** What it was made for (carried-plan.ts `planScope`). */
  scope: string;
}

const refSchema = z.object({
  key: z.string().min(1),
  bytes: z.number().int().nonnegative(),
  targets: z.number().int().nonnegative(),
});

const HeadSchema = z.object({
  version: z.literal(HEAD_VERSION),
  ...HeadFieldsShape,
  base: refSchema.nullable(),
  deltas: z.array(refSchema),
  plan: z
    .object({
      key: z.string().min(1),
      madeAtMs: z.number(),
      targets: z.number().int().nonnegative(),
      scope: z.string(),
    })
    .nullable()
    .default(null),
});

const TargetsObjectSchema = z.object({
  version: z.literal(HEAD_VERSION),
  sdkAppId: z.number().int().positive(),
  targets: z.array(TargetSchema),
});

/** A head as read: a version-2 head, or a version-1 state whose targets are inline (migration). */
export type ReadHead =
  | { layout: 'head'; head: StateHead }
  | { layout: 'inline'; head: StateHead; targets: TargetState[] };

/** A fresh head for an app that was never archived. */
export function emptyHead(sdkAppId: number): StateHead {
  return {
    version: HEAD_VERSION,
    sdkAppId,
    lease: null,
    pending: null,
    rolledBack: [],
    base: null,
    deltas: [],
    plan: null,
  };
}

function corrupt(location: string, detail: string, cause?: unknown): StateCorruptError {
  return new StateCorruptError(
    `The state object ${location} ${detail}. Restore it from a previous version (S3 versioning) or a backup; ` +
      'deleting it makes the next run re-archive all retained history.',
    cause === undefined ? undefined : { cause },
  );
}

function parseJson(text: string, location: string): unknown {
  try {
    return JSON.parse(text);
  } catch (cause) {
    throw corrupt(location, 'is not valid JSON', cause);
  }
}

/**
 * Parse the head object (`state.json`) of either layout.
 * @throws StateCorruptError naming the problem and the way out
 */
export function parseHead(text: string, expectedSdkAppId: number, location: string): ReadHead {
  const json = parseJson(text, location);
  const version = (json as { version?: unknown } | null)?.version;
  if (version === STATE_VERSION) {
    const legacy = parseState(text, expectedSdkAppId, location);
    const { targets, version: _v, ...fields } = legacy;
    return { layout: 'inline', head: { ...emptyHead(expectedSdkAppId), ...fields }, targets };
  }
  if (version !== HEAD_VERSION) {
    throw new StateCorruptError(
      `The state object ${location} has version ${JSON.stringify(version)}, but this archiver reads versions ${STATE_VERSION} and ${HEAD_VERSION}. ` +
        'Use the archiver release that wrote it, or restore an older state object.',
    );
  }
  return { layout: 'head', head: validated(HeadSchema, json, expectedSdkAppId, location) as StateHead };
}

/** `json` checked against `schema` and the expected app. @throws StateCorruptError naming the problem */
function validated<S extends z.ZodType<{ sdkAppId: number }>>(
  schema: S,
  json: unknown,
  expectedSdkAppId: number,
  location: string,
): z.output<S> {
  const parsed = schema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw corrupt(
      location,
      `is damaged (${issue?.path.join('.') || '(root)'}: ${issue?.message})`,
      parsed.error,
    );
  }
  if (parsed.data.sdkAppId !== expectedSdkAppId) {
    throw new StateCorruptError(
      `The state object ${location} belongs to SDKAppID ${parsed.data.sdkAppId}, not ${expectedSdkAppId}.`,
    );
  }
  return parsed.data;
}

/** Serialise a version-2 head (readable: it is small). */
export function serializeHead(head: StateHead): string {
  return `${JSON.stringify(head, null, 1)}\n`;
}

/** Serialise a version-1 state with its targets inline (only while a migrated state is not compacted yet). */
export function serializeInline(head: StateHead, targets: Iterable<TargetState>): string {
  const state: ArchiveState = {
    version: STATE_VERSION,
    sdkAppId: head.sdkAppId,
    lease: head.lease,
    pending: head.pending,
    rolledBack: head.rolledBack,
    targets: [...targets],
  };
  return `${JSON.stringify(state)}\n`;
}

/** Serialise a target object (base or delta): one target a line, no indentation. */
export function serializeTargets(sdkAppId: number, targets: Iterable<TargetState>): string {
  const lines: string[] = [];
  for (const t of targets) lines.push(JSON.stringify(t));
  return `{"version":${HEAD_VERSION},"sdkAppId":${sdkAppId},"targets":[\n${lines.join(',\n')}\n]}\n`;
}

/** Text encoded into bytes a block of about this many characters at a time. */
const ENCODE_BLOCK_CHARS = 64 * 1024;

/**
 * The UTF-8 bytes of {@link serializeTargets}, encoded a block at a time: a base of every target
 * (50,000 targets: ~10 MB) is held once as its blocks' bytes and once whole, never also as one
 * string and a list of its lines.
 */
export function encodeTargets(sdkAppId: number, targets: Iterable<TargetState>): Uint8Array {
  const encoder = new TextEncoder();
  const chunks: Uint8Array[] = [];
  let size = 0;
  let block = `{"version":${HEAD_VERSION},"sdkAppId":${sdkAppId},"targets":[\n`;
  const seal = (): void => {
    const bytes = encoder.encode(block);
    chunks.push(bytes);
    size += bytes.byteLength;
    block = '';
  };
  let first = true;
  for (const t of targets) {
    block += first ? JSON.stringify(t) : `,\n${JSON.stringify(t)}`;
    first = false;
    if (block.length >= ENCODE_BLOCK_CHARS) seal();
  }
  block += '\n]}\n';
  seal();
  const body = new Uint8Array(size);
  let at = 0;
  for (const chunk of chunks) {
    body.set(chunk, at);
    at += chunk.byteLength;
  }
  return body;
}

/**
 * Parse a target object the head names.
 * @throws StateCorruptError when it is unreadable or belongs elsewhere
 */
export function parseTargets(text: string, expectedSdkAppId: number, location: string): TargetState[] {
  return validated(TargetsObjectSchema, parseJson(text, location), expectedSdkAppId, location)
    .targets as TargetState[];
}

/** The targets of a state: the base, then each delta in order; a later entry for a target wins. */
export function mergeTargets(
  base: readonly TargetState[],
  deltas: readonly (readonly TargetState[])[],
): Map<string, TargetState> {
  const merged = new Map<string, TargetState>();
  for (const t of base) merged.set(targetKey(t), t);
  for (const delta of deltas) for (const t of delta) merged.set(targetKey(t), t);
  return merged;
}

/** Every key of a target object a head names. */
export function namedTargetObjects(head: StateHead): string[] {
  return [...(head.base ? [head.base.key] : []), ...head.deltas.map((d) => d.key)];
}

/** Bounds of the delta chain: beyond either, the next checkpoint compacts. */
export interface LayoutBounds {
  /** Deltas may add up to this many bytes, or half the base if that is more. */
  deltaBytes: number;
  /** At most this many deltas (a run reads every one when it starts). */
  deltas: number;
}

/** 4 MiB or half the base, 64 deltas: a compaction's cost is spread over many checkpoints. */
export const DEFAULT_LAYOUT_BOUNDS: LayoutBounds = { deltaBytes: 4 * 1024 * 1024, deltas: 64 };

/**
 * How the next checkpoint stores its changed targets: as one more delta, or as a new base (a
 * compaction) when the deltas would exceed the bounds or the state is still inline (version 1).
 * The byte bound grows with the base, so the bytes written per checkpoint, compactions included,
 * stay proportional to the targets changed (a base of B bytes is rewritten after at least B/2 of deltas).
 */
export function decideLayout(
  read: { layout: 'head' | 'inline'; head: StateHead },
  changedBytes: number,
  bounds: LayoutBounds = DEFAULT_LAYOUT_BOUNDS,
): 'delta' | 'compact' {
  if (read.layout === 'inline') return 'compact';
  const { base, deltas } = read.head;
  const deltaBytes = deltas.reduce((sum, d) => sum + d.bytes, 0) + changedBytes;
  const byteBound = Math.max(bounds.deltaBytes, Math.floor((base?.bytes ?? 0) / 2));
  return deltas.length + 1 > bounds.deltas || deltaBytes > byteBound ? 'compact' : 'delta';
}

/** Has a target's stored state changed? (Field by field: key order of parsed and built objects differs.) */
export function sameTargetState(a: TargetState | undefined, b: TargetState): boolean {
  if (a === undefined) return false;
  if (a === b) return true;
  if (
    a.groupId !== b.groupId ||
    a.topicId !== b.topicId ||
    a.highWater !== b.highWater ||
    a.highWaterTime !== b.highWaterTime ||
    a.generation !== b.generation
  ) {
    return false;
  }
  const x = a.inProgress;
  const y = b.inProgress;
  if (x === null || y === null) return x === y;
  if (x.top !== y.top || x.cursor !== y.cursor || x.floorTime !== y.floorTime || x.topTime !== y.topTime) {
    return false;
  }
  const xs = x.todo ?? [];
  const ys = y.todo ?? [];
  return (
    (x.todo === undefined) === (y.todo === undefined) &&
    xs.length === ys.length &&
    xs.every((w, i) => w.lo === ys[i]?.lo && w.hi === ys[i]?.hi)
  );
}

/** Key of a target object: create-only, unique per run and checkpoint. */
export function targetsObjectKey(
  sdkAppId: number,
  runId: string,
  part: number,
  kind: 'base' | 'delta',
): string {
  const folder = stateKey(sdkAppId).replace(/state\.json$/, 'targets/');
  return `${folder}${runId}-${String(part).padStart(5, '0')}.${kind}.json`;
}

/** A state as stored: its head (either layout), its targets, and the head's ETag. */
export interface StoredState {
  read: ReadHead;
  targets: Map<string, TargetState>;
  etag: string | undefined;
}

/** Times the head is read again when a target object it named is gone (compacted meanwhile). */
const REREADS = 5;

/**
 * Read a state through `get` (the object store's, passed in: the domain does no I/O itself): the
 * head, then the base and deltas it names, merged. Returns undefined when the app has no state.
 * @param location the store's location, for messages
 * @throws StateCorruptError when an object is unreadable, or named but missing even after re-reading the head
 */
export async function readLayout(
  get: (key: string) => Promise<{ text: string; etag: string } | undefined>,
  sdkAppId: number,
  location: string,
): Promise<StoredState | undefined> {
  const key = stateKey(sdkAppId);
  for (let attempt = 1; ; attempt++) {
    const stored = await get(key);
    if (stored === undefined) return undefined;
    const read = parseHead(stored.text, sdkAppId, `${location}/${key}`);
    if (read.layout === 'inline') return { read, targets: mergeTargets(read.targets, []), etag: stored.etag };
    // Merged as each object is read (the base, then the deltas in order; a later entry wins), so
    // one object's text and parsed targets are held at a time, not every object's.
    const targets = new Map<string, TargetState>();
    let missing: string | undefined;
    for (const name of namedTargetObjects(read.head)) {
      const object = await get(name);
      if (object === undefined) {
        missing = name;
        break;
      }
      for (const t of parseTargets(object.text, sdkAppId, `${location}/${name}`))
        targets.set(targetKey(t), t);
    }
    if (missing === undefined) return { read, targets, etag: stored.etag };
    // A run compacted between our reads and deleted what the head we read named: read it again.
    if (attempt >= REREADS) {
      throw new StateCorruptError(
        `The state object ${location}/${key} names ${location}/${missing}, which is missing. ` +
          'Restore it from a previous version (S3 versioning) or a backup.',
      );
    }
  }
}
