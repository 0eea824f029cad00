/**
 * The identity capture's pure part (issue 24, docs/names.md "Capture"): the rows an answer gives
 * (functions/domain/identity-rows.ts), the compact last-known values they are compared with (a
 * short hash of `identityValues` per key, in shards), the lookup budget, and the state objects'
 * keys and formats. No I/O: the engine (functions/engine/identity-capture.ts) reads and writes.
 *
 * State under `state/identities/sdkappid=<id>/`:
 * - `head.json`: the committed version and what is still to be looked up (pending);
 * - `<kind>/<shard>.json`: key → value hash of every identity the archive holds a row for, in
 *   {@link IDENTITY_SHARDS} shards per kind by the key's hash, so a run loads only the shards it
 *   touches, a few at a time;
 * - `intent-<version>.json`: a commit in progress (its rows, shard changes and pending), written
 *   before anything else of the commit, so a killed commit is finished by the next run (rolled
 *   forward) instead of being redone against answers that may have changed.
 */
import { createHash } from 'node:crypto';
import { StateCorruptError } from './errors.ts';
import {
  type GroupMemberRow,
  type GroupNameRow,
  IDENTITY_KINDS,
  type IdentityKind,
  type IdentityRow,
  identityKey,
  identityValues,
  type UserNameRow,
} from './identity-rows.ts';
import { isJsonObject, isSafeInt, isString } from './json-guards.ts';
import type { GroupInfo, GroupMember, UserProfile } from './tencent-types.ts';

/**
 * Shards per kind: 64 (the first byte of the key's SHA-256, modulo 64). A first run writes at most
 * 3 x 64 shard objects (each PUT costs tens of ms); a million groups make shards of about 16,000
 * keys (under 1 MB), and only a few are held at once.
 */
export const IDENTITY_SHARDS = 64;
/** `portrait_get` accounts a call (docs/tencent-api.md). */
export const PROFILE_BATCH = 100;
/** `get_group_info` groups a call. */
export const GROUP_INFO_BATCH = 50;
/** `get_specified_group_member_info` accounts a call. */
export const MEMBER_BATCH = 50;
/** Group error codes that mean the group is gone: 10010 dissolved, 10015 unknown id. */
export const DISSOLVED_CODES: ReadonlySet<number> = new Set([10010, 10015]);

// ---------------------------------------------------------------------------------------------
// Rows from answers
// ---------------------------------------------------------------------------------------------

export function userRow(sdkAppId: number, profile: UserProfile, observedAt: number): UserNameRow {
  return profile.ok
    ? {
        sdk_app_id: sdkAppId,
        account: profile.account,
        nick: profile.nick,
        image: profile.image,
        status: 'active',
        result_code: null,
        observed_at: observedAt,
      }
    : {
        sdk_app_id: sdkAppId,
        account: profile.account,
        nick: null,
        image: null,
        status: 'gone',
        result_code: profile.resultCode,
        observed_at: observedAt,
      };
}

/** The row of a group's info, or undefined when the answer does not say (another error, no `Name`). */
export function groupRow(sdkAppId: number, info: GroupInfo, observedAt: number): GroupNameRow | undefined {
  if (!info.ok) {
    if (!DISSOLVED_CODES.has(info.errorCode)) return undefined;
    return {
      sdk_app_id: sdkAppId,
      group_id: info.groupId,
      name: null,
      type: null,
      owner_account: null,
      status: 'dissolved',
      error_code: info.errorCode,
      observed_at: observedAt,
    };
  }
  if (info.name === undefined) return undefined;
  return {
    sdk_app_id: sdkAppId,
    group_id: info.groupId,
    name: info.name,
    type: info.type,
    owner_account: info.ownerAccount ?? '',
    status: 'active',
    error_code: null,
    observed_at: observedAt,
  };
}

/** A member's row; `member` undefined: the answer did not list the account (`left`). */
export function memberRow(
  sdkAppId: number,
  at: { groupId: string; account: string; observedAt: number },
  member: GroupMember | undefined,
): GroupMemberRow {
  return {
    sdk_app_id: sdkAppId,
    group_id: at.groupId,
    account: at.account,
    role: member ? member.role : null,
    name_card: member ? member.nameCard : null,
    status: member ? 'member' : 'left',
    observed_at: at.observedAt,
  };
}

// ---------------------------------------------------------------------------------------------
// Change detection
// ---------------------------------------------------------------------------------------------

