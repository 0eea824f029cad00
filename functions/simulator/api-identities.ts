/**
 * `portrait_get`, `get_group_member_info` and `get_specified_group_member_info` (docs/tencent-api.md,
 * the sections of the same names), served from the world's identities (identities.ts). Request
 * types and item counts are checked by request-schemas.ts before these run.
 */
import type { JsonObject } from '../domain/tencent-types.ts';
import { type ApiAnswer, ApiFailure, OK_HEAD } from './envelope.ts';
import type { SimMember } from './identities.ts';
import type { RequestOf } from './request-schemas.ts';
import type { GroupState, SimWorld } from './world.ts';

/** The simulator's reading of the per-account code for an account `portrait_get` does not know. */
export const UNKNOWN_ACCOUNT_CODE = 40003;
const TAG_NICK = 'Tag_Profile_IM_Nick';
const TAG_IMAGE = 'Tag_Profile_IM_Image';
/** Page size of `get_group_member_info` when `Limit` is left out. */
const DEFAULT_MEMBER_LIMIT = 100;
/** Community cursors: `SIM-NEXT-<offset>`; anything else is refused with 10004. */
const CURSOR_PREFIX = 'SIM-NEXT-';

/** One item per requested account, in request order; unknown ones carry their own ResultCode. */
export function portraitGet(world: SimWorld, request: RequestOf<'portrait_get'>): ApiAnswer {
  const identities = world.identities;
  const items = request.To_Account.map((account): JsonObject => {
    const nick = identities.nick(account);
    if (nick === undefined) {
      return {
        To_Account: account,
        ResultCode: UNKNOWN_ACCOUNT_CODE,
        ResultInfo: 'Err_Profile_Account_Not_Found: the account does not exist',
      };
    }
    const values: Record<string, string> = { [TAG_NICK]: nick, [TAG_IMAGE]: identities.image(account) };
    // Only the tags asked for, in the order asked; other (standard or custom) tags are unset here.
    const profile = request.TagList.flatMap((tag) =>
      values[tag] === undefined ? [] : [{ Tag: tag, Value: values[tag] }],
    );
    return { To_Account: account, ProfileItem: profile, ResultCode: 0, ResultInfo: '' };
  });
  return { code: 0, body: JSON.stringify({ ...OK_HEAD, UserProfileItem: items }), messages: 0 };
}

/**
 * The group a member API may read: 10015 for an id that never existed, 10010 for a dissolved
 * group, 10004 for an AVChatRoom (documented as not supported; the code is the simulator's reading).
 */
function memberGroup(world: SimWorld, groupId: string): GroupState {
  const group = world.group(groupId);
  if (group === undefined) throw new ApiFailure(10015);
  if (group.deleted) throw new ApiFailure(10010);
  if (group.plan.type === 'AVChatRoom')
    throw new ApiFailure(10004, 'Err_SVR_GROUP_INVALID_PARAMETERS: AVChatRoom has no member list');
  return group;
}

/** A member as served: `Member_Account` always, the other fields as `MemberInfoFilter` asks (all when absent). */
function memberItem(member: SimMember, filter: readonly string[] | undefined): JsonObject {
  const all: JsonObject = {
    Member_Account: member.account,
    Role: member.role,
    JoinTime: member.joinTime,
    MsgSeq: 0,
    MsgFlag: 'AcceptAndNotify',
    LastSendMsgTime: 0,
    ShutUpUntil: 0,
    NameCard: member.nameCard,
  };
  if (filter === undefined) return all;
  const out: JsonObject = { Member_Account: member.account };
  for (const name of filter) {
    const value = all[name];
    if (value !== undefined) out[name] = value;
  }
  return out;
}

/** The named members that are in the group, in request order; non-members are left out. */
export function getSpecifiedGroupMemberInfo(
  world: SimWorld,
  request: RequestOf<'get_specified_group_member_info'>,
): ApiAnswer {
  const group = memberGroup(world, request.GroupId);
  const members = new Map(world.identities.members(group.plan).map((m) => [m.account, m]));
  const list = request.Member_List_Account.flatMap((account) => {
    const member = members.get(account);
    return member === undefined ? [] : [memberItem(member, request.MemberInfoFilter)];
  });
  const body = { ...OK_HEAD, MemberNum: list.length, MemberList: list };
  return { code: 0, body: JSON.stringify(body), messages: 0 };
}

/** Where a page starts: `Offset` for ordinary groups, the `Next` cursor (and no Offset) for Community groups. */
function pageStart(group: GroupState, request: RequestOf<'get_group_member_info'>): number {
  if (group.plan.type !== 'Community') return request.Offset ?? 0;
  if (request.Offset !== undefined && request.Offset !== 0)
    throw new ApiFailure(10004, 'Err_SVR_GROUP_INVALID_PARAMETERS: Community groups page with Next');
  const next = request.Next ?? '';
  if (next === '') return 0;
  const offset = next.startsWith(CURSOR_PREFIX) ? Number(next.slice(CURSOR_PREFIX.length)) : Number.NaN;
  if (!Number.isSafeInteger(offset) || offset < 0)
    throw new ApiFailure(10004, 'Err_SVR_GROUP_INVALID_PARAMETERS: invalid Next');
  return offset;
}

/**
 * One page of the group's members (owner first). `MemberRoleFilter` keeps only those roles;
 * `MemberNum` is the whole group's count. Community answers always carry `Next` ('' after the
 * last page); other groups never do.
 */
export function getGroupMemberInfo(world: SimWorld, request: RequestOf<'get_group_member_info'>): ApiAnswer {
  const group = memberGroup(world, request.GroupId);
  const all = world.identities.members(group.plan);
  const roles = request.MemberRoleFilter;
  const listed = roles === undefined ? all : all.filter((m) => roles.includes(m.role));
  const start = pageStart(group, request);
  const limit = request.Limit ?? DEFAULT_MEMBER_LIMIT;
  const page = listed.slice(start, start + limit);
  const body: JsonObject = {
    ...OK_HEAD,
    MemberNum: all.length,
    MemberList: page.map((m) => memberItem(m, request.MemberInfoFilter)),
  };
  if (group.plan.type === 'Community') {
    const end = start + page.length;
    body.Next = end < listed.length ? `${CURSOR_PREFIX}${end}` : '';
  }
  return { code: 0, body: JSON.stringify(body), messages: 0 };
}
