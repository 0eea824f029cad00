/**
 * The one-to-one pass (functions/engine/c2c-pass.ts) inside runArchive over the in-memory fakes:
 * pairs from the config kept once, every message once across runs (the window's inclusive lower
 * second dropped by identity), continuation across a deadline, a gone account skipped, a killed
 * checkpoint rolled back, and the memory bound: a run holds the shards in flight, not every pair.
 */
import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { configPairs, newPairState, serializeShard } from '../../../functions/domain/c2c-pairs.ts';
import { conversationOf, parseC2cRecordLine } from '../../../functions/domain/c2c-record.ts';
import {
  c2cHeadKey,
  c2cShardKey,
  emptyC2cHead,
  parseC2cHead,
  serializeC2cHead,
} from '../../../functions/domain/c2c-state.ts';
import { GiveUpError, StorageError } from '../../../functions/domain/errors.ts';
import type { RoamApi } from '../../../functions/domain/ports.ts';
import type { RoamMessage, RoamRequest } from '../../../functions/domain/tencent-types.ts';
import type { C2cRunOptions } from '../../../functions/engine/c2c-pass.ts';
import { type C2cReport, formatC2cLine } from '../../../functions/engine/c2c-report.ts';
import { runArchive } from '../../../functions/engine/run-archive.ts';
import {
  FakeChatApi,
  FakeClock,
  MemoryStore,
  silentLogger,
  testRunOptions,
} from '../../helpers/engine-fakes.ts';

const APP = 1400000001;
const NOW_SEC = Date.UTC(2026, 0, 1) / 1000;

/** `count` messages from `from` to `to` and back, `step` seconds apart (3 share each second when step is 0). */
function conversation(from: string, to: string, count: number, startSec: number, step = 60): RoamMessage[] {
  return Array.from({ length: count }, (_, i) => ({
    From_Account: i % 2 === 0 ? from : to,
    To_Account: i % 2 === 0 ? to : from,
    MsgSeq: i % 7,
    MsgRandom: i,
    MsgTimeStamp: startSec + (step === 0 ? Math.floor(i / 3) : i * step),
    MsgKey: `${from}-${to}-${i}`,
    MsgFlagBits: 0,
    MsgBody: [{ MsgType: 'TIMTextElem', MsgContent: { Text: `m${i}` } }],
  }));
}

/** Every archived one-to-one row as conversation + key. */
function archivedC2c(store: MemoryStore): string[] {
  const rows: string[] = [];
  for (const key of store.keys('c2c/')) {
    for (const line of gunzipSync(store.body(key) as Uint8Array)
      .toString('utf8')
      .split('\n')) {
      if (line === '') continue;
      const row = parseC2cRecordLine(line);
      rows.push(`${row.conversation} ${row.msg_key}`);
    }
  }
  return rows;
}

function expectedKeys(pairs: { accounts: readonly [string, string]; messages: RoamMessage[] }[]) {
  return pairs.flatMap((p) => p.messages.map((m) => `${conversationOf(...p.accounts)} ${m.MsgKey}`));
}

function setup(c2c: { accounts: readonly [string, string]; messages: RoamMessage[] }[]) {
  const store = new MemoryStore();
  const clock = new FakeClock(NOW_SEC * 1000);
  const api = new FakeChatApi({ c2c, serverNowMs: () => clock.now() });
  return { store, clock, api, deps: { api, roam: api as RoamApi, store, clock, logger: silentLogger } };
}

function c2cOptions(over: Partial<C2cRunOptions> = {}): C2cRunOptions {
  return {
    pairs: configPairs({ accounts: ['alice', 'bob', 'carol'], pairs: [['bob', 'alice']] }),
    concurrency: 4,
    shards: 8,
    ...over,
  };
}

const c2cOf = (report: object) => (report as { c2c?: C2cReport }).c2c as C2cReport;

