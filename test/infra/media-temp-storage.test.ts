/**
 * Issue 22, deliverable 4: the archiver function's `/tmp` (EphemeralStorage) fits the media temp
 * files the engine lets be in flight, as the composition root builds that budget
 * (functions/composition.ts mediaTempBudget) from the same config. A change to either that lets
 * them drift apart fails here.
 */
import { describe, expect, it } from 'vitest';
import { mediaTempBudget } from '../../functions/composition.ts';
import { parseConfig } from '../../functions/config/schema.ts';
import { parseStackConfig } from '../../infra/config.ts';
import { build, type Cfn, demoConfig, resourcesOf } from './helpers.ts';

const MIB = 1024 * 1024;
const GIB = 1024 * MIB;
const BASE_MB = 512;

/** cdk.json's config with these media settings. */
function withMedia(media: Record<string, unknown>) {
  const config = demoConfig();
  return { ...config, media };
}

/** The archiver function's EphemeralStorage size (MB) for these media settings. */
function storageMb(media: Record<string, unknown>): number {
  const functions = Object.values(resourcesOf(build(withMedia(media)).template(), 'AWS::Lambda::Function'));
  const archiver = functions.find((f: Cfn) =>
    String(f.Properties.Description).startsWith('tencent-chat-archiver: archives'),
  );
  if (!archiver) throw new Error('no archiver function');
  return archiver.Properties.EphemeralStorage?.Size as number;
}

/** The /tmp the stack config asks for (MB), without synthesizing: what the template test checks once. */
function configuredMb(media: Record<string, unknown>): number {
  return parseStackConfig(withMedia(media)).deploy.run.ephemeralStorageMb;
}

/** The bytes the engine's budget lets be in flight for these media settings (one file alone when larger). */
function engineBoundBytes(media: Record<string, unknown>): number {
  const { deploy: _deploy, ...raw } = withMedia(media);
  const config = parseConfig(raw);
  return Math.max(mediaTempBudget(config).capacity, config.media.maxBytes);
}

describe('media temp files fit the function’s /tmp (byte budget)', () => {
  it('sizes the template’s /tmp from media.tempBytes, not from concurrency x maxBytes', {
    timeout: 120_000,
  }, () => {
    // 64 downloads of up to 200 MiB would need 12,800 MB; a 2 GiB budget fits.
    const media = { concurrency: 64, maxBytes: 200 * MIB, tempBytes: 2 * GIB };
    const mb = storageMb(media);
    expect(mb).toBe(2_048 + BASE_MB);
    expect(mb * MIB).toBeGreaterThanOrEqual(engineBoundBytes(media) + BASE_MB * MIB);
  });

  it('keeps the default unchanged: the budget is concurrency x maxBytes', () => {
    const media = { concurrency: 4, maxBytes: 50 * MIB };
    expect(configuredMb(media)).toBe(4 * 50 + BASE_MB);
    expect(engineBoundBytes(media)).toBe(4 * 50 * MIB);
  });

  it('makes room for one file of maxBytes when the budget is smaller (it runs alone)', () => {
    const media = { concurrency: 8, maxBytes: 300 * MIB, tempBytes: 100 * MIB };
    const mb = configuredMb(media);
    expect(mb).toBe(300 + BASE_MB);
    expect(mb * MIB).toBeGreaterThanOrEqual(engineBoundBytes(media) + BASE_MB * MIB);
  });

  it('counts no more than concurrency x maxBytes, whatever the budget says', () => {
    const media = { concurrency: 2, maxBytes: 10 * MIB, tempBytes: 8 * GIB };
    expect(configuredMb(media)).toBe(2 * 10 + BASE_MB);
    expect(engineBoundBytes(media)).toBe(2 * 10 * MIB);
  });

  it('refuses a budget that cannot fit in Lambda’s 10,240 MB, naming media.tempBytes', () => {
    const media = { concurrency: 64, maxBytes: 200 * MIB, tempBytes: 10 * GIB };
    expect(() => build(withMedia(media))).toThrow(
      /media\.tempBytes: .*10240 MB.*lower media\.tempBytes to 10200547328 or less/s,
    );
  });
});
