/**
 * The checkpoint protocol (functions/engine/checkpoint.ts) on the in-memory store: when one is due,
 * what a commit writes and in which order, and a crash between the object writes and the commit,
 * which leaves an intent the next run rolls back (and keeps deleting for a while).
 */
import { describe, expect, it } from 'vitest';
import { type RangeProgress, type TargetState, targetKey } from '../../../functions/domain/continuation.ts';
import { ROLLED_BACK_KEYS_KEPT_MS } from '../../../functions/domain/lease.ts';
import { stateKey } from '../../../functions/domain/partition.ts';
import { toRecord } from '../../../functions/domain/record.ts';
import {
  checkpointDue,
  commitCheckpoint,
  rollBackPendingWrite,
  snapshotCheckpoint,
  sweepRolledBack,
  writeCheckpoint,
} from '../../../functions/engine/checkpoint.ts';
import { PartitionWriter } from '../../../functions/engine/partition-writer.ts';
import { emptyReport } from '../../../functions/engine/report.ts';
import { StateKeeper } from '../../../functions/engine/state-keeper.ts';
import { readStoredState } from '../../../functions/engine/state-reader.ts';
import { TargetWork } from '../../../functions/engine/target-work.ts';
import { FakeClock, MemoryStore, messageRun, silentLogger } from '../../helpers/engine-fakes.ts';

const APP = 1400000001;
const KEY = stateKey(APP);
const LEASE_MS = 120_000;
const ref = { groupId: '@TGS#cp', topicId: null };
const base: TargetState = { ...ref, highWater: 0, highWaterTime: null, inProgress: null, generation: 0 };
const T0 = Date.UTC(2025, 11, 31, 12) / 1000;

/** A run's pieces on one store: its state keeper, writer and report. */
async function openRun(store: MemoryStore, clock: FakeClock, runId: string) {
  const keeper = await StateKeeper.open({
    store,
    sdkAppId: APP,
    runId,
    clock,
    logger: silentLogger,
    leaseMs: LEASE_MS,
  });
  const writer = new PartitionWriter({ sdkAppId: APP, runId, timeZone: 'UTC', store });
  const report = emptyReport(runId, APP, clock.now());
  return { keeper, writer, report, fence: async () => undefined };
}

/** A target whose one range (seqs 1..3) was paged whole; its records are in the writer. */
function pagedTarget(writer: PartitionWriter): TargetWork {
  const range: RangeProgress = { top: 3, cursor: 3, floorTime: null, topTime: null };
  const target = new TargetWork({ ref, state: base, ranges: [range], lastMsgTime: T0 + 120, maxSpans: 1 });
  const span = target.nextSpan();
  if (span === undefined) throw new Error('expected a span');
  const ctx = { sdkAppId: APP, ...ref, generation: 0, observedAt: T0 + 600 };
  const records = messageRun(3, T0).map((m) => toRecord(m, ctx));
  writer.addAll(records);
  target.applyPage(span, { records, calls: 1, next: 0, short: false, stop: false });
  target.finishRange();
  return target;
}

function puts(store: MemoryStore, from = 0): string[] {
  return store.calls
    .slice(from)
    .filter((c) => c.op === 'put' || c.op === 'putStream')
    .map((c) => c.key);
}

describe('checkpointDue', () => {
  const options = { flushBytes: 1000, checkpointIntervalMs: 60_000 };

  it('is due when the buffer reaches the flush size, or the last checkpoint is old enough, and not before', async () => {
    const store = new MemoryStore();
    const writer = new PartitionWriter({ sdkAppId: APP, runId: 'r', timeZone: 'UTC', store });
    expect(checkpointDue(writer, options, 0, 59_999)).toBe(false);
    expect(checkpointDue(writer, options, 0, 60_000)).toBe(true);

    const ctx = { sdkAppId: APP, ...ref, generation: 0, observedAt: T0 };
    writer.addAll(messageRun(20, T0).map((m) => toRecord(m, ctx)));
    expect(writer.bufferedBytes).toBeGreaterThan(1000);
    expect(checkpointDue(writer, options, 0, 1)).toBe(true);
    expect(checkpointDue(writer, { ...options, flushBytes: writer.bufferedBytes + 1 }, 0, 1)).toBe(false);
  });
});

