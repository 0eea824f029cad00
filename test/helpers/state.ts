/** Reads an app's committed state the way the engine does (head, base, deltas), for assertions. */
import type { ArchiveState, TargetState } from '../../functions/domain/continuation.ts';
import { namedTargetObjects, type StateHead } from '../../functions/domain/state-layout.ts';
import type { ObjectStore } from '../../functions/domain/storage.ts';
import { readStoredState } from '../../functions/engine/state-reader.ts';

/** The head's fields, every target merged, and the target objects the head names. */
export type TestState = Omit<ArchiveState, 'version' | 'targets'> & {
  head: StateHead;
  targets: TargetState[];
  /** Keys of the base and deltas the head names (empty for an inline version-1 state). */
  named: string[];
};

export async function readState(store: ObjectStore, sdkAppId: number): Promise<TestState | undefined> {
  const stored = await readStoredState(store, sdkAppId);
  if (stored === undefined) return undefined;
  const head = stored.read.head;
  return {
    sdkAppId: head.sdkAppId,
    lease: head.lease,
    pending: head.pending,
    rolledBack: head.rolledBack,
    head,
    targets: [...stored.targets.values()],
    named: namedTargetObjects(head),
  };
}
