/**
 * The simulator's HTTP server (node:http on 127.0.0.1): wires gateway checks, rate limiting,
 * faults, latency and the API handlers together, and exposes the control surface used by tests,
 * the benchmark and the demo.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ConfigError } from '../domain/errors.ts';
import type { JsonObject, JsonValue, RawMessage, RoamMessage } from '../domain/tencent-types.ts';
import { getAppidGroupList, getGroupInfo } from './api-groups.ts';
import { groupMsgGetSimple, sequentialPulls } from './api-history.ts';
import { SimHistoryFiles } from './api-history-files.ts';
import { getGroupMemberInfo, getSpecifiedGroupMemberInfo, portraitGet } from './api-identities.ts';
import { adminGetRoamMsg, sequentialRoamPulls } from './api-roam.ts';
import { getTopic } from './api-topic.ts';
import { type C2cDatasetSpec, C2cWorld } from './c2c-world.ts';
import {
  CallbackSender,
  type SimCallbackControl,
  type SimCallbacksOptions,
  withCallbacks,
} from './callbacks.ts';
import { buildDataset, type DatasetSpec, DEMO_DATASET } from './dataset.ts';
import { type ApiAnswer, ApiFailure, type BodyObject, failure, parseBody } from './envelope.ts';
import { DEFAULT_HTTP_FAULT_BODY, FaultQueue, type FaultSpec, MALFORMED_JSON_BODY } from './faults.ts';
import { type ApiName, checkQuery, type Route, route, type SimulatorApp } from './gateway.ts';
import { createPrng, mix } from './hash.ts';
import { SimIdentities, type SimMember } from './identities.ts';
import { IdentitySchedule, type ScheduledIdentityChange } from './identity-schedule.ts';
import { type ChosenMediaFile, chosenMediaElement, type SimMediaSpec } from './media-files.ts';
import { type MediaStats, type MediaTruth, SimMedia } from './media-server.ts';
import { QuirkState, type SimulatorQuirks } from './quirks.ts';
import { RATE_LIMIT_MODES, RateLimiter, type RateLimitMode } from './rate-limit.ts';
import { parseRequest } from './request-schemas.ts';
import { type SimulatorStats, StatsRecorder } from './stats.ts';
import { PLACEHOLDER_READINGS, type PlaceholderReading, type SimGroupSummary, SimWorld } from './world.ts';

/** The default application. The key is made up (64 hex characters, like a console key). */
export const DEMO_APP: SimulatorApp = Object.freeze({
  sdkAppId: 1400000000,
  secretKey: '5ea1d3c0ffee0b57ac1e5eed5ca1ab1e0ddba11deadbeefcafef00d5eedf00d5',
  adminIdentifier: 'administrator',
});

