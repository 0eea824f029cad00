/**
 * Exactly once under SIGKILL, with the real CLI in a real process: runs are killed at named points
 * drawn at random (mid-checkpoint, holding the lease, in the media stage), rerun at once until done — the next run on this
 * host takes over a dead run's lease at once (never exit 75) — with new messages arriving between runs. Afterwards every message
 * the simulator holds is in the archive exactly once, in the `dt` folder of the configured zone.
 */

import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { systemClock } from '../../functions/adapters/system-clock.ts';
import { openArchiveRunner } from '../../functions/cli/query-runners.ts';
import { identityHeadKey } from '../../functions/domain/identity-capture.ts';
import { mediaLedgerKey } from '../../functions/domain/media-manifest.ts';
import { dateInZone, rescanProgressKey, stateKey } from '../../functions/domain/partition.ts';
import { auditArchive } from '../../functions/query/audit/audit.ts';
import { exactlyOnceProblems, expectedIdentities, readArchive } from '../helpers/archive.ts';
import type { CliResult } from '../helpers/cli.ts';
import { expectedMediaRefs, mediaProblems, readManifest } from '../helpers/media.ts';
import { runKilledAt, startProcessArchive, useProcessCleanups } from '../helpers/process-archive.ts';
import { seededRandom } from '../helpers/tencent.ts';

const cleanups = useProcessCleanups();

const KILLS = 5;

/**
 * Where runs are killed (`<key prefix>:<nth>` write of the run, functions/adapters/pause-at.ts):
 * mid-checkpoint (some parts or logs written, not all), after the state (the lease taken, an
 * intent or a commit written), and in the media stage (a stored file, a manifest row).
 */
const RUN_POINTS = ['messages/:1', 'messages/:3', 'fingerprints/:2', 'state/:2', 'state/:4', 'runs/:1'];
const MEDIA_POINTS = ['media/sha256/:2', 'media/sha256/:9', 'media-manifest/:1'];

/** Every file and folder name under `dir`, recursively (temp and lock files included). */
async function allNames(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries.map((e) => join(e.parentPath, e.name).slice(dir.length + 1));
}

