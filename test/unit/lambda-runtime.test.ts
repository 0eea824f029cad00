/**
 * The Lambda's pure pieces: log redaction, metrics from a run report, error names for Step
 * Functions, and the config it reads from its environment.
 */
import { describe, expect, it } from 'vitest';
import { parseLambdaEnv } from '../../functions/config/schema.ts';
import { ConfigError, GiveUpError, StorageError } from '../../functions/domain/errors.ts';
import { LeaseHeldError, RunFailedError } from '../../functions/engine/errors.ts';
import { emptyReport } from '../../functions/engine/report.ts';
import { errorNameFor, publicError } from '../../functions/lambda/errors.ts';
import { loadLambdaConfig, normalizeArchivePrefix } from '../../functions/lambda/lambda-config.ts';
import { freshness, type MetricsSink, recordRunMetrics } from '../../functions/lambda/run-metrics.ts';
import { lambdaRuntime, redactFields } from '../../functions/lambda/runtime.ts';
import { thrown } from '../helpers/assertions.ts';

const SECRET = 'f00dfeedcafebeef0123456789abcdef';

describe('lambdaRuntime', () => {
  it('masks the SSM secrets and every UserSig in messages and nested fields', async () => {
    const lines: unknown[][] = [];
    const record = (...args: unknown[]) => lines.push(args);
    const runtime = lambdaRuntime({
      logger: { debug: record, info: record, warn: record, error: record },
      secretValues: new Map([['/p', SECRET]]),
    });
    runtime.secrets.add(() => ['sig-SIGNED-LATER-0123456789']);
    runtime.logger.warn(`request failed for ${SECRET}`, {
      url: 'https://x/v4/a?usersig=abc&sdkappid=1',
      nested: { list: [SECRET, { deeper: `sig-SIGNED-LATER-0123456789` }] },
      error: new Error(`bad key ${SECRET}`),
      count: 3n,
    });
    expect(JSON.stringify(lines)).not.toContain(SECRET);
    expect(JSON.stringify(lines)).not.toContain('SIGNED-LATER');
    expect(lines[0]).toEqual([
      'request failed for ***',
      {
        url: 'https://x/v4/a?usersig=***&sdkappid=1',
        nested: { list: ['***', { deeper: '***' }] },
        error: { name: 'Error', message: 'bad key ***' },
        count: '3',
      },
    ]);
    expect(await runtime.resolveSecret({ ssmParameter: '/p' }, 'apps.0.secretKey')).toBe(SECRET);
  });

  it('has no secret source but the SSM values middy fetched', async () => {
    const runtime = lambdaRuntime({ logger: console, secretValues: new Map() });
    await expect(runtime.resolveSecret({ env: 'KEY' }, 'apps.0.secretKey')).rejects.toThrow(ConfigError);
    await expect(runtime.resolveSecret({ ssmParameter: '/missing' }, 'apps.0.secretKey')).rejects.toThrow(
      /apps\.0\.secretKey: SSM parameter \/missing/,
    );
  });

  it('stops redacting at a safe depth instead of recursing forever', () => {
    const deep: Record<string, unknown> = {};
    let cursor = deep;
    for (let i = 0; i < 20; i++) cursor = cursor.next = {} as Record<string, unknown>;
    expect(JSON.stringify(redactFields(deep, []))).toContain('[nested too deep]');
  });
});

