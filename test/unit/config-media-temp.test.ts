/**
 * `media.tempBytes` (issue 22, deliverable 4): the byte budget of media downloads in flight, its
 * default (concurrency x maxBytes, so nothing changes without it), its bounds, and the most the
 * media temp folder can hold with it (functions/config/schema.ts).
 */
import { describe, expect, it } from 'vitest';
import { mediaTempBoundOf, mediaTempBytesOf, parseConfig } from '../../functions/config/schema.ts';
import { ConfigError } from '../../functions/domain/errors.ts';
import { thrownAs } from '../helpers/assertions.ts';

const MIB = 1024 * 1024;

function withMedia(media: Record<string, unknown>) {
  return {
    apps: [{ sdkAppId: 1400000000, region: 'singapore', secretKey: { env: 'TENCENT_IM_SECRET_KEY' } }],
    media,
  };
}

const mediaOf = (media: Record<string, unknown>) => parseConfig(withMedia(media)).media;

describe('media.tempBytes', () => {
  it('defaults to concurrency x maxBytes: the bound the stack sized /tmp for before', () => {
    const media = mediaOf({});
    expect(media.tempBytes).toBeUndefined();
    expect(mediaTempBytesOf(media)).toBe(16 * 200 * MIB);
    expect(mediaTempBoundOf(media)).toBe(16 * 200 * MIB);
    expect(mediaTempBytesOf(mediaOf({ concurrency: 3, maxBytes: 7 }))).toBe(21);
  });

  it('is the budget when set, and the folder holds at most that, or one file of maxBytes alone', () => {
    const media = mediaOf({ concurrency: 64, tempBytes: 1_000 * MIB });
    expect(mediaTempBytesOf(media)).toBe(1_000 * MIB);
    expect(mediaTempBoundOf(media)).toBe(1_000 * MIB);
    const small = mediaOf({ maxBytes: 300 * MIB, tempBytes: 100 * MIB });
    expect(mediaTempBytesOf(small)).toBe(100 * MIB);
    expect(mediaTempBoundOf(small)).toBe(300 * MIB);
  });

  it('counts no more than concurrency x maxBytes: more can never be in flight', () => {
    const media = mediaOf({ concurrency: 2, maxBytes: 10, tempBytes: 1_000 });
    expect(mediaTempBytesOf(media)).toBe(20);
    expect(mediaTempBoundOf(media)).toBe(20);
  });

  it.each([0, -1, 1.5, '1GB'])('refuses %s, naming the field', (bad) => {
    const error = thrownAs(ConfigError, () => parseConfig(withMedia({ tempBytes: bad }), 'test config'));
    expect(error.field).toBe('media.tempBytes');
    expect(error.message).toMatch(/media\.tempBytes: must be a whole number of bytes/);
  });
});
