/**
 * The archiver function empties the media temp folder at init: Lambda keeps /tmp when it
 * restarts a crashed runtime in the same sandbox, and leftover downloads would take the room the
 * stack sized for this sandbox's downloads.
 */
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';

const ENV = {
  ARCHIVER_CONFIG: JSON.stringify({
    apps: [{ sdkAppId: 1400000000, region: 'singapore', secretKey: { ssmParameter: '/k' } }],
  }),
  ARCHIVE_BUCKET: 'bucket',
  ARCHIVE_PREFIX: 'archive/',
  AWS_REGION: 'us-east-1',
};

let dir = '';
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'media-temp-'));
  // The module builds its default handler from process.env on import.
  for (const [name, value] of Object.entries(ENV)) vi.stubEnv(name, value);
});
afterEach(async () => {
  vi.unstubAllEnvs();
  await rm(dir, { recursive: true, force: true });
});

describe('the archiver function at init', () => {
  it('empties the media temp folder a crashed invocation left behind', async () => {
    const { createHandler } = await import('../../functions/lambda/handler.ts');
    const media = join(dir, 'tencent-chat-archiver-media');
    await mkdir(media);
    await writeFile(join(media, 'media-0123456789abcdef'), Buffer.alloc(1024));
    createHandler({ env: ENV, mediaTempDir: media });
    expect(existsSync(media)).toBe(false);
  });

  it('leaves the shared default folder alone outside Lambda (another process may be downloading)', async () => {
    const { createHandler, MEDIA_TEMP_DIR } = await import('../../functions/lambda/handler.ts');
    await mkdir(MEDIA_TEMP_DIR, { recursive: true });
    const sentinel = join(MEDIA_TEMP_DIR, `sentinel-${process.pid}`);
    await writeFile(sentinel, 'x');
    try {
      createHandler({ env: ENV });
      expect(existsSync(sentinel)).toBe(true);
    } finally {
      await rm(sentinel, { force: true });
    }
  });
});
