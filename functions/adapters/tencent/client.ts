/**
 * The Tencent Cloud Chat REST client: the only code in the project that speaks HTTP.
 *
 * Every call goes through {@link TencentClient.call}: a concurrency slot, a send slot from the API's
 * pacer (one per app and API, shared by every group in flight), one POST with its own timeout, envelope and schema checks, and on failure the
 * verdict of the retry policy (`functions/domain/retry-policy.ts`), which this class obeys.
 */
import { stringify as losslessStringify } from 'lossless-json';
import pLimit, { type LimitFunction } from 'p-limit';
import type { z } from 'zod';
import { DEFAULT_MAX_CONCURRENCY, DEFAULT_REQUEST_TIMEOUT_MS } from '../../config/schema.ts';
import {
  AbortedError,
  ConfigError,
  GiveUpError,
  TencentApiError,
  TransportError,
} from '../../domain/errors.ts';
import type { HistoryFileEntry } from '../../domain/history-file.ts';
import { parseLosslessJson } from '../../domain/json-guards.ts';
import type { ChatApi, Clock, Logger, Random, RoamApi } from '../../domain/ports.ts';
import { RateLimiter, type SendPermit } from '../../domain/rate-limiter.ts';
import { DEFAULT_RETRY_OPTIONS, decideRetry, type RetryOptions } from '../../domain/retry-policy.ts';
import { ServerClockEstimate } from '../../domain/server-clock.ts';
import {
  type CosSigRequest,
  type CosSigResult,
  type GroupInfo,
  type GroupListPage,
  type GroupMember,
  type GroupMemberPage,
  type GroupMemberPageRequest,
  type GroupMembersResult,
  type HistoryPage,
  type HistoryRequest,
  type JsonObject,
  type JsonValue,
  PROFILE_TAGS,
  type RawMessage,
  type RejectedItem,
  type RoamPage,
  type RoamRequest,
  TENCENT_APIS,
  type TencentApiKey,
  type TopicInfo,
  type UserProfile,
} from '../../domain/tencent-types.ts';
import { AnswerTooLargeError } from '../errors.ts';
import { redactSecrets } from '../logging/redact.ts';
import { ExchangeSignals } from './exchange-signal.ts';
import { HttpPoster, type PostAnswer } from './http-post.ts';
import { baseUrlFor, type EndpointChoice } from './regions.ts';
import type { UserSigProvider } from './user-sig.ts';
import {
  CosSigResponse,
  describeSchemaError,
  Envelope,
  GroupInfoResponse,
  GroupListResponse,
  HistoryResponse,
  RawMessageSchema,
  TopicResponse,
} from './wire.ts';
import { HistoryFilesResponse } from './wire-history-files.ts';
import { type MemberItemWire, MemberListResponse, PortraitResponse } from './wire-identities.ts';
import { RoamResponse, splitRoamItems } from './wire-roam.ts';

/** Documented per-app limits (docs/tencent-api.md, Rate limits), in calls per second. */
export const DOCUMENTED_RATE_LIMITS: Readonly<Record<TencentApiKey, number>> = {
  getAppidGroupList: 1,
  getGroupInfo: 200,
  groupMsgGetSimple: 200,
  getTopic: 200,
  // Undocumented; only called after a 403 on a media URL, so a modest pace is plenty.
  getCosSig: 50,
  portraitGet: 200,
  getGroupMemberInfo: 200,
  getSpecifiedGroupMemberInfo: 200,
  adminGetRoamMsg: 200,
  // "10次/秒" (docs/tencent-api.md, get_history).
  openMsgGetHistory: 10,
};

export interface TencentClientOptions extends EndpointChoice {
  sdkAppId: number;
  /** An App admin account (docs/tencent-api.md, Request format). */
  adminIdentifier: string;
  userSig: UserSigProvider;
  clock: Clock;
  random: Random;
  logger: Logger;
  /** Calls per second per API; defaults to the documented limits. */
  rateLimits?: Partial<Record<TencentApiKey, number>>;
  /** Requests in flight at once, across all APIs. Bounded separately from the rate. */
  maxConcurrency?: number;
  /** Per-request timeout; must exceed the server's own 3 s (docs/tencent-api.md, Request format). */
  requestTimeoutMs?: number;
  retry?: Partial<RetryOptions>;
}

