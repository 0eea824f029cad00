/**
 * Identity lookups made while paging (issue 24, docs/names.md "Capture"): when every target of a
 * group this run pages has finished, the group's senders are known, so their name cards and roles
 * are looked up at once (50 a call), and their nicknames once 100 are waiting (group names come
 * with planning's own calls). These APIs have their own rate limits (docs/tencent-api.md "Rate limits"),
 * so the lookups take no pull's place; made after paging, the same calls came after the last
 * pull and lengthened the run by their own pacing (about 1 s on the benchmark's realistic app).
 *
 * Only reads: the rows are compared and committed after paging, by identity-capture.ts, which
 * looks up what is left (partial batches, groups still paging at the end, failed calls) within
 * what is left of the run's budget. The budget holds at every moment: a lookup is made only while
 * the calls made so far stay within the share of the run's other calls made so far.
 */
import pLimit from 'p-limit';
import type { TargetRef } from '../domain/continuation.ts';
import { AbortedError } from '../domain/errors.ts';
import { MEMBER_BATCH, PROFILE_BATCH, runCallBudget } from '../domain/identity-capture.ts';
import type { Logger } from '../domain/ports.ts';
import type { IdentityRunOptions } from './identity-capture.ts';
import {
  type LookupContext,
  lookUpMembers,
  lookUpUsers,
  noCalls,
  noRows,
  type Prefetched,
} from './identity-lookups.ts';
import type { IdentityTap } from './identity-tap.ts';
import type { TargetObserver } from './page-loop.ts';

/**
 * Lookups in flight at once while paging. The client's slots (64 by default) are mostly the
 * pages', which hold theirs while they wait for the pull API's pacer; 16 leave paging enough to
 * keep its pacer busy, and let the lookups run near their own APIs' rates at 80 ms round trips.
 */
export const PREFETCH_IN_FLIGHT = 16;

export interface PrefetchContext {
  tap: IdentityTap;
  logger: Logger;
  sdkAppId: number;
  /** `observed_at` of the rows (the run's). */
  observedAt: number;
  options: IdentityRunOptions;
  /** False once the run is out of time (its deadline, a soft stop). */
  mayStart: () => boolean;
  signal?: AbortSignal | undefined;
}

export class IdentityPrefetch implements TargetObserver {
  /** Group id → its targets handed to paging and not finished. */
  private readonly open = new Map<string, number>();
  private readonly users = new Set<string>();
  private readonly members = new Map<string, Set<string>>();
  /** Accounts waiting for a full `portrait_get` batch. */
  private waitingUsers: string[] = [];
  private readonly queued = new Set<string>();
  private readonly observed = noRows();
  private readonly lookup: LookupContext;
  private readonly limit = pLimit(PREFETCH_IN_FLIGHT);
  private readonly inFlight = new Set<Promise<void>>();
  private closed = false;
  private abort: unknown;
  /** Aborts the lookups in flight when the run is out of time as paging ends (see drain). */
  private readonly cancel = new AbortController();

  public constructor(private readonly ctx: PrefetchContext) {
    const signals = ctx.signal === undefined ? [this.cancel.signal] : [ctx.signal, this.cancel.signal];
    this.lookup = {
      api: ctx.tap.inner,
      logger: ctx.logger,
      sdkAppId: ctx.sdkAppId,
      observedAt: ctx.observedAt,
      mayStart: () => !this.closed && ctx.mayStart(),
      signal: AbortSignal.any(signals),
      calls: noCalls(),
      failed: { calls: 0 },
    };
  }

  public added(ref: TargetRef): void {
    this.open.set(ref.groupId, (this.open.get(ref.groupId) ?? 0) + 1);
  }

  public finished(ref: TargetRef): void {
    const left = (this.open.get(ref.groupId) ?? 1) - 1;
    if (left > 0) {
      this.open.set(ref.groupId, left);
      return;
    }
    this.open.delete(ref.groupId);
    this.groupDone(ref.groupId);
  }

  /**
   * No new lookup; resolves when those in flight have settled, with what they observed. A run out
   * of time (its deadline, a soft stop) does not wait for them: they are aborted, and their items
   * stay pending. Throws the abort of the run's own signal (the run is stopping).
   */
  public async drain(): Promise<Prefetched> {
    this.closed = true;
    if (!this.ctx.mayStart())
      this.cancel.abort(new AbortedError('the run is out of time: lookups left pending'));
    while (this.inFlight.size > 0) await Promise.all(this.inFlight);
    if (this.abort !== undefined) throw this.abort;
    return {
      observed: this.observed,
      calls: this.lookup.calls,
      failedCalls: this.lookup.failed.calls,
      users: this.users,
      members: this.members,
    };
  }

  /** The group's senders not looked up yet: their cards and roles now, their nicknames in batches. */
  private groupDone(groupId: string): void {
    const senders = this.ctx.tap.senders.get(groupId);
    if (senders === undefined || this.closed) return;
    const done = this.members.get(groupId);
    const fresh = [...senders].filter((account) => !done?.has(account));
    // Nicknames before name cards, as after paging (functions/domain/identity-capture.ts planLookups):
    // when the budget binds, a nickname call names up to 100 accounts everywhere.
    for (const account of fresh) {
      if (this.users.has(account) || this.queued.has(account)) continue;
      this.queued.add(account);
      this.waitingUsers.push(account);
    }
    while (this.waitingUsers.length >= PROFILE_BATCH) {
      const batch = this.waitingUsers.splice(0, PROFILE_BATCH);
      this.start(() => this.lookUpUsers(batch));
    }
    for (let i = 0; i < fresh.length; i += MEMBER_BATCH) {
      const batch = fresh.slice(i, i + MEMBER_BATCH);
      this.start(() => this.lookUpMembers(groupId, batch));
    }
  }

  private async lookUpMembers(groupId: string, accounts: string[]): Promise<void> {
    const rows = await lookUpMembers(this.lookup, groupId, accounts);
    if (rows === undefined) return;
    this.observed.members.push(...rows);
    let done = this.members.get(groupId);
    if (done === undefined) {
      done = new Set();
      this.members.set(groupId, done);
    }
    for (const account of accounts) done.add(account);
  }

  private async lookUpUsers(accounts: string[]): Promise<void> {
    const rows = await lookUpUsers(this.lookup, accounts);
    for (const account of accounts) this.queued.delete(account);
    if (rows === undefined) return;
    this.observed.users.push(...rows);
    for (const account of accounts) this.users.add(account);
  }

  /**
   * Runs `lookup` when a slot is free, if the budget allows one more call then: the calls made so
   * far stay within the share of the run's other calls so far (the same rule as after paging).
   */
  private start(lookup: () => Promise<void>): void {
    const task = this.limit(async () => {
      const { maxCallShare, minCalls } = this.ctx.options;
      const { groupInfo, profiles, members } = this.lookup.calls;
      const budget = runCallBudget(this.ctx.tap.calls, maxCallShare, minCalls);
      if (this.closed || groupInfo + profiles + members >= budget) return;
      await lookup();
    }).catch((error: unknown) => {
      this.closed = true;
      // Cancelled by drain (out of time): the items stay pending. Else the run is stopping: drain() throws it.
      if (this.ctx.signal?.aborted || !this.cancel.signal.aborted) this.abort ??= error;
    });
    const tracked = task.finally(() => this.inFlight.delete(tracked));
    this.inFlight.add(tracked);
  }
}
