/**
 * Buffers archive records across groups into one gzip NDJSON stream per `dt` partition, so the
 * number of objects grows with data volume and days touched, not with the number of groups.
 * Memory stays bounded: lines are compressed as they arrive and only compressed bytes are held.
 *
 * A checkpoint DETACHES the buffers ({@link PartitionWriter.planFlush}): from then on new records go
 * to fresh buffers while the detached batch is written, so paging need not pause for the writes.
 *
 * Beside every message object it writes the fingerprint log of the same records
 * (`functions/domain/fingerprint-log.ts`), planned and flushed together, so the checkpoint's intent
 * covers both: a log never describes records that were rolled back, and the rescan compares
 * against exactly what was committed.
 */
import { once } from 'node:events';
import type { Gzip } from 'node:zlib';
import pLimit from 'p-limit';
import { FingerprintLogBuilder } from '../domain/fingerprint-log.ts';
import { type GzipSink, gzipBlocks, gzipSink } from '../domain/ndjson-gzip.ts';
import { dateInZone, fingerprintObjectKey, messageObjectKey } from '../domain/partition.ts';
import type { ArchiveRecord } from '../domain/record.ts';
import { serializeRecord } from '../domain/record-codec.ts';
import type { ObjectStore } from '../domain/storage.ts';

/** Object writes of one flush in flight at once. */
const FLUSH_WRITES_IN_FLIGHT = 8;

/** Lines go to the compressor in batches of about this many bytes: one zlib job per batch, not per page. */
const BATCH_BYTES = 64 * 1024;
/** Zone offsets are whole multiples of 15 minutes, so a day boundary never falls inside such a block. */
const ZONE_BLOCK_SECONDS = 900;

interface Partition {
  readonly dt: string;
  readonly gzip: Gzip;
  /** The compressed object being built (`gzip` is its stream). */
  readonly sink: GzipSink;
  /** Lines not yet handed to the compressor (written in batches of {@link BATCH_BYTES}). */
  pending: string[];
  pendingBytes: number;
  readonly done: Promise<void>;
  readonly prints: FingerprintLogBuilder;
  records: number;
  bytes: number;
}

export interface PlannedObject {
  readonly key: string;
  readonly dt: string;
  /** A message object, or the fingerprint log beside it. */
  /** `media-queue`: written by MediaQueueWriter, not by this class. */
  readonly kind: 'messages' | 'fingerprints' | 'media-queue';
}

export interface FlushResult {
  /** Message objects written (their fingerprint logs not counted). */
  objects: number;
  records: number;
  /** Compressed bytes written. */
  bytes: number;
}

/** The buffers of one checkpoint, detached by `planFlush` and written by `flush`. */
interface Batch {
  readonly partitions: Map<string, Partition>;
  readonly planned: PlannedObject[];
  readonly records: number;
}

export class PartitionWriter {
  /** The buffers new records go to. */
  private partitions = new Map<string, Partition>();
  /** The buffers of the checkpoint being written, from `planFlush` until its `flush` succeeds. */
  private batch: Batch | undefined;
  /** Records of the last flush, until its checkpoint commits. */
  private flushedRecords = 0;
  private nextPart = 0;
  private uncompressed = 0;
  /** The `dt` of 15-minute blocks already seen (one Intl call per block, not per message). */
  private readonly days = new Map<number, string>();

  public constructor(
    private readonly options: { sdkAppId: number; runId: string; timeZone: string; store: ObjectStore },
  ) {}

  /** Records not written yet: those buffered, and those of a detached batch not flushed yet. */
  public get bufferedRecords(): number {
    let n = this.batch?.records ?? 0;
    for (const p of this.partitions.values()) n += p.records;
    return n;
  }

  /**
   * Records not committed yet: those buffered, plus those of a flush whose checkpoint has not
   * committed (a run stopped between its object writes and its state commit archived none of them).
   */
  public get uncommittedRecords(): number {
    return this.bufferedRecords + this.flushedRecords;
  }

