/**
 * Writes authentic callback rows durably before the receiver acks them (issue 25, docs/callbacks.md).
 *
 * Group commit: rows that arrive within `maxWaitMs` of the first row of a batch (or until
 * `maxRows`) are written together as one gzip NDJSON object per app and date, create-only, and
 * each row's promise resolves only when its object is stored. So an ack always follows a durable
 * write, and a burst of events costs a few writes, not one each. A failed write rejects the
 * promises of that batch's rows: the receiver answers an error and acks nothing it lost.
 *
 * At most `maxConcurrentWrites` (default 2) objects are written at once: while they are, rows keep
 * joining the next batch (past `maxRows` if need be), so under load each write (gzip and, locally,
 * an fsync) carries more rows instead of more writes competing for the disk and the CPU.
 */
import { type CallbackEventRow, callbackObjectKey } from '../domain/callback-event.ts';
import { gzipNdjson } from '../domain/ndjson-gzip.ts';
import { dateInZone } from '../domain/partition.ts';
import type { Clock } from '../domain/ports.ts';
import type { ObjectStore } from '../domain/storage.ts';

export interface CallbackRecorderOptions {
  readonly store: ObjectStore;
  readonly clock: Clock;
  /** The time zone of the `dt` partition (the archive's). */
  readonly timeZone: string;
  /** Unique to this receiver process ([A-Za-z0-9._-]). */
  readonly receiverId: string;
  /** Default 10 ms: the longest a row waits for others before its batch is written. */
  readonly maxWaitMs?: number;
  /** Default 500 rows a batch (more while `maxConcurrentWrites` writes are in flight). */
  readonly maxRows?: number;
  /** Default 2: objects written at once. */
  readonly maxConcurrentWrites?: number;
}

interface Pending {
  row: CallbackEventRow;
  resolve: () => void;
  reject: (error: unknown) => void;
}

/** What the recorder has done, for metrics and the receiver's report. */
export interface RecorderStats {
  rowsStored: number;
  objectsStored: number;
  failedWrites: number;
  /** Total time spent writing objects (gzip and the store's put), for the benchmark's storage share. */
  writeMs: number;
}

export class CallbackRecorder {
  private batch: Pending[] = [];
  private timer: Promise<void> | undefined;
  private nextBatch = 0;
  private readonly inFlight = new Set<Promise<void>>();
  readonly stats: RecorderStats = { rowsStored: 0, objectsStored: 0, failedWrites: 0, writeMs: 0 };

  constructor(private readonly options: CallbackRecorderOptions) {}

  /** Resolves once the row is stored; rejects when its batch could not be written. */
  record(row: CallbackEventRow): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.batch.push({ row, resolve, reject });
      if (this.batch.length >= (this.options.maxRows ?? 500)) this.flush();
      else if (this.timer === undefined) {
        this.timer = this.options.clock.sleep(this.options.maxWaitMs ?? 10).then(() => {
          this.timer = undefined;
          this.flush();
        });
      }
    });
  }

  /** Writes what is waiting now, and waits for every write in flight. */
  async drain(): Promise<void> {
    this.flush();
    while (this.inFlight.size > 0 || this.batch.length > 0) {
      await Promise.allSettled([...this.inFlight]);
      this.flush();
    }
  }

  private flush(): void {
    if (this.batch.length === 0 || this.inFlight.size >= (this.options.maxConcurrentWrites ?? 2)) return;
    const rows = this.batch;
    this.batch = [];
    const write = this.write(rows).finally(() => {
      this.inFlight.delete(write);
      // What gathered while the writes were busy goes now, without waiting for another window.
      this.flush();
    });
    this.inFlight.add(write);
  }

  /** One object per (app, dt) of the batch; each row settles with its own object's write. */
  private async write(rows: Pending[]): Promise<void> {
    const groups = new Map<string, Pending[]>();
    for (const pending of rows) {
      const dt = dateInZone(Math.floor(pending.row.received_at / 1000), this.options.timeZone);
      const key = JSON.stringify([pending.row.sdk_app_id, dt]);
      const group = groups.get(key);
      if (group === undefined) groups.set(key, [pending]);
      else group.push(pending);
    }
    await Promise.all(
      [...groups.entries()].map(async ([group, members]) => {
        const [sdkAppId, dt] = JSON.parse(group) as [number, string];
        const key = callbackObjectKey({
          sdkAppId,
          dt,
          receiverId: this.options.receiverId,
          batch: this.nextBatch++,
        });
        const started = this.options.clock.now();
        try {
          await this.options.store.put(key, await gzipNdjson(members.map((m) => JSON.stringify(m.row))), {
            ifNoneMatch: '*',
            contentType: 'application/x-ndjson',
            contentEncoding: 'gzip',
          });
          this.stats.writeMs += this.options.clock.now() - started;
          this.stats.rowsStored += members.length;
          this.stats.objectsStored += 1;
          for (const m of members) m.resolve();
        } catch (error) {
          this.stats.failedWrites += 1;
          for (const m of members) m.reject(error);
        }
      }),
    );
  }
}
