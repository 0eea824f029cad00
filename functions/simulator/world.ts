/**
 * The simulator's mutable world: the static catalogue plus what happened since start (appended
 * messages, dissolved groups), and the single place that decides what the API shows for a seq.
 * Both the HTTP handlers and `groundTruth` render messages through here, so they cannot disagree.
 */
import { ConfigError } from '../domain/errors.ts';
import type { GroupType, JsonValue, RawMessage } from '../domain/tencent-types.ts';
import { type GroupPlan, type ResolvedDataset, type StreamPlan, seqTimeSec } from './dataset.ts';
import { SimIdentities } from './identities.ts';
import { generateMessage, messageFate } from './messages.ts';
import { QuirkState } from './quirks.ts';

/** Messages appended after start: seqs fromSeq..toSeq, all stamped `timeSec`. */
interface AppendBatch {
  readonly fromSeq: number;
  readonly toSeq: number;
  readonly timeSec: number;
}

/**
 * What happened to an existing message after it was sent, as the history API shows it afterwards:
 * an edit (`modify_group_msg` or a client edit overwrites `MsgBody` and/or `CloudCustomData`
 * in place, same seq, no version field), then possibly a recall or a deletion.
 */
export interface MessageMutation {
  body?: JsonValue[];
  cloudCustomData?: string;
  /** 2 recalled (sender, random, priority and time kept), 1 deleted (an `IsPlaceMsg` 1 placeholder). */
  place?: 1 | 2;
  /** Edits applied so far (the API shows only the latest). */
  edits: number;
}

/** A message stream with its appended batches. */
export interface StreamState {
  readonly plan: StreamPlan;
  readonly appended: AppendBatch[];
  /** Messages changed after they were sent, by seq. */
  readonly mutations: Map<number, MessageMutation>;
  /** Seq the next message will get. */
  nextSeq: number;
  /** Epoch seconds of the newest message; 0 when the stream is empty. */
  lastMsgTime: number;
}

export interface GroupState {
  readonly plan: GroupPlan;
  deleted: boolean;
  /** Replaced (seqs start over) by `recreateGroup`. */
  main: StreamState;
  readonly topics: ReadonlyMap<string, StreamState>;
}

export interface SimTopicSummary {
  topicId: string;
  nextMsgSeq: number;
  lastMsgTime: number;
}

/** What `Simulator.groups()` reports for one group. */
export interface SimGroupSummary {
  groupId: string;
  type: GroupType;
  nextMsgSeq: number;
  lastMsgTime: number;
  deleted: boolean;
  topicsEnabled: boolean;
  topics: SimTopicSummary[];
}

/** A rendered seq, plus whether it lies beyond retention (drives IsFinished 2). */
export interface RenderedMessage {
  message: RawMessage;
  expired: boolean;
}

function streamState(plan: StreamPlan): StreamState {
  return {
    plan,
    appended: [],
    mutations: new Map(),
    nextSeq: plan.baseCount + 1,
    lastMsgTime: plan.baseCount > 0 ? plan.lastTimeSec : 0,
  };
}

function groupState(plan: GroupPlan): GroupState {
  return {
    plan,
    deleted: false,
    main: streamState(plan.main),
    topics: new Map(plan.topics.map((topic) => [topic.topicId, streamState(topic)])),
  };
}

/**
 * What an `IsPlaceMsg` 1 placeholder (a deleted message, or one older than retention) keeps of the
 * message. The API documents only an empty `MsgBody` and `IsPlaceMsg` 1:
 * - `zeroed` (default, the strictest reading): every other field zeroed too, `MsgTimeStamp` 0,
 *   `From_Account` "", `MsgRandom` 0; only `MsgSeq` identifies it.
 * - `kept`: as `zeroed`, but `MsgTimeStamp` keeps the message's time.
 */
export type PlaceholderReading = 'zeroed' | 'kept';
export const PLACEHOLDER_READINGS: readonly PlaceholderReading[] = ['zeroed', 'kept'];