/** The short hash of a row's values the state keeps (64 bits of SHA-256: collisions negligible). */
export function valueHash(row: IdentityRow): string {
  return createHash('sha256').update(identityValues(row)).digest('hex').slice(0, 16);
}

/** The shard a key lives in: two hex digits, 00 to 3f. */
export function shardOf(key: string): string {
  const first = createHash('sha256').update(key).digest()[0] ?? 0;
  return (first % IDENTITY_SHARDS).toString(16).padStart(2, '0');
}

/** One shard: key → value hash. */
export type ShardHashes = Map<string, string>;

/**
 * The rows of `observed` (one kind, all in one shard) whose values differ from what `shard` holds,
 * the shard's changes (key → new hash), and how many of the rows are a key's first. A key
 * observed twice keeps its last observation.
 */
export function changedRows<R extends IdentityRow>(
  kind: IdentityKind,
  observed: readonly R[],
  shard: ShardHashes,
): { rows: R[]; changes: Record<string, string>; firstRows: number } {
  const last = new Map<string, R>();
  for (const row of observed) last.set(identityKey(kind, row), row);
  const rows: R[] = [];
  const changes: Record<string, string> = {};
  let firstRows = 0;
  for (const [key, row] of last) {
    const hash = valueHash(row);
    const held = shard.get(key);
    if (held === hash) continue;
    if (held === undefined) firstRows++;
    rows.push(row);
    changes[key] = hash;
  }
  return { rows, changes, firstRows };
}

// ---------------------------------------------------------------------------------------------
// The lookup budget
// ---------------------------------------------------------------------------------------------

/**
 * Identity calls allowed so that they are at most `share` of all calls: with `otherCalls` made by
 * the rest of the run, `n / (otherCalls + n) <= share`.
 */
export function identityCallBudget(otherCalls: number, share: number): number {
  if (share <= 0) return 0;
  if (share >= 1) return Number.MAX_SAFE_INTEGER;
  return Math.floor((share * otherCalls) / (1 - share) + 1e-9);
}

/** The budget of a run with work to do: the share of its other calls, at least `minCalls`. */
export function runCallBudget(otherCalls: number, share: number, minCalls: number): number {
  return Math.max(minCalls, identityCallBudget(otherCalls, share));
}

/** Roll-call slots: the known groups are checked (get_group_info) a slot a time, round the slots (15 groups a slot for a million). */
export const ROLL_CALL_SLOTS = 65_536;

/** A group's roll-call slot (FNV-1a of the id: cheap enough for a million ids a run). */
export function rollCallSlot(groupId: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < groupId.length; i++) {
    hash ^= groupId.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return (hash >>> 0) % ROLL_CALL_SLOTS;
}

/**
 * The known groups to check this run, slot by slot from `cursor`, at most `capacity` of them, and
 * the cursor for the next run (the first slot not checked whole). A dissolved group is no longer
 * listed, and an idle group's rename is seen by no other call: the roll call finds both, with the
 * calls the run's own lookups left over. `known` is iterated once (no copy of it is kept).
 */
export function pickRollCall(
  known: Iterable<string>,
  knownCount: number,
  at: { cursor: number; capacity: number },
): { groupIds: string[]; cursor: number } {
  const { cursor, capacity } = at;
  if (capacity <= 0 || knownCount === 0) return { groupIds: [], cursor };
  const perSlot = knownCount / ROLL_CALL_SLOTS;
  const window = Math.min(ROLL_CALL_SLOTS, Math.max(1, Math.floor(capacity / perSlot)));
  const bySlot = new Map<number, Set<string>>();
  for (const groupId of known) {
    const offset = (rollCallSlot(groupId) - cursor + ROLL_CALL_SLOTS) % ROLL_CALL_SLOTS;
    if (offset >= window) continue;
    const set = bySlot.get(offset) ?? new Set<string>();
    set.add(groupId);
    bySlot.set(offset, set);
  }
  const groupIds: string[] = [];
  let whole = 0;
  for (let offset = 0; offset < window; offset++) {
    const slot = [...(bySlot.get(offset) ?? [])].sort();
    const room = capacity - groupIds.length;
    groupIds.push(...slot.slice(0, room));
    if (slot.length > room) break;
    whole++;
  }
  // A slot larger than the capacity is left after its first groups (the next round sees them again).
  return { groupIds, cursor: (cursor + Math.max(1, whole)) % ROLL_CALL_SLOTS };
}

/** What is to be looked up (or is left pending): each list in priority order, pending first. */
export interface IdentityWork {
  groups: string[];
  users: string[];
  /** `[groupId, account]` pairs. */
  members: [string, string][];
}

