/**
 * The archive engine end to end: the simulator over real HTTP, the local folder and S3 (s3rver)
 * over real I/O. Each test checks the archive against the simulator's ground truth: every message
 * exactly once, in the right `dt` folder.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { LocalFolderStore } from '../../functions/adapters/local-folder/local-folder-store.ts';
import { S3Store } from '../../functions/adapters/s3/s3-store.ts';
import { systemClock } from '../../functions/adapters/system-clock.ts';
import { emptyState, serializeState } from '../../functions/domain/continuation.ts';
import { StateCorruptError, StorageError } from '../../functions/domain/errors.ts';
import { dateInZone, stateKey } from '../../functions/domain/partition.ts';
import type { Clock } from '../../functions/domain/ports.ts';
import type { ObjectStore } from '../../functions/domain/storage.ts';
import { LeaseHeldError } from '../../functions/engine/errors.ts';
import type { Simulator, SimulatorOptions } from '../../functions/simulator/index.ts';
import {
  type ArchivedRow,
  exactlyOnceProblems,
  expectedIdentities,
  readArchive,
} from '../helpers/archive.ts';
import { engineRun, startEngineSimulator } from '../helpers/engine.ts';
import { startS3rver } from '../helpers/s3rver.ts';

/**
 * A row inside a look-back starting at `fromSec`: by its time, or for a zeroed placeholder
 * (`MsgTimeStamp` 0) by the day it is filed under (functions/domain/placeholder-time.ts).
 */
const inLookBack = (row: ArchivedRow, fromSec: number): boolean =>
  row.record.msg_time > 0 ? row.record.msg_time >= fromSec : row.dt >= dateInZone(fromSec, 'UTC');

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()?.();
});

const DATASET: SimulatorOptions['dataset'] = {
  groups: 14,
  activeFraction: 0.85,
  messagesPerActiveGroup: [30, 260],
  historyDays: 20,
  extraGroups: [
    {
      groupId: '@TGS#_@TGS#cENGINETOPIC',
      type: 'Community',
      messages: 0,
      topics: [
        { topicId: '@TGS#_@TGS#cENGINETOPIC@TOPIC#_@TOPIC#cA', messages: 70 },
        { topicId: '@TGS#_@TGS#cENGINETOPIC@TOPIC#_@TOPIC#cB', messages: 9 },
      ],
    },
    { groupId: '@TGS#aLIVE', type: 'AVChatRoom', messages: 10 },
  ],
};

async function simulator(over: Omit<SimulatorOptions, 'rateLimits'> = {}): Promise<Simulator> {
  const sim = await startEngineSimulator({ seed: 11, dataset: DATASET, retentionDays: 365, ...over });
  cleanups.push(() => sim.stop());
  return sim;
}

async function localStore(): Promise<LocalFolderStore> {
  const dir = await mkdtemp(join(tmpdir(), 'archive-'));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  return new LocalFolderStore(dir);
}

