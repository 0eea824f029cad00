/**
 * The one place that decides what to do about a failed Tencent call: retry with backoff, slow down,
 * regenerate the UserSig, skip the group, or stop the run. The HTTP adapter obeys; it never decides.
 *
 * Hand-written rather than p-retry/async-retry: those own real timers and make their own
 * retry-or-not decision, while we need the decision to be a pure, table-tested function of the
 * documented error codes (docs/tencent-api.md, Error codes) with the clock and randomness injected.
 */
import { AbortedError, type GiveUpAction, GiveUpError, TencentApiError, TransportError } from './errors.ts';
import type { Random } from './ports.ts';

export type FailureClass =
  /** Transient: back off and try again (bounded). */
  | 'retry'
  /** A frequency limit: try this call again in the pacer's next slot, with a wider margin. */
  | 'slow-down'
  /** The UserSig was refused: make a new one and try once more. */
  | 'regenerate-signature'
  /** The answer would exceed 1 MB (10018): ask for fewer messages. */
  | 'shrink-request'
  /** This group (or topic) cannot be archived: record it and go on with the others. */
  | 'skip-group'
  /** The app's configuration is wrong (key, region, admin, plan): stop and tell the user how to fix it. */
  | 'fatal-config'
  /** A bug on our side (a malformed request): stop. */
  | 'fatal';

export interface Verdict {
  readonly class: FailureClass;
  /** What happened, in words. */
  readonly reason: string;
  /** For fatal classes: what the user should do. */
  readonly fix?: string;
}

const WRONG_KEY =
  'Check that the secret key belongs to this SDKAppID (console > Application > Basic configuration).';
const WRONG_REGION =
  'Check that the region (data center) in the config is the one the SDKAppID was created in, or set the endpoint.';
const NOT_ADMIN =
  'Set identifier to an App admin account (console > Application > Account management > administrators).';

const v = (cls: FailureClass, reason: string, fix?: string): Verdict =>
  fix === undefined ? { class: cls, reason } : { class: cls, reason, fix };

