/**
 * The config schema: defaults are filled in, and every bad setting is rejected with a ConfigError
 * whose `field` is the dotted path of the setting and whose message says how to fix it.
 */
import { describe, expect, it } from 'vitest';
import {
  DEFAULT_ARCHIVE_OUT,
  DEFAULT_MAX_CONCURRENCY,
  DEFAULT_REQUEST_TIMEOUT_MS,
  DEFAULT_TIME_ZONE,
  MEDIA_DEFAULTS,
  parseConfig,
} from '../../functions/config/schema.ts';
import { ConfigError } from '../../functions/domain/errors.ts';
import { thrownAs } from '../helpers/assertions.ts';

type Raw = { apps: Record<string, unknown>[] } & Record<string, unknown>;

function minimal(): Raw {
  return {
    apps: [{ sdkAppId: 1400000000, region: 'singapore', secretKey: { env: 'TENCENT_IM_SECRET_KEY' } }],
  };
}

function withApp(change: (app: Record<string, unknown>) => void): Raw {
  const raw = minimal();
  change(raw.apps[0] as Record<string, unknown>);
  return raw;
}

const configError = (raw: unknown) => thrownAs(ConfigError, () => parseConfig(raw, 'test config'));

describe('parseConfig', () => {
  it('fills in every default from a minimal config', () => {
    const config = parseConfig(minimal());
    expect(config.apps[0]).toEqual({
      sdkAppId: 1400000000,
      region: 'singapore',
      secretKey: { env: 'TENCENT_IM_SECRET_KEY' },
      useBackupDomain: false,
      adminIdentifier: 'administrator',
      userSigLifetimeSeconds: 86_400,
      planRateLimit: 200,
      rateLimits: {},
      maxConcurrency: 64,
      requestTimeoutMs: 10_000,
      groups: { include: [], exclude: [], types: [] },
      withRecalledMsg: true,
      initialLookbackDays: null,
      retentionDays: 7,
      historyFiles: { groups: false },
    });
    expect(config.archive).toEqual({ out: './archive', timeZone: 'UTC', flushMegabytes: 64 });
    expect(config.run).toEqual({ checkpointSeconds: 60, leaseSeconds: 180, deadlineSeconds: null });
    expect(config.rescan).toEqual({ days: 3 });
  });

  it('writes each default once: a section left out is the section given empty, and the exported defaults are the parsed ones', () => {
    const config = parseConfig(minimal());
    const empty = parseConfig({
      ...withApp((app) => Object.assign(app, { rateLimits: {}, groups: {} })),
      archive: {},
      run: {},
      media: {},
      rescan: {},
    });
    expect(empty).toEqual(config);
    expect(parseConfig({ ...minimal(), archive: { out: 's3://b/p' } }).archive).toEqual({
      ...config.archive,
      out: 's3://b/p',
    });
    expect([config.archive.out, config.archive.timeZone]).toEqual([DEFAULT_ARCHIVE_OUT, DEFAULT_TIME_ZONE]);
    expect([config.apps[0]?.maxConcurrency, config.apps[0]?.requestTimeoutMs]).toEqual([
      DEFAULT_MAX_CONCURRENCY,
      DEFAULT_REQUEST_TIMEOUT_MS,
    ]);
    expect(config.media).toEqual(MEDIA_DEFAULTS);
  });

  it('takes rescan.days from 0 (off) up to the shortest retention, and names the field beyond it', () => {
    expect(parseConfig({ ...minimal(), rescan: { days: 0 } }).rescan.days).toBe(0);
    expect(parseConfig({ ...minimal(), rescan: { days: 7 } }).rescan.days).toBe(7);
    const beyond = configError({ ...minimal(), rescan: { days: 8 } });
    expect(beyond.field).toBe('rescan.days');
    expect(beyond.message).toContain('apps.0.retentionDays (7)');
    expect(beyond.message).toContain('at most 7');
    const twoApps = minimal();
    twoApps.apps.push({ sdkAppId: 1400000009, region: 'china', secretKey: { env: 'K' }, retentionDays: 30 });
    (twoApps.apps[0] as Record<string, unknown>).retentionDays = 30;
    twoApps.apps.push({ sdkAppId: 1400000010, region: 'china', secretKey: { env: 'K' }, retentionDays: 2 });
    expect(configError(twoApps).message).toContain('apps.2.retentionDays (2)');
    for (const bad of [-1, 1.5, '3']) {
      expect(configError({ ...minimal(), rescan: { days: bad } }).field).toBe('rescan.days');
    }
    expect(configError({ ...minimal(), rescan: { dayz: 3 } }).field).toBe('rescan.dayz');
  });

  it('keeps given values and accepts every secret source, an endpoint instead of a region, and a userSig', () => {
    const config = parseConfig({
      apps: [
        {
          sdkAppId: 1400000001,
          endpoint: 'http://127.0.0.1:9000',
          userSig: { file: '/run/secrets/usersig' },
          planRateLimit: 400,
          rateLimits: { groupMsgGetSimple: 400, getAppidGroupList: 1 },
          groups: { ids: ['@TGS#1'] },
        },
        { sdkAppId: 1400000002, region: 'china', secretKey: { ssmParameter: '/chat-archiver/key' } },
      ],
      archive: { out: 's3://bucket/prefix', timeZone: 'Asia/Shanghai', flushMegabytes: 8 },
      run: { checkpointSeconds: 30, leaseSeconds: 60, deadlineSeconds: 600 },
    });
    expect(config.apps[0]?.endpoint).toBe('http://127.0.0.1:9000');
    expect(config.apps[0]?.region).toBeUndefined();
    expect(config.apps[0]?.userSig).toEqual({ file: '/run/secrets/usersig' });
    expect(config.apps[0]?.rateLimits).toEqual({ groupMsgGetSimple: 400, getAppidGroupList: 1 });
    expect(config.apps[0]?.groups).toEqual({ ids: ['@TGS#1'], include: [], exclude: [], types: [] });
    expect(config.apps[1]?.secretKey).toEqual({ ssmParameter: '/chat-archiver/key' });
    expect(config.archive.timeZone).toBe('Asia/Shanghai');
    expect(config.run).toEqual({ checkpointSeconds: 30, leaseSeconds: 60, deadlineSeconds: 600 });
  });

  it.each<[string, Raw, string, RegExp]>([
    [
      'sdkAppId is not a number',
      withApp((a) => {
        a.sdkAppId = '1400000000';
      }),
      'apps.0.sdkAppId',
      /numeric SDKAppID from the console/,
    ],
    [
      'region is unknown',
      withApp((a) => {
        a.region = 'mars';
      }),
      'apps.0.region',
      /must be one of china, singapore, .*riyadh/,
    ],
    [
      'neither region nor endpoint is set',
      withApp((a) => {
        delete a.region;
      }),
      'apps.0.region',
      /set region \(the data center of the app\) or endpoint/,
    ],
    [
      'endpoint is not a URL',
      withApp((a) => {
        delete a.region;
        a.endpoint = 'adminapisgp';
      }),
      'apps.0.endpoint',
      /must be a URL like https:\/\//,
    ],
    [
      'both secretKey and userSig are set',
      withApp((a) => {
        a.userSig = { env: 'TENCENT_IM_USERSIG' };
      }),
      'apps.0.secretKey',
      /set exactly one of secretKey .* or userSig/,
    ],
    [
      'neither secretKey nor userSig is set',
      withApp((a) => {
        delete a.secretKey;
      }),
      'apps.0.secretKey',
      /set exactly one of secretKey .* or userSig/,
    ],
    [
      'the secret source has an unknown shape',
      withApp((a) => {
        a.secretKey = { vault: 'kv/tencent' };
      }),
      'apps.0.secretKey',
      /must be one of \{ "env": "VAR" \}, \{ "file": "path" \} or \{ "ssmParameter": "\/name" \}/,
    ],
    [
      'the secret source names two sources',
      withApp((a) => {
        a.secretKey = { env: 'KEY', file: '/run/key' };
      }),
      'apps.0.secretKey',
      /must be one of \{ "env": "VAR" \}/,
    ],
    [
      'the secret source is the secret itself',
      withApp((a) => {
        a.secretKey = 'deadbeef';
      }),
      'apps.0.secretKey',
      /must be one of \{ "env": "VAR" \}/,
    ],
    [
      'the environment variable name is invalid',
      withApp((a) => {
        a.userSig = { env: 'MY-SIG' };
        delete a.secretKey;
      }),
      'apps.0.userSig.env',
      /must be an environment variable name/,
    ],
    [
      'the history rate is above planRateLimit',
      withApp((a) => {
        a.rateLimits = { groupMsgGetSimple: 300 };
      }),
      'apps.0.rateLimits.groupMsgGetSimple',
      /300\/s is above planRateLimit \(200\/s\); raise planRateLimit only if you bought add-on packs/,
    ],
    [
      'getAppidGroupList is above 1/s',
      withApp((a) => {
        a.rateLimits = { getAppidGroupList: 2 };
      }),
      'apps.0.rateLimits.getAppidGroupList',
      /the documented limit is 1\/s/,
    ],
    [
      'requestTimeoutMs does not exceed 3 s',
      withApp((a) => {
        a.requestTimeoutMs = 3_000;
      }),
      'apps.0.requestTimeoutMs',
      /must exceed the server-side 3 s timeout/,
    ],
    [
      'the time zone is not an IANA zone',
      { ...minimal(), archive: { timeZone: 'Mars/Olympus_Mons' } },
      'archive.timeZone',
      /must be an IANA time zone such as UTC or Asia\/Shanghai/,
    ],
    [
      'an app has an unknown (misspelt) key',
      withApp((a) => {
        a.secretkey = { env: 'KEY' };
      }),
      'apps.0.secretkey',
      /unknown setting: check its spelling/,
    ],
    [
      'the root has an unknown key',
      { ...minimal(), archve: { out: './x' } },
      'archve',
      /unknown setting: check its spelling/,
    ],
    [
      'a section has an unknown key',
      { ...minimal(), run: { checkpointSecs: 10 } },
      'run.checkpointSecs',
      /unknown setting: check its spelling/,
    ],
    [
      'the lease is shorter than two checkpoints',
      { ...minimal(), run: { checkpointSeconds: 60, leaseSeconds: 100 } },
      'run.leaseSeconds',
      /must be at least twice run\.checkpointSeconds \(60\)/,
    ],
    ['apps is empty', { apps: [] }, 'apps', /configure at least one app/],
  ])('rejects a config where %s', (_label, raw, field, fix) => {
    const error = configError(raw);
    expect(error.field).toBe(field);
    expect(error.message).toMatch(/^Invalid test config:\n/);
    expect(error.message).toContain(`  - ${field}: `);
    expect(error.message).toMatch(fix);
  });

  it('accepts a lease of exactly two checkpoints', () => {
    expect(
      parseConfig({ ...minimal(), run: { checkpointSeconds: 30, leaseSeconds: 60 } }).run.leaseSeconds,
    ).toBe(60);
  });

  it('lists every problem, and names the first one as the field', () => {
    const error = configError({
      apps: [{ sdkAppId: 'x', region: 'mars', secretKey: { env: 'K' } }],
      archive: { timeZone: 'Nowhere/Atlantis' },
    });
    expect(error.field).toBe('apps.0.sdkAppId');
    expect(error.message).toContain('apps.0.region: must be one of');
    expect(error.message).toContain('archive.timeZone: must be an IANA time zone');
  });

  it('rejects an app configured twice, naming the second entry', () => {
    const raw = minimal();
    raw.apps.push({ sdkAppId: 1400000001, region: 'tokyo', secretKey: { env: 'K' } });
    raw.apps.push({ ...(raw.apps[0] as object), region: 'tokyo' } as (typeof raw.apps)[number]);
    const error = configError(raw);
    expect(error.field).toBe('apps.2.sdkAppId');
    expect(error.message).toContain('is already configured as apps.0');
  });

  it('names the app by its index', () => {
    const raw = minimal();
    raw.apps.push({ sdkAppId: 1400000001, region: 'tokyo', secretKey: { env: 'K' }, maxConcurrency: 0 });
    expect(configError(raw).field).toBe('apps.1.maxConcurrency');
  });
});