  /** Uncompressed bytes buffered since the last `planFlush` (a detached batch not counted). */
  public get bufferedBytes(): number {
    return this.uncompressed;
  }

  /**
   * Append records to their days' partitions. Lines for one partition go to its gzip stream in one
   * write: one compression job per page instead of one per message keeps the event loop and the
   * stream's queue small.
   *
   * A record goes to the day of its `msg_time`, or of the time `filedAt` gives for it: a zeroed
   * placeholder (`MsgTimeStamp` 0, see `functions/domain/placeholder-time.ts`) is written exactly as
   * served, under the time the archive knows for it; its fingerprint-log entry keeps that time.
   */
  public addAll(records: readonly ArchiveRecord[], filedAt?: ReadonlyMap<ArchiveRecord, number>): void {
    for (const record of records) {
      const time = filedAt?.get(record) ?? record.msg_time;
      const dt = this.dayOf(time);
      const partition = this.partitions.get(dt) ?? this.open(dt);
      partition.prints.add(record, time);
      const line = `${serializeRecord(record)}\n`;
      const size = Buffer.byteLength(line);
      partition.pending.push(line);
      partition.pendingBytes += size;
      partition.records++;
      partition.bytes += size;
      this.uncompressed += size;
      if (partition.pendingBytes >= BATCH_BYTES) this.writePending(partition);
    }
  }

  private writePending(partition: Partition): void {
    if (partition.pending.length === 0) return;
    partition.gzip.write(Buffer.from(partition.pending.join(''), 'utf8'));
    partition.pending = [];
    partition.pendingBytes = 0;
  }

  /** `dateInZone`, cached per 15-minute block when both ends of the block fall on the same day. */
  private dayOf(epochSeconds: number): string {
    const block = Math.floor(epochSeconds / ZONE_BLOCK_SECONDS);
    const cached = this.days.get(block);
    if (cached !== undefined) return cached;
    const dt = dateInZone(epochSeconds, this.options.timeZone);
    const start = block * ZONE_BLOCK_SECONDS;
    const sameDay =
      dateInZone(Math.max(0, start), this.options.timeZone) === dt &&
      dateInZone(start + ZONE_BLOCK_SECONDS - 1, this.options.timeZone) === dt;
    if (sameDay) {
      if (this.days.size > 100_000) this.days.clear();
      this.days.set(block, dt);
    }
    return dt;
  }

  /** Uncompressed bytes handed to the compressors and not compressed yet (zlib works off-thread). */
  public get backlogBytes(): number {
    let bytes = 0;
    for (const p of this.allPartitions()) bytes += p.gzip.writableLength;
    return bytes;
  }

  private *allPartitions(): Iterable<Partition> {
    yield* this.partitions.values();
    if (this.batch) yield* this.batch.partitions.values();
  }

  /** Resolves once the compression backlog is at most `maxBytes`. */
  public async drain(maxBytes: number): Promise<void> {
    while (this.backlogBytes > maxBytes) {
      let fullest: Partition | undefined;
      for (const p of this.allPartitions()) {
        if (fullest === undefined || p.gzip.writableLength > fullest.gzip.writableLength) fullest = p;
      }
      if (fullest === undefined || !fullest.gzip.writableNeedDrain) {
        // Below its own high-water mark: let the compressor run a turn.
        await new Promise<void>((resolve) => setImmediate(resolve));
        continue;
      }
      await once(fullest.gzip, 'drain');
    }
  }

