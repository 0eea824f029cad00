/**
 * What the REST gateway checks before a request reaches a service: method, URL, query
 * parameters, SDKAppID, UserSig and admin rights (docs/tencent-api.md: Request format, UserSig, Error codes).
 */
import { verifyUserSig } from '../adapters/tencent/user-sig.ts';
import { type ApiAnswer, failure } from './envelope.ts';

/** The simulated APIs, by command name. */
export const API_NAMES = [
  'get_appid_group_list',
  'get_group_info',
  'group_msg_get_simple',
  'get_topic',
  'get_cos_sig',
  'portrait_get',
  'get_group_member_info',
  'get_specified_group_member_info',
  'admin_getroammsg',
  'get_history',
] as const;
export type ApiName = (typeof API_NAMES)[number];

/** A Tencent Cloud Chat application the simulator accepts. */
export interface SimulatorApp {
  sdkAppId: number;
  secretKey: string;
  adminIdentifier: string;
}

const SERVICES: Record<string, readonly ApiName[]> = {
  group_open_http_svc: [
    'get_appid_group_list',
    'get_group_info',
    'group_msg_get_simple',
    'get_group_member_info',
    'get_specified_group_member_info',
  ],
  profile: ['portrait_get'],
  million_group_open_http_svc: ['get_topic'],
  im_cos_msg: ['get_cos_sig'],
  openim: ['admin_getroammsg'],
  open_msg_svc: ['get_history'],
};

/** Where a URL path leads. */
export type Route =
  | { kind: 'api'; api: ApiName }
  /** A known service with a command it does not have (answered 10003 once authenticated). */
  | { kind: 'unknown-command' }
  /** Not `/v4/<known service>/<command>` at all (answered 60009 straight away). */
  | { kind: 'unknown-resource' };

/**
 * Routes `/v4/<service>/<command>`. Case-sensitive like the real URL. An unknown service cannot be
 * routed anywhere, so the gateway answers 60009 ("请求资源错误"); a known service with an unknown
 * command reaches that service, which answers 10003 ("请求命令字非法"; docs/tencent-api.md, Error codes). Calling an
 * API under the wrong service (get_topic under group_open_http_svc) is therefore 10003.
 */
export function route(pathname: string): Route {
  const parts = pathname.split('/');
  const [empty, version, service, command, ...rest] = parts;
  if (empty !== '' || version !== 'v4' || service === undefined || command === undefined || rest.length > 0) {
    return { kind: 'unknown-resource' };
  }
  const commands = SERVICES[service];
  if (commands === undefined) return { kind: 'unknown-resource' };
  const api = commands.find((name) => name === command);
  return api === undefined ? { kind: 'unknown-command' } : { kind: 'api', api };
}

export type GatewayVerdict = { ok: true; app: SimulatorApp } | { ok: false; answer: ApiAnswer };

const UINT_PATTERN = /^(0|[1-9][0-9]*)$/;
const UINT32_MAX = 4_294_967_295;

const SIG_FAILURE_CODES = {
  malformed: 70003,
  expired: 70001,
  'sdkappid-mismatch': 70014,
  'identifier-mismatch': 70013,
  'signature-mismatch': 70009,
} as const;

/**
 * 60002 for a bad `random` or `contenttype` (both are part of the URL format: docs/tencent-api.md, Request
 * format).
 */
function checkUrlFormat(query: URLSearchParams): ApiAnswer | undefined {
  const random = query.get('random');
  if (random === null || !UINT_PATTERN.test(random) || Number(random) > UINT32_MAX) {
    return failure(60002, 'HTTP parse error: random must be a 32-bit unsigned integer');
  }
  if (query.get('contenttype') !== 'json')
    return failure(60002, 'HTTP parse error: contenttype must be json');
  return undefined;
}

/**
 * Checks the query string in this order: sdkappid present (60012), random/contenttype (60002),
 * app known (70020), identifier present (60004), usersig present (70002), UserSig valid
 * (70003/70014/70013/70001/70009, in the official verifier's order), identifier is the app admin
 * (60010 — the sig is fine but the account may not call the REST API).
 */
export function checkQuery(
  query: URLSearchParams,
  apps: ReadonlyMap<number, SimulatorApp>,
  nowSec: number,
): GatewayVerdict {
  const fail = (answer: ApiAnswer): GatewayVerdict => ({ ok: false, answer });
  const sdkAppIdText = query.get('sdkappid');
  if (sdkAppIdText === null || sdkAppIdText === '') return fail(failure(60012));
  const urlError = checkUrlFormat(query);
  if (urlError !== undefined) return fail(urlError);
  const app = UINT_PATTERN.test(sdkAppIdText) ? apps.get(Number(sdkAppIdText)) : undefined;
  if (app === undefined) return fail(failure(70020));
  const identifier = query.get('identifier');
  if (identifier === null || identifier === '') return fail(failure(60004, 'identifier is required'));
  const userSig = query.get('usersig') ?? '';
  if (userSig === '') return fail(failure(70002));
  const verdict = verifyUserSig({
    userSig,
    sdkAppId: app.sdkAppId,
    identifier,
    key: app.secretKey,
    nowSeconds: nowSec,
  });
  if (!verdict.ok) return fail(failure(SIG_FAILURE_CODES[verdict.reason]));
  if (identifier !== app.adminIdentifier) return fail(failure(60010));
  return { ok: true, app };
}
