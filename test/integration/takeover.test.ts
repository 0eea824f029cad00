/**
 * Takeover of the lease with real CLI processes: a run killed with SIGKILL is taken over at once by
 * the next run on the same host; Ctrl-C releases the lease; a run stopped (SIGSTOP) in the middle of
 * a checkpoint past its lease is taken over, and when it resumes (SIGCONT) it writes nothing that
 * survives: every message exactly once, no object of a rolled-back checkpoint left.
 */
import { describe, expect, it } from 'vitest';
import { exactlyOnceProblems, expectedIdentities, listAll, readArchive } from '../helpers/archive.ts';
import { runCli } from '../helpers/cli.ts';
import {
  runKilledAt,
  sleep,
  spawnPausedAt,
  startProcessArchive,
  useProcessCleanups,
} from '../helpers/process-archive.ts';

const cleanups = useProcessCleanups();

async function setup(run: Record<string, unknown>, groups = 15) {
  const t = await startProcessArchive(cleanups, {
    tempPrefix: 'takeover-',
    simulator: {
      seed: 31,
      latencyMs: 2,
      retentionDays: 3_650,
      dataset: { groups, activeFraction: 0.9, messagesPerActiveGroup: [100, 400], historyDays: 30 },
    },
    run,
    // Leases and messages only: media has its own kill test (kill-resume.test.ts).
    media: { enabled: false },
  });
  const { sim, store } = t;
  const exactlyOnce = async () =>
    exactlyOnceProblems(await readArchive(store), expectedIdentities(sim), 'UTC');
  return { ...t, exactlyOnce };
}

describe('lease takeover with real processes', () => {
  it('after a SIGKILL the next run on this host takes over at once (no exit 75)', async () => {
    // A long lease: waiting it out would take a minute.
    const t = await setup({ checkpointSeconds: 1, leaseSeconds: 60 });
    // Killed holding the lease: stopped before its first message part (pause-at.ts).
    const { result: killed, paused } = await runKilledAt(t, 'messages/:1');
    expect(paused).toBe(true);
    expect(killed.signal).toBe('SIGKILL');
    expect((await t.readState())?.lease?.holder?.pid).toBeGreaterThan(0);
    const next = await runCli(['archive', '--config', t.config], { timeoutMs: 120_000 });
    expect(next.code, next.stderr).toBe(0);
    expect(next.stderr).toContain(
      'taking over at once: the run holding the lease ran on this host and its process is gone',
    );
    // It did not wait out the 60 s lease (however slow this machine runs the archive itself).
    expect(next.elapsedMs).toBeLessThan(60_000);
    expect(await t.exactlyOnce()).toEqual([]);
  }, 90_000);

  it('Ctrl-C finishes the checkpoint, releases the lease and exits 130; SIGTERM exits 143', async () => {
    const t = await setup({ checkpointSeconds: 1, leaseSeconds: 60 });
    for (const [signal, code] of [
      ['SIGINT', 130],
      ['SIGTERM', 143],
    ] as const) {
      t.sim.appendMessages(
        t.sim.groups().find((g) => g.type === 'Public' && !g.deleted)?.groupId as string,
        3_000,
      );
      // The signal waits while the run is stopped before its first message part, and arrives as
      // it resumes: mid-checkpoint with work left, on any machine.
      const { run, paused } = spawnPausedAt(t, 'messages/:1');
      expect(await paused).toBe(true);
      run.signal(signal);
      run.signal('SIGCONT');
      const result = await run.done;
      expect(result.code, result.stderr).toBe(code);
      expect(result.stderr).toContain(`${signal}: finishing the current checkpoint`);
      const state = await t.readState();
      expect(state?.lease).toBeNull();
      expect(state?.pending).toBeNull();
    }
    const next = await runCli(['archive', '--config', t.config]);
    expect(next.code, next.stderr).toBe(0);
    expect(next.stderr).not.toContain('taking over');
    expect(await t.exactlyOnce()).toEqual([]);
  }, 90_000);

  it('SIGSTOP mid-checkpoint past the lease, takeover, SIGCONT, one more run: exactly once, nothing stray', async () => {
    // Checkpoints each writing many day partitions; a lease that a loaded machine keeps, short
    // enough to wait out.
    const t = await setup({ checkpointSeconds: 1, leaseSeconds: 5 }, 25);
    // Stopped (SIGSTOP) while a checkpoint's intent is written and its objects are not all
    // committed: before its second message part, the first one written (pause-at.ts).
    const { run: frozen, paused } = spawnPausedAt(t, 'messages/:2');
    expect(await paused).toBe(true);
    const stopped = await t.readState();
    const planned = stopped?.pending?.objects ?? [];
    expect(planned.length).toBeGreaterThan(0);
    // Past its lease (the holder is alive but stopped, so it is waited out, not taken at once).
    await sleep(Math.max(0, (stopped?.lease?.expiresAtMs ?? 0) - Date.now() + 100));
    const taker = await runCli(['archive', '--config', t.config]);
    expect(taker.code, taker.stderr).toBe(0);
    expect(taker.stderr).toContain('taking over an expired lease');
    expect(taker.stderr).toContain('rolling back an uncommitted checkpoint');

    frozen.signal('SIGCONT');
    const resumed = await frozen.done;
    // It found its lease gone at its next write and stopped (75: another run has the state).
    expect(resumed.code, resumed.stderr).toBe(75);

    const last = await runCli(['archive', '--config', t.config]);
    expect(last.code, last.stderr).toBe(0);
    expect(await t.exactlyOnce()).toEqual([]);
    const keys = await listAll(t.store, 'messages/');
    expect(keys.filter((k) => planned.includes(k))).toEqual([]);
    const state = await t.readState();
    expect(state?.pending).toBeNull();
    expect(state?.lease).toBeNull();
    expect(state?.rolledBack.map((k) => k.key)).toEqual(expect.arrayContaining(planned));
  }, 120_000);
});
