/**
 * Tencent Cloud Chat UserSig (TLSSigAPIv2, HMAC-SHA256): generate, decode and verify, plus the two
 * providers that hand the admin UserSig to the REST client.
 *
 * Why our own implementation rather than the official npm package `tls-sig-api-v2`:
 * - it reads the clock itself (`Date.now()`), so the issue time cannot be injected or pinned;
 * - it has no decode and no verify (only the Go and PHP libraries ship one), and we need both to
 *   check a ready-made sig at start-up instead of at the first failed request;
 * - it ships no types.
 * The package stays a dev dependency and serves as the test oracle (test/unit/user-sig.test.ts).
 *
 * Algorithm (identical in all official libraries): sign
 * `TLS.identifier:<id>\nTLS.sdkappid:<n>\nTLS.time:<t>\nTLS.expire:<s>\n[TLS.userbuf:<b64>\n]`
 * with HMAC-SHA256 keyed by the UTF-8 bytes of the console key (used as a string, not hex-decoded),
 * put the base64 HMAC into a JSON document, zlib-deflate it, base64 it, and swap `+/=` for `*-_`.
 * The string is not canonical (key order, spacing and compression level differ between official
 * libraries), so decoding must accept any JSON layout and any zlib stream; only `TLS.sig` is
 * deterministic.
 *
 * Secrets: the key and every UserSig are credentials. No error message or log line built here
 * contains either, and causes that could echo them (JSON.parse, zod) are not attached.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { deflateSync, inflateSync } from 'node:zlib';
import * as z from 'zod';
import { ConfigError, GiveUpError } from '../../domain/errors.ts';
import type { Clock, Logger } from '../../domain/ports.ts';
import { UserSigFormatError } from '../errors.ts';

/** `TLS.ver` written by every TLSSigAPIv2 implementation. */
const SIG_VERSION = '2.0';
/** Real sigs are about 200 characters; anything far longer is not a UserSig. */
const MAX_USER_SIG_CHARS = 8_192;
/** Bound on the inflated JSON document, so a crafted input cannot inflate into a zip bomb. */
const MAX_DOCUMENT_BYTES = 16_384;
/** A sig shorter than a minute would be renewed on nearly every request. */
const MIN_LIFETIME_SECONDS = 60;
/** Tencent: "建议 UserSig 有效期 … 最长不超过50年" (docs/tencent-api.md, UserSig). */
const MAX_LIFETIME_SECONDS = 50 * 365 * 86_400;
/** One day: the documented minimum ("不小于24小时"), and a fresh sig per daily run. */
const DEFAULT_LIFETIME_SECONDS = 86_400;
/** A week gives an operator time to rotate a ready-made sig before the nightly runs start failing. */
const DEFAULT_WARN_BEFORE_SECONDS = 7 * 86_400;
/** Warn about an expiring ready-made sig at most this often, so a busy run does not flood the log. */
const WARN_INTERVAL_SECONDS = 86_400;

/** The UserSig alphabet: base64 with `+` → `*`, `/` → `-`, padding `=` → `_`. */
const USER_SIG_PATTERN = /^[A-Za-z0-9*-]+_{0,2}$/;
/** Standard base64 (with padding), as used for `TLS.sig` and `TLS.userbuf` inside the document. */
const STD_BASE64_PATTERN = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** The fields of a decoded UserSig. `sig` is the base64 HMAC (`TLS.sig`): treat it as a secret. */
export interface DecodedUserSig {
  version: string;
  identifier: string;
  sdkAppId: number;
  /** `TLS.time`: issue time, Unix seconds. */
  timeSeconds: number;
  /** `TLS.expire`: lifetime relative to `timeSeconds`. */
  expireSeconds: number;
  /** `timeSeconds + expireSeconds`; the sig is expired once the clock is past this second. */
  expiresAtSeconds: number;
  sig: string;
  /** `TLS.userbuf` (standard base64) when present; IM sigs carry none. */
  userBuf?: string;
}

