import { deflateSync, inflateSync } from 'node:zlib';
import { Api } from 'tls-sig-api-v2';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { UserSigFormatError } from '../../functions/adapters/errors.ts';
import {
  decodeUserSig,
  genUserSig,
  userSigFromKey,
  userSigFromReadySig,
  verifyUserSig,
} from '../../functions/adapters/tencent/user-sig.ts';
import { ConfigError, GiveUpError } from '../../functions/domain/errors.ts';
import type { LogFields, Logger } from '../../functions/domain/ports.ts';
import { thrown } from '../helpers/assertions.ts';
import { FakeClock } from '../helpers/fake-clock.ts';

// The sample key of the official tests, and vectors computed with the official npm package
// (docs/tencent-api.md, UserSig).
const SAMPLE_KEY = '5bd2850fff3ecb11d7c805251c51ee463a25727bddc2385f3fa8bfee1bb93b5e';
const SDK_APP_ID = 1400000000;
const T0 = 1_700_000_000;
const V1_SIG = 'LvA7d/Iw7gSsnskvVzBDPOCCDbuNCw4GHwTC0bip+B4=';
const V1_PYTHON_USER_SIG =
  'eJyrVgrxCdYrSy1SslJQMtIzUNJRAItkpqTmlWSmZUIkKjIT87NK82CSxSnZiQUFmSlAKUMTAyiAyqVWFGQWpYJkTE1NjRDiJZm5YFFzNPXFmekgG3zKHM1T9D3LzdODi-OKs8vCqpxcAvydnV2SSv2cy03cPcpDnA2SMgu0nUxslWoBHdYzUg__';
const V2_SIG = 'yLAe+w7WUeUuqbV9h/TX78u21oTGi+i9Zp1u3PpnY60=';
const V2_NPM_USER_SIG =
  'eJyrVgrxCdYrSy1SslIy0jNQ0gHzM1NS80oy0zLBwokpuZl5mcUlRYkl*UVQBcUp2YkFBZkpSlaGJgZQAJEpycxNVbIyNEcVTa0oyCxKVbKyMDOBCRVnpitZKVX6OKZql5uHh6aGlhYmhVlm6IdEmFuUGhnmh7hnamdaRhUYlhoHFORFmhnYKtUCAK0SM5I_';
const V3_JSON =
  '{"TLS.ver":"2.0","TLS.identifier":"xiaojun","TLS.sdkappid":1400000000,"TLS.time":1700000000,"TLS.expire":86400,"TLS.userbuf":"YWJj","TLS.sig":"Oab3vXglY45Pcxz+SSjhdxBWuhTAxVhxYLfvVjGhOJ0="}';

/** Decodes a UserSig independently of the code under test. */
function inflateDoc(userSig: string): Record<string, unknown> {
  const base64 = userSig.replace(/\*/g, '+').replace(/-/g, '/').replace(/_/g, '=');
  return JSON.parse(inflateSync(Buffer.from(base64, 'base64')).toString('utf8')) as Record<string, unknown>;
}

