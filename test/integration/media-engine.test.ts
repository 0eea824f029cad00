/**
 * The media stage end to end: the simulator (messages and media files over real HTTP, every fault
 * switch on), the engine, and the local folder or S3 (s3rver). Checked against the simulator's
 * ground truth: one manifest row per reference with the right status, the right bytes stored once,
 * nothing fetched from the disallowed host, no error page stored.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { LocalFolderStore } from '../../functions/adapters/local-folder/local-folder-store.ts';
import { pausingStore } from '../../functions/adapters/pause-at.ts';
import { S3Store } from '../../functions/adapters/s3/s3-store.ts';
import { systemClock } from '../../functions/adapters/system-clock.ts';
import { openArchiveRunner } from '../../functions/cli/query-runners.ts';
import { mediaQueuePrefix } from '../../functions/domain/media-manifest.ts';
import type { Clock, Logger } from '../../functions/domain/ports.ts';
import type { StreamingObjectStore } from '../../functions/domain/storage.ts';
import type { RunOptions } from '../../functions/engine/run-archive.ts';
import { findNamedQuery, parseParams, runNamedQuery } from '../../functions/query/named-queries.ts';
import type { Simulator } from '../../functions/simulator/index.ts';
import { listAll } from '../helpers/archive.ts';
import { engineRun, silentLogger, startEngineSimulator } from '../helpers/engine.ts';
import { FakeClock } from '../helpers/fake-clock.ts';
import {
  expectedMediaRefs,
  expectedStatus,
  mediaProblems,
  readManifest,
  simMediaFetcher,
} from '../helpers/media.ts';
import { startS3rver } from '../helpers/s3rver.ts';

/** A deadline no machine reaches in real time: the deadline test's clock jumps past it. */
const DEADLINE_IN_MS = 10 * 60_000;

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()?.();
});

async function simulator(): Promise<Simulator> {
  const sim = await startEngineSimulator({
    seed: 17,
    retentionDays: 365,
    dataset: {
      groups: 8,
      activeFraction: 1,
      messagesPerActiveGroup: [60, 120],
      historyDays: 10,
      mediaMaxBytes: 40_000,
      extraGroups: [
        {
          groupId: '@TGS#_@TGS#cMEDIATOPIC',
          type: 'Community',
          messages: 0,
          topics: [{ topicId: '@TGS#_@TGS#cMEDIATOPIC@TOPIC#_@TOPIC#cA', messages: 60 }],
        },
      ],
    },
    media: {
      expiredFraction: 0.05,
      bannedFraction: 0.03,
      flakyFraction: 0.1,
      flakyTimes: 2,
      htmlFraction: 0.04,
      wrongSizeFraction: 0.04,
      redirectFraction: 0.04,
      disallowedHostFraction: 0.04,
    },
  });
  cleanups.push(() => sim.stop());
  return sim;
}

function runWith(
  sim: Simulator,
  store: StreamingObjectStore,
  over: Partial<RunOptions> & { logger?: Logger; clock?: Clock } = {},
) {
  // The downloader's back-off sleeps (Retry-After: 1 on flaky files) are virtual: the media
  // listener has no rate limit. The client paces get_cos_sig on the real clock, as the simulator
  // counts it: on a virtual clock its pacing sleeps took no time and a fast machine went over.
  const clock = new FakeClock(Date.now());
  const t = engineRun(sim, store, {
    client: { clock: systemClock },
    flushBytes: 64 * 1024,
    media: { enabled: true, concurrency: 8, imageSizes: ['original', 'thumbnail'], retentionDays: 365 },
    ...over,
    mediaDeps: (client) => ({
      store,
      fetcher: simMediaFetcher(sim, client, clock, { tempName: 'media-engine-test' }),
    }),
  });
  return {
    sdkAppId: t.sdkAppId,
    run: (runOver: Partial<RunOptions> = {}) =>
      t.run({ ...runOver, runId: `run${Math.random().toString(36).slice(2, 10)}` }),
  };
}

async function localStore(): Promise<LocalFolderStore> {
  const dir = await mkdtemp(join(tmpdir(), 'media-archive-'));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  return new LocalFolderStore(dir);
}

