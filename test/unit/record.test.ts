import { describe, expect, it } from 'vitest';
import { hasLoneSurrogate } from '../../functions/domain/json-guards.ts';
import {
  type ArchiveRecord,
  EXTRA_ABSENT_KEY,
  fromRecord,
  type RecordContext,
  toRecord,
} from '../../functions/domain/record.ts';
import { parseRecordLine, RECORD_KEYS, serializeRecord } from '../../functions/domain/record-codec.ts';
import { contentFingerprint } from '../../functions/domain/revisions.ts';
import type { JsonObject, JsonValue, RawMessage } from '../../functions/domain/tencent-types.ts';
import { ATHENA_SERDE, PARTITION_COLUMNS, RECORD_COLUMNS } from '../../functions/query/message-schema.ts';
import { createPrng } from '../../functions/simulator/hash.ts';

const ctx: RecordContext = { sdkAppId: 1400000000, groupId: '@TGS#15ERQPAER', topicId: null };
const topicCtx: RecordContext = {
  sdkAppId: 1400000000,
  groupId: '@TGS#_@TGS#cQVLVHIM62CJ',
  topicId: '@TGS#_@TGS#cQVLVHIM62CJ@TOPIC#_@TOPIC#cRTE3HIM62C5',
};

/** Own enumerable property even for `__proto__` (a plain assignment would set the prototype). */
function setOwn(target: JsonObject, key: string, value: JsonValue): void {
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
}

const roundTrip = (raw: RawMessage, context: RecordContext = ctx): RawMessage =>
  fromRecord(toRecord(raw, context));

/**
 * Exact structural difference (own enumerable keys, key order ignored, prototypes and bigint vs
 * number told apart), as a path, or undefined when equal. The fuzzer needs it because vitest's
 * toStrictEqual compares `a.constructor === b.constructor`, which an own `constructor` key holding
 * an object (a legal API field name) breaks between equal copies.
 */
function difference(a: unknown, b: unknown, path = '$'): string | undefined {
  if (Object.is(a, b)) return undefined;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) {
    return `${path}: ${typeof a} ${String(a)} != ${typeof b} ${String(b)}`;
  }
  if (Object.getPrototypeOf(a) !== Object.getPrototypeOf(b)) return `${path}: different prototypes`;
  const aKeys = Object.keys(a);
  const bKeys = Object.keys(b);
  const missing = bKeys.find((key) => !Object.hasOwn(a, key)) ?? aKeys.find((key) => !Object.hasOwn(b, key));
  if (missing !== undefined) return `${path}: key ${JSON.stringify(missing)} on one side only`;
  for (const key of aKeys) {
    const found = difference(
      (a as Record<string, unknown>)[key],
      (b as Record<string, unknown>)[key],
      `${path}[${JSON.stringify(key)}]`,
    );
    if (found !== undefined) return found;
  }
  return undefined;
}

// ------------------------------------------------------------------------------------------------
// Fixtures: one per element format of docs/tencent-api.md, Message elements
// ------------------------------------------------------------------------------------------------

/** A `type` (not an interface) so it stays assignable to JsonObject. */
type Element = { MsgType: string; MsgContent: JsonObject };
const el = (MsgType: string, MsgContent: JsonObject): Element => ({ MsgType, MsgContent });

const ELEMENTS = {
  text: el('TIMTextElem', { Text: '报上来 猫瞳 😀 👩‍👩‍👧 ok' }),
  location: el('TIMLocationElem', {
    Desc: '深圳市南山区腾讯大厦',
    Latitude: 22.540503,
    Longitude: 113.934528,
  }),
  face: el('TIMFaceElem', { Index: 15, Data: '' }),
  custom: el('TIMCustomElem', {
    Data: '\b\u0001\u0010\u0006\u001A\u0006猫瞳',
    Desc: 'MIF',
    Ext: '',
    Sound: 'dingdong.aiff',
  }),
  sound: el('TIMSoundElem', {
    Url: 'https://1400000000.cos.ap-shanghai.myqcloud.com/abc.silk',
    UUID: '1053D4E6A8B5F6C8',
    Size: 62351,
    Second: 1,
    Download_Flag: 2,
  }),
  soundLegacy: el('TIMSoundElem', { UUID: '305c0201', Size: 62351, Second: 1 }),
  image: el('TIMImageElem', {
    UUID: '1853095_D61040894AC3DE44CDFFFB3EC7EB720F',
    ImageFormat: 1,
    ImageInfoArray: [
      { Type: 1, Size: 1853095, Width: 2448, Height: 3264, URL: 'https://example.cos/orig.jpg' },
      { Type: 2, Size: 2565240, Width: 0, Height: 0, URL: 'https://example.cos/large.jpg' },
      { Type: 3, Size: 12535, Width: 150, Height: 200, URL: 'https://example.cos/thumb.jpg' },
    ],
  }),
  file: el('TIMFileElem', {
    Url: 'https://example.cos/Scan.pdf',
    UUID: 'a8ded3bd-e1ee-4a31-b5e4-82d4c09b5e4c',
    FileSize: 1773552,
    FileName: 'file:///private/var/Scan.pdf',
    Download_Flag: 2,
  }),
  video: el('TIMVideoFileElem', {
    VideoUrl: 'https://example.cos/video.mp4',
    VideoUUID: '5da38ba89d6521011e1f6f3fd6692e35',
    VideoSize: 1194603,
    VideoSecond: 5,
    VideoFormat: 'mp4',
    VideoDownloadFlag: 2,
    ThumbUrl: 'https://example.cos/thumb.jpg',
    ThumbUUID: '6edaffedef5150684510cf97957b7bc8',
    ThumbSize: 13907,
    ThumbWidth: 720,
    ThumbHeight: 1280,
    ThumbFormat: 'JPG',
    ThumbDownloadFlag: 2,
  }),
  relay: el('TIMRelayElem', {
    Title: '群聊的聊天记录',
    MsgNum: 2,
    CompatibleText: '您的版本不支持此类型消息',
    AbstractList: ['alice: 你好', 'bob: [图片]'],
    MsgList: [
      {
        From_Account: 'alice',
        GroupId: '@TGS#15ERQPAER',
        MsgSeq: 10,
        MsgRandom: 123,
        MsgTimeStamp: 1700000000,
        MsgBody: [el('TIMTextElem', { Text: '你好' })],
        CloudCustomData: '',
      },
      {
        From_Account: 'bob',
        GroupId: '@TGS#15ERQPAER',
        MsgSeq: 11,
        MsgRandom: 456,
        MsgTimeStamp: 1700000005,
        MsgBody: [el('TIMImageElem', { UUID: 'u', ImageFormat: 3, ImageInfoArray: [] })],
      },
    ],
  }),
  relayLarge: el('TIMRelayElem', {
    Title: 'Chat history',
    MsgNum: 300,
    CompatibleText: 'Upgrade to view',
    AbstractList: ['a: 1', 'b: 2', 'c: 3'],
    JsonMsgKey: '1400000000_abcdef_relay',
  }),
} satisfies Record<string, Element>;