/** Outcome of {@link verifyUserSig}; a failure says why without echoing any secret. */
export type UserSigVerdict =
  | { ok: true; expiresAtSeconds: number }
  | {
      ok: false;
      reason: 'malformed' | 'expired' | 'sdkappid-mismatch' | 'identifier-mismatch' | 'signature-mismatch';
    };

/** Supplies the admin UserSig to the HTTP client. */
export interface UserSigProvider {
  /** A sig valid for at least a little longer (renews before expiry). */
  current(): string;
  /** Called once after the server said expired/invalid (70001/70003/…): returns a fresh sig, or throws GiveUpError('fatal-config') if it cannot (ready-made sig). */
  regenerate(): string;
  /** Every secret string this provider has handed out or holds (the key and sigs), for log redaction. */
  secrets(): readonly string[];
}

// ---------------------------------------------------------------------------------------------
// Encoding primitives
// ---------------------------------------------------------------------------------------------

function toUserSigAlphabet(base64: string): string {
  return base64.replace(/\+/g, '*').replace(/\//g, '-').replace(/=/g, '_');
}

function fromUserSigAlphabet(userSig: string): string {
  return userSig.replace(/\*/g, '+').replace(/-/g, '/').replace(/_/g, '=');
}

interface SignedFields {
  identifier: string;
  sdkAppId: number;
  timeSeconds: number;
  expireSeconds: number;
  userBuf?: string | undefined;
}

/** The exact text the HMAC covers: fixed line order, LF-terminated, decimal numbers, no spaces. */
function signedContent(fields: SignedFields): string {
  const userBufLine = fields.userBuf === undefined ? '' : `TLS.userbuf:${fields.userBuf}\n`;
  return (
    `TLS.identifier:${fields.identifier}\n` +
    `TLS.sdkappid:${fields.sdkAppId}\n` +
    `TLS.time:${fields.timeSeconds}\n` +
    `TLS.expire:${fields.expireSeconds}\n` +
    userBufLine
  );
}

function hmacSha256(key: string, content: string): Buffer {
  return createHmac('sha256', Buffer.from(key, 'utf8')).update(content, 'utf8').digest();
}

// ---------------------------------------------------------------------------------------------
// Input validation (messages name the field, never the value of a secret)
// ---------------------------------------------------------------------------------------------

function requireInteger(value: number, field: string, min: number, max = Number.MAX_SAFE_INTEGER): void {
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    const range = max === Number.MAX_SAFE_INTEGER ? `>= ${min}` : `between ${min} and ${max}`;
    throw new ConfigError(`${field} must be an integer ${range}, got ${String(value)}`, { field });
  }
}

function requireNonEmpty(value: string, field: string, what: string): void {
  if (typeof value !== 'string' || value.length === 0) {
    throw new ConfigError(`${field} must be a non-empty string (${what})`, { field });
  }
}

function validateSigningInputs(args: { sdkAppId: number; key: string; identifier: string }): void {
  requireInteger(args.sdkAppId, 'sdkAppId', 1);
  requireNonEmpty(args.key, 'key', 'the secret key from the Tencent Cloud Chat console');
  requireNonEmpty(args.identifier, 'identifier', 'the App admin account');
}

// ---------------------------------------------------------------------------------------------
// Generate, decode, verify
// ---------------------------------------------------------------------------------------------

/**
 * Generates a TLSSigAPIv2 UserSig issued at `nowSeconds` and valid for `expireSeconds`.
 *
 * The JSON layout (compact, keys in the Node library's order) and default zlib level match the
 * official npm package, so for the same inputs the result equals its output byte for byte.
 *
 * @throws ConfigError naming the field when an input is out of range (never echoing the key).
 * @example
 * genUserSig({ sdkAppId: 1400000000, key, identifier: 'administrator', expireSeconds: 86400, nowSeconds: 1700000000 });
 */
