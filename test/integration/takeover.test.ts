/**
 * Takeover of the lease with real CLI processes: a run killed with SIGKILL is taken over at once by
 * the next run on the same host; Ctrl-C releases the lease; a run stopped (SIGSTOP) in the middle of
 * a checkpoint past its lease is taken over, and when it resumes (SIGCONT) it writes nothing that
 * survives: every message exactly once, no object of a rolled-back checkpoint left.
 */
import { describe, expect, it } from 'vitest';
import { exactlyOnceProblems, expectedIdentities, listAll, readArchive } from '../helpers/archive.ts';
import { type CliProcess, runCli } from '../helpers/cli.ts';
import { sleep, startProcessArchive, useProcessCleanups } from '../helpers/process-archive.ts';
import type { TestState } from '../helpers/state.ts';

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
  const { sim, store, readState } = t;
  /** Resolves once a run has taken the lease (and so is working). */
  const leaseTaken = async (run: CliProcess): Promise<TestState> => {
    for (;;) {
      const state = await readState().catch(() => undefined);
      if (state?.lease) return state;
      if (run.exited) throw new Error('the run ended before it took the lease');
      await sleep(5);
    }
  };
  const exactlyOnce = async () =>
    exactlyOnceProblems(await readArchive(store), expectedIdentities(sim), 'UTC');
  return { ...t, leaseTaken, exactlyOnce };
}

describe('lease takeover with real processes', () => {
  it('after a SIGKILL the next run on this host takes over at once (no exit 75)', async () => {
    // A long lease: waiting it out would take a minute.
    const t = await setup({ checkpointSeconds: 1, leaseSeconds: 60 });
    const first = t.spawnArchive();
    await t.leaseTaken(first);
    await sleep(150);
    first.kill();
    const killed = await first.done;
    expect(killed.signal).toBe('SIGKILL');
    expect((await t.readState())?.lease?.holder?.pid).toBeGreaterThan(0);
    const next = await runCli(['archive', '--config', t.config]);
    expect(next.code, next.stderr).toBe(0);
    expect(next.stderr).toContain(
      'taking over at once: the run holding the lease ran on this host and its process is gone',
    );
    expect(next.elapsedMs).toBeLessThan(30_000);
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
      const run = t.spawnArchive();
      await t.leaseTaken(run);
      await sleep(200);
      run.signal(signal);
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
    // Checkpoints every 0.3 s, each writing many day partitions; a lease of 1.2 s.
    const t = await setup({ checkpointSeconds: 0.3, leaseSeconds: 1.2 }, 25);
    const frozen = t.spawnArchive();
    await t.leaseTaken(frozen);
    // Stop it while a checkpoint's intent is written and its objects are not all committed.
    let stopped: TestState | undefined;
    const giveUpAt = Date.now() + 20_000;
    while (stopped === undefined && Date.now() < giveUpAt) {
      const state = await t.readState();
      if (state?.pending) {
        frozen.signal('SIGSTOP');
        await sleep(20);
        const after = await t.readState();
        if (after?.pending) stopped = after;
        else frozen.signal('SIGCONT');
      } else await sleep(1);
      if (frozen.exited) break;
    }
    expect(stopped, 'never caught the run mid-checkpoint').toBeDefined();
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