/** Documented codes (docs/tencent-api.md, Error codes). Anything else is treated as transient but bounded. */
const CODE_TABLE: ReadonlyMap<number, Verdict> = new Map([
  [60002, v('fatal', 'HTTP request URL could not be parsed (60002)', 'This is a bug; please report it.')],
  [60003, v('fatal', 'request JSON could not be parsed (60003)', 'This is a bug; please report it.')],
  [60004, v('regenerate-signature', 'account or signature in the request is wrong (60004)', WRONG_KEY)],
  [60005, v('regenerate-signature', 'account or signature in the request is wrong (60005)', WRONG_KEY)],
  [60006, v('fatal-config', 'the SDKAppID is not valid (60006)', 'Check sdkAppId in the config.')],
  [60007, v('slow-down', 'REST API call frequency limit exceeded (60007)')],
  [60008, v('retry', 'service request timed out (60008)')],
  [
    60009,
    v('fatal', 'requested resource is wrong (60009)', 'Check the endpoint override; this may be a bug.'),
  ],
  [60010, v('fatal-config', 'the request needs App admin rights (60010)', NOT_ADMIN)],
  [60011, v('slow-down', 'SDKAppID request frequency limit exceeded (60011)')],
  [60012, v('fatal', 'the request carries no SDKAppID (60012)', 'This is a bug; please report it.')],
  [60013, v('retry', 'HTTP response JSON parse error on the server side (60013)')],
  [60014, v('retry', 'account exchange timed out (60014)')],
  [60015, v('fatal', 'wrong account type in the request body (60015)', 'This is a bug; please report it.')],
  [60016, v('fatal-config', 'the SDKAppID is disabled (60016)', 'Re-enable the application in the console.')],
  [
    60017,
    v('fatal-config', 'the request is disabled (60017)', 'Contact Tencent support about this SDKAppID.'),
  ],
  [60018, v('slow-down', 'requests too frequent (60018)')],
  [60019, v('slow-down', 'requests too frequent (60019)')],
  [
    60020,
    v(
      'fatal-config',
      'the paid plan has expired (60020)',
      'Renew the plan; it takes effect 5 minutes later.',
    ),
  ],
  [
    60021,
    v(
      'fatal-config',
      'the caller IP is not allowed (60021)',
      'Add the egress IP to the REST API IP allow-list in the console, or remove the allow-list.',
    ),
  ],
  [70001, v('regenerate-signature', 'the UserSig has expired (70001)')],
  [70002, v('regenerate-signature', 'the UserSig is empty (70002)')],
  [70003, v('regenerate-signature', 'the UserSig could not be parsed (70003)')],
  [70005, v('regenerate-signature', 'the UserSig is invalid (70005)')],
  [
    70009,
    v(
      'fatal-config',
      'the UserSig failed verification: wrong secret key for this SDKAppID (70009)',
      WRONG_KEY,
    ),
  ],
  [
    70013,
    v(
      'fatal-config',
      'the identifier does not match the one the UserSig was made for (70013)',
      'Use the same admin identifier for the UserSig and the requests.',
    ),
  ],
  [
    70014,
    v(
      'fatal-config',
      'the SDKAppID does not match the one the UserSig was made for (70014)',
      'Use the UserSig or key of this SDKAppID.',
    ),
  ],
  [70016, v('fatal-config', 'no key exists for this SDKAppID in this data center (70016)', WRONG_REGION)],
  [70020, v('fatal-config', 'the SDKAppID was not found in this data center (70020)', WRONG_REGION)],
  [
    70050,
    v(
      'fatal-config',
      'too many failed UserSig verifications; the server blocks for a minute (70050)',
      `${WRONG_KEY} Then wait at least one minute before retrying.`,
    ),
  ],
  [70051, v('fatal-config', 'the account is blacklisted (70051)', 'Contact Tencent support.')],
  [70107, v('fatal-config', 'the admin account does not exist (70107)', NOT_ADMIN)],
  [70114, v('slow-down', 'login restricted for security reasons (70114)')],
  [70169, v('retry', 'server internal timeout (70169)')],
  [70202, v('retry', 'server internal timeout (70202)')],
  [70206, v('fatal', 'invalid batch size in the request (70206)', 'This is a bug; please report it.')],
  [70402, v('fatal', 'invalid parameter (70402)', 'This is a bug; please report it.')],
  [70403, v('fatal-config', 'the request needs App admin rights (70403)', NOT_ADMIN)],
  [70500, v('retry', 'server internal error (70500)')],
  [72000, v('fatal-config', 'the free trial DAU quota is used up (72000)', 'Upgrade the plan.')],
  // Group service (docs/tencent-api.md, Error codes).
  [10002, v('retry', 'server internal error (10002)')],
  [10003, v('fatal', 'invalid command word (10003)', 'Check the endpoint override; this may be a bug.')],
  [10004, v('skip-group', 'invalid parameter for this group (10004)')],
  [10006, v('slow-down', 'operation frequency limit (10006)')],
  [10007, v('fatal-config', 'insufficient permission: the caller must be an App admin (10007)', NOT_ADMIN)],
  [10008, v('regenerate-signature', 'signature verification failed (10008)')],
  [10010, v('skip-group', 'the group (or topic) has been dissolved (10010)')],
  [10015, v('skip-group', 'invalid group id: the group does not exist (10015)')],
  [10018, v('shrink-request', 'the answer exceeds the 1 MB limit (10018)')],
  [10044, v('skip-group', 'this group type keeps no history, e.g. AVChatRoom (10044)')],
  [11000, v('skip-group', 'Community features are not enabled for this app (11000)')],
  [110003, v('skip-group', 'the topic has been deleted (110003)')],
  // One-to-one history, admin_getroammsg (docs/tencent-api.md, admin_getroammsg): a gone account
  // skips the pair (skip-group: the pass skips that one target and goes on).
  [
    90001,
    v('fatal', 'the one-to-one history request was malformed (90001)', 'This is a bug; please report it.'),
  ],
  [90003, v('skip-group', 'the peer account does not exist (90003)')],
  // get_history's own codes (docs/tencent-api.md, get_history).
  [1001, v('fatal', 'the get_history request is invalid (1001)', 'This is a bug; please report it.')],
  [1002, v('fatal', 'a get_history parameter is invalid (1002)', 'This is a bug; please report it.')],
  [1003, v('retry', 'get_history system error (1003)')],
  [1004, v('skip-group', 'no hourly file: not made yet, or no message in the hour (1004)')],
  [1005, v('skip-group', 'the hourly file has expired (1005)')],
  [90008, v('skip-group', 'the operator account does not exist (90008)')],
  [90009, v('fatal-config', 'the request needs App admin rights (90009)', NOT_ADMIN)],
  [91000, v('retry', 'one-to-one service internal error (91000)')],
]);