describe('commitCheckpoint', () => {
  it('writes the intent, then the objects and the targets, then commits the cursors with no intent left', async () => {
    const store = new MemoryStore();
    const clock = new FakeClock();
    const run = await openRun(store, clock, 'runA');
    const target = pagedTarget(run.writer);
    const before = store.calls.length;

    await commitCheckpoint(run, [target]);

    const written = puts(store, before);
    const objects = written.filter((k) => k !== KEY);
    // The intent first, the commit last; message and fingerprint objects and the targets' delta between.
    expect(written[0]).toBe(KEY);
    expect(written.at(-1)).toBe(KEY);
    expect(written.filter((k) => k === KEY)).toHaveLength(2);
    expect(objects.some((k) => k.startsWith('messages/'))).toBe(true);
    expect(objects.some((k) => k.endsWith('.fp.gz'))).toBe(true);
    const stored = await readStoredState(store, APP);
    expect(stored?.read.head.pending).toBeNull();
    expect(stored?.targets.get(targetKey(ref))).toMatchObject({ highWater: 3, inProgress: null });
    expect(run.report.checkpoints).toBe(1);
    // One day of messages: one message object (its fingerprint log and the delta are not counted).
    expect(run.report.objectsWritten).toBe(1);
    expect(run.writer.uncommittedRecords).toBe(0);
  });

  it('writes nothing but the commit when nothing was settled and no target changed', async () => {
    const store = new MemoryStore();
    const clock = new FakeClock();
    const run = await openRun(store, clock, 'runA');
    const before = store.calls.length;

    await commitCheckpoint(run, []);

    expect(puts(store, before)).toEqual([KEY]);
    expect(run.report.checkpoints).toBe(1);
    expect(run.report.objectsWritten).toBe(0);
  });

  it('does not write when the fence refuses (lease lost, hard stop)', async () => {
    const store = new MemoryStore();
    const clock = new FakeClock();
    const run = await openRun(store, clock, 'runA');
    const target = pagedTarget(run.writer);
    const before = store.calls.length;
    const refused = new Error('lease lost');

    await expect(
      commitCheckpoint(
        {
          ...run,
          fence: async () => {
            throw refused;
          },
        },
        [target],
      ),
    ).rejects.toBe(refused);

    expect(puts(store, before)).toEqual([]);
    expect(run.report.checkpoints).toBe(0);
  });
});

describe('a crash between the object writes and the commit', () => {
  /** runA pages one target and dies as it commits: the objects are written, the cursors are not. */
  async function crashedRun() {
    const store = new MemoryStore();
    const clock = new FakeClock();
    const run = await openRun(store, clock, 'runA');
    const target = pagedTarget(run.writer);
    let statePuts = 0;
    // The first state write of the checkpoint is the intent; the second, the commit, fails.
    store.fail({ op: 'put', key: (k) => k === KEY && ++statePuts === 2 });
    const snapshot = snapshotCheckpoint(run.keeper, run.writer, [target]);
    const error = await writeCheckpoint(run, snapshot).catch((e: unknown) => e);
    return { store, clock, run, error };
  }

  it('leaves the committed cursors as they were and an intent naming exactly the objects written', async () => {
    const { store, run, error } = await crashedRun();

    expect(error).toBeInstanceOf(Error);
    const stored = await readStoredState(store, APP);
    const pending = stored?.read.head.pending;
    expect(pending?.runId).toBe('runA');
    // Every object the checkpoint wrote is named, and each named one that exists was written by it.
    const written = store.keys().filter((k) => k !== KEY);
    expect(written.length).toBeGreaterThan(0);
    expect([...(pending?.objects ?? [])].sort()).toEqual(written.sort());
    expect(stored?.targets.get(targetKey(ref))).toBeUndefined();
    expect(run.report.checkpoints).toBe(0);
  });

  it('is rolled back by the next run: the objects are deleted, the intent cleared, the keys remembered', async () => {
    const { store, clock, run } = await crashedRun();
    const intent = (await readStoredState(store, APP))?.read.head.pending?.objects ?? [];
    clock.advance(LEASE_MS + 1);
    const next = await openRun(store, clock, 'runB');

    await rollBackPendingWrite(next.keeper, { store, clock, logger: silentLogger }, next.report);

    expect(store.keys()).toEqual([KEY]);
    expect(next.report.rolledBackObjects).toBe(intent.length);
    const head = (await readStoredState(store, APP))?.read.head;
    expect(head?.pending).toBeNull();
    expect(head?.rolledBack.map((k) => k.key).sort()).toEqual([...intent].sort());
    // The message object, its fingerprint log and the targets' delta.
    expect(intent).toHaveLength(3);
    expect(run.report.checkpoints).toBe(0);
  });

  it('deletes a rolled-back key again when it lands late, and forgets the keys once they expire', async () => {
    const { store, clock } = await crashedRun();
    clock.advance(LEASE_MS + 1);
    const next = await openRun(store, clock, 'runB');
    const ports = { store, clock, logger: silentLogger };
    await rollBackPendingWrite(next.keeper, ports, next.report);
    const late = next.keeper.head.rolledBack[0]?.key as string;
    store.seed(late, 'written late by the frozen run');

    await sweepRolledBack(next.keeper, ports);
    expect(store.keys()).toEqual([KEY]);
    expect(next.keeper.head.rolledBack.length).toBeGreaterThan(0);

    clock.advance(ROLLED_BACK_KEYS_KEPT_MS);
    await sweepRolledBack(next.keeper, ports);
    expect(next.keeper.head.rolledBack).toEqual([]);
    expect((await readStoredState(store, APP))?.read.head.rolledBack).toEqual([]);
  });
});
