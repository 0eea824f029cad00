/**
 * Deletions in the one-to-one rescan (functions/engine/c2c-rescan.ts; docs/one-to-one.md): a
 * message the first side's window no longer shows is looked for from the second side, over the
 * missing messages' range only; shown there, it was deleted for one side (no row); shown on
 * neither side, it is one `deleted` revision, written once. The fake API serves each side's view.
 */
import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { configPairs, parseShard } from '../../../functions/domain/c2c-pairs.ts';
import { type C2cRecord, parseC2cRecordLine } from '../../../functions/domain/c2c-record.ts';
import { isDeletedPrint } from '../../../functions/domain/c2c-revision.ts';
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

const APP = 1400000001;
const NOW_SEC = Date.UTC(2026, 0, 1) / 1000;
const HOUR = 3_600;

/** Ten messages an hour apart, the newest an hour ago (all inside a one-day rescan). */
function hourly(): RoamMessage[] {
  return Array.from({ length: 10 }, (_, i) => ({
    From_Account: i % 2 === 0 ? 'alice' : 'bob',
    To_Account: i % 2 === 0 ? 'bob' : 'alice',
    MsgSeq: i,
    MsgRandom: i,
    MsgTimeStamp: NOW_SEC - (10 - i) * HOUR,
    MsgKey: `k${i}`,
    MsgFlagBits: 0,
    IsPeerRead: 0,
    MsgBody: [{ MsgType: 'TIMTextElem', MsgContent: { Text: `m ${i}` } }],
  }));
}

function rows(store: MemoryStore): C2cRecord[] {
  return store.keys('c2c/').flatMap((key) =>
    gunzipSync(store.body(key) as Uint8Array)
      .toString('utf8')
      .split('\n')
      .filter((line) => line !== '')
      .map(parseC2cRecordLine),
  );
}

function prints(store: MemoryStore) {
  const head = parseC2cHead(Buffer.from(store.body(c2cHeadKey(APP)) as Uint8Array).toString('utf8'), APP);
  return head.shardKeys
    .flatMap((key) =>
      key === null ? [] : parseShard(Buffer.from(store.body(key) as Uint8Array).toString('utf8')),
    )
    .flatMap((pair) => pair.prints ?? []);
}

/**
 * Each side's view: the fake's messages without those `hidden` from the operator (served as
 * `IsPlaceMsg` 1 placeholders instead when `placeholders`). Counts the calls per operator.
 */
function setup(messages: RoamMessage[], placeholders = false) {
  const store = new MemoryStore();
  const clock = new FakeClock(NOW_SEC * 1000);
  const api = new FakeChatApi({
    c2c: [{ accounts: ['alice', 'bob'], messages }],
    serverNowMs: () => clock.now(),
  });
  const hidden = { alice: new Set<string>(), bob: new Set<string>() };
  const calls: RoamRequest[] = [];
  const roam: RoamApi = {
    getRoamMessages: async (request) => {
      calls.push(request);
      const page = await api.getRoamMessages(request);
      const gone = hidden[request.operatorAccount as 'alice' | 'bob'];
      const view = page.messages.flatMap((m): RoamMessage[] => {
        if (!gone.has(m.MsgKey)) return [m];
        return placeholders ? [{ ...m, IsPlaceMsg: 1, MsgBody: [] }] : [];
      });
      return { ...page, messages: view };
    },
  };
  const deps = { api, roam, store, clock, logger: silentLogger };
  let run = 0;
  const archive = async (): Promise<C2cReport> => {
    const options = {
      ...testRunOptions(APP),
      runId: `run${++run}`,
      retentionDays: 7,
      c2c: { pairs: configPairs({ pairs: [['alice', 'bob']] }), concurrency: 1, shards: 2, rescanDays: 1 },
    };
    const report = await runArchive(deps, options);
    expect(report.done).toBe(true);
    return (report as { c2c?: C2cReport }).c2c as C2cReport;
  };
  return { store, hidden, calls, archive };
}

const fromBob = (calls: RoamRequest[]) => calls.filter((c) => c.operatorAccount === 'bob');

