/**
 * The one-to-one pass keeps its request slots busy (issue 26, deliverable 7; docs/one-to-one.md
 * "The pass"): big pairs each in a different shard among many small pairs, the old stall of the
 * pass (3 shards held, each waiting on its big pair, so about 3 calls in flight) must not come
 * back, and the big pairs left at the end are split into spans that use the idle slots.
 *
 * No clock is involved on either side: every answer comes back a fixed number of event-loop turns
 * after its call (a round trip in turns, not in milliseconds), so what is measured (the calls in
 * flight when each call is made) does not depend on how busy the machine is.
 */
import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { pairShard, parseShard, type SortedPair } from '../../../functions/domain/c2c-pairs.ts';
import { conversationOf, parseC2cRecordLine } from '../../../functions/domain/c2c-record.ts';
import { c2cHeadKey, parseC2cHead } from '../../../functions/domain/c2c-state.ts';
import type { RoamApi } from '../../../functions/domain/ports.ts';
import type { RoamMessage, RoamRequest } from '../../../functions/domain/tencent-types.ts';
import type { C2cReport } from '../../../functions/engine/c2c-report.ts';
import { runArchive } from '../../../functions/engine/run-archive.ts';
import {
  FakeChatApi,
  FakeClock,
  MemoryStore,
  silentLogger,
  testRunOptions,
} from '../../helpers/engine-fakes.ts';

const APP = 1400000002;
const NOW_SEC = Date.UTC(2026, 0, 1) / 1000;
const SHARDS = 64;
const CONCURRENCY = 16;
/** The round trip, in event-loop turns. */
const TURNS = 3;

function messages(pair: SortedPair, count: number): RoamMessage[] {
  // Evenly over the last 4 days, so a page covers a steady share of the window.
  const step = Math.floor((4 * 86_400) / count);
  return Array.from({ length: count }, (_, i) => ({
    From_Account: pair[i % 2] as string,
    To_Account: pair[(i + 1) % 2] as string,
    MsgSeq: i,
    MsgRandom: i,
    MsgTimeStamp: NOW_SEC - 4 * 86_400 + i * step,
    MsgKey: `${pair[0]}-${i}`,
    MsgFlagBits: 0,
    MsgBody: [{ MsgType: 'TIMTextElem', MsgContent: { Text: `m${i}` } }],
  }));
}

/** 8 big pairs (6,000 messages: 60 pages each), each in a shard of its own, and 200 small ones. */
function scenario() {
  const big: SortedPair[] = [];
  const shardsTaken = new Set<number>();
  for (let i = 0; big.length < 8; i++) {
    const pair: SortedPair = [`big-${i}`, `peer-${i}`];
    const shard = pairShard(conversationOf(...pair), SHARDS);
    if (shardsTaken.has(shard)) continue;
    shardsTaken.add(shard);
    big.push(pair);
  }
  const small = Array.from({ length: 200 }, (_, i): SortedPair => [`small-${i}`, `tiny-${i}`]);
  const c2c = [
    ...big.map((accounts) => ({ accounts, messages: messages(accounts, 6_000) })),
    ...small.map((accounts, i) => ({ accounts, messages: messages(accounts, 1 + (i % 5)) })),
  ];
  return { pairs: [...big, ...small], c2c };
}