/** Encodes any JSON text the way the official libraries do; `level` 0 mimics Go's NoCompression. */
function encodeDoc(json: string, level = -1): string {
  return deflateSync(Buffer.from(json, 'utf8'), { level })
    .toString('base64')
    .replace(/\+/g, '*')
    .replace(/\//g, '-')
    .replace(/=/g, '_');
}

function sigAt(nowSeconds: number, identifier = 'administrator', expireSeconds = 86_400, key = SAMPLE_KEY) {
  return genUserSig({ sdkAppId: SDK_APP_ID, key, identifier, expireSeconds, nowSeconds });
}

/** The official package at a pinned clock (it calls Date.now itself). */
function officialSigAt(nowMs: number, sdkAppId: number, key: string, identifier: string, expire: number) {
  vi.useFakeTimers();
  vi.setSystemTime(nowMs);
  try {
    return new Api(sdkAppId, key).genUserSig(identifier, expire);
  } finally {
    vi.useRealTimers();
  }
}

class RecordingLogger implements Logger {
  public readonly lines: { level: string; message: string; fields: LogFields | undefined }[] = [];
  public debug(message: string, fields?: LogFields): void {
    this.lines.push({ level: 'debug', message, fields });
  }
  public info(message: string, fields?: LogFields): void {
    this.lines.push({ level: 'info', message, fields });
  }
  public warn(message: string, fields?: LogFields): void {
    this.lines.push({ level: 'warn', message, fields });
  }
  public error(message: string, fields?: LogFields): void {
    this.lines.push({ level: 'error', message, fields });
  }
}

afterEach(() => {
  vi.useRealTimers();
});

describe('genUserSig', () => {
  it('reproduces reference vector V1 (TLS.sig and every JSON field)', () => {
    const userSig = sigAt(T0, 'xiaojun', 15_552_000);

    expect(inflateDoc(userSig)).toEqual({
      'TLS.ver': '2.0',
      'TLS.identifier': 'xiaojun',
      'TLS.sdkappid': 1400000000,
      'TLS.time': 1700000000,
      'TLS.expire': 15552000,
      'TLS.sig': V1_SIG,
    });
  });

  it('reproduces reference vector V2', () => {
    const doc = inflateDoc(sigAt(T0, 'administrator', 86_400));

    expect(doc['TLS.sig']).toBe(V2_SIG);
    expect(doc['TLS.identifier']).toBe('administrator');
    expect(doc['TLS.expire']).toBe(86400);
  });

  it.each([
    { sdkAppId: 1400000000, key: SAMPLE_KEY, identifier: 'administrator', expire: 86_400 },
    {
      sdkAppId: 1400000001,
      key: 'made-up-secret-key-0123456789abcdef',
      identifier: 'user_42',
      expire: 15_552_000,
    },
    { sdkAppId: 20000001, key: 'ключ-with-non-ascii', identifier: 'админ', expire: 60 },
  ])(
    'matches the official package for $identifier at a pinned clock',
    ({ sdkAppId, key, identifier, expire }) => {
      // A non-whole second: both must floor it to the same TLS.time.
      const official = officialSigAt(1_795_644_202_987, sdkAppId, key, identifier, expire);

      const ours = genUserSig({
        sdkAppId,
        key,
        identifier,
        expireSeconds: expire,
        nowSeconds: 1_795_644_202,
      });

      expect(inflateDoc(ours)).toEqual(inflateDoc(official));
      expect(inflateDoc(ours)['TLS.time']).toBe(1_795_644_202);
      // Same JSON layout and the same zlib in one process: the whole string is identical too.
      expect(ours).toBe(official);
    },
  );

  it.each([
    ['sdkAppId', { sdkAppId: 0 }],
    ['sdkAppId', { sdkAppId: 1.5 }],
    ['key', { key: '' }],
    ['identifier', { identifier: '' }],
    ['expireSeconds', { expireSeconds: 0 }],
    ['nowSeconds', { nowSeconds: -1 }],
    ['nowSeconds', { nowSeconds: Number.NaN }],
  ])('rejects a bad %s with a ConfigError naming it', (field, override) => {
    const args = {
      sdkAppId: SDK_APP_ID,
      key: SAMPLE_KEY,
      identifier: 'admin',
      expireSeconds: 60,
      nowSeconds: T0,
      ...override,
    };

    const error = thrown(() => genUserSig(args));

    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).field).toBe(field);
  });
});

