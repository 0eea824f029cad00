import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../functions/domain/errors.ts';
import {
  assertTimeZone,
  dateInZone,
  MESSAGE_LOCATION_TEMPLATE,
  messageObjectKey,
  messagePartitionPrefix,
  runReportKey,
  stateKey,
} from '../../functions/domain/partition.ts';

/** `${name}`, an Athena projection placeholder (built so no string literal looks like a JS template). */
const placeholder = (name: string): string => `\${${name}}`;

/** Epoch seconds of an ISO instant, so the cases read like the calendar. */
const at = (iso: string): number => {
  const ms = Date.parse(iso);
  if (Number.isNaN(ms)) throw new Error(`bad ISO instant in test: ${iso}`);
  return ms / 1000;
};

describe('dateInZone', () => {
  it.each([
    // Across midnight: Shanghai (UTC+8, no DST) is already on the next day.
    ['2024-03-09T16:30:00Z', 'UTC', '2024-03-09'],
    ['2024-03-09T16:30:00Z', 'Asia/Shanghai', '2024-03-10'],
    ['2024-03-09T15:59:59Z', 'Asia/Shanghai', '2024-03-09'],
    ['2024-03-09T16:00:00Z', 'Asia/Shanghai', '2024-03-10'],
    // New York switches EST (UTC-5) -> EDT (UTC-4) at 2024-03-10 07:00Z.
    ['2024-03-10T04:59:59Z', 'America/New_York', '2024-03-09'],
    ['2024-03-10T05:00:00Z', 'America/New_York', '2024-03-10'],
    ['2024-03-11T03:59:59Z', 'America/New_York', '2024-03-10'],
    ['2024-03-11T04:00:00Z', 'America/New_York', '2024-03-11'],
    // Negative offsets lag behind UTC.
    ['2024-01-01T09:59:59Z', 'Pacific/Honolulu', '2023-12-31'],
    ['2024-01-01T10:00:00Z', 'Pacific/Honolulu', '2024-01-01'],
    ['2024-06-30T02:00:00Z', 'America/Sao_Paulo', '2024-06-29'],
    // +13/+14 zones are a full day ahead of the negative ones.
    ['2024-06-30T11:00:00Z', 'Pacific/Kiritimati', '2024-07-01'],
    // Leap day.
    ['2024-02-29T12:00:00Z', 'Asia/Shanghai', '2024-02-29'],
  ])('%s in %s is %s', (iso, zone, expected) => {
    expect(dateInZone(at(iso), zone)).toBe(expected);
  });

  it('handles epoch 0 on both sides of UTC', () => {
    expect(dateInZone(0, 'UTC')).toBe('1970-01-01');
    expect(dateInZone(0, 'Asia/Shanghai')).toBe('1970-01-01');
    expect(dateInZone(0, 'America/Los_Angeles')).toBe('1969-12-31');
  });

  it('accepts fractional seconds and ignores the fraction', () => {
    expect(dateInZone(at('2024-03-09T15:59:59Z') + 0.999, 'Asia/Shanghai')).toBe('2024-03-09');
  });

  it('returns the same answer on repeated calls (cached formatter)', () => {
    const t = at('2024-03-09T16:30:00Z');
    expect(dateInZone(t, 'Asia/Shanghai')).toBe('2024-03-10');
    expect(dateInZone(t, 'UTC')).toBe('2024-03-09');
    expect(dateInZone(t, 'Asia/Shanghai')).toBe('2024-03-10');
  });

  it('rejects an unknown zone with a ConfigError naming the field and an example', () => {
    let caught: unknown;
    try {
      dateInZone(0, 'Mars/Olympus_Mons');
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(ConfigError);
    const error = caught as ConfigError;
    expect(error.name).toBe('ConfigError');
    expect(error.field).toBe('archive.timeZone');
    expect(error.message).toContain('Mars/Olympus_Mons');
    expect(error.message).toContain('Asia/Shanghai');
    expect(error.cause).toBeInstanceOf(RangeError);
  });

  it.each([Number.NaN, Number.POSITIVE_INFINITY, -1, 1e15])('rejects the instant %s', (t) => {
    expect(() => dateInZone(t, 'UTC')).toThrow(RangeError);
  });
});

describe('assertTimeZone', () => {
  it.each(['UTC', 'Asia/Shanghai', 'America/New_York', 'Europe/Berlin'])('accepts %s', (tz) => {
    expect(() => assertTimeZone(tz)).not.toThrow();
  });

  it.each(['', 'Not/AZone', 'GMT+25'])('rejects %j with field archive.timeZone', (tz) => {
    expect(() => assertTimeZone(tz)).toThrow(ConfigError);
    expect(() => assertTimeZone(tz)).toThrow(expect.objectContaining({ field: 'archive.timeZone' }));
  });
});

describe('message keys', () => {
  it('builds the object key with a zero-padded part', () => {
    expect(messageObjectKey({ sdkAppId: 1400000000, dt: '2024-03-10', runId: 'run_42-a', part: 7 })).toBe(
      'messages/sdkappid=1400000000/dt=2024-03-10/part-run_42-a-00007.ndjson.gz',
    );
    expect(messageObjectKey({ sdkAppId: 1, dt: '2024-03-10', runId: 'r', part: 0 })).toBe(
      'messages/sdkappid=1/dt=2024-03-10/part-r-00000.ndjson.gz',
    );
    expect(messageObjectKey({ sdkAppId: 1, dt: '2024-03-10', runId: 'r', part: 99999 })).toBe(
      'messages/sdkappid=1/dt=2024-03-10/part-r-99999.ndjson.gz',
    );
  });

  it('orders parts lexicographically like numerically', () => {
    const keys = [0, 9, 10, 99, 100, 12345].map((part) =>
      messageObjectKey({ sdkAppId: 1, dt: '2024-03-10', runId: 'r', part }),
    );
    expect([...keys].sort()).toEqual(keys);
  });

  it('puts every object inside its partition prefix', () => {
    const key = messageObjectKey({ sdkAppId: 7, dt: '2023-12-31', runId: 'x', part: 3 });
    expect(key.startsWith(messagePartitionPrefix(7, '2023-12-31'))).toBe(true);
  });

  it.each([
    [1400000000, 'UTC', '2024-03-09T16:30:00Z'],
    [1400000000, 'Asia/Shanghai', '2024-03-09T16:30:00Z'],
    [20000001, 'America/New_York', '2024-03-10T05:00:00Z'],
    [1, 'Pacific/Honolulu', '1970-01-01T00:00:00Z'],
    [99, 'Pacific/Kiritimati', '2024-12-31T23:00:00Z'],
  ])('prefix for app %i in %s at %s equals the projection template filled in', (sdkAppId, zone, iso) => {
    const dt = dateInZone(at(iso), zone);
    const filled = MESSAGE_LOCATION_TEMPLATE.replace(placeholder('sdkappid'), String(sdkAppId)).replace(
      placeholder('dt'),
      dt,
    );
    expect(filled).not.toMatch(/\$\{/);
    expect(messagePartitionPrefix(sdkAppId, dt)).toBe(filled);
  });

  it('keeps the template in the documented shape', () => {
    expect(placeholder('dt')).toBe('$' + '{dt}');
    expect(MESSAGE_LOCATION_TEMPLATE).toBe(
      `messages/sdkappid=${placeholder('sdkappid')}/dt=${placeholder('dt')}/`,
    );
  });

  it.each([0, -1, 1.5, Number.NaN, 2 ** 53])('rejects sdkAppId %s', (sdkAppId) => {
    expect(() => messagePartitionPrefix(sdkAppId, '2024-03-10')).toThrow(RangeError);
    expect(() => stateKey(sdkAppId)).toThrow(RangeError);
    expect(() => messageObjectKey({ sdkAppId, dt: '2024-03-10', runId: 'r', part: 0 })).toThrow(RangeError);
  });

  it.each(['', 'a/b', 'a.b', 'a b', 'ü', '../x', 'x'.repeat(65)])('rejects runId %j', (runId) => {
    expect(() => messageObjectKey({ sdkAppId: 1, dt: '2024-03-10', runId, part: 0 })).toThrow(RangeError);
    expect(() => runReportKey({ sdkAppId: 1, runId, startedAtSeconds: 0, timeZone: 'UTC' })).toThrow(
      RangeError,
    );
  });

  it('accepts a 64-character runId', () => {
    const runId = 'A'.repeat(64);
    expect(messageObjectKey({ sdkAppId: 1, dt: '2024-03-10', runId, part: 1 })).toContain(
      `part-${runId}-00001`,
    );
  });

  it.each([-1, 1.5, 100000, Number.NaN])('rejects part %s', (part) => {
    expect(() => messageObjectKey({ sdkAppId: 1, dt: '2024-03-10', runId: 'r', part })).toThrow(RangeError);
  });

  it.each(['2024-3-10', '2024-02-30', '2023-02-29', '2024-13-01', '20240310', '2024-03-10/', ''])(
    'rejects dt %j',
    (dt) => {
      expect(() => messagePartitionPrefix(1, dt)).toThrow(RangeError);
    },
  );
});

describe('state and run report keys', () => {
  it('builds the state key', () => {
    expect(stateKey(1400000000)).toBe('state/sdkappid=1400000000/state.json');
  });

  it('files a run report under the start date in the archive zone', () => {
    const startedAtSeconds = at('2024-03-09T16:30:00Z');
    expect(
      runReportKey({ sdkAppId: 1400000000, runId: 'r1', startedAtSeconds, timeZone: 'Asia/Shanghai' }),
    ).toBe('runs/sdkappid=1400000000/dt=2024-03-10/r1.json');
    expect(runReportKey({ sdkAppId: 1400000000, runId: 'r1', startedAtSeconds, timeZone: 'UTC' })).toBe(
      'runs/sdkappid=1400000000/dt=2024-03-09/r1.json',
    );
  });

  it('reports a bad zone as ConfigError', () => {
    expect(() => runReportKey({ sdkAppId: 1, runId: 'r', startedAtSeconds: 0, timeZone: 'Nowhere' })).toThrow(
      ConfigError,
    );
  });
});
