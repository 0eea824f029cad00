/**
 * Change detection: the content fingerprint, the change classification, and the fingerprint log
 * the rescan reads back (one latest revision per message, whatever the order of the logs).
 */
import { createHash } from 'node:crypto';
import { stringify } from 'lossless-json';
import { describe, expect, it } from 'vitest';
import { FingerprintLogError } from '../../functions/domain/errors.ts';
import { FingerprintLogBuilder, FingerprintTable } from '../../functions/domain/fingerprint-log.ts';
import { type RecordContext, toRecord } from '../../functions/domain/record.ts';
import { CONTENT_FIELDS, classifyChange, contentFingerprint } from '../../functions/domain/revisions.ts';
import type { JsonValue, RawMessage } from '../../functions/domain/tencent-types.ts';

const ctx: RecordContext = { sdkAppId: 1400000000, groupId: '@TGS#1', topicId: null };
const raw = (over: Partial<RawMessage> = {}): RawMessage => ({
  From_Account: 'alice',
  IsPlaceMsg: 0,
  MsgBody: [{ MsgType: 'TIMTextElem', MsgContent: { Text: 'hi', Extra: 1 } }],
  MsgPriority: 2,
  MsgRandom: 7,
  MsgSeq: 42,
  MsgTimeStamp: 1_700_000_000,
  ...over,
});
const fp = (m: RawMessage, c: RecordContext = ctx) => contentFingerprint(toRecord(m, c));

describe('contentFingerprint', () => {
  it('is 16 hex digits, ignores key order and version columns, and sees every content change', () => {
    const base = fp(raw());
    expect(base).toMatch(/^[0-9a-f]{16}$/);
    expect(
      fp({ ...raw(), MsgBody: [{ MsgContent: { Extra: 1, Text: 'hi' }, MsgType: 'TIMTextElem' }] }),
    ).toBe(base);
    expect(fp(raw(), { ...ctx, revision: 3, change: 'modified', observedAt: 9, generation: 0 })).toBe(base);
    const changed = [
      raw({ MsgBody: [{ MsgType: 'TIMTextElem', MsgContent: { Text: 'hi!', Extra: 1 } }] }),
      raw({ CloudCustomData: '' }),
      raw({ IsPlaceMsg: 2, MsgBody: [] }),
      raw({ From_Account: '' }),
      raw({ MsgPriority: 1 }),
      raw({ Unknown: true }),
      raw({
        MsgBody: [
          { MsgType: 'TIMTextElem', MsgContent: { Text: 'hi', Extra: 1 } },
          { MsgType: 'TIMFaceElem', MsgContent: { Index: 1 } },
        ],
      }),
    ];
    const prints = new Set(changed.map((m) => fp(m)));
    expect(prints.size).toBe(changed.length);
    expect(prints.has(base)).toBe(false);
  });

  // Fingerprints are stored in the archive: if their text ever changed, every archived message would
  // look modified at the next rescan. This value was computed by the first implementation (a copy
  // with sorted keys, serialised by lossless-json).
  it('stays the value archived by earlier versions, for integer-like keys and integers beyond 2^53', () => {
    const odd = {
      ...raw({
        MsgBody: [
          { MsgType: 'TIMCustomElem', MsgContent: { Data: '{"b":1}', Desc: 'ü', Ext: '', Sound: '' } },
        ],
        CloudCustomData: 'x',
      }),
      '10': 1,
      '2': 2,
      b: 3,
      A: 4,
      '01': 5,
      Big: 9007199254740993n,
    } as RawMessage;
    expect(fp(odd)).toBe('517b9587ad8c0448');
  });

  it('equals the first implementation on random content with awkward keys', () => {
    const canonical = (value: JsonValue): JsonValue => {
      if (Array.isArray(value)) return value.map(canonical);
      if (value !== null && typeof value === 'object') {
        const sorted: { [key: string]: JsonValue } = {};
        for (const key of Object.keys(value).sort()) {
          Object.defineProperty(sorted, key, {
            value: canonical(value[key] as JsonValue),
            enumerable: true,
            writable: true,
            configurable: true,
          });
        }
        return sorted;
      }
      return value;
    };
    const firstFingerprint = (m: RawMessage) => {
      const record = toRecord(m, ctx);
      const content: { [key: string]: JsonValue } = {};
      for (const field of CONTENT_FIELDS) content[field] = record[field] as unknown as JsonValue;
      const text = stringify(canonical(content)) ?? '';
      return createHash('sha256').update(text, 'utf8').digest('hex').slice(0, 16);
    };
    let seed = 11;
    const next = () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    const keys = ['0', '7', '10', '01', '-1', '4294967295', '__proto__', 'Z', 'a', 'é', '😀', ''];
    const value = (depth: number): JsonValue => {
      const roll = next();
      if (depth > 2 || roll < 0.3)
        return [1.5, 'x', null, true, 2n ** 60n, -0][Math.floor(next() * 6)] as JsonValue;
      if (roll < 0.5) return [value(depth + 1), value(depth + 1)];
      const object: { [key: string]: JsonValue } = {};
      for (const key of keys)
        if (next() < 0.4)
          Object.defineProperty(object, key, {
            value: value(depth + 1),
            enumerable: true,
            writable: true,
            configurable: true,
          });
      return object;
    };
    for (let i = 0; i < 300; i++) {
      const m = {
        ...raw({ MsgBody: [{ MsgType: 'TIMCustomElem', MsgContent: value(0) as never }] }),
      } as RawMessage;
      for (const key of keys)
        if (next() < 0.2 && key !== '__proto__') (m as Record<string, JsonValue>)[`X${key}`] = value(1);
      expect(fp(m)).toBe(firstFingerprint(m));
    }
  });
});