export interface SimulatorOptions {
  /** Accepted apps; all of them see the same dataset. Default: [DEMO_APP]. */
  apps?: SimulatorApp[];
  /** Default: DEMO_DATASET. */
  dataset?: DatasetSpec;
  /**
   * Messages that carry exactly these files (e.g. one 100 MB file for the memory benchmark): the
   * first messages of the stream (seq 1, 2, …) get one file each as their body, fate `normal`,
   * served streamed like every file. The stream needs that many messages (`extraGroups`).
   */
  mediaMessages?: { groupId: string; topicId?: string; files: ChosenMediaFile[] }[];
  /** One-to-one conversations served by `admin_getroammsg` (c2c-world.ts); a few generated ones by default. */
  c2c?: C2cDatasetSpec;
  /** Default 1. */
  seed?: number;
  /** Epoch ms; default Date.now. Drives sig expiry, retention, append timestamps and the dataset anchor. */
  now?: () => number;
  /** Calls per second per app per API. Defaults: get_appid_group_list 1, the others 200. */
  rateLimits?: Partial<Record<ApiName, number>>;
  /**
   * How "N calls per second" is counted (undocumented: docs/tencent-api.md, Rate limits). Default `sliding`,
   * the strictest reading: at most N requests arriving in any 1000 ms window. `token-bucket` is the lenient
   * reading (a bucket of N tokens refilled at N/s).
   */
  rateLimitMode?: RateLimitMode;
  /**
   * Whether a rejected request still counts against the sliding window (it did arrive). Default
   * true, the strictest reading: a client that keeps sending over the limit stays over it.
   * Ignored by `token-bucket`.
   */
  rateLimitCountsRejected?: boolean;
  /**
   * Code answered when over the limit; default 10006 (the real one is undocumented: docs/tencent-api.md, Rate
   * limits).
   */
  rateLimitErrorCode?: number;
  /** Messages older than this read as IsPlaceMsg 1; default 30. */
  retentionDays?: number;
  /**
   * Mean round-trip latency added to every exchange, split in two legs: the request reaches the
   * server (and is counted against the rate limit) after `latencyMs / 2 ± jitterMs`, the answer
   * leaves `latencyMs / 2` later. The jitter is uniform in [-jitterMs, +jitterMs] and seeded, and
   * it is all on the way in, so requests arrive in a different order than they were sent. Both
   * default to 0.
   */
  latencyMs?: number;
  jitterMs?: number;
  /** Odd answers of the API to test the archiver against (see quirks.ts); none by default. */
  quirks?: SimulatorQuirks;
  /**
   * What deleted and expired `IsPlaceMsg` 1 placeholders keep (world.ts): `zeroed` (default, the
   * strictest reading: `MsgTimeStamp` 0, `From_Account` "", `MsgRandom` 0, empty `MsgBody`) or
   * `kept` (the same, but `MsgTimeStamp` keeps the message's time).
   */
  placeholders?: PlaceholderReading;
  /** JSON size budget of one group_msg_get_simple answer; longer pages are cut short (IsFinished 0). */
  maxPageBytes?: number;
  /**
   * Identity changes made at set times of the simulator's clock (identity-schedule.ts): renames,
   * name cards, roles, deleted accounts, dissolved groups, between runs or mid-run. Default none.
   */
  identitySchedule?: readonly ScheduledIdentityChange[];
  /** TCP port on 127.0.0.1; default 0 (any free port). */
  port?: number;
  /**
   * Media files: served on their own listener, which message URLs point at, with switches for
   * expired, banned, flaky, HTML, wrong-size, redirected and disallowed-host files (see
   * media-files.ts; defaults are small shares of each). `false`: no listener, made-up COS URLs.
   */
  media?: SimMediaSpec | false;
  /**
   * Third-party callbacks (callbacks.ts, docs/callbacks.md): every append, recall, edit and
   * dissolution is POSTed, signed with `token`, to `url`. None by default.
   */
  callbacks?: SimCallbacksOptions;
}

export interface Simulator {
  /** `http://127.0.0.1:PORT`; clients append `/v4/<service>/<command>?...`. */
  readonly url: string;
  /** The media listener (`http://127.0.0.1:PORT`), or undefined with `media: false`. */
  readonly mediaUrl: string | undefined;
  /** A listener no archiver may reach; `disallowed-host` files and redirects point here. */
  readonly disallowedMediaUrl: string | undefined;
  /** What the media listeners saw. */
  mediaStats(): MediaStats;
  /** Ground truth of a media URL from a message (undefined for URLs that are not the simulator's). */
  mediaTruth(url: string): MediaTruth | undefined;
  /**
   * An element referring to a file of an exact size on the media listener (an edit that adds an
   * image, a message holding a 100 MB file), always of fate `normal`; use it in `modifyMessage`
   * bodies or `extraGroups[].files`. Streamed like every file.
   * @throws ConfigError when the simulator serves no media (`media: false`)
   */
  mediaElement(file: ChosenMediaFile): { MsgType: string; MsgContent: JsonObject };
  readonly apps: readonly SimulatorApp[];
  /** Closes the server, dropping open connections and answers still waiting on latency. */
  stop(): Promise<void>;
  stats(): SimulatorStats;
  resetStats(): void;
  /** Queues faults; matching requests consume them in order. */
  injectFaults(...faults: FaultSpec[]): void;
  /** Drops every queued fault. */
  clearFaults(): void;
  /** Appends `count` messages stamped `now()` (to a topic for topic communities). */
  appendMessages(groupId: string, count: number, options?: { topicId?: string }): void;
  /** Dissolves a group: unlisted, and 10010 afterwards. */
  deleteGroup(groupId: string): void;
  /** Dissolves and re-creates a group under the same id: seqs start over with `count` new messages. */
  recreateGroup(groupId: string, count: number): void;
  /**
   * Edits a stored message in place (like `modify_group_msg`: same seq, no version field); only
   * the fields given change (default: a new text body). Throws for a recalled, deleted or expired one.
   */
  modifyMessage(
    groupId: string,
    seq: number,
    change?: { topicId?: string; body?: JsonValue[]; cloudCustomData?: string },
  ): void;
  /** Recalls a stored message: it then reads as `IsPlaceMsg` 2, sender and time kept. */
  recallMessage(groupId: string, seq: number, options?: { topicId?: string; operator?: string }): void;
  /** Deletes a stored message: it then reads as an `IsPlaceMsg` 1 placeholder. */
  deleteMessage(groupId: string, seq: number, options?: { topicId?: string }): void;
  /** Every message the API would return right now, newest first (lazy). */
  groundTruth(
    groupId: string,
    options?: { topicId?: string; withRecalledMsg?: boolean },
  ): Iterable<RawMessage>;
  /** Every group's summary, in catalogue order (a big world is generated for it: prefer {@link eachGroup}). */
  groups(): readonly SimGroupSummary[];
  /** The same summaries one by one, nothing kept (a million-group world). */
  eachGroup(): Iterable<SimGroupSummary>;
  /**
   * The calls a sequential page-follower needs for a stream's retained history (the minimum the
   * benchmark compares pull calls with); computed in process, no HTTP.
   */
  sequentialPulls(groupId: string, options?: { topicId?: string; withRecalledMsg?: boolean }): number;
  /** Identities (identities.ts): what the profile and member APIs serve, and the changes tests make. */
  readonly identities: SimIdentityControl;
  /** One-to-one conversations (c2c-world.ts). */
  readonly c2c: SimC2cControl;
  /** The hourly `get_history` files (api-history-files.ts). */
  readonly historyFiles: SimHistoryFilesControl;
  /** The callbacks sent (faults, flush, counts), with `callbacks` in the options. */
  readonly callbacks?: SimCallbackControl;
}

