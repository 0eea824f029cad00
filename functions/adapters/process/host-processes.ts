/**
 * The `HostProcesses` port on a real host: who this process is, and whether a lease holder on the
 * same host still runs. Linux identifies a process start by the boot id and the start time in clock
 * ticks (`/proc/<pid>/stat` field 22), so a pid reused after a crash or a reboot is recognised as
 * a different process. Elsewhere only the pid's existence is known (a reused pid then counts as
 * alive, and the lease is waited out: safe, only slower).
 *
 * A killed holder that its parent has not reaped yet still has a `/proc/<pid>/stat` with the same
 * start ticks, in state `Z` (zombie) or `X` (dead). Such a process runs no code and holds nothing:
 * it counts as gone. Zombies linger wherever nothing reaps promptly (a container without an init,
 * a CI runner, a shell that `exec`ed a program that never waits).
 */
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import type { LeaseHolder } from '../../domain/lease.ts';
import type { HostProcesses } from '../../domain/ports.ts';

function readText(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

/** What `/proc/<pid>/stat` says of a process: its state (field 3) and start time in ticks (field 22). */
interface ProcStat {
  state: string;
  startTicks: string;
}

/** Reads `/proc/<pid>/stat`; the command name (field 2) may hold spaces and parentheses. */
function procStat(pid: number): ProcStat | undefined {
  const stat = readText(`/proc/${pid}/stat`);
  if (stat === undefined) return undefined;
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const [state, startTicks] = [fields[0], fields[19]];
  return state === undefined || startTicks === undefined ? undefined : { state, startTicks };
}

/** Zombie (`Z`) or dead (`X`, `x` on old kernels): exited, waiting only to be reaped. */
const EXITED_STATES = new Set(['Z', 'X', 'x']);

const bootId = (): string | undefined => readText('/proc/sys/kernel/random/boot_id')?.trim();

/** The process start identity of `pid` on Linux, or undefined where /proc is unavailable. */
function linuxStartedAt(pid: number, stat = procStat(pid)): string | undefined {
  const boot = bootId();
  return boot === undefined || stat === undefined ? undefined : `linux:${boot}:${stat.startTicks}`;
}

/** Is `pid` a running process? (EPERM: it exists but belongs to someone else.) */
function pidExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * This host's processes. `host` defaults to the hostname; the Lambda passes its sandbox's log
 * stream name, since sandboxes share hostnames and pids.
 */
export function hostProcesses(options: { host?: string } = {}): HostProcesses {
  const host = options.host ?? hostname();
  const self: LeaseHolder = {
    host,
    pid: process.pid,
    startedAt: linuxStartedAt(process.pid) ?? `approx:${Math.round(Date.now() / 1000 - process.uptime())}`,
  };
  return {
    self,
    isGone(holder: LeaseHolder): boolean {
      if (holder.host !== host) return false;
      if (holder.pid === self.pid && holder.startedAt === self.startedAt) return false;
      if (holder.startedAt.startsWith('linux:')) {
        const stat = procStat(holder.pid);
        const now = linuxStartedAt(holder.pid, stat);
        if (now !== undefined && stat !== undefined) {
          return now !== holder.startedAt || EXITED_STATES.has(stat.state);
        }
        // No /proc entry: gone if /proc works at all here.
        return bootId() !== undefined ? true : !pidExists(holder.pid);
      }
      return !pidExists(holder.pid);
    },
  };
}
