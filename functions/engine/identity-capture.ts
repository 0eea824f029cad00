/**
 * Identity capture (issue 24, docs/names.md "Capture"): after a run's history, look up the names of
 * the accounts that sent the messages it fetched and of the groups it archived (nicknames 100 a
 * call, group infos 50 a call, name cards and roles 50 senders a call per group), within a budget
 * of the run's calls, and write only the rows whose values changed (functions/domain/identity-rows.ts).
 * Most lookups are made while paging (identity-prefetch.ts); this looks up what they left.
 *
 * Exactly once: identity-commits.ts compares and commits the rows a slice at a time, each slice an
 * intent (`intent-<version>.json`, create-only) then applied; the last slice carries the pending
 * work. Every write is fenced by the run's lease (the `fence` given).
 */
import pLimit from 'p-limit';
import {
  capWork,
  distinct,
  GROUP_INFO_BATCH,
  type GroupedWork,
  groupRow,
  type IdentityWork,
  type LookupPlan,
  pickRollCall,
  planGroupedLookups,
  runCallBudget,
} from '../domain/identity-capture.ts';
import type { IdentityKind } from '../domain/identity-rows.ts';
import type { Clock, Logger } from '../domain/ports.ts';
import type { ObjectStore } from '../domain/storage.ts';
import { IdentityCommits } from './identity-commits.ts';
import {
  type LookupContext,
  lookUpGroups,
  lookUpMembers,
  lookUpUsers,
  noCalls,
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
  /** Observed rows compared and committed at a time (identity-commits.ts; default SLICE_ROWS, not configurable: tests set it). */
  sliceRows?: number | undefined;
}

export const DEFAULT_IDENTITY_OPTIONS: IdentityRunOptions = {
  enabled: true,
  maxCallShare: 0.05,
  maxPending: 100_000,
  minCalls: 4,
};

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
  const prefetched = ctx.prefetched;
  const commits = prefetched?.commits ?? new IdentityCommits(ctx, ctx.options.sliceRows);
  const opened = await commits.head();
  const cursor = opened.rollCall;
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
    dropped: prefetched?.left.dropped ?? 0,
    failedCalls: prefetched?.failedCalls ?? 0,
    rolledForward: false,
    elapsedMs: 0,
  };
  const work = runWork(ctx.tap, opened.pending, prefetched);
  // Every group planning read (up to MAX_TAPPED_INFOS, archived or idle) is compared at no call:
  // an idle group's rename is found too.
  work.groups = work.groups.filter((groupId) => !ctx.tap.infos.has(groupId));
  report.groupsFromPlanning = ctx.tap.infos.size;
  const { maxCallShare, minCalls } = ctx.options;
  report.budget = runCallBudget(report.otherCalls, maxCallShare, minCalls);
  const spent = report.calls.groupInfo + report.calls.profiles + report.calls.members;
  const left = ctx.mayStart() ? Math.max(0, report.budget - spent) : 0;
  // What is left beyond maxPending would be dropped as pending: counted, not listed.
  const { plan, dropped } = planGroupedLookups(work, left, ctx.options.maxPending);
  report.dropped += dropped;
  const rollCall = addRollCall(ctx, { plan, groups: work.groups, cursor, budget: left });
  report.rollCall = rollCall.checked;
  const failed = await lookUp(ctx, plan, { report, commits });
  for (const info of ctx.tap.infos.values()) {
    const row = groupRow(ctx.sdkAppId, info, ctx.observedAt);
    if (row) await commits.add('groups', [row]);
  }
  const capped = capWork(failed, ctx.options.maxPending);
  report.dropped += capped.dropped;
  report.pending = {
    users: capped.work.users.length,
    groups: capped.work.groups.length,
    members: capped.work.members.length,
  };
  await commits.finish(capped.work, rollCall.cursor);
  report.rows = { ...commits.counts.rows };
  report.firstRows = commits.counts.firstRows;
  report.rolledForward = commits.counts.rolledForward;
  report.elapsedMs = ctx.clock.now() - started;
  return report;
}

/**
 * Known groups no other lookup of this run covers, checked with the calls left over (50 a call),
 * added to the plan's group calls; the next cursor.
 */