describe('run metrics', () => {
  const NOW = Date.UTC(2026, 10, 25);
  const report = (over: Partial<ReturnType<typeof emptyReport>>) => ({
    ...emptyReport('r', 1400000000, NOW),
    ...over,
  });

  it('lag is the age of the newest pending message, headroom what is left of retention for the oldest', () => {
    const pending = report({
      pendingNewestTime: NOW / 1000 - 120,
      pendingOldestTime: NOW / 1000 - 5 * 86_400,
      remainingTargets: 2,
    });
    expect(freshness(pending, 7, NOW)).toEqual({ lagSeconds: 120, headroomDays: 2 });
  });

  it('caught up: no lag and the full retention as headroom', () => {
    expect(freshness(report({ done: true }), 30, NOW)).toEqual({ lagSeconds: 0, headroomDays: 30 });
  });

  it('headroom is unknown when the only pending groups were never archived', () => {
    const fresh = report({
      pendingNewestTime: NOW / 1000,
      pendingOldestTime: null,
      remainingTargets: 1,
      pendingNeverArchived: 1,
    });
    expect(freshness(fresh, 7, NOW).headroomDays).toBeUndefined();
  });

  it('records counts per app, and errors including a fatal one', () => {
    const metrics: [string, string, number][] = [];
    const dims: Record<string, string>[] = [];
    const sink: MetricsSink = {
      addDimensions: (d) => dims.push(d),
      addMetric: (name, unit, value) => metrics.push([name, unit, value]),
    };
    const failed = report({
      messages: 40,
      pages: 3,
      throttles: 2,
      errors: [{ groupId: 'g', topicId: null, error: 'x' }],
      fatalError: 'boom',
      remainingTargets: 1,
      pendingNewestTime: NOW / 1000 - 10,
      pendingOldestTime: null,
      pendingNeverArchived: 1,
    });
    recordRunMetrics(sink, failed, 7, NOW);
    expect(dims).toEqual([{ SdkAppId: '1400000000' }]);
    expect(metrics).toEqual([
      ['MessagesArchived', 'Count', 40],
      ['Pages', 'Count', 3],
      ['Throttles', 'Count', 2],
      ['Errors', 'Count', 2],
      ['PendingNeverArchived', 'Count', 1],
      ['SeqResets', 'Count', 0],
      ['QuarantinedItems', 'Count', 0],
      ['MediaArchived', 'Count', 0],
      ['MediaPendingNearRetention', 'Count', 0],
      ['LagSeconds', 'Seconds', 10],
    ]);
  });

  it('records the media archived and the media pending near retention from the report', () => {
    const metrics: [string, number][] = [];
    const sink: MetricsSink = {
      addDimensions: () => undefined,
      addMetric: (name, _unit, value) => metrics.push([name, value]),
    };
    const base = report({});
    const withMedia = report({
      media: { ...(base.media as NonNullable<typeof base.media>), archived: 12, nearRetention: 3 },
    });
    recordRunMetrics(sink, withMedia, 7, NOW);
    expect(metrics).toEqual(
      expect.arrayContaining([
        ['MediaArchived', 12],
        ['MediaPendingNearRetention', 3],
      ]),
    );
  });

  it('records the rescan calls and one metric per change kind when the rescan is on', () => {
    const metrics: [string, number][] = [];
    const sink: MetricsSink = {
      addDimensions: () => undefined,
      addMetric: (name, _unit, value) => metrics.push([name, value]),
    };
    const rescanned = report({
      rescan: {
        days: 3,
        calls: 120,
        checked: 2_400,
        modified: 4,
        recalled: 2,
        deleted: 1,
        restored: 0,
        complete: true,
      },
    });
    recordRunMetrics(sink, rescanned, 7, NOW);
    expect(metrics).toEqual(
      expect.arrayContaining([
        ['RescanCalls', 120],
        ['MessagesModified', 4],
        ['MessagesRecalled', 2],
        ['MessagesDeleted', 1],
        ['MessagesRestored', 0],
      ]),
    );
    const off: [string, number][] = [];
    recordRunMetrics(
      { addDimensions: () => undefined, addMetric: (n, _u, v) => off.push([n, v]) },
      report({}),
      7,
      NOW,
    );
    expect(off.map(([n]) => n)).not.toContain('MessagesModified');
  });
});