describe('decodeUserSig', () => {
  it('round-trips the fields of a generated sig', () => {
    expect(decodeUserSig(sigAt(T0, 'administrator', 86_400))).toEqual({
      version: '2.0',
      identifier: 'administrator',
      sdkAppId: SDK_APP_ID,
      timeSeconds: T0,
      expireSeconds: 86_400,
      expiresAtSeconds: T0 + 86_400,
      sig: V2_SIG,
    });
  });

  it('decodes the reference strings of the npm package (V2) and the Python library (V1)', () => {
    expect(decodeUserSig(V2_NPM_USER_SIG)).toMatchObject({ identifier: 'administrator', sig: V2_SIG });
    expect(decodeUserSig(V1_PYTHON_USER_SIG)).toMatchObject({
      identifier: 'xiaojun',
      timeSeconds: T0,
      expireSeconds: 15_552_000,
      sig: V1_SIG,
    });
  });

  it('decodes a Go-style sig (stored zlib blocks, trailing newline)', () => {
    const goStyle = encodeDoc(`${JSON.stringify(inflateDoc(sigAt(T0)))}\n`, 0);

    expect(decodeUserSig(goStyle)).toMatchObject({ identifier: 'administrator', sig: V2_SIG });
  });

  it('exposes TLS.userbuf when present', () => {
    expect(decodeUserSig(encodeDoc(V3_JSON)).userBuf).toBe('YWJj');
  });

  const validDoc = {
    'TLS.ver': '2.0',
    'TLS.identifier': 'administrator',
    'TLS.sdkappid': SDK_APP_ID,
    'TLS.time': T0,
    'TLS.expire': 86_400,
    'TLS.sig': V2_SIG,
  };
  it.each([
    ['an empty string', ''],
    ['text outside the alphabet', 'not a sig!'],
    ['a trailing newline', `${V2_NPM_USER_SIG}\n`],
    ['base64 that is not zlib', 'aGVsbG8gd29ybGQ_'],
    ['a truncated sig', V2_NPM_USER_SIG.slice(0, 60)],
    ['zlib that is not JSON', encodeDoc('TLS.sig=abc')],
    ['a JSON array', encodeDoc('[1,2,3]')],
    ['a document without TLS.sig', encodeDoc(JSON.stringify({ ...validDoc, 'TLS.sig': undefined }))],
    ['a string TLS.time', encodeDoc(JSON.stringify({ ...validDoc, 'TLS.time': String(T0) }))],
    ['a fractional TLS.expire', encodeDoc(JSON.stringify({ ...validDoc, 'TLS.expire': 1.5 }))],
    ['a TLS.sig that is not base64', encodeDoc(JSON.stringify({ ...validDoc, 'TLS.sig': 'not base64!' }))],
    ['an oversized string', 'A'.repeat(10_000)],
    ['a zip bomb', encodeDoc(`${JSON.stringify(validDoc)}${' '.repeat(1_000_000)}`)],
  ])('rejects %s with UserSigFormatError', (_label, input) => {
    expect(() => decodeUserSig(input)).toThrow(UserSigFormatError);
  });

  it('names the offending fields', () => {
    const input = encodeDoc(JSON.stringify({ ...validDoc, 'TLS.time': 'soon', 'TLS.sdkappid': -1 }));

    expect(() => decodeUserSig(input)).toThrow(/TLS\.sdkappid, TLS\.time|TLS\.time, TLS\.sdkappid/);
  });
});

describe('verifyUserSig', () => {
  const verifyArgs = {
    sdkAppId: SDK_APP_ID,
    identifier: 'administrator',
    key: SAMPLE_KEY,
    nowSeconds: T0 + 10,
  };

  it('accepts its own sig and reports the expiry', () => {
    expect(verifyUserSig({ ...verifyArgs, userSig: sigAt(T0) })).toEqual({
      ok: true,
      expiresAtSeconds: T0 + 86_400,
    });
  });

  it('accepts sigs produced by the official package', () => {
    const official = officialSigAt(T0 * 1000, SDK_APP_ID, SAMPLE_KEY, 'administrator', 3600);

    expect(verifyUserSig({ ...verifyArgs, userSig: official })).toEqual({
      ok: true,
      expiresAtSeconds: T0 + 3600,
    });
    expect(verifyUserSig({ ...verifyArgs, userSig: V2_NPM_USER_SIG })).toEqual({
      ok: true,
      expiresAtSeconds: T0 + 86_400,
    });
  });

  it('accepts the Python library reference string and a hand-built Python-style document', () => {
    // json.dumps defaults: ", " and ": " separators; Python's key order puts expire before time.
    const pythonJson =
      `{"TLS.ver": "2.0", "TLS.identifier": "administrator", "TLS.sdkappid": ${SDK_APP_ID}, ` +
      `"TLS.expire": 86400, "TLS.time": ${T0}, "TLS.sig": "${V2_SIG}"}`;

    expect(verifyUserSig({ ...verifyArgs, userSig: encodeDoc(pythonJson) })).toEqual({
      ok: true,
      expiresAtSeconds: T0 + 86_400,
    });
    expect(verifyUserSig({ ...verifyArgs, identifier: 'xiaojun', userSig: V1_PYTHON_USER_SIG })).toEqual({
      ok: true,
      expiresAtSeconds: T0 + 15_552_000,
    });
  });

  it('covers TLS.userbuf with the HMAC (reference vector V3)', () => {
    const args = { ...verifyArgs, identifier: 'xiaojun' };
    const withoutUserBuf = V3_JSON.replace('"TLS.userbuf":"YWJj",', '');

    expect(verifyUserSig({ ...args, userSig: encodeDoc(V3_JSON) })).toEqual({
      ok: true,
      expiresAtSeconds: T0 + 86_400,
    });
    expect(verifyUserSig({ ...args, userSig: encodeDoc(withoutUserBuf) })).toEqual({
      ok: false,
      reason: 'signature-mismatch',
    });
  });

  it('accepts a sig up to and including its last second, and rejects it one second later', () => {
    const userSig = sigAt(T0, 'administrator', 3600);

    expect(verifyUserSig({ ...verifyArgs, userSig, nowSeconds: T0 + 3600 }).ok).toBe(true);
    expect(verifyUserSig({ ...verifyArgs, userSig, nowSeconds: T0 + 3601 })).toEqual({
      ok: false,
      reason: 'expired',
    });
  });

  it('rejects a sig whose HMAC was tampered with', () => {
    const doc = inflateDoc(sigAt(T0));
    const hmac = String(doc['TLS.sig']);
    const flipped = `${hmac[0] === 'A' ? 'B' : 'A'}${hmac.slice(1)}`;
    const tampered = encodeDoc(JSON.stringify({ ...doc, 'TLS.sig': flipped }));

    expect(verifyUserSig({ ...verifyArgs, userSig: tampered })).toEqual({
      ok: false,
      reason: 'signature-mismatch',
    });
  });

  it('rejects a sig whose lifetime was extended after signing', () => {
    const doc = inflateDoc(sigAt(T0));
    const extended = encodeDoc(JSON.stringify({ ...doc, 'TLS.expire': 10 * 86_400 }));

    expect(verifyUserSig({ ...verifyArgs, userSig: extended })).toEqual({
      ok: false,
      reason: 'signature-mismatch',
    });
  });

  it('rejects a sig signed with another key', () => {
    const userSig = sigAt(T0, 'administrator', 86_400, 'some-other-key');

    expect(verifyUserSig({ ...verifyArgs, userSig })).toEqual({ ok: false, reason: 'signature-mismatch' });
  });

  it('rejects a sig for another identifier or SDKAppID', () => {
    const userSig = sigAt(T0);

    expect(verifyUserSig({ ...verifyArgs, userSig, identifier: 'someone_else' })).toEqual({
      ok: false,
      reason: 'identifier-mismatch',
    });
    expect(verifyUserSig({ ...verifyArgs, userSig, sdkAppId: 1400000001 })).toEqual({
      ok: false,
      reason: 'sdkappid-mismatch',
    });
  });

  it.each(['', 'garbage!', 'eJyrVgrx', encodeDoc('{}')])('reports %j as malformed', (userSig) => {
    expect(verifyUserSig({ ...verifyArgs, userSig })).toEqual({ ok: false, reason: 'malformed' });
  });
});