/** Reads and changes the simulated one-to-one conversations. */
export interface SimC2cControl {
  /** Every conversation's two accounts. */
  pairs(): [string, string][];
  /** What `operator` sees of the conversation with `peer` right now, oldest first (recalls flagged). */
  visible(operator: string, peer: string): RoamMessage[];
  /** Appends `count` messages stamped `now()`, alternating senders. */
  append(a: string, b: string, count: number): void;
  /** Recalls a message by its `MsgKey`: it then reads with `MsgFlagBits` 8. */
  recall(a: string, b: string, msgKey: string): void;
  /** Deletes messages (all when no keys are given) from `side`'s view only; `peer` still sees them. */
  deleteFor(side: string, peer: string, msgKeys?: readonly string[]): void;
  /**
   * The calls a sequential pager needs for `operator`'s whole view of the conversation with `peer`
   * (`sequentialRoamPulls` in api-roam.ts; the minimum the benchmark compares with); no HTTP.
   */
  sequentialPulls(operator: string, peer: string): number;
}

/** The hourly files' test hooks (api-history-files.ts). */
export interface SimHistoryFilesControl {
  /** Makes an hour's files now (as Tencent does after the hour): later changes do not alter them. */
  make(chatType: 'C2C' | 'Group', hour: string): number;
  /** Leaves a message out of the files made from now on (a gap in Tencent's witness). */
  leaveOut(message: { groupId: string; seq: number } | { msgKey: string }): void;
}

/** Reads and changes the simulated nicknames, group names, roles and name cards. */
export interface SimIdentityControl {
  /** The account's current nickname; undefined when `portrait_get` does not know it. */
  nick(account: string): string | undefined;
  /** Sets a nickname (an account never seen is imported). */
  renameUser(account: string, nick: string): void;
  /** Deletes an account: `portrait_get` answers it unknown, and it leaves every group. */
  deleteAccount(account: string): void;
  /** The group's current `Name`. */
  groupName(groupId: string): string;
  renameGroup(groupId: string, name: string): void;
  /** The group's members now, owner first (a dissolved group keeps its list here). */
  members(groupId: string): SimMember[];
  setNameCard(groupId: string, account: string, nameCard: string): void;
  /** Promotes a member to Admin or demotes one to Member. */
  setRole(groupId: string, account: string, role: 'Admin' | 'Member'): void;
}

