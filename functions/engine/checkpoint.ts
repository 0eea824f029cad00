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
import { rememberRolledBack } from '../domain/lease.ts';
import type { Clock, Logger } from '../domain/ports.ts';
import type { ObjectStore } from '../domain/storage.ts';
import type { PartitionWriter } from './partition-writer.ts';
import type { RunReport } from './report.ts';
import type { StateKeeper } from './state-keeper.ts';
import type { TargetWork } from './target-work.ts';

/**
 * Delete the objects of a checkpoint that never committed, then clear the intent and remember the
 * keys: the run that planned them may be frozen, not dead, and write one late (see lease.ts).
 */
export async function rollBackPendingWrite(
  keeper: StateKeeper,
  store: ObjectStore,
  clock: Clock,
  logger: Logger,
  report: RunReport,
): Promise<void> {
  const pending = keeper.head.pending;
  if (!pending) return;
  logger.warn('rolling back an uncommitted checkpoint of an earlier run', {
    runId: pending.runId,
    objects: pending.objects.length,
  });
  for (const key of pending.objects) await store.delete(key);
  await keeper.update((s) => ({
    ...s,
    pending: null,
    rolledBack: rememberRolledBack(s.rolledBack, pending.objects, clock.now()),
  }));
  report.rolledBackObjects += pending.objects.length;
}

/**
 * Delete again every remembered rolled-back key (a frozen run that came back may have written
 * one after the rollback), and forget the expired ones.
 */
export async function sweepRolledBack(
  keeper: StateKeeper,
  store: ObjectStore,
  clock: Clock,
  logger: Logger,
): Promise<void> {
  const remembered = keeper.head.rolledBack;
  if (remembered.length === 0) return;
  // Deleting an absent key is not an error, so every remembered key is simply deleted again.
  for (const { key } of remembered) await store.delete(key);
  const now = clock.now();
  if (remembered.some((k) => k.untilMs <= now)) {
    await keeper.update((s) => ({ ...s, rolledBack: rememberRolledBack(s.rolledBack, [], now) }));
  }
  logger.debug('deleted the keys of rolled-back checkpoints again', { keys: remembered.length });
}

/**
 * Drain is done by the caller. Intent → objects (each behind `fence`) → the target object with the
 * changed targets (a delta, or a new base) → commit (the head names it, the intent is cleared).
 */
export async function commitCheckpoint(
  keeper: StateKeeper,
  writer: PartitionWriter,
  targets: TargetWork[],
  report: RunReport,
  fence: () => Promise<void>,
): Promise<void> {
  await fence();
  const planned = writer.planFlush();
  const staged = keeper.stage(targets.map((t) => t.state));
  const runId = report.runId;
  const intent = [...planned.map((p) => p.key), ...(staged ? [staged.ref.key] : [])];
  if (intent.length > 0) {
    await keeper.update((s) => ({ ...s, pending: { runId, objects: intent } }));
  }
  if (planned.length > 0) {
    const flushed = await writer.flush(fence);
    report.objectsWritten += flushed.objects;
    report.bytesWritten += flushed.bytes;
  }
  if (staged) {
    await fence();
    await keeper.writeStaged(staged);
    report.stateBytesWritten += staged.ref.bytes;
  }
  await keeper.commit(staged, (s) => ({ ...s, pending: null }));
  writer.committed();
  report.checkpoints++;
}

/** Whether the buffer is full enough, or the last checkpoint old enough, to commit now. */
export function checkpointDue(
  writer: PartitionWriter,
  options: { flushBytes: number; checkpointIntervalMs: number },
  lastCheckpointMs: number,
  nowMs: number,
): boolean {
  return (
    writer.bufferedBytes >= options.flushBytes || nowMs - lastCheckpointMs >= options.checkpointIntervalMs
  );
}