/** Mutable simulator state over a resolved dataset. `now` is epoch ms (the simulator's clock). */
export class SimWorld {
  /**
   * Groups something happened to (appended, dissolved, recreated, edited), by ordinal. Every other
   * group is computed from its plan when asked for and forgotten again: a million idle groups cost
   * nothing.
   */
  readonly #touched = new Map<number, GroupState>();
  /** Odd answers switched on for this simulator (see quirks.ts); none by default. */
  public quirks = new QuirkState();
  /** What deleted and expired placeholders keep (see {@link PlaceholderReading}). */
  public placeholders: PlaceholderReading = 'zeroed';
  /** Nicknames, group names, members (identities.ts); the server seeds it. */
  public identities = new SimIdentities(1, []);
  readonly #dataset: ResolvedDataset;
  readonly #now: () => number;
  readonly #retentionSec: number;
  #deleted = 0;

  public constructor(dataset: ResolvedDataset, now: () => number, retentionDays: number) {
    this.#dataset = dataset;
    this.#now = now;
    this.#retentionSec = Math.round(retentionDays * 86_400);
  }

  /** Groups in the catalogue (the group-list cursor is an ordinal below this). */
  public get groupCount(): number {
    return this.#dataset.groupCount;
  }

  /** Groups in the catalogue not dissolved. */
  public get liveGroupCount(): number {
    return this.#dataset.groupCount - this.#deleted;
  }

  /** The group at `ordinal`: its stored state once touched, else a fresh one from its plan (not kept). */
  public groupAt(ordinal: number): GroupState {
    return this.#touched.get(ordinal) ?? groupState(this.#dataset.groupAt(ordinal));
  }

  /** The group, deleted or not; undefined if it never existed. Do not change it: see {@link touch}. */
  public group(groupId: string): GroupState | undefined {
    const ordinal = this.#dataset.ordinalOf(groupId);
    return ordinal === undefined ? undefined : this.groupAt(ordinal);
  }

  /** The group's state, kept from now on so that changes to it last; undefined if it never existed. */
  #touch(groupId: string): GroupState | undefined {
    const ordinal = this.#dataset.ordinalOf(groupId);
    if (ordinal === undefined) return undefined;
    let state = this.#touched.get(ordinal);
    if (state === undefined) {
      state = groupState(this.#dataset.groupAt(ordinal));
      this.#touched.set(ordinal, state);
    }
    return state;
  }

