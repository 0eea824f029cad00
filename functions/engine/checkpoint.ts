/**
 * The checkpoint protocol that makes every message land exactly once:
 *
 *   1. drain (the caller): stop dispatching and let in-flight pages finish;
 *   2. intent: write the object keys about to be written into the state (conditional write);
 *   3. write the objects (create-only);
 *   4. commit: advance the cursors and clear the intent (conditional write).
 *
 * A run that dies anywhere leaves either nothing, or an intent whose objects the next run deletes
 * (`rollBackPendingWrite`) before it continues from the last committed cursors.
 */
import { targetKey } from '../domain/continuation.ts';
import type { Logger } from '../domain/ports.ts';
import type { ObjectStore } from '../domain/storage.ts';
import type { PartitionWriter } from './partition-writer.ts';
import type { RunReport } from './report.ts';
import type { StateKeeper } from './state-keeper.ts';
import type { TargetWork } from './target-work.ts';

/** Delete the objects of a checkpoint that never committed, then clear the intent. */
export async function rollBackPendingWrite(
  keeper: StateKeeper,
  store: ObjectStore,
  logger: Logger,
  report: RunReport,
): Promise<void> {
  const pending = keeper.state.pending;
  if (!pending) return;
  logger.warn('rolling back an uncommitted checkpoint of an earlier run', {
    runId: pending.runId,
    objects: pending.objects.length,
  });
  for (const key of pending.objects) await store.delete(key);
  await keeper.update((s) => ({ ...s, pending: null }));
  report.rolledBackObjects += pending.objects.length;
}

/** Drain is done by the caller. Intent → objects → commit. */
export async function commitCheckpoint(
  keeper: StateKeeper,
  writer: PartitionWriter,
  targets: TargetWork[],
  report: RunReport,
  leaseMs: number,
): Promise<void> {
  const planned = writer.planFlush();
  const runId = report.runId;
  if (planned.length > 0) {
    await keeper.update((s) => ({ ...s, pending: { runId, objects: planned.map((p) => p.key) } }));
    // The intent write just renewed the lease; keep a margin that fits inside short leases too.
    keeper.assertLease(Math.min(5_000, leaseMs / 2));
    const flushed = await writer.flush();
    report.objectsWritten += flushed.objects;
    report.bytesWritten += flushed.bytes;
  }
  const updated = new Map(targets.map((t) => [targetKey(t.ref), t.state]));
  await keeper.update((s) => {
    const merged = s.targets.map((t) => updated.get(targetKey(t)) ?? t);
    const known = new Set(s.targets.map((t) => targetKey(t)));
    for (const [key, t] of updated) if (!known.has(key)) merged.push(t);
    return { ...s, pending: null, targets: merged };
  });
  report.checkpoints++;
}
