/**
 * The request body of every simulated API, checked against one schema each with the strictest
 * documented types and limits. A field of the wrong JSON type, a missing required field or an item
 * count out of range fails the whole call with 10004 (parameter error), as Tencent does: the
 * simulator must not be friendlier than the real service, so nothing is coerced (`"20"` is not 20,
 * `"0"` is not a ResourceID). Unknown fields are ignored, as the real API ignores them.
 *
 * Bodies arrive parsed losslessly (envelope.ts `parseBody`): integers beyond 2^53 are bigint. Only
 * the 64-bit fields (`Next`, a numeric `From_Account`) accept them; every other integer must fit a
 * double exactly.
 */
import * as z from 'zod';
import { RoamRequest } from './api-roam.ts';
import { ApiFailure, type BodyObject } from './envelope.ts';
import type { ApiName } from './gateway.ts';

/** An integer that fits a double; bigint, floats and strings are refused. */
const int = z.number().int();
/** An unsigned 64-bit integer: a number or (beyond 2^53) a bigint. */
const uint64 = z
  .union([
    int.nonnegative(),
    z
      .bigint()
      .nonnegative()
      .max(2n ** 64n - 1n),
  ])
  .transform((n) => BigInt(n));
const nonEmptyString = z.string().min(1, 'must not be empty');

/** "不得超过 10000" (get_appid_group_list `Limit`). */
export const MAX_GROUP_LIST_LIMIT = 10_000;
/** get_group_info takes at most 50 group ids per call. */
export const MAX_GROUP_INFO_IDS = 50;
/**
 * URLs per `get_cos_sig` call. The API documents no limit; the simulator takes the strict
 * reading of 20, the batch functions/adapters/tencent/cos-sig-batcher.ts sends.
 */
export const MAX_COS_SIG_URLS = 20;
/** `portrait_get` reads at most 100 accounts ("no more than 100 users", taken as a hard limit). */
export const MAX_PORTRAIT_ACCOUNTS = 100;
/** `get_specified_group_member_info` takes at most 50 accounts. */
export const MAX_SPECIFIED_MEMBERS = 50;
/**
 * `get_group_member_info` `Limit`: the sources at hand give no maximum; the simulator takes 100,
 * the documented sample's value and the client's page (the harsher reading).
 */
export const MAX_MEMBER_LIMIT = 100;
const MEMBER_ROLES = ['Owner', 'Admin', 'Member'] as const;
/** `ResourceID` is an Integer (the maintained Java SDK's `RawUrlItem.resourceId`): 32-bit signed. */
const INT32 = { min: -(2 ** 31), max: 2 ** 31 - 1 } as const;

/**
 * Accepted `GroupType` filters. The newer names `Work`/`Meeting` are refused: only the old ones
 * are documented, so the harsher reading.
 */
const GROUP_TYPES = ['Public', 'Private', 'ChatRoom', 'AVChatRoom', 'BChatRoom', 'Community'] as const;

const GroupListRequest = z.looseObject({
  Limit: int.min(1).max(MAX_GROUP_LIST_LIMIT).optional(),
  Next: uint64.optional(),
  GroupType: z.enum(GROUP_TYPES).optional(),
});

const GroupInfoRequest = z.looseObject({
  GroupIdList: z.array(z.string()).min(1).max(MAX_GROUP_INFO_IDS),
  ResponseFilter: z
    .looseObject({
      GroupBaseInfoFilter: z.array(z.string()).optional(),
      MemberInfoFilter: z.array(z.string()).optional(),
      AppDefinedDataFilter_Group: z.array(z.string()).optional(),
      AppDefinedDataFilter_GroupMember: z.array(z.string()).optional(),
    })
    .optional(),
});

const HistoryRequest = z.looseObject({
  GroupId: nonEmptyString,
  // "最好小于等于20": more is allowed, and answered with at most 20 (api-history.ts).
  ReqMsgNumber: int.min(1),
  ReqMsgSeq: int.nonnegative().optional(),
  WithRecalledMsg: int.optional(),
  TopicId: nonEmptyString.optional(),
});

