/**
 * Buffers archive records across groups into one gzip NDJSON stream per `dt` partition, so the
 * number of objects grows with data volume and days touched, not with the number of groups.
 * Memory stays bounded by bytes, whatever the group sizes: lines are compressed as they arrive and
 * only compressed bytes are held until the flush, which the caller triggers at `flushBytes` of
 * uncompressed data; and lines waiting for the compressor are bounded by the caller through
 * {@link PartitionWriter.backlogBytes} and {@link PartitionWriter.drain}.
 */
import { once } from 'node:events';
import { createGzip, type Gzip } from 'node:zlib';
import { dateInZone, messageObjectKey } from '../domain/partition.ts';
import type { ArchiveRecord } from '../domain/record.ts';
import { serializeRecord } from '../domain/record-codec.ts';
import type { ObjectStore } from '../domain/storage.ts';

interface Partition {
  readonly dt: string;
  readonly gzip: Gzip;
  readonly chunks: Buffer[];
  readonly done: Promise<void>;
  records: number;
  bytes: number;
}

export interface PlannedObject {
  readonly key: string;
  readonly dt: string;
}

export interface FlushResult {
  objects: number;
  records: number;
  /** Compressed bytes written. */
  bytes: number;
}

export class PartitionWriter {
  private partitions = new Map<string, Partition>();
  private planned: PlannedObject[] | undefined;
  private nextPart = 0;
  private uncompressed = 0;

  public constructor(
    private readonly options: { sdkAppId: number; runId: string; timeZone: string; store: ObjectStore },
  ) {}

  /** Uncompressed bytes buffered since the last flush. */
  public get bufferedBytes(): number {
    return this.uncompressed;
  }

  /** Uncompressed bytes handed to the compressors and not compressed yet (zlib works off-thread). */
  public get backlogBytes(): number {
    let bytes = 0;
    for (const p of this.partitions.values()) bytes += p.gzip.writableLength;
    return bytes;
  }

  /** Resolves once the compression backlog is at most `maxBytes`. */
  public async drain(maxBytes: number): Promise<void> {
    while (this.backlogBytes > maxBytes) {
      let fullest: Partition | undefined;
      for (const p of this.partitions.values()) {
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
   * Append records to their days' partitions. Lines for one partition go to its gzip stream in one
   * write: one compression job per page instead of one per message keeps the event loop and the
   * stream's queue small.
   */
  public addAll(records: readonly ArchiveRecord[]): void {
    if (this.planned) throw new Error('PartitionWriter.addAll after planFlush and before flush');
    const byDay = new Map<string, string[]>();
    for (const record of records) {
      const dt = dateInZone(record.msg_time, this.options.timeZone);
      const lines = byDay.get(dt) ?? [];
      lines.push(serializeRecord(record));
      byDay.set(dt, lines);
    }
    for (const [dt, lines] of byDay) {
      const partition = this.partitions.get(dt) ?? this.open(dt);
      const chunk = Buffer.from(`${lines.join('\n')}\n`, 'utf8');
      partition.gzip.write(chunk);
      partition.records += lines.length;
      partition.bytes += chunk.length;
      this.uncompressed += chunk.length;
    }
  }

  /**
   * Name the objects the next flush will write (one per non-empty partition), so the caller can
   * record them as intent before anything is written.
   */
  public planFlush(): PlannedObject[] {
    this.planned ??= [...this.partitions.keys()].sort().map((dt) => ({
      dt,
      key: messageObjectKey({
        sdkAppId: this.options.sdkAppId,
        dt,
        runId: this.options.runId,
        part: this.nextPart++,
      }),
    }));
    return this.planned;
  }

  /** Write the planned objects (create-only) and start empty buffers. */
  public async flush(): Promise<FlushResult> {
    const planned = this.planFlush();
    const result: FlushResult = { objects: 0, records: 0, bytes: 0 };
    for (const { dt, key } of planned) {
      const partition = this.partitions.get(dt);
      if (!partition) continue;
      partition.gzip.end();
      await partition.done;
      const body = Buffer.concat(partition.chunks);
      await this.options.store.put(key, body, {
        ifNoneMatch: '*',
        contentType: 'application/x-ndjson',
        contentEncoding: 'gzip',
      });
      result.objects++;
      result.records += partition.records;
      result.bytes += body.length;
    }
    this.reset();
    return result;
  }

  /** Drop everything buffered (after a failed checkpoint the data is fetched again). */
  public discard(): void {
    for (const p of this.partitions.values()) p.gzip.destroy();
    this.reset();
  }

  private reset(): void {
    this.partitions = new Map();
    this.planned = undefined;
    this.uncompressed = 0;
  }

  private open(dt: string): Partition {
    const gzip = createGzip({ level: 6 });
    const chunks: Buffer[] = [];
    gzip.on('data', (chunk: Buffer) => chunks.push(chunk));
    const done = new Promise<void>((resolve, reject) => {
      gzip.once('end', resolve);
      gzip.once('error', reject);
    });
    // A destroyed (discarded) stream rejects `done`; nobody awaits it then.
    done.catch(() => undefined);
    const partition: Partition = { dt, gzip, chunks, done, records: 0, bytes: 0 };
    this.partitions.set(dt, partition);
    return partition;
  }
}