/** A normal message around a body, with every documented field present. */
const message = (MsgBody: JsonValue, over: JsonObject = {}): RawMessage => ({
  From_Account: '144115197276518801',
  IsPlaceMsg: 0,
  MsgBody,
  MsgPriority: 1,
  MsgRandom: 51083293,
  MsgSeq: 7803321,
  MsgTimeStamp: 1458721802,
  ...over,
});

/** The first message of the documented sample response (GMGS in docs/tencent-api.md, Sources), verbatim. */
const SAMPLE: RawMessage = {
  From_Account: '144115197276518801',
  IsPlaceMsg: 0,
  MsgBody: [
    {
      MsgContent: { Data: '\b\u0001\u0010\u0006\u001A\u0006猫瞳', Desc: 'MIF', Ext: '' },
      MsgType: 'TIMCustomElem',
    },
    { MsgContent: { Data: '', Index: 15 }, MsgType: 'TIMFaceElem' },
  ],
  MsgPriority: 1,
  MsgRandom: 51083293,
  MsgSeq: 7803321,
  MsgTimeStamp: 1458721802,
};

// ------------------------------------------------------------------------------------------------
// toRecord
// ------------------------------------------------------------------------------------------------

describe('toRecord', () => {
  it('maps the documented sample to the expected record, keys in stable order', () => {
    const record = toRecord(SAMPLE, ctx);
    expect(record).toStrictEqual({
      sdk_app_id: 1400000000,
      group_id: '@TGS#15ERQPAER',
      topic_id: null,
      msg_seq: 7803321,
      msg_random: 51083293,
      msg_time: 1458721802,
      from_account: '144115197276518801',
      msg_priority: 1,
      is_place_msg: 0,
      is_system_msg: 0,
      msg_body: [
        {
          msg_type: 'TIMCustomElem',
          msg_content: { Data: '\b\u0001\u0010\u0006\u001A\u0006猫瞳', Desc: 'MIF', Ext: '' },
        },
        { msg_type: 'TIMFaceElem', msg_content: { Data: '', Index: 15 } },
      ],
      cloud_custom_data: null,
      text: null,
      element_types: ['TIMCustomElem', 'TIMFaceElem'],
      extra: null,
      revision: 0,
      observed_at: null,
      change: null,
      generation: 0,
      quarantined: false,
      raw: null,
    } satisfies ArchiveRecord);
    expect(Object.keys(record)).toEqual(RECORD_KEYS);
  });

  it('takes group and topic from the context', () => {
    const record = toRecord(SAMPLE, topicCtx);
    expect(record.group_id).toBe(topicCtx.groupId);
    expect(record.topic_id).toBe(topicCtx.topicId);
    expect(record.sdk_app_id).toBe(1400000000);
  });

  it('joins every TIMTextElem text with a newline, in order, skipping other elements', () => {
    const raw = message([
      el('TIMTextElem', { Text: 'first 第一' }),
      ELEMENTS.face,
      el('TIMTextElem', { Text: '' }),
      el('TIMTextElem', { Text: 'third 😀' }),
    ]);
    const record = toRecord(raw, ctx);
    expect(record.text).toBe('first 第一\n\nthird 😀');
    expect(record.element_types).toEqual(['TIMTextElem', 'TIMFaceElem', 'TIMTextElem', 'TIMTextElem']);
  });

  it('keeps text null when no element is text', () => {
    expect(toRecord(message([ELEMENTS.image, ELEMENTS.custom]), ctx).text).toBeNull();
    expect(toRecord(message([]), ctx).text).toBeNull();
  });

  it('keeps MsgContent verbatim, mixed-case keys included', () => {
    const record = toRecord(message([ELEMENTS.video, ELEMENTS.sound]), ctx);
    expect(record.msg_body[0]?.msg_content).toStrictEqual(ELEMENTS.video.MsgContent);
    expect(Object.keys(record.msg_body[1]?.msg_content ?? {})).toEqual([
      'Url',
      'UUID',
      'Size',
      'Second',
      'Download_Flag',
    ]);
  });

  it('maps placeholders and recalled messages', () => {
    const expired = toRecord({ IsPlaceMsg: 1, MsgBody: [], MsgSeq: 5, MsgTimeStamp: 1700000000 }, ctx);
    expect(expired).toMatchObject({ is_place_msg: 1, msg_body: [], element_types: [], text: null });
    expect(expired.from_account).toBeNull();
    expect(expired.msg_random).toBeNull();
    const recalled = toRecord(message([], { IsPlaceMsg: 2 }), ctx);
    expect(recalled.is_place_msg).toBe(2);
  });

  it('maps system messages', () => {
    expect(toRecord(message([ELEMENTS.custom], { IsSystemMsg: 1 }), ctx).is_system_msg).toBe(1);
    expect(toRecord(message([ELEMENTS.custom]), ctx).is_system_msg).toBe(0);
  });

  it('keeps CloudCustomData, including the empty string', () => {
    expect(toRecord(message([], { CloudCustomData: '{"k":1}' }), ctx).cloud_custom_data).toBe('{"k":1}');
    expect(toRecord(message([], { CloudCustomData: '' }), ctx).cloud_custom_data).toBe('');
    expect(toRecord(message([]), ctx).cloud_custom_data).toBeNull();
  });

  it('puts unknown top-level fields into extra verbatim, in their order', () => {
    const raw = message([ELEMENTS.text], {
      MsgFlag: 0,
      TopicId: 'T',
      OfflinePushInfo: { PushFlag: 0, Title: 'hi', Ext: '{"a":[1,2]}' },
      GroupId: '@TGS#x',
    });
    const record = toRecord(raw, ctx);
    expect(record.extra).toStrictEqual({
      MsgFlag: 0,
      TopicId: 'T',
      OfflinePushInfo: { PushFlag: 0, Title: 'hi', Ext: '{"a":[1,2]}' },
      GroupId: '@TGS#x',
    });
    expect(Object.keys(record.extra ?? {})).toEqual(['MsgFlag', 'TopicId', 'OfflinePushInfo', 'GroupId']);
  });

  it('records absent IsPlaceMsg and MsgBody in extra, since the columns show defaults', () => {
    const record = toRecord({ MsgSeq: 1, MsgTimeStamp: 2 }, ctx);
    expect(record.is_place_msg).toBe(0);
    expect(record.msg_body).toEqual([]);
    expect(record.extra).toStrictEqual({ [EXTRA_ABSENT_KEY]: ['IsPlaceMsg', 'MsgBody'] });
  });

  it('keeps an explicit IsSystemMsg 0 in extra (0 in the column means absent)', () => {
    const record = toRecord(message([], { IsSystemMsg: 0 }), ctx);
    expect(record.is_system_msg).toBe(0);
    expect(record.extra).toStrictEqual({ IsSystemMsg: 0 });
  });

  it('escapes API keys starting with $ so they cannot pose as the marker', () => {
    const raw = message([], { [EXTRA_ABSENT_KEY]: ['MsgBody'], $$x: 1, $: 2 });
    const record = toRecord(raw, ctx);
    expect(record.extra).toStrictEqual({ [`$${EXTRA_ABSENT_KEY}`]: ['MsgBody'], $$$x: 1, $$: 2 });
    expect(roundTrip(raw)).toStrictEqual(raw);
  });

  it('keeps a __proto__ field as data, not as a prototype', () => {
    const raw = message([]);
    setOwn(raw, '__proto__', { polluted: true });
    const record = toRecord(raw, ctx);
    expect(Object.hasOwn(record.extra ?? {}, '__proto__')).toBe(true);
    expect(Object.getPrototypeOf(record.extra)).toBe(Object.prototype);
    const back = fromRecord(record);
    expect(Object.getPrototypeOf(back)).toBe(Object.prototype);
    expect(back).toStrictEqual(raw);
  });

  it.each([
    ['MsgSeq', { MsgSeq: 1.5 }],
    ['MsgSeq', { MsgSeq: 2n ** 64n }],
    ['MsgTimeStamp', { MsgTimeStamp: '1700000000' }],
  ])('refuses a message whose %s is not a safe integer', (_key, over) => {
    const raw = { ...message([]), ...over } as unknown as RawMessage;
    expect(() => toRecord(raw, ctx)).toThrow(RangeError);
  });
});