describe('one-to-one deletions in the rescan', () => {
  it('writes one deleted revision for a message neither side shows, none for one side’s deletion, once', async () => {
    const messages = hourly();
    const { store, hidden, calls, archive } = setup(messages);
    await archive();
    expect(rows(store)).toHaveLength(10);

    hidden.alice.add('k2').add('k3').add('k5');
    hidden.bob.add('k3');
    messages[7] = { ...(messages[7] as RoamMessage), MsgFlagBits: 8, MsgBody: [] };
    calls.length = 0;
    const second = await archive();
    expect(second).toMatchObject({ revisions: 2, deletions: 1, deletedForOneSide: 2, otherSideReads: 1 });
    // The second side is read once, over the missing messages' range only (k2 to k5).
    expect(fromBob(calls)).toEqual([
      expect.objectContaining({ minTime: messages[2]?.MsgTimeStamp, maxTime: messages[5]?.MsgTimeStamp }),
    ]);
    const revisions = rows(store).filter((r) => r.revision > 0);
    expect(revisions.map((r) => [r.msg_key, r.change]).sort()).toEqual([
      ['k3', 'deleted'],
      ['k7', 'recalled'],
    ]);
    expect(revisions.find((r) => r.msg_key === 'k3')).toMatchObject({
      conversation: '["alice","bob"]',
      msg_time: messages[3]?.MsgTimeStamp,
      revision: 1,
      from_account: 'bob',
      to_account: 'alice',
      msg_body: null,
      msg_flag_bits: null,
      cloud_custom_data: null,
      source: 'roam',
      quarantined: false,
    });
    const k3 = prints(store).find((p) => p.msgKey === 'k3');
    expect(k3 && isDeletedPrint(k3, ['alice', 'bob'])).toBe(true);

    // The next run: the same views, nothing new; the second side is still looked at (k2, k5).
    calls.length = 0;
    const third = await archive();
    expect(third).toMatchObject({ revisions: 0, deletions: 0, deletedForOneSide: 2, otherSideReads: 1 });
    expect(rows(store)).toHaveLength(12);

    // The other side deletes k5 too: now it is deleted.
    hidden.bob.add('k5');
    const fourth = await archive();
    expect(fourth).toMatchObject({ revisions: 1, deletions: 1, deletedForOneSide: 1 });
    expect(
      rows(store)
        .filter((r) => r.change === 'deleted')
        .map((r) => r.msg_key),
    ).toEqual(['k3', 'k5']);
  });

  it('reads the second side only when the first missed something', async () => {
    const messages = hourly();
    const { calls, archive } = setup(messages);
    await archive();
    messages[4] = { ...(messages[4] as RoamMessage), MsgFlagBits: 8, MsgBody: [] };
    calls.length = 0;
    expect(await archive()).toMatchObject({ revisions: 1, deletions: 0, otherSideReads: 0 });
    expect(fromBob(calls)).toEqual([]);
  });

  it('counts a placeholder (IsPlaceMsg 1) as not shown', async () => {
    const messages = hourly();
    const { store, hidden, archive } = setup(messages, true);
    await archive();
    hidden.alice.add('k1').add('k6');
    hidden.bob.add('k6');
    expect(await archive()).toMatchObject({ revisions: 1, deletions: 1, deletedForOneSide: 1 });
    expect(rows(store).filter((r) => r.revision > 0)).toEqual([
      expect.objectContaining({ msg_key: 'k6', change: 'deleted', revision: 1 }),
    ]);
    expect(await archive()).toMatchObject({ revisions: 0 });
  });

  it('restores a deleted message shown again', async () => {
    const messages = hourly();
    const { store, hidden, archive } = setup(messages);
    await archive();
    hidden.alice.add('k8');
    hidden.bob.add('k8');
    expect(await archive()).toMatchObject({ deletions: 1 });
    hidden.alice.delete('k8');
    expect(await archive()).toMatchObject({ revisions: 1, deletions: 0 });
    const k8 = rows(store)
      .filter((r) => r.msg_key === 'k8')
      .sort((x, y) => x.revision - y.revision);
    expect(k8.map((r) => [r.revision, r.change])).toEqual([
      [0, null],
      [1, 'deleted'],
      [2, 'restored'],
    ]);
  });
});