describe('userSigFromKey', () => {
  const base = { sdkAppId: SDK_APP_ID, key: SAMPLE_KEY, identifier: 'administrator' };

  it('issues a valid sig at the clock time and reuses it while fresh', () => {
    const clock = new FakeClock(T0 * 1000 + 999);
    const provider = userSigFromKey({ ...base, clock });

    const first = provider.current();
    clock.advance(3600_000);

    expect(provider.current()).toBe(first);
    expect(decodeUserSig(first)).toMatchObject({ timeSeconds: T0, expireSeconds: 86_400 });
    expect(verifyUserSig({ ...base, userSig: first, nowSeconds: T0 + 3600 }).ok).toBe(true);
  });

  it('renews once fewer than renewBefore seconds remain (default: a tenth of the lifetime)', () => {
    const clock = new FakeClock(T0 * 1000);
    const provider = userSigFromKey({ ...base, clock });
    const first = provider.current();

    clock.advance((86_400 - 8_640) * 1000); // exactly 8640 s left: still fresh
    expect(provider.current()).toBe(first);

    clock.advance(1000); // 8639 s left: renew
    const renewed = provider.current();
    expect(renewed).not.toBe(first);
    expect(decodeUserSig(renewed).timeSeconds).toBe(T0 + 86_400 - 8_640 + 1);
    expect(provider.current()).toBe(renewed);
  });

  it('honours a custom lifetime and renewBefore', () => {
    const clock = new FakeClock(T0 * 1000);
    const provider = userSigFromKey({ ...base, clock, lifetimeSeconds: 600, renewBeforeSeconds: 100 });
    const first = provider.current();

    clock.advance(500_000);
    expect(provider.current()).toBe(first);
    clock.advance(1000);
    expect(decodeUserSig(provider.current())).toMatchObject({ timeSeconds: T0 + 501, expireSeconds: 600 });
  });

  it('regenerate() signs anew at the current time and current() then returns that sig', () => {
    const clock = new FakeClock(T0 * 1000);
    const provider = userSigFromKey({ ...base, clock });
    const first = provider.current();
    clock.advance(5000);

    const fresh = provider.regenerate();

    expect(fresh).not.toBe(first);
    expect(decodeUserSig(fresh).timeSeconds).toBe(T0 + 5);
    expect(provider.current()).toBe(fresh);
  });

  it('lists the key and every sig handed out as secrets', () => {
    const clock = new FakeClock(T0 * 1000);
    const provider = userSigFromKey({ ...base, clock });
    expect(provider.secrets()).toEqual([SAMPLE_KEY]);

    const first = provider.current();
    clock.advance(1000);
    const second = provider.regenerate();

    expect(provider.secrets()).toEqual([SAMPLE_KEY, first, second]);
  });

  it('accepts lifetimes from 60 s to 50 years', () => {
    const clock = new FakeClock(T0 * 1000);
    const longest = 50 * 365 * 86_400;

    expect(
      decodeUserSig(userSigFromKey({ ...base, clock, lifetimeSeconds: 60 }).current()).expireSeconds,
    ).toBe(60);
    expect(
      decodeUserSig(userSigFromKey({ ...base, clock, lifetimeSeconds: longest }).current()).expireSeconds,
    ).toBe(longest);
  });

  it.each([
    ['lifetimeSeconds', { lifetimeSeconds: 59 }],
    ['lifetimeSeconds', { lifetimeSeconds: 50 * 365 * 86_400 + 1 }],
    ['lifetimeSeconds', { lifetimeSeconds: 3600.5 }],
    ['renewBeforeSeconds', { lifetimeSeconds: 600, renewBeforeSeconds: 600 }],
    ['renewBeforeSeconds', { renewBeforeSeconds: -1 }],
    ['sdkAppId', { sdkAppId: -5 }],
    ['key', { key: '' }],
    ['identifier', { identifier: '' }],
  ])('rejects a bad %s with a ConfigError naming it', (field, override) => {
    const error = thrown(() => userSigFromKey({ ...base, clock: new FakeClock(), ...override }));

    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).field).toBe(field);
  });
});

