/**
 * Ports: the interfaces through which the pure domain and the use cases reach the outside world.
 * Adapters implement them; the composition root wires them. Nothing here does I/O.
 */
import type { Readable } from 'node:stream';
import type { LeaseHolder } from './lease.ts';
import type { MediaRef } from './media-refs.ts';
import type {
  CosSigRequest,
  CosSigResult,
  GroupInfo,
  GroupListPage,
  GroupMemberPage,
  GroupMemberPageRequest,
  GroupMembersResult,
  HistoryPage,
  HistoryRequest,
  RoamPage,
  RoamRequest,
  TopicInfo,
  UserProfile,
} from './tencent-types.ts';

/** Time, injected everywhere so tests never really wait. */
export interface Clock {
  /** Epoch milliseconds. */
  now(): number;
  /** Resolves after `ms`; rejects with the signal's reason if `signal` aborts first. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

export type LogFields = Record<string, unknown>;

/** Structured logging. Adapters redact registered secrets from every line. */
export interface Logger {
  debug(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
}

/** Source of uniform random numbers in [0, 1); injected for deterministic jitter in tests. */
export type Random = () => number;

/** A downloaded, verified media file waiting in temporary storage. */
export interface FetchedMedia {
  status: 'archived';
  sha256: string;
  bytes: number;
  contentType: string | null;
  /** Set when the file came through `get_cos_sig` (e.g. banned files). */
  reason: string | null;
  attempts: number;
  /** A fresh stream of the bytes. */
  open(): Readable;
  /** Remove the temporary copy. */
  dispose(): Promise<void>;
}

export type MediaFetchResult =
  | FetchedMedia
  | { status: 'expired' | 'refused' | 'failed'; reason: string; attempts: number };

/** Downloads and verifies media files (implemented by adapters/media). */
export interface MediaFetcher {
  /** Why `ref` would be refused without sending anything (host, scheme, declared size), if it would. */
  refusal(ref: MediaRef): string | undefined;
  /** @throws AbortedError when `signal` fires; nothing is left behind */
  download(ref: MediaRef, signal?: AbortSignal): Promise<MediaFetchResult>;
}

/**
 * The API server's clock as the client estimates it from the `Date` header of its answers (see
 * `functions/domain/server-clock.ts`). Time-based decisions use it, never the local clock.
 */
export interface ServerClock {
  /** The server's current time, epoch ms (the local time until the first answer arrived). */
  serverNowMs(): number;
  /** Estimated `server - local` in ms, or undefined before the first answer. */
  serverOffsetMs(): number | undefined;
}

/** What the archive engine needs from Tencent. Implemented by the HTTP adapter. */
export interface ChatApi extends ServerClock {
  /** Pages through `get_appid_group_list` (1 call/s), optionally filtered by type. */
  listGroups(options?: {
    groupType?: string;
    pageSize?: number;
    signal?: AbortSignal;
  }): AsyncIterable<GroupListPage>;
  /** `get_group_info` for up to 50 ids (Type, NextMsgSeq, LastMsgTime). */
  getGroupInfo(groupIds: readonly string[], signal?: AbortSignal): Promise<GroupInfo[]>;
  /** One page of `group_msg_get_simple`. */
  getHistory(request: HistoryRequest, signal?: AbortSignal): Promise<HistoryPage>;
  /** All topics of a topic-enabled Community group (`get_topic`). */
  getTopics(groupId: string, signal?: AbortSignal): Promise<TopicInfo[]>;
  /** `im_cos_msg/get_cos_sig`: pre-signed URLs (15 minutes) and file status for media URLs. */
  getCosSig(urls: readonly CosSigRequest[], signal?: AbortSignal): Promise<CosSigResult[]>;
  /**
   * `portrait_get`: nickname and avatar of any number of accounts (sent 100 a call), one answer per
   * distinct account, in request order; unknown (never imported, deleted) accounts answer `ok: false`.
   */
  getProfiles(accounts: readonly string[], signal?: AbortSignal): Promise<UserProfile[]>;
  /**
   * `get_specified_group_member_info`: role and name card of the named accounts in one group (sent 50
   * a call). A dissolved or unknown group fails the call as history does (10010, 10015).
   */
  getGroupMembers(
    groupId: string,
    accounts: readonly string[],
    signal?: AbortSignal,
  ): Promise<GroupMembersResult>;
  /** One page of `get_group_member_info` (Offset paging, or `Next` for Community groups). */
  getGroupMemberPage(request: GroupMemberPageRequest, signal?: AbortSignal): Promise<GroupMemberPage>;
}

/**
 * One-to-one history (issue 26; docs/one-to-one.md). Apart from {@link ChatApi} for now, so the
 * API's wrappers (the identity tap) need not change in the same step; the Tencent client and the
 * test fake implement both.
 */
export interface RoamApi {
  /** One page of `admin_getroammsg`, paced with every other call. */
  getRoamMessages(request: RoamRequest, signal?: AbortSignal): Promise<RoamPage>;
}

/** This process and its neighbours on the host, for taking over the lease of a crashed run. */
export interface HostProcesses {
  /** This process, as it is named in the leases it takes. */
  readonly self: LeaseHolder;
  /** True only when `holder` ran on this host and its process is certainly gone (or its pid was reused). */
  isGone(holder: LeaseHolder): boolean;
}
