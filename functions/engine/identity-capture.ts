/**
 * Identity capture (issue 24, docs/names.md "Capture"): after a run's history, look up the names of
 * the accounts that sent the messages it fetched and of the groups it archived (nicknames 100 a
 * call, group infos 50 a call, name cards and roles 50 senders a call per group), within a budget
 * of the run's calls, and write only the rows whose values changed (functions/domain/identity-rows.ts).
 *
 * Exactly once: a commit is first written whole as an intent (`intent-<version>.json`, create-only),
 * then applied: the rows objects (create-only, keys derived from the version), the changed shards of
 * last-known values, the head. A run finds an intent for the version after its head's and applies
 * it before anything else, so a kill anywhere gives each change once. Every write is fenced by the
 * run's lease (the `fence` given).
 */
import pLimit from 'p-limit';
import { PreconditionFailedError, StateCorruptError } from '../domain/errors.ts';
import {
  capWork,
  changedRows,
  distinct,
  emptyIdentityHead,
  GROUP_INFO_BATCH,
  groupRow,
  type IdentityCommit,
  type IdentityHead,
  type IdentityWork,
  identityHeadKey,
  identityIntentKey,
  identityRowsKey,
  identityShardKey,
  type LookupPlan,
  parseIdentityCommit,
  parseIdentityHead,
  parseShard,
  pickRollCall,
  planLookups,
  runCallBudget,
  serializeShard,
  shardOf,
} from '../domain/identity-capture.ts';
import { IDENTITY_KINDS, type IdentityKind, type IdentityRow, identityKey } from '../domain/identity-rows.ts';
import { gzipNdjson } from '../domain/ndjson-gzip.ts';
import { dateInZone } from '../domain/partition.ts';
import type { Clock, Logger } from '../domain/ports.ts';
import type { ObjectStore } from '../domain/storage.ts';
import type { GroupInfo } from '../domain/tencent-types.ts';
import {
  type LookupContext,
  lookUpGroups,
  lookUpMembers,
  lookUpUsers,
  noCalls,
  noRows,
  type ObservedRows,
  type Prefetched,
} from './identity-lookups.ts';
import type { IdentityTap } from './identity-tap.ts';
import { type RunDeps, type RunOptions, runObservedAt } from './run-options.ts';

/** The `identities.*` config as a run uses it. */
export interface IdentityRunOptions {
  enabled: boolean;
  /** The identity calls' largest share of the run's calls (0.05: at most 5 %). */
  maxCallShare: number;
  /** Items of each kind kept pending at most; beyond, the newest are dropped (looked up when seen again). */
  maxPending: number;
  /** Calls a run may always make, whatever the share (a small run's lookups and the roll call). */
  minCalls: number;
}

export const DEFAULT_IDENTITY_OPTIONS: IdentityRunOptions = {
  enabled: true,
  maxCallShare: 0.05,
  maxPending: 100_000,
  minCalls: 4,
};

/** Shard objects read or written at once (one shard is under 1 MB for a million keys). */
const SHARDS_IN_FLIGHT = 16;

/** Identity lookups in flight at once (the client paces them with everything else). */
const LOOKUPS_IN_FLIGHT = 32;

type PerKind = Record<IdentityKind, number>;

/** What the capture did, for the run report (`identities`). */
export interface IdentityReport {
  /** Calls made: `get_group_info`, `portrait_get`, `get_specified_group_member_info`. */
  calls: { groupInfo: number; profiles: number; members: number };
  /** Of those, calls made while paging (functions/engine/identity-prefetch.ts). */
  duringPaging: number;
  /** Calls the budget allowed. */
  budget: number;
  /** The run's other calls (the budget's base). */
  otherCalls: number;
  /** Groups whose name came with planning's own `get_group_info` call (no extra call). */
  groupsFromPlanning: number;
  /** Known groups checked by the roll call (dissolved groups, renames of idle groups). */
  rollCall: number;
  /** Rows written per kind. */
  rows: PerKind;
  /** Of those, rows of a key the archive had no row for (a first sighting, not a change). */
  firstRows: number;
  /** Left for the next run, per kind. */
  pending: PerKind;
  /** Pending items dropped over `maxPending`. */
  dropped: number;
  /** Lookup calls that failed (their items stay pending). */
  failedCalls: number;
  /** Whether a killed run's commit was finished first. */
  rolledForward: boolean;
  /** The capture's time after paging (its lookups while paging overlap the pulls). */
  elapsedMs: number;
}