describe('userSigFromReadySig', () => {
  const identity = { sdkAppId: SDK_APP_ID, identifier: 'administrator' };
  /** A 30-day sig issued at T0. */
  const readySig = sigAt(T0, 'administrator', 30 * 86_400);
  const expiresAtMs = (T0 + 30 * 86_400) * 1000;

  function provider(clock: FakeClock, logger = new RecordingLogger(), userSig = readySig) {
    return userSigFromReadySig({ ...identity, userSig, clock, logger });
  }

  it('hands out the configured sig and lists it as the only secret', () => {
    const ready = provider(new FakeClock(T0 * 1000));

    expect(ready.current()).toBe(readySig);
    expect(ready.secrets()).toEqual([readySig]);
  });

  it('rejects a malformed sig with a ConfigError on field userSig, keeping the cause', () => {
    const error = thrown(() => provider(new FakeClock(T0 * 1000), undefined, 'garbage!'));

    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).field).toBe('userSig');
    expect((error as ConfigError).cause).toBeInstanceOf(UserSigFormatError);
  });

  it.each([
    ['SDKAppID', { sdkAppId: 1400000001 }, /SDKAppID 1400000000, but sdkAppId is 1400000001/],
    [
      'identifier',
      { identifier: 'other_admin' },
      /identifier "administrator", but identifier is "other_admin"/,
    ],
  ])('rejects a sig issued for another %s', (_label, override, message) => {
    const clock = new FakeClock(T0 * 1000);
    const error = thrown(() =>
      userSigFromReadySig({
        ...identity,
        ...override,
        userSig: readySig,
        clock,
        logger: new RecordingLogger(),
      }),
    );

    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).field).toBe('userSig');
    expect((error as Error).message).toMatch(message);
  });

  it('rejects a sig that has already expired', () => {
    const error = thrown(() => provider(new FakeClock(expiresAtMs + 1000)));

    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).field).toBe('userSig');
    expect((error as Error).message).toMatch(/expired at 2023-12-14T22:13:20\.000Z/);
  });

  it('throws from current() once the sig expires mid-run', () => {
    const clock = new FakeClock(expiresAtMs);
    const ready = provider(clock);
    expect(ready.current()).toBe(readySig);

    clock.advance(1000);

    expect(() => ready.current()).toThrow(ConfigError);
  });

  it('warns once a day, naming the hours left, when within warnBefore of expiry', () => {
    const clock = new FakeClock(expiresAtMs - 8 * 86_400_000);
    const logger = new RecordingLogger();
    const ready = provider(clock, logger);
    expect(logger.lines).toEqual([]);

    clock.advance(86_400_000 + 3600_000); // 6 days 23 hours left
    ready.current();
    clock.advance(23 * 3600_000); // 6 days left, but less than a day since the warning
    ready.current();
    clock.advance(3600_000); // a day since the first warning: warn again
    ready.current();

    expect(logger.lines.map((line) => [line.level, line.message])).toEqual([
      ['warn', expect.stringMatching(/expires in 167 hours/)],
      ['warn', expect.stringMatching(/expires in 143 hours/)],
    ]);
    expect(logger.lines[0]?.fields).toEqual({ expiresAt: '2023-12-14T22:13:20.000Z', hoursLeft: 167 });
  });

  it('warns at start-up when already close to expiry, honouring a custom warnBefore', () => {
    const clock = new FakeClock(expiresAtMs - 2 * 3600_000);
    const logger = new RecordingLogger();

    userSigFromReadySig({ ...identity, userSig: readySig, clock, logger, warnBeforeSeconds: 3 * 3600 });

    expect(logger.lines).toHaveLength(1);
    expect(logger.lines[0]?.message).toMatch(/expires in 2 hours/);
  });

  it('regenerate() gives up with fatal-config: a ready-made sig cannot be renewed', () => {
    const ready = provider(new FakeClock(T0 * 1000));

    const error = thrown(() => ready.regenerate());

    expect(error).toBeInstanceOf(GiveUpError);
    expect((error as GiveUpError).action).toBe('fatal-config');
    expect((error as Error).message).toMatch(/secret key/);
  });
});

