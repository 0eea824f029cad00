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
