/**
 * Identity lookups made while paging (issue 24, docs/names.md "Capture"): when every target of a
 * group this run pages has finished, the group's senders are known, so their name cards and roles
 * are looked up at once (50 a call), and their nicknames once 100 are waiting (group names come
 * with planning's own calls). These APIs have their own rate limits (docs/tencent-api.md "Rate limits"),
 * so the lookups take no pull's place; made after paging, the same calls came after the last
 * pull and lengthened the run by their own pacing (about 1 s on the benchmark's realistic app).
 *
 * A group's senders are taken from the tap when its paging ends (the tap forgets them), and the
 * rows go to the run's commits (identity-commits.ts), which compare and commit them a slice at a
 * time: what the lookups hold follows what is in flight, not the run's senders. What they were
 * handed and did not look up (partial batches, calls the budget refused, failed calls, lookups
 * given up at the deadline) is kept as pending for identity-capture.ts, which looks up what is left
 * (those, and groups still paging at the end) within what is left of the run's budget. The budget holds at every moment: a lookup is made only while
 * the calls made so far stay within the share of the run's other calls made so far.
 */
import pLimit from 'p-limit';
import type { TargetRef } from '../domain/continuation.ts';
import { AbortedError } from '../domain/errors.ts';
import { MEMBER_BATCH, PROFILE_BATCH, runCallBudget } from '../domain/identity-capture.ts';
import type { Logger } from '../domain/ports.ts';
import type { IdentityRunOptions } from './identity-capture.ts';
import type { IdentityCommits } from './identity-commits.ts';
import {
  type LookupContext,
  lookUpMembers,
  lookUpUsers,
  noCalls,
  type Prefetched,
  type PrefetchLeft,
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
  /** Where the rows go (compared and committed a slice at a time). */
  commits: IdentityCommits;
  /** False once the run is out of time (its deadline, a soft stop). */
  mayStart: () => boolean;
  signal?: AbortSignal | undefined;
}

export class IdentityPrefetch implements TargetObserver {
  /** Group id → its targets handed to paging and not finished. */
  private readonly open = new Map<string, number>();
  private readonly users = new Set<string>();
  /** Group id → accounts whose name card and role were looked up, each between two `\n`. */
  private readonly members = new Map<string, string>();
  private readonly groups: string[] = [];
  /** Accounts waiting for a full `portrait_get` batch. */
  private waitingUsers: string[] = [];
  /** Accounts waiting, being looked up, or left pending (or dropped): each is handled once a run. */
  private readonly queued = new Set<string>();
  private readonly left: PrefetchLeft = { users: [], members: new Map(), dropped: 0 };
  private leftMembers = 0;
  private leftUsers = 0;
  private readonly lookup: LookupContext;
  private readonly limit = pLimit(PREFETCH_IN_FLIGHT);
  private readonly inFlight = new Set<Promise<void>>();
  private closed = false;
  private abort: unknown;
  /** Aborts the lookups in flight when the run is out of time as paging ends (see drain). */
  private readonly cancel = new AbortController();

  public constructor(private readonly ctx: PrefetchContext) {
    ctx.tap.onCrowded = () => this.handIdle();
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
    this.leaveUsers(this.waitingUsers);
    this.waitingUsers = [];
    return {
      commits: this.ctx.commits,
      calls: this.lookup.calls,
      failedCalls: this.lookup.failed.calls,
      users: this.users,
      members: this.members,
      groups: this.groups,
      left: this.left,
    };
  }

  /**
   * The groups the tap holds senders of and no paging is under way for (the rescan reads history
   * outside paging), handed over as if their paging had ended: the tap holds at most about
   * MAX_HELD_GROUPS groups, not every group the rescan read.
   */
  private handIdle(): void {
    if (this.closed) return;
    const idle = [...this.ctx.tap.senders.keys()].filter((groupId) => !this.open.has(groupId));
    // Their name cards wait for after paging, behind the nicknames (as when the tap held them).
    for (const groupId of idle.slice(0, Math.ceil(idle.length / 2))) this.groupDone(groupId, false);
  }

