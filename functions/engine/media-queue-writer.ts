/**
 * A PartitionWriter that also queues the media of the records it flushes (new messages, and the
 * revisions the rescan writes): each checkpoint writes
 * one queue object with the references of its messages, named in the same intent as the message
 * objects (so a rolled-back checkpoint leaves no queue either), and hands it to the media stage
 * once the checkpoint has committed.
 */
import { serializeQueueEntry } from '../domain/media-manifest.ts';
import { mediaRefsOfRecord } from '../domain/media-refs.ts';
import type { ArchiveRecord } from '../domain/record.ts';
import type { ObjectStore } from '../domain/storage.ts';
import { GzipLines } from './media-ndjson.ts';
import type { MediaStage } from './media-stage.ts';
import { type FlushResult, PartitionWriter, type PlannedObject } from './partition-writer.ts';

export class MediaQueueWriter extends PartitionWriter {
  /**
   * References of the records buffered since the last batch was detached, as their queue lines
   * gzipped as they come; the stage reads the written object back in its turn (issue 23: a
   * checkpoint's references were held three times as objects, then twice as lines).
   */
  private lines = new GzipLines();
  /** The queue object of the detached batch, written by its flush. */
  private detachedQueue: { key: string; lines: GzipLines } | undefined;
  /** The queue object of the last flush, handed to the media stage once its checkpoint commits. */
  private flushed: { key: string; count: number } | undefined;

  public constructor(
    private readonly queueOptions: { sdkAppId: number; runId: string; timeZone: string; store: ObjectStore },
    private readonly stage: MediaStage,
  ) {
    super(queueOptions);
  }

  /**
   * Records and the media references of those that carry content: first captures (revision 0),
   * and revisions whose content changed (`modified`, `restored`), keyed to their revision. An edit
   * that keeps a file queues it again; its bytes are stored once (content-addressed), the new
   * revision gets its own manifest row. Recalls and deletions carry no content, so no media.
   */
  public override addAll(
    records: readonly ArchiveRecord[],
    filedAt?: ReadonlyMap<ArchiveRecord, number>,
  ): void {
    super.addAll(records, filedAt);
    for (const record of records) {
      if ((record.revision ?? 0) !== 0 && record.change !== 'modified' && record.change !== 'restored')
        continue;
      for (const ref of mediaRefsOfRecord(record, { imageSizes: this.stage.imageSizes })) {
        this.lines.push(serializeQueueEntry({ ref, attempts: 0, lastError: null }));
      }
    }
  }

  /** The batch's references go with it, as one queue object named in the same intent. */
  protected override detached(): PlannedObject[] {
    if (this.lines.count === 0) return [];
    const key = this.stage.nextQueueKey();
    this.detachedQueue = { key, lines: this.lines };
    this.lines = new GzipLines();
    return [{ key, dt: '', kind: 'media-queue' }];
  }

  public override async flush(fence: () => Promise<void> = async () => undefined): Promise<FlushResult> {
    const result = await super.flush(fence);
    const queue = this.detachedQueue;
    if (queue !== undefined) {
      const body = await queue.lines.end();
      await fence();
      await this.queueOptions.store.put(queue.key, body, {
        ifNoneMatch: '*',
        contentType: 'application/x-ndjson',
        contentEncoding: 'gzip',
      });
      result.objects++;
      result.bytes += body.length;
      this.flushed = { key: queue.key, count: queue.lines.count };
      this.detachedQueue = undefined;
    }
    return result;
  }

  public override discard(): void {
    super.discard();
    this.lines.discard();
    this.lines = new GzipLines();
    this.detachedQueue?.lines.discard();
    this.detachedQueue = undefined;
  }

  /** The checkpoint committed: its queue object is durable, copy its media now. */
  public override committed(): void {
    super.committed();
    if (this.flushed) this.stage.enqueueStored(this.flushed.key, this.flushed.count);
    this.flushed = undefined;
  }
}