/**
 * The run report with the capture's part: `identities` is kept beside the report's own keys (the
 * report's type and the runs table are another module's: functions/engine/report.ts,
 * functions/query/tables.ts), so it is in the stored JSON and the returned report.
 */
export function withIdentities<R extends object>(report: R): R & { identities?: IdentityReport } {
  return report as R & { identities?: IdentityReport };
}

export interface IdentityContext {
  tap: IdentityTap;
  store: ObjectStore;
  clock: Clock;
  logger: Logger;
  /** Checks the lease (and the hard stop) right before a write. */
  fence: () => Promise<void>;
  sdkAppId: number;
  timeZone: string;
  /** `observed_at` of the rows (the run's). */
  observedAt: number;
  options: IdentityRunOptions;
  /** False once the run is out of time (its deadline, a soft stop): no lookup starts, the rest goes pending. */
  mayStart: () => boolean;
  /** The groups the archive knows (for the roll call), as the run's state holds them. */
  known?: { readonly size: number; values(): Iterable<{ groupId: string }> } | undefined;
  signal?: AbortSignal | undefined;
  /** What was looked up while paging (identity-prefetch.ts): not looked up again, within the same budget. */
  prefetched?: Prefetched | undefined;
}

/** How run-archive.ts hands a run to the capture. */
export interface RunIdentities {
  tap: IdentityTap;
  options: Pick<RunOptions, 'sdkAppId' | 'timeZone' | 'observedAtSec' | 'deadlineMs'> & {
    identities?: IdentityRunOptions | undefined;
  };
  fence: () => Promise<void>;
  signal?: AbortSignal | undefined;
  known?: IdentityContext['known'];
  /** The soft stop: when it fired, nothing is looked up (the run's work goes pending). */
  stop?: AbortSignal | undefined;
  prefetched?: Prefetched | undefined;
}

/** The capture at the end of a run (after its history and rescan): the run's options and deps. */
export function captureForRun(
  deps: Pick<RunDeps, 'store' | 'clock' | 'logger'>,
  run: RunIdentities,
): Promise<IdentityReport> {
  const { options, stop } = run;
  const { clock } = deps;
  return captureIdentities({
    ...deps,
    ...run,
    sdkAppId: options.sdkAppId,
    timeZone: options.timeZone,
    observedAt: runObservedAt(options, clock.now()),
    options: options.identities ?? DEFAULT_IDENTITY_OPTIONS,
    mayStart: () => !stop?.aborted && (options.deadlineMs === null || clock.now() < options.deadlineMs),
  });
}

const zero = (): PerKind => ({ users: 0, groups: 0, members: 0 });