describe('loadConfigFile', () => {
  it('reads a stack config file too, ignoring its deploy section', async () => {
    const { mkdtemp, writeFile } = await import('node:fs/promises');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const { loadConfigFile } = await import('../../functions/cli/load-config.ts');
    const dir = await mkdtemp(join(tmpdir(), 'cfg-'));
    const file = join(dir, 'archiver.stack.json');
    const app = { sdkAppId: 1400000000, region: 'singapore', secretKey: { ssmParameter: '/x/key' } };
    await writeFile(file, JSON.stringify({ apps: [app], deploy: { schedule: { cron: '0 2 * * ? *' } } }));
    const config = await loadConfigFile(file);
    expect(config.apps[0]?.sdkAppId).toBe(1400000000);
    expect('deploy' in config).toBe(false);
    await writeFile(file, JSON.stringify({ apps: [app], deplyo: {} }));
    await expect(loadConfigFile(file)).rejects.toThrow(/deplyo: unknown setting/);
  });
});

describe('upper bounds (a timer beyond 2^31 - 1 ms fires after 1 ms)', () => {
  const withRun = (run: Record<string, unknown>) => ({ ...minimal(), run });
  it.each<[string, unknown, string, RegExp]>([
    [
      'run.checkpointSeconds',
      withRun({ checkpointSeconds: 1e9, leaseSeconds: 3e9 }),
      'run.checkpointSeconds',
      /at most 3600 seconds/,
    ],
    ['run.leaseSeconds', withRun({ leaseSeconds: 2_147_484 }), 'run.leaseSeconds', /at most 86400 seconds/],
    [
      'run.deadlineSeconds',
      withRun({ deadlineSeconds: 1e12 }),
      'run.deadlineSeconds',
      /at most 604800 seconds/,
    ],
    [
      'apps[].requestTimeoutMs',
      withApp((a) => {
        a.requestTimeoutMs = 2 ** 31;
      }),
      'apps.0.requestTimeoutMs',
      /at most 600000 \(10 minutes\)/,
    ],
    [
      'apps[].initialLookbackDays',
      withApp((a) => {
        a.initialLookbackDays = 1e308;
      }),
      'apps.0.initialLookbackDays',
      /at most 36500 days/,
    ],
    [
      'apps[].retentionDays',
      withApp((a) => {
        a.retentionDays = 1e9;
      }),
      'apps.0.retentionDays',
      /at most 36500 days/,
    ],
    [
      'apps[].planRateLimit',
      withApp((a) => {
        a.planRateLimit = 1e12;
      }),
      'apps.0.planRateLimit',
      /at most 100000/,
    ],
    [
      'apps[].rateLimits.getCosSig (too fast)',
      withApp((a) => {
        a.rateLimits = { getCosSig: 1e12 };
      }),
      'apps.0.rateLimits.getCosSig',
      /at most 100000\/s/,
    ],
    [
      'apps[].rateLimits.groupMsgGetSimple (so slow its wait overflows)',
      withApp((a) => {
        a.rateLimits = { groupMsgGetSimple: 1e-9 };
      }),
      'apps.0.rateLimits.groupMsgGetSimple',
      /at least 0\.01 \(one request per 100 s\)/,
    ],
    ['rescan.days', { ...minimal(), rescan: { days: 1e9 } }, 'rescan.days', /at most 36500/],
  ])('bounds %s, naming the field and the bound', (_label, raw, field, bound) => {
    const error = configError(raw);
    expect(error.field).toBe(field);
    expect(error.message).toContain(`  - ${field}: `);
    expect(error.message).toMatch(bound);
  });

  it('accepts each bound itself', () => {
    const config = parseConfig({
      ...minimal(),
      apps: [
        {
          ...minimal().apps[0],
          requestTimeoutMs: 600_000,
          initialLookbackDays: 36_500,
          retentionDays: 36_500,
          planRateLimit: 100_000,
          rateLimits: { groupMsgGetSimple: 0.01, getCosSig: 100_000 },
        },
      ],
      run: { checkpointSeconds: 3_600, leaseSeconds: 86_400, deadlineSeconds: 604_800 },
    });
    expect(config.run).toEqual({ checkpointSeconds: 3_600, leaseSeconds: 86_400, deadlineSeconds: 604_800 });
  });

  it('bounds the Lambda environment: SECRET_CACHE_SECONDS and ALARM_HEADROOM_DAYS', async () => {
    const { parseLambdaEnv } = await import('../../functions/config/schema.ts');
    expect(() => parseLambdaEnv({ SECRET_CACHE_SECONDS: '99999999999' })).toThrow(
      /SECRET_CACHE_SECONDS=.*at most 86400 seconds/,
    );
    expect(() => parseLambdaEnv({ ALARM_HEADROOM_DAYS: '1e9' })).toThrow(/ALARM_HEADROOM_DAYS/);
    expect(() => parseLambdaEnv({ ALARM_HEADROOM_DAYS: '99999999' })).toThrow(/at most 36500 days/);
    expect(parseLambdaEnv({ SECRET_CACHE_SECONDS: '86400' }).SECRET_CACHE_SECONDS).toBe(86_400);
  });
});