describe('the lossless rule', () => {
  /** Raw field of an unexpected type -> column at its default, value verbatim in extra. */
  it.each([
    ['MsgRandom', null, 'msg_random', null],
    ['MsgRandom', '51083293', 'msg_random', null],
    ['MsgRandom', 2n ** 64n, 'msg_random', null],
    ['MsgRandom', 1.5, 'msg_random', null],
    ['From_Account', 144115197276518801n, 'from_account', null],
    ['From_Account', null, 'from_account', null],
    ['MsgPriority', '1', 'msg_priority', null],
    ['IsPlaceMsg', true, 'is_place_msg', 0],
    ['IsPlaceMsg', null, 'is_place_msg', 0],
    ['IsSystemMsg', '1', 'is_system_msg', 0],
    ['CloudCustomData', { k: 1 }, 'cloud_custom_data', null],
    ['CloudCustomData', null, 'cloud_custom_data', null],
    ['MsgBody', 'oops', 'msg_body', []],
    ['MsgBody', null, 'msg_body', []],
    ['MsgBody', { MsgType: 'TIMTextElem' }, 'msg_body', []],
  ] as const)('%s of an unexpected type (case %#) goes to extra', (apiKey, value, column, columnValue) => {
    const raw = message([ELEMENTS.text], { [apiKey]: value as JsonValue });
    const record = toRecord(raw, ctx);
    expect(record[column]).toStrictEqual(columnValue);
    expect(record.extra).toStrictEqual({ [apiKey]: value });
    expect(roundTrip(raw)).toStrictEqual(raw);
  });

  it.each([
    ['an item with an extra key', [{ ...ELEMENTS.text, Extra: 1 }]],
    ['an item without MsgContent', [{ MsgType: 'TIMTextElem' }]],
    ['a non-string MsgType', [{ MsgType: 7, MsgContent: {} }]],
    ['an array MsgContent', [{ MsgType: 'TIMTextElem', MsgContent: ['a'] }]],
    ['a null MsgContent', [{ MsgType: 'TIMTextElem', MsgContent: null }]],
    ['a null item', [ELEMENTS.text, null]],
    ['a string item', ['TIMTextElem']],
    ['a nested array', [[ELEMENTS.text]]],
  ] as const)('a MsgBody with %s goes to extra whole', (_label, body) => {
    const raw = message(body as unknown as JsonValue);
    const record = toRecord(raw, ctx);
    expect(record.msg_body).toEqual([]);
    expect(record.extra).toStrictEqual({ MsgBody: body });
    expect(roundTrip(raw)).toStrictEqual(raw);
  });

  it('still derives element_types and text from a body kept in extra', () => {
    const raw = message([{ ...el('TIMTextElem', { Text: 'hello' }), Extra: 1 }, ELEMENTS.face]);
    const record = toRecord(raw, ctx);
    expect(record.msg_body).toEqual([]);
    expect(record.element_types).toEqual(['TIMTextElem', 'TIMFaceElem']);
    expect(record.text).toBe('hello');
  });

  it.each([
    ['an image size written as a string', el('TIMImageElem', { ImageInfoArray: [{ Width: '2448' }] })],
    ['an image info item that is not an object', el('TIMImageElem', { ImageInfoArray: ['x'] })],
    ['ImageInfoArray not being an array', el('TIMImageElem', { ImageInfoArray: { Type: 1 } })],
    ['a width beyond int32', el('TIMImageElem', { ImageInfoArray: [{ Width: 2 ** 31 }] })],
    ['an object where a number is declared', el('TIMFaceElem', { Index: { a: 1 } })],
    ['a fractional Size', el('TIMSoundElem', { Size: 1.5 })],
    ['a string Latitude', el('TIMLocationElem', { Latitude: '22.5' })],
    ['Text and text in one MsgContent', el('TIMTextElem', { Text: 'a', text: 'b' })],
  ])('a MsgBody Athena could not read (%s) goes to extra', (_label, element) => {
    const raw = message([ELEMENTS.text, element]);
    const record = toRecord(raw, ctx);
    expect(record.msg_body).toEqual([]);
    expect(record.extra).toStrictEqual({ MsgBody: raw.MsgBody });
    expect(roundTrip(raw)).toStrictEqual(raw);
  });

  it('accepts what Athena can read: unknown MsgContent keys, nulls, bigints in bigint fields, any string field', () => {
    const raw = message([
      el('TIMCustomElem', { Data: { nested: [1, 2] }, Desc: 5, Unknown: { deep: true }, Ext: null }),
      el('TIMFileElem', { FileSize: 2n ** 62n, FileName: 'x' }),
      el('TIMRelayElem', { MsgList: [{ anything: 'goes' }], AbstractList: [] }),
    ]);
    const record = toRecord(raw, ctx);
    expect(record.msg_body).toHaveLength(3);
    expect(record.extra).toBeNull();
  });
});

