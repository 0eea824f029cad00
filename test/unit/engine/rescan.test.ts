/**
 * The rescan (functions/engine/rescan.ts) over a scripted ChatApi, the in-memory store and a fake
 * clock. A first run archives one group (writing its fingerprint logs); the rescan then compares
 * every archived message with what the server shows: an unchanged message gives no row, an edited
 * one a `modified` revision, a recalled one `recalled`, one deleted and served as a zeroed
 * placeholder a `deleted` revision filed under the original message's day.
 */
import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { GiveUpError } from '../../../functions/domain/errors.ts';
import { rescanProgressKey } from '../../../functions/domain/partition.ts';
import type { RawMessage } from '../../../functions/domain/tencent-types.ts';
import type { RunContext } from '../../../functions/engine/page-loop.ts';
import { PartitionWriter } from '../../../functions/engine/partition-writer.ts';
import { emptyReport } from '../../../functions/engine/report.ts';
import { rescanTargets } from '../../../functions/engine/rescan.ts';
import { runArchive } from '../../../functions/engine/run-archive.ts';
import { StateKeeper } from '../../../functions/engine/state-keeper.ts';
import {
  FakeChatApi,
  type FakeChatApiOptions,
  FakeClock,
  MemoryStore,
  messageRun,
  silentLogger,
  testRunOptions,
} from '../../helpers/engine-fakes.ts';

const APP = 1400000001;
const GROUP = '@TGS#rescan';
const HOUR_MS = 3_600_000;

interface Row {
  msg_seq: number;
  msg_time: number;
  is_place_msg: number;
  revision: number;
  change: string | null;
  key: string;
}

/** Every archived row, with the key of the object it is in. */
function rows(store: MemoryStore): Row[] {
  return store.keys('messages/').flatMap((key) =>
    gunzipSync(store.body(key) as Uint8Array)
      .toString('utf8')
      .split('\n')
      .filter((line) => line !== '')
      .map((line) => ({ ...(JSON.parse(line) as Omit<Row, 'key'>), key })),
  );
}

/** The `dt=` part of an object key. */
function dtOf(key: string): string | undefined {
  return /dt=([0-9-]+)/.exec(key)?.[1];
}

/**
 * One group of 10 messages (seqs 1..10, an hour apart, the newest 2 hours old) archived by a first
 * run an hour ago; `messages` is what the fake server serves, to change before the rescan.
 */
async function archived(history?: FakeChatApiOptions['history']) {
  const store = new MemoryStore();
  const clock = new FakeClock();
  const nowSec = clock.now() / 1000;
  const messages: RawMessage[] = messageRun(10, nowSec - 11 * 3600, 3600);
  const api = new FakeChatApi({ groups: { [GROUP]: messages }, serverNowMs: () => clock.now() });
  const deps = { api, store, clock, logger: silentLogger };
  const first = await runArchive(deps, testRunOptions(APP, { runId: 'run1' }));
  expect(first.messages).toBe(10);
  clock.advance(HOUR_MS);
  const rescanApi = new FakeChatApi({
    groups: { [GROUP]: messages },
    serverNowMs: () => clock.now(),
    ...(history ? { history } : {}),
  });
  return { store, clock, messages, api: rescanApi };
}

/** A run's context for the rescan alone (what runArchive gives it once paging is done). */
async function rescanRun(store: MemoryStore, clock: FakeClock, api: FakeChatApi, runId: string) {
  const options = testRunOptions(APP, { runId, rescanDays: 3, retentionDays: 7 });
  const keeper = await StateKeeper.open({
    store,
    sdkAppId: APP,
    runId,
    clock,
    logger: silentLogger,
    leaseMs: options.leaseMs,
  });
  const writer = new PartitionWriter({ sdkAppId: APP, runId, timeZone: 'UTC', store });
  const report = emptyReport(runId, APP, clock.now());
  const deps = { api, store, clock, logger: silentLogger };
  const run: RunContext = {
    deps,
    options,
    keeper,
    writer,
    report,
    signal: undefined,
    fence: async () => undefined,
  };
  return run;
}

