/**
 * Memory of the fingerprint log (issue 23): a day's table costs bytes per entry and a little per
 * target, not typed arrays per target; a builder keeps flat text, whatever the number of entries of
 * one target (the rescan loads every day of its window; the partition writer builds one log per
 * object of a checkpoint).
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { FingerprintLogBuilder, FingerprintTable } from '../../functions/domain/fingerprint-log.ts';
import type { ArchiveRecord } from '../../functions/domain/record.ts';
import { toRecord } from '../../functions/domain/record.ts';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

/** Heap and array buffers in use after a full collection. */
function used(): number {
  gc();
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
}

const base = toRecord(
  {
    MsgSeq: 1,
    MsgTimeStamp: 1_765_000_000,
    From_Account: 'alice',
    MsgRandom: 1,
    MsgBody: [{ MsgType: 'TIMTextElem', MsgContent: { Text: 'hello' } }],
  },
  { sdkAppId: 1, groupId: '@TGS#1', topicId: null, generation: 0, observedAt: 1_765_000_000 },
);
/** One message of a target (the same content: the fingerprint is not what is measured here). */
const record = (groupId: string, seq: number): ArchiveRecord => ({
  ...base,
  group_id: groupId,
  msg_seq: seq,
  msg_time: 1_765_000_000 + seq,
});

describe('fingerprint table memory', () => {
  it('holds a day of 10,000 targets of 5 messages in under 400 bytes per target (was ~1,800)', () => {
    const builder = new FingerprintLogBuilder();
    for (let t = 0; t < 10_000; t++) {
      for (let seq = 5; seq >= 1; seq--) builder.add(record(`@TGS#2${String(t).padStart(10, '0')}`, seq));
    }
    const text = builder.build();
    const before = used();
    const table = new FingerprintTable();
    table.addLog(text, 'day');
    const targets = table.targets();
    const perTarget = (used() - before) / targets.length;
    expect(targets).toHaveLength(10_000);
    expect(targets[123]?.size).toBe(5);
    expect(targets[123]?.find(3)?.seq).toBe(3);
    expect(perTarget).toBeLessThan(400);
  });
});

describe('fingerprint log builder', () => {
  it('builds the log of one target with 150,000 entries in one object (no spread of its lines)', () => {
    const builder = new FingerprintLogBuilder();
    for (let seq = 150_000; seq >= 1; seq--) builder.add(record('@TGS#1BIG', seq));
    const table = new FingerprintTable();
    table.addLog(builder.build(), 'big');
    const [target] = table.targets();
    expect(target?.size).toBe(150_000);
    expect(target?.at(0).seq).toBe(1);
    expect(target?.find(123_456)?.msgTime).toBe(1_765_123_456);
  });

  it('writes a target header wherever the target changes, and the reader merges its sections', () => {
    const builder = new FingerprintLogBuilder();
    builder.add(record('@TGS#A', 2));
    builder.add(record('@TGS#B', 9));
    builder.add(record('@TGS#A', 1));
    const text = builder.build();
    expect(text.split('\n').filter((l) => l.startsWith('T '))).toHaveLength(3);
    const table = new FingerprintTable();
    table.addLog(text, 'mixed');
    const targets = table.targets();
    expect(targets.map((t) => [t.target.groupId, t.size])).toEqual([
      ['@TGS#A', 2],
      ['@TGS#B', 1],
    ]);
    expect(targets[0]?.at(0).seq).toBe(1);
  });
});
