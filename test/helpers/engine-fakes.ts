/**
 * In-memory fakes of the engine's ports for unit tests (test/unit/engine/): an object store with
 * conditional writes and injectable failures, a scripted Tencent API, a fake host-process table and
 * a silent logger. Nothing here touches a disk, a socket or a process; time comes from
 * `test/helpers/fake-clock.ts` or `test/helpers/virtual-time.ts`.
 */
import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import { AbortedError, PreconditionFailedError, StorageError } from '../../functions/domain/errors.ts';
import type { LeaseHolder } from '../../functions/domain/lease.ts';
import type { ChatApi, HostProcesses, Logger, RoamApi } from '../../functions/domain/ports.ts';
import type {
  ObjectHead,
  PutOptions,
  PutStreamOptions,
  StoredObject,
  StreamingObjectStore,
} from '../../functions/domain/storage.ts';
import type {
  CosSigRequest,
  CosSigResult,
  GroupInfo,
  GroupListPage,
  GroupMember,
  GroupMemberPage,
  GroupMemberPageRequest,
  GroupMembersResult,
  HistoryPage,
  HistoryRequest,
  RawMessage,
  RoamMessage,
  RoamPage,
  RoamRequest,
  TopicInfo,
  UserProfile,
} from '../../functions/domain/tencent-types.ts';
import type { RunOptions } from '../../functions/engine/run-options.ts';

export { FakeClock } from './fake-clock.ts';
export { VirtualTime } from './virtual-time.ts';

/** A logger that drops everything (also re-exported by test/helpers/engine.ts). */
export const silentLogger: Logger = { debug() {}, info() {}, warn() {}, error() {} };

/** Run options at test defaults (a fresh run id, all groups, UTC, no deadline) unless given. */
export function testRunOptions(sdkAppId: number, over: Partial<RunOptions> = {}): RunOptions {
  return {
    sdkAppId,
    runId: `run${Math.random().toString(36).slice(2, 10)}`,
    groupIds: undefined,
    selection: { include: [], exclude: [], types: [] },
    withRecalledMsg: true,
    timeZone: 'UTC',
    initialLookbackDays: null,
    flushBytes: 64 * 1024 * 1024,
    checkpointIntervalMs: 60_000,
    leaseMs: 120_000,
    deadlineMs: null,
    concurrency: 16,
    ...over,
  };
}

// ---------------------------------------------------------------------------------------------
// Object store
// ---------------------------------------------------------------------------------------------

export type StoreOp = 'put' | 'get' | 'delete' | 'list' | 'putStream' | 'head';

/** A failure to inject: the next `times` (default 1) calls of `op` on a matching key throw `error`. */
export interface StoreFault {
  op: StoreOp;
  /** An exact key, or a test on the key (for `list`, the prefix). */
  key: string | ((key: string) => boolean);
  /** What to throw; default a non-retryable StorageError naming the key. */
  error?: Error;
  /** How many matching calls fail; default 1. */
  times?: number;
  /**
   * `'before'` (default): the call fails and changes nothing. `'after'`: a write lands, then the
   * call throws (the writer crashed after the object was published, before it heard back).
   */
  when?: 'before' | 'after';
}

interface MemoryObject {
  body: Uint8Array;
  etag: string;
  contentType: string | undefined;
  metadata: Record<string, string>;
}

/** One call the store received, in order (for asserting what was written and when). */
export interface StoreCall {
  op: StoreOp;
  key: string;
  /** The options of a `put` or `putStream` (without the signal). */
  options?: PutOptions & Omit<PutStreamOptions, 'signal'>;
}

/**
 * A {@link StreamingObjectStore} in memory: `ifNoneMatch: '*'` and `ifMatch` are enforced with
 * {@link PreconditionFailedError}, ETags are the quoted MD5 of the body (as S3 and the local folder
 * store give them), `list` returns keys in byte order. {@link fail} injects a failure at a key.
 */
export class MemoryStore implements StreamingObjectStore {
  public readonly location = 'memory://test';
  /** Every call, in order (faulted calls included). */
  public readonly calls: StoreCall[] = [];
  private readonly objects = new Map<string, MemoryObject>();
  private faults: (StoreFault & { left: number })[] = [];

  /** Injects a failure (see {@link StoreFault}). */
  public fail(fault: StoreFault): this {
    this.faults.push({ ...fault, left: fault.times ?? 1 });
    return this;
  }

