/**
 * Buffers archive records across groups into one gzip NDJSON stream per `dt` partition, so the
 * number of objects grows with data volume and days touched, not with the number of groups.
 * Memory stays bounded: lines are compressed as they arrive and only compressed bytes are held.
 *
 * Beside every message object it writes the fingerprint log of the same records
 * (`functions/domain/fingerprint-log.ts`), planned and flushed together, so the checkpoint's intent
 * covers both: a log never describes records that were rolled back, and the rescan compares
 * against exactly what was committed.
 */
import { createGzip, type Gzip, gzipSync } from 'node:zlib';
import { FingerprintLogBuilder } from '../domain/fingerprint-log.ts';
import { dateInZone, fingerprintObjectKey, messageObjectKey } from '../domain/partition.ts';
import type { ArchiveRecord } from '../domain/record.ts';
import { serializeRecord } from '../domain/record-codec.ts';
import type { ObjectStore } from '../domain/storage.ts';

interface Partition {
  readonly dt: string;
  readonly gzip: Gzip;
  readonly chunks: Buffer[];
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

export class PartitionWriter {
  private partitions = new Map<string, Partition>();
  private planned: PlannedObject[] | undefined;
  private nextPart = 0;
  private uncompressed = 0;

  public constructor(
    private readonly options: { sdkAppId: number; runId: string; timeZone: string; store: ObjectStore },
  ) {}

  /** Records buffered since the last flush (not yet committed). */
  public get bufferedRecords(): number {
    let n = 0;
    for (const p of this.partitions.values()) n += p.records;
    return n;
  }

  /** Uncompressed bytes buffered since the last flush. */
  public get bufferedBytes(): number {
    return this.uncompressed;
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
      (this.partitions.get(dt) ?? this.open(dt)).prints.add(record);
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
   * Name the objects the next flush will write (per non-empty partition, its message object and
   * the fingerprint log beside it), so the caller can record them as intent before anything is written.
   */
  public planFlush(): PlannedObject[] {
    // Nothing buffered: nothing to plan, and nothing to block the next addAll.
    if (this.planned === undefined && this.partitions.size === 0) return [];
    this.planned ??= [...this.partitions.keys()].sort().flatMap((dt): PlannedObject[] => {
      const name = { sdkAppId: this.options.sdkAppId, dt, runId: this.options.runId, part: this.nextPart++ };
      return [
        { dt, kind: 'messages', key: messageObjectKey(name) },
        { dt, kind: 'fingerprints', key: fingerprintObjectKey(name) },
      ];
    });
    return this.planned;
  }

  /**
   * Write the planned objects (create-only) and start empty buffers. `fence` runs right before
   * each PUT and throws to stop the flush (the lease is gone, or the hard stop came).
   */
  public async flush(fence: () => Promise<void> = async () => undefined): Promise<FlushResult> {
    const planned = this.planFlush();
    const result: FlushResult = { objects: 0, records: 0, bytes: 0 };
    for (const { dt, key, kind } of planned) {
      const partition = this.partitions.get(dt);
      if (!partition) continue;
      if (kind === 'fingerprints') {
        await fence();
        await this.options.store.put(key, gzipSync(partition.prints.build()), {
          ifNoneMatch: '*',
          contentType: 'text/plain; charset=utf-8',
          contentEncoding: 'gzip',
        });
        continue;
      }
      partition.gzip.end();
      await partition.done;
      const body = Buffer.concat(partition.chunks);
      await fence();
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

  /** Called by the checkpoint once it committed: what the last flush wrote is durable. */
  public committed(): void {}

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
    const partition: Partition = {
      dt,
      gzip,
      chunks,
      done,
      prints: new FingerprintLogBuilder(),
      records: 0,
      bytes: 0,
    };
    this.partitions.set(dt, partition);
    return partition;
  }
}
