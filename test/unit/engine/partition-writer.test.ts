import { describe, expect, it } from 'vitest';
import { type TargetState, targetKey } from '../../../functions/domain/continuation.ts';
import { AbortedError } from '../../../functions/domain/errors.ts';
import { gunzipNdjson } from '../../../functions/domain/ndjson-gzip.ts';
import { fingerprintObjectKey, messageObjectKey, stateKey } from '../../../functions/domain/partition.ts';
import { type ArchiveRecord, toRecord } from '../../../functions/domain/record.ts';
import { parseRecordLine, serializeRecord } from '../../../functions/domain/record-codec.ts';
import {
  checkpointDue,
  rollBackPendingWrite,
  snapshotCheckpoint,
  sweepRolledBack,
  writeCheckpoint,
} from '../../../functions/engine/checkpoint.ts';
import { PartitionWriter } from '../../../functions/engine/partition-writer.ts';
import { emptyReport } from '../../../functions/engine/report.ts';
import { StateKeeper } from '../../../functions/engine/state-keeper.ts';
import { readStoredState } from '../../../functions/engine/state-reader.ts';
import type { TargetWork } from '../../../functions/engine/target-work.ts';
import { FakeClock, MemoryStore, silentLogger, textMessage } from '../../helpers/engine-fakes.ts';

const APP = 1400000001;
/** 2026-03-10T00:00:00Z in epoch seconds. */
const DAY0 = Date.UTC(2026, 2, 10) / 1000;
const HOUR = 3_600;

function record(seq: number, timeSec: number, groupId = 'g1'): ArchiveRecord {
  return toRecord(textMessage(seq, timeSec), { sdkAppId: APP, groupId, topicId: null });
}

function newWriter(store: MemoryStore, over: { runId?: string; timeZone?: string } = {}) {
  return new PartitionWriter({
    sdkAppId: APP,
    runId: over.runId ?? 'runA',
    timeZone: over.timeZone ?? 'UTC',
    store,
  });
}

function key(dt: string, part: number, runId = 'runA') {
  return messageObjectKey({ sdkAppId: APP, dt, runId, part });
}

function seqsIn(store: MemoryStore, objectKey: string): number[] {
  return linesIn(store, objectKey).map((line) => parseRecordLine(line).msg_seq);
}

function linesIn(store: MemoryStore, objectKey: string): string[] {
  const body = store.body(objectKey);
  if (body === undefined) throw new Error(`${objectKey} was not written`);
  return gunzipNdjson(body);
}

