/**
 * `get_topic` (docs/tencent-api.md, get_topic): the topics of a topic-enabled community, each with its own
 * ErrorCode, SelfInfo and TopicInfo.
 */
import type { JsonObject } from '../domain/tencent-types.ts';
import type { TopicPlan } from './dataset.ts';
import { type ApiAnswer, ApiFailure, errorInfo, OK_HEAD } from './envelope.ts';
import type { RequestOf } from './request-schemas.ts';
import type { GroupState, SimWorld, StreamState } from './world.ts';

/**
 * Which group errors apply. Where the documentation is silent we pick: a group that is not a Community
 * → 10004 (the GroupId parameter is wrong for this API); a Community without topics enabled →
 * 11000 ("未开通社群功能"/topics not enabled). Clients must treat both as "no topics, skip".
 */
function requireTopicGroup(world: SimWorld, groupId: string): GroupState {
  const group = world.group(groupId);
  if (group === undefined) throw new ApiFailure(10015);
  if (group.deleted) throw new ApiFailure(10010);
  if (group.plan.type !== 'Community') throw new ApiFailure(10004, `${groupId} is not a Community group`);
  if (!group.plan.topicsEnabled) throw new ApiFailure(11000);
  return group;
}

function topicInfo(group: GroupState, plan: TopicPlan, stream: StreamState): JsonObject {
  return {
    TopicName: plan.topicName,
    GroupID: group.plan.groupId,
    FaceUrl: '',
    TopicId: plan.topicId,
    NextMsgSeq: stream.nextSeq,
    Notification: '',
    Introduction: '',
    CreateTime: plan.createTimeSec,
    LastMsgTime: stream.lastMsgTime,
    MuteAllMember: 'Off',
    CustomString: '',
  };
}

/** With a ResponseFilter only the named fields come back — plus TopicId, without which an entry is useless. */
function filterInfo(info: JsonObject, filter: readonly string[] | undefined): JsonObject {
  if (filter === undefined) return info;
  const out: JsonObject = { TopicId: info.TopicId ?? '' };
  for (const name of filter) {
    const value = info[name];
    if (value !== undefined) out[name] = value;
  }
  return out;
}

function topicEntry(group: GroupState, topicId: string, filter: readonly string[] | undefined): JsonObject {
  const stream = group.topics.get(topicId);
  const plan = group.plan.topics.find((topic) => topic.topicId === topicId);
  if (stream === undefined || plan === undefined) {
    return { ErrorCode: 110003, ErrorInfo: errorInfo(110003), TopicInfo: { TopicId: topicId } };
  }
  return {
    ErrorCode: 0,
    ErrorInfo: '',
    SelfInfo: { ShutUpTime: 0, MsgSeq: stream.nextSeq - 1, MsgFlag: 'AcceptAndNotify' },
    TopicInfo: filterInfo(topicInfo(group, plan, stream), filter),
  };
}

/**
 * Answers get_topic. All topics (no pagination) unless TopicIdList names some; an unknown topic
 * id gets a per-entry 110003. Top-level errors: 10004, 10010, 10015, 11000 (see requireTopicGroup).
 */
export function getTopic(world: SimWorld, request: RequestOf<'get_topic'>): ApiAnswer {
  const wanted = request.TopicIdList;
  const filter = request.ResponseFilter;
  const group = requireTopicGroup(world, request.GroupId);
  const ids = wanted ?? [...group.topics.keys()];
  const entries = ids.map((topicId) => topicEntry(group, topicId, filter));
  return { code: 0, body: JSON.stringify({ ...OK_HEAD, TopicAndSelfInfo: entries }), messages: 0 };
}