/** Classify one `ErrorCode` from the API envelope. */
export function classifyTencentCode(code: number): Verdict {
  return (
    CODE_TABLE.get(code) ??
    v('retry', `undocumented ErrorCode ${code}; retrying a bounded number of times in case it is transient`)
  );
}

/** Classify any failure of one request. */
export function classifyFailure(error: unknown): Verdict {
  if (error instanceof TencentApiError) return classifyTencentCode(error.code);
  if (error instanceof TransportError) return classifyTransport(error);
  if (error instanceof AbortedError) return v('fatal', 'aborted');
  return v('fatal', `unexpected error: ${error instanceof Error ? error.message : String(error)}`);
}

function classifyTransport(error: TransportError): Verdict {
  switch (error.failure) {
    case 'network':
      return v('retry', 'network error');
    case 'timeout':
      return v('retry', 'request timed out');
    case 'malformed-body':
      return v('retry', 'malformed response body');
    case 'too-large':
      // Past the answer cap (http-post.ts): asking again gets the same answer. A history page asks
      // for fewer messages, down to one seq, which is then recorded as flagged (fetch-window.ts);
      // any other call gives up at once, like 10018.
      return v('shrink-request', error.message);
    case 'http-status': {
      const status = error.status ?? 0;
      // The API answers 200 except on network-level errors (docs/tencent-api.md, Request format): 5xx,
      // 408 and 429 are infrastructure hiccups. Other 4xx mean the URL points somewhere that is not the API.
      if (isTransientHttpStatus(status)) return v('retry', `HTTP ${status}`);
      return v(
        'fatal-config',
        `HTTP ${status} from the endpoint`,
        `${WRONG_REGION} A 4xx status means the URL is not the Tencent REST API.`,
      );
    }
  }
}

/**
 * An HTTP status worth another try, for the API and for media downloads alike: 5xx, 408 (request
 * timeout) and 429 (too many requests) are infrastructure hiccups.
 */
export function isTransientHttpStatus(status: number): boolean {
  return status >= 500 || status === 408 || status === 429;
}

export interface RetryOptions {
  /** Attempts per request, first one included. */
  readonly maxAttempts: number;
  /**
   * Attempts per request while the answers are frequency limits (default
   * {@link DEFAULT_SLOW_DOWN_ATTEMPTS}). Kept apart from `maxAttempts`: such an answer says nothing is
   * wrong with the request, only "later", and the pacer widens its margin after each one, so the
   * repeats grow further apart. A stalled process can mistime a few sends in a row on a 1/s API;
   * that must not fail the run.
   */
  readonly maxSlowDownAttempts?: number;
  readonly baseDelayMs: number;
  readonly maxDelayMs: number;
}

/** Frequency-limit answers one request may get before the run gives up on it. */
export const DEFAULT_SLOW_DOWN_ATTEMPTS = 30;

export const DEFAULT_RETRY_OPTIONS: RetryOptions = {
  maxAttempts: 8,
  baseDelayMs: 200,
  maxDelayMs: 20_000,
};

/**
 * Exponential backoff with full jitter (AWS Architecture Blog, "Exponential Backoff And Jitter"):
 * a uniform delay in [0, min(cap, base * 2^(attempt-1))).
 *
 * @param attempt - the attempt that just failed, starting at 1
 */
export function backoffDelayMs(attempt: number, options: RetryOptions, random: Random): number {
  const ceiling = Math.min(options.maxDelayMs, options.baseDelayMs * 2 ** Math.max(0, attempt - 1));
  return Math.floor(random() * ceiling);
}

export type RetryDecision =
  | {
      readonly kind: 'retry';
      readonly delayMs: number;
      /**
       * A frequency-limit answer: the caller tells the API's pacer (which widens its margin) and
       * sends this one call again in the pacer's next free slot, with no delay of its own. Nothing
       * else is paused: the other calls in flight were counted within the limit, and sleeping the
       * whole app for seconds would only waste the budget.
       */
      readonly slowDown: boolean;
      readonly verdict: Verdict;
    }
  | { readonly kind: 'regenerate-signature'; readonly verdict: Verdict }
  | {
      readonly kind: 'give-up';
      readonly action: GiveUpAction;
      readonly message: string;
      readonly verdict: Verdict;
    };