describe('archive CLI killed with SIGKILL at named points', () => {
  it.each([
    { timeZone: 'UTC', media: false },
    { timeZone: 'Asia/Shanghai', media: false },
    // Media copying beside the paging: fewer groups, since every file costs more than a message.
    { timeZone: 'UTC', media: true },
  ])(
    'reruns until done and archives every message exactly once into dt folders of $timeZone (media: $media)',
    async ({ timeZone, media }) => {
      const t = await startProcessArchive(cleanups, {
        tempPrefix: 'kill-resume-',
        simulator: {
          seed: 23,
          latencyMs: 3,
          retentionDays: 3_650,
          // Small media files (every fault switch at its default share), copied beside the paging.
          dataset: {
            groups: media ? 9 : 50,
            activeFraction: 0.9,
            messagesPerActiveGroup: [100, 600],
            historyDays: 6,
            mediaMaxBytes: 8_000,
          },
        },
        archive: { timeZone, flushMegabytes: 0.02 },
        // No run waits a lease out (a killed run's is taken over at once), so a lease that a loaded
        // machine keeps: a run that cannot keep its lease exits 75, which this test counts as a wait.
        run: { checkpointSeconds: 0.3, leaseSeconds: 30 },
        ...(media ? {} : { media: { enabled: false } }),
      });
      const { sim, store, archiveDir, sdkAppId, readState } = t;
      const random = seededRandom(media ? 303 : timeZone === 'UTC' ? 101 : 202);
      const stats = { runs: 0, kills: 0, killsHoldingLease: 0, killsMidCheckpoint: 0, leaseWaits: 0 };
      const history: string[] = [];

      // Groups with their own message stream (topic communities keep messages per topic).
      const plainGroups = sim
        .groups()
        .filter((g) => !g.topicsEnabled && g.type !== 'AVChatRoom' && g.nextMsgSeq > 1);
      expect(plainGroups.length).toBeGreaterThan(5);
      let appendRound = 0;
      /** New messages in three groups (stamped now), so the next run has an incremental range. */
      const appendMessages = (perGroup: readonly [number, number]): void => {
        for (let i = 0; i < 3; i++) {
          const group = plainGroups[(appendRound * 3 + i) % plainGroups.length];
          const count = perGroup[0] + Math.floor(random() * (perGroup[1] - perGroup[0]));
          if (group) sim.appendMessages(group.groupId, count);
        }
        appendRound++;
      };
      const FEW = [30, 120] as const;
      // Enough work after the archive caught up for a run to reach its kill point.
      const MANY = [400, 700] as const;

      const cli = { timeoutMs: media ? 300_000 : 150_000 };
      /** One run; SIGKILLed while stopped at pause point `kill` (pause-at.ts) if it gets there. */
      const archive = async (kill?: string): Promise<CliResult> => {
        const before = await readState();
        const { result } = kill
          ? await runKilledAt(t, kill, cli)
          : { result: await t.spawnArchive(cli).done };
        stats.runs++;
        const after = await readState();
        history.push(`${kill ? `kill@${kill}` : 'run'} -> ${result.code ?? result.signal}`);
        if (result.signal === 'SIGKILL') {
          stats.kills++;
          // The killed run took the lease (a new owner) and died holding it: it was killed mid-run.
          if (after?.lease && after.lease.owner !== before?.lease?.owner) stats.killsHoldingLease++;
          if (after?.pending) stats.killsMidCheckpoint++;
          return result;
        }
        // A killed run's lease is taken over at once (its process is gone): never exit 75.
        if (result.code === 75) stats.leaseWaits++;
        if (result.code !== 0 && result.code !== 3 && result.code !== 75) {
          throw new Error(`archive exited with ${result.code}\n${result.stdout}\n${result.stderr}`);
        }
        return result;
      };

      const archiveUntilDone = async (): Promise<void> => {
        for (let attempt = 0; attempt < 15; attempt++) {
          if ((await archive()).code === 0) return;
        }
        throw new Error(`no run finished: ${history.join(', ')}`);
      };

      /**
       * Start runs and SIGKILL each at a named point drawn from `points` (seeded), until `kills` of
       * them died by the signal and `holdingLease` of those died mid-run (after taking the lease,
       * before giving it back); a run that ends before its point gets new work for the next.
       * Every fourth is killed before its first state write: during start-up, before the lease.
       */
      const killSeveralTimes = async (
        kills: number,
        holdingLease: number,
        points: readonly string[],
        appendBefore: readonly number[],
      ): Promise<void> => {
        const killsTarget = stats.kills + kills;
        const midRunTarget = stats.killsHoldingLease + holdingLease;
        let last: CliResult | undefined;
        for (
          let attempt = 0;
          stats.kills < killsTarget || stats.killsHoldingLease < midRunTarget;
          attempt++
        ) {
          if (attempt >= 25) throw new Error(`too few kills landed mid-run: ${history.join(', ')}`);
          if (appendBefore.includes(attempt)) appendMessages(FEW);
          // A run that finished left nothing to kill: give the next one new work.
          if (last?.code === 0) appendMessages(MANY);
          last = await archive(
            attempt % 4 === 3 ? 'state/:1' : (points[Math.floor(random() * points.length)] as string),
          );
        }
      };

      // First runs, killed again and again; new messages arrive between some of them.
      await killSeveralTimes(KILLS, 3, media ? [...RUN_POINTS, ...MEDIA_POINTS] : RUN_POINTS, [2, 4]);
      await archiveUntilDone();
      // Incremental runs: new messages, killed again, more messages, then run to the end.
      appendMessages(MANY);
      await killSeveralTimes(
        2,
        1,
        RUN_POINTS.filter((p) => p.endsWith(':1')),
        [],
      );
      appendMessages(FEW);
      await archiveUntilDone();

      const summary = `${JSON.stringify(stats)}\n${history.join(', ')}`;
      expect(stats.leaseWaits, summary).toBe(0);
      expect(stats.kills, summary).toBeGreaterThanOrEqual(KILLS + 2);
      expect(stats.killsHoldingLease, summary).toBeGreaterThanOrEqual(4);

      const rows = await readArchive(store);
      expect(exactlyOnceProblems(rows, expectedIdentities(sim), timeZone), summary).toEqual([]);
      // Media: one manifest row per reference with the simulator's status, the right bytes stored
      // once, nothing fetched from the disallowed host, no error page stored.
      const manifest = await readManifest(store);
      const refs = media ? expectedMediaRefs(sim, sdkAppId) : [];
      expect(await mediaProblems(sim, store, refs, manifest), summary).toEqual([]);
      if (media) {
        expect(new Set(manifest.map((r) => r.status))).toEqual(
          new Set(['archived', 'expired', 'refused', 'no_url']),
        );
        expect(sim.mediaStats().disallowedRequests).toBe(0);
      }
      // The completeness audit agrees: nothing it cannot explain after all those kills.
      const runner = await openArchiveRunner({
        archive: archiveDir,
        timeZone,
        clock: systemClock,
        workGroup: 'w',
        database: 'd',
      });
      try {
        const audit = await auditArchive(runner, store, { archive: archiveDir, timeZone, nowMs: Date.now() });
        expect(
          audit.findings.filter((f) => !f.explained),
          summary,
        ).toEqual([]);
        expect(audit.apps[0]?.rows).toBe(rows.length);
      } finally {
        runner.close();
      }
      // The history spans several midnights, so the zone decides the folder of many messages.
      expect(new Set(rows.map((r) => r.dt)).size).toBeGreaterThanOrEqual(5);
      // A zeroed placeholder (MsgTimeStamp 0) has no time of its own to put in a zone.
      const zoneMatters = rows.filter(
        (r) => r.record.msg_time > 0 && dateInZone(r.record.msg_time, 'UTC') !== r.dt,
      ).length;
      if (timeZone === 'UTC') expect(zoneMatters).toBe(0);
      else expect(zoneMatters).toBeGreaterThan(100);

      // Only archive objects are listed: no temp or lock file, nothing outside the archive's folders.
      const keys: string[] = [];
      for await (const key of store.list('')) keys.push(key);
      const state = await readState();
      // State target objects (base, deltas): only those the committed head names may be left.
      const named = new Set(state?.named ?? []);
      expect(named.size).toBeGreaterThan(0);
      const unexpected = keys.filter(
        (k) =>
          !/^messages\/sdkappid=\d+\/dt=\d{4}-\d{2}-\d{2}\/part-[\w-]+-\d{5}\.ndjson\.gz$/.test(k) &&
          !/^runs\/sdkappid=\d+\/dt=\d{4}-\d{2}-\d{2}\/[\w-]+\.json$/.test(k) &&
          !/^media\/sha256\/[0-9a-f]{2}\/[0-9a-f]{64}$/.test(k) &&
          !/^media-manifest\/sdkappid=\d+\/dt=\d{4}-\d{2}-\d{2}\/part-[\w-]+-\d{5}\.ndjson\.gz$/.test(k) &&
          k !== mediaLedgerKey(sdkAppId) &&
          !/^fingerprints\/sdkappid=\d+\/dt=\d{4}-\d{2}-\d{2}\/part-[\w-]+-\d{5}\.fp\.gz$/.test(k) &&
          k !== rescanProgressKey(sdkAppId) &&
          k !== stateKey(sdkAppId) &&
          // Names as of message time (docs/names.md): rows by commit version, the head and the
          // shards of last-known values; never an intent (a commit in progress) once runs are done.
          !/^identities\/(users|groups|members)\/sdkappid=\d+\/dt=\d{4}-\d{2}-\d{2}\/\d{10}\.ndjson\.gz$/.test(
            k,
          ) &&
          k !== identityHeadKey(sdkAppId) &&
          !/^state\/identities\/sdkappid=\d+\/(users|groups|members)\/[0-9a-f]{2}\.json$/.test(k) &&
          !named.has(k),
      );
      expect(unexpected).toEqual([]);
      // Every message object has its fingerprint log and no log is left without its object.
      const logs = keys
        .filter((k) => k.startsWith('fingerprints/'))
        .map((k) => k.replace(/^fingerprints/, 'messages').replace(/\.fp\.gz$/, '.ndjson.gz'));
      expect(logs.sort()).toEqual(keys.filter((k) => k.startsWith('messages/')).sort());
      // A lock left by a killed process was taken over and released by a later run.
      expect((await allNames(archiveDir)).filter((n) => n.includes('.archiver-lock-'))).toEqual([]);

      expect(state?.pending).toBeNull();
      expect(state?.lease).toBeNull();
      expect(state?.targets.every((t) => t.inProgress === null)).toBe(true);
      if (process.env.KILL_TEST_VERBOSE) {
        const temps = (await allNames(archiveDir)).filter((n) => n.includes('.archiver-tmp-')).length;
        console.info(`${timeZone}: ${summary}\n${rows.length} rows, ${temps} temp files left on disk`);
      }
    },
    600_000,
  );
});
