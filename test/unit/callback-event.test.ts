import { describe, expect, it } from 'vitest';
import { toCallbackEventRow } from '../../functions/domain/callback-event.ts';

const bytes = (text: string) => new TextEncoder().encode(text);
const received = (body: string | Uint8Array, command = 'Group.CallbackAfterSendMsg') => ({
  sdkAppId: 1400000001,
  command,
  requestTime: 1669872112,
  receivedAt: 1669872112345,
  body: typeof body === 'string' ? bytes(body) : body,
});

const SEND = {
  CallbackCommand: 'Group.CallbackAfterSendMsg',
  GroupId: '@TGS#1',
  Type: 'Public',
  From_Account: 'alice',
  MsgSeq: 42,
  Random: 7,
  MsgTime: 1669872110,
  MsgBody: [{ MsgType: 'TIMTextElem', MsgContent: { Text: 'hi' } }],
  EventTime: 1669872110999,
};

describe('toCallbackEventRow', () => {
  it('keeps the body verbatim, with its EventTime, request time and arrival', () => {
    const text = JSON.stringify(SEND, null, 1);
    const row = toCallbackEventRow(received(text));
    expect(row).toMatchObject({
      sdk_app_id: 1400000001,
      callback_command: 'Group.CallbackAfterSendMsg',
      received_at: 1669872112345,
      event_time: 1669872110999,
      request_time: 1669872112,
      body: text,
      body_encoding: 'utf8',
      quarantined: false,
      reason: null,
    });
    expect(row.body_sha256).toMatch(/^[0-9a-f]{64}$/);
  });

  it('gives a redelivery the same event_key and body hash, whatever its arrival; a changed body the same key and another hash', () => {
    const first = toCallbackEventRow(received(JSON.stringify(SEND)));
    const again = toCallbackEventRow({ ...received(JSON.stringify(SEND)), receivedAt: 1669872119000 });
    expect([again.event_key, again.body_sha256]).toEqual([first.event_key, first.body_sha256]);
    const replayed = toCallbackEventRow(
      received(
        JSON.stringify({ ...SEND, MsgBody: [{ MsgType: 'TIMTextElem', MsgContent: { Text: 'forged' } }] }),
      ),
    );
    expect(replayed.event_key).toBe(first.event_key);
    expect(replayed.body_sha256).not.toBe(first.body_sha256);
  });

  it('gives another message, another group or another EventTime another event_key', () => {
    const key = (body: object) => toCallbackEventRow(received(JSON.stringify(body))).event_key;
    const base = key(SEND);
    expect(key({ ...SEND, MsgSeq: 43 })).not.toBe(base);
    expect(key({ ...SEND, GroupId: '@TGS#2' })).not.toBe(base);
    expect(key({ ...SEND, EventTime: SEND.EventTime + 1 })).not.toBe(base);
    expect(key({ ...SEND, TopicId: '@TGS#1@TOPIC#a' })).not.toBe(base);
  });

  it('keys a recall by its operator and seq list, so two recalls of one message by two people are two events', () => {
    const recall = {
      CallbackCommand: 'Group.CallbackAfterRecallMsg',
      GroupId: '@TGS#1',
      Operator_Account: 'admin',
      MsgSeqList: [{ MsgSeq: 42 }],
      EventTime: 1,
    };
    const key = (body: object) =>
      toCallbackEventRow(received(JSON.stringify(body), 'Group.CallbackAfterRecallMsg')).event_key;
    expect(key(recall)).not.toBe(key({ ...recall, Operator_Account: 'alice' }));
    expect(key(recall)).not.toBe(key({ ...recall, MsgSeqList: [{ MsgSeq: 41 }] }));
  });

  it('quarantines, never drops, a body that is not UTF-8, not JSON, not an object, or names another command', () => {
    const notUtf8 = toCallbackEventRow(received(new Uint8Array([0x7b, 0xff, 0xfe, 0x7d])));
    expect(notUtf8).toMatchObject({
      quarantined: true,
      reason: 'not UTF-8',
      body_encoding: 'base64',
      body: 'e//+fQ==',
    });
    expect(Buffer.from(notUtf8.body, 'base64')).toEqual(Buffer.from([0x7b, 0xff, 0xfe, 0x7d]));
    expect(toCallbackEventRow(received('{"GroupId":'))).toMatchObject({
      quarantined: true,
      reason: 'not JSON',
      body: '{"GroupId":',
    });
    expect(toCallbackEventRow(received('[1,2]'))).toMatchObject({
      quarantined: true,
      reason: 'not a JSON object',
    });
    const other = toCallbackEventRow(
      received(JSON.stringify({ ...SEND, CallbackCommand: 'Group.CallbackAfterRecallMsg' })),
    );
    expect(other).toMatchObject({ quarantined: true, reason: 'CallbackCommand differs from the query' });
    // Two different unparseable bodies are two events (keyed by their hash), the same one is one.
    const a = toCallbackEventRow(received('garbage-a'));
    expect(toCallbackEventRow(received('garbage-b')).event_key).not.toBe(a.event_key);
    expect(toCallbackEventRow(received('garbage-a')).event_key).toBe(a.event_key);
  });

  it('keeps a seq beyond 2^53 exactly in the key (lossless parse), and an unsafe EventTime as null', () => {
    const big = (seq: string) => `{"GroupId":"g","MsgSeq":${seq},"EventTime":1}`;
    const a = toCallbackEventRow(received(big('9007199254740993')));
    const b = toCallbackEventRow(received(big('9007199254740992')));
    expect(a.event_key).not.toBe(b.event_key);
    expect(
      toCallbackEventRow(received('{"GroupId":"g","EventTime":12345678901234567890}')).event_time,
    ).toBeNull();
  });
});