  /** Current time in whole epoch seconds. */
  public nowSec(): number {
    return Math.floor(this.#now() / 1000);
  }

  /** Appends `count` messages stamped now (never before the stream's newest message). */
  public appendMessages(groupId: string, count: number, topicId?: string): void {
    if (!Number.isInteger(count) || count < 1)
      throw new ConfigError('count must be a positive integer', { field: 'count' });
    const stream = this.#liveStream(groupId, topicId);
    const timeSec = Math.max(this.nowSec(), stream.lastMsgTime);
    stream.appended.push({ fromSeq: stream.nextSeq, toSeq: stream.nextSeq + count - 1, timeSec });
    stream.nextSeq += count;
    stream.lastMsgTime = timeSec;
  }

  /**
   * The group is dissolved and created again under the same id (or the server reset it): its seqs
   * start over at 1 with `count` new messages stamped now. Not for topic communities.
   */
  public recreateGroup(groupId: string, count: number): void {
    const group = this.#touch(groupId);
    if (group === undefined || group.plan.topicsEnabled)
      throw new ConfigError(`Unknown group or topic community ${groupId}`, { field: 'groupId' });
    if (group.deleted) this.#deleted--;
    group.deleted = false;
    group.main = streamState({ ...group.plan.main, baseCount: 0 });
    if (count > 0) this.appendMessages(groupId, count);
  }

  /** Dissolves the group: it leaves the group list and answers 10010 afterwards. */
  public deleteGroup(groupId: string): void {
    const group = this.#touch(groupId);
    if (group === undefined) throw new ConfigError(`Unknown group ${groupId}`, { field: 'groupId' });
    if (!group.deleted) this.#deleted++;
    group.deleted = true;
  }

  /**
   * Edits a message in place, like `modify_group_msg`: the given fields overwrite the stored ones
   * under the same seq (default body: one text element naming the edit). Only a normal message
   * inside retention can be edited.
   * @throws ConfigError for an unknown stream or seq, or a message that is recalled, deleted or expired.
   */
  public modifyMessage(
    groupId: string,
    seq: number,
    change: { topicId?: string; body?: JsonValue[]; cloudCustomData?: string } = {},
  ): void {
    const { stream, mutation } = this.#mutable(groupId, change.topicId, seq);
    mutation.edits++;
    if (change.body !== undefined) mutation.body = change.body;
    else if (change.cloudCustomData === undefined) {
      mutation.body = [
        { MsgType: 'TIMTextElem', MsgContent: { Text: `edit ${mutation.edits} of seq ${seq} ✏️` } },
      ];
    }
    if (change.cloudCustomData !== undefined) mutation.cloudCustomData = change.cloudCustomData;
    stream.mutations.set(seq, mutation);
  }

  /**
   * Recalls a message (admin `group_msg_recall`, a client recall, or the silent
   * `delete_group_msg_by_sender`): afterwards it reads as `IsPlaceMsg` 2 with sender and time kept.
   * @throws ConfigError as {@link modifyMessage}.
   */
  public recallMessage(groupId: string, seq: number, topicId?: string): void {
    const { stream, mutation } = this.#mutable(groupId, topicId, seq);
    stream.mutations.set(seq, { ...mutation, place: 2 });
  }

  /**
   * Deletes a message: afterwards it reads as an `IsPlaceMsg` 1 placeholder. A recalled message
   * can still be deleted.
   * @throws ConfigError for an unknown stream or seq, a message already deleted, or expired.
   */
  public deleteMessage(groupId: string, seq: number, topicId?: string): void {
    const { stream, mutation } = this.#mutable(groupId, topicId, seq, { allowRecalled: true });
    stream.mutations.set(seq, { ...mutation, place: 1 });
  }

  /** The stream and a copy of the message's mutation so far, after checking it can change. */
  #mutable(
    groupId: string,
    topicId: string | undefined,
    seq: number,
    options: { allowRecalled?: boolean } = {},
  ): { stream: StreamState; mutation: MessageMutation } {
    const stream = this.#liveStream(groupId, topicId);
    if (!Number.isSafeInteger(seq) || seq < 1 || seq >= stream.nextSeq) {
      throw new ConfigError(`${groupId} has no message with seq ${seq}`, { field: 'seq' });
    }
    const rendered = this.render(stream, seq, true, this.nowSec());
    const place = rendered?.message.IsPlaceMsg;
    if (
      rendered === undefined ||
      rendered.expired ||
      place === 1 ||
      (place === 2 && !options.allowRecalled)
    ) {
      throw new ConfigError(`seq ${seq} of ${groupId} cannot change: it is recalled, deleted or expired`, {
        field: 'seq',
      });
    }
    const current = stream.mutations.get(seq);
    return { stream, mutation: current === undefined ? { edits: 0 } : { ...current } };
  }

