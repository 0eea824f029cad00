/**
 * The Tencent Cloud Chat REST API as the domain sees it: the calls the archiver needs and the
 * shapes they return, already validated at the adapter boundary. Raw message objects are kept
 * verbatim (unknown fields included) so normalisation can be lossless.
 */

/** A JSON value as parsed losslessly: integers beyond 2^53 arrive as `bigint`. */
export type JsonValue =
  | string
  | number
  | bigint
  | boolean
  | null
  | JsonValue[]
  | { [key: string]: JsonValue };
export type JsonObject = { [key: string]: JsonValue };

/** The API names, as they appear in `v4/<service>/<command>`. */
export const TENCENT_APIS = {
  getAppidGroupList: 'group_open_http_svc/get_appid_group_list',
  getGroupInfo: 'group_open_http_svc/get_group_info',
  groupMsgGetSimple: 'group_open_http_svc/group_msg_get_simple',
  getTopic: 'million_group_open_http_svc/get_topic',
  getCosSig: 'im_cos_msg/get_cos_sig',
  portraitGet: 'profile/portrait_get',
  getGroupMemberInfo: 'group_open_http_svc/get_group_member_info',
  getSpecifiedGroupMemberInfo: 'group_open_http_svc/get_specified_group_member_info',
  adminGetRoamMsg: 'openim/admin_getroammsg',
  openMsgGetHistory: 'open_msg_svc/get_history',
} as const;
export type TencentApiKey = keyof typeof TENCENT_APIS;

/** Group types as documented for `get_appid_group_list` / `get_group_info`. */
export type GroupType =
  | 'Public'
  | 'Private'
  | 'ChatRoom'
  | 'AVChatRoom'
  | 'BChatRoom'
  | 'Community'
  | (string & {});

/** One page of `get_appid_group_list`. `next` is the uint64 cursor; 0n means "no more". */
export interface GroupListPage {
  groupIds: string[];
  totalCount: number;
  next: bigint;
}

/** One entry of `get_group_info`; groups can fail individually (deleted, invalid id). */
export type GroupInfo =
  | {
      ok: true;
      groupId: string;
      type: GroupType;
      /** Seq the *next* message will get; the newest existing message has `nextMsgSeq - 1`. */
      nextMsgSeq: number;
      /** Epoch seconds of the last message, 0 if none. */
      lastMsgTime: number;
      /** `Name` exactly as served (any Unicode, '' included); undefined when the answer left it out. */
      name?: string | undefined;
      /** `Owner_Account` as served ('' for a group without owner); undefined when left out. */
      ownerAccount?: string | undefined;
    }
  | { ok: false; groupId: string; errorCode: number; errorInfo: string };

/** One entry of `get_topic`. */
export type TopicInfo =
  | { ok: true; topicId: string; nextMsgSeq: number; lastMsgTime: number; topicName: string | undefined }
  | { ok: false; topicId: string | undefined; errorCode: number; errorInfo: string };

export interface HistoryRequest {
  groupId: string;
  topicId?: string | undefined;
  /** Largest seq to return (inclusive). Omit on the first call to get the newest messages. */
  reqMsgSeq?: number | undefined;
  /** 1..20. */
  reqMsgNumber: number;
  /** Ask for recalled messages (`IsPlaceMsg=2`). */
  withRecalledMsg: boolean;
}

/** A message exactly as the API returned it (validated for the fields we rely on). */
export interface RawMessage extends JsonObject {
  MsgSeq: number;
  MsgTimeStamp: number;
}

/**
 * A one-to-one message exactly as `admin_getroammsg` returned it (docs/tencent-api.md,
 * admin_getroammsg), validated for the fields the archive relies on: `MsgKey` identifies it
 * (an opaque string), `MsgTimeStamp` files it. `MsgSeq` is chosen by the client and may repeat.
 */
export interface RoamMessage extends JsonObject {
  MsgKey: string;
  MsgTimeStamp: number;
}

/** One `admin_getroammsg` call (docs/tencent-api.md, admin_getroammsg): a window of one side's view. */
export interface RoamRequest {
  /** The side whose view is read. */
  operatorAccount: string;
  peerAccount: string;
  /** Messages wanted, 1..100. */
  maxCnt: number;
  /** The window, epoch seconds, both ends inclusive. */
  minTime: number;
  /** On a continuation: the previous page's `lastMsgTime`. */
  maxTime: number;
  /** On a continuation: the previous page's `lastMsgKey`. */
  lastMsgKey?: string | undefined;
}

