/**
 * One archive run, composed as the CLI composes it (functions/composition.ts, default settings),
 * against the simulator at its strictest defaults: request schemas checked per endpoint, documented
 * rates counted in a sliding window on arrival. The run pages history, rescans the last days and
 * copies media, some of which only a `get_cos_sig` signature opens.
 *
 * What it asserts holds on a fast machine and a slow one alike: no request refused for its
 * parameters, no frequency-limit answer (the history, rescan and media calls of the run share one
 * pacer per API), every file stored. Nothing here is timed.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { LocalFolderStore } from '../../functions/adapters/local-folder/local-folder-store.ts';
import { systemClock } from '../../functions/adapters/system-clock.ts';
import { composeAppRun, SecretRegistry } from '../../functions/composition.ts';
import { parseConfig } from '../../functions/config/schema.ts';
import { mediaRefId } from '../../functions/domain/media-refs.ts';
import { runArchive } from '../../functions/engine/run-archive.ts';
import { DEMO_APP, type Simulator, startSimulator } from '../../functions/simulator/index.ts';
import { silentLogger } from '../helpers/engine.ts';
import { expectedMediaRefs, mediaProblems, readManifest } from '../helpers/media.ts';

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** A run composed as the CLI composes one (a new client, as a new invocation has). */
async function composedRun(sim: Simulator, dir: string) {
  const config = parseConfig({
    apps: [{ sdkAppId: DEMO_APP.sdkAppId, endpoint: sim.url, secretKey: { env: 'UNUSED' } }],
    archive: { out: dir },
    media: {
      allowedHosts: [
        { host: new URL(sim.mediaUrl ?? '').host, allowHttp: true, allowPrivateAddresses: true },
      ],
    },
  });
  const runtime = {
    clock: systemClock,
    random: Math.random,
    logger: silentLogger,
    resolveSecret: async () => DEMO_APP.secretKey,
    secrets: new SecretRegistry(),
  };
  const store = new LocalFolderStore(dir);
  const { deps, options, client } = await composeAppRun(config, 0, runtime, { store });
  return { store, client, imageSizes: config.media.imageSizes, run: () => runArchive(deps, options) };
}

describe('one archive run against the strict simulator', () => {
  it('stores every file, signed ones included, with no request refused and no frequency-limit answer', async () => {
    // Prepare: a first run archives 5 days of history of 250 groups; then new messages in each,
    // so new history and the default 3-day rescan take more than one window of the documented
    // 200/s, and a change inside that window.
    const sim = await startSimulator({
      seed: 29,
      dataset: {
        groups: 250,
        activeFraction: 1,
        messagesPerActiveGroup: [2, 4],
        historyDays: 5,
        mediaMaxBytes: 20_000,
      },
      // Retry-After waits of flaky files would only make the runs longer.
      media: { flakyFraction: 0 },
      // What `npm run simulator` and `npm start` use (functions/cli/simulator-command.ts): arrivals
      // jittered, so out of order. Before sends were spaced (functions/domain/rate-limiter.ts),
      // most runs of this test got a few 10006 answers to group_msg_get_simple.
      latencyMs: 5,
      jitterMs: 5,
    });
    cleanups.push(() => sim.stop());
    const dir = await mkdtemp(join(tmpdir(), 'strict-run-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    expect((await (await composedRun(sim, dir)).run()).done).toBe(true);
    // Files of messages recalled below stay archived (their manifest rows were written).
    const firstRefs = expectedMediaRefs(sim, DEMO_APP.sdkAppId);
    const streams = [...sim.groups()].filter(
      (g) => !g.deleted && !g.topicsEnabled && g.type !== 'AVChatRoom',
    );
    for (const group of streams) {
      sim.appendMessages(group.groupId, 2);
      // A message the first run archived, recalled since: a change the rescan finds.
      const archived = [...sim.groundTruth(group.groupId)].find(
        (m) => m.MsgSeq < group.nextMsgSeq - 1 && m.IsPlaceMsg === 0,
      );
      if (archived !== undefined) sim.recallMessage(group.groupId, archived.MsgSeq);
    }
    // The first run's requests leave the simulator's one-second windows before the run under test
    // starts with a new client (as the next invocation would); waiting longer changes nothing.
    await setTimeout(1_100);
    sim.resetStats();
    const second = await composedRun(sim, dir);

    // Act
    const report = await second.run();

    // Assess: the run finished, with its rescan, and signatures were needed.
    expect(report.fatalError).toBeUndefined();
    expect(report.done).toBe(true);
    // New history and rescan pages: more than two windows of group_msg_get_simple at 200/s.
    expect(report.calls.groupMsgGetSimple).toBeGreaterThan(400);
    expect(report.rescan.recalled).toBeGreaterThan(0);
    expect(report.rescan).toMatchObject({ complete: true });
    expect(report.rescan.calls).toBeGreaterThan(0);
    expect(sim.mediaStats().signed).toBeGreaterThan(0);
    // Every file stored: the old string ResourceID made each get_cos_sig call a 10004.
    const refs = [...firstRefs, ...expectedMediaRefs(sim, DEMO_APP.sdkAppId, second.imageSizes)];
    const unique = [...new Map(refs.map((ref) => [mediaRefId(ref), ref])).values()];
    expect(await mediaProblems(sim, second.store, unique, await readManifest(second.store))).toEqual([]);
    // No request refused, for its parameters or its rate, on either side.
    const stats = sim.stats();
    expect(stats.errorCodes).toEqual({});
    expect(stats.overLimit).toBe(0);
    expect(second.client.stats().throttles).toBe(0);
    expect(report.throttles).toBe(0);
  }, 180_000);
});