  /** Epoch seconds of an existing seq (1..nextSeq-1). */
  public timeOf(stream: StreamState, seq: number): number {
    if (seq <= stream.plan.baseCount) return seqTimeSec(stream.plan, seq);
    // Appended batches are few and sorted: binary search for the one holding seq.
    let lo = 0;
    let hi = stream.appended.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const batch = stream.appended[mid];
      if (batch === undefined) break;
      if (seq < batch.fromSeq) hi = mid - 1;
      else if (seq > batch.toSeq) lo = mid + 1;
      else return batch.timeSec;
    }
    throw new RangeError(`seq ${seq} does not exist in ${stream.plan.topicId ?? stream.plan.groupId}`);
  }

  /**
   * What group_msg_get_simple shows for `seq`, or undefined when the seq is left out of the page
   * (recalled and WithRecalledMsg not set).
   *
   * Placeholders (the API leaves their content open; we take the harsher reading):
   * - IsPlaceMsg 1 (deleted, or older than retention): MsgBody [], From_Account '', MsgRandom 0,
   *   no MsgPriority, and MsgTimeStamp 0 unless {@link placeholders} is `kept`.
   * - IsPlaceMsg 2 (recalled): sender, random and priority kept, MsgBody [].
   * Expiry wins over recall: a recalled message beyond retention is an IsPlaceMsg 1 placeholder.
   */
  public render(
    stream: StreamState,
    seq: number,
    withRecalled: boolean,
    nowSec: number,
  ): RenderedMessage | undefined {
    const timeSec = this.timeOf(stream, seq);
    const expired = timeSec < nowSec - this.#retentionSec;
    const { deletedFraction, recalledFraction } = this.#dataset;
    const mutation = stream.mutations.get(seq);
    const generated = messageFate(stream.plan, seq, deletedFraction, recalledFraction);
    const fate = mutation?.place === 1 ? 'deleted' : mutation?.place === 2 ? 'recalled' : generated;
    if (expired || fate === 'deleted') {
      const message: RawMessage = {
        From_Account: '',
        IsPlaceMsg: 1,
        MsgBody: [],
        MsgRandom: 0,
        MsgSeq: seq,
        MsgTimeStamp: this.placeholders === 'kept' ? timeSec : 0,
      };
      return { message, expired };
    }
    const full = generateMessage(stream.plan, seq, timeSec);
    if (mutation?.body !== undefined) full.MsgBody = mutation.body;
    if (mutation?.cloudCustomData !== undefined) full.CloudCustomData = mutation.cloudCustomData;
    if (fate === 'normal') return { message: full, expired };
    if (!withRecalled) return undefined;
    const recalled: RawMessage = {
      From_Account: full.From_Account ?? '',
      IsPlaceMsg: 2,
      MsgBody: [],
      MsgPriority: full.MsgPriority ?? 2,
      MsgRandom: full.MsgRandom ?? 0,
      MsgSeq: seq,
      MsgTimeStamp: timeSec,
    };
    return { message: recalled, expired };
  }

  /**
   * Every message the API would return for the stream, newest first, rendered at the current
   * time. Lazy: a 1,000,000-message group is never materialised.
   */
  public groundTruth(groupId: string, topicId?: string, withRecalled = false): Iterable<RawMessage> {
    // Validated eagerly, so a typo fails at the call rather than at the first iteration.
    const group = this.group(groupId);
    if (group === undefined) throw new ConfigError(`Unknown group ${groupId}`, { field: 'groupId' });
    const stream = this.streamOf(group, topicId);
    if (stream === undefined) throw new ConfigError(`Unknown topic ${topicId}`, { field: 'topicId' });
    const nowSec = this.nowSec();
    const newest = stream.nextSeq - 1;
    const render = (seq: number) => this.render(stream, seq, withRecalled, nowSec);
    return {
      *[Symbol.iterator]() {
        for (let seq = newest; seq >= 1; seq--) {
          const rendered = render(seq);
          if (rendered !== undefined) yield rendered.message;
        }
      },
    };
  }

  /** The group's own stream, or one of its topics. */
  public streamOf(group: GroupState, topicId: string | undefined): StreamState | undefined {
    return topicId === undefined ? group.main : group.topics.get(topicId);
  }

  /** One summary per group, in catalogue order (computed one by one: iterate, or spread a small world). */
  public *summaries(): Generator<SimGroupSummary> {
    for (let i = 0; i < this.#dataset.groupCount; i++) {
      const group = this.groupAt(i);
      yield {
        groupId: group.plan.groupId,
        type: group.plan.type,
        nextMsgSeq: group.main.nextSeq,
        lastMsgTime: group.main.lastMsgTime,
        deleted: group.deleted,
        topicsEnabled: group.plan.topicsEnabled,
        topics: [...group.topics.values()].map((topic) => ({
          topicId: topic.plan.topicId ?? '',
          nextMsgSeq: topic.nextSeq,
          lastMsgTime: topic.lastMsgTime,
        })),
      };
    }
  }

  #liveStream(groupId: string, topicId: string | undefined): StreamState {
    const group = this.#touch(groupId);
    if (group === undefined || group.deleted) {
      throw new ConfigError(`Unknown or dissolved group ${groupId}`, { field: 'groupId' });
    }
    if (group.plan.topicsEnabled && topicId === undefined) {
      throw new ConfigError(`${groupId} has topics enabled: append to one of its topics`, {
        field: 'topicId',
      });
    }
    const stream = this.streamOf(group, topicId);
    if (stream === undefined) throw new ConfigError(`Unknown topic ${topicId}`, { field: 'topicId' });
    return stream;
  }
}
