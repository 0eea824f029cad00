import { describe, expect, it } from 'vitest';
import {
  DEFAULT_HEADROOM_DAYS,
  emptyMediaReport,
  formatMediaReport,
  nearRetentionCutoffSec,
} from '../../../functions/engine/media-report.ts';

describe('emptyMediaReport', () => {
  it('has every count at zero and no oldest pending time', () => {
    const report = emptyMediaReport();
    const { oldestPendingMsgTime, ...counts } = report;
    expect(oldestPendingMsgTime).toBeNull();
    expect(Object.values(counts).every((n) => n === 0)).toBe(true);
    expect(Object.keys(counts)).toHaveLength(19);
  });
});

describe('formatMediaReport', () => {
  it('gives sizes in MB and every outcome count', () => {
    const text = formatMediaReport({
      ...emptyMediaReport(),
      archived: 3,
      bytes: 3 * 1024 * 1024,
      storedBytes: 1024 * 1024,
      deduplicated: 2,
      expired: 1,
      refused: 4,
      failed: 5,
      noUrl: 6,
      pending: 7,
    });
    expect(text).toBe(
      '  media: 3 archived (3.0 MB, 1.0 MB new, 2 already stored), 1 expired, 4 refused, 5 failed, 6 without URL; 7 pending',
    );
  });

  it('adds retries, storage errors and files near the retention limit only when there are some', () => {
    const text = formatMediaReport({
      ...emptyMediaReport(),
      pending: 4,
      retrying: 2,
      errors: 1,
      nearRetention: 3,
    });
    expect(text).toMatch(
      /4 pending \(2 to retry\), 1 storage errors; 3 pending files close to Tencent's retention limit$/,
    );
  });
});

describe('nearRetentionCutoffSec', () => {
  it('is the server time minus retention less headroom, in whole seconds', () => {
    const now = Date.UTC(2026, 0, 10) + 999;
    expect(nearRetentionCutoffSec(now, 7, DEFAULT_HEADROOM_DAYS)).toBe(Date.UTC(2026, 0, 5) / 1000);
    expect(nearRetentionCutoffSec(now, 7, 0.5)).toBe(Date.UTC(2026, 0, 3, 12) / 1000);
  });

  it('never lies in the future when the headroom exceeds the retention', () => {
    const now = Date.UTC(2026, 0, 10);
    expect(nearRetentionCutoffSec(now, 1, 2)).toBe(now / 1000);
  });
});
