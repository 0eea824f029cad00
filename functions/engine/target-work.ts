/** One target's work during a run: its ranges, its window generator and the windows in flight. */
import {
  advanceTarget,
  type RangeProgress,
  type SeqWindow,
  type TargetRef,
  type TargetState,
  windowsBelow,
} from '../domain/continuation.ts';
import type { ArchiveRecord } from '../domain/record.ts';

export interface Slot {
  readonly window: SeqWindow;
  settled: boolean;
  result?: WindowResult;
  error?: unknown;
}

export interface WindowResult {
  records: ArchiveRecord[];
  pages: number;
  stop: false | 'expired' | 'before-floor-time';
  /** Answers that contradicted their data and were asked again smaller (see page-trust.ts). */
  inconsistent?: number;
}

/** One target's work during this run. */
export class TargetWork {
  public state: TargetState;
  public readonly ranges: RangeProgress[];
  public windows: Generator<SeqWindow> | undefined;
  public readonly slots: Slot[] = [];
  public failed: unknown;
  public interrupted = false;

  public constructor(
    public readonly ref: TargetRef,
    state: TargetState,
    ranges: RangeProgress[],
    /** Upper bound of the newest message not yet archived (epoch seconds; starts as the group's LastMsgTime). */
    public newestPendingTime: number,
  ) {
    this.state = state;
    this.ranges = ranges;
    this.startRange();
  }

  public get range(): RangeProgress | undefined {
    return this.ranges[0];
  }

  public get finished(): boolean {
    return this.ranges.length === 0;
  }

  public get canDispatch(): boolean {
    return !this.finished && this.failed === undefined && !this.interrupted && this.windows !== undefined;
  }

  public nextWindow(): SeqWindow | undefined {
    const next = this.windows?.next();
    if (!next || next.done) {
      this.windows = undefined;
      return undefined;
    }
    return next.value;
  }

  /** Move to the next range once the current one is complete. */
  public finishRange(): void {
    const range = this.ranges.shift();
    if (range) this.state = advanceTarget(this.state, range, range.cursor, true);
    this.slots.length = 0;
    this.startRange();
  }

  private startRange(): void {
    const range = this.range;
    this.windows = range ? windowsBelow(range.cursor, this.state.highWater + 1) : undefined;
  }
}