describe('apps[].endpoint: the REST API over https (http to this machine only)', () => {
  const endpoint = (url: unknown) =>
    withApp((a) => {
      delete a.region;
      a.endpoint = url;
    });

  it.each([
    ['file:///etc/passwd', /must be an https:\/\/ URL .*not file:/],
    ['javascript:alert(1)', /must be an https:\/\/ URL .*not javascript:/],
    ['ftp://adminapisgp.im.qcloud.com', /not ftp:/],
    ['http://adminapisgp.im.qcloud.com', /must use https:\/\/ \(http:\/\/ only to this machine/],
    ['http://10.0.0.5:8080', /must use https:\/\//],
    ['https://user:pw@adminapisgp.im.qcloud.com', /must not hold a user name or password/],
    ['https://adminapisgp.im.qcloud.com/?x=1', /must not have a query/],
    ['adminapisgp', /must be a URL like https:\/\/adminapisgp\.im\.qcloud\.com/],
  ])('rejects %j, naming the field', (url, fix) => {
    const error = configError(endpoint(url));
    expect(error.field).toBe('apps.0.endpoint');
    expect(error.message).toMatch(fix);
  });

  it.each([
    'https://adminapisgp.im.qcloud.com',
    'https://proxy.example.com:8443/tencent/',
    'http://127.0.0.1:9000',
    'http://localhost:9000',
    'http://[::1]:9000',
  ])('accepts %j', (url) => {
    expect(parseConfig(endpoint(url)).apps[0]?.endpoint).toBe(url);
  });
});

describe('loadConfigFile and the byte order mark', () => {
  it('reads a config saved as UTF-8 with a BOM (Notepad)', async () => {
    const { mkdtemp, writeFile } = await import('node:fs/promises');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const { loadConfigFile } = await import('../../functions/cli/load-config.ts');
    const dir = await mkdtemp(join(tmpdir(), 'cfg-bom-'));
    const file = join(dir, 'archiver.config.json');
    await writeFile(file, `\uFEFF${JSON.stringify(minimal(), null, 2)}\r\n`, 'utf8');
    expect((await loadConfigFile(file)).apps[0]?.sdkAppId).toBe(1400000000);
  });
});

describe('media download time limit (issue 21)', () => {
  it('defaults to 60 s plus the size at 64 KiB/s, at most 30 min', () => {
    const { media } = parseConfig(minimal());
    expect([media.downloadFloorSeconds, media.minBytesPerSecond, media.downloadCapSeconds]).toEqual([
      60, 65_536, 1_800,
    ]);
  });

  it.each<[string, Record<string, unknown>, RegExp]>([
    ['media.downloadCapSeconds', { downloadCapSeconds: 1e9 }, /at most 86400 seconds/],
    ['media.downloadFloorSeconds', { downloadFloorSeconds: 0 }, /positive number of seconds/],
    ['media.minBytesPerSecond', { minBytesPerSecond: 10 }, /at least 1024/],
  ])('bounds %s, naming the field', (field, media, bound) => {
    const error = configError({ ...minimal(), media });
    expect(error.field).toBe(field);
    expect(error.message).toMatch(bound);
  });
});