// ------------------------------------------------------------------------------------------------
// fromRecord: exact inverse on the documented shapes
// ------------------------------------------------------------------------------------------------

describe('fromRecord', () => {
  const cases: [string, RawMessage][] = [
    ['the documented sample', SAMPLE],
    ...Object.entries(ELEMENTS).map(([name, element]): [string, RawMessage] => [
      `a ${name} element`,
      message([element]),
    ]),
    ['all element types in one message', message(Object.values(ELEMENTS))],
    ['an expired placeholder', { IsPlaceMsg: 1, MsgBody: [], MsgSeq: 5, MsgTimeStamp: 1700000000 }],
    ['a placeholder with sender', message([], { IsPlaceMsg: 1 })],
    ['a recalled message', message([], { IsPlaceMsg: 2 })],
    ['a recalled message with body', message([ELEMENTS.text], { IsPlaceMsg: 2 })],
    ['a system message', message([ELEMENTS.custom], { IsSystemMsg: 1 })],
    ['an explicit IsSystemMsg 0', message([ELEMENTS.text], { IsSystemMsg: 0 })],
    ['unknown top-level fields', message([ELEMENTS.text], { MsgFlag: 0, Nested: { A: [1, { B: null }] } })],
    ['CloudCustomData present', message([ELEMENTS.text], { CloudCustomData: '{"vip":true}' })],
    ['CloudCustomData empty', message([ELEMENTS.text], { CloudCustomData: '' })],
    ['CloudCustomData with control chars', message([], { CloudCustomData: '\u0000\b\n"\\' })],
    ['MsgPriority absent', { From_Account: 'a', IsPlaceMsg: 0, MsgBody: [], MsgSeq: 1, MsgTimeStamp: 2 }],
    ['IsPlaceMsg absent', { MsgBody: [ELEMENTS.text], MsgSeq: 1, MsgTimeStamp: 2 }],
    ['MsgBody absent', { IsPlaceMsg: 1, MsgSeq: 1, MsgTimeStamp: 2 }],
    ['only the required fields', { MsgSeq: 0, MsgTimeStamp: 0 }],
    ['uint64-sized unknown values', message([], { Big: 18446744073709551615n, Neg: -(2n ** 63n) })],
    ['a bigint inside MsgContent', message([el('TIMCustomElem', { Data: 'x', Seq: 2n ** 60n })])],
  ];

  it.each(cases)('rebuilds %s exactly', (_label, raw) => {
    expect(roundTrip(raw)).toStrictEqual(raw);
    expect(roundTrip(raw, topicCtx)).toStrictEqual(raw);
  });

  it.each(cases)('rebuilds %s exactly after a trip through NDJSON', (_label, raw) => {
    const line = serializeRecord(toRecord(raw, ctx));
    expect(fromRecord(parseRecordLine(line))).toStrictEqual(raw);
  });

  it('prefers extra over the column', () => {
    const record = toRecord(message([ELEMENTS.text]), ctx);
    const tampered: ArchiveRecord = { ...record, extra: { MsgRandom: 'kept', From_Account: null } };
    const raw = fromRecord(tampered);
    expect(raw.MsgRandom).toBe('kept');
    expect(raw.From_Account).toBeNull();
  });

  it('rejects a malformed absence marker', () => {
    const record = { ...toRecord(message([]), ctx), extra: { [EXTRA_ABSENT_KEY]: 'MsgBody' } };
    expect(() => fromRecord(record)).toThrow(TypeError);
  });
});