/** Every archived one-to-one row as conversation + key. */
function archived(store: MemoryStore): string[] {
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

const c2cOf = (report: object) => (report as { c2c?: C2cReport }).c2c as C2cReport;

describe('the one-to-one pass at the rate limit', () => {
  it('keeps its request slots busy: big pairs in different shards do not stall it, and are split at the end', async () => {
    // Prepare
    const { pairs, c2c } = scenario();
    const store = new MemoryStore();
    const clock = new FakeClock(NOW_SEC * 1000);
    const api = new FakeChatApi({ c2c, serverNowMs: () => clock.now() });
    let inFlight = 0;
    const atCall: number[] = [];
    const turn = () => new Promise<void>((resolve) => setImmediate(resolve));
    const roam: RoamApi = {
      getRoamMessages: async (request) => {
        inFlight++;
        atCall.push(inFlight);
        try {
          for (let i = 0; i < TURNS; i++) await turn();
          return await api.getRoamMessages(request);
        } finally {
          inFlight--;
        }
      },
    };

    // Act
    const report = await runArchive(
      { api, roam, store, clock, logger: silentLogger },
      {
        ...testRunOptions(APP),
        retentionDays: 7,
        c2c: { pairs, concurrency: CONCURRENCY, shards: SHARDS },
      },
    );

    // Assess
    const pass = (report as { c2c?: C2cReport }).c2c as C2cReport;
    const total = c2c.reduce((n, p) => n + p.messages.length, 0);
    expect(pass).toMatchObject({ messages: total, pairsCaughtUp: pairs.length, duplicates: 0, done: true });
    const rows = archived(store);
    expect(rows).toHaveLength(total);
    expect(new Set(rows).size).toBe(total);
    // The fewest calls: a page of up to 100 messages each, one per small pair.
    const minimum = c2c.reduce((n, p) => n + Math.max(1, Math.ceil(p.messages.length / 100)), 0);
    expect(atCall.length).toBeGreaterThanOrEqual(minimum);
    expect(atCall.length).toBeLessThanOrEqual(Math.ceil(minimum * 1.05));
    // The slots stay busy (the old pass made its calls with at most about 9 in flight, most with 3):
    // on average at least 90% of them, and at least 80% of the calls with all but 2 in use. What is
    // left is the end, when the last spans are too short to split (MIN_SPAN_PAGES).
    const mean = atCall.reduce((n, x) => n + x, 0) / atCall.length;
    expect(mean).toBeGreaterThanOrEqual(0.9 * CONCURRENCY);
    const busy = atCall.filter((n) => n >= CONCURRENCY - 2).length;
    expect(busy / atCall.length).toBeGreaterThanOrEqual(0.8);
  });

  it('keeps each span’s cursor when the deadline cuts a split window, and the next run reads on from each', async () => {
    // Prepare: one big pair (3,000 messages, 30 pages), 4 slots: once its first page is in, no
    // other pair is left to hand out, so the window is split; every call takes a second of the
    // run's clock and the deadline comes after a few.
    const pair: SortedPair = ['alice', 'bob'];
    const c2c = [{ accounts: pair, messages: messages(pair, 3_000) }];
    const store = new MemoryStore();
    const clock = new FakeClock(NOW_SEC * 1000);
    const api = new FakeChatApi({ c2c, serverNowMs: () => NOW_SEC * 1000 });
    const slow: RoamApi = {
      getRoamMessages: async (request) => {
        clock.advance(1_000);
        return api.getRoamMessages(request);
      },
    };
    const deps = { api, roam: slow, store, clock, logger: silentLogger };
    const options = {
      ...testRunOptions(APP),
      retentionDays: 7,
      c2c: { pairs: [pair], concurrency: 4, shards: 4 },
    };

    // Act
    const first = await runArchive(deps, { ...options, deadlineMs: clock.now() + 5_500 });

    // Assess: left open with several spans, each with its own continuation, committed.
    expect(first.done).toBe(false);
    const head = parseC2cHead(store.text(c2cHeadKey(APP)) as string, APP);
    expect(head.pending).toBeNull();
    const shardKey = head.shardKeys.find((k) => k !== null) as string;
    const [state] = parseShard(store.text(shardKey) as string);
    const spans = state?.window?.spans ?? [];
    expect(spans.length).toBeGreaterThan(1);
    expect(spans.filter((s) => s.cursorKey !== '').length).toBeGreaterThan(1);
    expect(archived(store).length).toBeGreaterThan(0);

    // Act: the next run, without a deadline.
    const roamCalls = () => api.calls.filter((c) => c.api === 'getRoamMessages');
    const calls = roamCalls().length;
    const second = await runArchive(deps, { ...options, runId: 'run2' });

    // Assess: every message once; each span continued at its committed cursor.
    expect(second.done).toBe(true);
    const rows = archived(store);
    expect(rows).toHaveLength(3_000);
    expect(new Set(rows).size).toBe(3_000);
    const resumed = roamCalls()
      .slice(calls)
      .map((c) => (c.args as RoamRequest).lastMsgKey);
    for (const span of spans.filter((s) => s.cursorKey !== '')) expect(resumed).toContain(span.cursorKey);
    // At most one partial page a span more than the 30 pages of paging it whole (each span the
    // window was split into, and the first), and one call for the window the second run opens.
    const spansSplit = (c2cOf(first).spansSplit ?? 0) + (c2cOf(second).spansSplit ?? 0);
    expect(spansSplit).toBeGreaterThan(0);
    expect(roamCalls().length).toBeLessThanOrEqual(30 + spansSplit + 1 + 1);
  });
});
