import { stringify } from 'lossless-json';
import { describe, expect, it } from 'vitest';
import { parseLosslessJson } from '../../functions/domain/json-guards.ts';
import type { JsonValue } from '../../functions/domain/tencent-types.ts';

const BIG = 2n ** 53n + 1n; // 9007199254740993: a double would read it as ...992

describe('parseLosslessJson', () => {
  it.each([
    ['after a colon', `{"Next":${BIG}}`, (v: JsonValue) => (v as { Next: JsonValue }).Next],
    ['after a colon and spaces', `{"Next": \n ${BIG}}`, (v: JsonValue) => (v as { Next: JsonValue }).Next],
    ['in an array, after a comma', `[1, ${BIG}]`, (v: JsonValue) => (v as JsonValue[])[1]],
    ['first in an array, negative', `[ -${BIG}]`, (v: JsonValue) => (v as JsonValue[])[0]],
    ['as the whole text', `${BIG}`, (v: JsonValue) => v],
  ])('keeps an integer beyond 2^53 exact %s', (_where, text, pick) => {
    const value = pick(parseLosslessJson(text));
    expect(typeof value).toBe('bigint');
    expect((value as bigint) === BIG || (value as bigint) === -BIG).toBe(true);
  });

  it('leaves digits inside strings alone and still finds a long number beside them', () => {
    const text = `{"From_Account":"144115101827498659","Text":"call 12345678901234567890","Next":${BIG}}`;
    expect(parseLosslessJson(text)).toEqual({
      From_Account: '144115101827498659',
      Text: 'call 12345678901234567890',
      Next: BIG,
    });
  });

  it('gives what JSON.parse gives where every number fits a double', () => {
    const text =
      '{"From_Account":"144115101827498659","MsgSeq":9007199254740991,"t":1.5e3,"n":-0.25,"a":[true,null,"x:1"],"__proto__":{"k":1}}';
    const value = parseLosslessJson(text) as Record<string, JsonValue>;
    expect(value).toEqual(JSON.parse(text));
    expect(Object.hasOwn(value, '__proto__')).toBe(true);
    expect(Object.getPrototypeOf(value)).toBe(Object.prototype);
  });

  it('round-trips random values with big integers among digit-rich strings', () => {
    let seed = 7;
    const next = () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    const digits = (n: number) => Array.from({ length: n }, () => Math.floor(next() * 10)).join('');
    for (let i = 0; i < 200; i++) {
      const value: JsonValue = {
        From_Account: digits(18),
        Text: `${digits(20)}:${digits(17)}`,
        MsgSeq: Math.floor(next() * 1e6),
        Big: next() < 0.5 ? BIG + BigInt(i) : i,
        List: [digits(3), next() < 0.3 ? -(BIG + BigInt(i)) : 1.25],
      };
      expect(parseLosslessJson(stringify(value) ?? '')).toEqual(value);
    }
  });

  it('throws a SyntaxError on text that is not JSON, on either path', () => {
    expect(() => parseLosslessJson('{"a":')).toThrow(SyntaxError);
    expect(() => parseLosslessJson(`{"a":${BIG},}`)).toThrow(SyntaxError);
  });
});
