/**
 * The identity capture's three lookups (issue 24, docs/names.md "Capture"), as rows: one call each,
 * shared by the lookups made while paging (identity-prefetch.ts) and those made after it
 * (identity-capture.ts). A call is counted, made only while the run may still start work, and a
 * failed one is logged and reported as `undefined` (its items are looked up again later); an
 * abort is thrown.
 */
import { AbortedError } from '../domain/errors.ts';
import { groupRow, memberRow, userRow } from '../domain/identity-capture.ts';
import type { IdentityRow } from '../domain/identity-rows.ts';
import type { ChatApi, Logger } from '../domain/ports.ts';
import { describeError } from './errors.ts';
import type { IdentityCommits } from './identity-commits.ts';

/** Calls made, per API: `get_group_info`, `portrait_get`, `get_specified_group_member_info`. */
export interface IdentityCalls {
  groupInfo: number;
  profiles: number;
  members: number;
}

/** What was looked up while paging, for the capture after it (its rows are committed already or buffered in `commits`). */
export interface Prefetched {
  /** The run's commits, holding what the lookups while paging observed and have not committed yet. */
  commits: IdentityCommits;
  calls: IdentityCalls;
  failedCalls: number;
  /** Accounts whose nickname was looked up. */
  users: ReadonlySet<string>;
  /** Group id → the accounts whose name card and role were looked up, as text: each between two `\n`. */
  members: ReadonlyMap<string, string>;
  /** The groups whose senders were handed to the lookups (their names are asked after paging unless planning gave them). */
  groups: readonly string[];
  /** Handed to the lookups and not looked up (the budget, a failed call, the run out of time): pending. */
  left: PrefetchLeft;
}

/** What the lookups while paging leave pending, at most `maxPending` of each kind (the rest dropped). */
export interface PrefetchLeft {
  /** Accounts, joined by `\n`, a batch a string (one string per account held 4 times the bytes). */
  users: string[];
  /** Group id → its accounts, joined by `\n`. */
  members: Map<string, string>;
  /** Items beyond `maxPending`, dropped. */
  dropped: number;
}

export const noCalls = (): IdentityCalls => ({ groupInfo: 0, profiles: 0, members: 0 });

/** What a lookup needs: the API (not the tap: these calls are not the run's own), and where rows go. */
export interface LookupContext {
  api: ChatApi;
  logger: Logger;
  sdkAppId: number;
  /** `observed_at` of the rows. */
  observedAt: number;
  /** False once the run is out of time: the call is not made. */
  mayStart: () => boolean;
  signal?: AbortSignal | undefined;
  /** Counted before each call is made. */
  calls: IdentityCalls;
  /** Counted when a call fails (not for an abort). */
  failed: { calls: number };
}

/**
 * Makes one call unless the run is out of time; `undefined` when it was not made or failed (logged,
 * counted). Aborts are thrown: the run is stopping.
 */
async function guarded<T>(
  ctx: LookupContext,
  api: keyof IdentityCalls,
  call: () => Promise<T>,
): Promise<T | undefined> {
  if (!ctx.mayStart()) return undefined;
  ctx.calls[api]++;
  try {
    return await call();
  } catch (error) {
    if (error instanceof AbortedError || ctx.signal?.aborted) throw error;
    ctx.failed.calls++;
    ctx.logger.warn('an identity lookup failed; its names stay pending', { error: describeError(error) });
    return undefined;
  }
}

/** Up to 50 groups' names and types (`get_group_info`); the ids found dissolved or unknown. */
export async function lookUpGroups(
  ctx: LookupContext,
  groupIds: readonly string[],
): Promise<{ rows: IdentityRow[]; gone: string[] } | undefined> {
  const infos = await guarded(ctx, 'groupInfo', () => ctx.api.getGroupInfo(groupIds, ctx.signal));
  if (infos === undefined) return undefined;
  const rows: IdentityRow[] = [];
  const gone: string[] = [];
  for (const info of infos) {
    if (!info.ok) gone.push(info.groupId);
    const row = groupRow(ctx.sdkAppId, info, ctx.observedAt);
    if (row) rows.push(row);
  }
  return { rows, gone };
}

/** Up to 100 accounts' nicknames (`portrait_get`). */
export async function lookUpUsers(
  ctx: LookupContext,
  accounts: readonly string[],
): Promise<IdentityRow[] | undefined> {
  const profiles = await guarded(ctx, 'profiles', () => ctx.api.getProfiles(accounts, ctx.signal));
  return profiles?.map((profile) => userRow(ctx.sdkAppId, profile, ctx.observedAt));
}

/** Up to 50 accounts' name cards and roles in one group (`get_specified_group_member_info`); a row each. */
export async function lookUpMembers(
  ctx: LookupContext,
  groupId: string,
  accounts: readonly string[],
): Promise<IdentityRow[] | undefined> {
  const result = await guarded(ctx, 'members', () => ctx.api.getGroupMembers(groupId, accounts, ctx.signal));
  if (result === undefined) return undefined;
  const byAccount = new Map(result.members.map((m) => [m.account, m]));
  return accounts.map((account) =>
    memberRow(ctx.sdkAppId, { groupId, account, observedAt: ctx.observedAt }, byAccount.get(account)),
  );
}
