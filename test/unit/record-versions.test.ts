/**
 * The version and quarantine columns of a record: defaults that keep old callers and old lines
 * working, the revision/change rule, and quarantined items kept byte for byte.
 */
import { describe, expect, it } from 'vitest';
import {
  EXTRA_REASON_KEY,
  fromRecord,
  type RecordContext,
  toQuarantinedRecord,
  toRecord,
} from '../../functions/domain/record.ts';
import { parseRecordLine, RECORD_KEYS, serializeRecord } from '../../functions/domain/record-codec.ts';
import type { RawMessage } from '../../functions/domain/tencent-types.ts';

const ctx: RecordContext = { sdkAppId: 1400000000, groupId: '@TGS#1', topicId: null };
const raw: RawMessage = {
  From_Account: 'alice',
  IsPlaceMsg: 0,
  MsgBody: [{ MsgType: 'TIMTextElem', MsgContent: { Text: 'hi' } }],
  MsgRandom: 7,
  MsgSeq: 42,
  MsgTimeStamp: 1_700_000_000,
};

describe('version columns', () => {
  it('default to a first capture: revision 0, no change, generation 0, not quarantined', () => {
    const record = toRecord(raw, ctx);
    expect(record).toMatchObject({
      revision: 0,
      observed_at: null,
      change: null,
      generation: 0,
      quarantined: false,
      raw: null,
    });
  });

  it('take revision, change, observation time and generation from the context', () => {
    const record = toRecord(raw, {
      ...ctx,
      revision: 2,
      change: 'recalled',
      observedAt: 1_700_000_500,
      generation: 1,
    });
    expect(record).toMatchObject({
      revision: 2,
      change: 'recalled',
      observed_at: 1_700_000_500,
      generation: 1,
    });
    expect(fromRecord(record)).toStrictEqual(raw);
  });

  it('refuse a revision without a change, a change on revision 0, and negative numbers', () => {
    expect(() => toRecord(raw, { ...ctx, revision: 1 })).toThrow(RangeError);
    expect(() => toRecord(raw, { ...ctx, change: 'modified' })).toThrow(RangeError);
    expect(() => toRecord(raw, { ...ctx, revision: -1, change: 'modified' })).toThrow(RangeError);
    expect(() => toRecord(raw, { ...ctx, generation: -1 })).toThrow(RangeError);
    expect(() => toRecord(raw, { ...ctx, observedAt: 1.5 })).toThrow(RangeError);
  });

  it('survive NDJSON, and a line written before they existed reads with their defaults', () => {
    const record = toRecord(raw, { ...ctx, revision: 1, change: 'modified', observedAt: 5 });
    expect(parseRecordLine(serializeRecord(record))).toStrictEqual(record);
    const old = JSON.parse(serializeRecord(toRecord(raw, ctx))) as Record<string, unknown>;
    for (const key of ['revision', 'observed_at', 'change', 'generation', 'quarantined', 'raw'])
      delete old[key];
    const parsed = parseRecordLine(JSON.stringify(old));
    expect(Object.keys(parsed)).toEqual([...RECORD_KEYS]);
    expect(parsed).toStrictEqual(toRecord(raw, ctx));
  });

  it('reject an unknown change kind or a non-boolean quarantined flag in a line', () => {
    const line = JSON.parse(serializeRecord(toRecord(raw, ctx))) as Record<string, unknown>;
    expect(() => parseRecordLine(JSON.stringify({ ...line, revision: 1, change: 'edited' }))).toThrow(
      /change/,
    );
    expect(() => parseRecordLine(JSON.stringify({ ...line, quarantined: 1 }))).toThrow(/quarantined/);
  });
});

describe('toQuarantinedRecord', () => {
  it('keeps the exact text, the reason, and what it can read into the columns', () => {
    const text =
      '{"From_Account":"bob","MsgSeq":9,"MsgTimeStamp":null,"MsgBody":[{"MsgType":"TIMTextElem","MsgContent":{"Text":"x"}}],"Big":18446744073709551615}';
    const record = toQuarantinedRecord(
      { text, reason: 'MsgTimeStamp: expected number, got null', msgSeq: 9 },
      { ...ctx, observedAt: 100, fallbackTime: 1_700_000_100 },
    );
    expect(record.quarantined).toBe(true);
    expect(record.raw).toBe(text);
    expect(record.msg_seq).toBe(9);
    expect(record.msg_time).toBe(1_700_000_100);
    expect(record.from_account).toBe('bob');
    expect(record.text).toBe('x');
    expect(record.observed_at).toBe(100);
    expect(record.extra).toEqual({ [EXTRA_REASON_KEY]: 'MsgTimeStamp: expected number, got null' });
    const back = parseRecordLine(serializeRecord(record));
    expect(back.raw).toBe(text);
    expect(() => fromRecord(back)).toThrow(TypeError);
  });

  it('files text that is not even an object under seq 0 at the fallback time', () => {
    const record = toQuarantinedRecord(
      { text: '[1,2', reason: 'not JSON', msgSeq: null },
      { ...ctx, fallbackTime: 1_700_000_200 },
    );
    expect(record).toMatchObject({ msg_seq: 0, msg_time: 1_700_000_200, quarantined: true, raw: '[1,2' });
    expect(record.msg_body).toEqual([]);
  });
});