const DEFAULT_RATES: Record<ApiName, number> = {
  get_appid_group_list: 1,
  get_group_info: 200,
  group_msg_get_simple: 200,
  get_topic: 200,
  get_cos_sig: 100,
  // 200/s documented for each (docs/tencent-api.md, Rate limits).
  portrait_get: 200,
  get_group_member_info: 200,
  get_specified_group_member_info: 200,
  admin_getroammsg: 200,
  // "10次/秒" (docs/tencent-api.md, get_history).
  get_history: 10,
};
/** Bodies above this are not JSON we would accept anyway; stop buffering them. */
const MAX_BODY_BYTES = 1 << 20;
/** Idle keep-alive sockets are closed after this long (Node's 5 s default races pooled clients). */
const KEEP_ALIVE_MS = 30_000;

interface Config {
  apps: ReadonlyMap<number, SimulatorApp>;
  now: () => number;
  rateLimitErrorCode: number;
  rateLimitMode: RateLimitMode;
  latencyMs: number;
  jitterMs: number;
  maxPageBytes: number | undefined;
}

function validateOptions(options: SimulatorOptions): void {
  const nonNegative = (value: number | undefined, field: string): void => {
    if (value !== undefined && !(value >= 0 && Number.isFinite(value))) {
      throw new ConfigError(`${field} must be a non-negative number`, { field });
    }
  };
  nonNegative(options.latencyMs, 'latencyMs');
  nonNegative(options.jitterMs, 'jitterMs');
  nonNegative(options.retentionDays, 'retentionDays');
  if (options.placeholders !== undefined && !PLACEHOLDER_READINGS.includes(options.placeholders)) {
    throw new ConfigError(`placeholders must be one of ${PLACEHOLDER_READINGS.join(', ')}`, {
      field: 'placeholders',
    });
  }
  if (options.maxPageBytes !== undefined && !(options.maxPageBytes > 0)) {
    throw new ConfigError('maxPageBytes must be positive', { field: 'maxPageBytes' });
  }
  for (const [api, rate] of Object.entries(options.rateLimits ?? {})) {
    if (!(rate > 0))
      throw new ConfigError(`rateLimits.${api} must be positive`, { field: `rateLimits.${api}` });
  }
  if (options.apps?.length === 0) throw new ConfigError('apps must not be empty', { field: 'apps' });
  if (options.rateLimitMode !== undefined && !RATE_LIMIT_MODES.includes(options.rateLimitMode)) {
    throw new ConfigError(`rateLimitMode must be one of ${RATE_LIMIT_MODES.join(', ')}`, {
      field: 'rateLimitMode',
    });
  }
}