describe('runArchive', () => {
  it.each(['UTC', 'Asia/Shanghai'])(
    'archives every message exactly once into dt folders of %s',
    async (timeZone) => {
      const sim = await simulator();
      const store = await localStore();
      const report = await engineRun(sim, store, { timeZone, flushBytes: 20_000 }).run();
      const rows = await readArchive(store);
      expect(exactlyOnceProblems(rows, expectedIdentities(sim), timeZone)).toEqual([]);
      expect(report.done).toBe(true);
      expect(report.messages).toBe(rows.length);
      expect(report.groups.skipped['no-history-type']).toBe(1);
      expect(report.topics).toBe(sim.groups().reduce((n, g) => n + g.topics.length, 0));
      expect(report.topics).toBeGreaterThanOrEqual(2);
      expect(report.checkpoints).toBeGreaterThan(1);
    },
  );

  it('is incremental: only new messages, no history call for idle groups, a dissolved group skipped', async () => {
    const sim = await simulator();
    const store = await localStore();
    await engineRun(sim, store).run();
    const [a, b, c] = sim
      .groups()
      .filter((g) => g.type === 'Public' || g.type === 'Private' || g.type === 'ChatRoom');
    if (!a || !b || !c) throw new Error('dataset too small');
    sim.appendMessages(a.groupId, 45);
    sim.appendMessages(b.groupId, 3);
    sim.deleteGroup(c.groupId);
    sim.resetStats();
    const report = await engineRun(sim, store).run();
    expect(report.messages).toBe(48);
    expect(report.groups.archived).toBe(2);
    // ceil(45/20) + ceil(3/20): idle groups and topics cost no history call at all.
    expect(sim.stats().perApi.group_msg_get_simple.calls).toBe(4);
    const rows = await readArchive(store);
    const expected = expectedIdentities(sim).concat(
      [...rows]
        .filter((r) => r.record.group_id === c.groupId)
        .map((r) => `${c.groupId}||${r.record.msg_seq}`),
    );
    expect(exactlyOnceProblems(rows, expected, 'UTC')).toEqual([]);
  });

  it('stops at the deadline with done=false and resumes exactly where it stopped', async () => {
    const sim = await simulator();
    const store = await localStore();
    let reports = 0;
    for (let i = 0; i < 50; i++) {
      // A clock that passes the deadline (10 s away) after a handful of reads: each run does a little
      // and commits, well inside its 120 s lease.
      let calls = 0;
      const clock: Clock = {
        now: () => Date.now() + (calls++ > 40 ? 20_000 : 0),
        sleep: systemClock.sleep,
      };
      const report = await engineRun(sim, store, {
        clock,
        deadlineMs: Date.now() + 10_000,
        concurrency: 4,
      }).run();
      reports++;
      if (report.done) {
        expect(report.pendingNewestTime).toBeNull();
        break;
      }
      // A run that finished the plan it carried from an earlier invocation but had no time to plan
      // afresh is not done either (groups may have new messages since that plan), with nothing
      // known left; every other stopped run has targets left.
      if (report.remainingTargets === 0) {
        expect(report.planCarried).toBe(true);
        continue;
      }
      // Lag and headroom inputs: something newer than an hour ago is still pending.
      expect(report.pendingNewestTime).toBeGreaterThan(0);
      expect(report.pendingNeverArchived + (report.pendingOldestTime === null ? 0 : 1)).toBeGreaterThan(0);
    }
    expect(reports).toBeGreaterThan(2);
    const rows = await readArchive(store);
    expect(exactlyOnceProblems(rows, expectedIdentities(sim), 'UTC')).toEqual([]);
  });

  it('survives 502s, 10002, malformed bodies and frequency limits without losing or duplicating', async () => {
    const sim = await simulator();
    const store = await localStore();
    sim.injectFaults(
      { api: 'group_msg_get_simple', kind: 'http-status', status: 502, body: '<html>502</html>', times: 3 },
      { api: 'group_msg_get_simple', kind: 'error-code', code: 10002, times: 3 },
      { api: 'group_msg_get_simple', kind: 'malformed-json', times: 2 },
      { api: 'group_msg_get_simple', kind: 'error-code', code: 10006, times: 2 },
      { api: 'get_group_info', kind: 'error-code', code: 70001 },
    );
    const report = await engineRun(sim, store).run();
    expect(report.done).toBe(true);
    expect(report.retries).toBeGreaterThanOrEqual(10);
    expect(report.throttles).toBe(2);
    expect(exactlyOnceProblems(await readArchive(store), expectedIdentities(sim), 'UTC')).toEqual([]);
  });

  it('reports a group dissolved mid-run without failing the others, and never claims its messages', async () => {
    const sim = await simulator();
    const store = await localStore();
    sim.injectFaults({ api: 'group_msg_get_simple', kind: 'error-code', code: 10010 });
    const report = await engineRun(sim, store, { concurrency: 1 }).run();
    expect(report.groups.failed).toBe(1);
    expect(report.errors[0]?.error).toMatch(/10010/);
    expect(report.done).toBe(true);
    // The group was not really dissolved: the next run archives it, and nothing is duplicated.
    const second = await engineRun(sim, store).run();
    expect(second.groups.archived).toBe(1);
    expect(exactlyOnceProblems(await readArchive(store), expectedIdentities(sim), 'UTC')).toEqual([]);
  });

  it('lets only one of two simultaneous runs proceed; the other stops with a clear message', async () => {
    const sim = await simulator();
    const store = await localStore();
    const results = await Promise.allSettled([engineRun(sim, store).run(), engineRun(sim, store).run()]);
    const failed = results.filter((r) => r.status === 'rejected');
    expect(failed.length).toBe(1);
    const reason = (failed[0] as PromiseRejectedResult).reason;
    expect(reason).toBeInstanceOf(LeaseHeldError);
    expect(String(reason.message)).toMatch(/Another run .* holds the lease/);
    expect(exactlyOnceProblems(await readArchive(store), expectedIdentities(sim), 'UTC')).toEqual([]);
  });

  it('archives only the configured look-back on a first run, then everything new', async () => {
    const sim = await simulator();
    const store = await localStore();
    const report = await engineRun(sim, store, { initialLookbackDays: 5 }).run();
    const cutoff = Math.floor(Date.now() / 1000) - 5 * 86_400;
    const rows = await readArchive(store);
    expect(report.done).toBe(true);
    expect(rows.length).toBeGreaterThan(0);
    expect(rows.every((r) => inLookBack(r, cutoff - 5))).toBe(true);
    const timeOf = (id: string): number | undefined => {
      const [groupId, topicId, seq] = id.split('|');
      const truth = [
        ...sim.groundTruth(
          groupId as string,
          topicId ? { topicId, withRecalledMsg: true } : { withRecalledMsg: true },
        ),
      ];
      return truth.find((m) => m.MsgSeq === Number(seq))?.MsgTimeStamp;
    };
    const expected = expectedIdentities(sim).filter((id) => (timeOf(id) ?? 0) >= cutoff);
    // A deleted message's placeholder has no time (MsgTimeStamp 0): near the cut-off it may be
    // archived or not; `inLookBack` above checks where it went.
    const problems = exactlyOnceProblems(rows, expected, 'UTC').filter(
      (p) => !(p.endsWith(' unexpected') && timeOf(p.slice(0, -' unexpected'.length)) === 0),
    );
    expect(problems).toEqual([]);
    const group = sim.groups().find((g) => g.type === 'Public' && g.nextMsgSeq > 1);
    if (!group) throw new Error('no Public group');
    sim.appendMessages(group.groupId, 5);
    const second = await engineRun(sim, store, { initialLookbackDays: 5 }).run();
    expect(second.messages).toBe(5);
  });

  it('ends a range at the first fully expired page (IsFinished 2) and keeps every retained message once', async () => {
    const sim = await simulator({ retentionDays: 8 });
    const store = await localStore();
    const report = await engineRun(sim, store).run();
    expect(report.done).toBe(true);
    const rows = await readArchive(store);
    const cutoff = Math.floor(Date.now() / 1000) - 8 * 86_400;
    const retained = expectedIdentities(sim).filter((id) => {
      const [groupId, topicId, seq] = id.split('|');
      const truth = [
        ...sim.groundTruth(
          groupId as string,
          topicId ? { topicId, withRecalledMsg: true } : { withRecalledMsg: true },
        ),
      ];
      const m = truth.find((x) => x.MsgSeq === Number(seq));
      return m !== undefined && m.IsPlaceMsg !== 1 && m.MsgTimeStamp >= cutoff + 60;
    });
    const problems = exactlyOnceProblems(rows, retained, 'UTC').filter((p) => !p.endsWith('unexpected'));
    expect(problems).toEqual([]);
    // Placeholders for expired seqs may be archived near the edge, but never twice.
    expect(
      new Set(rows.map((r) => `${r.record.group_id}|${r.record.topic_id}|${r.record.msg_seq}`)).size,
    ).toBe(rows.length);
    expect(report.placeholders).toBeGreaterThan(0);
    // The expired seqs below the first all-expired page were not fetched one by one.
    expect(rows.length).toBeLessThan(expectedIdentities(sim).length);
  });

  it('stops with the storage error when S3 refuses a write, and the next run recovers exactly once', async () => {
    const sim = await simulator();
    const inner = await localStore();
    let failures = 0;
    const flaky: ObjectStore = {
      location: inner.location,
      get: (key) => inner.get(key),
      delete: (key) => inner.delete(key),
      list: (prefix) => inner.list(prefix),
      put: async (key, body, options) => {
        // Let one object through, then refuse the next: a checkpoint half written.
        if (key.startsWith('messages/') && failures++ === 1) {
          throw new StorageError('Access denied to s3://bucket/x: check the IAM policy / bucket policy', {
            key,
          });
        }
        return inner.put(key, body, options);
      },
    };
    await expect(engineRun(sim, flaky, { flushBytes: 10_000 }).run()).rejects.toThrow(/Access denied/);
    const state = await inner.get(stateKey(1400000000));
    expect(JSON.parse(new TextDecoder().decode(state?.body)).pending).not.toBeNull();
    const report = await engineRun(sim, inner).run();
    expect(report.rolledBackObjects).toBeGreaterThan(0);
    expect(exactlyOnceProblems(await readArchive(inner), expectedIdentities(sim), 'UTC')).toEqual([]);
  });

  it('rolls back the objects of a checkpoint that never committed', async () => {
    const sim = await simulator();
    const store = await localStore();
    const orphan = 'messages/sdkappid=1400000000/dt=2026-01-01/part-crashed-00000.ndjson.gz';
    await store.put(orphan, new Uint8Array([1, 2, 3]));
    const state = { ...emptyState(1400000000), pending: { runId: 'crashed', objects: [orphan] } };
    await store.put(stateKey(1400000000), new TextEncoder().encode(serializeState(state)));
    const report = await engineRun(sim, store).run();
    expect(report.rolledBackObjects).toBe(1);
    expect(await store.get(orphan)).toBeUndefined();
    expect(exactlyOnceProblems(await readArchive(store), expectedIdentities(sim), 'UTC')).toEqual([]);
  });

  it.each([
    ['corrupted', '{"version": 1, "sdkAppId": '],
    ['of an unknown version', '{"version": 9}'],
  ])('refuses a state object that is %s instead of restarting from scratch', async (_label, text) => {
    const sim = await simulator();
    const store = await localStore();
    await store.put(stateKey(1400000000), new TextEncoder().encode(text));
    await expect(engineRun(sim, store).run()).rejects.toBeInstanceOf(StateCorruptError);
    expect(await readArchive(store)).toEqual([]);
  });

  it('measures the first-run look-back on the server clock (Date header), not a skewed local one', async () => {
    const sim = await simulator();
    const store = await localStore();
    // The local clock runs 3 days ahead of the server: a look-back of 5 days measured on it would
    // keep only 2 days of the server's history.
    const skew = 3 * 86_400_000;
    const ahead: Clock = {
      now: () => Date.now() + skew,
      sleep: (ms, signal) => systemClock.sleep(ms, signal),
    };
    const { run, client } = engineRun(sim, store, { initialLookbackDays: 5, clock: ahead });
    const report = await run();
    expect(report.done).toBe(true);
    expect(Math.abs((client.serverOffsetMs() ?? 0) + skew)).toBeLessThan(1_500);
    expect(Math.abs(report.serverFinishedAtMs - Date.now())).toBeLessThan(1_500);
    const cutoff = Math.floor(Date.now() / 1000) - 5 * 86_400;
    const rows = await readArchive(store);
    const expected = expectedIdentities(sim).filter((id) => {
      const [groupId, topicId, seq] = id.split('|');
      const options = topicId ? { topicId, withRecalledMsg: true } : { withRecalledMsg: true };
      const m = [...sim.groundTruth(groupId as string, options)].find((x) => x.MsgSeq === Number(seq));
      return (m?.MsgTimeStamp ?? 0) >= cutoff + 5;
    });
    const problems = exactlyOnceProblems(rows, expected, 'UTC').filter((p) => !p.endsWith('unexpected'));
    expect(problems).toEqual([]);
    expect(rows.every((r) => inLookBack(r, cutoff - 5))).toBe(true);
  });

  it('archives into S3 (s3rver over real HTTP) exactly once, incrementally', async () => {
    const s3 = await startS3rver();
    cleanups.push(() => s3.stop());
    const sim = await simulator();
    const store = new S3Store({ client: s3.client, bucket: s3.bucket, prefix: 'tenant-a/chat' });
    await engineRun(sim, store, { flushBytes: 30_000 }).run();
    const group = sim.groups().find((g) => g.type === 'Public');
    if (!group) throw new Error('no Public group');
    sim.appendMessages(group.groupId, 21);
    const report = await engineRun(sim, store).run();
    expect(report.messages).toBe(21);
    expect(exactlyOnceProblems(await readArchive(store), expectedIdentities(sim), 'UTC')).toEqual([]);
  });
});