/** Counters for the run report and the benchmark. */
export interface ClientStats {
  /** HTTP requests sent, per API (retries included). */
  requests: Record<TencentApiKey, number>;
  /** Retries after a transient failure. */
  retries: number;
  /** Frequency-limit answers (slow-downs). */
  throttles: number;
  /** UserSig regenerations after the server refused one. */
  signatureRenewals: number;
}

const ZERO_REQUESTS = (): Record<TencentApiKey, number> => ({
  getAppidGroupList: 0,
  getGroupInfo: 0,
  groupMsgGetSimple: 0,
  getTopic: 0,
  getCosSig: 0,
  portraitGet: 0,
  getGroupMemberInfo: 0,
  getSpecifiedGroupMemberInfo: 0,
  adminGetRoamMsg: 0,
  openMsgGetHistory: 0,
});

/** `get_group_info` takes at most 50 ids per call (docs/tencent-api.md, get_group_info). */
export const GROUP_INFO_BATCH = 50;
/**
 * `group_msg_get_simple` returns at most 20 messages per call (docs/tencent-api.md, group_msg_get_simple).
 */
export const MAX_PAGE_SIZE = 20;
/** `portrait_get` reads at most 100 accounts per call (docs/tencent-api.md, portrait_get). */
export const PROFILE_BATCH = 100;
/** `get_specified_group_member_info` takes at most 50 accounts per call (docs/tencent-api.md). */
export const MEMBER_BATCH = 50;
/** `get_group_member_info` page size the client allows (docs/tencent-api.md, get_group_member_info). */
export const MAX_MEMBER_PAGE = 100;
/** `admin_getroammsg` `MaxCnt`: no bound is documented; 100, the sample's (docs/tencent-api.md, admin_getroammsg). */
export const MAX_ROAM_COUNT = 100;
/** The member fields the archiver asks for. */
const MEMBER_FIELDS = ['Role', 'NameCard', 'JoinTime'];

export class TencentClient implements ChatApi, RoamApi {
  private readonly baseUrl: string;
  private readonly limiter: RateLimiter;
  private readonly slots: LimitFunction;
  private readonly retry: RetryOptions;
  private readonly timeoutMs: number;
  /** The server's clock, from the `Date` header of every answer. */
  private readonly serverClock = new ServerClockEstimate();
  private readonly http = new HttpPoster();
  /** Each exchange's signal: the caller's and its timeout, released when it settles. */
  private readonly exchanges = new ExchangeSignals();
  private readonly counters: ClientStats = {
    requests: ZERO_REQUESTS(),
    retries: 0,
    throttles: 0,
    signatureRenewals: 0,
  };

  public constructor(private readonly options: TencentClientOptions) {
    this.baseUrl = baseUrlFor(options);
    const rates = { ...DOCUMENTED_RATE_LIMITS, ...options.rateLimits };
    this.limiter = new RateLimiter(rates, options.clock);
    const concurrency = options.maxConcurrency ?? DEFAULT_MAX_CONCURRENCY;
    if (!Number.isInteger(concurrency) || concurrency < 1) {
      throw new ConfigError(`maxConcurrency must be a positive integer, got ${concurrency}`, {
        field: 'tencent.maxConcurrency',
      });
    }
    this.slots = pLimit(concurrency);
    this.retry = { ...DEFAULT_RETRY_OPTIONS, ...options.retry };
    // The config schema requires more than the server's own 3 s; tests use shorter ones.
    this.timeoutMs = options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
  }

  /** The server's current time (epoch ms), estimated from the `Date` headers of its answers. */
  public serverNowMs(): number {
    return this.serverClock.serverTime(this.options.clock.now());
  }

