/**
 * `get_appid_group_list` and `get_group_info` (docs/tencent-api.md, get_appid_group_list and get_group_info).
 */
import { stringify } from 'lossless-json';
import type { JsonObject } from '../domain/tencent-types.ts';
import { type ApiAnswer, ApiFailure, errorInfo, OK_HEAD } from './envelope.ts';
import { MAX_GROUP_LIST_LIMIT, type RequestOf } from './request-schemas.ts';
import type { GroupState, SimWorld } from './world.ts';

/**
 * `Next` cursors are `NEXT_BASE + ordinal * CURSOR_STRIDE + CURSOR_SALT`: always above 2^53 (the
 * documented sample, 4454685361, is above 2^32) and odd. A client that parses JSON numbers
 * into doubles rounds them to a multiple of 256, which is never a valid cursor, so the mistake
 * surfaces as 10004 instead of silently restarting or skipping the listing.
 */
export const NEXT_BASE = 2n ** 60n;
const CURSOR_STRIDE = 1000n;
const CURSOR_SALT = 7n;

/** The cursor that resumes the listing at catalogue ordinal `ordinal`. */
export function encodeNext(ordinal: number): bigint {
  return NEXT_BASE + BigInt(ordinal) * CURSOR_STRIDE + CURSOR_SALT;
}

/** The ordinal a cursor resumes at, or undefined if we never handed it out. */
function decodeNext(next: bigint, groupCount: number): number | undefined {
  const offset = next - NEXT_BASE - CURSOR_SALT;
  if (offset < 0n || offset % CURSOR_STRIDE !== 0n) return undefined;
  const ordinal = offset / CURSOR_STRIDE;
  return ordinal <= BigInt(groupCount) ? Number(ordinal) : undefined;
}
/** Types, `Limit` (1..10000) and `GroupType` are checked by request-schemas.ts; the cursor here. */
function listWindow(
  request: RequestOf<'get_appid_group_list'>,
  groupCount: number,
): { limit: number; start: number; type?: string } {
  const limit = request.Limit ?? MAX_GROUP_LIST_LIMIT;
  const next = request.Next ?? 0n;
  // "第一次填0": 0 starts the listing; any other value must be a cursor we handed out.
  const start = next === 0n ? 0 : decodeNext(next, groupCount);
  if (start === undefined) throw new ApiFailure(10004, 'invalid Next');
  const type = request.GroupType;
  return type === undefined ? { limit, start } : { limit, start, type };
}

/**
 * One page of the app's groups in catalogue order; dissolved groups are not listed. The cursor is
 * the catalogue ordinal, so dissolving a group between pages neither skips nor repeats others.
 * A full page always carries a non-zero Next, even when nothing is left: the client must accept an
 * empty last page with Next 0 (harsher than stopping early).
 */
export function getAppidGroupList(world: SimWorld, request: RequestOf<'get_appid_group_list'>): ApiAnswer {
  const count = world.groupCount;
  const { limit, start, type } = listWindow(request, count);
  const listed = (group: GroupState): boolean =>
    !group.deleted && (type === undefined || group.plan.type === type);
  // Without a type filter the count is known; with one, every group is looked at (tests only).
  let totalCount = world.liveGroupCount;
  if (type !== undefined) {
    totalCount = 0;
    for (let i = 0; i < count; i++) if (listed(world.groupAt(i))) totalCount++;
  }
  const ids: Array<{ GroupId: string }> = [];
  let next = 0n;
  for (let i = start; i < count; i++) {
    const group = world.groupAt(i);
    if (!listed(group)) continue;
    ids.push({ GroupId: group.plan.groupId });
    if (ids.length === limit) {
      next = encodeNext(i + 1);
      break;
    }
  }
  // Quirks (off by default): a Next handed out again, or empty pages with a Next after the last group.
  const quirk = world.quirks.spec.groupList;
  if (quirk === 'repeat-next') next = encodeNext(Math.min(1, count));
  if (quirk === 'empty-pages' && next === 0n) next = encodeNext(count);
  const text = stringify({ ...OK_HEAD, TotalCount: totalCount, GroupIdList: ids, Next: next }) ?? '';
  return { code: 0, body: text, messages: 0 };
}

/** Every base-info field we return, in the order we return them. */
function baseInfo(group: GroupState, name: string): JsonObject {
  const plan = group.plan;
  return {
    Type: plan.type,
    Name: name,
    Introduction: `Introduction of ${plan.name}`,
    Notification: '',
    FaceUrl: '',
    Owner_Account: plan.ownerAccount,
    CreateTime: plan.createTimeSec,
    InfoSeq: 1 + (plan.ordinal % 7),
    LastInfoTime: plan.createTimeSec,
    // Group-level stream only: a topic community's activity is visible through get_topic alone.
    LastMsgTime: group.main.lastMsgTime,
    NextMsgSeq: group.main.nextSeq,
    MemberNum: plan.memberNum,
    MaxMemberNum: plan.type === 'AVChatRoom' || plan.type === 'Community' ? 100_000 : 2000,
    ApplyJoinOption: plan.type === 'Private' ? 'DisableApply' : 'FreeAccess',
    MuteAllMember: 'Off',
  };
}

function pickFields(info: JsonObject, filter: readonly string[] | undefined): JsonObject {
  if (filter === undefined) return info;
  const out: JsonObject = {};
  for (const name of filter) {
    const value = info[name];
    if (value !== undefined) out[name] = value;
  }
  return out;
}

/**
 * Base info for 1..50 groups. Each entry carries its own ErrorCode: 10010 for a dissolved group,
 * 10015 for an id that never existed; the envelope stays OK. `Name` is the current one
 * (identities.ts: renamed by tests). With
 * `ResponseFilter.GroupBaseInfoFilter` only the named base fields are returned (unknown names are
 * ignored); member lists are not simulated.
 */
export function getGroupInfo(world: SimWorld, request: RequestOf<'get_group_info'>): ApiAnswer {
  const filter = request.ResponseFilter?.GroupBaseInfoFilter;
  const infos = request.GroupIdList.map((groupId): JsonObject => {
    const group = world.group(groupId);
    if (group === undefined) return { GroupId: groupId, ErrorCode: 10015, ErrorInfo: errorInfo(10015) };
    if (group.deleted) return { GroupId: groupId, ErrorCode: 10010, ErrorInfo: errorInfo(10010) };
    const name = world.identities.groupName(group.plan);
    return { GroupId: groupId, ErrorCode: 0, ErrorInfo: '', ...pickFields(baseInfo(group, name), filter) };
  });
  return { code: 0, body: JSON.stringify({ ...OK_HEAD, GroupInfo: infos }), messages: 0 };
}
