/**
 * The simulated app's one-to-one conversations (issue 26; docs/one-to-one.md): which pairs talked,
 * their messages as `admin_getroammsg` serves them (docs/tencent-api.md, admin_getroammsg), and the
 * changes tests make (new messages, recalls, one side deleting messages from its own view).
 *
 * Messages are generated per conversation on first use from their own seeded stream, so a
 * simulator that is never asked for one-to-one history pays nothing and the group datasets stay
 * identical. Each conversation has bursts of messages in the same second (the case `LastMsgKey`
 * exists for), client-chosen `MsgSeq`s that may repeat, and a share of recalls (`MsgFlagBits` 8).
 * Both sides see every message with the same `MsgKey`.
 */
import { ConfigError } from '../domain/errors.ts';
import type { JsonValue, RoamMessage } from '../domain/tencent-types.ts';
import { createPrng, hashString, intBetween, mix, type Prng, pick } from './hash.ts';
import type { SimIdentities } from './identities.ts';
import type { MediaUrlPlan } from './media-files.ts';
import { generateMessage, poolAccount, streamKey } from './messages.ts';

/** One conversation the dataset holds. */
export interface C2cConversationSpec {
  /** The two accounts (any order); accounts the app does not know are imported. */
  accounts: readonly [string, string];
  /** Messages inside retention, spread over `spanDays` before the start. */
  messages: number;
}

/** What one-to-one history the simulator holds. */
export interface C2cDatasetSpec {
  /** Generated conversations between pool accounts; default 6. */
  generated?: number;
  /** Messages of each generated conversation: from..to; default 20..300. */
  messagesPerConversation?: readonly [number, number];
  /** Conversations with named accounts (tests). */
  conversations?: readonly C2cConversationSpec[];
  /** Share of messages recalled (`MsgFlagBits` 8); default 0.03. */
  recalledFraction?: number;
  /**
   * Order of the messages inside a page: `newest-first` (default), or `ascending` as the
   * documentation's samples list them (docs/tencent-api.md, admin_getroammsg). Pages move
   * backwards in time either way; a client must not depend on the order inside one.
   */
  pageOrder?: 'newest-first' | 'ascending';
  /**
   * What a side sees of a message it deleted (`deleteFor`; a message both sides deleted is deleted
   * for both): `absent` (default, the strictest reading: Tencent documents that a side's deletion
   * hides the message from that side, and no placeholder in one-to-one history; docs/tencent-api.md,
   * admin_getroammsg), or `placeholder`: served as group history serves a deleted message, with
   * `IsPlaceMsg` 1, an empty body and no `CloudCustomData`, accounts, key and time kept.
   */
  deletedView?: 'absent' | 'placeholder';
  /** Days back the messages reach (under the retention); default 5, or half the retention when shorter. */
  spanDays?: number;
}

/** One stored message: the fields the API serves, before the recall is applied. */
interface StoredMessage {
  message: RoamMessage;
  recalled: boolean;
  /** Sides that deleted it from their view (`deleteMessages`, a cleared conversation). */
  hiddenFrom?: Set<string>;
}

interface Conversation {
  accounts: readonly [string, string];
  count: number;
  /** Ascending in the server's order (time, then MsgSeq, then MsgRandom); generated on first use. */
  stored: StoredMessage[] | undefined;
}

const SALT_C2C = 0xc2c0;
const DAY = 86_400;
const UINT32 = 0x1_0000_0000;

/** The server's order of one conversation: by time, then `MsgSeq` within a second (IMPORT-C2C). */
function compareStored(a: StoredMessage, b: StoredMessage): number {
  const x = a.message;
  const y = b.message;
  return (
    x.MsgTimeStamp - y.MsgTimeStamp ||
    (x.MsgSeq as number) - (y.MsgSeq as number) ||
    (x.MsgRandom as number) - (y.MsgRandom as number)
  );
}

const pairKey = (a: string, b: string): string => JSON.stringify(a < b ? [a, b] : [b, a]);

/** The one-to-one conversations of the simulated app. */
export class C2cWorld {
  readonly #seed: number;
  readonly #startSec: number;
  readonly #now: () => number;
  readonly #retentionSec: number;
  readonly #recalledFraction: number;
  readonly #spanSec: number;
  /** The media listener's URL plan (the groups'), or undefined: the default host, as before. */
  readonly #media: MediaUrlPlan | undefined;
  /** See {@link C2cDatasetSpec.pageOrder}. */
  public readonly pageOrder: 'newest-first' | 'ascending';
  readonly #deletedView: 'absent' | 'placeholder';
  readonly #conversations = new Map<string, Conversation>();

