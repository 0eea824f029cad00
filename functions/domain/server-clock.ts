/**
 * The server's clock, estimated from the `Date` header of its answers. Every time-based decision
 * (the retention horizon, the first-run look-back, lag and headroom metrics, the rescan window of
 * revisions) is measured on it: message timestamps are the server's (`MsgTimeStamp`, "server 的时间",
 * docs/tencent-api.md, group_msg_get_simple) and so is its retention, so a skewed local clock must not skip
 * or re-read history.
 *
 * Pure: the adapter feeds observations, nothing here reads a clock. The estimate is the interval
 * intersection of all observations (NTP-style): an answer whose `Date` reads `D` (whole seconds) was
 * produced while the server's clock was in `[D, D + 1000)`, at a local instant between the request
 * being sent and the answer arriving, so `offset = server - local` lies in
 * `(D - received, D + 1000 - sent)`. Intersecting these bounds converges to a tight interval; the
 * midpoint is the estimate. When a new observation contradicts the interval (one of the clocks was
 * stepped), the estimate restarts from that observation.
 */

export class ServerClockEstimate {
  private lo = Number.NEGATIVE_INFINITY;
  private hi = Number.POSITIVE_INFINITY;
  private samples = 0;

  /**
   * Take one answer into account.
   * @param dateMs the `Date` header, parsed (epoch ms, whole seconds)
   * @param sentLocalMs local clock when the request was sent
   * @param receivedLocalMs local clock when the answer's headers arrived
   */
  public observe(dateMs: number, sentLocalMs: number, receivedLocalMs: number): void {
    if (!Number.isFinite(dateMs) || receivedLocalMs < sentLocalMs) return;
    const lo = dateMs - receivedLocalMs;
    const hi = dateMs + 1000 - sentLocalMs;
    const nextLo = Math.max(this.lo, lo);
    const nextHi = Math.min(this.hi, hi);
    if (nextLo > nextHi) {
      this.lo = lo;
      this.hi = hi;
    } else {
      this.lo = nextLo;
      this.hi = nextHi;
    }
    this.samples++;
  }

  /** `server - local` in ms, or undefined before the first answer with a `Date` header. */
  public get offsetMs(): number | undefined {
    return this.samples === 0 ? undefined : Math.round((this.lo + this.hi) / 2);
  }

  /** Half the width of the interval the true offset lies in (the estimate's error bound). */
  public get uncertaintyMs(): number | undefined {
    return this.samples === 0 ? undefined : Math.round((this.hi - this.lo) / 2);
  }

  /** The server's time for a local instant (the local instant itself before any observation). */
  public serverTime(localMs: number): number {
    return localMs + (this.offsetMs ?? 0);
  }
}