/** Look up, compare and commit the run's identities. */
export async function captureIdentities(ctx: IdentityContext): Promise<IdentityReport> {
  const started = ctx.clock.now();
  const { head, rolledForward } = await openIdentityState(ctx);
  const prefetched = ctx.prefetched;
  const report: IdentityReport = {
    calls: { ...noCalls(), ...prefetched?.calls },
    duringPaging: prefetched
      ? prefetched.calls.groupInfo + prefetched.calls.profiles + prefetched.calls.members
      : 0,
    budget: 0,
    otherCalls: ctx.tap.calls,
    groupsFromPlanning: 0,
    rollCall: 0,
    rows: zero(),
    firstRows: 0,
    pending: zero(),
    dropped: 0,
    failedCalls: prefetched?.failedCalls ?? 0,
    rolledForward,
    elapsedMs: 0,
  };
  const work = runWork(ctx.tap, head.pending, prefetched);
  // Every group planning read (up to MAX_TAPPED_INFOS, archived or idle) is compared at no call:
  // an idle group's rename is found too.
  const fromPlanning: GroupInfo[] = [...ctx.tap.infos.values()];
  work.groups = work.groups.filter((groupId) => !ctx.tap.infos.has(groupId));
  report.groupsFromPlanning = fromPlanning.length;
  const { maxCallShare, minCalls } = ctx.options;
  report.budget = runCallBudget(report.otherCalls, maxCallShare, minCalls);
  const spent = report.calls.groupInfo + report.calls.profiles + report.calls.members;
  const left = ctx.mayStart() ? Math.max(0, report.budget - spent) : 0;
  const plan = planLookups(work, left);
  const rollCall = addRollCall(ctx, { plan, work, cursor: head.rollCall, budget: left });
  report.rollCall = rollCall.checked;
  const observed = await lookUp(ctx, plan, report);
  for (const kind of IDENTITY_KINDS) observed[kind].push(...(prefetched?.observed[kind] ?? []));
  observed.groups.push(...fromPlanning.flatMap((info) => groupRow(ctx.sdkAppId, info, ctx.observedAt) ?? []));
  const capped = capWork(observed.left, ctx.options.maxPending);
  report.dropped = capped.dropped;
  report.pending = {
    users: capped.work.users.length,
    groups: capped.work.groups.length,
    members: capped.work.members.length,
  };
  const commit = await diff(ctx, observed, { version: head.version + 1, report });
  commit.pending = capped.work;
  commit.rollCall = rollCall.cursor;
  for (const kind of IDENTITY_KINDS) report.rows[kind] = commit.rows[kind].length;
  const anyRows = IDENTITY_KINDS.some((kind) => commit.rows[kind].length > 0);
  const headChanged =
    commit.rollCall !== head.rollCall || JSON.stringify(commit.pending) !== JSON.stringify(head.pending);
  if (anyRows || headChanged) {
    await writeIntent(ctx, commit);
    await applyCommit(ctx, commit);
  }
  report.elapsedMs = ctx.clock.now() - started;
  return report;
}

/**
 * Known groups no other lookup of this run covers, checked with the calls left over (50 a call),
 * added to the plan's group calls; the next cursor.
 */
function addRollCall(
  ctx: IdentityContext,
  at: { plan: LookupPlan; work: IdentityWork; cursor: number; budget: number },
): { checked: number; cursor: number } {
  const { plan, work, cursor, budget } = at;
  const used = plan.groupBatches.length + plan.userBatches.length + plan.memberBatches.length;
  const known = ctx.known;
  if (known === undefined || budget - used <= 0) return { checked: 0, cursor };
  const covered = new Set([...work.groups, ...ctx.tap.infos.keys()]);
  const ids = function* () {
    for (const target of known.values()) if (!covered.has(target.groupId)) yield target.groupId;
  };
  const picked = pickRollCall(ids(), known.size, { cursor, capacity: (budget - used) * GROUP_INFO_BATCH });
  for (let i = 0; i < picked.groupIds.length; i += GROUP_INFO_BATCH)
    plan.groupBatches.push(picked.groupIds.slice(i, i + GROUP_INFO_BATCH));
  return { checked: picked.groupIds.length, cursor: picked.cursor };
}

/**
 * The run's work: what was pending first, then the groups and senders of this run, but for what
 * was looked up while paging.
 */
function runWork(tap: IdentityTap, pending: IdentityWork, prefetched: Prefetched | undefined): IdentityWork {
  const groups = [...pending.groups, ...tap.senders.keys()];
  const users = [...pending.users];
  const members: [string, string][] = [...pending.members];
  for (const [groupId, accounts] of tap.senders) {
    for (const account of accounts) {
      users.push(account);
      members.push([groupId, account]);
    }
  }
  const userDone = (account: string) => prefetched?.users.has(account) === true;
  const memberDone = (pair: [string, string]) => prefetched?.members.get(pair[0])?.has(pair[1]) === true;
  return {
    groups: distinct(groups),
    users: distinct(users.filter((account) => !userDone(account))),
    members: distinct(
      members.filter((pair) => !memberDone(pair)),
      (pair) => `${pair[0]}\n${pair[1]}`,
    ),
  };
}

/** What the lookups observed, per kind, and what is left for the next run. */
interface Observed extends ObservedRows {
  left: IdentityWork;
}

