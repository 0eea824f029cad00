/**
 * The state a checkpoint takes from a target while its pages are still in flight (checkpoints no
 * longer wait for every page): it claims exactly the settled pages, and later pages do not change it.
 */
import { describe, expect, it } from 'vitest';
import type { RangeProgress, TargetState } from '../../../functions/domain/continuation.ts';
import type { ArchiveRecord } from '../../../functions/domain/record.ts';
import { type PageResult, TargetWork } from '../../../functions/engine/target-work.ts';

const ref = { groupId: '@TGS#1', topicId: null };
const base: TargetState = { ...ref, highWater: 0, highWaterTime: null, inProgress: null, generation: 0 };

/** A target with one range of `top` seqs, paged in up to `spans` spans. */
function work(top: number, spans: number): TargetWork {
  const range: RangeProgress = { top, cursor: top, floorTime: null, topTime: null };
  return new TargetWork({ ref, state: base, ranges: [range], lastMsgTime: 1_700_000_000, maxSpans: spans });
}

function page(next: number, times: number[], stop: PageResult['stop'] = false): PageResult {
  const records = times.map((t) => ({ msg_time: t }) as ArchiveRecord);
  return { records, calls: 1, next, short: false, stop };
}

describe('TargetWork.state with pages in flight', () => {
  it('names the seqs of a page in flight as still to fetch, and does not change when it settles', () => {
    // Prepare: two spans of 2000 seqs; the top span's first page settled, its second is in flight.
    const target = work(4000, 2);
    const [top, low] = target.spans;
    if (!top || !low) throw new Error('expected two spans');
    top.inFlight = true;
    target.applyPage(top, page(3980, [1_700_000_500]));
    top.inFlight = false;
    top.inFlight = true; // its next page, 3980..3961, goes out

    // Act
    const snapshot = target.state;
    const copy = structuredClone(snapshot);
    target.applyPage(top, page(3960, [1_700_000_400]));

    // Assess: the snapshot claims 4000..3981 and nothing of the page that settled after it.
    expect(snapshot.inProgress).toEqual({
      top: 4000,
      cursor: 3980,
      floorTime: null,
      topTime: 1_700_000_500,
      todo: [
        { lo: 2001, hi: 3980 },
        { lo: 1, hi: 2000 },
      ],
    });
    expect(snapshot).toEqual(copy);
    expect(target.state.inProgress?.cursor).toBe(3960);
  });

  it('counts a range complete when only pages of spans a stop dropped are still in flight', () => {
    // Prepare: the low span's page is out when the top span reaches expired history.
    const target = work(4000, 2);
    const [top, low] = target.spans;
    if (!top || !low) throw new Error('expected two spans');
    low.inFlight = true;
    target.inFlight = 1;
    target.applyPage(top, page(3980, [1_700_000_500], 'expired'));

    // Act
    const state = target.state;

    // Assess: the range is done (what is below the stop is out of scope); it is not started over.
    expect(state.inProgress).toBeNull();
    expect(state.highWater).toBe(4000);
    expect(state.highWaterTime).toBe(1_700_000_500);
  });
});