  /** The group's senders, taken from the tap: their nicknames in batches, their cards and roles now (or left pending, `cardsNow` false). */
  private groupDone(groupId: string, cardsNow = true): void {
    if (this.closed) return;
    const senders = this.ctx.tap.take(groupId);
    if (senders === undefined) return;
    const doneText = this.members.get(groupId);
    const leftText = this.left.members.get(groupId);
    if (doneText === undefined && leftText === undefined && !this.ctx.tap.infos.has(groupId))
      this.groups.push(groupId);
    // A group handed over again (the rescan read it after its paging): not what was looked up or left.
    const seen = new Set([...(doneText?.split('\n') ?? []), ...(leftText?.split('\n') ?? [])]);
    const fresh = [...senders].filter((account) => !seen.has(account));
    // Nicknames before name cards, as after paging (functions/domain/identity-capture.ts planLookups):
    // when the budget binds, a nickname call names up to 100 accounts everywhere.
    for (const account of fresh) {
      if (this.users.has(account) || this.queued.has(account)) continue;
      this.queued.add(account);
      this.waitingUsers.push(account);
    }
    while (this.waitingUsers.length >= PROFILE_BATCH) {
      const batch = this.waitingUsers.splice(0, PROFILE_BATCH);
      this.start(
        () => this.lookUpUsers(batch),
        () => this.leaveUsers(batch),
      );
    }
    for (let i = 0; i < fresh.length; i += MEMBER_BATCH) {
      const batch = fresh.slice(i, i + MEMBER_BATCH);
      if (!cardsNow) {
        this.leaveMembers(groupId, batch);
        continue;
      }
      this.start(
        () => this.lookUpMembers(groupId, batch),
        () => this.leaveMembers(groupId, batch),
      );
    }
  }

  private async lookUpMembers(groupId: string, accounts: string[]): Promise<boolean> {
    const rows = await lookUpMembers(this.lookup, groupId, accounts);
    if (rows === undefined) return false;
    this.members.set(groupId, `${this.members.get(groupId) ?? '\n'}${accounts.join('\n')}\n`);
    await this.ctx.commits.add('members', rows);
    return true;
  }

  private async lookUpUsers(accounts: string[]): Promise<boolean> {
    const rows = await lookUpUsers(this.lookup, accounts);
    if (rows === undefined) return false;
    for (const account of accounts) {
      this.queued.delete(account);
      this.users.add(account);
    }
    await this.ctx.commits.add('users', rows);
    return true;
  }

  /** Accounts whose nickname was not looked up, pending once each (at most `maxPending`), as one text. */
  private leaveUsers(accounts: readonly string[]): void {
    const kept: string[] = [];
    // They stay in `queued`: not queued again this run, so each is left once.
    for (const account of accounts) {
      if (this.users.has(account)) continue;
      if (this.leftUsers < this.ctx.options.maxPending) kept.push(account);
      else this.left.dropped++;
    }
    this.leftUsers += kept.length;
    if (kept.length > 0) this.left.users.push(kept.join('\n'));
  }

  /** A group's accounts whose name card and role were not looked up, pending (at most `maxPending`). */
  private leaveMembers(groupId: string, accounts: readonly string[]): void {
    const kept = accounts.slice(0, Math.max(0, this.ctx.options.maxPending - this.leftMembers));
    this.left.dropped += accounts.length - kept.length;
    if (kept.length === 0) return;
    this.leftMembers += kept.length;
    const held = this.left.members.get(groupId);
    const text = kept.join('\n');
    this.left.members.set(groupId, held === undefined ? text : `${held}\n${text}`);
  }

  /**
   * Runs `lookup` when a slot is free, if the budget allows one more call then: the calls made so
   * far stay within the share of the run's other calls so far (the same rule as after paging).
   * What is not looked up (no room in the budget, a failed call, the run out of time) is left
   * pending by `leave`.
   */
  private start(lookup: () => Promise<boolean>, leave: () => void): void {
    const task = this.limit(async () => {
      const { maxCallShare, minCalls } = this.ctx.options;
      const { groupInfo, profiles, members } = this.lookup.calls;
      const budget = runCallBudget(this.ctx.tap.calls, maxCallShare, minCalls);
      if (this.closed || groupInfo + profiles + members >= budget) return leave();
      if (!(await lookup())) leave();
    }).catch((error: unknown) => {
      leave();
      this.closed = true;
      // Cancelled by drain (out of time): the items stay pending. Else the run is stopping: drain() throws it.
      if (this.ctx.signal?.aborted || !this.cancel.signal.aborted) this.abort ??= error;
    });
    const tracked = task.finally(() => this.inFlight.delete(tracked));
    this.inFlight.add(tracked);
  }
}
