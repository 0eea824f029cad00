/**
 * The partition writer's count of records not committed yet: the run report subtracts it when a run
 * stops, so a run cut off between its object writes and its state commit reports none of them.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';
import { LocalFolderStore } from '../../functions/adapters/local-folder/local-folder-store.ts';
import { FingerprintTable } from '../../functions/domain/fingerprint-log.ts';
import { type RecordContext, toRecord } from '../../functions/domain/record.ts';
import { parseRecordLine } from '../../functions/domain/record-codec.ts';
import type { RawMessage } from '../../functions/domain/tencent-types.ts';
import { PartitionWriter } from '../../functions/engine/partition-writer.ts';

const ctx: RecordContext = { sdkAppId: 1400000000, groupId: '@TGS#1', topicId: null };
const message = (seq: number, day: number): RawMessage => ({
  From_Account: 'alice',
  IsPlaceMsg: 0,
  MsgBody: [{ MsgType: 'TIMTextElem', MsgContent: { Text: `m${seq}` } }],
  MsgPriority: 1,
  MsgRandom: seq,
  MsgSeq: seq,
  MsgTimeStamp: 1_700_000_000 + day * 86_400,
});

let dir: string | undefined;
afterEach(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('PartitionWriter.uncommittedRecords', () => {
  it('counts buffered records, then flushed ones until the checkpoint commits', async () => {
    dir = await mkdtemp(join(tmpdir(), 'pw-'));
    const writer = new PartitionWriter({
      sdkAppId: 1400000000,
      runId: 'r1',
      timeZone: 'UTC',
      store: new LocalFolderStore(dir),
    });
    writer.addAll([1, 2, 3].map((seq) => toRecord(message(seq, 0), ctx)));
    writer.addAll([4, 5].map((seq) => toRecord(message(seq, 1), ctx)));
    expect(writer.uncommittedRecords).toBe(5);

    writer.planFlush();
    const flushed = await writer.flush();
    expect(flushed.records).toBe(5);
    // Written, but the state does not name them yet.
    expect(writer.bufferedRecords).toBe(0);
    expect(writer.uncommittedRecords).toBe(5);

    writer.addAll([toRecord(message(6, 2), ctx)]);
    expect(writer.uncommittedRecords).toBe(6);
    writer.committed();
    expect(writer.uncommittedRecords).toBe(1);
    writer.discard();
    expect(writer.uncommittedRecords).toBe(0);
  });

  it('keeps counting every record when a flush stops before its last write', async () => {
    dir = await mkdtemp(join(tmpdir(), 'pw-'));
    const writer = new PartitionWriter({
      sdkAppId: 1400000000,
      runId: 'r2',
      timeZone: 'UTC',
      store: new LocalFolderStore(dir),
    });
    writer.addAll([1, 2, 3].map((seq) => toRecord(message(seq, seq), ctx)));
    let puts = 0;
    const fence = async () => {
      if (++puts > 2) throw new Error('lease lost');
    };
    await expect(writer.flush(fence)).rejects.toThrow('lease lost');
    expect(writer.uncommittedRecords).toBe(3);
  });
});

describe('PartitionWriter filing times', () => {
  it('files a zeroed placeholder, exactly as served, under the time it is given; its fingerprint keeps that time', async () => {
    dir = await mkdtemp(join(tmpdir(), 'pw-'));
    const store = new LocalFolderStore(dir);
    const writer = new PartitionWriter({ sdkAppId: 1400000000, runId: 'r3', timeZone: 'UTC', store });
    const placeholder = toRecord(
      { From_Account: '', IsPlaceMsg: 1, MsgBody: [], MsgRandom: 0, MsgSeq: 7, MsgTimeStamp: 0 },
      { ...ctx, revision: 1, change: 'deleted' },
    );
    const filedAt = 1_700_000_000 + 86_400;
    writer.addAll([placeholder], new Map([[placeholder, filedAt]]));
    await writer.flush();
    const keys: string[] = [];
    for await (const key of store.list('')) keys.push(key);
    expect(keys.sort()).toEqual([
      'fingerprints/sdkappid=1400000000/dt=2023-11-15/part-r3-00000.fp.gz',
      'messages/sdkappid=1400000000/dt=2023-11-15/part-r3-00000.ndjson.gz',
    ]);
    const body = async (key: string) =>
      gunzipSync((await store.get(key))?.body ?? new Uint8Array()).toString();
    const [line] = (await body(keys[1] as string)).split('\n');
    expect(parseRecordLine(line as string)).toEqual(placeholder);
    const table = new FingerprintTable();
    table.addLog(await body(keys[0] as string), 'test');
    expect(table.targets()[0]?.find(7)).toMatchObject({ revision: 1, place: 1, msgTime: filedAt });
  });
});
