/**
 * The spans waiting for their next page, longest first (issue 23): a span is a chain of pages that
 * must follow one another, so a run takes at least as long as its longest chain. Started last (a
 * round robin over 2,000 targets gave a 12,000-message group one page per turn), the long chains
 * were all that was left at the end, a few pages in flight where the rate allowed 200 a second.
 * Longest first, they run alongside the short ones from the start (longest processing time first).
 *
 * A binary max-heap on the seqs a span has left; equal spans in the order they came (the earlier
 * first). Entries are checked when taken, not removed when they go stale (see `PageLoop.pick`).
 */
import type { Span, TargetWork } from './target-work.ts';

interface Entry {
  readonly left: number;
  readonly order: number;
  readonly target: TargetWork;
  readonly span: Span;
}

export class SpanQueue {
  private readonly heap: Entry[] = [];
  private order = 0;

  public get size(): number {
    return this.heap.length;
  }

  /** Queues `span` of `target` (once: a span already queued is not added again). */
  public push(target: TargetWork, span: Span): void {
    if (span.queued) return;
    span.queued = true;
    const heap = this.heap;
    heap.push({ left: span.hi - span.lo + 1, order: this.order++, target, span });
    let i = heap.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!before(heap[i] as Entry, heap[parent] as Entry)) break;
      [heap[i], heap[parent]] = [heap[parent] as Entry, heap[i] as Entry];
      i = parent;
    }
  }

  /** The queued span with the most seqs left (the earliest queued among equals), removed. */
  public pop(): { target: TargetWork; span: Span } | undefined {
    const heap = this.heap;
    const top = heap[0];
    if (top === undefined) return undefined;
    const last = heap.pop() as Entry;
    if (heap.length > 0) {
      heap[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let best = i;
        if (l < heap.length && before(heap[l] as Entry, heap[best] as Entry)) best = l;
        if (r < heap.length && before(heap[r] as Entry, heap[best] as Entry)) best = r;
        if (best === i) break;
        [heap[i], heap[best]] = [heap[best] as Entry, heap[i] as Entry];
        i = best;
      }
    }
    top.span.queued = false;
    return { target: top.target, span: top.span };
  }
}

function before(a: Entry, b: Entry): boolean {
  return a.left > b.left || (a.left === b.left && a.order < b.order);
}