  /** The body of `key` as UTF-8 text, or undefined if absent. */
  public text(key: string): string | undefined {
    const object = this.objects.get(key);
    return object && new TextDecoder().decode(object.body);
  }

  /** A copy of the body of `key` (gzip objects included), or undefined if absent. */
  public body(key: string): Uint8Array | undefined {
    const object = this.objects.get(key);
    return object && Uint8Array.from(object.body);
  }

  /** Every key, in byte order. */
  public keys(prefix = ''): string[] {
    return [...this.objects.keys()].filter((k) => k.startsWith(prefix)).sort(byteOrder);
  }

  /** Writes `key` directly (no precondition, no call recorded): for seeding a test. */
  public seed(key: string, body: Uint8Array | string): string {
    return this.store(key, typeof body === 'string' ? new TextEncoder().encode(body) : body, {});
  }

  public async put(key: string, body: Uint8Array, options: PutOptions = {}): Promise<{ etag: string }> {
    this.calls.push({ op: 'put', key, options });
    const fault = this.takeFault('put', key);
    if (options.ifNoneMatch !== undefined && options.ifMatch !== undefined) {
      throw new StorageError(`put ${key}: ifNoneMatch and ifMatch cannot be combined`, { key });
    }
    this.checkPreconditions(key, options);
    if (fault?.when !== 'after') throwFault(fault, key);
    const etag = this.store(key, Uint8Array.from(body), { contentType: options.contentType });
    throwFault(fault, key);
    return { etag };
  }

  public async get(key: string): Promise<StoredObject | undefined> {
    this.calls.push({ op: 'get', key });
    throwFault(this.takeFault('get', key), key);
    const object = this.objects.get(key);
    return object && { body: Uint8Array.from(object.body), etag: object.etag };
  }

  public async delete(key: string): Promise<void> {
    this.calls.push({ op: 'delete', key });
    const fault = this.takeFault('delete', key);
    if (fault?.when !== 'after') throwFault(fault, key);
    this.objects.delete(key);
    throwFault(fault, key);
  }

  public async *list(prefix: string): AsyncIterable<string> {
    this.calls.push({ op: 'list', key: prefix });
    throwFault(this.takeFault('list', prefix), prefix);
    // A snapshot, as a paged S3 listing would roughly give: later writes are not promised.
    for (const key of this.keys(prefix)) yield key;
  }

  public async putStream(
    key: string,
    body: Readable,
    options: PutStreamOptions = {},
  ): Promise<{ bytes: number }> {
    const { signal, ...recorded } = options;
    this.calls.push({ op: 'putStream', key, options: recorded });
    const fault = this.takeFault('putStream', key);
    if (options.ifNoneMatch === '*' && this.objects.has(key)) throw new PreconditionFailedError(key);
    const chunks: Uint8Array[] = [];
    for await (const chunk of body) {
      if (signal?.aborted) throw new AbortedError(`putStream ${key}: aborted`, { cause: signal.reason });
      chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Uint8Array));
    }
    if (signal?.aborted) throw new AbortedError(`putStream ${key}: aborted`, { cause: signal.reason });
    if (fault?.when !== 'after') throwFault(fault, key);
    const bytes = Buffer.concat(chunks);
    this.store(key, bytes, { contentType: options.contentType, metadata: options.metadata });
    throwFault(fault, key);
    return { bytes: bytes.byteLength };
  }

  public async head(key: string): Promise<ObjectHead | undefined> {
    this.calls.push({ op: 'head', key });
    throwFault(this.takeFault('head', key), key);
    const object = this.objects.get(key);
    return (
      object && {
        bytes: object.body.byteLength,
        contentType: object.contentType,
        metadata: { ...object.metadata },
      }
    );
  }

  private store(
    key: string,
    body: Uint8Array,
    extra: { contentType?: string | undefined; metadata?: Record<string, string> | undefined },
  ): string {
    const etag = etagOf(body);
    this.objects.set(key, { body, etag, contentType: extra.contentType, metadata: { ...extra.metadata } });
    return etag;
  }

  private checkPreconditions(key: string, options: PutOptions): void {
    const current = this.objects.get(key);
    if (options.ifNoneMatch === '*' && current !== undefined) throw new PreconditionFailedError(key);
    if (
      options.ifMatch !== undefined &&
      (current === undefined || unquote(current.etag) !== unquote(options.ifMatch))
    ) {
      throw new PreconditionFailedError(key);
    }
  }

  private takeFault(op: StoreOp, key: string): StoreFault | undefined {
    const fault = this.faults.find(
      (f) => f.op === op && f.left > 0 && (typeof f.key === 'string' ? f.key === key : f.key(key)),
    );
    if (fault === undefined) return undefined;
    fault.left--;
    this.faults = this.faults.filter((f) => f.left > 0);
    return fault;
  }
}

