/**
 * Authenticating a Tencent IM third-party callback (issue 25; facts and sources in
 * docs/tencent-api.md, "Third-party callbacks").
 *
 * With a callback token set in the console, Tencent adds `Sign` and `RequestTime` to the callback
 * URL's query, where `Sign` is the lowercase hex SHA-256 of the token followed by `RequestTime`
 * (epoch seconds, as text). The receiver refuses a `RequestTime` more than 60 s from its own clock
 * and an `SdkAppid` other than its app's. The Sign does not cover the body: within the window a
 * captured request can be replayed with another body, so what a callback says is "unconfirmed"
 * until the pull agrees (docs/callbacks.md).
 *
 * Pure: the caller passes its clock reading. The comparison takes the same time whatever the
 * given Sign holds (both sides are hashed to 32 bytes first, then compared with
 * `timingSafeEqual`), so a forger learns nothing from response times.
 */
import { createHash, timingSafeEqual } from 'node:crypto';

/** The replay window Tencent's callback documentation recommends: one minute either side. */
export const CALLBACK_WINDOW_SECONDS = 60;

/** The callback URL's query parameters the receiver reads (each as received, undefined when absent). */
export interface CallbackQuery {
  readonly sdkAppId: string | undefined;
  readonly command: string | undefined;
  readonly sign: string | undefined;
  readonly requestTime: string | undefined;
}

/** What the receiver expects: its app, the token, and its clock. */
export interface CallbackExpectation {
  readonly sdkAppId: number;
  readonly token: string;
  /** The receiver's clock, epoch seconds. */
  readonly nowSeconds: number;
  /** Default {@link CALLBACK_WINDOW_SECONDS}. */
  readonly windowSeconds?: number;
}

/** Why a request was refused; each is counted in its own metric. */
export const CALLBACK_REFUSALS = [
  'wrong-app',
  'no-command',
  'no-sign',
  'bad-time',
  'stale',
  'forged',
] as const;
export type CallbackRefusal = (typeof CALLBACK_REFUSALS)[number];

export type CallbackVerdict =
  | { ok: true; command: string; requestTime: number }
  | { ok: false; refusal: CallbackRefusal };

/** `hex(sha256(token + requestTime))`, the Sign Tencent sends. */
export function callbackSign(token: string, requestTime: string): string {
  return createHash('sha256')
    .update(token + requestTime, 'utf8')
    .digest('hex');
}

/** RequestTime as sent: decimal epoch seconds, nothing else (no sign, no fraction, no spaces). */
function parseRequestTime(text: string): number | undefined {
  if (!/^[0-9]{1,12}$/.test(text)) return undefined;
  return Number(text);
}

function sameSign(given: string, expected: string): boolean {
  const digest = (text: string) => createHash('sha256').update(text, 'utf8').digest();
  return timingSafeEqual(digest(given.toLowerCase()), digest(expected));
}

/**
 * The verdict on one request's query. Order: the app, the command, then the Sign and its time, so
 * that a request for another app is refused before any secret is used.
 */
export function verifyCallback(query: CallbackQuery, expect: CallbackExpectation): CallbackVerdict {
  if (query.sdkAppId !== String(expect.sdkAppId)) return { ok: false, refusal: 'wrong-app' };
  if (query.command === undefined || query.command === '') return { ok: false, refusal: 'no-command' };
  if (query.sign === undefined || query.requestTime === undefined) return { ok: false, refusal: 'no-sign' };
  const requestTime = parseRequestTime(query.requestTime);
  if (requestTime === undefined) return { ok: false, refusal: 'bad-time' };
  const window = expect.windowSeconds ?? CALLBACK_WINDOW_SECONDS;
  // The Sign is checked even when the time is stale, so both refusals take the same time.
  const signed = sameSign(query.sign, callbackSign(expect.token, query.requestTime));
  if (Math.abs(expect.nowSeconds - requestTime) > window) return { ok: false, refusal: 'stale' };
  if (!signed) return { ok: false, refusal: 'forged' };
  return { ok: true, command: query.command, requestTime };
}
