/**
 * The targets planning has decided so far, handed to paging while planning goes on: history pulls
 * have their own rate limit, so they need not wait for the listing, the info and the topic calls
 * (on the benchmark's realistic app those took 1.5 s of a 57 s run, 3% of the rate floor).
 */
import type { TargetWork } from './target-work.ts';

export class WorkFeed {
  /** Grows while planning runs; never reordered. */
  public readonly work: TargetWork[] = [];
  private closedWith: { error: unknown } | undefined;
  private callsOut = 0;
  /** One promise shared by every waiter until the next change (no chain of callbacks). */
  private next: { promise: Promise<void>; resolve: () => void } | undefined;

  /** Planning decided one more target. */
  public push(target: TargetWork): void {
    this.work.push(target);
    this.notify();
  }

  /** Planning ended: `error` when it failed or was stopped (the work is then incomplete). */
  public close(error?: unknown): void {
    this.closedWith ??= { error };
    this.notify();
  }

  /** Planning's API calls handed to the client and not settled yet (paging leaves them slots). */
  public get callsInFlight(): number {
    return this.callsOut;
  }

  public callStarted(): void {
    this.callsOut++;
  }

  public callEnded(): void {
    this.callsOut = Math.max(0, this.callsOut - 1);
  }

  public get open(): boolean {
    return this.closedWith === undefined;
  }

  /** True once planning ended without deciding every target (failed or stopped). */
  public get incomplete(): boolean {
    return this.closedWith !== undefined && this.closedWith.error !== undefined;
  }

  /** Resolves at the next push or at the close (at once if closed). */
  public changed(): Promise<void> {
    if (!this.open) return Promise.resolve();
    if (this.next === undefined) {
      let resolve: () => void = () => undefined;
      const promise = new Promise<void>((r) => {
        resolve = r;
      });
      this.next = { promise, resolve };
    }
    return this.next.promise;
  }

  private notify(): void {
    const next = this.next;
    this.next = undefined;
    next?.resolve();
  }
}
