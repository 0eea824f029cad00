/**
 * One-to-one media through the group media pipeline (issue 26, deliverable 4; docs/one-to-one.md
 * "Media"). The pass (functions/engine/c2c-pass.ts) hands each row it buffers to {@link C2cMediaQueue}
 * in the same synchronous step; a checkpoint's snapshot detaches the references gathered so far as
 * one media queue object (`state/sdkappid=<id>/media-queue/…`, the stage's own key), names it in the
 * same intent as its row objects, writes it create-only beside them, and hands it to the media stage
 * (functions/engine/media-stage.ts) once the head has committed, as the group checkpoints do with
 * functions/engine/media-queue-writer.ts. So a reference is queued exactly when its row is committed:
 * a rolled-back checkpoint leaves neither, a committed one both, and the stage gives each reference
 * one manifest row. The queue lines are gzipped as they come ({@link GzipLines}, as the group
 * path's functions/engine/media-queue-writer.ts does; issue 23): a checkpoint's references are held
 * as a block of text and compressed bytes, never as a list of lines.
 */
import { mediaRefsOfC2cRecord } from '../domain/c2c-media.ts';
import { type C2cRecord, parseC2cRecordLine } from '../domain/c2c-record.ts';
import { DEFAULT_C2C_SHARDS } from '../domain/c2c-state.ts';
import { serializeQueueEntry } from '../domain/media-manifest.ts';
import type { ImageSizeClass } from '../domain/media-refs.ts';
import type { Logger } from '../domain/ports.ts';
import type { ObjectStore } from '../domain/storage.ts';
import { C2cStateStore } from './c2c-state-store.ts';
import { GzipLines } from './media-ndjson.ts';

/** What the queue needs of the media stage: its queue keys, image sizes, and the hand-over. */
export interface C2cMediaStage {
  nextQueueKey(): string;
  readonly imageSizes: readonly ImageSizeClass[];
  enqueueStored(key: string, count: number): void;
}

/** One checkpoint's references: the queue object's key, its lines (gzipped as they came), their count. */
export interface C2cMediaBatch {
  readonly key: string;
  readonly lines: GzipLines;
  readonly count: number;
}

export class C2cMediaQueue {
  /** Queue lines of the rows buffered since the last snapshot, gzipped as they come. */
  private lines = new GzipLines();
  /** References queued so far (the report's `c2c.mediaReferences`). */
  public queued = 0;

  public constructor(
    private readonly stage: C2cMediaStage,
    private readonly store: ObjectStore,
  ) {}

  /** Queue the media of a row just buffered (call in the same synchronous step as the buffering). */
  public add(record: C2cRecord): void {
    for (const ref of mediaRefsOfC2cRecord(record, { imageSizes: this.stage.imageSizes })) {
      this.lines.push(serializeQueueEntry({ ref, attempts: 0, lastError: null }));
      this.queued++;
    }
  }

  /**
   * Queue the media of a row buffered as its line (the rescan's revision rows). A line that does
   * not read back as a row would be a bug of the writer: it is left to the row's own reader.
   */
  public addLine(line: string): void {
    let record: C2cRecord;
    try {
      record = parseC2cRecordLine(line);
    } catch {
      return;
    }
    this.add(record);
  }

  /** The snapshot's batch (synchronous, with the rows): undefined when it holds no reference. */
  public detach(): C2cMediaBatch | undefined {
    if (this.lines.count === 0) return undefined;
    const batch = { key: this.stage.nextQueueKey(), lines: this.lines, count: this.lines.count };
    this.lines = new GzipLines();
    return batch;
  }

  /**
   * Write the batch's queue object, create-only, behind the fence (after the intent that names it).
   * Ending the lines twice gives the same body (GzipLines.end), so a second call writes the same object.
   * @returns its size in bytes
   */
  public async write(batch: C2cMediaBatch, fence: () => Promise<void>): Promise<number> {
    const body = await batch.lines.end();
    await fence();
    await this.store.put(batch.key, body, {
      ifNoneMatch: '*',
      contentType: 'application/x-ndjson',
      contentEncoding: 'gzip',
    });
    return body.byteLength;
  }

  /** The checkpoint that wrote the batch committed: its media may be copied now. */
  public committed(batch: C2cMediaBatch): void {
    this.stage.enqueueStored(batch.key, batch.count);
  }
}

/**
 * Roll back the one-to-one checkpoint a killed run left unfinished (C2cStateStore.open) before the
 * media stage lists the queue: its media queue object is among the intent's objects, and a stage
 * that read it would copy references whose rows are rolled back (and queued again by the next pull).
 * Nothing to do unless the app has a `c2c` section and copies media.
 * @returns the objects deleted (counted in the pass's `rolledBackObjects`)
 */
export async function rollBackC2cBeforeMedia(
  ports: { store: ObjectStore; logger: Logger; fence: () => Promise<void> },
  options: { sdkAppId: number; c2c?: { shards?: number | undefined }; media?: { enabled: boolean } },
): Promise<number> {
  if (options.c2c === undefined || options.media?.enabled !== true) return 0;
  const opened = await C2cStateStore.open(ports, options.sdkAppId, options.c2c.shards ?? DEFAULT_C2C_SHARDS);
  return opened.rolledBack;
}