function addRollCall(
  ctx: IdentityContext,
  at: { plan: LookupPlan; groups: readonly string[]; cursor: number; budget: number },
): { checked: number; cursor: number } {
  const { plan, groups, cursor, budget } = at;
  const used = plan.groupBatches.length + plan.userBatches.length + plan.memberBatches.length;
  const known = ctx.known;
  if (known === undefined || budget - used <= 0) return { checked: 0, cursor };
  const covered = new Set([...groups, ...ctx.tap.infos.keys()]);
  const ids = function* () {
    for (const target of known.values()) if (!covered.has(target.groupId)) yield target.groupId;
  };
  const picked = pickRollCall(ids(), known.size, { cursor, capacity: (budget - used) * GROUP_INFO_BATCH });
  for (let i = 0; i < picked.groupIds.length; i += GROUP_INFO_BATCH)
    plan.groupBatches.push(picked.groupIds.slice(i, i + GROUP_INFO_BATCH));
  return { checked: picked.groupIds.length, cursor: picked.cursor };
}

/**
 * The run's work: what was pending first, then what the lookups while paging left and the groups
 * and senders the tap still holds (groups still paging at the end, the rescan's), but for what was
 * looked up while paging; each kind distinct, first seen first, members grouped (no pair an object).
 */
function runWork(tap: IdentityTap, pending: IdentityWork, prefetched: Prefetched | undefined): GroupedWork {
  const groups = distinct([...pending.groups, ...(prefetched?.groups ?? []), ...tap.senders.keys()]);
  const users = new Set<string>();
  const addUser = (account: string): void => {
    if (prefetched?.users.has(account) !== true) users.add(account);
  };
  const members = new Map<string, Set<string>>();
  // A group's looked-up accounts as a set, made when the group is first asked about.
  const doneSets = new Map<string, ReadonlySet<string>>();
  const addMember = (groupId: string, account: string): void => {
    const text = prefetched?.members.get(groupId);
    if (text !== undefined) {
      let done = doneSets.get(groupId);
      if (done === undefined) {
        done = new Set(text.split('\n'));
        doneSets.set(groupId, done);
      }
      if (done.has(account)) return;
    }
    let accounts = members.get(groupId);
    if (accounts === undefined) {
      accounts = new Set();
      members.set(groupId, accounts);
    }
    accounts.add(account);
  };
  for (const account of pending.users) addUser(account);
  for (const text of prefetched?.left.users ?? []) for (const account of text.split('\n')) addUser(account);
  for (const [groupId, account] of pending.members) addMember(groupId, account);
  for (const [groupId, text] of prefetched?.left.members ?? [])
    for (const account of text.split('\n')) addMember(groupId, account);
  for (const [groupId, accounts] of tap.senders) {
    for (const account of accounts) {
      addUser(account);
      addMember(groupId, account);
    }
  }
  return { groups, users: [...users], members };
}

/**
 * Makes the planned calls, their rows to the commits; what is left for the next run (a failed
 * call's items, then what the plan left).
 */
async function lookUp(
  ctx: IdentityContext,
  plan: LookupPlan,
  to: { report: IdentityReport; commits: IdentityCommits },
): Promise<IdentityWork> {
  const { report, commits } = to;
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
  const failed: IdentityWork = { groups: [], users: [], members: [] };
  const gone = new Set<string>();
  await Promise.all(
    plan.groupBatches.map((batch) =>
      limit(async () => {
        const got = await lookUpGroups(lookup, batch);
        if (got === undefined) return void failed.groups.push(...batch);
        for (const groupId of got.gone) gone.add(groupId);
        await commits.add('groups', got.rows);
      }),
    ),
  );
  for (const info of ctx.tap.infos.values()) if (!info.ok) gone.add(info.groupId);
  await Promise.all([
    ...plan.userBatches.map((batch) =>
      limit(async () => {
        const rows = await lookUpUsers(lookup, batch);
        if (rows === undefined) return void failed.users.push(...batch);
        await commits.add('users', rows);
      }),
    ),
    ...plan.memberBatches
      .filter((batch) => !gone.has(batch.groupId))
      .map(({ groupId, accounts }) =>
        limit(async () => {
          const rows = await lookUpMembers(lookup, groupId, accounts);
          if (rows === undefined)
            return void failed.members.push(...accounts.map((a): [string, string] => [groupId, a]));
          await commits.add('members', rows);
        }),
      ),
  ]);
  report.failedCalls += lookup.failed.calls;
  return {
    groups: [...failed.groups, ...plan.left.groups],
    users: [...failed.users, ...plan.left.users],
    members: [...failed.members, ...plan.left.members],
  };
}
