import { describe, expect, it } from 'vitest';
import { downloadDeadlineOf, MEDIA_DEFAULTS } from '../../functions/config/schema.ts';
import {
  AbortedError,
  type GiveUpAction,
  GiveUpError,
  TencentApiError,
  TransportError,
} from '../../functions/domain/errors.ts';
import {
  backoffDelayMs,
  classifyFailure,
  classifyTencentCode,
  DEFAULT_MEDIA_RETRY_OPTIONS,
  DEFAULT_RETRY_OPTIONS,
  DEFAULT_SLOW_DOWN_ATTEMPTS,
  decideMediaRetry,
  decideRetry,
  downloadDeadlineMs,
  isConfigGiveUp,
  isRetriesExhausted,
  isRunFatal,
  isShrinkRequest,
  isSkipTarget,
  isTransientHttpStatus,
  type RetryInput,
} from '../../functions/domain/retry-policy.ts';

const api = (code: number) => new TencentApiError('group_open_http_svc/group_msg_get_simple', code, 'x');
const input = (error: unknown, over: Partial<RetryInput> = {}): RetryInput => ({
  error,
  attempt: 1,
  signatureRegenerated: false,
  options: DEFAULT_RETRY_OPTIONS,
  random: () => 0.5,
  ...over,
});

describe('classifyTencentCode', () => {
  it.each([
    [10002, 'retry'],
    [60008, 'retry'],
    [70169, 'retry'],
    [70202, 'retry'],
    [70500, 'retry'],
    [60013, 'retry'],
    [10006, 'slow-down'],
    [60007, 'slow-down'],
    [60011, 'slow-down'],
    [60018, 'slow-down'],
    [60019, 'slow-down'],
    [70001, 'regenerate-signature'],
    [70003, 'regenerate-signature'],
    [60004, 'regenerate-signature'],
    [10010, 'skip-group'],
    [10015, 'skip-group'],
    [10044, 'skip-group'],
    [110003, 'skip-group'],
    [11000, 'skip-group'],
    [10018, 'shrink-request'],
    [70009, 'fatal-config'],
    [70016, 'fatal-config'],
    [70020, 'fatal-config'],
    [60006, 'fatal-config'],
    [60016, 'fatal-config'],
    [60021, 'fatal-config'],
    [10007, 'fatal-config'],
    [70050, 'fatal-config'],
    [60003, 'fatal'],
    [10003, 'fatal'],
  ])('code %i is %s', (code, expected) => {
    expect(classifyTencentCode(code).class).toBe(expected);
  });

  it('treats an undocumented code as transient, saying so', () => {
    const verdict = classifyTencentCode(99999);
    expect(verdict.class).toBe('retry');
    expect(verdict.reason).toContain('undocumented ErrorCode 99999');
  });

  it('names the fix for configuration errors', () => {
    expect(classifyTencentCode(70020).fix).toMatch(/region/);
    expect(classifyTencentCode(70009).fix).toMatch(/secret key/);
    expect(classifyTencentCode(10007).fix).toMatch(/admin/);
  });
});

describe('classifyFailure for transport errors', () => {
  const t = (
    failure: 'network' | 'timeout' | 'http-status' | 'malformed-body' | 'too-large',
    status?: number,
  ) => new TransportError('a/b', failure, 'm', status === undefined ? {} : { status });
  it.each([
    [t('network'), 'retry'],
    [t('timeout'), 'retry'],
    [t('malformed-body'), 'retry'],
    [t('http-status', 502), 'retry'],
    [t('http-status', 503), 'retry'],
    [t('http-status', 429), 'retry'],
    [t('http-status', 404), 'fatal-config'],
    [t('http-status', 403), 'fatal-config'],
    // An answer past the size cap: ask for fewer messages, never the same call again (issue 21).
    [t('too-large'), 'shrink-request'],
  ])('%s → %s', (error, expected) => {
    expect(classifyFailure(error).class).toBe(expected);
  });

  it('treats an abort and an unknown error as fatal', () => {
    expect(classifyFailure(new AbortedError()).class).toBe('fatal');
    expect(classifyFailure(new Error('boom')).class).toBe('fatal');
  });
});

describe('an answer past the size cap', () => {
  it('gives up on that call at once with shrink-request, the answer cap in its message', () => {
    // Prepare
    const error = new TransportError(
      'group_open_http_svc/group_msg_get_simple',
      'too-large',
      'answer over 8 MiB',
    );

    // Act
    const decision = decideRetry(input(error));

    // Assess
    expect(decision).toMatchObject({
      kind: 'give-up',
      action: 'shrink-request',
      message: 'Tencent API group_open_http_svc/group_msg_get_simple: answer over 8 MiB',
    });
  });
});

describe('media download time limit', () => {
  it.each([
    ['an empty file gets the floor', 0, 60_000],
    ['1 MiB gets 16 s more', 1024 * 1024, 76_000],
    ['100 MB (the largest documented file) gets 26 min 26 s', 100_000_000, 1_585_879],
    ['5 GiB is capped at 30 min', 5 * 1024 ** 3, 1_800_000],
  ])('%s', (_name, bytes, expected) => {
    expect(downloadDeadlineMs(bytes, downloadDeadlineOf(MEDIA_DEFAULTS))).toBe(expected);
  });

  it('ends a download past its limit as failed for this run, not retried', () => {
    const decision = decideMediaRetry({
      failure: { kind: 'deadline', limitMs: 90_000 },
      attempt: 1,
      signed: false,
      options: DEFAULT_MEDIA_RETRY_OPTIONS,
      random: () => 0.5,
    });
    expect(decision).toEqual({
      kind: 'failed',
      reason: 'took longer than its limit of 90 s (a slow or stalling server)',
    });
  });
});

