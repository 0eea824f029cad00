/**
 * The one-to-one pass at scale (issue 26; docs/one-to-one.md): `npx tsx --expose-gc bench/c2c-state.ts
 * [pairs]` seeds a state of `pairs` known pairs (default 1,000,000) in 256 shards, 5% of them with a
 * witnessed message newer than their archived one, and runs `runC2cPass` over the in-memory store
 * with an answering stub (one new message a pair, no network): the time, the state's size, the
 * most pair states held at once and the heap growth (which includes the in-memory store's objects).
 */
import { type C2cPairState, newPairState, pairShard, serializeShard } from '../functions/domain/c2c-pairs.ts';
import { conversationOf } from '../functions/domain/c2c-record.ts';
import { c2cHeadKey, c2cShardKey, emptyC2cHead, serializeC2cHead } from '../functions/domain/c2c-state.ts';
import type { RoamRequest } from '../functions/domain/tencent-types.ts';
import { runC2cPass } from '../functions/engine/c2c-pass.ts';
import { MemoryStore, silentLogger } from '../test/helpers/engine-fakes.ts';

const APP = 1400000001;
const SHARDS = 256;
const NOW = 1_767_225_600;

function seed(store: MemoryStore, pairs: number): number {
  const byShard: C2cPairState[][] = Array.from({ length: SHARDS }, () => []);
  for (let i = 0; i < pairs; i++) {
    const pair = [`u${i}`, `v${i}`] as const;
    byShard[pairShard(conversationOf(...pair), SHARDS)]?.push({
      ...newPairState(pair),
      archivedTime: NOW - 86_400,
      edgeKeys: [`k${i}`],
      pulledAt: NOW - 80_000,
      knownTime: i % 20 === 0 ? NOW - 60 : NOW - 86_400,
    });
  }
  const head = { ...emptyC2cHead(APP, SHARDS), shardKeys: [] as string[] };
  let bytes = 0;
  for (let s = 0; s < SHARDS; s++) {
    const key = c2cShardKey({ sdkAppId: APP, shard: s, runId: 'seed', part: s });
    const text = serializeShard(byShard[s] ?? []);
    bytes += text.length;
    store.seed(key, text);
    head.shardKeys.push(key);
  }
  store.seed(c2cHeadKey(APP), serializeC2cHead(head));
  return bytes;
}

async function main(): Promise<void> {
  const pairs = Number(process.argv[2] ?? 1_000_000);
  const store = new MemoryStore();
  const stateBytes = seed(store, pairs);
  (globalThis as { gc?: () => void }).gc?.();
  const base = process.memoryUsage().heapUsed;
  let peak = 0;
  const timer = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage().heapUsed - base);
  }, 20);
  const roam = {
    getRoamMessages: async (r: RoamRequest) => ({
      complete: true,
      lastMsgTime: NOW - 30,
      lastMsgKey: 'x',
      messages: [{ MsgKey: `new-${r.operatorAccount}`, MsgTimeStamp: NOW - 30 }],
    }),
  };
  const started = Date.now();
  const report = await runC2cPass(
    {
      roam,
      store,
      clock: { now: () => Date.now(), sleep: async () => undefined },
      logger: silentLogger,
      serverNowMs: () => NOW * 1000,
      fence: async () => undefined,
      signal: new AbortController().signal,
    },
    {
      sdkAppId: APP,
      runId: 'bench',
      timeZone: 'UTC',
      retentionDays: 7,
      deadlineMs: null,
      observedAtSec: NOW,
      checkpointIntervalMs: 60_000,
      flushBytes: 64 << 20,
      concurrency: 64,
      pairs: [],
    },
  );
  clearInterval(timer);
  const { skipped: _, ...counts } = report;
  console.log(
    JSON.stringify({
      pairs,
      ms: Date.now() - started,
      stateMB: +(stateBytes / 1e6).toFixed(1),
      heapGrowthMB: +(peak / 1e6).toFixed(1),
      ...counts,
    }),
  );
}

await main();
