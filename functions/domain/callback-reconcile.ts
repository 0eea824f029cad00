/**
 * Reconciling the callbacks with the pull, every night (issue 25, docs/callbacks.md
 * "Reconciliation in the run report"): the pure rules. The engine
 * (functions/engine/callback-reconcile.ts) feeds one partition (`dt`) at a time: the materialized
 * callback messages of that date (functions/domain/callback-materialize.ts), then the pull's records
 * of that date (functions/domain/record.ts), and closes the partition.
 *
 * A message is matched by group, topic and seq, and by time (a re-created group reuses seqs; a
 * placeholder may be served without its time). The pull's side is its first capture (revision 0).
 * Agreement is the named query `callback-reconciliation`'s (functions/query/callback-views.ts): the
 * same sender, random and text. The fingerprint logs are not used for it: their fingerprint also
 * covers the priority, the system flag and the fields without a column, which a callback does not
 * carry, so a callback's fingerprint never equals the pull's.
 *
 * Each message is counted in the run where its second side arrives, so a rerun counts nothing twice:
 * - a callback message materialized in this run: **both-equal**, **different** (content differs: an
 *   edit before the first pull, or a forged body), **pull-placeholder** (the pull kept only a
 *   placeholder), or **callback-only** (no pull copy: a dissolved group, an expired message, or a
 *   message sent after the pull passed its group, which a later run may find);
 * - a message the pull first captured in this run, sent since the app's first recorded callback:
 *   **pull-only** when no callback holds it (a callback was lost), else classified as above when
 *   its callback was materialized by an earlier run.
 */
import type { CallbackMessageRow } from './callback-materialize.ts';
import type { ArchiveRecord } from './record.ts';

export interface ReconcileCounts {
  bothEqual: number;
  callbackOnly: number;
  different: number;
  pullPlaceholder: number;
  pullOnly: number;
}

/** One group's counts, reported when it has losses (pull-only), differences or callback-only messages. */
export interface ReconcileGroup extends ReconcileCounts {
  groupId: string;
  topicId: string | null;
}

export interface Reconciliation extends ReconcileCounts {
  /**
   * `pullOnly / (pullOnly + bothEqual + different + pullPlaceholder)`: the share of the messages the
   * pull archived (since callbacks began) whose callback never came; null when there were none.
   */
  lossRate: number | null;
  /** The groups to look at, most pull-only first (at most {@link MAX_REPORTED_GROUPS}). */
  groups: ReconcileGroup[];
  /** Groups to look at beyond those listed. */
  groupsNotListed: number;
}

export const MAX_REPORTED_GROUPS = 20;

export const emptyReconcileCounts = (): ReconcileCounts => ({
  bothEqual: 0,
  callbackOnly: 0,
  different: 0,
  pullPlaceholder: 0,
  pullOnly: 0,
});

/** What the comparison reads of a message, from either side. */
interface Said {
  from: string | null;
  random: number | null;
  text: string | null;
}

interface CallbackSide {
  groupId: string;
  topicId: string | null;
  msgTime: number;
  /** Every body delivered for it (a replay with another body adds one). */
  said: Said[];
  /** Materialized by this run (else by an earlier one). */
  thisRun: boolean;
  /** The pull's first capture, once seen. */
  pull?: { said: Said; place: number };
}

const keyOf = (groupId: string, topicId: string | null, seq: number) =>
  `${JSON.stringify([groupId, topicId])}#${seq}`;

const sameSaid = (a: Said, b: Said) => a.from === b.from && a.random === b.random && a.text === b.text;

type Outcome = Exclude<keyof ReconcileCounts, 'pullOnly' | 'callbackOnly'>;

function compare(side: CallbackSide, pull: { said: Said; place: number }): Outcome {
  if (pull.place !== 0) return 'pullPlaceholder';
  return side.said.every((s) => sameSaid(s, pull.said)) ? 'bothEqual' : 'different';
}

/**
 * Accumulates the counts of a run, one partition at a time: {@link addCallback} every callback
 * message row of the partition, then {@link addPull} its pull records, then {@link closePartition}.
 * Memory: the partition's callback messages, and one entry per group with something to report.
 */
