/**
 * Witnesses of one-to-one pairs (functions/domain/c2c-witness.ts): the pair and time a recorded
 * `C2C.CallbackAfterSendMsg` names, the callback cursor's dates, the head's cursor key, and the
 * `c2c.fromCallbacks` config (functions/config/schema.ts).
 */
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../../functions/config/schema.ts';
import { newPairState } from '../../../functions/domain/c2c-pairs.ts';
import { emptyC2cHead, parseC2cHead, serializeC2cHead } from '../../../functions/domain/c2c-state.ts';
import {
  advanceCallbackCursor,
  datesBetween,
  parseWitnessCursor,
  serializeWitnessCursor,
  sightingOfCallback,
  withSighting,
} from '../../../functions/domain/c2c-witness.ts';
import { ConfigError } from '../../../functions/domain/errors.ts';
import { thrownAs } from '../../helpers/assertions.ts';

const row = (body: unknown, over: object = {}) => ({
  callback_command: 'C2C.CallbackAfterSendMsg',
  event_time: 1_800_000_123_456,
  body: typeof body === 'string' ? body : JSON.stringify(body),
  body_encoding: 'utf8',
  quarantined: false,
  ...over,
});

describe('a one-to-one send callback as a witness', () => {
  it('names the sorted pair and the message time, else the event time', () => {
    expect(
      sightingOfCallback(row({ From_Account: 'zoe', To_Account: 'adam', MsgTime: 1_799_999_999 })),
    ).toEqual({
      pair: ['adam', 'zoe'],
      time: 1_799_999_999,
    });
    expect(sightingOfCallback(row({ From_Account: 'a', To_Account: 'b' }))).toEqual({
      pair: ['a', 'b'],
      time: 1_800_000_123,
    });
  });

  it('names nothing for another command, a quarantined row, an online-only message or a body without a pair', () => {
    const body = { From_Account: 'a', To_Account: 'b', MsgTime: 5 };
    expect(sightingOfCallback(row(body, { callback_command: 'Group.CallbackAfterSendMsg' }))).toBeNull();
    expect(sightingOfCallback(row(body, { quarantined: true }))).toBeNull();
    expect(sightingOfCallback(row(body, { body_encoding: 'base64' }))).toBeNull();
    expect(sightingOfCallback(row({ ...body, OnlineOnlyFlag: 1 }))).toBeNull();
    expect(sightingOfCallback(row({ ...body, To_Account: 'a' }))).toBeNull();
    expect(sightingOfCallback(row({ ...body, To_Account: 7 }))).toBeNull();
    expect(sightingOfCallback(row({ From_Account: 'a', To_Account: 'b' }, { event_time: null }))).toBeNull();
    expect(sightingOfCallback(row('{not json'))).toBeNull();
  });

  it('keeps the newest witnessed time of a pair, whatever the order', () => {
    const state = withSighting(withSighting(newPairState(['a', 'b']), 200), 100);
    expect(state.knownTime).toBe(200);
  });
});

describe('the callback cursor', () => {
  const key = (dt: string, n: number) => `callbacks/sdkappid=1/dt=${dt}/rcv-${n}.ndjson.gz`;

  it('lists the dates between two, across a month end', () => {
    expect(datesBetween('2026-02-27', '2026-03-01')).toEqual(['2026-02-27', '2026-02-28', '2026-03-01']);
    expect(datesBetween('2026-03-02', '2026-03-01')).toEqual([]);
  });

  it('forgets the objects of closed dates and keeps those of open ones', () => {
    const cursor = advanceCallbackCursor(
      { from: '2026-03-01', read: [key('2026-03-01', 1)] },
      [key('2026-03-02', 2), key('2026-03-03', 3)],
      '2026-03-02',
    );
    expect(cursor).toEqual({ from: '2026-03-02', read: [key('2026-03-02', 2), key('2026-03-03', 3)] });
    // `from` never moves back.
    expect(advanceCallbackCursor(cursor, [], '2026-03-01').from).toBe('2026-03-02');
  });

  it('round-trips, and refuses a cursor of another shape', () => {
    const cursor = {
      version: 1 as const,
      callbacks: { from: '2026-03-02', read: [key('2026-03-02', 2)] },
      historyFiles: { fetched: ['2026030100'] },
    };
    expect(parseWitnessCursor(serializeWitnessCursor(cursor))).toEqual(cursor);
    // A cursor written before the hourly files reads as without them.
    expect(parseWitnessCursor('{"version":1,"callbacks":null}').historyFiles).toBeNull();
    expect(() => parseWitnessCursor('{"version":1,"callbacks":{"from":"03/02/2026","read":[]}}')).toThrow(
      TypeError,
    );
  });

  it('is named by the head; a head written before witnesses reads as without one', () => {
    const head = { ...emptyC2cHead(1, 4), witnessKey: 'state/c2c/sdkappid=1/witness/r-00000.json' };
    expect(parseC2cHead(serializeC2cHead(head), 1)).toEqual(head);
    const { witnessKey: _none, ...old } = emptyC2cHead(1, 4);
    expect(parseC2cHead(JSON.stringify(old), 1).witnessKey).toBeNull();
    expect(() => parseC2cHead(JSON.stringify({ ...old, witnessKey: 5 }), 1)).toThrow(TypeError);
  });
});

describe('c2c.fromCallbacks and c2c.fromHistoryFiles', () => {
  const app = (c2c: unknown) => ({
    apps: [{ sdkAppId: 1400000000, region: 'singapore', secretKey: { env: 'K' }, c2c }],
  });

  it('is off by default, and a section with it alone is complete', () => {
    expect(parseConfig(app({ accounts: ['a', 'b'] })).apps[0]?.c2c?.fromCallbacks).toBe(false);
    expect(parseConfig(app({ fromCallbacks: true })).apps[0]?.c2c?.fromCallbacks).toBe(true);
  });

  it('fromHistoryFiles alone is complete too, off by default', () => {
    expect(parseConfig(app({ accounts: ['a', 'b'] })).apps[0]?.c2c?.fromHistoryFiles).toBe(false);
    expect(parseConfig(app({ fromHistoryFiles: true })).apps[0]?.c2c?.fromHistoryFiles).toBe(true);
    const error = thrownAs(ConfigError, () => parseConfig(app({ fromHistoryFiles: 1 }), 'cfg'));
    expect(error.message).toContain('apps.0.c2c.fromHistoryFiles');
  });

  it('must be a boolean, naming the field', () => {
    const error = thrownAs(ConfigError, () => parseConfig(app({ fromCallbacks: 'yes' }), 'cfg'));
    expect(error.message).toContain('apps.0.c2c.fromCallbacks');
  });
});
