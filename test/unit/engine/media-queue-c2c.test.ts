/**
 * The one-to-one media queue's batches (functions/engine/c2c-media.ts) over many gzip blocks: the
 * queue lines are gzipped as they come (GzipLines, functions/engine/media-ndjson.ts), a batch
 * detached at a snapshot holds exactly the references added before it, the written object holds
 * each of them once in order, and the hand-over counts them.
 */
import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { type C2cRecord, toC2cRecord } from '../../../functions/domain/c2c-record.ts';
import { mediaQueueKey, parseQueueEntry } from '../../../functions/domain/media-manifest.ts';
import { C2cMediaQueue } from '../../../functions/engine/c2c-media.ts';
import { MemoryStore } from '../../helpers/engine-fakes.ts';

const APP = 1400000001;

/** A row with one image, its MsgKey `k<i>`. */
function imageRow(i: number): C2cRecord {
  return toC2cRecord(
    {
      From_Account: 'alice',
      To_Account: 'bob',
      MsgSeq: 1,
      MsgRandom: i,
      MsgTimeStamp: 1_767_225_600 + i,
      MsgKey: `k${i}`,
      MsgFlagBits: 0,
      MsgBody: [
        {
          MsgType: 'TIMImageElem',
          MsgContent: {
            UUID: `u${i}`,
            ImageInfoArray: [{ Type: 1, Size: 10, URL: `https://cos.ap-shanghai.myqcloud.com/${i}.png` }],
          },
        },
      ],
    },
    { sdkAppId: APP, accounts: ['alice', 'bob'], source: 'roam' },
  );
}

function queueOf(store: MemoryStore, handed: { key: string; count: number }[]) {
  let part = 0;
  return new C2cMediaQueue(
    {
      imageSizes: ['original'],
      nextQueueKey: () => mediaQueueKey(APP, 'run-1', part++),
      enqueueStored: (key, count) => handed.push({ key, count }),
    },
    store,
  );
}

function msgKeysIn(store: MemoryStore, key: string): string[] {
  return gunzipSync(store.body(key) as Uint8Array)
    .toString('utf8')
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => parseQueueEntry(l).ref.msgKey as string);
}

describe('the one-to-one media queue over many gzip blocks', () => {
  it('writes each reference of a batch once, in order, and hands over its count', async () => {
    // Prepare: 3,000 references (several 64 KB blocks), a snapshot after the first 2,000.
    const store = new MemoryStore();
    const handed: { key: string; count: number }[] = [];
    const queue = queueOf(store, handed);
    for (let i = 0; i < 2_000; i++) queue.add(imageRow(i));
    // Act
    const first = queue.detach();
    for (let i = 2_000; i < 3_000; i++) queue.add(imageRow(i));
    const second = queue.detach();
    const fence = async () => undefined;
    if (first === undefined || second === undefined) throw new Error('a batch was expected');
    const bytes = await queue.write(first, fence);
    await queue.write(second, fence);
    queue.committed(first);
    queue.committed(second);
    // Assess
    expect(queue.detach()).toBeUndefined();
    expect(bytes).toBe((store.body(first.key) as Uint8Array).byteLength);
    expect(msgKeysIn(store, first.key)).toEqual(Array.from({ length: 2_000 }, (_, i) => `k${i}`));
    expect(msgKeysIn(store, second.key)).toEqual(Array.from({ length: 1_000 }, (_, i) => `k${2_000 + i}`));
    expect(handed).toEqual([
      { key: mediaQueueKey(APP, 'run-1', 0), count: 2_000 },
      { key: mediaQueueKey(APP, 'run-1', 1), count: 1_000 },
    ]);
    expect(queue.queued).toBe(3_000);
  });
});
