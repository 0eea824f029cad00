/**
 * The simulator's third-party callbacks (issue 25; docs/tencent-api.md, Third-party callbacks):
 * with `callbacks: { url, token }`, every change the simulator makes (messages appended, recalled,
 * edited, a group dissolved) is POSTed to `url` as Tencent would: the command and the app in the
 * query, `RequestTime` and `Sign = hex(sha256(token + RequestTime))`, the event as the JSON body
 * with `EventTime` in ms. The answer is awaited for 2 s, like Tencent, and never retried.
 *
 * Faults, queued and consumed one per event in order (the first event after `inject` takes the
 * first fault), make the delivery as unreliable as the documentation allows (no delivery
 * guarantee, optional retries, no delivery id) and as hostile as a network can be:
 * `drop` (never sent), `duplicate` (sent twice), `delay` (sent `ms` later: later events may
 * overtake it), `reorder` (held until the next event has been answered, then sent), `stale` (a correct Sign for a `RequestTime` 120 s old), `wrong-sign` (another token), and
 * `replay-changed` (sent, then the same query replayed with another body: the Sign does not cover
 * the body).
 */
import { callbackSign } from '../domain/callback-auth.ts';
import type { JsonObject, JsonValue, RawMessage, RoamMessage } from '../domain/tencent-types.ts';

export type CallbackFault =
  | { kind: 'drop' }
  | { kind: 'duplicate' }
  | { kind: 'delay'; ms: number }
  | { kind: 'reorder' }
  | { kind: 'stale' }
  | { kind: 'wrong-sign' }
  | { kind: 'replay-changed'; change: JsonObject };

export interface SimCallbacksOptions {
  /** The receiver's URL (its query, if any, is kept). */
  url: string;
  /** The callback token both sides know. */
  token: string;
}

export interface CallbackSenderStats {
  /** Events the simulator produced. */
  emitted: number;
  /** Requests sent (a duplicate or a replay counts twice). */
  sent: number;
  /** Requests answered 200 with ActionStatus OK. */
  acked: number;
  /** Requests answered otherwise (refused, failed) or not answered within 2 s. */
  failed: number;
  /** Events dropped by a fault. */
  dropped: number;
}

/** What tests and the CLI see of the simulator's callbacks. */
export interface SimCallbackControl {
  /** Queues faults; the next events take them in order. */
  inject(...faults: CallbackFault[]): void;
  /**
   * Resolves once every request sent or delayed so far has been answered (or timed out); what a
   * `reorder` fault still holds (no later event came) is sent now.
   */
  flush(): Promise<void>;
  stats(): CallbackSenderStats;
}

const TENCENT_WAIT_MS = 2_000;

export class CallbackSender implements SimCallbackControl {
  readonly #faults: CallbackFault[] = [];
  readonly #inFlight = new Set<Promise<void>>();
  readonly #stats: CallbackSenderStats = { emitted: 0, sent: 0, acked: 0, failed: 0, dropped: 0 };
  /** Sends held by a `reorder` fault, released once the next event has been answered. */
  #held: (() => void)[] = [];

  constructor(private readonly options: SimCallbacksOptions & { sdkAppId: number; now: () => number }) {}

  inject(...faults: CallbackFault[]): void {
    this.#faults.push(...faults);
  }

