/**
 * The lease on an app's state object: which run may write, until when, and which process holds it.
 * Pure decisions; the state keeper (`functions/engine/state-keeper.ts`) reads and writes it.
 *
 * A lease names its holder (host, process id, process start time). A run on the same host can
 * then tell a crashed holder (its process is gone, or the pid now belongs to another process) from
 * a live one and take over at once; a holder on another host is waited out until the lease expires.
 */

/** The process that holds a lease. */
export interface LeaseHolder {
  /** Host identity (hostname, or the Lambda sandbox's log stream). */
  host: string;
  pid: number;
  /** An identity of the process start (boot id and start tick on Linux), so a reused pid is not mistaken for the holder. */
  startedAt: string;
}

export interface Lease {
  /** Run id of the holder. */
  owner: string;
  /** Epoch ms on the holder's clock when the lease lapses unless renewed. */
  expiresAtMs: number;
  /** The holder process; null in leases written before holders were recorded. */
  holder: LeaseHolder | null;
}

export type LeaseVerdict =
  /** Nobody holds it (or we do). */
  | { kind: 'free' }
  /** Its holder let it lapse: take over, the holder may still be alive (frozen, slow). */
  | { kind: 'expired'; previous: Lease }
  /** Held and unexpired, but the holder is a process of this host that no longer runs. */
  | { kind: 'holder-gone'; previous: Lease }
  /** Held by a live (or unknowable) holder: wait until `lease.expiresAtMs`. */
  | { kind: 'held'; lease: Lease };

/**
 * May run `runId` take the lease now?
 * @param holderGone whether the lease's holder is certainly gone (the caller asks its host)
 */
export function judgeLease(
  lease: Lease | null,
  runId: string,
  nowMs: number,
  holderGone: (holder: LeaseHolder) => boolean,
): LeaseVerdict {
  if (lease === null || lease.owner === runId) return { kind: 'free' };
  if (lease.expiresAtMs <= nowMs) return { kind: 'expired', previous: lease };
  if (lease.holder !== null && holderGone(lease.holder)) return { kind: 'holder-gone', previous: lease };
  return { kind: 'held', lease };
}

/**
 * Is our own lease still good for `marginMs`, measured on our own clock? The margin covers the
 * write about to be sent (its duration, and clock skew between hosts). Pure.
 */
export function leaseValidFor(expiresAtMs: number, nowMs: number, marginMs: number): boolean {
  return nowMs + marginMs < expiresAtMs;
}

/**
 * The margin of the fence before each object write: a third of the lease, at most a minute (the
 * write must reach the store within it; it also absorbs clock skew between hosts). Every state write
 * renews the lease, so a checkpoint starts with the whole lease ahead of it.
 */
export function fenceMarginMs(leaseMs: number): number {
  return Math.min(60_000, Math.round(leaseMs / 3));
}

/** Keys of a rolled-back checkpoint, deleted again by later runs until `untilMs`. */
export interface RolledBackKey {
  key: string;
  /** Epoch ms after which the key is forgotten. */
  untilMs: number;
}

/**
 * How long keys rolled back after a takeover are remembered and deleted again by every later run.
 *
 * A fenced writer checks its lease right before each PUT, so a late write needs the process to be
 * frozen in the instant between that check and the request reaching the store: a laptop put to
 * sleep, a stopped process, a Lambda sandbox frozen mid-request. Lambda ends a frozen sandbox
 * within hours; a laptop may sleep over a long weekend. Seven days covers both with room to spare.
 */
export const ROLLED_BACK_KEYS_KEPT_MS = 7 * 86_400_000;

/** At most this many keys are remembered (oldest forgotten first); a rollback rarely has more than a few. */
export const MAX_ROLLED_BACK_KEYS = 10_000;

/** Add freshly rolled-back keys and forget expired ones. Pure. */
export function rememberRolledBack(
  current: readonly RolledBackKey[],
  keys: readonly string[],
  nowMs: number,
): RolledBackKey[] {
  const kept = current.filter((k) => k.untilMs > nowMs && !keys.includes(k.key));
  for (const key of keys) kept.push({ key, untilMs: nowMs + ROLLED_BACK_KEYS_KEPT_MS });
  return kept.slice(Math.max(0, kept.length - MAX_ROLLED_BACK_KEYS));
}
