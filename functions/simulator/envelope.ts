/**
 * The REST envelope (`{ActionStatus, ErrorInfo, ErrorCode, ...}`), default error texts, and the
 * lossless request-body parser shared by the gateway and the API handlers.
 */
import { isInteger, isSafeNumber, parse } from 'lossless-json';
import { ArchiverError } from '../domain/errors.ts';
import type { JsonObject, JsonValue } from '../domain/tencent-types.ts';

/** An HTTP 200 answer: the JSON text plus what the stats need to know about it. */
export interface ApiAnswer {
  /** Envelope ErrorCode (0 = OK). */
  code: number;
  body: string;
  /** Messages in RspMsgList (group_msg_get_simple only). */
  messages: number;
}

/** Thrown inside a handler to answer `ActionStatus: FAIL` with `code`. */
export class ApiFailure extends ArchiverError {
  public readonly code: number;
  public constructor(code: number, info?: string) {
    super(info ?? errorInfo(code));
    this.name = 'ApiFailure';
    this.code = code;
  }
}

/** Wording adapted from the documented error tables (docs/tencent-api.md, Error codes). */
const ERROR_INFO: Record<number, string> = {
  10002: 'Err_SVR_GROUP_INTERNAL_ERROR: internal server error, please try again',
  10003: 'Err_SVR_GROUP_INVALID_REQ: invalid command',
  10004: 'Err_SVR_GROUP_INVALID_PARAMETERS: invalid parameters',
  10006: 'Err_SVR_GROUP_FREQ_LIMIT: operation frequency limited, please reduce the call rate',
  10007: 'Err_SVR_GROUP_PERMISSION_DENY: insufficient permission',
  10010: 'Err_SVR_GROUP_NOT_FOUND: the group does not exist or has been dissolved',
  10015: 'Err_SVR_GROUP_INVALID_GROUPID: invalid group ID',
  10044: 'Err_SVR_GROUP_NOT_SUPPORT_ROAMING: this group type does not support message history',
  11000: 'community (topic) feature is not enabled for this group',
  110003: 'topic does not exist or has been deleted',
  60002: 'HTTP parse error, please check the HTTP request URL format',
  60003: 'HTTP request JSON parse error, please check the JSON format',
  60004: 'account or signature error in the request URL or JSON body',
  60007: 'REST API call frequency exceeds the limit',
  60009: 'request resource error, please check the request URL',
  60010: 'the request requires App admin permission',
  60012: 'the REST API requires SDKAppID',
  70001: 'UserSig has expired, please generate a new one',
  70002: 'UserSig length is 0',
  70003: 'UserSig is invalid, please regenerate it with the official API',
  70009: 'UserSig verification failed: signature mismatch (wrong key or SDKAppID?)',
  70013: 'the UserID in the request does not match the UserID used to generate the UserSig',
  70014: 'the SDKAppID in the request does not match the SDKAppID used to generate the UserSig',
  70020: 'SDKAppID not found',
};

/** The default ErrorInfo for `code`. */
export function errorInfo(code: number): string {
  return ERROR_INFO[code] ?? `error ${code}`;
}

/** Envelope head shared by every successful answer. */
export const OK_HEAD = { ActionStatus: 'OK', ErrorInfo: '', ErrorCode: 0 } as const;

/** A `FAIL` answer with `code` (and the default text unless `info` is given). */
export function failure(code: number, info?: string): ApiAnswer {
  const body = JSON.stringify({ ActionStatus: 'FAIL', ErrorInfo: info ?? errorInfo(code), ErrorCode: code });
  return { code, body, messages: 0 };
}

/** A request body value after lossless parsing: integers beyond 2^53 are bigint. */
/** Request and response bodies are the domain's lossless JSON values. */
export type BodyValue = JsonValue;
export type BodyObject = JsonObject;

/** Integers that fit a double exactly stay numbers; larger ones become bigint, so `Next` survives. */
function parseNumber(text: string): number | bigint {
  if (isInteger(text) && !isSafeNumber(text)) return BigInt(text);
  return Number(text);
}

/**
 * Parses a request body losslessly. Returns undefined unless it is a JSON object: an empty body
 * or a non-object (`[]`, `1`) is a 60003 — the docs demand at least `{}` (docs/tencent-api.md, Request
 * format).
 */
export function parseBody(text: string): BodyObject | undefined {
  if (text.trim() === '') return undefined;
  try {
    const value = parse(text, null, parseNumber) as BodyValue;
    if (value === null || typeof value !== 'object' || Array.isArray(value)) return undefined;
    return value;
  } catch {
    return undefined;
  }
}
