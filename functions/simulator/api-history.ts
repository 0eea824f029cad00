/**
 * `group_msg_get_simple` (docs/tencent-api.md, group_msg_get_simple): one page of a group's (or topic's)
 * history, newest first. Cost is O(page): only the seqs of the requested window are generated.
 */
import { type ApiAnswer, ApiFailure } from './envelope.ts';
import type { RequestOf } from './request-schemas.ts';
import type { GroupState, SimWorld, StreamState } from './world.ts';

/** "目前一次请求最多返回20条历史消息" (docs/tencent-api.md, group_msg_get_simple). */
export const MAX_PAGE_MESSAGES = 20;
/**
 * Group types whose history is not stored (docs/tencent-api.md, Supported group types): answered with 10044.
 */
const NO_HISTORY_TYPES = new Set(['AVChatRoom', 'BChatRoom']);

interface HistoryRequest {
  groupId: string;
  reqMsgNumber: number;
  reqMsgSeq: number | undefined;
  withRecalled: boolean;
  topicId: string | undefined;
}

/** The checked body (types and ranges: request-schemas.ts) in the handler's terms. */
function historyRequest(body: RequestOf<'group_msg_get_simple'>): HistoryRequest {
  return {
    groupId: body.GroupId,
    reqMsgNumber: body.ReqMsgNumber,
    reqMsgSeq: body.ReqMsgSeq,
    // Only exactly 1 asks for recalled messages ("填1表明需要拉取撤回后的消息"); other integers mean no.
    withRecalled: body.WithRecalledMsg === 1,
    topicId: body.TopicId,
  };
}

/**
 * Resolves the stream to read, or undefined for "topic community without TopicId" (an empty
 * list). A TopicId on a group without topics is a parameter error (10004, "仅支持话题的社群适用此选项");
 * an unknown TopicId on a topic community is 110003 (topic does not exist / deleted: docs/tencent-api.md,
 * get_topic).
 */
function resolveStream(
  world: SimWorld,
  request: HistoryRequest,
): { group: GroupState; stream?: StreamState } {
  const group = world.group(request.groupId);
  if (group === undefined) throw new ApiFailure(10015);
  if (group.deleted) throw new ApiFailure(10010);
  if (NO_HISTORY_TYPES.has(group.plan.type)) throw new ApiFailure(10044);
  if (request.topicId === undefined)
    return group.plan.topicsEnabled ? { group } : { group, stream: group.main };
  if (!group.plan.topicsEnabled)
    throw new ApiFailure(10004, 'TopicId applies only to topic-enabled communities');
  const stream = group.topics.get(request.topicId);
  if (stream === undefined) throw new ApiFailure(110003);
  return { group, stream };
}

interface Page {
  items: string[];
  isFinished: 0 | 1 | 2;
}

/**
 * Renders the window [lo, hi] newest first.
 *
 * The window is a range of seqs, not a count of messages: recalled seqs left out (no
 * WithRecalledMsg) are not replaced by older ones, so a page can hold fewer than ReqMsgNumber
 * messages while more history exists below. That is the harsher reading of "返回消息 seq 小于等于
 * ReqMsgSeq 的 ReqMsgNumber 条消息"; clients must page by seq, not by page length.
 *
 * IsFinished: 2 when every returned message is beyond retention; 0 when the byte budget cut the
 * page short or ReqMsgNumber > 20 left seqs of the window unreturned; 1 otherwise.
 */
