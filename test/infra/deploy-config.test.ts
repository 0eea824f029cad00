/**
 * The stack's configuration: the CLI's schema plus the `deploy` section. A bad value fails the
 * synth with a ConfigError naming the dotted field.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../functions/domain/errors.ts';
import { loadStackConfig, parseStackConfig } from '../../infra/config.ts';
import { thrown } from '../helpers/assertions.ts';
import { demoConfig } from './helpers.ts';

function fieldOf(raw: unknown): string | undefined {
  const error = thrown(() => parseStackConfig(raw));
  expect(error).toBeInstanceOf(ConfigError);
  return (error as ConfigError).field;
}

function withDeploy(deploy: Record<string, unknown>) {
  const config = demoConfig();
  config.deploy = deploy;
  return config;
}

describe('parseStackConfig', () => {
  it("accepts cdk.json's demo config and fills in the deploy defaults", () => {
    const { config, deploy, rawConfig } = parseStackConfig(demoConfig());
    expect(config.apps[0]?.sdkAppId).toBe(1400000000);
    expect(rawConfig).not.toHaveProperty('deploy');
    expect(deploy).toMatchObject({
      stackName: 'TencentChatArchiver',
      schedule: { cron: '0 2 * * ? *', timeZone: 'UTC', enabled: true },
      run: { maxIterations: 48, memoryMb: 1024 },
      bucket: { prefix: 'archive', encryption: 'kms', objectLock: null },
      alarms: { runNotDoneByHour: 8, errorsPerHour: 5, headroomDays: 2 },
      logRetentionDays: 90,
    });
  });

  it.each([
    ['deploy.schedule.timeZone', { schedule: { timeZone: 'Mars/Olympus_Mons' } }],
    ['deploy.schedule.cron', { schedule: { cron: '0 2 * *' } }],
    [
      'deploy.bucket.lifecycle.infrequentAccessAfterDays',
      { bucket: { lifecycle: { infrequentAccessAfterDays: 10 } } },
    ],
    [
      'deploy.bucket.lifecycle.glacierInstantRetrievalAfterDays',
      { bucket: { lifecycle: { infrequentAccessAfterDays: 30, glacierInstantRetrievalAfterDays: 45 } } },
    ],
    [
      'deploy.bucket.objectLock',
      { bucket: { existingBucketName: 'mine-archive', objectLock: { mode: 'COMPLIANCE', days: 1 } } },
    ],
    ['deploy.bucket.encryption', { bucket: { encryption: 'none' } }],
    [
      'deploy.bucket.existingBucketKmsKeyArn',
      { bucket: { existingBucketKmsKeyArn: 'arn:aws:kms:us-east-1:1:key/k' } },
    ],
    ['deploy.alarms.email', { alarms: { email: 'not-an-address' } }],
    ['deploy.alarms.runNotDoneByHour', { alarms: { runNotDoneByHour: 24 } }],
    ['deploy.logRetentionDays', { logRetentionDays: 45 }],
    ['deploy.secrets.kmsKeyArn', { secrets: { kmsKeyArn: 'alias/aws/ssm' } }],
    ['deploy.callbacks.lossRateAlarmPercent', { callbacks: { lossRateAlarmPercent: 105 } }],
    ['deploy.callbacks.lossRateAlarmPercent', { callbacks: { lossRateAlarmPercent: -1 } }],
    ['deploy.callbacks.lossRateAlarmMinMessages', { callbacks: { lossRateAlarmMinMessages: 0 } }],
    ['deploy.scheduel', { scheduel: {} }],
  ])('names %s', (field, deploy) => {
    expect(fieldOf(withDeploy(deploy))).toBe(field);
  });

  it('requires secrets from SSM Parameter Store (the function has no other source)', () => {
    const config = demoConfig();
    config.apps[0] = { ...config.apps[0], secretKey: { env: 'TENCENT_IM_SECRET_KEY' } };
    const error = thrown(() => parseStackConfig(config)) as ConfigError;
    expect(error.field).toBe('apps.0.secretKey');
    expect(error.message).toContain('ssmParameter');
  });

  it('names fields of the shared schema the same way as the CLI', () => {
    const config = demoConfig();
    config.apps[0] = { ...config.apps[0], region: 'atlantis' };
    expect(fieldOf(config)).toBe('apps.0.region');
  });

  it("keeps the iteration bound within one execution's 25,000 history events", () => {
    const config = withDeploy({ run: { maxIterations: 400 } });
    const [first] = config.apps;
    config.apps = [0, 1, 2, 3, 4].map((i) => ({
      ...first,
      sdkAppId: 1400000000 + i,
      secretKey: { ssmParameter: `/p/${i}` },
    }));
    expect(fieldOf(config)).toBe('deploy.run.maxIterations');
  });

  it("accepts a config larger than a function's environment (the functions read it from a bundled file)", () => {
    const config = demoConfig();
    config.apps[0] = {
      ...config.apps[0],
      groups: { include: Array.from({ length: 300 }, (_, i) => `@TGS#group${i}`) },
    };
    expect(Buffer.byteLength(JSON.stringify(config))).toBeGreaterThan(4096);
    expect(parseStackConfig(config).config.apps[0]?.groups.include).toHaveLength(300);
  });
});

describe('loadStackConfig', () => {
  const context = (values: Record<string, unknown>) => ({ tryGetContext: (key: string) => values[key] });

  it('reads archiverConfigFile in preference to the inline archiver context', () => {
    const dir = mkdtempSync(join(tmpdir(), 'archiver-config-'));
    const file = join(dir, 'archiver.config.json');
    const config = demoConfig();
    config.deploy.stackName = 'FromFile';
    writeFileSync(file, JSON.stringify(config));
    const loaded = loadStackConfig(context({ archiverConfigFile: file, archiver: demoConfig() }));
    expect(loaded.deploy.stackName).toBe('FromFile');
  });

  it('reads a config file saved with a UTF-8 byte order mark, as Notepad saves it (issue 21, point 17)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'archiver-config-'));
    const file = join(dir, 'archiver.config.json');
    const config = demoConfig();
    config.deploy.stackName = 'WithBom';
    writeFileSync(file, `\uFEFF${JSON.stringify(config)}`, 'utf8');
    expect(loadStackConfig(context({ archiverConfigFile: file })).deploy.stackName).toBe('WithBom');
  });

  it('accepts the inline config as JSON text (as `-c archiver=…` passes it)', () => {
    expect(loadStackConfig(context({ archiver: JSON.stringify(demoConfig()) })).config.apps).toHaveLength(1);
  });

  it('says where to put the config when there is none, or when the file is missing', () => {
    expect((thrown(() => loadStackConfig(context({}))) as ConfigError).field).toBe('archiver');
    const missing = thrown(() =>
      loadStackConfig(context({ archiverConfigFile: '/nonexistent/archiver.json' })),
    );
    expect((missing as ConfigError).field).toBe('archiverConfigFile');
  });
});

describe('cdk synth with an invalid config', () => {
  it('exits 1 with the field and the fix, and no stack trace', () => {
    const config = withDeploy({ schedule: { timeZone: 'Asia/Shangahi' } });
    const child = spawnSync(process.execPath, ['--import', 'tsx', 'infra/app.ts'], {
      encoding: 'utf8',
      timeout: 60_000,
      env: {
        ...process.env,
        // How the CDK CLI hands the context (cdk.json plus -c values) to the app.
        CDK_CONTEXT_JSON: JSON.stringify({ archiver: config }),
        CDK_OUTDIR: mkdtempSync(join(tmpdir(), 'cdk-out-')),
      },
    });
    expect(child.status).toBe(1);
    expect(child.stderr).toContain('deploy.schedule.timeZone: must be an IANA time zone');
    expect(child.stderr).not.toMatch(/\n\s+at /);
  }, 60_000);
});
