/**
 * Odd answers the real server might give (none is documented, so all are off by default): each is a
 * switch of `SimulatorOptions.quirks`, so the archiver's handling of it is tested over real HTTP.
 * Streams are named by their topic id, or the group id for a group's own history.
 */
import { ApiFailure } from './envelope.ts';

export type IsFinishedQuirk =
  /** Expired windows are answered `IsFinished` 1, never 2: only the retention horizon can end a range. */
  | 'never-2'
  /** A page of live messages is answered `IsFinished` 2 ("all expired"), which the data contradicts. */
  | 'spurious-2'
  /** A page is answered `IsFinished` 0 ("cut short") with no message at all. */
  | 'empty-0';

export interface SimulatorQuirks {
  /** Items at these seqs carry `MsgTimeStamp: null` (a placeholder with no time, which the page schema rejects). */
  nullTimestampSeqs?: Readonly<Record<string, readonly number[]>>;
  /**
   * Items at these seqs carry this JSON text as `MsgTimeStamp`, by stream then seq: say
   * `"99999999999999"`, a time after the year 9999.
   */
  servedTimestamps?: Readonly<Record<string, Readonly<Record<number, string>>>>;
  /** A window holding one of these seqs is answered 10018 (answer too big), even at `ReqMsgNumber` 1. */
  oversizedSeqs?: Readonly<Record<string, readonly number[]>>;
  /** Off-spec `IsFinished` for the listed streams; `times` bounds how many pages (default: every page). */
  isFinished?: { mode: IsFinishedQuirk; streams: readonly string[]; times?: number };
  /**
   * `get_appid_group_list`: `repeat-next` answers every page with the same `Next` (the cursor after the first group);
   * `empty-pages` keeps answering empty pages with a non-zero `Next` after the last group.
   */
  groupList?: 'repeat-next' | 'empty-pages';
}

/** The quirks of one simulator, with their remaining counts. */
export class QuirkState {
  #isFinishedLeft: number;

  public constructor(public readonly spec: SimulatorQuirks = {}) {
    this.#isFinishedLeft = spec.isFinished?.times ?? Number.POSITIVE_INFINITY;
  }

  /** @throws ApiFailure 10018 when [lo, hi] of `stream` holds an oversized seq */
  public checkSize(stream: string, lo: number, hi: number): void {
    const seqs = this.spec.oversizedSeqs?.[stream];
    if (seqs?.some((s) => s >= lo && s <= hi)) {
      throw new ApiFailure(
        10018,
        'Err_SVR_GROUP_RSP_TOO_LONG: the answer exceeds the maximum packet length (1MB)',
      );
    }
  }

  /** The item's JSON text, with `MsgTimeStamp` nulled or replaced when a quirk names its seq. */
  public item(stream: string, seq: number, json: string): string {
    const served = this.spec.servedTimestamps?.[stream]?.[seq];
    if (served !== undefined) return json.replace(/"MsgTimeStamp":\d+/, () => `"MsgTimeStamp":${served}`);
    if (!this.spec.nullTimestampSeqs?.[stream]?.includes(seq)) return json;
    return json.replace(/"MsgTimeStamp":\d+/, '"MsgTimeStamp":null');
  }

  /** The page after the `IsFinished` quirk, if it applies to `stream`. */
  public page(stream: string, page: { items: string[]; isFinished: 0 | 1 | 2 }): typeof page {
    const quirk = this.spec.isFinished;
    if (quirk === undefined || !quirk.streams.includes(stream) || this.#isFinishedLeft <= 0) return page;
    if (quirk.mode === 'never-2') return page.isFinished === 2 ? { ...page, isFinished: 1 } : page;
    if (quirk.mode === 'spurious-2' && page.items.length > 0 && page.isFinished !== 2) {
      this.#isFinishedLeft--;
      return { ...page, isFinished: 2 };
    }
    if (quirk.mode === 'empty-0' && page.items.length > 0) {
      this.#isFinishedLeft--;
      return { items: [], isFinished: 0 };
    }
    return page;
  }
}