/** Makes the planned calls; a failed call's items go back to the pending work. */
async function lookUp(ctx: IdentityContext, plan: LookupPlan, report: IdentityReport): Promise<Observed> {
  const limit = pLimit(LOOKUPS_IN_FLIGHT);
  const lookup: LookupContext = {
    api: ctx.tap.inner,
    logger: ctx.logger,
    sdkAppId: ctx.sdkAppId,
    observedAt: ctx.observedAt,
    mayStart: ctx.mayStart,
    signal: ctx.signal,
    calls: report.calls,
    failed: { calls: 0 },
  };
  const observed: Observed = { ...noRows(), left: plan.left };
  const failed: IdentityWork = { groups: [], users: [], members: [] };
  const gone = new Set<string>();
  await Promise.all(
    plan.groupBatches.map((batch) =>
      limit(async () => {
        const got = await lookUpGroups(lookup, batch);
        if (got === undefined) return void failed.groups.push(...batch);
        observed.groups.push(...got.rows);
        for (const groupId of got.gone) gone.add(groupId);
      }),
    ),
  );
  for (const info of ctx.tap.infos.values()) if (!info.ok) gone.add(info.groupId);
  await Promise.all([
    ...plan.userBatches.map((batch) =>
      limit(async () => {
        const rows = await lookUpUsers(lookup, batch);
        if (rows === undefined) return void failed.users.push(...batch);
        observed.users.push(...rows);
      }),
    ),
    ...plan.memberBatches
      .filter((batch) => !gone.has(batch.groupId))
      .map(({ groupId, accounts }) =>
        limit(async () => {
          const rows = await lookUpMembers(lookup, groupId, accounts);
          if (rows === undefined)
            return void failed.members.push(...accounts.map((a): [string, string] => [groupId, a]));
          observed.members.push(...rows);
        }),
      ),
  ]);
  report.failedCalls += lookup.failed.calls;
  observed.left = {
    groups: [...failed.groups, ...plan.left.groups],
    users: [...failed.users, ...plan.left.users],
    members: [...failed.members, ...plan.left.members],
  };
  return observed;
}

/** Compares the observed rows with the shards they fall in (one shard loaded at a time). */
async function diff(
  ctx: IdentityContext,
  observed: Observed,
  at: { version: number; report: IdentityReport },
): Promise<IdentityCommit> {
  const { version, report } = at;
  const commit: IdentityCommit = {
    version,
    dt: dateInZone(ctx.observedAt, ctx.timeZone),
    rows: { users: [], groups: [], members: [] },
    shards: { users: {}, groups: {}, members: {} },
    pending: { groups: [], users: [], members: [] },
    rollCall: 0,
  };
  // The three kinds' shards share the 16 reads in flight (the kinds one after the other left the
  // store idle at each kind's last reads).
  const shardIo = pLimit(SHARDS_IN_FLIGHT);
  const diffKind = async (kind: IdentityKind): Promise<void> => {
    const byShard = new Map<string, IdentityRow[]>();
    for (const row of observed[kind]) {
      const shard = shardOf(identityKey(kind, row));
      const list = byShard.get(shard) ?? [];
      list.push(row);
      byShard.set(shard, list);
    }
    await Promise.all(
      [...byShard.keys()].map((shard) =>
        shardIo(async () => {
          const hashes = await readShard(ctx, kind, shard);
          const { rows, changes, firstRows } = changedRows(kind, byShard.get(shard) ?? [], hashes);
          report.firstRows += firstRows;
          if (rows.length === 0) return;
          commit.rows[kind].push(...rows);
          commit.shards[kind][shard] = changes;
        }),
      ),
    );
    // In key order, whatever the shards' order: the same rows give the same object.
    const keyed = commit.rows[kind].map((row) => [identityKey(kind, row), row] as const);
    keyed.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
    commit.rows[kind] = keyed.map(([, row]) => row);
  };
  await Promise.all(IDENTITY_KINDS.map(diffKind));
  return commit;
}