  public constructor(
    spec: C2cDatasetSpec,
    options: {
      seed: number;
      now: () => number;
      retentionDays: number;
      identities: SimIdentities;
      /** Media URLs and sizes as the groups' (the simulator's media listener serves them). */
      media?: MediaUrlPlan | undefined;
    },
  ) {
    this.#seed = options.seed;
    this.#media = options.media;
    this.#now = options.now;
    this.#startSec = Math.floor(options.now() / 1000);
    this.#retentionSec = Math.round(options.retentionDays * DAY);
    this.#recalledFraction = spec.recalledFraction ?? 0.03;
    this.pageOrder = spec.pageOrder ?? 'newest-first';
    this.#deletedView = spec.deletedView ?? 'absent';
    // Default: 5 days, or half the retention when that is shorter (tests use short retentions).
    this.#spanSec =
      spec.spanDays === undefined
        ? Math.min(5 * DAY, Math.floor(this.#retentionSec / 2))
        : Math.round(spec.spanDays * DAY);
    if (spec.spanDays !== undefined && !(this.#spanSec >= 0 && this.#spanSec < this.#retentionSec)) {
      throw new ConfigError('c2c.spanDays must be under the retention', { field: 'c2c.spanDays' });
    }
    for (const c of spec.conversations ?? []) this.#add(c, options.identities);
    const random = createPrng(mix(this.#seed, SALT_C2C));
    const [low, high] = spec.messagesPerConversation ?? [20, 300];
    for (let i = 0; i < (spec.generated ?? 6); i++) {
      const groupHash = hashString(`c2c-${i}`);
      const a = poolAccount(groupHash, 1 + 2 * i);
      const b = poolAccount(groupHash, 3 * i + 3);
      if (a === b || this.#conversations.has(pairKey(a, b))) continue;
      this.#add({ accounts: [a, b], messages: intBetween(random, low, high) }, options.identities);
    }
  }

  #add(spec: C2cConversationSpec, identities: SimIdentities): void {
    const [a, b] = spec.accounts;
    if (a === '' || b === '' || !Number.isSafeInteger(spec.messages) || spec.messages < 0) {
      throw new ConfigError('c2c.conversations: two non-empty accounts and a message count', {
        field: 'c2c.conversations',
      });
    }
    for (const account of [a, b]) {
      if (!identities.isKnown(account)) identities.renameUser(account, account);
    }
    this.#conversations.set(pairKey(a, b), { accounts: [a, b], count: spec.messages, stored: undefined });
  }

  /** Every conversation's two accounts, in catalogue order. */
  public pairs(): [string, string][] {
    return [...this.#conversations.values()].map((c) => [c.accounts[0], c.accounts[1]]);
  }

  /** The simulator's current time, epoch seconds. */
  public nowSec(): number {
    return Math.floor(this.#now() / 1000);
  }

  /**
   * The messages `operator` sees with `peer` right now, in the server's order (oldest first);
   * recalled ones with `MsgFlagBits` 8, an empty body and no `CloudCustomData`; those `operator`
   * deleted left out, or placeholders (`deletedView`). Empty when they never talked.
   */
  public visible(operator: string, peer: string): RoamMessage[] {
    const conversation = this.#conversations.get(pairKey(operator, peer));
    if (conversation === undefined) return [];
    const oldest = this.nowSec() - this.#retentionSec;
    const placeholders = this.#deletedView === 'placeholder';
    return this.#stored(conversation)
      .filter(
        (s) => s.message.MsgTimeStamp >= oldest && (placeholders || s.hiddenFrom?.has(operator) !== true),
      )
      .map((s) =>
        s.hiddenFrom?.has(operator) === true
          ? placeholderView(s.message)
          : s.recalled
            ? recalledView(s.message)
            : s.message,
      );
  }

  /**
   * Every message of every conversation sent from `fromSec` to `toSec` (both inclusive), as sent
   * (recalls and one side's deletions do not hide them), oldest first: what an hourly file holds.
   */
  public sentBetween(fromSec: number, toSec: number): RoamMessage[] {
    const out: RoamMessage[] = [];
    for (const conversation of this.#conversations.values()) {
      for (const s of this.#stored(conversation)) {
        if (s.message.MsgTimeStamp >= fromSec && s.message.MsgTimeStamp <= toSec) out.push(s.message);
      }
    }
    return out.sort((a, b) => a.MsgTimeStamp - b.MsgTimeStamp);
  }

  /** Appends `count` messages stamped now, alternating senders. @throws ConfigError for an unknown pair */
  public append(a: string, b: string, count: number): void {
    const conversation = this.#get(a, b);
    const stored = this.#stored(conversation);
    const random = createPrng(mix(this.#seed, hashString(pairKey(a, b)), stored.length, SALT_C2C));
    for (let i = 0; i < count; i++) {
      const [from, to] = i % 2 === 0 ? [a, b] : [b, a];
      stored.push(
        this.#message(conversation, random, { from, to, timeSec: this.nowSec(), index: stored.length }),
      );
    }
    stored.sort(compareStored);
  }

  /** Recalls a message: it then reads with `MsgFlagBits` 8. @throws ConfigError when it is not there */
  public recall(a: string, b: string, msgKey: string): void {
    const found = this.#stored(this.#get(a, b)).find((s) => s.message.MsgKey === msgKey);
    if (found === undefined)
      throw new ConfigError(`No message ${msgKey} between ${a} and ${b}`, { field: 'msgKey' });
    found.recalled = true;
  }

  /**
   * Deletes messages from `side`'s view only, as a client's `deleteMessages` or a cleared
   * conversation does: the peer still sees them (docs/tencent-api.md, admin_getroammsg).
   * Every message of the conversation when `msgKeys` is undefined.
   * @throws ConfigError for an unknown pair, a side not in it, or a key that is not there
   */
  public deleteFor(side: string, peer: string, msgKeys?: readonly string[]): void {
    const conversation = this.#get(side, peer);
    if (!conversation.accounts.includes(side))
      throw new ConfigError(`${side} is not in the conversation`, { field: 'side' });
    const stored = this.#stored(conversation);
    const chosen =
      msgKeys === undefined
        ? stored
        : msgKeys.map((key) => {
            const found = stored.find((s) => s.message.MsgKey === key);
            if (found === undefined) throw new ConfigError(`No message ${key}`, { field: 'msgKeys' });
            return found;
          });
    for (const s of chosen) {
      s.hiddenFrom ??= new Set();
      s.hiddenFrom.add(side);
    }
  }

  #get(a: string, b: string): Conversation {
    const conversation = this.#conversations.get(pairKey(a, b));
    if (conversation === undefined)
      throw new ConfigError(`No conversation between ${a} and ${b}`, { field: 'accounts' });
    return conversation;
  }

  #stored(conversation: Conversation): StoredMessage[] {
    if (conversation.stored !== undefined) return conversation.stored;
    const [a, b] = conversation.accounts;
    const random = createPrng(mix(this.#seed, hashString(pairKey(a, b)), SALT_C2C));
    const stored: StoredMessage[] = [];
    let timeSec = this.#startSec - this.#spanSec + intBetween(random, 0, 3600);
    const step = Math.max(1, Math.floor(this.#spanSec / Math.max(1, conversation.count + 1)));
    while (stored.length < conversation.count) {
      // A burst: up to 4 messages in the same second, then a pause.
      const burst = Math.min(
        conversation.count - stored.length,
        random() < 0.3 ? intBetween(random, 2, 4) : 1,
      );
      for (let i = 0; i < burst; i++) {
        const [from, to] = random() < 0.5 ? [a, b] : [b, a];
        stored.push(this.#message(conversation, random, { from, to, timeSec, index: stored.length }));
      }
      timeSec = Math.min(this.#startSec - 1, timeSec + intBetween(random, 1, 2 * step));
    }
    for (const s of stored) s.recalled = random() < this.#recalledFraction;
    stored.sort(compareStored);
    conversation.stored = stored;
    return stored;
  }

  #message(
    conversation: Conversation,
    random: Prng,
    at: { from: string; to: string; timeSec: number; index: number },
  ): StoredMessage {
    const [a, b] = conversation.accounts;
    const key = streamKey(this.#seed, `c2c\n${pairKey(a, b)}`);
    const generated = generateMessage(
      this.#media === undefined ? key : { ...key, media: this.#media },
      at.index + 1,
      at.timeSec,
    );
    // Client-chosen seqs: small numbers repeat across messages; MsgRandom tells them apart.
    const seq = random() < 0.2 ? intBetween(random, 1, 5) : Math.floor(random() * UINT32);
    const msgRandom = Math.floor(random() * UINT32);
    const message: RoamMessage = {
      From_Account: at.from,
      To_Account: at.to,
      MsgSeq: seq,
      MsgRandom: msgRandom,
      MsgTimeStamp: at.timeSec,
      MsgFlagBits: 0,
      IsPeerRead: pick(random, [0, 1]),
      MsgKey: `${seq}_${msgRandom}_${at.timeSec}`,
      MsgBody: generated.MsgBody as JsonValue,
    };
    if (generated.CloudCustomData !== undefined) message.CloudCustomData = generated.CloudCustomData;
    return { message, recalled: false };
  }
}

/** A recalled message as served: flagged, sender, time and key kept, no content. */
function recalledView(message: RoamMessage): RoamMessage {
  const { CloudCustomData: _dropped, ...rest } = message;
  return { ...rest, MsgFlagBits: 8, MsgBody: [] };
}

/** A deleted message as a placeholder (`deletedView: 'placeholder'`): `IsPlaceMsg` 1, no content. */
function placeholderView(message: RoamMessage): RoamMessage {
  const { CloudCustomData: _dropped, IsPeerRead: _read, ...rest } = message;
  return { ...rest, MsgFlagBits: 0, IsPlaceMsg: 1, MsgBody: [] };
}