export function genUserSig(args: {
  sdkAppId: number;
  key: string;
  identifier: string;
  expireSeconds: number;
  nowSeconds: number;
}): string {
  validateSigningInputs(args);
  requireInteger(args.expireSeconds, 'expireSeconds', 1);
  requireInteger(args.nowSeconds, 'nowSeconds', 0);
  const fields: SignedFields = {
    identifier: args.identifier,
    sdkAppId: args.sdkAppId,
    timeSeconds: args.nowSeconds,
    expireSeconds: args.expireSeconds,
  };
  const document = {
    'TLS.ver': SIG_VERSION,
    'TLS.identifier': fields.identifier,
    'TLS.sdkappid': fields.sdkAppId,
    'TLS.time': fields.timeSeconds,
    'TLS.expire': fields.expireSeconds,
    'TLS.sig': hmacSha256(args.key, signedContent(fields)).toString('base64'),
  };
  return toUserSigAlphabet(deflateSync(Buffer.from(JSON.stringify(document), 'utf8')).toString('base64'));
}

const userSigDocumentSchema = z.object({
  'TLS.ver': z.string(),
  'TLS.identifier': z.string().min(1),
  'TLS.sdkappid': z.int().positive(),
  'TLS.time': z.int().nonnegative(),
  'TLS.expire': z.int().nonnegative(),
  'TLS.sig': z.string().min(1).regex(STD_BASE64_PATTERN),
  'TLS.userbuf': z.string().regex(STD_BASE64_PATTERN).optional(),
});

function inflateUserSig(userSig: string): Buffer {
  if (typeof userSig !== 'string' || userSig.length === 0) {
    throw new UserSigFormatError('UserSig is empty');
  }
  if (userSig.length > MAX_USER_SIG_CHARS) {
    throw new UserSigFormatError(`UserSig is ${userSig.length} characters long; real ones are about 200`);
  }
  if (!USER_SIG_PATTERN.test(userSig)) {
    throw new UserSigFormatError(
      'UserSig contains characters outside its alphabet [A-Za-z0-9*_-] (stray whitespace or quotes?)',
    );
  }
  try {
    return inflateSync(Buffer.from(fromUserSigAlphabet(userSig), 'base64'), {
      maxOutputLength: MAX_DOCUMENT_BYTES,
    });
  } catch (error) {
    // zlib messages ("incorrect header check", "Cannot create a Buffer larger than …") carry no input bytes.
    throw new UserSigFormatError('UserSig is not a zlib-compressed TLSSigAPIv2 document', { cause: error });
  }
}

function parseDocument(json: string): unknown {
  try {
    return JSON.parse(json);
  } catch {
    // No `cause`: V8's SyntaxError quotes the start of the text, which may include `TLS.sig`.
    throw new UserSigFormatError('UserSig does not contain a JSON document');
  }
}

/**
 * Decodes a UserSig into its fields. Accepts every official layout (any key order and spacing,
 * any zlib compression level, a trailing newline). Checks only the format: use
 * {@link verifyUserSig} to check the signature and expiry.
 *
 * @throws UserSigFormatError when the string is not a TLSSigAPIv2 UserSig; the message never contains the sig.
 */
export function decodeUserSig(userSig: string): DecodedUserSig {
  const parsed = userSigDocumentSchema.safeParse(parseDocument(inflateUserSig(userSig).toString('utf8')));
  if (!parsed.success) {
    // Only the field names: zod issues would be safe today, but the paths are all a reader needs.
    const fields = [...new Set(parsed.error.issues.map((issue) => issue.path.join('.') || '(document)'))];
    throw new UserSigFormatError(`UserSig document has missing or invalid fields: ${fields.join(', ')}`);
  }
  const doc = parsed.data;
  const decoded: DecodedUserSig = {
    version: doc['TLS.ver'],
    identifier: doc['TLS.identifier'],
    sdkAppId: doc['TLS.sdkappid'],
    timeSeconds: doc['TLS.time'],
    expireSeconds: doc['TLS.expire'],
    expiresAtSeconds: doc['TLS.time'] + doc['TLS.expire'],
    sig: doc['TLS.sig'],
  };
  if (doc['TLS.userbuf'] !== undefined) decoded.userBuf = doc['TLS.userbuf'];
  return decoded;
}

