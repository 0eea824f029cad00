/**
 * The `HostProcesses` port on a real host: who this process is, and whether a lease holder on the
 * same host still runs. Linux identifies a process start by the boot id and the start time in clock
 * ticks (`/proc/<pid>/stat` field 22), so a pid reused after a crash or a reboot is recognised as
 * a different process. Elsewhere only the pid's existence is known (a reused pid then counts as
 * alive, and the lease is waited out: safe, only slower).
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

/** Field 22 (starttime) of `/proc/<pid>/stat`; the command name (field 2) may hold spaces and parentheses. */
function startTicks(pid: number): string | undefined {
  const stat = readText(`/proc/${pid}/stat`);
  if (stat === undefined) return undefined;
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return fields[19];
}

const bootId = (): string | undefined => readText('/proc/sys/kernel/random/boot_id')?.trim();

/** The process start identity of `pid` on Linux, or undefined where /proc is unavailable. */
function linuxStartedAt(pid: number): string | undefined {
  const boot = bootId();
  const ticks = startTicks(pid);
  return boot === undefined || ticks === undefined ? undefined : `linux:${boot}:${ticks}`;
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
        const now = linuxStartedAt(holder.pid);
        if (now !== undefined) return now !== holder.startedAt;
        // No /proc entry: gone if /proc works at all here.
        return bootId() !== undefined ? true : !pidExists(holder.pid);
      }
      return !pidExists(holder.pid);
    },
  };
}