// ------------------------------------------------------------------------------------------------
// Schema
// ------------------------------------------------------------------------------------------------

describe('RECORD_COLUMNS', () => {
  const msgBodyType = RECORD_COLUMNS.find((c) => c.name === 'msg_body')?.athenaType ?? '';

  it('has one column per record key, in record key order', () => {
    expect(RECORD_COLUMNS.map((c) => c.name)).toEqual([...RECORD_KEYS]);
    expect(Object.keys(toRecord(SAMPLE, ctx))).toEqual([...RECORD_KEYS]);
    expect(new Set(RECORD_KEYS).size).toBe(RECORD_KEYS.length);
  });

  it('declares numbers as bigint and strings as string', () => {
    const record = toRecord(message([ELEMENTS.text], { CloudCustomData: 'c', IsSystemMsg: 1 }), topicCtx);
    for (const column of RECORD_COLUMNS) {
      const value = record[column.name];
      if (typeof value === 'number') expect(column.athenaType, column.name).toBe('bigint');
      if (typeof value === 'string') expect(column.athenaType, column.name).toBe('string');
    }
    expect(RECORD_COLUMNS.find((c) => c.name === 'element_types')?.athenaType).toBe('array<string>');
    expect(RECORD_COLUMNS.find((c) => c.name === 'extra')?.athenaType).toBe('string');
  });

  it('types msg_body as an array of msg_type plus a struct of MsgContent fields', () => {
    expect(msgBodyType.startsWith('array<struct<msg_type:string,msg_content:struct<text:string,')).toBe(true);
    expect(msgBodyType).toContain(
      'imageinfoarray:array<struct<type:int,size:bigint,width:int,height:int,url:string>>',
    );
    expect(msgBodyType).toContain('abstractlist:array<string>');
    expect(msgBodyType).toContain('latitude:double');
    expect(msgBodyType).toContain('msglist:string');
    // Balanced brackets and no spaces: the string goes into DDL as is.
    expect(msgBodyType.split('<').length).toBe(msgBodyType.split('>').length);
    expect(msgBodyType).not.toMatch(/\s/);
  });

  it('declares every documented MsgContent field (lower-cased)', () => {
    const declared = new Set([...msgBodyType.matchAll(/([a-z_]+):/g)].map((m) => m[1]));
    for (const element of Object.values(ELEMENTS)) {
      for (const key of Object.keys(element.MsgContent)) expect(declared, key).toContain(key.toLowerCase());
    }
  });

  it('has DDL-safe comments', () => {
    for (const column of RECORD_COLUMNS) {
      expect(column.comment.length, column.name).toBeGreaterThan(0);
      expect(column.comment, column.name).not.toContain("'");
    }
  });

  it('partitions by sdkappid then dt, both strings, read with the OpenX SerDe', () => {
    expect(PARTITION_COLUMNS).toEqual([
      { name: 'sdkappid', athenaType: 'string' },
      { name: 'dt', athenaType: 'string' },
    ]);
    expect(ATHENA_SERDE).toBe('org.openx.data.jsonserde.JsonSerDe');
  });
});

// ------------------------------------------------------------------------------------------------
// NDJSON
// ------------------------------------------------------------------------------------------------

