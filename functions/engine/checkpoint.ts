/**
 * The checkpoint protocol that makes every message land exactly once:
 *
 *   1. snapshot: detach the records settled so far and stage the target states that claim them
 *      (one synchronous step; pages in flight go on and land in the next checkpoint);
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
import type { PartitionWriter, PlannedObject } from './partition-writer.ts';
import type { RunReport } from './report.ts';
import type { StagedTargets, StateKeeper } from './state-keeper.ts';
import type { TargetWork } from './target-work.ts';

/** What the clean-up of earlier runs' checkpoints deletes with, and logs and times with. */
export interface CleanupPorts {
  readonly store: ObjectStore;
  readonly clock: Clock;
  readonly logger: Logger;
}

/**
 * What a checkpoint is written with: the state, the writer holding the settled records, the report
 * it counts into, and the fence run before every object write and state commit (it throws to
 * stop: lease lost, hard stop).
 */
export interface CheckpointParts {
  readonly keeper: StateKeeper;
  readonly writer: PartitionWriter;
  readonly report: RunReport;
  readonly fence: () => Promise<void>;
}

/**
 * Delete the objects of a checkpoint that never committed, then clear the intent and remember the
 * keys: the run that planned them may be frozen, not dead, and write one late (see lease.ts).
 */
export async function rollBackPendingWrite(
  keeper: StateKeeper,
  ports: CleanupPorts,
  report: RunReport,
): Promise<void> {
  const { store, clock, logger } = ports;
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
export async function sweepRolledBack(keeper: StateKeeper, ports: CleanupPorts): Promise<void> {
  const { store, clock, logger } = ports;
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
 * What one checkpoint commits, taken in one synchronous step: the records settled so far (detached
 * from the writer) and the target states that claim exactly those. Pages still in flight are in
 * neither; their records go to the next checkpoint's batch, and their targets' states name their
 * seqs as still to fetch.
 */
export interface CheckpointSnapshot {
  readonly planned: readonly PlannedObject[];
  readonly staged: StagedTargets | undefined;
}

/** Take the snapshot of a checkpoint. Synchronous, so no page settles between its two halves. */
export function snapshotCheckpoint(
  keeper: StateKeeper,
  writer: PartitionWriter,
  targets: readonly TargetWork[],
): CheckpointSnapshot {
  const planned = writer.planFlush();
  const staged = keeper.stage(targets.map((t) => t.state));
  return { planned, staged };
}

/**
 * Write a snapshot: intent → objects (each behind `fence`) → the target object with the changed
 * targets (a delta, or a new base) → commit (the head names it, the intent is cleared). Paging may
 * go on meanwhile; the next snapshot must wait until this resolves.
 */
export async function writeCheckpoint(parts: CheckpointParts, snapshot: CheckpointSnapshot): Promise<void> {
  const { keeper, writer, report, fence } = parts;
  const { planned, staged } = snapshot;
  await fence();
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

/** A checkpoint at a barrier (the caller drained every page): snapshot and write it. */
export async function commitCheckpoint(
  parts: CheckpointParts,
  targets: readonly TargetWork[],
): Promise<void> {
  await writeCheckpoint(parts, snapshotCheckpoint(parts.keeper, parts.writer, targets));
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
