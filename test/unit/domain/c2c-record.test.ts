import { describe, expect, it } from 'vitest';
import {
  C2C_LOCATION_TEMPLATE,
  C2C_RECORD_KEYS,
  type C2cRecordContext,
  c2cIdentity,
  c2cObjectKey,
  c2cPartitionPrefix,
  compareCodePoints,
  conversationOf,
  fromC2cRecord,
  parseC2cRecordLine,
  parseConversation,
  serializeC2cRecord,
  toC2cRecord,
  toQuarantinedC2cRecord,
} from '../../../functions/domain/c2c-record.ts';
import type { RoamMessage } from '../../../functions/domain/tencent-types.ts';

/** The documentation's first sample message (docs/tencent-api.md, admin_getroammsg). */
const SAMPLE: RoamMessage = {
  From_Account: 'user1',
  To_Account: 'user2',
  MsgSeq: 549396494,
  MsgRandom: 2578554,
  MsgTimeStamp: 1584669680,
  MsgFlagBits: 0,
  IsPeerRead: 0,
  MsgKey: '549396494_2578554_1584669680',
  MsgBody: [{ MsgType: 'TIMTextElem', MsgContent: { Text: 'msg 1' } }],
  CloudCustomData: 'your cloud custom data',
};
const CTX: C2cRecordContext = { sdkAppId: 1400000000, accounts: ['user2', 'user1'], source: 'roam' };

/** Accounts that break naive encodings: the separator-like characters, quotes, escapes, astral text. */
const HOSTILE = [
  'a,b',
  'a|b',
  '["x","y"]',
  'quote"d',
  'back\\slash',
  'new\nline',
  '\u202Eevil',
  '😀',
  '\uffff',
  '\u0000',
];

describe('conversationOf', () => {
  it('is the same from either side and sorted by code point', () => {
    expect(conversationOf('bob', 'alice')).toBe('["alice","bob"]');
    expect(conversationOf('alice', 'bob')).toBe('["alice","bob"]');
    // U+FFFF sorts before an astral character by code point (UTF-16 units would say the reverse).
    expect(compareCodePoints('\uffff', '😀')).toBeLessThan(0);
    expect(conversationOf('😀', '\uffff')).toBe(JSON.stringify(['\uffff', '😀']));
  });

  it('never gives two different pairs of hostile accounts the same name, and parses back', () => {
    const names = new Map<string, string>();
    for (const a of HOSTILE) {
      for (const b of HOSTILE) {
        const name = conversationOf(a, b);
        expect(conversationOf(b, a)).toBe(name);
        const pair = JSON.stringify([a, b].sort(compareCodePoints));
        const seen = names.get(name);
        if (seen !== undefined) expect(seen).toBe(pair);
        names.set(name, pair);
        expect(parseConversation(name)).toEqual([a, b].sort(compareCodePoints));
      }
    }
    // a,b + c is not ab + ,c (the separator inside an account changes nothing).
    expect(conversationOf('a,b', 'c')).not.toBe(conversationOf('a', 'b,c'));
    expect(names.size).toBe((HOSTILE.length * (HOSTILE.length + 1)) / 2);
  });

  it('refuses empty accounts and text that is not a canonical conversation', () => {
    expect(() => conversationOf('', 'x')).toThrow(RangeError);
    expect(() => parseConversation('["bob","alice"]')).toThrow(/canonical/);
    expect(() => parseConversation('["a"]')).toThrow(TypeError);
    expect(() => parseConversation('[ "a","b"]')).toThrow(/canonical/);
    expect(() => parseConversation('nope')).toThrow(TypeError);
  });

  it('identifies a message by conversation and MsgKey, from either side', () => {
    const one = toC2cRecord(SAMPLE, CTX);
    const other = toC2cRecord(SAMPLE, { ...CTX, accounts: ['user1', 'user2'] });
    expect(c2cIdentity(one.conversation, one.msg_key as string)).toBe(
      c2cIdentity(other.conversation, other.msg_key as string),
    );
    expect(c2cIdentity('["a","b"]', 'k')).not.toBe(c2cIdentity('["a","b"', '"]k'));
  });
});