describe('serializeRecord / parseRecordLine', () => {
  it('writes keys in the stable order', () => {
    const line = serializeRecord(toRecord(SAMPLE, ctx));
    expect(Object.keys(JSON.parse(line))).toEqual([...RECORD_KEYS]);
  });

  it('writes the stable order even when the record object was built in another order', () => {
    const record = toRecord(SAMPLE, ctx);
    const shuffled = Object.fromEntries(Object.entries(record).reverse()) as unknown as ArchiveRecord;
    expect(serializeRecord(shuffled)).toBe(serializeRecord(record));
  });

  it('writes bigints as exact JSON integers and reads them back as bigint', () => {
    const raw = message([el('TIMCustomElem', { Data: 'x', Seq: 12345678901234567890n })], {
      Next: 2n ** 53n,
      Small: 9007199254740991,
    });
    const line = serializeRecord(toRecord(raw, ctx));
    expect(line).toContain('"Seq":12345678901234567890');
    expect(line).toContain('"Next":9007199254740992');
    const back = parseRecordLine(line);
    expect(back.msg_body[0]?.msg_content.Seq).toBe(12345678901234567890n);
    expect(back.extra?.Next).toBe(2n ** 53n);
    expect(back.extra?.Small).toBe(9007199254740991);
  });

  it('never contains a raw line break, and the characters survive', () => {
    const nasty = 'a\nb\r\nc\u2028d\u2029e\u0085f';
    const raw = message([el('TIMTextElem', { Text: nasty })], { CloudCustomData: nasty, [nasty]: nasty });
    const line = serializeRecord(toRecord(raw, ctx));
    expect(line).not.toMatch(/[\n\r\u0085\u2028\u2029]/);
    expect(line).toContain('\\u2028');
    const back = parseRecordLine(line);
    expect(back.text).toBe(nasty);
    expect(back.cloud_custom_data).toBe(nasty);
    expect(fromRecord(back)).toStrictEqual(raw);
  });

  it('keeps control characters, CJK and emoji intact, and a lone surrogate in raw (U+FFFD in the column)', () => {
    const data = '\b\u0001\u0000\u001f\u007f猫瞳😀\ud800"\\';
    const raw = message([el('TIMCustomElem', { Data: data, Desc: 'MIF', Ext: '' })]);
    const line = serializeRecord(toRecord(raw, ctx));
    expect([...line].filter((ch) => ch.charCodeAt(0) < 0x20)).toEqual([]);
    expect(parseRecordLine(line).msg_body[0]?.msg_content.Data).toBe(data.replace('\ud800', '\ufffd'));
    expect(fromRecord(parseRecordLine(line))).toEqual(raw);
  });

  it('tolerates a trailing newline when reading', () => {
    const record = toRecord(SAMPLE, ctx);
    expect(parseRecordLine(`${serializeRecord(record)}\n`)).toStrictEqual(record);
  });

  it('rejects text that is not JSON', () => {
    expect(() => parseRecordLine('{"sdk_app_id":')).toThrow(SyntaxError);
  });

  it.each([
    ['an array', '[]'],
    ['a missing key', JSON.stringify({ ...toRecord(SAMPLE, ctx), text: undefined })],
    ['an unknown key', JSON.stringify({ ...toRecord(SAMPLE, ctx), surprise: 1 })],
    ['a wrong type', JSON.stringify({ ...toRecord(SAMPLE, ctx), msg_seq: '7803321' })],
    ['a fractional number', JSON.stringify({ ...toRecord(SAMPLE, ctx), msg_time: 1.5 })],
    ['a bad msg_body item', JSON.stringify({ ...toRecord(SAMPLE, ctx), msg_body: [{ msg_type: 'x' }] })],
    ['a non-object extra', JSON.stringify({ ...toRecord(SAMPLE, ctx), extra: [] })],
    ['a non-string element type', JSON.stringify({ ...toRecord(SAMPLE, ctx), element_types: [1] })],
  ])('rejects a line with %s', (_label, line) => {
    expect(() => parseRecordLine(line)).toThrow(TypeError);
  });
});

// ------------------------------------------------------------------------------------------------
// Property test: a few hundred random raw messages
// ------------------------------------------------------------------------------------------------

/** mulberry32 (the simulator's), seeded so every fuzz case is reproducible. */
const prng = createPrng;

const STRING_PIECES = [
  'a',
  'Z9',
  ' ',
  '报上来',
  '猫瞳',
  '😀',
  '👩‍👩‍👧',
  '\b',
  '\u0001',
  '\u0000',
  '\n',
  '\r\n',
  '\t',
  '"',
  '\\',
  '\u2028',
  '\u2029',
  '\u0085',
  '\ud800',
  '\udfff',
  '$',
  '{}',
  'ü',
  '\u007f',
];

const KEY_POOL = [
  'Text',
  'text',
  'Desc',
  'Data',
  'Index',
  'Latitude',
  'URL',
  'Url',
  'UUID',
  'Size',
  'Width',
  'Type',
  'ImageInfoArray',
  'AbstractList',
  'MsgList',
  'MsgType',
  'MsgContent',
  'MsgSeq',
  'IsPlaceMsg',
  '__proto__',
  'constructor',
  'toString',
  EXTRA_ABSENT_KEY,
  '$$x',
  '$',
  '',
  '键',
  '😀',
  'a.b',
  '0',
  '42',
];

class Gen {
  private readonly random: () => number;

  public constructor(seed: number) {
    this.random = prng(seed);
  }

  public chance(p: number): boolean {
    return this.random() < p;
  }

  public int(lo: number, hi: number): number {
    return lo + Math.floor(this.random() * (hi - lo + 1));
  }

  public pick<T>(items: readonly T[]): T {
    const item = items[this.int(0, items.length - 1)];
    if (item === undefined) throw new Error('pick from empty list');
    return item;
  }

  public shuffle<T>(items: T[]): T[] {
    for (let i = items.length - 1; i > 0; i--) {
      const j = this.int(0, i);
      [items[i], items[j]] = [items[j] as T, items[i] as T];
    }
    return items;
  }