async function readShard(ctx: IdentityContext, kind: IdentityKind, shard: string) {
  const key = identityShardKey(ctx.sdkAppId, kind, shard);
  const object = await ctx.store.get(key);
  return object === undefined ? new Map<string, string>() : parseShard(decode(object.body), key);
}

const decode = (body: Uint8Array): string => new TextDecoder().decode(body);
const encode = (text: string): Uint8Array => new TextEncoder().encode(text);

/** The head, after finishing a commit a killed run left (its intent for the next version). */
async function openIdentityState(
  ctx: IdentityContext,
): Promise<{ head: IdentityHead; rolledForward: boolean }> {
  const headKey = identityHeadKey(ctx.sdkAppId);
  const stored = await ctx.store.get(headKey);
  let head = stored === undefined ? emptyIdentityHead() : parseIdentityHead(decode(stored.body), headKey);
  const intentKey = identityIntentKey(ctx.sdkAppId, head.version + 1);
  const intent = await ctx.store.get(intentKey);
  if (intent === undefined) {
    // A run killed after its head and before deleting its intent left it: done, only tidied here.
    const done = head.version > 0 ? identityIntentKey(ctx.sdkAppId, head.version) : undefined;
    if (done !== undefined && (await ctx.store.get(done)) !== undefined) {
      await ctx.fence();
      await ctx.store.delete(done);
    }
    return { head, rolledForward: false };
  }
  const commit = parseIdentityCommit(decode(intent.body), intentKey);
  if (commit.version !== head.version + 1)
    throw new StateCorruptError(`${intentKey}: holds version ${commit.version}, not ${head.version + 1}`);
  ctx.logger.info('finishing the identity commit a stopped run left', { version: commit.version });
  await applyCommit(ctx, commit);
  head = { version: commit.version, pending: commit.pending, rollCall: commit.rollCall };
  return { head, rolledForward: true };
}

async function writeIntent(ctx: IdentityContext, commit: IdentityCommit): Promise<void> {
  await ctx.fence();
  await ctx.store.put(
    identityIntentKey(ctx.sdkAppId, commit.version),
    encode(`${JSON.stringify(commit)}\n`),
    {
      ifNoneMatch: '*',
      contentType: 'application/json',
    },
  );
}

/** Applies a commit written as an intent; every step can be repeated (a rolled-forward commit). */
async function applyCommit(ctx: IdentityContext, commit: IdentityCommit): Promise<void> {
  const { store, sdkAppId } = ctx;
  for (const kind of IDENTITY_KINDS) {
    const rows = commit.rows[kind];
    if (rows.length === 0) continue;
    const body = await gzipNdjson(rows.map((row) => JSON.stringify(row)));
    await ctx.fence();
    try {
      await store.put(identityRowsKey(kind, sdkAppId, commit.dt, commit.version), body, {
        ifNoneMatch: '*',
        contentType: 'application/x-ndjson',
        contentEncoding: 'gzip',
      });
    } catch (error) {
      // Written by the run that was stopped: the same rows (the intent's), once.
      if (!(error instanceof PreconditionFailedError)) throw error;
    }
  }
  const shardIo = pLimit(SHARDS_IN_FLIGHT);
  const shardWrites = IDENTITY_KINDS.flatMap((kind) =>
    Object.entries(commit.shards[kind]).map(([shard, changes]) =>
      shardIo(async () => {
        const hashes = await readShard(ctx, kind, shard);
        for (const [key, hash] of Object.entries(changes)) hashes.set(key, hash);
        await ctx.fence();
        await store.put(identityShardKey(sdkAppId, kind, shard), encode(serializeShard(hashes)), {
          contentType: 'application/json',
        });
      }),
    ),
  );
  // Every write settles before the head is written (a failed one fails the commit: rolled forward next run).
  const settled = await Promise.allSettled(shardWrites);
  const failed = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (failed) throw failed.reason;
  const head: IdentityHead = { version: commit.version, pending: commit.pending, rollCall: commit.rollCall };
  await ctx.fence();
  await store.put(identityHeadKey(sdkAppId), encode(`${JSON.stringify(head)}\n`), {
    contentType: 'application/json',
  });
  await store.delete(identityIntentKey(sdkAppId, commit.version));
}