describe('the one-to-one pass', () => {
  it('archives every message of each pair once, from pairs named in either order, and only new ones next run', async () => {
    const ab = {
      accounts: ['bob', 'alice'] as const,
      messages: conversation('bob', 'alice', 250, NOW_SEC - 3_000, 0),
    };
    const ac = {
      accounts: ['alice', 'carol'] as const,
      messages: conversation('alice', 'carol', 40, NOW_SEC - 5_000),
    };
    const { store, deps, clock, api } = setup([ab, ac]);

    const first = await runArchive(deps, { ...testRunOptions(APP), retentionDays: 7, c2c: c2cOptions() });

    expect(first.done).toBe(true);
    expect(c2cOf(first)).toMatchObject({ pairsKnown: 3, pairsAdded: 3, pairsCaughtUp: 3, messages: 290 });
    expect(archivedC2c(store).sort()).toEqual(expectedKeys([ab, ac]).sort());
    // Each pair read from one side: its first account in code-point order.
    const operators = api.calls
      .filter((c) => c.api === 'getRoamMessages')
      .map((c) => (c.args as RoamRequest).operatorAccount);
    expect(new Set(operators)).toEqual(new Set(['alice', 'bob']));

    // More messages, two of them in the second of the newest archived one.
    const newest = ab.messages.at(-1)?.MsgTimeStamp as number;
    const more = conversation('alice', 'bob', 5, newest, 0).map((m, i) => ({ ...m, MsgKey: `late-${i}` }));
    ab.messages.push(...more);
    clock.advance(10_000);
    const second = await runArchive(deps, { ...testRunOptions(APP), retentionDays: 7, c2c: c2cOptions() });

    expect(c2cOf(second)).toMatchObject({ messages: 5, pairsAdded: 0 });
    // The newest archived second came again (inclusive MinTime) and was dropped by identity.
    expect(c2cOf(second).duplicates).toBeGreaterThan(0);
    const rows = archivedC2c(store);
    expect(rows.length).toBe(new Set(rows).size);
    expect(rows.sort()).toEqual(expectedKeys([ab, ac]).sort());
  });

  it('continues a window cut by the deadline at its cursor in the next run', async () => {
    const ab = {
      accounts: ['alice', 'bob'] as const,
      messages: conversation('alice', 'bob', 450, NOW_SEC - 90_000),
    };
    const { store, deps, clock, api } = setup([ab]);
    // Every page takes a second; the deadline comes after the third.
    const slow: RoamApi = {
      getRoamMessages: async (request) => {
        clock.advance(1_000);
        return api.getRoamMessages(request);
      },
    };
    const options = {
      ...testRunOptions(APP),
      retentionDays: 7,
      // One request at a time: the window stays one span (spans: test/unit/engine/c2c-inflight.test.ts).
      c2c: c2cOptions({ pairs: [['alice', 'bob']], concurrency: 1 }),
    };

    const first = await runArchive({ ...deps, roam: slow }, { ...options, deadlineMs: clock.now() + 2_500 });

    expect(first.done).toBe(false);
    expect(c2cOf(first)).toMatchObject({ pages: 3, messages: 300, pairsLeftOpen: 1 });
    const head = parseC2cHead(store.text(c2cHeadKey(APP)) as string, APP);
    expect(head.pending).toBeNull();

    // Messages after the first run's window: the resumed window ends at that run's now, and the
    // run reads on to its own.
    clock.advance(600_000);
    ab.messages.push(
      ...conversation('bob', 'alice', 7, clock.now() / 1000 - 400).map((m, i) => ({
        ...m,
        MsgKey: `after-${i}`,
      })),
    );
    const calls = api.calls.length;
    const second = await runArchive(deps, { ...options, runId: 'run2' });

    expect(second.done).toBe(true);
    // The next run starts at the committed continuation point, not at the top of the window.
    const resumed = api.calls.slice(calls).find((c) => c.api === 'getRoamMessages')?.args as RoamRequest;
    expect(resumed.lastMsgKey).toBe(ab.messages[150]?.MsgKey);
    const rows = archivedC2c(store);
    expect(rows.length).toBe(457);
    expect(rows.sort()).toEqual(expectedKeys([ab]).sort());
  });

  it('skips a pair whose account is gone, says so, and archives the others', async () => {
    const ab = {
      accounts: ['alice', 'bob'] as const,
      messages: conversation('alice', 'bob', 10, NOW_SEC - 900),
    };
    const { store, deps, api } = setup([ab]);
    const gone: RoamApi = {
      getRoamMessages: async (request) => {
        if (request.peerAccount === 'carol' || request.operatorAccount === 'carol') {
          throw new GiveUpError('skip-group', 'the peer account does not exist (90003)', { attempts: 1 });
        }
        return api.getRoamMessages(request);
      },
    };

    const report = await runArchive(
      { ...deps, roam: gone },
      { ...testRunOptions(APP), retentionDays: 7, c2c: c2cOptions() },
    );

    expect(report.done).toBe(true);
    expect(c2cOf(report)).toMatchObject({ pairsSkipped: 2, messages: 10 });
    expect(
      c2cOf(report)
        .skipped.map((s) => s.conversation)
        .sort(),
    ).toEqual([conversationOf('alice', 'carol'), conversationOf('bob', 'carol')]);
    expect(archivedC2c(store).length).toBe(10);
    expect(formatC2cLine(c2cOf(report))).toBe(
      '  one-to-one: 3 pairs known, 3 pulled, 1 caught up, 0 left open, 2 skipped (account gone); 10 messages (0 recalled, 0 quarantined) in 1 pages',
    );
  });

  it('rolls back a checkpoint that died after its intent, and archives every message once', async () => {
    const ab = {
      accounts: ['alice', 'bob'] as const,
      messages: conversation('alice', 'bob', 120, NOW_SEC - 9_000),
    };
    const { store, deps } = setup([ab]);
    // The first row object lands, then the writer dies before it hears back: the run stops.
    store.fail({
      op: 'put',
      key: (k) => k.startsWith('c2c/'),
      when: 'after',
      error: new StorageError('boom'),
    });
    const options = {
      ...testRunOptions(APP),
      retentionDays: 7,
      c2c: c2cOptions({ pairs: [['alice', 'bob']] }),
    };

    await expect(runArchive(deps, options)).rejects.toBeInstanceOf(StorageError);
    const left = parseC2cHead(store.text(c2cHeadKey(APP)) as string, APP);
    expect(left.pending?.objects.length).toBeGreaterThan(0);
    expect(archivedC2c(store).length).toBe(120);

    const second = await runArchive(deps, { ...options, runId: 'run2' });

    expect(c2cOf(second).rolledBackObjects).toBe(left.pending?.objects.length);
    const rows = archivedC2c(store);
    expect(rows.length).toBe(120);
    expect(rows.sort()).toEqual(expectedKeys([ab]).sort());
  });

  it('holds only the shards in flight: 20,000 known pairs, 5% active', async () => {
    const PAIRS = 20_000;
    const SHARDS = 64;
    const store = new MemoryStore();
    const clock = new FakeClock(NOW_SEC * 1000);
    const active: { accounts: readonly [string, string]; messages: RoamMessage[] }[] = [];
    const byShard = new Map<number, ReturnType<typeof newPairState>[]>();
    const { pairShard } = await import('../../../functions/domain/c2c-pairs.ts');
    for (let i = 0; i < PAIRS; i++) {
      const pair = [`u${String(i).padStart(6, '0')}`, `v${String(i).padStart(6, '0')}`] as const;
      const isActive = i % 20 === 0;
      const state = {
        ...newPairState(pair),
        archivedTime: NOW_SEC - 86_400,
        edgeKeys: [`old-${i}`],
        pulledAt: NOW_SEC - 80_000,
        knownTime: isActive ? NOW_SEC - 60 : NOW_SEC - 86_400,
      };
      if (isActive)
        active.push({ accounts: pair, messages: conversation(pair[0], pair[1], 2, NOW_SEC - 120) });
      const shard = pairShard(conversationOf(...pair), SHARDS);
      byShard.set(shard, [...(byShard.get(shard) ?? []), state]);
    }
    const head = { ...emptyC2cHead(APP, SHARDS), shardKeys: [] as (string | null)[] };
    for (let s = 0; s < SHARDS; s++) {
      const key = c2cShardKey({ sdkAppId: APP, shard: s, runId: 'seed', part: s });
      store.seed(key, serializeShard(byShard.get(s) ?? []));
      head.shardKeys.push(key);
    }
    store.seed(c2cHeadKey(APP), serializeC2cHead(head));
    const api = new FakeChatApi({ c2c: active, serverNowMs: () => clock.now() });
    const deps = { api, roam: api as RoamApi, store, clock, logger: silentLogger };

    const report = await runArchive(deps, {
      ...testRunOptions(APP),
      retentionDays: 7,
      c2c: { pairs: [], concurrency: 16, maxPairStates: 600 },
    });

    const c2c = c2cOf(report);
    expect(c2c).toMatchObject({
      pairsKnown: PAIRS,
      pairsPulled: PAIRS / 20,
      messages: PAIRS / 10,
      done: true,
    });
    // At most the bound and one shard more (the shards handed out, in flight or not committed).
    const perShard = Math.max(...[...byShard.values()].map((l) => l.length));
    expect(c2c.peakPairsLoaded).toBeLessThanOrEqual(3 * perShard);
    expect(archivedC2c(store).length).toBe(PAIRS / 10);
  });
});