/** One page of `admin_getroammsg`. */
export interface RoamPage {
  /** `Complete` 1: nothing of the window is left. */
  complete: boolean;
  /** Where the next page starts (`MaxTime` and `LastMsgKey` of the continuation); 0 and '' for an empty page. */
  lastMsgTime: number;
  lastMsgKey: string;
  /** The messages in the order served (newest first in the simulator; never relied on). */
  messages: RoamMessage[];
  /** Items the page schema rejected (absent when every item was valid). */
  rejected?: RejectedItem[];
}

/**
 * An item of a history page that failed the page schema (e.g. a null `MsgTimeStamp`), kept verbatim
 * so it can be archived as a flagged row instead of failing the whole page.
 */
export interface RejectedItem {
  /** The item's exact JSON text as received. */
  text: string;
  /** What the schema rejected, naming the field, e.g. "MsgTimeStamp: expected number, got null". */
  reason: string;
  /** Its `MsgSeq` when that field was readable, else null. */
  msgSeq: number | null;
}

/** One page of `group_msg_get_simple`. */
export interface HistoryPage {
  groupId: string;
  /** 0 = more below, 1 = requested window complete, 2 = window (and everything below) expired. */
  isFinished: number;
  messages: RawMessage[];
  /** Items the page schema rejected (absent or empty when every item was valid). */
  rejected?: RejectedItem[];
}

/** One URL to sign with `get_cos_sig`. */
export interface CosSigRequest {
  /**
   * Echoed back, to match answers to requests. A JSON integer on the wire, as documented (the
   * maintained Java SDK's `RawUrlItem.resourceId` is an `Integer`); a server that checks types
   * refuses a string with 10004 for the whole call.
   */
  resourceId: number;
  rawUrl: string;
}

/**
 * One answer of `get_cos_sig` (docs/tencent-api.md, get_cos_sig): `status` 0 the file is normal, 1 banned
 * (only the pre-signed URL reaches it), 2 gone (probably expired and deleted). `preSigUrl` is valid for 15
 * minutes and is a credential: never log or store it.
 */
export interface CosSigResult {
  /** The request item's id; undefined when the answer carried none (it then matches no request). */
  resourceId: number | undefined;
  code: number;
  desc: string;
  status: number;
  preSigUrl: string;
}

/** The profile tags the archiver reads with `portrait_get` (docs/tencent-api.md, portrait_get). */
export const PROFILE_TAGS = { nick: 'Tag_Profile_IM_Nick', image: 'Tag_Profile_IM_Image' } as const;

/**
 * One account of `portrait_get`. An account the API does not know (never imported, or deleted)
 * comes back with its own non-zero `ResultCode`; any non-zero code means "unknown now", never a
 * name (docs/tencent-api.md, portrait_get).
 */
export type UserProfile =
  | {
      ok: true;
      account: string;
      /** `Tag_Profile_IM_Nick` exactly as served ('' when unset): may hold any Unicode, controls included. */
      nick: string;
      /** `Tag_Profile_IM_Image` (avatar URL) exactly as served ('' when unset). */
      image: string;
    }
  | { ok: false; account: string; resultCode: number; resultInfo: string };

/** Member roles as documented for the member APIs; other strings are kept as served. */
export type GroupMemberRole = 'Owner' | 'Admin' | 'Member' | (string & {});

/** One member of a group, as `get_group_member_info` / `get_specified_group_member_info` serve it. */
export interface GroupMember {
  account: string;
  role: GroupMemberRole;
  /** The member's name card in this group exactly as served ('' when unset). */
  nameCard: string;
  /** Epoch seconds the member joined; undefined when the answer left it out. */
  joinTime: number | undefined;
}

/**
 * The members of one group named in a `get_specified_group_member_info` request. Accounts the
 * answer did not list (not, or no longer, members) are in `missing`, in request order.
 */
export interface GroupMembersResult {
  groupId: string;
  members: GroupMember[];
  missing: string[];
}

/** One page of `get_group_member_info`. */
export interface GroupMemberPage {
  groupId: string;
  /** `MemberNum`: the group's member count as the server reports it. */
  memberNum: number;
  members: GroupMember[];
  /**
   * Where the next page starts: `{ offset }` for ordinary groups, `{ next }` (the cursor) for
   * Community groups; undefined when this was the last page.
   */
  following: { offset: number } | { next: string } | undefined;
}

/** Where a `get_group_member_info` page starts: an offset, or a Community group's `Next` cursor. */
export interface GroupMemberPageRequest {
  groupId: string;
  /** Members per page, 1..100. */
  limit: number;
  /** Ordinary groups: members to skip (default 0). */
  offset?: number | undefined;
  /** Community groups: the cursor of the previous page ('' or undefined for the first). */
  next?: string | undefined;
}