  /** Estimated `server - local` clock offset in ms; undefined before the first answer. */
  public serverOffsetMs(): number | undefined {
    return this.serverClock.offsetMs;
  }

  /** A snapshot of the counters. */
  public stats(): ClientStats {
    return structuredClone(this.counters);
  }

  public async *listGroups(
    options: { groupType?: string; pageSize?: number; signal?: AbortSignal } = {},
  ): AsyncIterable<GroupListPage> {
    let next = 0n;
    do {
      const body: JsonObject = { Limit: options.pageSize ?? 10_000, Next: next };
      if (options.groupType !== undefined) body.GroupType = options.groupType;
      const res = await this.call('getAppidGroupList', body, GroupListResponse, options.signal);
      next = res.Next;
      yield { groupIds: res.GroupIdList.map((g) => g.GroupId), totalCount: res.TotalCount, next };
    } while (next !== 0n);
  }

  public async getGroupInfo(groupIds: readonly string[], signal?: AbortSignal): Promise<GroupInfo[]> {
    if (groupIds.length === 0 || groupIds.length > GROUP_INFO_BATCH) {
      throw new RangeError(`getGroupInfo takes 1..${GROUP_INFO_BATCH} ids, got ${groupIds.length}`);
    }
    const res = await this.call(
      'getGroupInfo',
      {
        GroupIdList: [...groupIds],
        // Name and Owner_Account cost nothing extra: the identity capture records them (issue 24).
        ResponseFilter: {
          GroupBaseInfoFilter: ['Type', 'NextMsgSeq', 'LastMsgTime', 'Name', 'Owner_Account'],
        },
      },
      GroupInfoResponse,
      signal,
    );
    return res.GroupInfo.map((g): GroupInfo => {
      if (g.ErrorCode !== 0) {
        return { ok: false, groupId: g.GroupId, errorCode: g.ErrorCode, errorInfo: this.redact(g.ErrorInfo) };
      }
      return {
        ok: true,
        groupId: g.GroupId,
        type: g.Type ?? 'Unknown',
        nextMsgSeq: g.NextMsgSeq ?? 0,
        lastMsgTime: g.LastMsgTime ?? 0,
        name: g.Name,
        ownerAccount: g.Owner_Account,
      };
    });
  }

  /** Nickname and avatar of each distinct account, in request order; 100 accounts a call. */
  public async getProfiles(accounts: readonly string[], signal?: AbortSignal): Promise<UserProfile[]> {
    const batches = chunk([...new Set(accounts)], PROFILE_BATCH);
    const answers = await Promise.all(
      batches.map((batch) =>
        this.call(
          'portraitGet',
          { To_Account: batch, TagList: [PROFILE_TAGS.nick, PROFILE_TAGS.image] },
          PortraitResponse,
          signal,
        ),
      ),
    );
    const byAccount = new Map<string, UserProfile>();
    for (const item of answers.flatMap((a) => a.UserProfileItem)) {
      if (item.ResultCode !== 0) {
        byAccount.set(item.To_Account, {
          ok: false,
          account: item.To_Account,
          resultCode: item.ResultCode,
          resultInfo: this.redact(item.ResultInfo),
        });
        continue;
      }
      const tag = (name: string): string => {
        const value = item.ProfileItem.find((p) => p.Tag === name)?.Value;
        return typeof value === 'string' ? value : '';
      };
      byAccount.set(item.To_Account, {
        ok: true,
        account: item.To_Account,
        nick: tag(PROFILE_TAGS.nick),
        image: tag(PROFILE_TAGS.image),
      });
    }
    // An account the answer left out is unknown too: never a name the server did not serve.
    return batches
      .flat()
      .map(
        (account): UserProfile =>
          byAccount.get(account) ?? { ok: false, account, resultCode: -1, resultInfo: 'not in the answer' },
      );
  }