/** The calls a run makes within its budget, and what is left for the next run. */
export interface LookupPlan {
  groupBatches: string[][];
  userBatches: string[][];
  memberBatches: { groupId: string; accounts: string[] }[];
  left: IdentityWork;
}

/** Splits `items` into batches of `size`. */
function batchesOf<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/** Distinct items, first occurrence first. */
export function distinct<T>(items: Iterable<T>, keyOf: (item: T) => string = String): T[] {
  const seen = new Set<string>();
  const out: T[] = [];
  for (const item of items) {
    const key = keyOf(item);
    if (seen.has(key)) continue;
    seen.add(key);
    out.push(item);
  }
  return out;
}

/**
 * Batches the work at the API maximums (groups 50, users 100, members 50 per group) and takes them
 * in order (groups, users, members; each list's own order, pending first) until `budget` calls.
 */
export function planLookups(work: IdentityWork, budget: number): LookupPlan {
  const byGroup = new Map<string, string[]>();
  for (const [groupId, account] of work.members) {
    const list = byGroup.get(groupId) ?? [];
    list.push(account);
    byGroup.set(groupId, list);
  }
  return planGroupedLookups({ groups: work.groups, users: work.users, members: byGroup }, budget).plan;
}

/** Work whose members are grouped (group id → its distinct accounts, in order): no pair is an object. */
export interface GroupedWork {
  groups: string[];
  users: string[];
  members: ReadonlyMap<string, Iterable<string>>;
}

/**
 * {@link planLookups} over grouped members; at most `keepLeft` members are left (listed in
 * `plan.left`), the rest counted in `dropped` (they would be dropped as pending anyway: what a
 * failed call leaves comes before them).
 */
export function planGroupedLookups(
  work: GroupedWork,
  budget: number,
  keepLeft = Number.POSITIVE_INFINITY,
): { plan: LookupPlan; dropped: number } {
  let left = budget;
  const take = <T>(batches: T[][]): { taken: T[][]; rest: T[] } => {
    const n = Math.max(0, Math.min(left, batches.length));
    left -= n;
    return { taken: batches.slice(0, n), rest: batches.slice(n).flat() };
  };
  const groups = take(batchesOf(work.groups, GROUP_INFO_BATCH));
  const users = take(batchesOf(work.users, PROFILE_BATCH));
  const memberBatches: LookupPlan['memberBatches'] = [];
  const membersLeft: [string, string][] = [];
  let dropped = 0;
  for (const [groupId, accounts] of work.members) {
    for (const batch of batchesOf([...accounts], MEMBER_BATCH)) {
      if (left > 0) {
        left--;
        memberBatches.push({ groupId, accounts: batch });
        continue;
      }
      for (const account of batch) {
        if (membersLeft.length < keepLeft) membersLeft.push([groupId, account]);
        else dropped++;
      }
    }
  }
  const plan = {
    groupBatches: groups.taken,
    userBatches: users.taken,
    memberBatches,
    left: { groups: groups.rest, users: users.rest, members: membersLeft },
  };
  return { plan, dropped };
}

/** Keeps at most `max` items of each kind (the first ones); returns how many were dropped. */
export function capWork(work: IdentityWork, max: number): { work: IdentityWork; dropped: number } {
  const dropped =
    Math.max(0, work.groups.length - max) +
    Math.max(0, work.users.length - max) +
    Math.max(0, work.members.length - max);
  return {
    work: {
      groups: work.groups.slice(0, max),
      users: work.users.slice(0, max),
      members: work.members.slice(0, max),
    },
    dropped,
  };
}

// ---------------------------------------------------------------------------------------------
// State objects
// ---------------------------------------------------------------------------------------------

function prefix(sdkAppId: number): string {
  if (!Number.isSafeInteger(sdkAppId) || sdkAppId <= 0)
    throw new RangeError(`sdkAppId must be a positive integer, got ${sdkAppId}`);
  return `state/identities/sdkappid=${sdkAppId}`;
}

export function identityHeadKey(sdkAppId: number): string {
  return `${prefix(sdkAppId)}/head.json`;
}

export function identityIntentKey(sdkAppId: number, version: number): string {
  return `${prefix(sdkAppId)}/intent-${String(version).padStart(10, '0')}.json`;
}

export function identityShardKey(sdkAppId: number, kind: IdentityKind, shard: string): string {
  return `${prefix(sdkAppId)}/${kind}/${shard}.json`;
}

