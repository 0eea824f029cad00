/**
 * Media still pending close to Tencent's retention limit (`media.nearRetention`, the metric
 * `MediaPendingNearRetention` and its alarm): counted on the server's clock, over every reference
 * left pending (failing downloads, queue objects a run never opened), and zero once copied.
 *
 * The simulator's clock runs three days behind this host's, so a count on the local clock would
 * differ; the expected count is the simulator's ground truth against the report's server time.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { LocalFolderStore } from '../../functions/adapters/local-folder/local-folder-store.ts';
import { systemClock } from '../../functions/adapters/system-clock.ts';
import { userSigFromKey } from '../../functions/adapters/tencent/user-sig.ts';
import type { Clock } from '../../functions/domain/ports.ts';
import { nearRetentionCutoffSec } from '../../functions/engine/media-report.ts';
import { type RunOptions, runArchive } from '../../functions/engine/run-archive.ts';
import { type Simulator, startSimulator } from '../../functions/simulator/index.ts';
import type { SimMediaSpec } from '../../functions/simulator/media-files.ts';
import { silentLogger, testRunOptions } from '../helpers/engine.ts';
import { FakeClock } from '../helpers/fake-clock.ts';
import { expectedMediaRefs, simMediaFetcher } from '../helpers/media.ts';
import { clientFor } from '../helpers/tencent.ts';

const DAY_MS = 86_400_000;
/** The server is this far behind the host. */
const SKEW_MS = 3 * DAY_MS;

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()?.();
});

/** Only the fates a test asks for (flaky files that never recover: every download fails). */
const NO_FAULTS: SimMediaSpec = {
  requireSignature: 'none',
  expiredFraction: 0,
  bannedFraction: 0,
  flakyFraction: 0,
  htmlFraction: 0,
  wrongSizeFraction: 0,
  redirectFraction: 0,
  disallowedHostFraction: 0,
};

async function setUp(media: SimMediaSpec) {
  const serverNow = () => Date.now() - SKEW_MS;
  const sim: Simulator = await startSimulator({
    seed: 23,
    now: serverNow,
    rateLimits: { get_appid_group_list: 1_000, get_group_info: 5_000, group_msg_get_simple: 5_000 },
    retentionDays: 365,
    dataset: {
      groups: 4,
      activeFraction: 1,
      messagesPerActiveGroup: [40, 60],
      historyDays: 10,
      mediaMaxBytes: 4_000,
    },
    media: { ...NO_FAULTS, ...media },
  });
  cleanups.push(() => sim.stop());
  const dir = await mkdtemp(join(tmpdir(), 'media-retention-'));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  const store = new LocalFolderStore(dir);
  const first = sim.apps[0];
  if (!first) throw new Error('no app');
  // The UserSig is signed on the server's time, so the server accepts it despite the skew.
  const userSig = userSigFromKey({
    sdkAppId: first.sdkAppId,
    key: first.secretKey,
    identifier: first.adminIdentifier,
    clock: new FakeClock(serverNow()),
  });
  // The client paces on the real clock the simulator's rate limits count; `clock` (virtual) is for
  // the downloader's back-off sleeps only.
  const { client, app, clock } = clientFor(sim, {
    userSig,
    clock: systemClock,
    rateLimits: { groupMsgGetSimple: 2_000, getGroupInfo: 2_000, getAppidGroupList: 100, getTopic: 2_000 },
  });
  const fetcher = simMediaFetcher(sim, client, clock, { tempName: 'media-retention-test' });
  // The host's clock: real time, three days ahead of the server's.
  const local: Clock = { now: () => Date.now(), sleep: (ms, signal) => clock.sleep(ms, signal) };
  const run = (
    over: Partial<RunOptions> & { headroomDays: number; retentionDays: number; mediaConcurrency?: number },
  ) =>
    runArchive(
      { api: client, store, clock: local, logger: silentLogger, media: { fetcher, store } },
      testRunOptions(app.sdkAppId, {
        flushBytes: 64 * 1024,
        concurrency: 8,
        media: {
          enabled: true,
          concurrency: over.mediaConcurrency ?? 8,
          imageSizes: ['original'],
          retentionDays: over.retentionDays,
          headroomDays: over.headroomDays,
        },
        ...over,
      }),
    );
  return { sim, run, sdkAppId: app.sdkAppId };
}

describe('media pending near retention', () => {
  it('counts, on the server clock, the pending files of messages within headroomDays of retention', async () => {
    // Prepare: every download fails (503 for ever), inside a 12-day retention: all stay pending.
    const { sim, run, sdkAppId } = await setUp({ flakyFraction: 1, flakyTimes: 1_000_000 });
    const withUrl = expectedMediaRefs(sim, sdkAppId).filter((r) => r.url !== null);

    // Act: a run that tries (and fails) every file, then one whose deadline has passed.
    const first = await run({ retentionDays: 12, headroomDays: 10 });
    // One download slot, so the queue objects after the first are never opened by the second run.
    const second = await run({
      retentionDays: 12,
      headroomDays: 10,
      deadlineMs: Date.now() - 1,
      mediaConcurrency: 1,
    });

    // Assess: messages older than 12 - 10 = 2 days on the server's clock.
    for (const report of [first, second]) {
      const cutoff = nearRetentionCutoffSec(report.serverFinishedAtMs, 12, 10);
      const truth = withUrl.filter((r) => r.msgTime < cutoff).length;
      expect(report.media?.nearRetention).toBe(truth);
      expect(report.media?.uncountedBatches).toBe(0);
      expect(report.media?.oldestPendingMsgTime).toBe(Math.min(...withUrl.map((r) => r.msgTime)));
    }
    expect(Math.abs(first.serverFinishedAtMs - (Date.now() - SKEW_MS))).toBeLessThan(DAY_MS);
    const truth = withUrl.filter((r) => r.msgTime < nearRetentionCutoffSec(first.serverFinishedAtMs, 12, 10));
    // Neither none nor all: the cutoff falls inside the history, so the age test matters.
    expect(truth.length).toBeGreaterThan(0);
    expect(truth.length).toBeLessThan(withUrl.length);
    expect(first.media?.retrying).toBe(withUrl.length);
    expect(second.media?.pendingBatches).toBeGreaterThan(0);
  }, 60_000);

  it('counts zero when every file is copied, however close its message is to the limit', async () => {
    // Prepare
    const { sim, run, sdkAppId } = await setUp({});

    // Act: a headroom equal to the retention puts every message inside it.
    const report = await run({ retentionDays: 12, headroomDays: 12 });

    // Assess
    const withUrl = expectedMediaRefs(sim, sdkAppId).filter((r) => r.url !== null);
    expect(report.media?.archived).toBe(withUrl.length);
    expect(withUrl.length).toBeGreaterThan(0);
    expect(report.media?.nearRetention).toBe(0);
    expect(report.media?.oldestPendingMsgTime).toBeNull();
  }, 60_000);
});
