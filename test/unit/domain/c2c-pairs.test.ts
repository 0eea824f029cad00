/**
 * The one-to-one pass's pure parts (functions/domain/c2c-pairs.ts, c2c-state.ts), the `c2c` config
 * (functions/config/schema.ts) and the openim codes of the retry policy (issue 26).
 */
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../../functions/config/schema.ts';
import {
  applyPage,
  configPairs,
  needsPull,
  newPairState,
  openWindow,
  pairShard,
  parseShard,
  serializeShard,
} from '../../../functions/domain/c2c-pairs.ts';
import { emptyC2cHead, parseC2cHead, serializeC2cHead } from '../../../functions/domain/c2c-state.ts';
import { ConfigError } from '../../../functions/domain/errors.ts';
import { classifyTencentCode } from '../../../functions/domain/retry-policy.ts';
import { thrownAs } from '../../helpers/assertions.ts';

const app = (c2c: unknown) => ({
  apps: [{ sdkAppId: 1400000000, region: 'singapore', secretKey: { env: 'K' }, c2c }],
});

describe('c2c config', () => {
  it('keeps every pair once, sorted, from accounts and pairs in either order', () => {
    const config = parseConfig(app({ accounts: ['bob', 'alice', 'bob'], pairs: [['carol', 'alice']] }));
    expect(config.apps[0]?.c2c?.maxConcurrency).toBe(32);
    expect(configPairs(config.apps[0]?.c2c)).toEqual([
      ['alice', 'bob'],
      ['alice', 'carol'],
    ]);
  });

  it('refuses a pair of an account with itself, naming the field', () => {
    const error = thrownAs(ConfigError, () =>
      parseConfig(
        app({
          pairs: [
            ['a', 'b'],
            ['x', 'x'],
          ],
        }),
        'cfg',
      ),
    );
    expect(error.message).toContain('apps.0.c2c.pairs.1');
    expect(error.message).toContain('with itself');
  });

  it('refuses a section that names no pair', () => {
    const error = thrownAs(ConfigError, () => parseConfig(app({ accounts: ['solo'] }), 'cfg'));
    expect(error.message).toContain('apps.0.c2c.accounts');
  });
});

describe('c2c pair state', () => {
  const NOW = 1_767_225_600;

  it('pulls open, new, configured and witnessed pairs; not idle or skipped ones', () => {
    const idle = {
      ...newPairState(['a', 'b']),
      archivedTime: NOW - 100,
      pulledAt: NOW - 50,
      knownTime: NOW - 100,
    };
    expect(needsPull(newPairState(['a', 'b']), false)).toBe(true);
    expect(needsPull(idle, false)).toBe(false);
    expect(needsPull(idle, true)).toBe(true);
    expect(needsPull({ ...idle, knownTime: NOW - 10 }, false)).toBe(true);
    expect(needsPull({ ...idle, skipped: '90003', knownTime: NOW }, true)).toBe(false);
  });

  it('opens at the newest archived second, drops its archived keys, and closes at the newest message', () => {
    const state = {
      ...newPairState(['a', 'b']),
      archivedTime: NOW - 100,
      edgeKeys: ['k1'],
      pulledAt: NOW - 90,
    };
    const open = openWindow(state, NOW, 7);
    expect(open.window).toMatchObject({ minTime: NOW - 100, maxTime: NOW + 2, operator: 'a', cursorKey: '' });
    const page = {
      complete: true,
      lastMsgTime: NOW - 100,
      lastMsgKey: 'k1',
      messages: [
        { MsgKey: 'k3', MsgTimeStamp: NOW - 5 },
        { MsgKey: 'k2', MsgTimeStamp: NOW - 100 },
        { MsgKey: 'k1', MsgTimeStamp: NOW - 100 },
      ],
    };
    const outcome = applyPage(open, page, new Set(), NOW);
    expect(outcome.fresh.map((m) => m.MsgKey)).toEqual(['k3', 'k2']);
    expect(outcome.duplicates).toBe(1);
    expect(outcome.next).toMatchObject({
      archivedTime: NOW - 5,
      edgeKeys: ['k3'],
      window: null,
      pulledAt: NOW,
    });
  });

  it('starts a new pair at the retention and keeps the cursor of an incomplete page', () => {
    const open = openWindow(newPairState(['a', 'b']), NOW, 7);
    expect(open.window?.minTime).toBe(NOW - 7 * 86_400);
    const page = {
      complete: false,
      lastMsgTime: NOW - 9,
      lastMsgKey: 'k9',
      messages: [{ MsgKey: 'k9', MsgTimeStamp: NOW - 9 }],
    };
    const next = applyPage(open, page, new Set(), NOW).next;
    expect(next.window).toMatchObject({ cursorTime: NOW - 9, cursorKey: 'k9', newestTime: NOW - 9 });
    expect(parseShard(serializeShard([next, open]))).toEqual([next, open]);
  });

  it('refuses a shard line whose pair is not sorted, and a head of another app', () => {
    expect(() => parseShard(serializeShard([{ ...newPairState(['a', 'b']), a: 'b', b: 'a' }]))).toThrow(
      TypeError,
    );
    expect(() => parseC2cHead(serializeC2cHead(emptyC2cHead(1, 4)), 2)).toThrow(TypeError);
  });
});

describe('retry policy: openim codes', () => {
  it('90001 a bug, 90003/90008 skip the pair, 90009 configuration, 91000 retry', () => {
    expect(classifyTencentCode(90001).class).toBe('fatal');
    expect(classifyTencentCode(90003).class).toBe('skip-group');
    expect(classifyTencentCode(90008).class).toBe('skip-group');
    expect(classifyTencentCode(90009).class).toBe('fatal-config');
    expect(classifyTencentCode(91000).class).toBe('retry');
  });
});

describe('pairShard', () => {
  it('spreads similar conversations evenly over the shards', () => {
    const counts = new Array<number>(256).fill(0);
    for (let i = 0; i < 256_000; i++) {
      const shard = pairShard(JSON.stringify([`u${i}`, `v${i}`]), 256);
      counts[shard] = (counts[shard] ?? 0) + 1;
    }
    // 1,000 a shard on average: none empty, none more than 20% off.
    expect(Math.min(...counts)).toBeGreaterThan(800);
    expect(Math.max(...counts)).toBeLessThan(1_200);
  });
});