/**
 * The rows object of commit `version`: `identities/<kind>/sdkappid=<id>/dt=<dt>/<version>.ndjson.gz`
 * (identity-rows.ts `identityLocationTemplate`). Derived from the version: written create-only, a
 * commit rolled forward writes the same key once.
 */
export function identityRowsKey(kind: IdentityKind, sdkAppId: number, dt: string, version: number): string {
  prefix(sdkAppId);
  return `identities/${kind}/sdkappid=${sdkAppId}/dt=${dt}/${String(version).padStart(10, '0')}.ndjson.gz`;
}

export interface IdentityHead {
  version: number;
  pending: IdentityWork;
  /** The roll call's next slot (pickRollCall). */
  rollCall: number;
}

export const emptyIdentityHead = (): IdentityHead => ({
  version: 0,
  pending: { groups: [], users: [], members: [] },
  rollCall: 0,
});

/** A commit: written first as the intent, then applied (rows, shards, head). */
export interface IdentityCommit {
  version: number;
  /** The `dt` of the rows objects (the date of the run's observed_at). */
  dt: string;
  rows: { [K in IdentityKind]: IdentityRow[] };
  /** kind → shard → key → new value hash. */
  shards: { [K in IdentityKind]: Record<string, Record<string, string>> };
  pending: IdentityWork;
  rollCall: number;
}

const isStringArray = (v: unknown): v is string[] => Array.isArray(v) && v.every(isString);
const isPairArray = (v: unknown): v is [string, string][] =>
  Array.isArray(v) && v.every((p) => Array.isArray(p) && p.length === 2 && isString(p[0]) && isString(p[1]));

function parseWork(value: unknown, location: string): IdentityWork {
  if (
    !isJsonObject(value) ||
    !isStringArray(value.groups) ||
    !isStringArray(value.users) ||
    !isPairArray(value.members)
  ) {
    throw new StateCorruptError(`${location}: pending is not { groups, users, members }`);
  }
  return { groups: value.groups, users: value.users, members: value.members };
}

function parseJson(text: string, location: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new StateCorruptError(`${location}: not JSON`, { cause: error });
  }
  if (!isJsonObject(value)) throw new StateCorruptError(`${location}: not a JSON object`);
  return value;
}

function rollCallOf(value: Record<string, unknown>): number {
  const at = value.rollCall ?? 0;
  return isSafeInt(at) && at >= 0 && at < ROLL_CALL_SLOTS ? at : 0;
}

export function parseIdentityHead(text: string, location: string): IdentityHead {
  const value = parseJson(text, location);
  if (!isSafeInt(value.version) || value.version < 0)
    throw new StateCorruptError(`${location}: version is not a whole number`);
  return { version: value.version, pending: parseWork(value.pending, location), rollCall: rollCallOf(value) };
}

export function parseShard(text: string, location: string): ShardHashes {
  const value = parseJson(text, location);
  const hashes = value.hashes;
  if (!isJsonObject(hashes)) throw new StateCorruptError(`${location}: hashes is not an object`);
  const out: ShardHashes = new Map();
  for (const [key, hash] of Object.entries(hashes)) {
    if (!isString(hash)) throw new StateCorruptError(`${location}: the hash of ${key} is not a string`);
    out.set(key, hash);
  }
  return out;
}

export function serializeShard(shard: ShardHashes): string {
  return `${JSON.stringify({ hashes: Object.fromEntries(shard) })}\n`;
}

export function parseIdentityCommit(text: string, location: string): IdentityCommit {
  const value = parseJson(text, location);
  const rows = value.rows;
  const shards = value.shards;
  if (!isSafeInt(value.version) || !isString(value.dt) || !isJsonObject(rows) || !isJsonObject(shards))
    throw new StateCorruptError(`${location}: not an identity commit`);
  const commit: IdentityCommit = {
    version: value.version,
    dt: value.dt,
    rows: { users: [], groups: [], members: [] },
    shards: { users: {}, groups: {}, members: {} },
    pending: parseWork(value.pending, location),
    rollCall: rollCallOf(value),
  };
  for (const kind of IDENTITY_KINDS) {
    const kindRows = rows[kind];
    const kindShards = shards[kind];
    if (!Array.isArray(kindRows) || !kindRows.every(isJsonObject) || !isJsonObject(kindShards))
      throw new StateCorruptError(`${location}: rows or shards of ${kind} are missing`);
    commit.rows[kind] = kindRows as unknown as IdentityRow[];
    commit.shards[kind] = kindShards as Record<string, Record<string, string>>;
  }
  return commit;
}