function throwFault(fault: StoreFault | undefined, key: string): void {
  if (fault === undefined) return;
  throw fault.error ?? new StorageError(`injected ${fault.op} failure at ${key}`, { key });
}

/** S3's ETag of a single-part upload: the quoted hex MD5 of the body. */
export function etagOf(body: Uint8Array): string {
  return `"${createHash('md5').update(body).digest('hex')}"`;
}

function unquote(etag: string): string {
  return etag.replace(/^"(.*)"$/, '$1');
}

/** Compares as S3 lists: by UTF-8 bytes (for the ASCII keys the engine writes, plain `<`). */
function byteOrder(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

// ---------------------------------------------------------------------------------------------
// Tencent API
// ---------------------------------------------------------------------------------------------

/** A text message in Tencent's `group_msg_get_simple` shape. */
export function textMessage(
  seq: number,
  timeSec: number,
  text = `message ${seq}`,
  from = 'alice',
): RawMessage {
  return {
    From_Account: from,
    IsPlaceMsg: 0,
    MsgBody: [{ MsgType: 'TIMTextElem', MsgContent: { Text: text } }],
    MsgPriority: 1,
    MsgRandom: seq * 7919,
    MsgSeq: seq,
    MsgTimeStamp: timeSec,
  };
}

/** `count` text messages with seqs 1..count, `stepSec` apart from `startSec`. */
export function messageRun(count: number, startSec: number, stepSec = 60): RawMessage[] {
  return Array.from({ length: count }, (_, i) => textMessage(i + 1, startSec + i * stepSec));
}

export interface FakeChatApiOptions {
  /** Group id (or topic id) → its messages, in any order. */
  groups?: Record<string, RawMessage[]>;
  /** Group id → Tencent group type; default `'Public'`. */
  types?: Record<string, string>;
  /** Community group id → its topic ids (each topic's messages are under its id in `groups`). */
  topics?: Record<string, string[]>;
  /** Replaces the default history answer for a call (return undefined to keep the default; throw to fail). */
  history?: (request: HistoryRequest, call: number) => HistoryPage | undefined;
  /** The answer of `get_cos_sig`; default every URL normal (status 0) with a signed URL. */
  cosSig?: (urls: readonly CosSigRequest[]) => CosSigResult[];
  /** Group ids per `get_appid_group_list` page; default 2. */
  listPageSize?: number;
  /** What {@link ChatApi.serverNowMs} answers; default 2026-01-01. */
  serverNowMs?: () => number;
  /** Account → nickname; an account not listed is unknown (`portrait_get` answers it `ok: false`). */
  nicks?: Record<string, string>;
  /** Group id → its members; a group not listed has none. */
  members?: Record<string, GroupMember[]>;
  /** One-to-one conversations: both sides see all `messages` (any order). */
  c2c?: { accounts: readonly [string, string]; messages: RoamMessage[] }[];
}

/** The largest page `group_msg_get_simple` answers. */
export const PAGE_MESSAGES = 20;

/**
 * A scripted {@link ChatApi} over an in-memory map of group → messages. History is served as the
 * simulator's strict reading does (functions/simulator/api-history.ts): newest first, the seq window
 * `[reqMsgSeq - n + 1, reqMsgSeq]` with `n` at most 20, `IsFinished` 1 (0 when more than 20 were asked
 * and seqs remain below). Every call is recorded in `calls`.
 */
export class FakeChatApi implements ChatApi, RoamApi {
  public readonly calls: { api: string; args: unknown }[] = [];
  private readonly options: FakeChatApiOptions;
  private historyCalls = 0;

  public constructor(options: FakeChatApiOptions = {}) {
    this.options = options;
  }

  /** The history requests received, in order. */
  public get historyRequests(): HistoryRequest[] {
    return this.calls.filter((c) => c.api === 'getHistory').map((c) => c.args as HistoryRequest);
  }

  public serverNowMs(): number {
    return this.options.serverNowMs?.() ?? Date.UTC(2026, 0, 1);
  }

  public serverOffsetMs(): number | undefined {
    return 0;
  }

  public async *listGroups(
    options: { groupType?: string; pageSize?: number } = {},
  ): AsyncIterable<GroupListPage> {
    this.calls.push({ api: 'listGroups', args: options });
    const ids = this.groupIds().filter(
      (id) => options.groupType === undefined || this.typeOf(id) === options.groupType,
    );
    const size = options.pageSize ?? this.options.listPageSize ?? 2;
    for (let i = 0; i < ids.length || i === 0; i += size) {
      const last = i + size >= ids.length;
      yield { groupIds: ids.slice(i, i + size), totalCount: ids.length, next: last ? 0n : BigInt(i + size) };
    }
  }

  public async getGroupInfo(groupIds: readonly string[]): Promise<GroupInfo[]> {
    this.calls.push({ api: 'getGroupInfo', args: [...groupIds] });
    return groupIds.map((groupId) => {
      const messages = this.options.groups?.[groupId];
      if (messages === undefined)
        return { ok: false, groupId, errorCode: 10010, errorInfo: 'group not found' };
      return { ok: true, groupId, type: this.typeOf(groupId), ...newestOf(messages) };
    });
  }

  public async getHistory(request: HistoryRequest): Promise<HistoryPage> {
    this.calls.push({ api: 'getHistory', args: { ...request } });
    const scripted = this.options.history?.(request, this.historyCalls++);
    if (scripted !== undefined) return scripted;
    const stream = request.topicId ?? request.groupId;
    const all = this.options.groups?.[stream] ?? [];
    const newest = Math.max(0, ...all.map((m) => m.MsgSeq));
    const hi = Math.min(request.reqMsgSeq ?? newest, newest);
    if (hi < 1) return { groupId: request.groupId, isFinished: 1, messages: [] };
    const lo = Math.max(1, hi - Math.min(request.reqMsgNumber, PAGE_MESSAGES) + 1);
    const messages = all
      .filter((m) => m.MsgSeq >= lo && m.MsgSeq <= hi)
      .filter((m) => request.withRecalledMsg || m.IsPlaceMsg !== 2)
      .sort((a, b) => b.MsgSeq - a.MsgSeq);
    const isFinished = request.reqMsgNumber > PAGE_MESSAGES && lo > 1 ? 0 : 1;
    return { groupId: request.groupId, isFinished, messages: structuredClone(messages) };
  }

  /**
   * `admin_getroammsg` as the simulator's strict reading serves it (functions/simulator/api-roam.ts):
   * the inclusive window newest first (a second's messages in reverse of their order in `c2c`),
   * `maxCnt` a page, continuing after `lastMsgKey`. @throws Error for a `lastMsgKey` not in the window
   */
  public async getRoamMessages(request: RoamRequest): Promise<RoamPage> {
    this.calls.push({ api: 'getRoamMessages', args: { ...request } });
    const { operatorAccount: a, peerAccount: b } = request;
    const pair = this.options.c2c?.find(
      ({ accounts: [x, y] }) => (x === a && y === b) || (x === b && y === a),
    );
    const window = (pair?.messages ?? [])
      .filter((m) => m.MsgTimeStamp >= request.minTime && m.MsgTimeStamp <= request.maxTime)
      .sort((x, y) => x.MsgTimeStamp - y.MsgTimeStamp)
      .reverse();
    let start = 0;
    if (request.lastMsgKey !== undefined) {
      start = window.findIndex((m) => m.MsgKey === request.lastMsgKey) + 1;
      if (start === 0) throw new Error(`LastMsgKey ${request.lastMsgKey} is not in the window`);
    }
    const page = window.slice(start, start + request.maxCnt);
    const last = page.at(-1);
    return {
      complete: start + page.length >= window.length,
      lastMsgTime: last?.MsgTimeStamp ?? 0,
      lastMsgKey: last?.MsgKey ?? '',
      messages: structuredClone(page),
    };
  }

  public async getTopics(groupId: string): Promise<TopicInfo[]> {
    this.calls.push({ api: 'getTopics', args: groupId });
    return (this.options.topics?.[groupId] ?? []).map((topicId) => ({
      ok: true,
      topicId,
      topicName: `topic ${topicId}`,
      ...newestOf(this.options.groups?.[topicId] ?? []),
    }));
  }

  public async getCosSig(urls: readonly CosSigRequest[]): Promise<CosSigResult[]> {
    this.calls.push({ api: 'getCosSig', args: [...urls] });
    if (this.options.cosSig) return this.options.cosSig(urls);
    return urls.map((u) => ({
      resourceId: u.resourceId,
      code: 0,
      desc: '',
      status: 0,
      preSigUrl: `${u.rawUrl}?sig=1`,
    }));
  }

  public async getProfiles(accounts: readonly string[]): Promise<UserProfile[]> {
    this.calls.push({ api: 'getProfiles', args: [...accounts] });
    return [...new Set(accounts)].map((account): UserProfile => {
      const nick = this.options.nicks?.[account];
      if (nick === undefined) return { ok: false, account, resultCode: 40003, resultInfo: 'unknown account' };
      return { ok: true, account, nick, image: '' };
    });
  }

  public async getGroupMembers(groupId: string, accounts: readonly string[]): Promise<GroupMembersResult> {
    this.calls.push({ api: 'getGroupMembers', args: { groupId, accounts: [...accounts] } });
    const all = this.options.members?.[groupId] ?? [];
    const wanted = [...new Set(accounts)];
    const members = all.filter((m) => wanted.includes(m.account)).map((m) => ({ ...m }));
    return { groupId, members, missing: wanted.filter((a) => !members.some((m) => m.account === a)) };
  }

  public async getGroupMemberPage(request: GroupMemberPageRequest): Promise<GroupMemberPage> {
    this.calls.push({ api: 'getGroupMemberPage', args: { ...request } });
    const all = this.options.members?.[request.groupId] ?? [];
    const start = request.next !== undefined ? Number(request.next || 0) : (request.offset ?? 0);
    const members = all.slice(start, start + request.limit).map((m) => ({ ...m }));
    const end = start + members.length;
    const more = end < all.length;
    const following = !more
      ? undefined
      : request.next !== undefined
        ? { next: String(end) }
        : { offset: end };
    return { groupId: request.groupId, memberNum: all.length, members, following };
  }

  private groupIds(): string[] {
    const topicIds = new Set(Object.values(this.options.topics ?? {}).flat());
    return Object.keys(this.options.groups ?? {}).filter((id) => !topicIds.has(id));
  }

  private typeOf(groupId: string): string {
    return this.options.types?.[groupId] ?? 'Public';
  }
}

function newestOf(messages: readonly RawMessage[]): { nextMsgSeq: number; lastMsgTime: number } {
  return {
    nextMsgSeq: Math.max(0, ...messages.map((m) => m.MsgSeq)) + 1,
    lastMsgTime: Math.max(0, ...messages.map((m) => m.MsgTimeStamp)),
  };
}

// ---------------------------------------------------------------------------------------------
// Host processes and logging
// ---------------------------------------------------------------------------------------------

/** A fake process table: `self` is this run; holders listed in `gone` are dead processes of this host. */
export class FakeHostProcesses implements HostProcesses {
  public readonly self: LeaseHolder;
  public readonly gone: LeaseHolder[] = [];

  public constructor(self: LeaseHolder = { host: 'test-host', pid: 4242, startedAt: 'boot-1:100' }) {
    this.self = self;
  }

  public isGone(holder: LeaseHolder): boolean {
    return this.gone.some(
      (g) => g.host === holder.host && g.pid === holder.pid && g.startedAt === holder.startedAt,
    );
  }
}

/** A logger that keeps every line, for asserting what was (or was not) logged. */
export class RecordingLogger implements Logger {
  public readonly lines: { level: 'debug' | 'info' | 'warn' | 'error'; message: string; fields?: unknown }[] =
    [];

  public debug(message: string, fields?: Record<string, unknown>): void {
    this.lines.push({ level: 'debug', message, fields });
  }
  public info(message: string, fields?: Record<string, unknown>): void {
    this.lines.push({ level: 'info', message, fields });
  }
  public warn(message: string, fields?: Record<string, unknown>): void {
    this.lines.push({ level: 'warn', message, fields });
  }
  public error(message: string, fields?: Record<string, unknown>): void {
    this.lines.push({ level: 'error', message, fields });
  }

  /** The messages logged at `level`. */
  public at(level: 'debug' | 'info' | 'warn' | 'error'): string[] {
    return this.lines.filter((l) => l.level === level).map((l) => l.message);
  }
}