describe('PartitionWriter', () => {
  it('writes one message object and one fingerprint log per day, create-only, records in arrival order', async () => {
    const store = new MemoryStore();
    const writer = newWriter(store);
    writer.addAll([record(1, DAY0 + 1), record(2, DAY0 + 2 * 86_400), record(3, DAY0 + 23 * HOUR)]);
    writer.addAll([record(4, DAY0 + 86_400), record(5, DAY0 + 10)]);
    const planned = writer.planFlush();
    expect(planned.map((p) => `${p.kind} ${p.dt}`)).toEqual([
      'messages 2026-03-10',
      'fingerprints 2026-03-10',
      'messages 2026-03-11',
      'fingerprints 2026-03-11',
      'messages 2026-03-12',
      'fingerprints 2026-03-12',
    ]);
    expect(planned[0]?.key).toBe(key('2026-03-10', 0));
    expect(planned[1]?.key).toBe(
      fingerprintObjectKey({ sdkAppId: APP, dt: '2026-03-10', runId: 'runA', part: 0 }),
    );
    // Each day gets its own part number: names never collide, in this run or another.
    expect(planned[2]?.key).toBe(key('2026-03-11', 1));

    const result = await writer.flush();
    expect(result.objects).toBe(3);
    expect(result.records).toBe(5);
    expect(store.keys('messages/')).toEqual([
      key('2026-03-10', 0),
      key('2026-03-11', 1),
      key('2026-03-12', 2),
    ]);
    expect(store.keys('fingerprints/')).toHaveLength(3);
    expect(store.calls.every((c) => c.op !== 'put' || c.options?.ifNoneMatch === '*')).toBe(true);
    const bytes = store.keys('messages/').reduce((sum, k) => sum + (store.body(k)?.byteLength ?? 0), 0);
    expect(result.bytes).toBe(bytes);

    expect(seqsIn(store, key('2026-03-10', 0))).toEqual([1, 3, 5]);
    expect(seqsIn(store, key('2026-03-11', 1))).toEqual([4]);
    expect(seqsIn(store, key('2026-03-12', 2))).toEqual([2]);
    expect(linesIn(store, key('2026-03-12', 2))).toEqual([serializeRecord(record(2, DAY0 + 2 * 86_400))]);
  });

  it('files by the day in the archive time zone, and a zeroed time under the time given for it', async () => {
    const store = new MemoryStore();
    const writer = newWriter(store, { timeZone: 'Asia/Shanghai' });
    const late = record(1, DAY0 + 20 * HOUR); // 04:00 the next day in Shanghai
    const zeroed = record(2, 0);
    writer.addAll([late, zeroed], new Map([[zeroed, DAY0 + HOUR]]));
    expect(
      writer
        .planFlush()
        .filter((p) => p.kind === 'messages')
        .map((p) => p.dt),
    ).toEqual(['2026-03-10', '2026-03-11']);
    await writer.flush();
    expect(seqsIn(store, key('2026-03-10', 0))).toEqual([2]);
    expect(parseRecordLine(linesIn(store, key('2026-03-10', 0))[0] ?? '')).toMatchObject({ msg_time: 0 });
    expect(seqsIn(store, key('2026-03-11', 1))).toEqual([1]);
  });

  it('counts buffered bytes and records, detaches them at planFlush, and keeps later records for the next object', async () => {
    const store = new MemoryStore();
    const writer = newWriter(store);
    const first = [record(1, DAY0), record(2, DAY0 + 60)];
    writer.addAll(first);
    const lineBytes = first.reduce((sum, r) => sum + Buffer.byteLength(`${serializeRecord(r)}\n`), 0);
    expect(writer.bufferedBytes).toBe(lineBytes);
    expect(writer.bufferedRecords).toBe(2);

    const planned = writer.planFlush();
    expect(writer.bufferedBytes).toBe(0);
    expect(writer.bufferedRecords).toBe(2);
    writer.addAll([record(3, DAY0 + 120)]);
    // Planned again before its flush: the same names, nothing more detached.
    expect(writer.planFlush()).toBe(planned);
    await writer.flush();
    expect(writer.bufferedRecords).toBe(1);
    expect(writer.uncommittedRecords).toBe(3);
    writer.committed();
    expect(writer.uncommittedRecords).toBe(1);

    await writer.flush();
    expect(seqsIn(store, key('2026-03-10', 0))).toEqual([1, 2]);
    expect(seqsIn(store, key('2026-03-10', 1))).toEqual([3]);
  });

  it('starts a new object for the same day once the buffer reaches flushBytes (one per checkpoint)', async () => {
    const store = new MemoryStore();
    const writer = newWriter(store);
    const flushBytes = 1_000;
    const options = { flushBytes, checkpointIntervalMs: 3_600_000 };
    let parts = 0;
    for (let seq = 1; seq <= 40; seq++) {
      writer.addAll([record(seq, DAY0 + seq)]);
      if (checkpointDue(writer, options, 0, 1)) {
        await writer.flush();
        writer.committed();
        parts++;
      }
    }
    const objects = store.keys('messages/');
    expect(objects.length).toBe(parts);
    expect(parts).toBeGreaterThan(2);
    expect(objects[0]).toBe(key('2026-03-10', 0));
    expect(objects.at(-1)).toBe(key('2026-03-10', parts - 1));
    const all = objects.flatMap((k) => seqsIn(store, k));
    expect(all).toEqual(Array.from({ length: all.length }, (_, i) => i + 1));
    // Each object holds just past flushBytes of lines, never a second checkpoint's worth.
    for (const k of objects) {
      const size = linesIn(store, k).join('\n').length + 1;
      expect(size).toBeGreaterThanOrEqual(flushBytes);
      expect(size).toBeLessThan(2 * flushBytes);
    }
  });

  it('a checkpoint is due by time even with little buffered', () => {
    const writer = newWriter(new MemoryStore());
    const options = { flushBytes: 1_000_000, checkpointIntervalMs: 60_000 };
    expect(checkpointDue(writer, options, 1_000, 60_999)).toBe(false);
    expect(checkpointDue(writer, options, 1_000, 61_000)).toBe(true);
  });

  it('writes nothing when nothing is buffered', async () => {
    const store = new MemoryStore();
    const writer = newWriter(store);
    expect(writer.planFlush()).toEqual([]);
    expect(await writer.flush()).toEqual({ objects: 0, records: 0, bytes: 0 });
    expect(store.calls).toEqual([]);
  });

  it('writes nothing when the fence throws, keeps the batch for discard, and discard drops it', async () => {
    const store = new MemoryStore();
    const writer = newWriter(store);
    writer.addAll([record(1, DAY0), record(2, DAY0 + 86_400)]);
    const stop = new AbortedError('hard stop');
    await expect(
      writer.flush(async () => {
        throw stop;
      }),
    ).rejects.toBe(stop);
    expect(store.keys()).toEqual([]);
    expect(writer.bufferedRecords).toBe(2);
    writer.discard();
    expect([writer.bufferedRecords, writer.uncommittedRecords, writer.bufferedBytes]).toEqual([0, 0, 0]);
    expect(await writer.flush()).toEqual({ objects: 0, records: 0, bytes: 0 });
  });

  it('fails the flush when a write fails, and does not count the batch as flushed', async () => {
    const store = new MemoryStore().fail({ op: 'put', key: key('2026-03-11', 1) });
    const writer = newWriter(store);
    writer.addAll([record(1, DAY0), record(2, DAY0 + 86_400)]);
    await expect(writer.flush()).rejects.toThrow(/injected put failure/);
    expect(writer.bufferedRecords).toBe(2);
    expect(writer.uncommittedRecords).toBe(2);
    expect(store.text(key('2026-03-11', 1))).toBeUndefined();
  });
});