  stats(): CallbackSenderStats {
    return { ...this.#stats };
  }

  async flush(): Promise<void> {
    for (const release of this.#held.splice(0)) release();
    while (this.#inFlight.size > 0) await Promise.allSettled([...this.#inFlight]);
  }

  /** Sends one event (its `CallbackCommand` and `EventTime` are added here). */
  emit(command: string, event: JsonObject): void {
    this.#stats.emitted++;
    const body: JsonObject = { CallbackCommand: command, ...event, EventTime: this.options.now() };
    const fault = this.#faults.shift();
    if (fault?.kind === 'drop') {
      this.#stats.dropped++;
      return;
    }
    const requestTime = Math.floor(this.options.now() / 1000) - (fault?.kind === 'stale' ? 120 : 0);
    const token = fault?.kind === 'wrong-sign' ? `${this.options.token}-not` : this.options.token;
    const url = this.#url(command, String(requestTime), token);
    const text = JSON.stringify(body);
    if (fault?.kind === 'delay') {
      this.#track(
        new Promise<void>((resolve) => setTimeout(resolve, fault.ms)).then(() => this.#post(url, text)),
      );
      return;
    }
    if (fault?.kind === 'reorder') {
      this.#track(new Promise<void>((resolve) => this.#held.push(resolve)).then(() => this.#post(url, text)));
      return;
    }
    const held = this.#held;
    this.#held = [];
    const release = () => {
      for (const send of held) send();
    };
    this.#track(this.#post(url, text).finally(release));
    if (fault?.kind === 'duplicate') this.#track(this.#post(url, text));
    if (fault?.kind === 'replay-changed')
      this.#track(this.#post(url, JSON.stringify({ ...body, ...fault.change })));
  }

  #url(command: string, requestTime: string, token: string): string {
    const url = new URL(this.options.url);
    url.searchParams.set('SdkAppid', String(this.options.sdkAppId));
    url.searchParams.set('CallbackCommand', command);
    url.searchParams.set('contenttype', 'json');
    url.searchParams.set('ClientIP', '127.0.0.1');
    url.searchParams.set('OptPlatform', 'RESTAPI');
    url.searchParams.set('RequestTime', requestTime);
    url.searchParams.set('Sign', callbackSign(token, requestTime));
    return url.toString();
  }

  #track(sending: Promise<void>): void {
    const tracked = sending.finally(() => this.#inFlight.delete(tracked));
    this.#inFlight.add(tracked);
  }

  async #post(url: string, body: string): Promise<void> {
    this.#stats.sent++;
    try {
      const answer = await fetch(url, {
        method: 'POST',
        body,
        headers: { 'content-type': 'application/json' },
        signal: AbortSignal.timeout(TENCENT_WAIT_MS),
      });
      const text = await answer.text();
      const ok =
        answer.status === 200 && (JSON.parse(text) as { ActionStatus?: unknown }).ActionStatus === 'OK';
      if (ok) this.#stats.acked++;
      else this.#stats.failed++;
    } catch {
      this.#stats.failed++;
    }
  }
}

/** `Group.CallbackAfterSendMsg` for one stored message (docs/tencent-api.md, Third-party callbacks). */
export function sendMsgEvent(
  group: { groupId: string; type: string },
  message: RawMessage,
  topicId?: string,
): JsonObject {
  const event: JsonObject = {
    GroupId: group.groupId,
    Type: group.type,
    From_Account: message.From_Account ?? '',
    Operator_Account: message.From_Account ?? '',
    Random: message.MsgRandom ?? 0,
    MsgSeq: message.MsgSeq,
    MsgTime: message.MsgTimeStamp,
    OnlineOnlyFlag: 0,
    MsgBody: (message.MsgBody ?? []) as JsonValue,
  };
  if (message.CloudCustomData !== undefined) event.CloudCustomData = message.CloudCustomData;
  if (topicId !== undefined) event.TopicId = topicId;
  return event;
}

/**
 * `C2C.CallbackAfterSendMsg` for one stored one-to-one message (docs/tencent-api.md, Third-party
 * callbacks): sender, receiver, `MsgSeq`, `MsgRandom`, `MsgTime`, `MsgKey`, the delivery result
 * and the body.
 */
export function c2cSendMsgEvent(message: RoamMessage): JsonObject {
  const event: JsonObject = {
    From_Account: message.From_Account ?? '',
    To_Account: message.To_Account ?? '',
    MsgSeq: message.MsgSeq ?? 0,
    MsgRandom: message.MsgRandom ?? 0,
    MsgTime: message.MsgTimeStamp,
    MsgKey: message.MsgKey,
    OnlineOnlyFlag: 0,
    SendMsgResult: 0,
    ErrorInfo: 'send msg succeed',
    MsgBody: (message.MsgBody ?? []) as JsonValue,
  };
  if (message.CloudCustomData !== undefined) event.CloudCustomData = message.CloudCustomData;
  return event;
}

/** `Group.CallbackAfterRecallMsg`: who recalled which seqs. */
export function recallEvent(
  group: { groupId: string; type: string },
  recall: { seqs: readonly number[]; operator: string; topicId?: string },
): JsonObject {
  const event: JsonObject = {
    Operator_Account: recall.operator,
    Type: group.type,
    GroupId: group.groupId,
    MsgSeqList: recall.seqs.map((seq) => ({ MsgSeq: seq })),
  };
  if (recall.topicId !== undefined) event.TopicId = recall.topicId;
  return event;
}

/** `Group.CallbackAfterModifyMsg`: the new content of an edited message. */
export function modifyEvent(
  groupId: string,
  edit: { seq: number; operator: string; body: JsonValue; topicId?: string },
): JsonObject {
  const event: JsonObject = {
    GroupId: groupId,
    MsgSeq: edit.seq,
    Operator_Account: edit.operator,
    MsgBody: edit.body,
  };
  if (edit.topicId !== undefined) event.TopicId = edit.topicId;
  return event;
}

/** `Group.CallbackAfterGroupDestroyed`: the group, its owner, name and members when it was dissolved. */
export function destroyEvent(group: {
  groupId: string;
  type: string;
  name: string;
  owner: string;
  members: readonly string[];
}): JsonObject {
  return {
    GroupId: group.groupId,
    Type: group.type,
    Owner_Account: group.owner,
    Name: group.name,
    MemberList: group.members.map((account) => ({ Member_Account: account })),
  };
}

/** The simulator's controls that change what the API serves, and what callbacks they emit. */
interface CallbackSource {
  appendMessages(groupId: string, count: number, options?: { topicId?: string }): void;
  deleteGroup(groupId: string): void;
  recreateGroup(groupId: string, count: number): void;
  modifyMessage(
    groupId: string,
    seq: number,
    change?: { topicId?: string; body?: JsonValue[]; cloudCustomData?: string },
  ): void;
  recallMessage(groupId: string, seq: number, options?: { topicId?: string }): void;
  groundTruth(
    groupId: string,
    options?: { topicId?: string; withRecalledMsg?: boolean },
  ): Iterable<RawMessage>;
  readonly identities: {
    groupName(groupId: string): string;
    members(groupId: string): readonly { account: string; role: string }[];
  };
  readonly c2c: {
    append(a: string, b: string, count: number): void;
    visible(operator: string, peer: string): RoamMessage[];
  };
}

/** The stored message `seq` of a stream as the API serves it now (recalled ones included). */
function messageAt(source: CallbackSource, groupId: string, seq: number, topicId?: string) {
  for (const message of source.groundTruth(groupId, { withRecalledMsg: true, ...topicOption(topicId) })) {
    if (message.MsgSeq === seq) return message;
    if (message.MsgSeq < seq) return undefined;
  }
  return undefined;
}

const topicOption = (topicId: string | undefined) => (topicId === undefined ? {} : { topicId });
const accountOf = (message: RawMessage | undefined) =>
  typeof message?.From_Account === 'string' ? message.From_Account : '';

/**
 * The simulator's controls, each also emitting the callback Tencent would send for it
 * (docs/callbacks.md, The simulator's callbacks): `appendMessages` one `Group.CallbackAfterSendMsg`
 * per new message (as the API serves it), `recallMessage` `Group.CallbackAfterRecallMsg` (the
 * operator defaults to the sender), `modifyMessage` `Group.CallbackAfterModifyMsg` (the new body),
 * `deleteGroup` and `recreateGroup` `Group.CallbackAfterGroupDestroyed` (name, owner and members
 * as they were), then the re-created group's messages, and `c2c.append` one `C2C.CallbackAfterSendMsg`
 * per new one-to-one message.
 */
export function withCallbacks<S extends CallbackSource>(
  sim: S,
  sender: CallbackSender,
  groupType: (groupId: string) => string,
) {
  const group = (groupId: string) => ({ groupId, type: groupType(groupId) });
  const sendNewest = (groupId: string, count: number, topicId?: string) => {
    const fresh: RawMessage[] = [];
    for (const message of sim.groundTruth(groupId, topicOption(topicId))) {
      if (fresh.length >= count) break;
      fresh.push(message);
    }
    for (const message of fresh.reverse())
      sender.emit('Group.CallbackAfterSendMsg', sendMsgEvent(group(groupId), message, topicId));
  };
  const destroy = (groupId: string) => {
    const members = sim.identities.members(groupId);
    return destroyEvent({
      ...group(groupId),
      name: sim.identities.groupName(groupId),
      owner: members.find((m) => m.role === 'Owner')?.account ?? '',
      members: members.map((m) => m.account),
    });
  };
  return {
    ...sim,
    callbacks: sender as SimCallbackControl,
    c2c: {
      ...sim.c2c,
      append(a: string, b: string, count: number) {
        const before = new Set(sim.c2c.visible(a, b).map((m) => m.MsgKey));
        sim.c2c.append(a, b, count);
        for (const message of sim.c2c.visible(a, b)) {
          if (!before.has(message.MsgKey)) sender.emit('C2C.CallbackAfterSendMsg', c2cSendMsgEvent(message));
        }
      },
    },
    appendMessages(groupId: string, count: number, options?: { topicId?: string }) {
      sim.appendMessages(groupId, count, options);
      sendNewest(groupId, count, options?.topicId);
    },
    recallMessage(groupId: string, seq: number, options?: { topicId?: string; operator?: string }) {
      const sender0 = accountOf(messageAt(sim, groupId, seq, options?.topicId));
      sim.recallMessage(
        groupId,
        seq,
        options?.topicId === undefined ? undefined : { topicId: options.topicId },
      );
      const recall = {
        seqs: [seq],
        operator: options?.operator ?? sender0,
        ...topicOption(options?.topicId),
      };
      sender.emit('Group.CallbackAfterRecallMsg', recallEvent(group(groupId), recall));
    },
    modifyMessage(
      groupId: string,
      seq: number,
      change?: { topicId?: string; body?: JsonValue[]; cloudCustomData?: string },
    ) {
      sim.modifyMessage(groupId, seq, change);
      const edited = messageAt(sim, groupId, seq, change?.topicId);
      const edit = {
        seq,
        operator: accountOf(edited),
        body: (edited?.MsgBody ?? []) as JsonValue,
        ...topicOption(change?.topicId),
      };
      sender.emit('Group.CallbackAfterModifyMsg', modifyEvent(groupId, edit));
    },
    deleteGroup(groupId: string) {
      const event = destroy(groupId);
      sim.deleteGroup(groupId);
      sender.emit('Group.CallbackAfterGroupDestroyed', event);
    },
    recreateGroup(groupId: string, count: number) {
      const event = destroy(groupId);
      sim.recreateGroup(groupId, count);
      sender.emit('Group.CallbackAfterGroupDestroyed', event);
      sendNewest(groupId, count);
    },
  };
}