  /**
   * Detach what is buffered as the next checkpoint's batch, and name the objects its flush will
   * write (per non-empty partition, its message object and the fingerprint log beside it), so the
   * caller can record them as intent before anything is written. Records added from now on go to
   * fresh buffers, for the checkpoint after. Called again before that flush, it returns the same
   * names and detaches nothing more.
   */
  public planFlush(): PlannedObject[] {
    if (this.batch) return this.batch.planned;
    // Nothing buffered: nothing to plan.
    if (this.partitions.size === 0) return [];
    const partitions = this.partitions;
    const planned = [...partitions.keys()].sort().flatMap((dt): PlannedObject[] => {
      const name = { sdkAppId: this.options.sdkAppId, dt, runId: this.options.runId, part: this.nextPart++ };
      return [
        { dt, kind: 'messages', key: messageObjectKey(name) },
        { dt, kind: 'fingerprints', key: fingerprintObjectKey(name) },
      ];
    });
    let records = 0;
    for (const p of partitions.values()) records += p.records;
    this.batch = { partitions, planned: [...planned, ...this.detached()], records };
    this.partitions = new Map();
    this.uncompressed = 0;
    return this.batch.planned;
  }

  /**
   * For subclasses that write an object of their own with every checkpoint: called once per
   * batch, as it is detached; returns the extra objects the batch's flush will write.
   */
  protected detached(): PlannedObject[] {
    return [];
  }

  /**
   * Write the detached batch (detaching what is buffered first if `planFlush` was not called), all
   * create-only. `fence` runs right before each PUT and throws to stop the flush (the lease is gone,
   * or the hard stop came); the batch then stays unwritten, for `discard`.
   */
  public async flush(fence: () => Promise<void> = async () => undefined): Promise<FlushResult> {
    this.planFlush();
    const batch = this.batch;
    const result: FlushResult = { objects: 0, records: 0, bytes: 0 };
    if (batch === undefined) return result;
    const planned = batch.planned.filter((p) => p.kind !== 'media-queue');
    // Several writes at once: a checkpoint holds one object per day of history (30 on a month's
    // backlog), and one after the other they kept the run from paging for a second each time.
    // Their order does not matter: the intent names them all, and a failure rolls all of them back.
    const slots = pLimit(FLUSH_WRITES_IN_FLIGHT);
    const write = async ({ dt, key, kind }: (typeof planned)[number]): Promise<void> => {
      const partition = batch.partitions.get(dt);
      if (!partition) return;
      if (kind === 'fingerprints') {
        const body = await gzipBlocks(partition.prints.blocks());
        await fence();
        await this.options.store.put(key, body, {
          ifNoneMatch: '*',
          contentType: 'text/plain; charset=utf-8',
          contentEncoding: 'gzip',
        });
        return;
      }
      this.writePending(partition);
      partition.gzip.end();
      await partition.done;
      const body = partition.sink.body();
      await fence();
      await this.options.store.put(key, body, {
        ifNoneMatch: '*',
        contentType: 'application/x-ndjson',
        contentEncoding: 'gzip',
      });
      result.objects++;
      result.records += partition.records;
      result.bytes += body.length;
    };
    // After a failure no further write starts, and the flush fails only once none is in flight:
    // a write landing after the run gave up could outlive the next run's rollback.
    let failure: { error: unknown } | undefined;
    await Promise.all(
      planned.map((p) =>
        slots(async () => {
          if (failure) return;
          await write(p).catch((error: unknown) => {
            failure ??= { error };
          });
        }),
      ),
    );
    if (failure) throw failure.error;
    // Until this point the records still count as buffered; from here until `committed()` as flushed.
    this.flushedRecords += batch.records;
    this.batch = undefined;
    return result;
  }

  /** Called by the checkpoint once it committed: what the last flush wrote is durable. */
  public committed(): void {
    this.flushedRecords = 0;
  }

  /** Drop everything buffered (after a failed checkpoint the data is fetched again). */
  public discard(): void {
    for (const p of this.allPartitions()) p.gzip.destroy();
    this.flushedRecords = 0;
    this.partitions = new Map();
    this.batch = undefined;
    this.uncompressed = 0;
  }

  private open(dt: string): Partition {
    const sink = gzipSink();
    const partition: Partition = {
      dt,
      gzip: sink.stream,
      sink,
      pending: [],
      pendingBytes: 0,
      done: sink.done,
      prints: new FingerprintLogBuilder(),
      records: 0,
      bytes: 0,
    };
    this.partitions.set(dt, partition);
    return partition;
  }
}