/** A target at `highWater` as a TargetWork would hold it (only `state` is read by the checkpoint). */
function targetWork(highWater: number): TargetWork {
  const state: TargetState = {
    groupId: 'g1',
    topicId: null,
    highWater,
    highWaterTime: null,
    inProgress: null,
    generation: 0,
  };
  return { state } as unknown as TargetWork;
}

describe('a checkpoint cut between the object writes and the state commit', () => {
  const LEASE_MS = 120_000;

  async function crashedCheckpoint(when: 'before' | 'after') {
    const store = new MemoryStore();
    const clock = new FakeClock();
    const keeperA = await StateKeeper.open({
      store,
      sdkAppId: APP,
      runId: 'runA',
      clock,
      logger: silentLogger,
      leaseMs: LEASE_MS,
    });
    const writer = newWriter(store);
    writer.addAll([record(1, DAY0), record(2, DAY0 + 86_400)]);
    const report = emptyReport('runA', APP, clock.now());
    // The intent is the first state write of the checkpoint, the commit the second.
    let stateWrites = 0;
    store.fail({ op: 'put', key: (k) => k === stateKey(APP) && ++stateWrites === 2, when });
    const snapshot = snapshotCheckpoint(keeperA, writer, [targetWork(2)]);
    const parts = { keeper: keeperA, writer, report, fence: async () => undefined };
    await expect(writeCheckpoint(parts, snapshot)).rejects.toThrow(/injected put failure/);
    return { store, clock, report, objects: snapshot.planned.map((p) => p.key), staged: snapshot.staged };
  }

  async function nextRun(store: MemoryStore, clock: FakeClock) {
    clock.advance(LEASE_MS);
    const keeper = await StateKeeper.open({
      store,
      sdkAppId: APP,
      runId: 'runB',
      clock,
      logger: silentLogger,
      leaseMs: LEASE_MS,
    });
    const report = emptyReport('runB', APP, clock.now());
    const ports = { store, clock, logger: silentLogger };
    await rollBackPendingWrite(keeper, ports, report);
    await sweepRolledBack(keeper, ports);
    return { keeper, report };
  }

  it('objects put but the commit lost: the next run deletes them and continues from the committed cursor', async () => {
    const { store, clock, objects, report: crashed, staged } = await crashedCheckpoint('before');
    expect(crashed.checkpoints).toBe(0);
    expect(objects).toHaveLength(4);
    for (const k of objects) expect(store.text(k)).toBeDefined();
    const stored = await readStoredState(store, APP);
    expect(stored?.read.head.pending).toEqual({ runId: 'runA', objects: [...objects, staged?.ref.key] });
    expect(stored?.targets.size).toBe(0);

    const { keeper, report } = await nextRun(store, clock);
    expect(report.rolledBackObjects).toBe(5);
    expect(store.keys('messages/')).toEqual([]);
    expect(store.keys('fingerprints/')).toEqual([]);
    expect(keeper.head.pending).toBeNull();
    expect(keeper.head.rolledBack.map((k) => k.key)).toEqual([...objects, staged?.ref.key]);
    // Nothing advanced: the records of the lost checkpoint are fetched again.
    expect(keeper.targets.get(targetKey(targetWork(0).state))).toBeUndefined();

    // A late write of the frozen run after the rollback is deleted again by the next sweep.
    store.seed(objects[0] ?? '', 'late');
    await sweepRolledBack(keeper, { store, clock, logger: silentLogger });
    expect(store.text(objects[0] ?? '')).toBeUndefined();
  });

  it('commit landed but unacknowledged: the next run keeps the objects and the advanced cursor', async () => {
    const { store, clock, objects } = await crashedCheckpoint('after');
    const { keeper, report } = await nextRun(store, clock);
    expect(report.rolledBackObjects).toBe(0);
    for (const k of objects) expect(store.text(k)).toBeDefined();
    expect(keeper.head.pending).toBeNull();
    expect(keeper.targets.get(targetKey(targetWork(0).state))?.highWater).toBe(2);
    expect(seqsIn(store, key('2026-03-10', 0))).toEqual([1]);
  });
});
