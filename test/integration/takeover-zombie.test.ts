/**
 * A lease holder that was killed but not yet reaped (a zombie) is gone: the next run takes over at
 * once. The zombie is real: the holder runs under `sh -c '<holder> & echo $!; exec sleep …'`, so
 * its parent becomes `sleep`, which never waits for children, and a SIGKILLed holder stays in
 * state `Z` until the test ends the `sleep`.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { PAUSE_AT_ENV, PAUSED_MARKER } from '../../functions/adapters/pause-at.ts';
import { hostProcesses } from '../../functions/adapters/process/host-processes.ts';
import { exactlyOnceProblems, expectedIdentities, readArchive } from '../helpers/archive.ts';
import { REPO_ROOT, runCli } from '../helpers/cli.ts';
import { sleep, startProcessArchive, useProcessCleanups } from '../helpers/process-archive.ts';

const cleanups = useProcessCleanups();

/** Field 3 of `/proc/<pid>/stat` (after the parenthesised command name), or undefined once reaped. */
async function procState(pid: number): Promise<string | undefined> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => undefined);
  return stat?.slice(stat.lastIndexOf(')') + 2).split(' ')[0];
}

/** Waits (polling) until `pid` is in `state`; fails after 20 s. */
async function untilState(pid: number, state: string): Promise<void> {
  const giveUpAt = Date.now() + 20_000;
  while ((await procState(pid)) !== state) {
    if (Date.now() > giveUpAt) throw new Error(`process ${pid} never reached state ${state}`);
    await sleep(5);
  }
}

/**
 * Starts `command` (a shell word list) under a parent that never reaps it; resolves with the
 * command's pid and the parent (which the cleanups kill).
 */
async function underNonReapingParent(command: string): Promise<{ pid: number; parent: ChildProcess }> {
  const parent = spawn('sh', ['-c', `${command} & echo $!; exec sleep 600`], {
    cwd: REPO_ROOT,
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  cleanups.push(async () => {
    parent.kill('SIGKILL');
  });
  const firstLine = await new Promise<string>((resolve, reject) => {
    let text = '';
    parent.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
      text += chunk;
      if (text.includes('\n')) resolve(text.split('\n')[0] ?? '');
    });
    parent.once('exit', () => reject(new Error('the parent shell ended before it printed a pid')));
  });
  return { pid: Number(firstLine), parent };
}

describe.runIf(process.platform === 'linux')('a killed, unreaped lease holder (zombie)', () => {
  it('counts as gone for hostProcesses().isGone, while it counted as alive before it was killed', async () => {
    const { pid } = await underNonReapingParent(
      `exec ${JSON.stringify(process.execPath)} -e "setInterval(() => {}, 1e6)"`,
    );
    await untilState(pid, 'S');
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    const ticks = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
    const boot = (await readFile('/proc/sys/kernel/random/boot_id', 'utf8')).trim();
    const processes = hostProcesses();
    const holder = { host: processes.self.host, pid, startedAt: `linux:${boot}:${ticks}` };
    expect(processes.isGone(holder)).toBe(false);
    process.kill(pid, 'SIGKILL');
    await untilState(pid, 'Z');
    expect(processes.isGone(holder)).toBe(true);
  });

  it('the next archive run takes over at once from a holder SIGKILLed at a named point and left a zombie', async () => {
    const t = await startProcessArchive(cleanups, {
      tempPrefix: 'takeover-zombie-',
      simulator: {
        seed: 37,
        latencyMs: 2,
        retentionDays: 3_650,
        dataset: { groups: 12, activeFraction: 0.9, messagesPerActiveGroup: [100, 300], historyDays: 30 },
      },
      // A long lease: waiting it out would take a minute, far past this test's time-out.
      run: { checkpointSeconds: 1, leaseSeconds: 60 },
      media: { enabled: false },
    });
    // The holder blocks before its first message object (it holds the lease by then), and says so.
    const log = join(t.dir, 'holder.stderr');
    const holder = [
      `${PAUSE_AT_ENV}=messages/`,
      `exec ${JSON.stringify(process.execPath)} --import tsx functions/cli/main.ts archive`,
      `--config ${JSON.stringify(t.config)} 2> ${JSON.stringify(log)}`,
    ].join(' ');
    const { pid } = await underNonReapingParent(holder);
    const giveUpAt = Date.now() + 30_000;
    while (!(await readFile(log, 'utf8').catch(() => '')).includes(PAUSED_MARKER)) {
      if (Date.now() > giveUpAt) throw new Error(`the holder never paused:\n${await readFile(log, 'utf8')}`);
      await sleep(5);
    }
    expect((await t.readState())?.lease?.holder?.pid).toBe(pid);
    process.kill(pid, 'SIGKILL');
    await untilState(pid, 'Z');

    const next = await runCli(['archive', '--config', t.config]);
    expect(next.code, next.stderr).toBe(0);
    expect(next.stderr).toContain(
      'taking over at once: the run holding the lease ran on this host and its process is gone',
    );
    // Still a zombie: the takeover did not wait for anyone to reap it.
    expect(await procState(pid)).toBe('Z');
    expect(exactlyOnceProblems(await readArchive(t.store), expectedIdentities(t.sim), 'UTC')).toEqual([]);
  }, 90_000);
});