describe('media stage', () => {
  it.each(['local folder', 's3rver'])(
    'copies every live file exactly once with its manifest row (%s)',
    async (kind) => {
      // Prepare
      const sim = await simulator();
      let store: StreamingObjectStore;
      if (kind === 'local folder') store = await localStore();
      else {
        const s3 = await startS3rver();
        cleanups.push(() => s3.stop());
        store = new S3Store({ client: s3.client, bucket: s3.bucket, prefix: 'archive/' });
      }
      const { run, sdkAppId } = runWith(sim, store);

      // Act
      const report = await run();

      // Assess
      const refs = expectedMediaRefs(sim, sdkAppId, ['original', 'thumbnail']);
      const rows = await readManifest(store);
      expect(await mediaProblems(sim, store, refs, rows)).toEqual([]);
      const statuses = new Set(rows.map((r) => r.status));
      expect([...statuses].sort()).toEqual(['archived', 'expired', 'no_url', 'refused']);
      expect(rows.some((r) => r.reason?.includes('banned'))).toBe(true);
      expect(sim.mediaStats().disallowedRequests).toBe(0);
      expect(report.media).toMatchObject({ references: refs.length, pending: 0, failed: 0 });
      expect(report.media?.archived).toBe(rows.filter((r) => r.status === 'archived').length);
      expect(report.done).toBe(true);
      expect(await listAll(store, mediaQueuePrefix(sdkAppId))).toEqual([]);
    },
    180_000,
  );

  it('answers the missing-media query on DuckDB with the counts of the simulator ground truth', async () => {
    // Prepare
    const sim = await simulator();
    const store = await localStore();
    const warnings: string[] = [];
    const logger = {
      ...silentLogger,
      warn: (message: string, fields?: unknown) => {
        warnings.push(`${message} ${JSON.stringify(fields)}`);
      },
    };
    const { run, sdkAppId } = runWith(sim, store, { logger });
    // A file whose download failed for a passing cause (a loaded CI machine) is pending until a
    // later run copies it, as the nightly schedule would; the query must match once nothing is.
    let report = await run();
    for (let again = 0; again < 3 && (report.media?.pending ?? 0) > 0; again++) {
      console.warn('media left pending; running again', JSON.stringify(report.media), warnings);
      report = await run();
    }
    expect(report.media).toMatchObject({ pending: 0, failed: 0 });
    const truth = new Map<string, number>();
    for (const ref of expectedMediaRefs(sim, sdkAppId, ['original', 'thumbnail'])) {
      const status = expectedStatus(sim, ref);
      if (status !== 'archived') truth.set(status, (truth.get(status) ?? 0) + 1);
    }

    // Act
    const db = await openArchiveRunner({
      archive: store.location,
      timeZone: 'UTC',
      clock: systemClock,
      workGroup: 'wg',
      database: 'db',
    });
    cleanups.push(async () => db.close());
    const query = findNamedQuery('missing-media');
    if (!query) throw new Error('no missing-media query');
    const result = await runNamedQuery(
      db,
      query,
      parseParams(query, { from: '2000-01-01', to: '2100-01-01' }),
    );
    const counts = new Map<string, number>();
    const statusColumn = result.columns.findIndex((c) => c.name === 'status');
    for await (const row of result.rows)
      counts.set(String(row[statusColumn]), (counts.get(String(row[statusColumn])) ?? 0) + 1);

    // Assess
    expect(Object.fromEntries(counts)).toEqual(Object.fromEntries(truth));
    expect(truth.size).toBeGreaterThanOrEqual(3);
  }, 180_000);

  it('does not copy again what an incremental run already has, and copies what is new', async () => {
    // Prepare
    const sim = await simulator();
    const store = await localStore();
    const { run, sdkAppId } = runWith(sim, store);
    await run();
    const served = sim.mediaStats().bytesServed;
    const group = sim.groups().find((g) => !g.topicsEnabled && g.nextMsgSeq > 1);
    sim.appendMessages(group?.groupId ?? '', 60);

    // Act
    const second = await run();

    // Assess
    const refs = expectedMediaRefs(sim, sdkAppId, ['original', 'thumbnail']);
    expect(await mediaProblems(sim, store, refs, await readManifest(store))).toEqual([]);
    expect(second.media?.references).toBeLessThan(refs.length / 3);
    expect(second.media?.references).toBeGreaterThan(0);
    // Only the new messages' files were fetched again.
    expect(sim.mediaStats().bytesServed - served).toBeLessThan(served / 3);
  }, 180_000);

  it('leaves what does not fit before the deadline for the next run, never half-written', async () => {
    // Prepare: the run's clock jumps past its deadline just before the fifth file is stored (the
    // pause point of functions/adapters/pause-at.ts), wherever this machine's speed has got it; a
    // lease longer than the jump.
    const sim = await simulator();
    const local = await localStore();
    const jump = { ms: 0 };
    const clock: Clock = { now: () => Date.now() + jump.ms, sleep: (ms, s) => systemClock.sleep(ms, s) };
    const store = pausingStore(local, 'media/sha256/:5', () => {
      jump.ms = DEADLINE_IN_MS + 1_000;
    });
    const { run, sdkAppId } = runWith(sim, store, { clock, leaseMs: 3 * DEADLINE_IN_MS });

    // Act: a deadline that passes while the media stage works, then a run without one.
    const first = await run({ deadlineMs: Date.now() + DEADLINE_IN_MS });
    const afterFirst = await readManifest(store);
    const second = await run();

    // Assess
    expect(first.done).toBe(false);
    expect((first.media?.pending ?? 0) + (first.media?.pendingBatches ?? 0)).toBeGreaterThan(0);
    expect(afterFirst.length).toBeLessThan(
      expectedMediaRefs(sim, sdkAppId, ['original', 'thumbnail']).length,
    );
    expect(jump.ms).toBeGreaterThan(0);
    expect(second.done).toBe(true);
    const refs = expectedMediaRefs(sim, sdkAppId, ['original', 'thumbnail']);
    expect(await mediaProblems(sim, store, refs, await readManifest(store))).toEqual([]);
  }, 180_000);
});
