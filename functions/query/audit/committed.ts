/**
 * The audit's view of the committed state: the state read through the domain's own reader
 * (`readLayout`: the head, its base and deltas, so the audit follows any change of the state
 * layout), the targets it claims (earlier generations included), the objects it names as not
 * committed, and which seqs it claims.
 */
import type { PendingWrite, TargetState } from '../../domain/continuation.ts';
import type { RolledBackKey } from '../../domain/lease.ts';
import { readLayout } from '../../domain/state-layout.ts';
import type { ObjectStore } from '../../domain/storage.ts';
import { type ObjectTarget, targetId } from './targets.ts';

export interface CommittedState {
  readonly pending: PendingWrite | null;
  readonly rolledBack: RolledBackKey[];
  readonly targets: TargetState[];
}

/** The committed state of an app, or null when it has none. */
export async function readState(store: ObjectStore, sdkAppId: number): Promise<CommittedState | null> {
  const stored = await readLayout(
    async (key) => {
      const object = await store.get(key);
      return object && { text: new TextDecoder().decode(object.body), etag: object.etag };
    },
    sdkAppId,
    store.location,
  );
  if (stored === undefined) return null;
  const { pending, rolledBack } = stored.read.head;
  return { pending, rolledBack, targets: [...stored.targets.values()] };
}

/**
 * The targets the state claims, per target key. The state keeps each target's current generation;
 * an earlier generation was archived whole before its seqs started over, so everything from its
 * first to its last row is claimed.
 */
export function claimedTargets(
  state: CommittedState | null,
  byTarget: ReadonlyMap<string, readonly ObjectTarget[]>,
): Map<string, TargetState> {
  const stateTargets = new Map<string, TargetState>();
  for (const t of state?.targets ?? []) {
    stateTargets.set(targetId(t.groupId, t.topicId, t.generation), t);
    for (let g = 0; g < t.generation; g++) {
      const old = byTarget.get(targetId(t.groupId, t.topicId, g)) ?? [];
      const top = Math.max(0, ...old.map((o) => o.lastSeq));
      stateTargets.set(targetId(t.groupId, t.topicId, g), {
        ...t,
        generation: g,
        highWater: top,
        inProgress: null,
      });
    }
  }
  return stateTargets;
}

/**
 * Objects the state names as not committed: an open intent, or keys rolled back after a takeover
 * (a frozen writer may put them late; every run deletes them again).
 */
export function pendingKeys(state: CommittedState | null): Set<string> {
  return new Set([...(state?.pending?.objects ?? []), ...(state?.rolledBack ?? []).map((r) => r.key)]);
}

/** What the state claims: seq <= highWater, and (cursor, top] of a range in progress. */
export const claims = (t: TargetState | undefined, seq: number) =>
  t !== undefined &&
  (seq <= t.highWater || (t.inProgress !== null && seq > t.inProgress.cursor && seq <= t.inProgress.top));
