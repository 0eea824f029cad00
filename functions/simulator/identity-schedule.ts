/**
 * Identity changes the simulator makes by itself at set times (issue 24): renames of users and
 * groups, name cards, promotions and demotions, deleted accounts and dissolved groups, between runs
 * or in the middle of one. Each change takes effect before the first request that arrives at or
 * after its time (the simulator's clock, `now`), so a run that spans the time sees the old value
 * first and the new one after, as on the real server.
 */
import { ConfigError } from '../domain/errors.ts';

export type ScheduledIdentityChange =
  | { atMs: number; kind: 'rename-user'; account: string; nick: string }
  | { atMs: number; kind: 'delete-account'; account: string }
  | { atMs: number; kind: 'rename-group'; groupId: string; name: string }
  | { atMs: number; kind: 'name-card'; groupId: string; account: string; nameCard: string }
  | { atMs: number; kind: 'role'; groupId: string; account: string; role: 'Admin' | 'Member' }
  | { atMs: number; kind: 'dissolve-group'; groupId: string };

/** Applies the changes whose time has come, each once, in time order (ties in the given order). */
export class IdentitySchedule {
  readonly #pending: ScheduledIdentityChange[];
  #applied = 0;

  constructor(
    changes: readonly ScheduledIdentityChange[],
    private readonly apply: (change: ScheduledIdentityChange) => void,
  ) {
    for (const [i, change] of changes.entries()) {
      if (!Number.isFinite(change.atMs)) {
        throw new ConfigError(`identitySchedule.${i}.atMs must be epoch milliseconds`, {
          field: `identitySchedule.${i}.atMs`,
        });
      }
    }
    this.#pending = changes
      .map((change, order) => ({ change, order }))
      .sort((a, b) => a.change.atMs - b.change.atMs || a.order - b.order)
      .map((entry) => entry.change);
  }

  /** Changes applied so far. */
  get applied(): number {
    return this.#applied;
  }

  /** Applies every change due at `nowMs`; returns how many it applied now. */
  applyDue(nowMs: number): number {
    let count = 0;
    while (this.#pending.length > 0 && (this.#pending[0] as ScheduledIdentityChange).atMs <= nowMs) {
      this.apply(this.#pending.shift() as ScheduledIdentityChange);
      count++;
    }
    this.#applied += count;
    return count;
  }
}
