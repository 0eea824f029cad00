import { describe, expect, it } from 'vitest';
import { callbackSign, verifyCallback } from '../../functions/domain/callback-auth.ts';

const TOKEN = 'xxxxyyyy';
const APP = 1400000001;

function query(
  overrides: Partial<Record<'sdkAppId' | 'command' | 'sign' | 'requestTime', string | undefined>> = {},
) {
  const requestTime = overrides.requestTime ?? '1669872112';
  return {
    sdkAppId: String(APP),
    command: 'Group.CallbackAfterSendMsg',
    sign: callbackSign(TOKEN, requestTime),
    requestTime,
    ...overrides,
  };
}

describe('callback Sign', () => {
  it("matches the example of Tencent's callback documentation (token xxxxyyyy, RequestTime 1669872112)", () => {
    expect(callbackSign('xxxxyyyy', '1669872112')).toBe(
      '17773bc39a671d7b9aa835458704d2a6db81360a5940292b587d6d760d484061',
    );
  });
});

describe('verifyCallback', () => {
  const expect0 = { sdkAppId: APP, token: TOKEN, nowSeconds: 1669872112 };

  it('accepts a signed request within the window, upper-case hex included', () => {
    expect(verifyCallback(query(), expect0)).toEqual({
      ok: true,
      command: 'Group.CallbackAfterSendMsg',
      requestTime: 1669872112,
    });
    const upper = query();
    expect(verifyCallback({ ...upper, sign: upper.sign.toUpperCase() }, expect0).ok).toBe(true);
    expect(verifyCallback(query(), { ...expect0, nowSeconds: 1669872112 + 60 }).ok).toBe(true);
    expect(verifyCallback(query(), { ...expect0, nowSeconds: 1669872112 - 60 }).ok).toBe(true);
  });

  it('refuses a request 61 s off either way as stale, even with a good Sign', () => {
    expect(verifyCallback(query(), { ...expect0, nowSeconds: 1669872112 + 61 })).toEqual({
      ok: false,
      refusal: 'stale',
    });
    expect(verifyCallback(query(), { ...expect0, nowSeconds: 1669872112 - 61 })).toEqual({
      ok: false,
      refusal: 'stale',
    });
  });

  it('refuses a wrong Sign, another token, a Sign for another time, and a truncated Sign as forged', () => {
    const good = query();
    const flipped = `${good.sign.slice(0, -1)}${good.sign.endsWith('0') ? '1' : '0'}`;
    expect(verifyCallback({ ...good, sign: flipped }, expect0)).toEqual({ ok: false, refusal: 'forged' });
    expect(verifyCallback({ ...good, sign: callbackSign('other', good.requestTime) }, expect0).ok).toBe(
      false,
    );
    expect(verifyCallback({ ...good, requestTime: '1669872113' }, expect0)).toEqual({
      ok: false,
      refusal: 'forged',
    });
    expect(verifyCallback({ ...good, sign: good.sign.slice(0, 10) }, expect0)).toEqual({
      ok: false,
      refusal: 'forged',
    });
    expect(verifyCallback({ ...good, sign: '' }, expect0)).toEqual({ ok: false, refusal: 'forged' });
  });

  it('refuses another app, a missing command, a missing Sign or time, and a time that is not plain seconds', () => {
    expect(verifyCallback(query({ sdkAppId: '1400000002' }), expect0)).toEqual({
      ok: false,
      refusal: 'wrong-app',
    });
    expect(verifyCallback(query({ sdkAppId: undefined }), expect0)).toEqual({
      ok: false,
      refusal: 'wrong-app',
    });
    expect(verifyCallback(query({ command: undefined }), expect0)).toEqual({
      ok: false,
      refusal: 'no-command',
    });
    expect(verifyCallback(query({ sign: undefined }), expect0)).toEqual({ ok: false, refusal: 'no-sign' });
    expect(verifyCallback({ ...query(), requestTime: undefined }, expect0)).toEqual({
      ok: false,
      refusal: 'no-sign',
    });
    for (const time of ['1669872112.0', '-1669872112', ' 1669872112', '0x63875d70', '1e9']) {
      const q = { ...query(), requestTime: time, sign: callbackSign(TOKEN, time) };
      expect(verifyCallback(q, expect0)).toEqual({ ok: false, refusal: 'bad-time' });
    }
  });
});