/**
 * Verifies a UserSig the way the official Go `VerifyUserSig` does, in the same order: format,
 * SDKAppID, identifier, expiry (`now > time + expire`), then the HMAC (compared in constant time).
 * A `TLS.userbuf`, if present, is covered by the HMAC like the official libraries do.
 *
 * Never throws for a bad sig: the verdict names the first failed check.
 */
export function verifyUserSig(args: {
  userSig: string;
  sdkAppId: number;
  identifier: string;
  key: string;
  nowSeconds: number;
}): UserSigVerdict {
  let doc: DecodedUserSig;
  try {
    doc = decodeUserSig(args.userSig);
  } catch (error) {
    if (error instanceof UserSigFormatError) return { ok: false, reason: 'malformed' };
    throw error;
  }
  if (doc.sdkAppId !== args.sdkAppId) return { ok: false, reason: 'sdkappid-mismatch' };
  if (doc.identifier !== args.identifier) return { ok: false, reason: 'identifier-mismatch' };
  if (args.nowSeconds > doc.expiresAtSeconds) return { ok: false, reason: 'expired' };
  const expected = hmacSha256(args.key, signedContent(doc));
  const actual = Buffer.from(doc.sig, 'base64');
  if (actual.length !== expected.length || !timingSafeEqual(actual, expected)) {
    return { ok: false, reason: 'signature-mismatch' };
  }
  return { ok: true, expiresAtSeconds: doc.expiresAtSeconds };
}

// ---------------------------------------------------------------------------------------------
// Providers
// ---------------------------------------------------------------------------------------------

function nowSeconds(clock: Clock): number {
  return Math.floor(clock.now() / 1000);
}

function isoSeconds(unixSeconds: number): string {
  return new Date(unixSeconds * 1000).toISOString();
}

/**
 * A provider that signs its own admin UserSig from the secret key (the recommended setup): the sig
 * is cached and re-signed once fewer than `renewBeforeSeconds` remain, so it never expires mid-run.
 *
 * `regenerate()` signs anew at the current time. If the server rejected a sig issued this very
 * second, the new one is identical and the retry fails the same way; that is the right outcome,
 * since the cause (clock skew, wrong key) is not something a new sig can fix.
 *
 * @param args.lifetimeSeconds `TLS.expire` of each sig; default 86400 (1 day), allowed 60 s to 50 years.
 * @param args.renewBeforeSeconds renew this long before expiry; default a tenth of the lifetime.
 * @throws ConfigError naming the field (`sdkAppId`, `key`, `identifier`, `lifetimeSeconds`, `renewBeforeSeconds`).
 */
export function userSigFromKey(args: {
  sdkAppId: number;
  key: string;
  identifier: string;
  lifetimeSeconds?: number;
  renewBeforeSeconds?: number;
  clock: Clock;
}): UserSigProvider {
  validateSigningInputs(args);
  const lifetime = args.lifetimeSeconds ?? DEFAULT_LIFETIME_SECONDS;
  requireInteger(lifetime, 'lifetimeSeconds', MIN_LIFETIME_SECONDS, MAX_LIFETIME_SECONDS);
  const renewBefore = args.renewBeforeSeconds ?? Math.floor(lifetime / 10);
  requireInteger(renewBefore, 'renewBeforeSeconds', 0, lifetime - 1);

  // Every sig ever handed out stays registered: a log line may quote an old request URL.
  const issued = new Set<string>();
  let cached: { userSig: string; expiresAtSeconds: number } | undefined;

  const issue = (): string => {
    const now = nowSeconds(args.clock);
    const { sdkAppId, key, identifier } = args;
    const userSig = genUserSig({ sdkAppId, key, identifier, expireSeconds: lifetime, nowSeconds: now });
    issued.add(userSig);
    cached = { userSig, expiresAtSeconds: now + lifetime };
    return userSig;
  };

  return {
    current: () => {
      if (cached !== undefined && cached.expiresAtSeconds - nowSeconds(args.clock) >= renewBefore) {
        return cached.userSig;
      }
      return issue();
    },
    regenerate: issue,
    secrets: () => [args.key, ...issued],
  };
}