  public string(): string {
    return Array.from({ length: this.int(0, 6) }, () => this.pick(STRING_PIECES)).join('');
  }

  /** Numbers as the lossless adapter produces them: safe integers, finite doubles, bigints beyond 2^53. */
  public number(): JsonValue {
    switch (this.int(0, 5)) {
      case 0:
        return this.int(-1000, 1000);
      case 1:
        return this.pick([Number.MAX_SAFE_INTEGER, -Number.MAX_SAFE_INTEGER, 2 ** 31, 2 ** 32 - 1]);
      case 2:
        return this.int(1, 10 ** 6) / this.pick([3, 7, 1000]) + (this.chance(0.5) ? 0 : -5000);
      case 3:
        return this.pick([1e21, 1.5e300, 5e-324, 0.1]);
      case 4:
        return 2n ** 53n + BigInt(this.int(0, 1000));
      default:
        return -(2n ** BigInt(this.int(53, 70))) - BigInt(this.int(0, 9));
    }
  }

  public key(): string {
    return this.chance(0.8) ? this.pick(KEY_POOL) : this.string();
  }

  public value(depth = 0): JsonValue {
    const kind = this.int(0, depth >= 3 ? 3 : 5);
    if (kind === 0) return this.string();
    if (kind === 1) return this.number();
    if (kind === 2) return this.pick([true, false]);
    if (kind === 3) return null;
    if (kind === 4) return Array.from({ length: this.int(0, 3) }, () => this.value(depth + 1));
    return this.object(depth + 1);
  }

  public object(depth = 0): JsonObject {
    const out: JsonObject = {};
    for (let i = this.int(0, 4); i > 0; i--) setOwn(out, this.key(), this.value(depth));
    return out;
  }

  /** A documented element, sometimes with an odd field the Athena guard must catch. */
  public element(): JsonObject {
    const base = structuredClone(this.pick(Object.values(ELEMENTS))) as {
      MsgType: string;
      MsgContent: JsonObject;
    };
    if (this.chance(0.15)) setOwn(base.MsgContent, this.key(), this.value(1));
    if (this.chance(0.05)) base.MsgContent = { Text: this.string(), text: this.string() };
    if (base.MsgType === 'TIMTextElem' && this.chance(0.7)) base.MsgContent = { Text: this.string() };
    if (this.chance(0.1)) base.MsgType = this.string();
    return base;
  }

  public malformedItem(): JsonValue {
    switch (this.int(0, 5)) {
      case 0:
        return { ...this.element(), [this.pick(['Extra', 'msgType', 'MsgContent2'])]: this.value(1) };
      case 1:
        return { MsgType: this.string() };
      case 2:
        return { MsgType: this.number(), MsgContent: this.object(1) };
      case 3:
        return { MsgType: 'TIMTextElem', MsgContent: this.pick<JsonValue>([[], null, 'x', 1]) };
      case 4:
        return this.pick<JsonValue>([null, 'TIMTextElem', 3, []]);
      default:
        return this.object(1);
    }
  }

  public body(): JsonValue {
    const items: JsonValue[] = Array.from({ length: this.int(0, 4) }, () => this.element());
    if (this.chance(0.25)) items.splice(this.int(0, items.length), 0, this.malformedItem());
    return items;
  }

  /** A top-level field: absent (undefined), valid, null, or of any other type. */
  public field(valid: () => JsonValue): JsonValue | undefined {
    const roll = this.random();
    if (roll < 0.25) return undefined;
    if (roll < 0.75) return valid();
    if (roll < 0.85) return null;
    return this.value(1);
  }

  public message(): RawMessage {
    const entries: [string, JsonValue | undefined][] = [
      ['MsgSeq', this.int(0, Number.MAX_SAFE_INTEGER)],
      ['MsgTimeStamp', this.int(0, 2 ** 32)],
      ['From_Account', this.field(() => this.string())],
      ['MsgRandom', this.field(() => this.int(0, 2 ** 32 - 1))],
      ['MsgPriority', this.field(() => this.int(1, 4))],
      ['IsPlaceMsg', this.field(() => this.int(0, 2))],
      ['IsSystemMsg', this.field(() => this.int(0, 1))],
      ['CloudCustomData', this.field(() => this.string())],
      ['MsgBody', this.field(() => this.body())],
    ];
    for (let i = this.int(0, 3); i > 0; i--) {
      entries.push([
        this.pick(['GroupId', 'TopicId', 'MsgFlag', 'OfflinePushInfo', this.key()]),
        this.value(1),
      ]);
    }
    const raw: JsonObject = {};
    for (const [key, value] of this.shuffle(entries)) {
      // Later unknown keys may repeat a documented one; the last write wins, as in JSON.parse.
      if (value !== undefined) setOwn(raw, key, value);
    }
    // The adapter guarantees these two (wire.ts validates them).
    setOwn(raw, 'MsgSeq', this.int(0, Number.MAX_SAFE_INTEGER));
    setOwn(raw, 'MsgTimeStamp', this.int(0, 2 ** 32));
    return raw as RawMessage;
  }
}

/** Mapped columns and the type a raw value must have to live in them. */
const MAPPED: [keyof ArchiveRecord, string, (v: JsonValue | undefined) => boolean][] = [
  ['msg_random', 'MsgRandom', Number.isSafeInteger],
  ['from_account', 'From_Account', (v) => typeof v === 'string'],
  ['msg_priority', 'MsgPriority', Number.isSafeInteger],
  ['is_place_msg', 'IsPlaceMsg', Number.isSafeInteger],
  ['cloud_custom_data', 'CloudCustomData', (v) => typeof v === 'string'],
];