/** Reads the whole body (keeping at most MAX_BODY_BYTES). */
function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= MAX_BODY_BYTES) chunks.push(chunk);
    });
    req.on('end', () => resolve(size > MAX_BODY_BYTES ? '' : Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

/** Answers a request whose body passed `api`'s schema (request-schemas.ts); 10004 otherwise. */
function dispatch(
  api: ApiName,
  body: BodyObject,
  context: {
    world: SimWorld;
    c2c: C2cWorld;
    media: SimMedia | undefined;
    maxPageBytes: number | undefined;
    historyFiles: SimHistoryFiles;
    nowSec: number;
    baseUrl: string;
  },
): ApiAnswer {
  switch (api) {
    case 'get_appid_group_list':
      return getAppidGroupList(context.world, parseRequest(api, body));
    case 'get_group_info':
      return getGroupInfo(context.world, parseRequest(api, body));
    case 'group_msg_get_simple':
      return groupMsgGetSimple(context.world, parseRequest(api, body), context.maxPageBytes);
    case 'get_topic':
      return getTopic(context.world, parseRequest(api, body));
    case 'get_cos_sig':
      // Without the media listener the command does not exist here.
      return context.media?.getCosSig(parseRequest(api, body)) ?? failure(10003);
    case 'portrait_get':
      return portraitGet(context.world, parseRequest(api, body));
    case 'get_group_member_info':
      return getGroupMemberInfo(context.world, parseRequest(api, body));
    case 'get_specified_group_member_info':
      return getSpecifiedGroupMemberInfo(context.world, parseRequest(api, body));
    case 'admin_getroammsg':
      return adminGetRoamMsg(context.c2c, context.world.identities, body);
    case 'get_history':
      return context.historyFiles.answer(body, context.nowSec, context.baseUrl);
  }
}

/** A request as read off the wire. */
interface Incoming {
  method: string | undefined;
  target: Route;
  api: ApiName | undefined;
  query: URLSearchParams;
  text: string;
  /** Monotonic ms at which the request reaches the server (after the inbound latency). */
  arrivalMs: number;
}

/** A finished decision about a request, to be sent after the latency delay. */
type Outcome = { kind: 'answer'; status: number; body: string; contentType: string } | { kind: 'reset' };

function jsonOutcome(answer: ApiAnswer): Outcome {
  return { kind: 'answer', status: 200, body: answer.body, contentType: 'application/json; charset=utf-8' };
}

/** The simulator; one instance per started server. */
class SimulatorServer {
  readonly #config: Config;
  readonly #world: SimWorld;
  readonly #c2c: C2cWorld;
  readonly #historyFiles: SimHistoryFiles;
  readonly #limiter: RateLimiter<ApiName>;
  readonly #faults = new FaultQueue();
  readonly #stats = new StatsRecorder();
  readonly #jitter: () => number;
  readonly #timers = new Set<NodeJS.Timeout>();
  readonly #media: SimMedia | undefined;
  /** Set by startSimulator once the controls exist; applied at each request's arrival. */
  identitySchedule: IdentitySchedule | undefined;
  readonly server: Server;

  public constructor(
    options: SimulatorOptions,
    media?: { sim: SimMedia; baseUrl: string; disallowedBaseUrl: string },
  ) {
    validateOptions(options);
    const now = options.now ?? Date.now;
    const apps = options.apps ?? [DEMO_APP];
    const seed = options.seed ?? 1;
    this.#config = {
      apps: new Map(apps.map((app) => [app.sdkAppId, app])),
      now,
      rateLimitErrorCode: options.rateLimitErrorCode ?? 10006,
      rateLimitMode: options.rateLimitMode ?? 'sliding',
      latencyMs: options.latencyMs ?? 0,
      jitterMs: options.jitterMs ?? 0,
      maxPageBytes: options.maxPageBytes,
    };
    this.#media = media?.sim;
    const spec = options.dataset ?? DEMO_DATASET;
    const dataset = media
      ? buildDataset(
          { ...spec, mediaBaseUrl: spec.mediaBaseUrl ?? media.baseUrl },
          seed,
          Math.floor(now() / 1000),
          {
            disallowedBaseUrl: media.disallowedBaseUrl,
            disallowedHostFraction: media.sim.spec.disallowedHostFraction,
          },
        )
      : buildDataset(spec, seed, Math.floor(now() / 1000));
    this.#world = new SimWorld(dataset, now, options.retentionDays ?? 30);
    this.#world.quirks = new QuirkState(options.quirks);
    this.#world.placeholders = options.placeholders ?? 'zeroed';
    this.#world.identities = new SimIdentities(
      seed,
      apps.map((app) => app.adminIdentifier),
    );
    this.#c2c = new C2cWorld(options.c2c ?? {}, {
      seed,
      now,
      retentionDays: options.retentionDays ?? 30,
      identities: this.#world.identities,
      // With a media listener, one-to-one media are served like the groups' (docs/one-to-one.md).
      ...(media ? { media: dataset.media } : {}),
    });
    this.#historyFiles = new SimHistoryFiles(this.#c2c, this.#world);
    this.#limiter = new RateLimiter({ ...DEFAULT_RATES, ...options.rateLimits }, this.#config.rateLimitMode, {
      countRejected: options.rateLimitCountsRejected ?? true,
    });
    this.#jitter = createPrng(mix(seed, 0x717e));
    this.server = createServer((req, res) => {
      this.#onRequest(req, res).catch(() => res.destroy());
    });
    this.server.keepAliveTimeout = KEEP_ALIVE_MS;
  }

  get world(): SimWorld {
    return this.#world;
  }

  get c2c(): C2cWorld {
    return this.#c2c;
  }

  /** The hourly `get_history` files (api-history-files.ts): make an hour's now, or leave a message out. */
  get historyFiles(): SimHistoryFiles {
    return this.#historyFiles;
  }

  get faults(): FaultQueue {
    return this.#faults;
  }

  get stats(): StatsRecorder {
    return this.#stats;
  }

  async #onRequest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const receivedMs = performance.now();
    this.#stats.requestStarted();
    let ended = false;
    res.on('close', () => {
      if (!ended) this.#stats.requestEnded();
      ended = true;
    });
    const text = await readBody(req);
    const url = new URL(req.url ?? '/', 'http://simulator');
    if (req.method === 'GET' && url.pathname.startsWith('/history-files/')) {
      this.#sendHistoryFile(res, url.pathname);
      return;
    }
    const target = route(url.pathname);
    const api = target.kind === 'api' ? target.api : undefined;
    this.#stats.call(api);
    // Faults act before the gateway (like a failing proxy or network) and consume no rate budget.
    const fault = api === undefined ? undefined : this.#faults.take(api);
    if (api !== undefined && fault !== undefined) this.#stats.fault(api);
    const extraDelay = fault?.kind === 'slow' ? fault.delayMs : 0;
    const outcome = fault !== undefined && fault.kind !== 'slow' ? this.#faultOutcome(api, fault) : undefined;
    const { latencyMs, jitterMs } = this.#config;
    const jitter = jitterMs > 0 ? (this.#jitter() * 2 - 1) * jitterMs : 0;
    const inboundMs = Math.max(0, latencyMs / 2 + jitter) + extraDelay;
    // Counted at the time it reaches the server, computed rather than read when the timer fires,
    // so a stall of the simulator's own event loop does not bunch arrivals together.
    const arrivalMs = receivedMs + inboundMs;
    const request: Incoming = { method: req.method, target, api, query: url.searchParams, text, arrivalMs };
    this.#later(inboundMs, () => {
      // Handled on arrival, so a slow answer reflects the state at the time it is sent.
      const decided = outcome ?? jsonOutcome(this.#answer(request));
      // The answer leaves half the latency after the arrival, not after this (possibly late) timer:
      // a busy simulator must not look to the client like network jitter it does not have.
      this.#later(arrivalMs + latencyMs / 2 - performance.now(), () => this.#send(res, decided));
    });
  }

  #faultOutcome(api: ApiName | undefined, fault: Exclude<FaultSpec, { kind: 'slow' }>): Outcome {
    switch (fault.kind) {
      case 'error-code': {
        const answer = failure(fault.code, fault.info);
        this.#stats.envelope(api, answer.code, 0);
        return jsonOutcome(answer);
      }
      case 'http-status':
        return {
          kind: 'answer',
          status: fault.status,
          body: fault.body ?? DEFAULT_HTTP_FAULT_BODY,
          contentType: 'text/html',
        };
      case 'malformed-json':
        return {
          kind: 'answer',
          status: 200,
          body: MALFORMED_JSON_BODY,
          contentType: 'application/json; charset=utf-8',
        };
      case 'reset':
        return { kind: 'reset' };
    }
  }

  /** Gateway checks, rate limit, body parse, then the API itself; records the outcome. */
  #answer(request: Incoming): ApiAnswer {
    this.identitySchedule?.applyDue(this.#config.now());
    const answer = this.#decide(request);
    this.#stats.envelope(request.api, answer.code, answer.messages);
    return answer;
  }

  #decide({ method, target, api, query, text, arrivalMs }: Incoming): ApiAnswer {
    // "REST API 仅支持 POST 方法": another method is an HTTP format error (60002).
    if (method !== 'POST') return failure(60002, 'HTTP parse error: only POST is supported');
    if (target.kind === 'unknown-resource') return failure(60009);
    const verdict = checkQuery(query, this.#config.apps, this.#world.nowSec());
    if (!verdict.ok) return verdict.answer;
    if (api === undefined) return failure(10003);
    // After authentication, so unauthenticated calls do not eat the app's budget.
    if (!this.#limiter.allow(verdict.app.sdkAppId, api, arrivalMs)) {
      this.#stats.overLimit(api);
      return failure(this.#config.rateLimitErrorCode);
    }
    const body = parseBody(text);
    if (body === undefined) return failure(60003);
    try {
      return dispatch(api, body, {
        world: this.#world,
        c2c: this.#c2c,
        media: this.#media,
        maxPageBytes: this.#config.maxPageBytes,
        historyFiles: this.#historyFiles,
        nowSec: Math.floor(this.#config.now() / 1000),
        baseUrl: this.#baseUrl(),
      });
    } catch (error) {
      if (error instanceof ApiFailure) return failure(error.code, error.message);
      return failure(10002);
    }
  }

  /** Runs `action` after `delay` ms (at once when 0). */
  #later(delay: number, action: () => void): void {
    if (delay <= 0) {
      action();
      return;
    }
    const timer = setTimeout(() => {
      this.#timers.delete(timer);
      action();
    }, delay);
    this.#timers.add(timer);
  }

  /** This server's own address, for the hourly files' download links (api-history-files.ts). */
  #baseUrl(): string {
    const address = this.server.address();
    return typeof address === 'object' && address !== null
      ? `http://127.0.0.1:${address.port}`
      : 'http://127.0.0.1';
  }

  /** GET of an hourly file (api-history-files.ts): its gzip bytes, or 404 for a file never answered. */
  #sendHistoryFile(res: ServerResponse, pathname: string): void {
    const body = this.#historyFiles.download(pathname);
    if (body === undefined) {
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end('no such file');
    } else {
      res.writeHead(200, { 'content-type': 'application/gzip', 'content-length': body.byteLength });
      res.end(body);
    }
  }

  #send(res: ServerResponse, outcome: Outcome): void {
    if (res.destroyed) return;
    if (outcome.kind === 'reset') {
      res.socket?.destroy();
      return;
    }
    res.writeHead(outcome.status, {
      // The simulator's own time (node would send the real time): clients estimate the server clock from it.
      date: new Date(this.#config.now()).toUTCString(),
      'content-type': outcome.contentType,
      'content-length': Buffer.byteLength(outcome.body),
    });
    res.end(outcome.body);
  }

  public stop(): Promise<void> {
    for (const timer of this.#timers) clearTimeout(timer);
    this.#timers.clear();
    return new Promise((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }
}

/** The identity controls over `world`; group ids are checked (ConfigError for an unknown one). */
function identityControl(world: SimWorld): SimIdentityControl {
  const identities = (): SimIdentities => world.identities;
  const plan = (groupId: string) => {
    const group = world.group(groupId);
    if (group === undefined) throw new ConfigError(`Unknown group ${groupId}`, { field: 'groupId' });
    return group.plan;
  };
  return {
    nick: (account) => identities().nick(account),
    renameUser: (account, nick) => identities().renameUser(account, nick),
    deleteAccount: (account) => identities().deleteAccount(account),
    groupName: (groupId) => identities().groupName(plan(groupId)),
    renameGroup: (groupId, name) => identities().renameGroup(plan(groupId), name),
    members: (groupId) => identities().members(plan(groupId)),
    setNameCard: (groupId, account, nameCard) => identities().setNameCard(plan(groupId), account, nameCard),
    setRole: (groupId, account, role) => identities().setRole(plan(groupId), account, role),
  };
}

/**
 * Starts a Tencent Cloud Chat REST API simulator on 127.0.0.1. It implements
 * get_appid_group_list, get_group_info, group_msg_get_simple, get_topic, get_cos_sig, portrait_get,
 * get_group_member_info, get_specified_group_member_info, admin_getroammsg and get_history (with the
 * hourly files' downloads, api-history-files.ts) as documented (see
 * docs/tencent-api.md), choosing the harsher reading wherever the documentation is silent.
 *
 * @throws ConfigError for inconsistent options or dataset specs.
 * @example
 * const sim = await startSimulator({ seed: 7, latencyMs: 80 });
 * // POST `${sim.url}/v4/group_open_http_svc/group_msg_get_simple?sdkappid=…&identifier=…&usersig=…&random=…&contenttype=json`
 * await sim.stop();
 */
export async function startSimulator(options: SimulatorOptions = {}): Promise<Simulator> {
  const media =
    options.media === false
      ? undefined
      : new SimMedia({ seed: options.seed ?? 1, now: options.now ?? Date.now, spec: options.media ?? {} });
  const mediaUrls = await media?.listen();
  const sim = new SimulatorServer(options, media && mediaUrls ? { sim: media, ...mediaUrls } : undefined);
  for (const stream of options.mediaMessages ?? []) {
    if (!media || !mediaUrls)
      throw new ConfigError('mediaMessages need the media listener (media: false)', {
        field: 'mediaMessages',
      });
    stream.files.forEach((file, i) => {
      const element = chosenMediaElement(options.seed ?? 1, mediaUrls.baseUrl, media.spec, file);
      sim.world.modifyMessage(stream.groupId, i + 1, {
        ...(stream.topicId === undefined ? {} : { topicId: stream.topicId }),
        body: [element as unknown as JsonValue],
      });
    });
  }
  const apps = Object.freeze([...(options.apps ?? [DEMO_APP])]);
  await new Promise<void>((resolve, reject) => {
    sim.server.once('error', reject);
    sim.server.listen(options.port ?? 0, '127.0.0.1', () => resolve());
  });
  const { port } = sim.server.address() as AddressInfo;
  const control: Simulator = {
    url: `http://127.0.0.1:${port}`,
    mediaUrl: mediaUrls?.baseUrl,
    disallowedMediaUrl: mediaUrls?.disallowedBaseUrl,
    mediaStats: () =>
      media?.stats() ?? {
        requests: 0,
        forbidden: 0,
        signed: 0,
        bytesServed: 0,
        disallowedRequests: 0,
        cosSigItems: 0,
      },
    mediaTruth: (url) => media?.truth(url),
    mediaElement: (file) => {
      if (!media || !mediaUrls)
        throw new ConfigError('the simulator serves no media (media: false)', { field: 'media' });
      return chosenMediaElement(options.seed ?? 1, mediaUrls.baseUrl, media.spec, file);
    },
    apps,
    stop: async () => {
      await sim.stop();
      await media?.stop();
    },
    stats: () => sim.stats.snapshot(),
    resetStats: () => sim.stats.reset(),
    injectFaults: (...faults) => sim.faults.push(...faults),
    clearFaults: () => sim.faults.clear(),
    appendMessages: (groupId, count, appendOptions) =>
      sim.world.appendMessages(groupId, count, appendOptions?.topicId),
    deleteGroup: (groupId) => sim.world.deleteGroup(groupId),
    recreateGroup: (groupId, count) => sim.world.recreateGroup(groupId, count),
    modifyMessage: (groupId, seq, change) => sim.world.modifyMessage(groupId, seq, change),
    recallMessage: (groupId, seq, options) => sim.world.recallMessage(groupId, seq, options?.topicId),
    deleteMessage: (groupId, seq, options) => sim.world.deleteMessage(groupId, seq, options?.topicId),
    groundTruth: (groupId, truthOptions) =>
      sim.world.groundTruth(groupId, truthOptions?.topicId, truthOptions?.withRecalledMsg ?? false),
    groups: () => [...sim.world.summaries()],
    eachGroup: () => sim.world.summaries(),
    identities: identityControl(sim.world),
    historyFiles: {
      make: (chatType, hour) => sim.historyFiles.make(chatType, hour),
      leaveOut: (message) => sim.historyFiles.leaveOut(message),
    },
    c2c: {
      pairs: () => sim.c2c.pairs(),
      visible: (operator, peer) => sim.c2c.visible(operator, peer),
      append: (a, b, count) => sim.c2c.append(a, b, count),
      recall: (a, b, msgKey) => sim.c2c.recall(a, b, msgKey),
      deleteFor: (side, peer, msgKeys) => sim.c2c.deleteFor(side, peer, msgKeys),
      sequentialPulls: (operator, peer) =>
        sequentialRoamPulls(sim.c2c, sim.world.identities, { operator, peer }),
    },
    sequentialPulls: (groupId, pullOptions) => {
      const group = sim.world.group(groupId);
      const stream = group && sim.world.streamOf(group, pullOptions?.topicId);
      if (stream === undefined) return 0;
      return sequentialPulls(sim.world, stream, {
        groupId,
        withRecalled: pullOptions?.withRecalledMsg ?? true,
        maxPageBytes: options.maxPageBytes,
      });
    },
  };
  const simulator =
    options.callbacks === undefined
      ? control
      : withCallbacks(
          control,
          new CallbackSender({
            ...options.callbacks,
            sdkAppId: (apps[0] ?? DEMO_APP).sdkAppId,
            now: options.now ?? Date.now,
          }),
          (groupId) => sim.world.group(groupId)?.plan.type ?? '',
        );
  // Through the controls, so a dissolution also sends its callback when callbacks are on.
  sim.identitySchedule = new IdentitySchedule(options.identitySchedule ?? [], (change) =>
    applyIdentityChange(simulator, change),
  );
  return simulator;
}

/** One scheduled identity change, made through the simulator's own controls. */
function applyIdentityChange(sim: Simulator, change: ScheduledIdentityChange): void {
  switch (change.kind) {
    case 'rename-user':
      sim.identities.renameUser(change.account, change.nick);
      return;
    case 'delete-account':
      sim.identities.deleteAccount(change.account);
      return;
    case 'rename-group':
      sim.identities.renameGroup(change.groupId, change.name);
      return;
    case 'name-card':
      sim.identities.setNameCard(change.groupId, change.account, change.nameCard);
      return;
    case 'role':
      sim.identities.setRole(change.groupId, change.account, change.role);
      return;
    case 'dissolve-group':
      sim.deleteGroup(change.groupId);
      return;
  }
}
