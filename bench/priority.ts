/**
 * The simulator stands for Tencent's servers, which our CPU load does not slow down. It stamps a
 * request's arrival when its own event loop reads it (functions/simulator/server.ts), so when the
 * bench process that hosts it is descheduled (other work, or the two `node -e 'for(;;){}'` hogs of
 * issue 23's loaded runs), the requests sent meanwhile are stamped together at the end of the stall
 * and can fill a window that the client spread evenly: a frequency-limit answer that says more
 * about the bench machine than about the client.
 *
 * So the bench raises its own scheduling priority (nice -10) when the system lets it (root, or
 * CAP_SYS_NICE) and starts the archive process at the normal priority again (`nice -n 10`, relative
 * to its parent's): the client competes with the load as a user's would, the simulator much less.
 * Without the permission nothing changes, and the bench says so.
 */
import { getPriority, setPriority } from 'node:os';

const RAISE = 10;
let raised: boolean | undefined;

/** Raises this process's priority once; true when it is raised. */
export function raiseSimulatorPriority(): boolean {
  if (raised !== undefined) return raised;
  try {
    setPriority(0, getPriority(0) - RAISE);
    raised = true;
  } catch {
    raised = false;
  }
  return raised;
}

/** `[command, args]` that run at the normal priority (undone raise) when this process raised its own. */
export function atNormalPriority(command: string, args: readonly string[]): [string, string[]] {
  return raised === true ? ['nice', ['-n', String(RAISE), command, ...args]] : [command, [...args]];
}

/** A line for the bench's output: where the simulator ran. */
export function priorityNote(): string {
  return raised === true
    ? 'simulator at nice -10 in the bench process, the archive at its normal priority (bench/priority.ts)'
    : 'simulator at the normal priority (raising it was not permitted; bench/priority.ts)';
}