function decodeConfiguredSig(userSig: string): DecodedUserSig {
  try {
    return decodeUserSig(userSig);
  } catch (error) {
    const detail = error instanceof Error ? error.message : 'unreadable';
    throw new ConfigError(`The configured userSig is not a valid Tencent UserSig: ${detail}`, {
      field: 'userSig',
      cause: error,
    });
  }
}

function assertSigMatchesConfig(decoded: DecodedUserSig, sdkAppId: number, identifier: string): void {
  if (decoded.sdkAppId !== sdkAppId) {
    throw new ConfigError(
      `The configured userSig was issued for SDKAppID ${decoded.sdkAppId}, but sdkAppId is ${sdkAppId}`,
      { field: 'userSig' },
    );
  }
  if (decoded.identifier !== identifier) {
    throw new ConfigError(
      `The configured userSig was issued for identifier "${decoded.identifier}", but identifier is "${identifier}"`,
      { field: 'userSig' },
    );
  }
}

function expiredSigError(decoded: DecodedUserSig, now: number): ConfigError {
  const hoursAgo = Math.floor((now - decoded.expiresAtSeconds) / 3600);
  return new ConfigError(
    `The configured userSig expired at ${isoSeconds(decoded.expiresAtSeconds)} (${hoursAgo} hours ago); ` +
      'configure the secret key (it renews itself) or a new userSig',
    { field: 'userSig' },
  );
}

/**
 * A provider for a ready-made UserSig (configured instead of the secret key). The sig is decoded
 * and checked against the config up front; its HMAC cannot be checked without the key.
 * `current()` warns through `logger` (at most once a day) once fewer than `warnBeforeSeconds`
 * remain, and throws once it has expired. `regenerate()` always gives up: only the key can sign.
 *
 * @param args.warnBeforeSeconds start warning this long before expiry; default 7 days.
 * @throws ConfigError (field `userSig`) when the sig is malformed, issued for another SDKAppID or
 *   identifier, or already expired; (field `warnBeforeSeconds`) when that is negative.
 */
export function userSigFromReadySig(args: {
  userSig: string;
  sdkAppId: number;
  identifier: string;
  clock: Clock;
  logger: Logger;
  warnBeforeSeconds?: number;
}): UserSigProvider {
  const decoded = decodeConfiguredSig(args.userSig);
  assertSigMatchesConfig(decoded, args.sdkAppId, args.identifier);
  const warnBefore = args.warnBeforeSeconds ?? DEFAULT_WARN_BEFORE_SECONDS;
  requireInteger(warnBefore, 'warnBeforeSeconds', 0);
  let lastWarnedAt: number | undefined;

  const warnIfExpiringSoon = (now: number): void => {
    const remaining = decoded.expiresAtSeconds - now;
    if (remaining > warnBefore) return;
    if (lastWarnedAt !== undefined && now - lastWarnedAt < WARN_INTERVAL_SECONDS) return;
    lastWarnedAt = now;
    const hoursLeft = Math.floor(remaining / 3600);
    args.logger.warn(
      `The configured Tencent UserSig expires in ${hoursLeft} hours; ` +
        'configure the secret key (it renews itself) or a new userSig before then',
      { expiresAt: isoSeconds(decoded.expiresAtSeconds), hoursLeft },
    );
  };

  const current = (): string => {
    const now = nowSeconds(args.clock);
    if (now > decoded.expiresAtSeconds) throw expiredSigError(decoded, now);
    warnIfExpiringSoon(now);
    return args.userSig;
  };

  current(); // fail (or warn) at start-up rather than at the first request
  return {
    current,
    regenerate: () => {
      // attempts: 1 — the request the server just refused is the only attempt this sig can make.
      throw new GiveUpError(
        'fatal-config',
        'Tencent rejected the configured userSig, and a ready-made UserSig cannot be renewed: ' +
          'configure the secret key (it renews itself) or a new userSig',
        { attempts: 1 },
      );
    },
    secrets: () => [args.userSig],
  };
}