  /** Role and name card of the named accounts in `groupId`; 50 accounts a call. */
  public async getGroupMembers(
    groupId: string,
    accounts: readonly string[],
    signal?: AbortSignal,
  ): Promise<GroupMembersResult> {
    const batches = chunk([...new Set(accounts)], MEMBER_BATCH);
    const answers = await Promise.all(
      batches.map((batch) =>
        this.call(
          'getSpecifiedGroupMemberInfo',
          { GroupId: groupId, Member_List_Account: batch, MemberInfoFilter: MEMBER_FIELDS },
          MemberListResponse,
          signal,
        ),
      ),
    );
    const members = answers.flatMap((a) => a.MemberList.map(toMember));
    const listed = new Set(members.map((m) => m.account));
    return { groupId, members, missing: batches.flat().filter((a) => !listed.has(a)) };
  }

  /** One page of a group's members: `offset` paging, or the `next` cursor for Community groups. */
  public async getGroupMemberPage(
    request: GroupMemberPageRequest,
    signal?: AbortSignal,
  ): Promise<GroupMemberPage> {
    const { groupId, limit } = request;
    if (!Number.isInteger(limit) || limit < 1 || limit > MAX_MEMBER_PAGE) {
      throw new RangeError(`limit must be 1..${MAX_MEMBER_PAGE}, got ${limit}`);
    }
    const body: JsonObject = { GroupId: groupId, Limit: limit, MemberInfoFilter: MEMBER_FIELDS };
    if (request.next !== undefined) body.Next = request.next;
    else body.Offset = request.offset ?? 0;
    const res = await this.call('getGroupMemberInfo', body, MemberListResponse, signal);
    const members = res.MemberList.map(toMember);
    let following: GroupMemberPage['following'];
    if (request.next !== undefined || res.Next !== undefined) {
      following = res.Next ? { next: res.Next } : undefined;
    } else {
      const offset = (request.offset ?? 0) + members.length;
      // A full page continues unless MemberNum says it was the last one.
      const more = members.length === limit && (res.MemberNum === undefined || offset < res.MemberNum);
      following = more ? { offset } : undefined;
    }
    return { groupId, memberNum: res.MemberNum ?? members.length, members, following };
  }

  public async getHistory(request: HistoryRequest, signal?: AbortSignal): Promise<HistoryPage> {
    if (
      !Number.isInteger(request.reqMsgNumber) ||
      request.reqMsgNumber < 1 ||
      request.reqMsgNumber > MAX_PAGE_SIZE
    ) {
      throw new RangeError(`reqMsgNumber must be 1..${MAX_PAGE_SIZE}, got ${request.reqMsgNumber}`);
    }
    const body: JsonObject = { GroupId: request.groupId, ReqMsgNumber: request.reqMsgNumber };
    if (request.reqMsgSeq !== undefined) body.ReqMsgSeq = request.reqMsgSeq;
    if (request.withRecalledMsg) body.WithRecalledMsg = 1;
    if (request.topicId !== undefined) body.TopicId = request.topicId;
    const res = await this.call('groupMsgGetSimple', body, HistoryResponse, signal);
    const messages: RawMessage[] = [];
    const rejected: RejectedItem[] = [];
    for (const item of res.RspMsgList) {
      const checked = RawMessageSchema.safeParse(item);
      if (checked.success) {
        messages.push(item as RawMessage);
        continue;
      }
      // Kept verbatim (re-serialised losslessly: digits and key order as received) to be archived as a flagged row.
      const seq = (item as { MsgSeq?: unknown } | null)?.MsgSeq;
      rejected.push({
        text: losslessStringify(item as JsonValue) ?? 'null',
        reason: describeSchemaError(checked.error),
        msgSeq: typeof seq === 'number' && Number.isSafeInteger(seq) && seq > 0 ? seq : null,
      });
    }
    return {
      groupId: res.GroupId ?? request.groupId,
      isFinished: res.IsFinished,
      messages,
      ...(rejected.length > 0 ? { rejected } : {}),
    };
  }

