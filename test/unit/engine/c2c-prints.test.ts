/**
 * The prints the one-to-one pass keeps for the rescan (functions/domain/c2c-revision.ts, kept in
 * the pair's state line by functions/engine/c2c-pass.ts): one per message archived within
 * `rescan.days`, with the fingerprint of the row written, older ones dropped as the window moves.
 */
import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { type C2cPairState, configPairs, parseShard } from '../../../functions/domain/c2c-pairs.ts';
import { parseC2cRecordLine } from '../../../functions/domain/c2c-record.ts';
import { c2cPrintOf } from '../../../functions/domain/c2c-revision.ts';
import { c2cHeadKey, parseC2cHead } from '../../../functions/domain/c2c-state.ts';
import type { RoamApi } from '../../../functions/domain/ports.ts';
import type { RoamMessage } from '../../../functions/domain/tencent-types.ts';
import type { C2cRunOptions } from '../../../functions/engine/c2c-pass.ts';
import type { C2cReport } from '../../../functions/engine/c2c-report.ts';
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
const HOUR = 3_600;

/** One message an hour from `startSec`, `count` of them. */
function hourly(count: number, startSec: number, prefix: string): RoamMessage[] {
  return Array.from({ length: count }, (_, i) => ({
    From_Account: i % 2 === 0 ? 'alice' : 'bob',
    To_Account: i % 2 === 0 ? 'bob' : 'alice',
    MsgSeq: i,
    MsgRandom: i,
    MsgTimeStamp: startSec + i * HOUR,
    MsgKey: `${prefix}-${i}`,
    MsgFlagBits: 0,
    IsPeerRead: 0,
    MsgBody: [{ MsgType: 'TIMTextElem', MsgContent: { Text: `${prefix} ${i}` } }],
  }));
}

function pairStates(store: MemoryStore): C2cPairState[] {
  const head = parseC2cHead(Buffer.from(store.body(c2cHeadKey(APP)) as Uint8Array).toString('utf8'), APP);
  return head.shardKeys.flatMap((key) =>
    key === null ? [] : parseShard(Buffer.from(store.body(key) as Uint8Array).toString('utf8')),
  );
}

/** The print of every archived row, by key. */
function rowPrints(store: MemoryStore) {
  const out = new Map<string, ReturnType<typeof c2cPrintOf>>();
  for (const key of store.keys('c2c/')) {
    for (const line of gunzipSync(store.body(key) as Uint8Array)
      .toString('utf8')
      .split('\n')) {
      if (line === '') continue;
      const print = c2cPrintOf(parseC2cRecordLine(line));
      if (print !== undefined) out.set(print.msgKey, print);
    }
  }
  return out;
}

function setup(messages: RoamMessage[]) {
  const store = new MemoryStore();
  const clock = new FakeClock(NOW_SEC * 1000);
  const c2c = [{ accounts: ['alice', 'bob'] as const, messages }];
  const api = new FakeChatApi({ c2c, serverNowMs: () => clock.now() });
  return { store, clock, deps: { api, roam: api as RoamApi, store, clock, logger: silentLogger } };
}

const c2cOptions = (over: Partial<C2cRunOptions> = {}): C2cRunOptions => ({
  pairs: configPairs({ pairs: [['bob', 'alice']] }),
  concurrency: 2,
  shards: 4,
  ...over,
});

describe('prints for the one-to-one rescan', () => {
  it('keeps a print per message archived within rescan.days, the row’s, and drops them as the window moves', async () => {
    // 48 messages an hour apart, the newest an hour ago: 23 of them within the last day.
    const messages = hourly(48, NOW_SEC - 48 * HOUR, 'old');
    const { store, clock, deps } = setup(messages);
    const run = () =>
      runArchive(deps, { ...testRunOptions(APP), retentionDays: 7, c2c: c2cOptions({ rescanDays: 1 }) });

    expect((await run()).done).toBe(true);
    const [pair] = pairStates(store);
    const inWindow = messages.filter((m) => m.MsgTimeStamp >= NOW_SEC - 24 * HOUR).map((m) => m.MsgKey);
    expect(inWindow.length).toBeGreaterThan(0);
    expect(inWindow.length).toBeLessThan(messages.length);
    expect(pair?.prints?.map((p) => p.msgKey)).toEqual(inWindow);
    const rows = rowPrints(store);
    for (const p of pair?.prints ?? []) expect(p).toEqual(rows.get(p.msgKey));

    // Twelve hours later, with two new messages: the window moved by twelve hours.
    clock.advance(12 * HOUR * 1000);
    messages.push(...hourly(2, NOW_SEC + HOUR, 'new'));
    expect((await run()).done).toBe(true);
    const nowSec = NOW_SEC + 12 * HOUR;
    const expected = messages.filter((m) => m.MsgTimeStamp >= nowSec - 24 * HOUR).map((m) => m.MsgKey);
    const [later] = pairStates(store);
    expect(later?.prints?.map((p) => p.msgKey)).toEqual(expected);
  });

  it('leaves a rescan cut by the deadline for the next run, which writes the revision once', async () => {
    const messages: RoamMessage[] = Array.from({ length: 450 }, (_, i) => ({
      ...(hourly(1, NOW_SEC - 30_000 + i * 60, 'm')[0] as RoamMessage),
      MsgKey: `m-${i}`,
    }));
    const { store, clock, deps } = setup(messages);
    const options = { ...testRunOptions(APP), retentionDays: 7, c2c: c2cOptions({ rescanDays: 1 }) };
    expect((await runArchive(deps, options)).done).toBe(true);

    // The oldest message is recalled: the rescan pages backwards, so it is on its last page.
    messages[0] = { ...(messages[0] as RoamMessage), MsgFlagBits: 8, MsgBody: [] };
    // Every page takes a second; the deadline comes in the rescan's second page.
    const slow: RoamApi = {
      getRoamMessages: async (request) => {
        clock.advance(1_000);
        return deps.roam.getRoamMessages(request);
      },
    };
    const cut = await runArchive(
      { ...deps, roam: slow },
      { ...options, runId: 'run2', deadlineMs: clock.now() + 2_500 },
    );
    const c2c = (r: object) => (r as { c2c?: C2cReport }).c2c as C2cReport;
    expect(cut.done).toBe(false);
    expect(c2c(cut)).toMatchObject({ pairsRescanned: 1, revisions: 0, rescanLeft: 1 });

    const next = await runArchive(deps, { ...options, runId: 'run3' });
    expect(next.done).toBe(true);
    expect(c2c(next)).toMatchObject({ revisions: 1, rescanLeft: 0 });
    const again = await runArchive(deps, { ...options, runId: 'run4' });
    expect(c2c(again)).toMatchObject({ revisions: 0 });
    const [pair] = pairStates(store);
    expect(pair?.prints?.find((p) => p.msgKey === 'm-0')).toMatchObject({ revision: 1, flagBits: 8 });
  });

  it('keeps none when the rescan is off', async () => {
    const { store, deps } = setup(hourly(5, NOW_SEC - 10 * HOUR, 'm'));
    await runArchive(deps, { ...testRunOptions(APP), retentionDays: 7, c2c: c2cOptions() });
    const [pair] = pairStates(store);
    expect(pair?.archivedTime).toBe(NOW_SEC - 6 * HOUR);
    expect(pair?.prints).toBeUndefined();
  });
});