const TopicRequest = z.looseObject({
  GroupId: nonEmptyString,
  // Documented as "uint64" while the sample sends a string: either, but nothing else.
  From_Account: z.union([nonEmptyString, uint64]),
  TopicIdList: z.array(z.string()).optional(),
  ResponseFilter: z.array(z.string()).optional(),
});

const CosSigRequest = z.looseObject({
  RawURLs: z
    .array(
      z.looseObject({
        ResourceID: int.min(INT32.min).max(INT32.max),
        RawURL: nonEmptyString,
      }),
    )
    .min(1)
    .max(MAX_COS_SIG_URLS),
});

const PortraitRequest = z.looseObject({
  To_Account: z.array(nonEmptyString).min(1).max(MAX_PORTRAIT_ACCOUNTS),
  TagList: z.array(nonEmptyString).min(1),
});

const GroupMemberInfoRequest = z.looseObject({
  GroupId: nonEmptyString,
  Limit: int.min(1).max(MAX_MEMBER_LIMIT).optional(),
  Offset: int.nonnegative().optional(),
  /** Community groups' cursor (a string; '' for the first page). */
  Next: z.string().optional(),
  MemberInfoFilter: z.array(z.string()).optional(),
  MemberRoleFilter: z.array(z.enum(MEMBER_ROLES)).optional(),
});

const SpecifiedMemberRequest = z.looseObject({
  GroupId: nonEmptyString,
  Member_List_Account: z.array(nonEmptyString).min(1).max(MAX_SPECIFIED_MEMBERS),
  MemberInfoFilter: z.array(z.string()).optional(),
});

/** Every endpoint's request schema, by command name. */
export const REQUEST_SCHEMAS = {
  get_appid_group_list: GroupListRequest,
  get_group_info: GroupInfoRequest,
  group_msg_get_simple: HistoryRequest,
  get_topic: TopicRequest,
  get_cos_sig: CosSigRequest,
  portrait_get: PortraitRequest,
  get_group_member_info: GroupMemberInfoRequest,
  get_specified_group_member_info: SpecifiedMemberRequest,
  // Checked by api-roam.ts itself: the openim service answers 90001/90003/90008, not 10004.
  admin_getroammsg: RoamRequest,
  // Checked by api-history-files.ts itself: the service answers 1001/1002, not 10004.
  get_history: z.looseObject({}),
} as const satisfies Record<ApiName, z.ZodType>;

/** The checked request of `api`. */
export type RequestOf<A extends ApiName> = z.output<(typeof REQUEST_SCHEMAS)[A]>;

/** Either the checked request, or the 10004 (40001 for the profile service) that answers the whole call. */
export type RequestCheck<A extends ApiName> =
  | { ok: true; request: RequestOf<A> }
  | { ok: false; failure: ApiFailure };

/**
 * The profile service answers a bad request with its own code: 40001 is the simulator's reading of
 * the profile service's "parameter error" (docs/tencent-api.md, portrait_get); the group and
 * message services answer 10004.
 */
function parameterFailure(api: ApiName, details: string): ApiFailure {
  if (api === 'portrait_get') return new ApiFailure(40001, `Err_Profile_Invalid_Parameters: ${details}`);
  return new ApiFailure(10004, `Err_SVR_GROUP_INVALID_PARAMETERS: ${details}`);
}

/** Checks `body` against `api`'s schema without throwing. */
export function checkRequest<A extends ApiName>(api: A, body: BodyObject): RequestCheck<A> {
  const result = REQUEST_SCHEMAS[api].safeParse(body);
  if (result.success) return { ok: true, request: result.data as RequestOf<A> };
  const details = result.error.issues
    .slice(0, 3)
    .map((issue) => `${issue.path.join('.') || '(body)'}: ${issue.message}`)
    .join('; ');
  return { ok: false, failure: parameterFailure(api, details) };
}

/**
 * The checked request of `api`.
 * @throws ApiFailure 10004 when the body does not match the schema.
 */
export function parseRequest<A extends ApiName>(api: A, body: BodyObject): RequestOf<A> {
  const checked = checkRequest(api, body);
  if (!checked.ok) throw checked.failure;
  return checked.request;
}