describe('toC2cRecord and fromC2cRecord', () => {
  it('maps the documented sample to the row and back exactly', () => {
    const record = toC2cRecord(SAMPLE, { ...CTX, observedAt: 1584670000 });
    expect(record).toEqual({
      sdk_app_id: 1400000000,
      conversation: '["user1","user2"]',
      from_account: 'user1',
      to_account: 'user2',
      msg_key: '549396494_2578554_1584669680',
      msg_seq: 549396494,
      msg_random: 2578554,
      msg_time: 1584669680,
      msg_flag_bits: 0,
      msg_body: [{ msg_type: 'TIMTextElem', msg_content: { Text: 'msg 1' } }],
      cloud_custom_data: 'your cloud custom data',
      source: 'roam',
      extra: { IsPeerRead: 0 },
      revision: 0,
      observed_at: 1584670000,
      change: null,
      quarantined: false,
      raw: null,
    });
    expect(Object.keys(record)).toEqual(C2C_RECORD_KEYS);
    expect(fromC2cRecord(record)).toEqual(SAMPLE);
  });

  it('round-trips odd messages: absent, null and mistyped fields, a body Athena cannot type, $ keys, big integers', () => {
    const odd: RoamMessage[] = [
      { MsgKey: 'k1', MsgTimeStamp: 1 },
      { ...SAMPLE, MsgFlagBits: 8, MsgBody: [], CloudCustomData: null } as unknown as RoamMessage,
      { ...SAMPLE, MsgSeq: '12', To_Account: null, MsgBody: 'not an array' } as unknown as RoamMessage,
      { ...SAMPLE, MsgBody: [{ MsgType: 'TIMTextElem', MsgContent: { Text: 1 }, Extra: 1 }] },
      { ...SAMPLE, $absent: ['x'], $$y: 2, NewField: { deep: [1, 2] } },
      { ...SAMPLE, MsgRandom: 2n ** 64n - 1n } as unknown as RoamMessage,
      { ...SAMPLE, From_Account: 'bad\ud800surrogate' },
    ];
    for (const message of odd) {
      const record = toC2cRecord(message, CTX);
      expect(fromC2cRecord(record)).toEqual(message);
      const line = serializeC2cRecord(record);
      expect(line).not.toContain('\n');
      expect(fromC2cRecord(parseC2cRecordLine(line))).toEqual(message);
    }
  });

  it('keeps a recall as MsgFlagBits 8 and a revision with its change', () => {
    const recalled = { ...SAMPLE, MsgFlagBits: 8, MsgBody: [] };
    const record = toC2cRecord(recalled, { ...CTX, revision: 1, change: 'recalled' });
    expect(record.msg_flag_bits).toBe(8);
    expect(record.msg_body).toEqual([]);
    expect([record.revision, record.change]).toEqual([1, 'recalled']);
    expect(() => toC2cRecord(SAMPLE, { ...CTX, revision: 1 })).toThrow(RangeError);
    expect(() => toC2cRecord(SAMPLE, { ...CTX, change: 'recalled' })).toThrow(RangeError);
  });

  it('refuses a message without a string MsgKey or an integer MsgTimeStamp', () => {
    expect(() => toC2cRecord({ ...SAMPLE, MsgKey: 5 } as unknown as RoamMessage, CTX)).toThrow(/MsgKey/);
    expect(() => toC2cRecord({ ...SAMPLE, MsgTimeStamp: '1' } as unknown as RoamMessage, CTX)).toThrow(
      /MsgTimeStamp/,
    );
  });

  it('quarantines a rejected item with its exact text and its reason', () => {
    const item = {
      text: '{"MsgKey":7,"MsgTimeStamp":null,"From_Account":"u"}',
      reason: 'MsgKey: expected string',
      msgSeq: null,
    };
    const record = toQuarantinedC2cRecord(item, { ...CTX, fallbackTime: 1700000000 });
    expect(record).toMatchObject({
      quarantined: true,
      raw: item.text,
      msg_key: null,
      msg_time: 1700000000,
      from_account: 'u',
      extra: { $reason: 'MsgKey: expected string' },
    });
    expect(() => fromC2cRecord(record)).toThrow(/quarantined/);
    expect(parseC2cRecordLine(serializeC2cRecord(record))).toEqual(record);
  });
});

describe('NDJSON line', () => {
  it('is one line even when text holds line separators, and refuses lines that are not rows', () => {
    const record = toC2cRecord(
      { ...SAMPLE, MsgBody: [{ MsgType: 'TIMTextElem', MsgContent: { Text: 'a\u2028b\u0085c\nd' } }] },
      CTX,
    );
    const line = serializeC2cRecord(record);
    expect(line).not.toMatch(/[\n\u0085\u2028\u2029]/);
    expect(parseC2cRecordLine(line)).toEqual(record);
    expect(() => parseC2cRecordLine(line.replace('"source":"roam"', '"source":"guess"'))).toThrow(/source/);
    expect(() => parseC2cRecordLine(line.replace('{', '{"group_id":"g",'))).toThrow(/unknown keys/);
    expect(() => parseC2cRecordLine('[]')).toThrow(TypeError);
  });
});

describe('object keys', () => {
  it('files rows under c2c/ by app and day, like the group messages', () => {
    expect(c2cPartitionPrefix(1400000000, '2024-03-10')).toBe('c2c/sdkappid=1400000000/dt=2024-03-10/');
    // biome-ignore lint/suspicious/noTemplateCurlyInString: Athena projection placeholders.
    expect(C2C_LOCATION_TEMPLATE.replace('${sdkappid}', '1400000000').replace('${dt}', '2024-03-10')).toBe(
      c2cPartitionPrefix(1400000000, '2024-03-10'),
    );
    expect(c2cObjectKey({ sdkAppId: 1400000000, dt: '2024-03-10', runId: 'run42', part: 7 })).toBe(
      'c2c/sdkappid=1400000000/dt=2024-03-10/part-run42-00007.ndjson.gz',
    );
    expect(() => c2cPartitionPrefix(0, '2024-03-10')).toThrow(RangeError);
    expect(() => c2cPartitionPrefix(1, '2024-02-30')).toThrow(RangeError);
    expect(() => c2cObjectKey({ sdkAppId: 1, dt: '2024-03-10', runId: '../x', part: 0 })).toThrow(RangeError);
  });
});