  /** One page of a one-to-one conversation from one side (`admin_getroammsg`), paced like every call. */
  public async getRoamMessages(request: RoamRequest, signal?: AbortSignal): Promise<RoamPage> {
    const { maxCnt, minTime, maxTime, lastMsgKey } = request;
    if (!Number.isInteger(maxCnt) || maxCnt < 1 || maxCnt > MAX_ROAM_COUNT)
      throw new RangeError(`maxCnt must be 1..${MAX_ROAM_COUNT}, got ${maxCnt}`);
    if (!Number.isSafeInteger(minTime) || !Number.isSafeInteger(maxTime) || minTime < 0 || minTime > maxTime)
      throw new RangeError(`the window must be 0 <= minTime <= maxTime, got ${minTime}..${maxTime}`);
    const body: JsonObject = {
      Operator_Account: request.operatorAccount,
      Peer_Account: request.peerAccount,
      MaxCnt: maxCnt,
      MinTime: minTime,
      MaxTime: maxTime,
    };
    if (lastMsgKey !== undefined) body.LastMsgKey = lastMsgKey;
    const res = await this.call('adminGetRoamMsg', body, RoamResponse, signal);
    const { messages, rejected } = splitRoamItems(res.MsgList);
    return {
      complete: res.Complete === 1,
      lastMsgTime: res.LastMsgTime,
      lastMsgKey: res.LastMsgKey,
      messages,
      ...(rejected.length > 0 ? { rejected } : {}),
    };
  }

  /**
   * The files of one Beijing hour (`get_history`; docs/tencent-api.md, get_history), or null when
   * there is none (1004: not made yet or no message; 1005: expired). The URLs are returned, never logged.
   */
  public async getHistoryFiles(
    chatType: 'C2C' | 'Group',
    hour: string,
    signal?: AbortSignal,
  ): Promise<HistoryFileEntry[] | null> {
    try {
      const res = await this.call(
        'openMsgGetHistory',
        { ChatType: chatType, MsgTime: hour },
        HistoryFilesResponse,
        signal,
      );
      return res.File.map((f) => ({
        url: f.URL,
        gzipSize: f.GzipSize,
        gzipMd5: f.GzipMD5,
        fileSize: f.FileSize,
        fileMd5: f.FileMD5,
      }));
    } catch (error) {
      const code =
        error instanceof GiveUpError && error.cause instanceof TencentApiError ? error.cause.code : 0;
      if (code === 1004 || code === 1005) return null;
      throw error;
    }
  }

  public async getTopics(groupId: string, signal?: AbortSignal): Promise<TopicInfo[]> {
    const res = await this.call(
      'getTopic',
      { GroupId: groupId, From_Account: this.options.adminIdentifier },
      TopicResponse,
      signal,
    );
    return res.TopicAndSelfInfo.map((t): TopicInfo => {
      if (t.ErrorCode !== 0 || t.TopicInfo === undefined) {
        return {
          ok: false,
          topicId: t.TopicInfo?.TopicId,
          errorCode: t.ErrorCode,
          errorInfo: this.redact(t.ErrorInfo),
        };
      }
      return {
        ok: true,
        topicId: t.TopicInfo.TopicId,
        topicName: t.TopicInfo.TopicName,
        nextMsgSeq: t.TopicInfo.NextMsgSeq ?? 0,
        lastMsgTime: t.TopicInfo.LastMsgTime ?? 0,
      };
    });
  }

  /**
   * Pre-signed URLs for media files (`get_cos_sig`). The answers' `PreSigURL`s are credentials: they
   * are returned to the caller and never logged.
   */
  public async getCosSig(urls: readonly CosSigRequest[], signal?: AbortSignal): Promise<CosSigResult[]> {
    if (urls.length === 0) return [];
    const res = await this.call(
      'getCosSig',
      { RawURLs: urls.map((u) => ({ ResourceID: u.resourceId, RawURL: u.rawUrl })) },
      CosSigResponse,
      signal,
    );
    return res.PreSigURLs.map((item) => ({
      resourceId: item.ResourceID,
      code: item.Code,
      desc: this.redact(item.Desc),
      status: item.Status,
      preSigUrl: item.PreSigURL,
    }));
  }