describe('error names for Step Functions', () => {
  const report = emptyReport('r', 1, 0);
  it.each([
    [new LeaseHeldError('other', 0), 'LeaseHeldError'],
    [new ConfigError('bad'), 'ConfigError'],
    [new StorageError('slow down', { retryable: true }), 'TransientError'],
    [new StorageError('denied'), 'StorageError'],
    [
      new RunFailedError('x', report, { cause: new GiveUpError('retries-exhausted', 'x', { attempts: 8 }) }),
      'TransientError',
    ],
    [
      new RunFailedError('x', report, {
        cause: new GiveUpError('fatal-config', 'wrong key', { attempts: 1 }),
      }),
      'ConfigError',
    ],
    [
      new RunFailedError('x', report, { cause: new GiveUpError('fatal', 'x', { attempts: 1 }) }),
      'RunFailedError',
    ],
  ])('%s → %s', (error, name) => {
    expect(errorNameFor(error)).toBe(name);
  });

  it('rebuilds the error from the redacted message only', () => {
    const error = publicError(new ConfigError(`key ${SECRET} rejected`, { cause: new Error(SECRET) }), [
      SECRET,
    ]);
    expect(error).toMatchObject({
      name: 'ConfigError',
      message: 'key *** rejected',
      stack: 'ConfigError: key *** rejected',
    });
    expect(error.cause).toBeUndefined();
  });
});

describe('loadLambdaConfig', () => {
  const config = {
    apps: [{ sdkAppId: 1400000000, region: 'singapore', secretKey: { ssmParameter: '/k' } }],
    archive: { out: './ignored' },
  };

  it('points archive.out at the stack bucket and prefix', () => {
    const env = {
      ARCHIVER_CONFIG: JSON.stringify(config),
      ARCHIVE_BUCKET: 'my-bucket',
      ARCHIVE_PREFIX: 'chat/archive',
    };
    expect(loadLambdaConfig(env).archive.out).toBe('s3://my-bucket/chat/archive/');
    expect(normalizeArchivePrefix('/a/b/')).toBe('a/b/');
    expect(normalizeArchivePrefix('')).toBe('');
  });

  it('names the variable or field that is wrong', () => {
    const field = (env: Record<string, string>) => (thrown(() => loadLambdaConfig(env)) as ConfigError).field;
    expect(field({ ARCHIVE_BUCKET: 'b' })).toBe('ARCHIVER_CONFIG');
    expect(field({ ARCHIVER_CONFIG: '{', ARCHIVE_BUCKET: 'b' })).toBe('ARCHIVER_CONFIG');
    expect(field({ ARCHIVER_CONFIG: JSON.stringify(config) })).toBe('ARCHIVE_BUCKET');
    const fileSecret = { apps: [{ ...config.apps[0], secretKey: { file: '/key' } }] };
    expect(field({ ARCHIVER_CONFIG: JSON.stringify(fileSecret), ARCHIVE_BUCKET: 'b' })).toBe(
      'apps.0.secretKey',
    );
  });

  it('parses every numeric environment setting, naming the variable and the fix', () => {
    const env = { ARCHIVER_CONFIG: JSON.stringify(config), ARCHIVE_BUCKET: 'b' };
    for (const bad of ['5m', '', '-1', '1.5', 'NaN']) {
      const error = thrown(() => loadLambdaConfig({ ...env, SECRET_CACHE_SECONDS: bad })) as ConfigError;
      expect(error).toBeInstanceOf(ConfigError);
      expect(error.field).toBe('SECRET_CACHE_SECONDS');
      expect(error.message).toContain('must be a whole number of seconds');
    }
    expect(parseLambdaEnv({ SECRET_CACHE_SECONDS: '0' }).SECRET_CACHE_SECONDS).toBe(0);
    expect(parseLambdaEnv({}).SECRET_CACHE_SECONDS).toBe(300);
  });

  it("reads the stack's headroom for the media near-retention count, naming the variable when it is bad", () => {
    for (const bad of ['0', '-2', 'two', '', '2d']) {
      const error = thrown(() => parseLambdaEnv({ ALARM_HEADROOM_DAYS: bad })) as ConfigError;
      expect(error).toBeInstanceOf(ConfigError);
      expect(error.field).toBe('ALARM_HEADROOM_DAYS');
      expect(error.message).toContain('must be a positive number of days');
    }
    expect(parseLambdaEnv({ ALARM_HEADROOM_DAYS: '2.5' }).ALARM_HEADROOM_DAYS).toBe(2.5);
    expect(parseLambdaEnv({}).ALARM_HEADROOM_DAYS).toBeUndefined();
  });
});
