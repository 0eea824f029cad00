/**
 * `v4/openim/admin_getroammsg` (docs/tencent-api.md, admin_getroammsg): one page of a one-to-one
 * conversation from one side, served from c2c-world.ts with the strict readings that page lists:
 *
 * - the request is checked by {@link RoamRequest}: a wrong JSON type (`"100"` is not 100), a
 *   missing field, `MaxCnt` outside 1..100 or `MinTime` > `MaxTime` is 90001; `Operator_Account`
 *   missing, not a string or unknown is 90008, `Peer_Account` likewise 90003;
 * - both times inclusive; pages move backwards in time, newest first inside a page too unless the
 *   dataset asks for the samples' ascending order (`pageOrder`); a page ends at `MaxCnt` messages or
 *   before the answer's JSON would pass 13,312 bytes, never with fewer than one message;
 * - a continuation names the previous page's `LastMsgKey` with `MaxTime` = its `LastMsgTime`, and
 *   goes on right after that message; a key that is not one of the operator's messages at
 *   `MaxTime` is 90001;
 * - `LastMsgKey`/`LastMsgTime` name the page's last (oldest) message, `Complete` is 1 when nothing
 *   of the window is left ('' and 0 for an empty page).
 */
import * as z from 'zod';
import type { JsonObject, RoamMessage } from '../domain/tencent-types.ts';
import type { C2cWorld } from './c2c-world.ts';
import { type ApiAnswer, ApiFailure, type BodyObject, OK_HEAD } from './envelope.ts';
import type { SimIdentities } from './identities.ts';

/** "目前为13K": the answer's size cap, read as 13 KiB of JSON, envelope included. */
export const ROAM_PAGE_BYTES = 13 * 1024;
/** `MaxCnt` bounds: none documented; the sample's 100 is taken as the maximum. */
export const MAX_ROAM_COUNT = 100;

const int = z.number().int();

/** The request schema (also listed in request-schemas.ts). Unknown fields are ignored. */
export const RoamRequest = z.looseObject({
  Operator_Account: z.string().min(1),
  Peer_Account: z.string().min(1),
  MaxCnt: int.min(1).max(MAX_ROAM_COUNT),
  MinTime: int.nonnegative(),
  MaxTime: int.nonnegative(),
  LastMsgKey: z.string().min(1).optional(),
});
export type RoamRequestBody = z.output<typeof RoamRequest>;

/** The code of a bad request: the account fields have their own (90008, 90003), the rest 90001. */
function requestFailure(error: z.ZodError): ApiFailure {
  const fields = new Set(error.issues.map((issue) => String(issue.path[0] ?? '')));
  const details = error.issues
    .slice(0, 3)
    .map((issue) => `${issue.path.join('.') || '(body)'}: ${issue.message}`)
    .join('; ');
  if (fields.has('Operator_Account')) return new ApiFailure(90008, `Operator_Account: ${details}`);
  if (fields.has('Peer_Account')) return new ApiFailure(90003, `Peer_Account: ${details}`);
  return new ApiFailure(90001, `invalid request: ${details}`);
}

/**
 * The checked request.
 * @throws ApiFailure 90001, 90003 or 90008 (see the file header).
 */
export function parseRoamRequest(body: BodyObject, identities: SimIdentities): RoamRequestBody {
  const checked = RoamRequest.safeParse(body);
  if (!checked.success) throw requestFailure(checked.error);
  const request = checked.data;
  if (!identities.isKnown(request.Operator_Account))
    throw new ApiFailure(90008, 'Operator_Account does not exist');
  if (!identities.isKnown(request.Peer_Account)) throw new ApiFailure(90003, 'Peer_Account does not exist');
  if (request.MinTime > request.MaxTime) throw new ApiFailure(90001, 'MinTime is after MaxTime');
  return request;
}

/** The window's messages newest first, after the continuation's message when there is one. */
function remaining(world: C2cWorld, request: RoamRequestBody): RoamMessage[] {
  const all = world.visible(request.Operator_Account, request.Peer_Account);
  const window = all.filter((m) => m.MsgTimeStamp >= request.MinTime && m.MsgTimeStamp <= request.MaxTime);
  window.reverse();
  const key = request.LastMsgKey;
  if (key === undefined) return window;
  const at = window.findIndex((m) => m.MsgKey === key);
  if (at < 0 || window[at]?.MsgTimeStamp !== request.MaxTime) {
    throw new ApiFailure(90001, 'LastMsgKey is not a message of this conversation at MaxTime');
  }
  return window.slice(at + 1);
}

/** One page of `admin_getroammsg`. @throws ApiFailure for a bad request (see the file header) */
export function adminGetRoamMsg(
  world: C2cWorld,
  identities: SimIdentities,
  body: BodyObject,
  maxBytes: number = ROAM_PAGE_BYTES,
): ApiAnswer {
  const request = parseRoamRequest(body, identities);
  const left = remaining(world, request);
  const page: RoamMessage[] = [];
  const answer = (complete: boolean): JsonObject => {
    const last = page.at(-1);
    return {
      ...OK_HEAD,
      Complete: complete ? 1 : 0,
      MsgCnt: page.length,
      LastMsgTime: last?.MsgTimeStamp ?? 0,
      LastMsgKey: last?.MsgKey ?? '',
      MsgList: world.pageOrder === 'ascending' ? [...page].reverse() : page,
    };
  };
  let text = JSON.stringify(answer(left.length === 0));
  for (const message of left) {
    if (page.length >= request.MaxCnt) break;
    page.push(message);
    const next = JSON.stringify(answer(page.length === left.length));
    if (page.length > 1 && Buffer.byteLength(next) > maxBytes) {
      page.pop();
      break;
    }
    text = next;
  }
  if (page.length < left.length) text = JSON.stringify(answer(false));
  return { code: 0, body: text, messages: page.length };
}

/**
 * The calls a sequential pager needs to read `operator`'s view of the conversation with `peer`
 * whole: `MaxCnt` 100 (the engine's, functions/engine/c2c-pass.ts), the first call with `MaxTime`
 * now, each next one with the page before's `LastMsgKey`/`LastMsgTime`, until `Complete`. The pages
 * are {@link adminGetRoamMsg}'s own, called in process (no HTTP, no rate limit), so they are cut at
 * `MaxCnt` or the 13 KiB answer exactly as served. The minimum the benchmark compares calls with
 * (bench/run.ts, section `c2c`); at least 1 (an empty conversation still takes one call).
 */
export function sequentialRoamPulls(
  world: C2cWorld,
  identities: SimIdentities,
  pair: { operator: string; peer: string },
): number {
  const maxTime = world.nowSec() + 2;
  let cursor: { key: string; time: number } | undefined;
  for (let calls = 1; ; calls++) {
    const body: BodyObject = {
      Operator_Account: pair.operator,
      Peer_Account: pair.peer,
      MaxCnt: MAX_ROAM_COUNT,
      MinTime: 0,
      MaxTime: cursor?.time ?? maxTime,
      ...(cursor === undefined ? {} : { LastMsgKey: cursor.key }),
    };
    const page = JSON.parse(adminGetRoamMsg(world, identities, body).body) as {
      Complete: number;
      LastMsgKey: string;
      LastMsgTime: number;
    };
    if (page.Complete === 1) return calls;
    cursor = { key: page.LastMsgKey, time: page.LastMsgTime };
  }
}
