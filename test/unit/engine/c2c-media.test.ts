/**
 * One-to-one media queued with their rows (functions/engine/c2c-media.ts, hooked into
 * functions/engine/c2c-pass.ts) over the in-memory fakes: a checkpoint names its media queue object
 * in the same intent as its row objects, writes it before the head that commits them, and hands it
 * to the media stage only after that commit; a checkpoint whose commit fails hands nothing over,
 * and the next run's roll-back (rollBackC2cBeforeMedia) deletes the object with the rows.
 */
import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { configPairs } from '../../../functions/domain/c2c-pairs.ts';
import { c2cHeadKey, parseC2cHead } from '../../../functions/domain/c2c-state.ts';
import { mediaQueueKey, parseQueueEntry } from '../../../functions/domain/media-manifest.ts';
import type { RoamMessage } from '../../../functions/domain/tencent-types.ts';
import { rollBackC2cBeforeMedia } from '../../../functions/engine/c2c-media.ts';
import { runC2cPass } from '../../../functions/engine/c2c-pass.ts';
import { FakeChatApi, FakeClock, MemoryStore, silentLogger } from '../../helpers/engine-fakes.ts';

const APP = 1400000001;
const NOW_SEC = Date.UTC(2026, 0, 1) / 1000;

const IMAGE = {
  MsgType: 'TIMImageElem',
  MsgContent: {
    UUID: 'u',
    ImageInfoArray: [{ Type: 1, Size: 10, URL: 'https://cos.ap-shanghai.myqcloud.com/x.png' }],
  },
};

/** Every third message carries an image; the rest are text. */
function messages(count: number): RoamMessage[] {
  return Array.from({ length: count }, (_, i) => ({
    From_Account: i % 2 === 0 ? 'alice' : 'bob',
    To_Account: i % 2 === 0 ? 'bob' : 'alice',
    MsgSeq: 1,
    MsgRandom: i,
    MsgTimeStamp: NOW_SEC - 3_600 + i * 10,
    MsgKey: `k${i}`,
    MsgFlagBits: 0,
    MsgBody: i % 3 === 0 ? [IMAGE] : [{ MsgType: 'TIMTextElem', MsgContent: { Text: `m${i}` } }],
  }));
}

/** A media stage that records what it was handed, and the head as stored at that moment. */
function fakeStage(store: MemoryStore) {
  const handed: { key: string; count: number; headPending: unknown }[] = [];
  let part = 0;
  return {
    handed,
    stage: {
      imageSizes: ['original'] as const,
      nextQueueKey: () => mediaQueueKey(APP, 'run-1', part++),
      enqueueStored: (key: string, count: number) => {
        const head = parseC2cHead(store.text(c2cHeadKey(APP)) ?? '', APP);
        handed.push({ key, count, headPending: head.pending });
      },
    },
  };
}

function pass(store: MemoryStore, stage: ReturnType<typeof fakeStage>['stage']) {
  const clock = new FakeClock(NOW_SEC * 1000);
  const api = new FakeChatApi({ c2c: [{ accounts: ['alice', 'bob'], messages: messages(30) }] });
  return runC2cPass(
    {
      roam: api,
      store,
      clock,
      logger: silentLogger,
      serverNowMs: () => clock.now(),
      fence: async () => undefined,
      signal: new AbortController().signal,
      media: stage,
    },
    {
      sdkAppId: APP,
      runId: 'run-1',
      timeZone: 'UTC',
      retentionDays: 7,
      deadlineMs: null,
      observedAtSec: NOW_SEC,
      checkpointIntervalMs: 60_000,
      flushBytes: 1 << 20,
      concurrency: 1,
      pairs: configPairs({ pairs: [['alice', 'bob']] }),
      shards: 4,
    },
  );
}

describe('one-to-one media queued with their rows', () => {
  it('names the queue object in the intent, writes it before the commit, hands it over after', async () => {
    // Prepare
    const store = new MemoryStore();
    const { stage, handed } = fakeStage(store);
    // Act
    const report = await pass(store, stage);
    // Assess
    expect(handed).toEqual([{ key: mediaQueueKey(APP, 'run-1', 0), count: 10, headPending: null }]);
    expect(report.mediaReferences).toBe(10);
    const queue = gunzipSync(store.body(mediaQueueKey(APP, 'run-1', 0)) as Uint8Array)
      .toString('utf8')
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => parseQueueEntry(l).ref);
    const imageKeys = ['k0', 'k3', 'k6', 'k9', 'k12', 'k15', 'k18', 'k21', 'k24', 'k27'];
    expect(queue.map((r) => r.msgKey).sort()).toEqual([...imageKeys].sort());
    const puts = store.calls.filter((c) => c.op === 'put').map((c) => c.key);
    const intent = puts.indexOf(c2cHeadKey(APP));
    const queued = puts.indexOf(mediaQueueKey(APP, 'run-1', 0));
    const commit = puts.lastIndexOf(c2cHeadKey(APP));
    expect(intent).toBeLessThan(queued);
    expect(queued).toBeLessThan(commit);
  });

  it('hands nothing over when the commit fails, and the roll-back deletes the queue object', async () => {
    // Prepare: the head write that would commit the checkpoint (the second) fails.
    const store = new MemoryStore();
    let headWrites = 0;
    store.fail({ op: 'put', key: (k) => k === c2cHeadKey(APP) && ++headWrites === 2 });
    const { stage, handed } = fakeStage(store);
    // Act
    await expect(pass(store, stage)).rejects.toThrow();
    // Assess
    expect(handed).toEqual([]);
    expect(store.body(mediaQueueKey(APP, 'run-1', 0))).toBeDefined();
    const fence = async () => undefined;
    const rolledBack = await rollBackC2cBeforeMedia(
      { store, logger: silentLogger, fence },
      { sdkAppId: APP, c2c: { shards: 4 }, media: { enabled: true } },
    );
    expect(rolledBack).toBeGreaterThan(1);
    expect(store.body(mediaQueueKey(APP, 'run-1', 0))).toBeUndefined();
    expect(store.keys('c2c/')).toEqual([]);
  });
});