describe('classifyChange', () => {
  const s = (place: number, fingerprint: string) => ({ place, fingerprint });
  it('names each kind of change and returns null for equal content', () => {
    expect(classifyChange(s(0, 'a'), s(0, 'a'))).toBeNull();
    expect(classifyChange(s(0, 'a'), s(0, 'b'))).toBe('modified');
    expect(classifyChange(s(0, 'a'), s(2, 'b'))).toBe('recalled');
    expect(classifyChange(s(0, 'a'), s(1, 'b'))).toBe('deleted');
    expect(classifyChange(s(2, 'a'), s(1, 'b'))).toBe('deleted');
    expect(classifyChange(s(1, 'a'), s(2, 'b'))).toBe('recalled');
    expect(classifyChange(s(2, 'a'), s(0, 'b'))).toBe('restored');
    expect(classifyChange(s(2, 'a'), s(2, 'b'))).toBe('modified');
  });
});

describe('fingerprint log', () => {
  const record = (seq: number, over: Partial<RawMessage> = {}, c: RecordContext = ctx) =>
    toRecord(raw({ MsgSeq: seq, MsgTimeStamp: 1_700_000_000 + seq, ...over }), c);

  it('keeps the latest revision of each seq per target, whatever order the logs come in', () => {
    const first = new FingerprintLogBuilder();
    for (const seq of [5, 3, 4]) first.add(record(seq, {}, { ...ctx, observedAt: 10 }));
    first.add(record(7, {}, { ...ctx, topicId: '@TOPIC#a' }));
    const second = new FingerprintLogBuilder();
    const edited = record(4, { MsgBody: [] }, { ...ctx, revision: 1, change: 'modified', observedAt: 20 });
    second.add(edited);
    const table = new FingerprintTable();
    table.addLog(second.build(), 'second');
    table.addLog(first.build(), 'first');
    expect(table.entries).toBe(5);
    const targets = table.targets();
    expect(targets.map((t) => t.target)).toEqual([
      { groupId: '@TGS#1', topicId: null, generation: 0 },
      { groupId: '@TGS#1', topicId: '@TOPIC#a', generation: 0 },
    ]);
    const main = targets[0];
    expect(main?.size).toBe(3);
    expect([0, 1, 2].map((i) => main?.at(i).seq)).toEqual([3, 4, 5]);
    expect(main?.find(4)).toEqual({
      seq: 4,
      revision: 1,
      place: 0,
      fingerprint: contentFingerprint(edited),
      msgTime: 1_700_000_004,
      observedAt: 20,
    });
    expect(main?.find(5)?.observedAt).toBe(10);
    expect(main?.find(6)).toBeUndefined();
    expect(targets[1]?.find(7)?.observedAt).toBeNull();
  });

  it('skips quarantined records and refuses damaged text, naming the object and line', () => {
    const builder = new FingerprintLogBuilder();
    builder.add({ ...record(1), quarantined: true, raw: '{}' });
    expect(builder.count).toBe(0);
    const table = new FingerprintTable();
    expect(() => table.addLog('fp1\n1 0 0 abc 1 -\n', 'obj')).toThrow(FingerprintLogError);
    expect(() => table.addLog('nope\n', 'obj-a')).toThrow(/obj-a line 1/);
    expect(() => table.addLog('fp1\nT ["g",null,0]\n1 0 0 zz 1 -\n', 'obj-b')).toThrow(/obj-b line 3/);
  });
});