export class Reconciler {
  readonly #counts = emptyReconcileCounts();
  readonly #groups = new Map<string, ReconcileGroup>();
  #partition = new Map<string, CallbackSide>();

  /**
   * @param firstCallbackSec when the app's first recorded callback arrived (epoch seconds): pull
   *   messages sent before it are not counted.
   */
  public constructor(private readonly firstCallbackSec: number) {}

  /** A materialized callback message of the open partition (`thisRun`: materialized by this run). */
  public addCallback(row: CallbackMessageRow, thisRun: boolean): void {
    const key = keyOf(row.group_id, row.topic_id, row.msg_seq);
    const said: Said = { from: row.from_account, random: row.msg_random, text: row.text };
    const side = this.#partition.get(key);
    if (side === undefined) {
      this.#partition.set(key, {
        groupId: row.group_id,
        topicId: row.topic_id,
        msgTime: row.msg_time,
        said: [said],
        thisRun,
      });
      return;
    }
    if (!side.said.some((s) => sameSaid(s, said))) side.said.push(said);
    side.thisRun ||= thisRun;
  }

  /** A pull record of the open partition (`thisRun`: written by this run). Only first captures count. */
  public addPull(record: ArchiveRecord, thisRun: boolean): void {
    if (record.quarantined || record.revision !== 0) return;
    const key = keyOf(record.group_id, record.topic_id, record.msg_seq);
    const side = this.#partition.get(key);
    const timed = side !== undefined && (side.msgTime === record.msg_time || record.is_place_msg !== 0);
    const pull = {
      said: { from: record.from_account, random: record.msg_random, text: record.text },
      place: record.is_place_msg,
    };
    if (side !== undefined && timed) {
      if (side.pull !== undefined) return;
      side.pull = pull;
      // Counted here when only the pull is new; a callback of this run is counted at the close.
      if (thisRun && !side.thisRun) this.#count(side, compare(side, pull));
      return;
    }
    if (thisRun && record.msg_time >= this.firstCallbackSec)
      this.#count({ groupId: record.group_id, topicId: record.topic_id }, 'pullOnly');
  }

  /**
   * Whether a pull record of this message could still change the counts when it is not this run's:
   * a callback of this run not yet matched (an earlier run's pull is counted only against it).
   */
  public awaitsEarlierPull(groupId: string, topicId: string | null, seq: number): boolean {
    const side = this.#partition.get(keyOf(groupId, topicId, seq));
    return side?.thisRun === true && side.pull === undefined;
  }

  /** Counts the partition's callback messages of this run, and forgets the partition. */
  public closePartition(): void {
    for (const side of this.#partition.values()) {
      if (!side.thisRun) continue;
      this.#count(side, side.pull === undefined ? 'callbackOnly' : compare(side, side.pull));
    }
    this.#partition = new Map();
  }

  public result(): Reconciliation {
    const c = this.#counts;
    const pulled = c.pullOnly + c.bothEqual + c.different + c.pullPlaceholder;
    const flagged = [...this.#groups.values()].sort(
      (a, b) =>
        b.pullOnly - a.pullOnly ||
        b.different - a.different ||
        b.callbackOnly - a.callbackOnly ||
        (a.groupId < b.groupId ? -1 : a.groupId > b.groupId ? 1 : 0),
    );
    return {
      ...c,
      lossRate: pulled === 0 ? null : c.pullOnly / pulled,
      groups: flagged.slice(0, MAX_REPORTED_GROUPS),
      groupsNotListed: Math.max(0, flagged.length - MAX_REPORTED_GROUPS),
    };
  }

  #count(at: { groupId: string; topicId: string | null }, outcome: keyof ReconcileCounts): void {
    this.#counts[outcome]++;
    if (outcome === 'bothEqual' || outcome === 'pullPlaceholder') return;
    const id = JSON.stringify([at.groupId, at.topicId]);
    let group = this.#groups.get(id);
    if (group === undefined) {
      group = { groupId: at.groupId, topicId: at.topicId, ...emptyReconcileCounts() };
      this.#groups.set(id, group);
    }
    group[outcome]++;
  }
}