  /**
   * One API call with rate limiting, bounded concurrency and the retry policy's decisions.
   * Resolves with the response body (envelope fields included) once `ErrorCode` is 0.
   * @throws GiveUpError when the policy gives up; AbortedError when `signal` fires.
   */
  public async call<S extends z.ZodType>(
    api: TencentApiKey,
    body: JsonObject,
    schema: S,
    signal?: AbortSignal,
  ): Promise<z.output<S>> {
    let regenerated = false;
    for (let attempt = 1; ; attempt++) {
      throwIfAborted(signal);
      let permit: SendPermit | undefined;
      let timing: { rttMs?: number; lateMs?: number } = {};
      try {
        return await this.slots(async () => {
          permit = await this.limiter.acquire(api, signal);
          const raw = await this.send(api, body, signal, (t) => {
            timing = t;
          });
          this.limiter.answered(api, permit, 'accepted', timing);
          return this.check(api, schema, raw);
        });
      } catch (error) {
        if (error instanceof AbortedError) throw error;
        if (signal?.aborted) throw new AbortedError(`${api} aborted`, { cause: error });
        const decision = decideRetry({
          error,
          attempt,
          signatureRegenerated: regenerated,
          options: this.retry,
          random: this.options.random,
        });
        const slowDown = decision.kind === 'retry' && decision.slowDown;
        // Only answers from the API feed the pacer (a timeout is not jitter); an accepted answer
        // whose body failed the schema was counted above already.
        if (permit !== undefined && error instanceof TencentApiError) {
          this.limiter.answered(api, permit, slowDown ? 'throttled' : 'other', timing);
        }
        if (decision.kind === 'give-up') {
          throw new GiveUpError(decision.action, `Tencent API ${TENCENT_APIS[api]}: ${decision.message}`, {
            cause: error,
            attempts: attempt,
          });
        }
        if (decision.kind === 'regenerate-signature') {
          regenerated = true;
          this.counters.signatureRenewals++;
          this.options.logger.warn('UserSig refused; regenerating it once', {
            api: TENCENT_APIS[api],
            reason: decision.verdict.reason,
          });
          this.options.userSig.regenerate();
          continue;
        }
        this.counters.retries++;
        if (slowDown) this.counters.throttles++;
        // A frequency-limit answer: this call alone waits until a window after its rejected send,
        // then queues for the pacer's next slot; the other calls go on meanwhile.
        const delayMs =
          slowDown && permit !== undefined
            ? Math.max(0, this.limiter.retryNotBeforeMs(api, permit) - this.options.clock.now())
            : decision.delayMs;
        this.options.logger.debug('retrying Tencent call', {
          api: TENCENT_APIS[api],
          attempt,
          delayMs,
          reason: decision.verdict.reason,
        });
        if (delayMs > 0) {
          await this.options.clock.sleep(delayMs, signal).catch((cause: unknown) => {
            throw new AbortedError(`${api} aborted while backing off`, { cause });
          });
        }
      }
    }
  }