describe('backoffDelayMs (full jitter)', () => {
  const opts = { ...DEFAULT_RETRY_OPTIONS, baseDelayMs: 100, maxDelayMs: 1_000 };
  it('grows exponentially up to the cap', () => {
    const top = (attempt: number) => backoffDelayMs(attempt, opts, () => 0.999999);
    expect([1, 2, 3, 4, 5, 6].map(top)).toEqual([99, 199, 399, 799, 999, 999]);
  });
  it('draws uniformly from [0, ceiling)', () => {
    expect(backoffDelayMs(3, opts, () => 0)).toBe(0);
    expect(backoffDelayMs(3, opts, () => 0.5)).toBe(200);
  });
});

describe('decideRetry', () => {
  it('retries a transient error with backoff and no pause', () => {
    const d = decideRetry(input(api(10002), { attempt: 2 }));
    expect(d).toMatchObject({ kind: 'retry', delayMs: 200, slowDown: false });
  });

  it("retries a frequency-limit answer in the pacer's next slot: no delay, no pause, slowDown set", () => {
    for (const code of [10006, 60007, 60011]) {
      expect(decideRetry(input(api(code), { attempt: 3 }))).toMatchObject({
        kind: 'retry',
        delayMs: 0,
        slowDown: true,
      });
    }
  });

  it('keeps repeating frequency-limit answers past maxAttempts, and gives up at their own bound', () => {
    const past = decideRetry(input(api(10006), { attempt: DEFAULT_RETRY_OPTIONS.maxAttempts }));
    expect(past).toMatchObject({ kind: 'retry', slowDown: true });
    const d = decideRetry(input(api(10006), { attempt: DEFAULT_SLOW_DOWN_ATTEMPTS }));
    expect(d).toMatchObject({ kind: 'give-up', action: 'retries-exhausted' });
    // A transient error mixed in does not get the larger bound.
    const transient = decideRetry(input(api(10002), { attempt: DEFAULT_RETRY_OPTIONS.maxAttempts }));
    expect(transient).toMatchObject({ kind: 'give-up' });
  });

  it('gives up when attempts run out', () => {
    const d = decideRetry(input(api(10002), { attempt: DEFAULT_RETRY_OPTIONS.maxAttempts }));
    expect(d).toMatchObject({ kind: 'give-up', action: 'retries-exhausted' });
  });

  it('regenerates the signature once, then gives up as a configuration error', () => {
    expect(decideRetry(input(api(70001))).kind).toBe('regenerate-signature');
    const second = decideRetry(input(api(70001), { signatureRegenerated: true }));
    expect(second).toMatchObject({ kind: 'give-up', action: 'fatal-config' });
    if (second.kind === 'give-up') expect(second.message).toMatch(/freshly generated UserSig/);
  });

  it.each([
    [10010, 'skip-group'],
    [10018, 'shrink-request'],
    [70020, 'fatal-config'],
    [60003, 'fatal'],
  ])('gives up at once on %i with action %s', (code, action) => {
    const d = decideRetry(input(api(code)));
    expect(d).toMatchObject({ kind: 'give-up', action });
  });

  it('puts the fix into the give-up message of a configuration error', () => {
    const d = decideRetry(input(api(70016)));
    expect(d.kind === 'give-up' && d.message).toMatch(/region/);
  });
});

describe('what a give-up means to its caller (the one reading of GiveUpError.action)', () => {
  const giveUp = (action: GiveUpAction) => new GiveUpError(action, action, { attempts: 1 });
  const read = (error: unknown) =>
    [isSkipTarget, isShrinkRequest, isRunFatal, isConfigGiveUp, isRetriesExhausted].map((p) => p(error));

  it.each<[GiveUpAction, boolean[]]>([
    ['skip-group', [true, false, false, false, false]],
    ['shrink-request', [false, true, false, false, false]],
    ['fatal', [false, false, true, false, false]],
    ['fatal-config', [false, false, true, true, false]],
    ['retries-exhausted', [false, false, false, false, true]],
  ])('%s: skip target, shrink, stop the run, configuration, try later = %j', (action, expected) => {
    expect(read(giveUp(action))).toEqual(expected);
  });

  it('reads nothing into an error the client did not give up on', () => {
    expect(read(api(10010))).toEqual([false, false, false, false, false]);
    expect(read(new Error('skip-group'))).toEqual([false, false, false, false, false]);
  });

  it('retries the same HTTP statuses for the API and for media downloads', () => {
    for (const status of [400, 403, 404, 407, 408, 410, 429, 499, 500, 502, 503, 599]) {
      const apiVerdict = classifyFailure(
        new TransportError('p', 'http-status', `HTTP ${status}`, { status }),
      );
      const media = decideMediaRetry({
        failure: { kind: 'http-status', status },
        attempt: 1,
        signed: true,
        options: DEFAULT_MEDIA_RETRY_OPTIONS,
        random: () => 0.5,
      });
      expect([apiVerdict.class === 'retry', media.kind === 'retry']).toEqual([
        isTransientHttpStatus(status),
        isTransientHttpStatus(status),
      ]);
    }
    expect([408, 429, 500, 503].map(isTransientHttpStatus)).toEqual([true, true, true, true]);
    expect([400, 403, 404, 410].map(isTransientHttpStatus)).toEqual([false, false, false, false]);
  });
});
