/**
 * The hourly `get_history` files as a witness (functions/domain/history-file.ts): Beijing hours,
 * the hours a job may fetch, the check against the answer's sizes and MD5s, the raw copy's key,
 * the documented file layout and the pair a C2C line names.
 */
import { createHash } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import {
  beijingHour,
  beijingHourStart,
  fetchableHours,
  historyFileKey,
  sightingOfHistoryLine,
  verifyHistoryFile,
} from '../../../functions/domain/history-file.ts';
import { historyFileMessages } from '../../helpers/history-files.ts';

const md5 = (data: Uint8Array | string) => createHash('md5').update(data).digest('hex');

describe('Beijing hours', () => {
  it('names the hour in UTC+8 and back', () => {
    // 2026-01-01T16:30Z is 2026-01-02 00:30 in Beijing.
    const t = Date.UTC(2026, 0, 1, 16, 30) / 1000;
    expect(beijingHour(t)).toBe('2026010200');
    expect(beijingHourStart('2026010200')).toBe(Date.UTC(2026, 0, 1, 16) / 1000);
    expect(() => beijingHourStart('2026023100')).toThrow(RangeError);
    expect(() => beijingHourStart('20260101')).toThrow(RangeError);
  });

  it('fetches the hours of the last 7 days that ended at least an hour ago, oldest first', () => {
    const now = Date.UTC(2026, 0, 10, 12, 30) / 1000;
    const hours = fetchableHours(now);
    // The newest: ended at 11:00Z (an hour and a half ago); 10:00Z-11:00Z is 18 in Beijing.
    expect(hours.at(-1)).toBe('2026011018');
    expect(beijingHourStart(hours.at(-1) as string) + 7_200).toBeLessThanOrEqual(now);
    // The oldest starts at least 7 days less 2 hours back.
    expect(beijingHourStart(hours[0] as string)).toBeGreaterThanOrEqual(now - 7 * 86_400 + 7_200);
    // From 15:00Z seven days back (12:30 less 7 days, plus 2 hours, rounded up) to 10:00Z today.
    expect(hours.length).toBe(7 * 24 - 4);
    expect(new Set(hours).size).toBe(hours.length);
  });
});

describe('a downloaded file', () => {
  const text = '{"MsgList":[\n{"From_Account":"a","To_Account":"b","MsgTimestamp":5},\n]}';
  const gzip = new Uint8Array(gzipSync(text));
  const entry = {
    url: 'https://download.example/f',
    gzipSize: gzip.byteLength,
    gzipMd5: md5(gzip).toUpperCase(),
    fileSize: Buffer.byteLength(text),
    fileMd5: md5(text),
  };

  it('passes when both sizes and MD5s match (either case of hex)', () => {
    expect(verifyHistoryFile(entry, gzip)).toEqual({ ok: true, text });
  });

  it('fails on each mismatch, naming it', () => {
    expect(verifyHistoryFile({ ...entry, gzipSize: 1 }, gzip)).toMatchObject({
      ok: false,
      reason: expect.stringContaining('gzip size'),
    });
    expect(verifyHistoryFile({ ...entry, gzipMd5: md5('x') }, gzip)).toMatchObject({
      ok: false,
      reason: 'gzip MD5 differs',
    });
    expect(verifyHistoryFile({ ...entry, fileSize: 3 }, gzip)).toMatchObject({
      ok: false,
      reason: expect.stringContaining('file size'),
    });
    expect(verifyHistoryFile({ ...entry, fileMd5: md5('x') }, gzip)).toMatchObject({
      ok: false,
      reason: 'file MD5 differs',
    });
    const notGzip = new TextEncoder().encode('plain');
    expect(verifyHistoryFile({ ...entry, gzipSize: 5, gzipMd5: md5(notGzip) }, notGzip)).toMatchObject({
      ok: false,
    });
  });

  it('is kept under its hour and its own hash', () => {
    expect(
      historyFileKey({ sdkAppId: 7, chatType: 'C2C', hour: '2026010200', index: 1, gzipMd5: entry.gzipMd5 }),
    ).toBe(`history-files/sdkappid=7/chat=c2c/hour=2026010200/1-${md5(gzip)}.json.gz`);
    expect(() =>
      historyFileKey({ sdkAppId: 7, chatType: 'C2C', hour: '2026010200', index: 0, gzipMd5: '../x' }),
    ).toThrow(RangeError);
  });
});

describe("a file's lines", () => {
  it('reads the documented layout line by line, counting lines that are not objects', () => {
    const text = [
      '{"SdkAppId":7,"MsgList":[',
      '{"From_Account":"b","To_Account":"a","MsgTimestamp":10},',
      'not json,',
      '[1],',
      '{"From_Account":"c","To_Account":"d","MsgTimeStamp":11}',
      ']}',
    ].join('\n');
    const { messages, unreadable } = historyFileMessages(text);
    expect(unreadable).toBe(2);
    expect(messages.map(sightingOfHistoryLine)).toEqual([
      { pair: ['a', 'b'], time: 10 },
      { pair: ['c', 'd'], time: 11 },
    ]);
  });

  it('reads the same as one JSON document', () => {
    const { messages } = historyFileMessages(
      '{"MsgList":[{"From_Account":"x","To_Account":"y","MsgTimestamp":1}]}',
    );
    expect(messages).toHaveLength(1);
  });

  it('names no pair for a group line, one account, or no time', () => {
    expect(sightingOfHistoryLine({ From_Account: 'a', GroupId: '@TGS#1', MsgTimestamp: 1 })).toBeNull();
    expect(sightingOfHistoryLine({ From_Account: 'a', To_Account: 'a', MsgTimestamp: 1 })).toBeNull();
    expect(sightingOfHistoryLine({ From_Account: 'a', To_Account: 'b', MsgTimestamp: '1' })).toBeNull();
  });
});