export interface RetryInput {
  readonly error: unknown;
  /** The attempt that just failed, starting at 1. */
  readonly attempt: number;
  /** Whether this request already regenerated its UserSig once. */
  readonly signatureRegenerated: boolean;
  readonly options: RetryOptions;
  readonly random: Random;
}

/**
 * Decide what to do after one failed attempt. Pure: the caller sleeps, pauses and regenerates.
 *
 * @returns `retry` with the delay (for frequency limits: none, and `slowDown` for the pacer),
 *   `regenerate-signature` (at most once per request), or `give-up` with a message that names the
 *   cause and, for configuration errors, the fix.
 */
export function decideRetry(input: RetryInput): RetryDecision {
  const verdict = classifyFailure(input.error);
  const giveUp = (action: GiveUpAction, message: string): RetryDecision => ({
    kind: 'give-up',
    action,
    message,
    verdict,
  });
  switch (verdict.class) {
    case 'regenerate-signature':
      if (!input.signatureRegenerated) return { kind: 'regenerate-signature', verdict };
      return giveUp(
        'fatal-config',
        `${verdict.reason}, even with a freshly generated UserSig. ${verdict.fix ?? WRONG_KEY}`,
      );
    case 'fatal-config':
      return giveUp('fatal-config', `${verdict.reason}. ${verdict.fix ?? ''}`.trim());
    case 'fatal':
      return giveUp(
        'fatal',
        verdict.fix === undefined ? verdict.reason : `${verdict.reason}. ${verdict.fix}`,
      );
    case 'skip-group':
      return giveUp('skip-group', verdict.reason);
    case 'shrink-request':
      return giveUp('shrink-request', verdict.reason);
    case 'retry':
    case 'slow-down': {
      const limit =
        verdict.class === 'slow-down'
          ? (input.options.maxSlowDownAttempts ?? DEFAULT_SLOW_DOWN_ATTEMPTS)
          : input.options.maxAttempts;
      if (input.attempt >= limit) {
        return giveUp('retries-exhausted', `${verdict.reason}; gave up after ${input.attempt} attempts`);
      }
      if (verdict.class === 'slow-down') return { kind: 'retry', delayMs: 0, slowDown: true, verdict };
      const backoff = backoffDelayMs(input.attempt, input.options, input.random);
      return { kind: 'retry', delayMs: backoff, slowDown: false, verdict };
    }
  }
}

// ---------------------------------------------------------------------------------------------
// What a give-up means to its caller: the one reading of GiveUpError's action
// ---------------------------------------------------------------------------------------------

function gaveUp(error: unknown, ...actions: readonly GiveUpAction[]): error is GiveUpError {
  return error instanceof GiveUpError && actions.includes(error.action);
}

/** The group (or topic) cannot be archived (dissolved, invalid, no history): skip it, go on with the others. */
export function isSkipTarget(error: unknown): error is GiveUpError {
  return gaveUp(error, 'skip-group');
}

/** The answer is too big (10018, or past the answer cap): ask for fewer messages. */
export function isShrinkRequest(error: unknown): error is GiveUpError {
  return gaveUp(error, 'shrink-request');
}

/** Stops the whole run, not one target: a bug on our side, or the app's configuration. */
export function isRunFatal(error: unknown): error is GiveUpError {
  return gaveUp(error, 'fatal', 'fatal-config');
}

/** The app's configuration is wrong (key, region, admin account, plan), even when found mid-run. */
export function isConfigGiveUp(error: unknown): error is GiveUpError {
  return gaveUp(error, 'fatal-config');
}

/** Transient failures outlasted the retries: a later run may well succeed. */
export function isRetriesExhausted(error: unknown): error is GiveUpError {
  return gaveUp(error, 'retries-exhausted');
}

// ---------------------------------------------------------------------------------------------
// Media downloads
// ---------------------------------------------------------------------------------------------

/** How one media download attempt failed below verification. */
export type MediaFailure =
  | { readonly kind: 'http-status'; readonly status: number; readonly retryAfterMs?: number | undefined }
  | { readonly kind: 'network'; readonly detail: string }
  | { readonly kind: 'timeout' }
  /** The download's total time limit ({@link downloadDeadlineMs}) passed. */
  | { readonly kind: 'deadline'; readonly limitMs: number };

/**
 * The total time one download may take, its attempts, redirects and back-off included: an idle
 * timeout alone lets a server that sends a byte just inside it hold a download slot for ever
 * (issue 21). `min(capMs, floorMs + size / minBytesPerSecond)`.
 */