describe('secrets stay out of errors and logs', () => {
  const key = 'super-secret-console-key-fedcba9876543210';
  const userSig = genUserSig({
    sdkAppId: SDK_APP_ID,
    key,
    identifier: 'administrator',
    expireSeconds: 3 * 86_400,
    nowSeconds: T0,
  });
  const hmac = String(inflateDoc(userSig)['TLS.sig']);
  const secrets = [key, userSig, hmac];

  /** The message of an error and of every cause below it. */
  function chainText(error: unknown): string {
    const parts: string[] = [];
    for (let current = error; current instanceof Error; current = current.cause) {
      parts.push(current.message);
    }
    return parts.join(' | ');
  }

  it('never puts the key, the UserSig or its HMAC into an error message or log line', () => {
    const doc = inflateDoc(userSig);
    const logger = new RecordingLogger();
    const clock = new FakeClock((T0 + 2 * 86_400) * 1000);
    const ready = userSigFromReadySig({
      sdkAppId: SDK_APP_ID,
      identifier: 'administrator',
      userSig,
      clock,
      logger,
    });
    const failures: unknown[] = [
      thrown(() => decodeUserSig(`${userSig} `)),
      thrown(() => decodeUserSig(userSig.slice(0, -20))),
      thrown(() => decodeUserSig(encodeDoc(`not json ${JSON.stringify(doc)}`))),
      thrown(() => decodeUserSig(encodeDoc(JSON.stringify({ ...doc, 'TLS.time': hmac })))),
      thrown(() => userSigFromReadySig({ sdkAppId: 1, identifier: 'administrator', userSig, clock, logger })),
      thrown(() => userSigFromReadySig({ sdkAppId: SDK_APP_ID, identifier: 'x', userSig, clock, logger })),
      thrown(() =>
        userSigFromReadySig({ sdkAppId: SDK_APP_ID, identifier: 'a', userSig: `${userSig}!`, clock, logger }),
      ),
      thrown(() => ready.regenerate()),
      thrown(() => {
        clock.advance(2 * 86_400_000);
        ready.current();
      }),
      thrown(() => userSigFromKey({ sdkAppId: SDK_APP_ID, key, identifier: '', clock })),
      thrown(() => userSigFromKey({ sdkAppId: SDK_APP_ID, key, identifier: 'a', lifetimeSeconds: 1, clock })),
      thrown(() => genUserSig({ sdkAppId: 0, key, identifier: 'a', expireSeconds: 60, nowSeconds: T0 })),
    ];
    const texts = [
      ...failures.map(chainText),
      ...logger.lines.map((line) => `${line.message} ${JSON.stringify(line.fields)}`),
    ];

    expect(failures.every((failure) => failure instanceof Error)).toBe(true);
    expect(logger.lines).toHaveLength(1); // the expiry warning was logged, and checked below
    for (const text of texts) {
      for (const secret of secrets) expect(text).not.toContain(secret);
    }
  });
});