describe('rescanTargets', () => {
  it('finds nothing changed when the server shows what was archived: every message checked, no row written', async () => {
    const { store, clock, api } = await archived();
    const objects = store.keys('messages/');
    const run = await rescanRun(store, clock, api, 'run2');

    await rescanTargets(run);

    expect(run.report.rescan).toMatchObject({
      days: 3,
      checked: 10,
      modified: 0,
      recalled: 0,
      deleted: 0,
      restored: 0,
      complete: true,
    });
    expect(run.report.rescan.calls).toBeGreaterThan(0);
    expect(run.report.messages).toBe(0);
    expect(store.keys('messages/')).toEqual(objects);
    const progress = JSON.parse(store.text(rescanProgressKey(APP)) ?? 'null');
    expect(progress).toMatchObject({ cycle: null, lastCompletedAtSec: clock.now() / 1000 });
  });

  it('writes one revision row per change: modified, recalled, and deleted (a zeroed placeholder) under the original day', async () => {
    const { store, clock, messages, api } = await archived();
    const at = (seq: number) => messages.findIndex((m) => m.MsgSeq === seq);
    const original = messages[at(7)] as RawMessage;
    messages[at(5)] = {
      ...(messages[at(5)] as RawMessage),
      MsgBody: [{ MsgType: 'TIMTextElem', MsgContent: { Text: 'edited' } }],
    };
    messages[at(3)] = { ...(messages[at(3)] as RawMessage), IsPlaceMsg: 2 };
    messages[at(7)] = { ...original, IsPlaceMsg: 1, MsgTimeStamp: 0, MsgBody: [] };
    const run = await rescanRun(store, clock, api, 'run2');

    await rescanTargets(run);

    expect(run.report.rescan).toMatchObject({
      checked: 10,
      modified: 1,
      recalled: 1,
      deleted: 1,
      complete: true,
    });
    expect(run.report.messages).toBe(3);
    const revisions = rows(store).filter((r) => r.revision > 0);
    expect(revisions.map((r) => [r.msg_seq, r.change, r.revision]).sort()).toEqual([
      [3, 'recalled', 1],
      [5, 'modified', 1],
      [7, 'deleted', 1],
    ]);
    const deleted = revisions.find((r) => r.msg_seq === 7);
    const first = rows(store).find((r) => r.msg_seq === 7 && r.revision === 0);
    // Kept exactly as served (time 0), filed in the original message's day.
    expect(deleted?.msg_time).toBe(0);
    expect(deleted?.is_place_msg).toBe(1);
    expect(dtOf(deleted?.key ?? '')).toBe(dtOf(first?.key ?? 'none'));
    expect(dtOf(first?.key ?? '')).toBe(new Date(original.MsgTimeStamp * 1000).toISOString().slice(0, 10));
  });

  it('does not record a change twice: the next cycle compares with the revision and finds it the same', async () => {
    const { store, clock, messages, api } = await archived();
    const at = messages.findIndex((m) => m.MsgSeq === 5);
    messages[at] = {
      ...(messages[at] as RawMessage),
      MsgBody: [{ MsgType: 'TIMTextElem', MsgContent: { Text: 'edited' } }],
    };
    await rescanTargets(await rescanRun(store, clock, api, 'run2'));
    clock.advance(HOUR_MS);

    const again = await rescanRun(store, clock, api, 'run3');
    await rescanTargets(again);

    expect(again.report.rescan).toMatchObject({ checked: 10, modified: 0, complete: true });
    expect(rows(store).filter((r) => r.revision > 0)).toHaveLength(1);
  });

  it('reports a target it could not compare and completes the cycle with the others', async () => {
    const exhausted = new GiveUpError('retries-exhausted', 'HTTP 503 five times', { attempts: 5 });
    const { store, clock, api } = await archived(() => {
      throw exhausted;
    });
    const run = await rescanRun(store, clock, api, 'run2');

    await rescanTargets(run);

    expect(run.report.errors).toEqual([
      { groupId: GROUP, topicId: null, error: expect.stringMatching(/^rescan: .*HTTP 503 five times/) },
    ]);
    expect(run.report.rescan).toMatchObject({ checked: 0, complete: true });
  });

  it('does nothing when the rescan is off', async () => {
    const store = new MemoryStore();
    const clock = new FakeClock();
    const api = new FakeChatApi();
    const run = await rescanRun(store, clock, api, 'run1');
    const off: RunContext = { ...run, options: { ...run.options, rescanDays: 0 } };

    await rescanTargets(off);

    expect(off.report.rescan.days).toBe(0);
    expect(api.calls).toEqual([]);
    expect(store.text(rescanProgressKey(APP))).toBeUndefined();
  });

  it("reads none of a run's own fingerprint logs back (nothing in them is a candidate), and the next run reads them", async () => {
    const store = new MemoryStore();
    const clock = new FakeClock();
    const nowSec = clock.now() / 1000;
    const api = new FakeChatApi({
      groups: { [GROUP]: messageRun(10, nowSec - 11 * 3600, 3600) },
      serverNowMs: () => clock.now(),
    });
    const deps = { api, store, clock, logger: silentLogger };
    const logReads = () =>
      store.calls.filter((c) => c.op === 'get' && c.key.startsWith('fingerprints/')).length;

    const first = await runArchive(deps, testRunOptions(APP, { runId: 'run1', rescanDays: 3 }));
    expect(store.keys('fingerprints/').length).toBeGreaterThan(0);
    expect(logReads()).toBe(0);
    expect(first.rescan).toMatchObject({ checked: 0, complete: true });

    clock.advance(HOUR_MS);
    const second = await runArchive(deps, testRunOptions(APP, { runId: 'run2', rescanDays: 3 }));
    expect(logReads()).toBeGreaterThan(0);
    expect(second.rescan).toMatchObject({ checked: 10, complete: true });
  });
});