export interface DownloadDeadlineOptions {
  /** Time any download gets, however small (connection, TLS, a signature, a retry or two). */
  readonly floorMs: number;
  /** The slowest transfer still accepted, in bytes per second. */
  readonly minBytesPerSecond: number;
  /** No download gets longer than this, whatever its size. */
  readonly capMs: number;
}

/** The total time limit of a download of `bytes` (the declared size, or the largest accepted). */
export function downloadDeadlineMs(bytes: number, options: DownloadDeadlineOptions): number {
  const needed = options.floorMs + Math.ceil((Math.max(0, bytes) * 1000) / options.minBytesPerSecond);
  return Math.min(options.capMs, needed);
}

export interface MediaRetryOptions {
  /** Attempts per URL in one run, first one included. */
  readonly maxAttempts: number;
  readonly baseDelayMs: number;
  readonly maxDelayMs: number;
  /** A `Retry-After` longer than this ends the attempts of this run (a later run tries again). */
  readonly maxRetryAfterMs: number;
}

export const DEFAULT_MEDIA_RETRY_OPTIONS: MediaRetryOptions = {
  maxAttempts: 5,
  baseDelayMs: 500,
  maxDelayMs: 30_000,
  maxRetryAfterMs: 120_000,
};

export type MediaDecision =
  /** Transient: wait `delayMs` (backoff, or the server's `Retry-After` if longer), then try again. */
  | { readonly kind: 'retry'; readonly delayMs: number; readonly reason: string }
  /**
   * 403 on the URL from the message: ask `get_cos_sig` for a pre-signed URL (docs/tencent-api.md,
   * get_cos_sig).
   */
  | { readonly kind: 'sign'; readonly reason: string }
  /** 404/410: the file is gone (deleted with the message, or early). */
  | { readonly kind: 'expired'; readonly reason: string }
  /** Give up for this run; a later run tries again while the message is inside retention. */
  | { readonly kind: 'failed'; readonly reason: string };

export interface MediaRetryInput {
  readonly failure: MediaFailure;
  /** The attempt that just failed, starting at 1. */
  readonly attempt: number;
  /** Whether the failed request already used a pre-signed URL from `get_cos_sig`. */
  readonly signed: boolean;
  readonly options: MediaRetryOptions;
  readonly random: Random;
}

/**
 * Decide what to do after one failed media download attempt. Pure: the downloader sleeps and asks
 * for signatures. 5xx, 408, 429, connection resets and timeouts are retried with full-jitter
 * backoff, honouring `Retry-After`; 404/410 mean expired; 403 asks for a signature once.
 */
export function decideMediaRetry(input: MediaRetryInput): MediaDecision {
  const { failure, attempt, options } = input;
  const transient = (reason: string, retryAfterMs = 0): MediaDecision => {
    if (attempt >= options.maxAttempts)
      return { kind: 'failed', reason: `${reason}; gave up after ${attempt} attempts` };
    if (retryAfterMs > options.maxRetryAfterMs) {
      return {
        kind: 'failed',
        reason: `${reason}; the server asked to wait ${Math.ceil(retryAfterMs / 1000)} s`,
      };
    }
    const backoff = backoffDelayMs(attempt, { ...DEFAULT_RETRY_OPTIONS, ...options }, input.random);
    return { kind: 'retry', delayMs: Math.max(backoff, retryAfterMs), reason };
  };
  switch (failure.kind) {
    case 'network':
      return transient(`network error (${failure.detail})`);
    case 'timeout':
      return transient('timed out');
    case 'deadline':
      // Not retried in this run: another try would take as long again. A later run tries again.
      return {
        kind: 'failed',
        reason: `took longer than its limit of ${Math.ceil(failure.limitMs / 1000)} s (a slow or stalling server)`,
      };
    case 'http-status': {
      const status = failure.status;
      if (status === 404 || status === 410) return { kind: 'expired', reason: `HTTP ${status}` };
      if (status === 403) {
        return input.signed
          ? { kind: 'failed', reason: 'HTTP 403 even with the pre-signed URL from get_cos_sig' }
          : { kind: 'sign', reason: 'HTTP 403' };
      }
      if (isTransientHttpStatus(status)) return transient(`HTTP ${status}`, failure.retryAfterMs);
      return { kind: 'failed', reason: `HTTP ${status}` };
    }
  }
}