function renderPage(
  world: SimWorld,
  stream: StreamState,
  request: HistoryRequest,
  budgetBytes: number | undefined,
): Page {
  const newest = stream.nextSeq - 1;
  const hi = Math.min(request.reqMsgSeq ?? newest, newest);
  // ReqMsgSeq 0 reads literally as "seq <= 0": an empty page. Clients must omit it on the first call.
  if (hi < 1) return { items: [], isFinished: 1 };
  const lo = Math.max(1, hi - Math.min(request.reqMsgNumber, MAX_PAGE_MESSAGES) + 1);
  const streamName = request.topicId ?? request.groupId;
  world.quirks.checkSize(streamName, lo, hi);
  const nowSec = world.nowSec();
  const items: string[] = [];
  let bytes = 0;
  let cut = false;
  let allExpired = true;
  for (let seq = hi; seq >= lo; seq--) {
    const rendered = world.render(stream, seq, request.withRecalled, nowSec);
    if (rendered === undefined) continue;
    const json = world.quirks.item(streamName, seq, JSON.stringify(rendered.message));
    const size = Buffer.byteLength(json) + 1;
    // Always return at least one message, otherwise a single huge message would block paging forever.
    if (budgetBytes !== undefined && items.length > 0 && bytes + size > budgetBytes) {
      cut = true;
      break;
    }
    items.push(json);
    bytes += size;
    allExpired &&= rendered.expired;
  }
  if (items.length > 0 && allExpired) return world.quirks.page(streamName, { items, isFinished: 2 });
  const windowTooLarge = request.reqMsgNumber > MAX_PAGE_MESSAGES && lo > 1;
  return world.quirks.page(streamName, { items, isFinished: cut || windowTooLarge ? 0 : 1 });
}

/** Envelope bytes before RspMsgList's items, counted against the page budget. */
function head(groupId: string, isFinished: number): string {
  return `{"ActionStatus":"OK","ErrorInfo":"","ErrorCode":0,"GroupId":${JSON.stringify(groupId)},"IsFinished":${isFinished},"RspMsgList":[`;
}

/**
 * Answers one group_msg_get_simple request. `maxPageBytes` bounds the whole JSON answer (at least
 * one message is always returned). Errors: 10004 bad parameters, 10015 unknown group, 10010
 * dissolved, 10044 no-history group type, 110003 unknown topic.
 */
export function groupMsgGetSimple(
  world: SimWorld,
  body: RequestOf<'group_msg_get_simple'>,
  maxPageBytes: number | undefined,
): ApiAnswer {
  const request = historyRequest(body);
  const { stream } = resolveStream(world, request);
  const overhead = Buffer.byteLength(head(request.groupId, 0)) + 2;
  const budget = maxPageBytes === undefined ? undefined : maxPageBytes - overhead;
  const page: Page =
    stream === undefined ? { items: [], isFinished: 1 } : renderPage(world, stream, request, budget);
  const text = `${head(request.groupId, page.isFinished)}${page.items.join(',')}]}`;
  return { code: 0, body: text, messages: page.items.length };
}

/**
 * How many calls a sequential page-follower needs for the whole retained history of a stream:
 * newest first, 20 a call, each next request below what the last page covered (its smallest seq,
 * or the whole request when IsFinished is 1), until seq 1 or an expired page. The benchmark's
 * yardstick; computed in process, without HTTP or rate limits.
 */
export function sequentialPulls(
  world: SimWorld,
  stream: StreamState,
  options: {
    readonly groupId: string;
    /** `WithRecalledMsg` of every request. */
    readonly withRecalled: boolean;
    /** The server's page byte budget, if any (as in {@link groupMsgGetSimple}). */
    readonly maxPageBytes: number | undefined;
  },
): number {
  const { groupId, withRecalled, maxPageBytes } = options;
  const overhead = Buffer.byteLength(head(groupId, 0)) + 2;
  const budget = maxPageBytes === undefined ? undefined : maxPageBytes - overhead;
  let calls = 0;
  let seq = stream.nextSeq - 1;
  while (seq >= 1) {
    const request = {
      groupId,
      reqMsgNumber: MAX_PAGE_MESSAGES,
      reqMsgSeq: seq,
      withRecalled,
      topicId: undefined,
    };
    const page = renderPage(world, stream, request, budget);
    calls++;
    if (page.isFinished === 2) break;
    if (page.isFinished === 1) {
      seq -= MAX_PAGE_MESSAGES;
      continue;
    }
    if (page.items.length === 0) break;
    const last = JSON.parse(page.items.at(-1) as string) as { MsgSeq: number };
    seq = last.MsgSeq - 1;
  }
  return calls;
}