  /** One HTTP exchange. Throws TransportError or TencentApiError; never includes the URL in a message. */
  private async send(
    api: TencentApiKey,
    body: JsonObject,
    signal: AbortSignal | undefined,
    onTiming: (timing: { rttMs: number; lateMs: number }) => void,
  ): Promise<JsonObject> {
    // Read right after the permit: how long until the transport thread really sent it goes back
    // to the pacer, which paces on real send times. (Both ends on the process's high-resolution
    // epoch, which every thread shares; the injected clock is the pacer's, not a timer.)
    const permittedAtMs = performance.timeOrigin + performance.now();
    const path = TENCENT_APIS[api];
    this.counters.requests[api]++;
    const url = this.buildUrl(path);
    const exchange = this.exchanges.open(signal, this.timeoutMs);
    let response: PostAnswer;
    try {
      const sentMs = this.options.clock.now();
      response = await this.http.post(url, losslessStringify(body) ?? '{}', exchange.signal);
      onTiming({ rttMs: response.rttMs, lateMs: Math.max(0, response.startedAtMs - permittedAtMs) });
      if (response.date !== null) {
        this.serverClock.observe(Date.parse(response.date), sentMs, this.options.clock.now());
      }
    } catch (error) {
      if (signal?.aborted) throw new AbortedError(`${path} aborted`, { cause: signal.reason });
      if (error instanceof AnswerTooLargeError) {
        throw new TransportError(path, 'too-large', error.message, { cause: error });
      }
      if (exchange.timedOut()) {
        throw new TransportError(path, 'timeout', `no answer within ${this.timeoutMs} ms`, { cause: error });
      }
      throw new TransportError(path, 'network', `network error: ${this.describeCause(error)}`, {
        cause: error,
      });
    } finally {
      exchange.release();
    }
    if (response.status !== 200) {
      throw new TransportError(path, 'http-status', `HTTP ${response.status} ${response.statusText}`.trim(), {
        status: response.status,
      });
    }
    const parsed = this.parseJson(path, response.text);
    const envelope = Envelope.safeParse(parsed);
    if (!envelope.success) {
      throw new TransportError(
        path,
        'malformed-body',
        `response is not an API envelope (${describeSchemaError(envelope.error)})`,
      );
    }
    const code = envelope.data.ErrorCode ?? 0;
    // get_topic's top-level code "has no meaning; check each topic's ErrorCode" (docs/tencent-api.md,
    // get_topic).
    const perItemErrors = api === 'getTopic' && Array.isArray((parsed as JsonObject).TopicAndSelfInfo);
    if ((code !== 0 || envelope.data.ActionStatus !== 'OK') && !perItemErrors) {
      throw new TencentApiError(path, code === 0 ? -1 : code, this.redact(envelope.data.ErrorInfo ?? ''));
    }
    return parsed as JsonObject;
  }

  private parseJson(path: string, text: string): JsonValue {
    try {
      return parseLosslessJson(text);
    } catch (error) {
      throw new TransportError(
        path,
        'malformed-body',
        `response body is not valid JSON (${text.length} bytes)`,
        {
          cause: error,
        },
      );
    }
  }

  /** A body that is valid JSON but not the documented shape counts as malformed (retried, bounded). */
  private check<S extends z.ZodType>(api: TencentApiKey, schema: S, raw: JsonObject): z.output<S> {
    const result = schema.safeParse(raw);
    if (!result.success) {
      throw new TransportError(
        TENCENT_APIS[api],
        'malformed-body',
        `unexpected response shape (${describeSchemaError(result.error)})`,
        { cause: result.error },
      );
    }
    return result.data;
  }

  private buildUrl(path: string): string {
    const query = new URLSearchParams({
      sdkappid: String(this.options.sdkAppId),
      identifier: this.options.adminIdentifier,
      usersig: this.options.userSig.current(),
      random: String(Math.floor(this.options.random() * 0x1_0000_0000)),
      contenttype: 'json',
    });
    return `${this.baseUrl}/v4/${path}?${query.toString()}`;
  }

  private describeCause(error: unknown): string {
    const cause = error instanceof Error && error.cause instanceof Error ? error.cause : error;
    const code = (cause as { code?: unknown } | undefined)?.code;
    const message = cause instanceof Error ? cause.message : String(cause);
    return this.redact(typeof code === 'string' ? `${code} ${message}` : message);
  }

  private redact(text: string): string {
    return redactSecrets(text, this.options.userSig.secrets());
  }
}

function toMember(item: MemberItemWire): GroupMember {
  return {
    account: item.Member_Account,
    role: item.Role ?? 'Member',
    nameCard: item.NameCard ?? '',
    joinTime: item.JoinTime,
  };
}

/** `items` in runs of at most `size`. */
function chunk<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new AbortedError('aborted', { cause: signal.reason });
}