describe('round trip property (seeded fuzz)', () => {
  it('compares exactly (self-test of the comparison it relies on)', () => {
    expect(difference({ a: [1, { b: 2n }], c: null }, { c: null, a: [1, { b: 2n }] })).toBeUndefined();
    expect(difference({ a: 1n }, { a: 1 })).toBe('$["a"]: bigint 1 != number 1');
    expect(difference({ a: 1 }, { a: 1, b: undefined })).toContain('"b"');
    expect(difference([1], { 0: 1 })).toContain('prototypes');
    expect(difference({ constructor: { x: 1 } }, { constructor: { x: 2 } })).toContain('constructor');
    expect(difference({ constructor: { x: 1 } }, { constructor: { x: 1 } })).toBeUndefined();
  });

  it.each([0x5eed, 20240310, 7])('holds for 150 random messages from seed %i', (seed) => {
    const gen = new Gen(seed);
    let bodiesArchived = 0;
    let bodiesInExtra = 0;
    for (let i = 0; i < 150; i++) {
      const raw = gen.message();
      const context = gen.chance(0.5) ? ctx : topicCtx;
      const record = toRecord(raw, context);

      // Inverse, in memory and through the NDJSON line.
      expect(difference(fromRecord(record), raw), `message ${i}`).toBeUndefined();
      const line = serializeRecord(record);
      expect(line).not.toMatch(/[\n\r\u0085\u2028\u2029]/);
      const parsed = parseRecordLine(line);
      expect(difference(parsed, record), `message ${i}`).toBeUndefined();
      expect(difference(fromRecord(parsed), raw), `message ${i}`).toBeUndefined();

      // A message with a lone surrogate: columns well formed, the exact message in raw (checked
      // above through fromRecord); the rule below holds for its well-formed copy.
      const odd = hasLoneSurrogate(raw);
      expect(record.raw !== null).toBe(odd);
      expect(hasLoneSurrogate(parsed as unknown as JsonValue)).toBe(false);
      // The lossless rule: a well-typed raw field sits in its column and nowhere else; any other
      // present value sits in extra, verbatim.
      for (const [column, apiKey, wellTyped] of MAPPED) {
        if (odd || !Object.hasOwn(raw, apiKey)) continue;
        const value = raw[apiKey];
        if (wellTyped(value)) {
          expect(record[column]).toBe(value);
          expect(Object.hasOwn(record.extra ?? {}, apiKey)).toBe(false);
        } else {
          // Same reference: verbatim means untouched, not merely equal.
          expect(record.extra?.[apiKey]).toBe(value);
        }
      }
      if (record.msg_body.length > 0) bodiesArchived++;
      if (Object.hasOwn(record.extra ?? {}, 'MsgBody')) bodiesInExtra++;
      const texts = record.msg_body
        .filter((e) => e.msg_type === 'TIMTextElem')
        .map((e) => e.msg_content.Text);
      if (!odd && texts.length > 0 && texts.every((t) => typeof t === 'string'))
        expect(record.text).toBe(texts.join('\n'));
    }
    // The generator must exercise both paths, or the property proves little.
    expect(bodiesArchived).toBeGreaterThan(20);
    expect(bodiesInExtra).toBeGreaterThan(10);
  });
});

describe('lone surrogates (issue 21, point 3)', () => {
  const message = (text: string): RawMessage => ({
    MsgSeq: 7,
    MsgTimeStamp: 1700000000,
    From_Account: 'user\udc00',
    MsgBody: [{ MsgType: 'TIMTextElem', MsgContent: { Text: text } }],
  });

  it('writes well-formed columns (U+FFFD) and keeps the exact message in raw, which fromRecord gives back', () => {
    const served = message('a\ud800b 😀');
    const record = toRecord(served, ctx);
    expect([record.text, record.from_account]).toEqual(['a\ufffdb 😀', 'user\ufffd']);
    expect(record.quarantined).toBe(false);
    expect(record.raw).toContain('\\ud800');
    const line = serializeRecord(record);
    // Valid UTF-8 and no escaped lone surrogate, the only thing DuckDB refuses.
    expect(Buffer.from(line, 'utf8').toString('utf8')).toBe(line);
    expect(line).not.toMatch(/(?<!\\)\\ud[89a-f]/i);
    expect(parseRecordLine(line)).toEqual(record);
    expect(fromRecord(parseRecordLine(line))).toEqual(served);
    expect(JSON.parse(record.raw ?? '').MsgBody[0].MsgContent.Text).toBe('a\ud800b 😀');
  });

  it('tells two lone surrogates apart in the fingerprint (an edit between them is a change)', () => {
    expect(contentFingerprint(toRecord(message('\ud800'), ctx))).not.toBe(
      contentFingerprint(toRecord(message('\ud801'), ctx)),
    );
    // A message without one keeps the fingerprint it always had (raw null is not hashed).
    const plain = toRecord({ ...message('plain'), From_Account: 'user' }, ctx);
    expect(plain.raw).toBeNull();
  });

  it('writes a lone surrogate in an id as U+FFFD: the line stays readable by DuckDB', () => {
    const record = toRecord({ ...message('plain'), From_Account: 'user' }, ctx);
    const line = serializeRecord({ ...record, group_id: '@TGS#\ud800' });
    expect(line).not.toMatch(/(?<!\\)\\ud[89a-f]/i);
    expect(parseRecordLine(line).group_id).toBe('@TGS#\ufffd');
  });
});
