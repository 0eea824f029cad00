/**
 * The media stage: copies the media of committed messages beside the history paging, with its own
 * concurrency (downloads do not use the REST API's rate), and records one manifest row per
 * reference, exactly once, through media checkpoints (media-ledger.ts).
 *
 * Work arrives as queue objects: a message checkpoint writes the references of its messages into
 * one (inside its own intent, so a rolled-back checkpoint leaves none), and hands it over once
 * committed (`enqueue`). Queue objects left by earlier runs (deadline, failures to retry) are
 * picked up at the start. Each queue object is processed as a batch and committed as a whole:
 * final rows into the manifest, the rest (not started before the deadline, failed but still inside
 * retention) into a remainder queue object for the next run.
 */
import { setMaxListeners } from 'node:events';
import pLimit, { type LimitFunction } from 'p-limit';
import { AbortedError } from '../domain/errors.ts';
import { fenceMarginMs } from '../domain/lease.ts';
import {
  type MediaManifestRow,
  type MediaQueueEntry,
  manifestObjectKey,
  manifestRow,
  mediaQueueKey,
  mediaQueuePrefix,
  parseQueueEntry,
  serializeManifestRow,
  serializeQueueEntry,
} from '../domain/media-manifest.ts';
import type { ImageSizeClass } from '../domain/media-refs.ts';
import { dateInZone } from '../domain/partition.ts';
import type { Clock, Logger, MediaFetcher } from '../domain/ports.ts';
import type { StreamingObjectStore } from '../domain/storage.ts';
import { describeError } from './errors.ts';
import { copyMedia } from './media-copy.ts';
import { MediaLedger, recoverMediaCheckpoints } from './media-ledger.ts';
import { GzipLines, gunzipLines } from './media-ndjson.ts';
import { emptyMediaReport, type MediaReport, nearRetentionCutoffSec } from './media-report.ts';
import type { StateKeeper } from './state-keeper.ts';

export interface MediaStageDeps {
  fetcher: MediaFetcher;
  store: StreamingObjectStore;
  clock: Clock;
  logger: Logger;
  /** The API server's clock (epoch ms): retention is the server's; default the local clock. */
  serverNowMs?: () => number;
}

export interface MediaStageOptions {
  sdkAppId: number;
  runId: string;
  timeZone: string;
  /** Downloads in flight at once. */
  concurrency: number;
  imageSizes: readonly ImageSizeClass[];
  /** The plan's retention: a failed download is retried by later runs until its message leaves it. */
  retentionDays: number;
  /** Pending references whose message is this close (days) to leaving retention are counted apart. */
  headroomDays: number;
  /** No download starts that cannot finish before this (epoch ms); in-flight ones are aborted at it. */
  deadlineMs: number | null;
  leaseMs: number;
  /** Renew the lease this often while media work runs (paging may be over). */
  renewEveryMs: number;
}

/** What ties the media stage to its run: the run's own signal and the fence before each write. */
export interface MediaStageRun {
  /** The run's own signal (the hard stop): in-flight downloads are aborted at it. */
  signal?: AbortSignal | undefined;
  /** Runs before every write of a media checkpoint; throws to stop it (default: the lease's fence). */
  fence?: (() => Promise<void>) | undefined;
}

interface Batch {
  key: string;
  /** Its references, or undefined: read from the queue object when its turn comes. */
  entries: MediaQueueEntry[] | undefined;
  /** How many references it holds, when known (a batch of this run's, kept in memory or not). */
  count: number | undefined;
}

/**
 * References of waiting batches kept in memory at most; the batches beyond wait as their queue
 * objects (already written by their checkpoint) and are read back in their turn, so a media stage
 * slower than paging holds what is in flight, not what the run has archived (issue 23).
 */
export const MAX_WAITING_IN_MEMORY = 20_000;

/** Assumed per-download speed before one finished (bytes per ms ≈ 2 MB/s). */
const INITIAL_RATE = 2_000;

export class MediaStage {
  public readonly report: MediaReport = emptyMediaReport();
  private readonly waiting: Batch[] = [];
  private readonly running = new Set<Promise<void>>();
  /** References of the waiting batches held in memory. */
  private waitingInMemory = 0;
  /**
   * References of the running batches not started yet (a batch being read counts as a full round
   * of downloads): the next batch starts only when fewer than `concurrency` are left, so only the
   * batches that keep every download slot busy are in memory at once.
   */
  private unstarted = 0;
  private readonly limit: LimitFunction;
  /** Media writes at once: few, so the checkpoints' own writes are not starved of I/O threads. */
  private readonly writeSlots: LimitFunction = pLimit(2);
  private readonly abort = new AbortController();
  private nextQueuePart = 0;
  private nextManifestPart = 0;
  private downloadedBytes = 0;
  private downloadMs = 0;
  private renewTimer: NodeJS.Timeout | undefined;
  private deadlineTimer: NodeJS.Timeout | undefined;
  private failure: unknown;
  /** Message times (epoch s) of the references left pending, for the near-retention count. */
  private readonly pendingMsgTimes: number[] = [];
  /** The run's own signal (the hard stop): after it, nothing more is read. */
  private runSignal: AbortSignal | undefined;
  private readonly startedAt: number;
  /** Runs before every write of a media checkpoint; throws to stop it. */
  private fence: () => Promise<void> = () => this.keeper.ensureLease(fenceMarginMs(this.options.leaseMs));

  private constructor(
    private readonly deps: MediaStageDeps,
    private readonly options: MediaStageOptions,
    private readonly keeper: StateKeeper,
    private readonly ledger: MediaLedger,
  ) {
    this.limit = pLimit(options.concurrency);
    // Every download and upload listens on this one signal.
    setMaxListeners(options.concurrency * 4 + 16, this.abort.signal);
    this.startedAt = deps.clock.now();
  }

  /**
   * Recover the media checkpoints a killed run left, then queue the work earlier runs left.
   * Call after the message checkpoint's own rollback, so every listed queue object is committed.
   */
  public static async open(
    deps: MediaStageDeps,
    options: MediaStageOptions,
    keeper: StateKeeper,
    run: MediaStageRun = {},
  ): Promise<MediaStage> {
    const { signal, fence } = run;
    const ledger = await MediaLedger.open(deps.store, options.sdkAppId);
    const stage = new MediaStage(deps, options, keeper, ledger);
    if (fence) stage.fence = fence;
    stage.runSignal = signal;
    stage.report.rolledBackObjects = await recoverMediaCheckpoints(ledger, deps.store, deps.logger);
    for await (const key of deps.store.list(mediaQueuePrefix(options.sdkAppId))) {
      stage.waiting.push({ key, entries: undefined, count: undefined });
    }
    stage.report.queuedFromEarlierRuns = stage.waiting.length;
    if (signal) signal.addEventListener('abort', () => stage.abort.abort(signal.reason), { once: true });
    if (options.deadlineMs !== null) {
      const ms = Math.max(0, options.deadlineMs - deps.clock.now());
      stage.deadlineTimer = setTimeout(() => stage.abort.abort(new AbortedError('deadline')), ms);
    }
    stage.renewTimer = setInterval(() => {
      void keeper
        .update((s) => s)
        .catch((error: unknown) => {
          deps.logger.warn('could not renew the lease during media copying', { error: describeError(error) });
        });
    }, options.renewEveryMs);
    stage.renewTimer.unref();
    stage.pump();
    return stage;
  }

  /** A queue key for the next message checkpoint (or a remainder). */
  public nextQueueKey(): string {
    return mediaQueueKey(this.options.sdkAppId, this.options.runId, this.nextQueuePart++);
  }

  public get imageSizes(): readonly ImageSizeClass[] {
    return this.options.imageSizes;
  }

  /**
   * A message checkpoint committed this queue object of `count` references: they may be copied
   * now, read from the object in their turn (nothing of them is held meanwhile).
   */
  public enqueueStored(key: string, count: number): void {
    this.report.references += count;
    this.waiting.push({ key, entries: undefined, count });
    this.pump();
  }

  /** A message checkpoint committed this queue object: its references may be copied now. */
  public enqueue(key: string, entries: MediaQueueEntry[]): void {
    this.report.references += entries.length;
    const count = entries.length;
    if (this.waitingInMemory + count <= MAX_WAITING_IN_MEMORY) {
      this.waitingInMemory += count;
      this.waiting.push({ key, entries, count });
    } else this.waiting.push({ key, entries: undefined, count });
    this.pump();
  }

  /**
   * Copy everything queued (or what fits before the deadline), commit, and stop renewing the lease.
   * @throws the first storage or lease failure of a media checkpoint
   */
  public async finish(): Promise<MediaReport> {
    while (this.running.size > 0 || (this.waiting.length > 0 && !this.stopped)) {
      this.pump();
      await Promise.race(this.running);
    }
    clearInterval(this.renewTimer);
    clearTimeout(this.deadlineTimer);
    this.report.pendingBatches = this.waiting.length;
    for (const batch of this.waiting) this.report.pending += batch.count ?? 0;
    await this.countPending();
    if (this.failure !== undefined) throw this.failure;
    return this.report;
  }

  /**
   * `nearRetention` and `oldestPendingMsgTime` over every reference left pending, those of queue
   * objects this run never opened too (read now: small, one checkpoint's references each).
   */
  private async countPending(): Promise<void> {
    const times = this.pendingMsgTimes;
    const unread = this.waiting.filter((b) => b.entries === undefined);
    for (const batch of this.waiting) for (const e of batch.entries ?? []) times.push(e.ref.msgTime);
    const reads = pLimit(8);
    await Promise.all(
      unread.map((batch) =>
        reads(async () => {
          if (this.runSignal?.aborted) {
            this.report.uncountedBatches++;
            return;
          }
          try {
            for await (const e of this.read(batch.key)) times.push(e.ref.msgTime);
          } catch (error) {
            this.report.uncountedBatches++;
            this.deps.logger.warn('could not read a media queue object to count its pending files', {
              key: batch.key,
              error: describeError(error),
            });
          }
        }),
      ),
    );
    const now = this.deps.serverNowMs?.() ?? this.deps.clock.now();
    const cutoff = nearRetentionCutoffSec(now, this.options.retentionDays, this.options.headroomDays);
    let oldest: number | null = null;
    let near = 0;
    for (const t of times) {
      if (t < cutoff) near++;
      if (oldest === null || t < oldest) oldest = t;
    }
    this.report.nearRetention = near;
    this.report.oldestPendingMsgTime = oldest;
    times.length = 0;
  }

  /** Stop everything now (the run failed); nothing half-written is left behind. */
  public close(): void {
    this.abort.abort(new AbortedError('run stopped'));
    clearInterval(this.renewTimer);
    clearTimeout(this.deadlineTimer);
  }

  private get stopped(): boolean {
    return this.abort.signal.aborted || this.failure !== undefined;
  }

  /**
   * Start batches while downloads would otherwise wait: a batch is one checkpoint's references, and
   * a new one starts only when fewer than `concurrency` references of the running ones are left to
   * start.
   */
  private pump(): void {
    const { concurrency } = this.options;
    while (
      !this.stopped &&
      this.waiting.length > 0 &&
      this.running.size < concurrency &&
      (this.running.size === 0 || this.unstarted < concurrency)
    ) {
      const batch = this.waiting.shift() as Batch;
      if (batch.entries !== undefined) this.waitingInMemory -= batch.entries.length;
      // Until it is read to its end, a batch counts as a full round, so no other starts meanwhile.
      this.unstarted += concurrency;
      const task = this.process(batch)
        .catch((error: unknown) => {
          // A storage or lease failure: stop copying; the queue object stays for the next run.
          this.failure ??= error;
          this.abort.abort(error);
        })
        .finally(() => {
          this.running.delete(task);
          this.pump();
        });
      this.running.add(task);
    }
  }

  /**
   * One batch, streamed (issue 23): its references are read a line at a time and handed to the
   * download slots at most {@link sliceOf} ahead of them, their final rows and remainder gzipped as
   * they come; so a batch holds a slice of references, not the checkpoint's list as lines, objects
   * and rows.
   */
  private async process(batch: Batch): Promise<void> {
    const out = new BatchOutput();
    const window = new SliceWindow(sliceOf(this.options.concurrency));
    let failure: { error: unknown } | undefined;
    try {
      for await (const entry of this.entriesOf(batch)) {
        out.times.push(entry.ref.msgTime);
        this.unstarted++;
        await window.enter();
        void this.limit(() => this.copyInto(entry, out))
          .catch((error: unknown) => {
            failure ??= { error };
          })
          .finally(() => window.leave());
        if (failure) break;
      }
    } catch (error) {
      failure ??= { error };
      this.report.uncountedBatches++;
    } finally {
      // The batch no longer counts as a round of references still to read.
      this.unstarted -= this.options.concurrency;
    }
    await window.drained();
    try {
      if (failure !== undefined) throw failure.error;
      await this.settle(batch.key, out);
    } catch (error) {
      // Not committed: the queue object stays, every reference in it is still pending.
      for (const t of out.times) this.pendingMsgTimes.push(t);
      throw error;
    } finally {
      out.discard();
    }
  }

  /** The references of a batch: those handed over, or its queue object's, read as they are used. */
  private async *entriesOf(batch: Batch): AsyncGenerator<MediaQueueEntry> {
    const { entries } = batch;
    if (entries !== undefined) {
      // Dropped from the batch as they are read: the stage no longer holds the list.
      batch.entries = [];
      yield* entries;
      return;
    }
    yield* this.read(batch.key);
  }

  /** Copy one reference of a batch and record its outcome there. */
  private async copyInto(entry: MediaQueueEntry, out: BatchOutput): Promise<void> {
    this.unstarted--;
    if (this.unstarted < this.options.concurrency) this.pump();
    const done = await this.copyOne(entry);
    if (done === undefined) out.remain(entry);
    else {
      out.attempted++;
      if ('ref' in done) out.remain(done);
      // Gzipped as it comes: the row is not held until the batch commits.
      else out.finalRow(dateInZone(done.msg_time, this.options.timeZone), serializeManifestRow(done));
    }
  }

  /** Commit a batch whose references all had their turn (or leave it whole when none was tried). */
  private async settle(key: string, out: BatchOutput): Promise<void> {
    if (out.attempted === 0) {
      // Nothing was tried (deadline): leave the queue object as it is.
      this.report.pending += out.times.length;
      for (const t of out.times) this.pendingMsgTimes.push(t);
      return;
    }
    await this.commit(key, out);
    this.report.pending += out.remainder.count;
    for (const t of out.remainderTimes) this.pendingMsgTimes.push(t);
  }

  /** Copy one reference: a final row, an entry to retry in a later run, or undefined (not started). */
  private async copyOne(entry: MediaQueueEntry): Promise<MediaManifestRow | MediaQueueEntry | undefined> {
    if (this.stopped) return undefined;
    const { clock } = this.deps;
    const refused = entry.ref.url === null ? undefined : this.deps.fetcher.refusal(entry.ref);
    if (refused !== undefined) {
      this.report.refused++;
      return manifestRow(entry.ref, { status: 'refused', reason: refused }, clock.now(), entry.attempts);
    }
    const declared = entry.ref.declaredSize ?? 0;
    const rate = this.downloadMs > 0 ? Math.max(this.downloadedBytes / this.downloadMs, 100) : INITIAL_RATE;
    const needs = declared / rate;
    const deadline = this.options.deadlineMs;
    // Left for the next invocation unless even a whole one could not fit it (then try anyway).
    if (deadline !== null && clock.now() + needs >= deadline && needs < deadline - this.startedAt) {
      return undefined;
    }
    const started = clock.now();
    let result: Awaited<ReturnType<typeof copyMedia>>;
    try {
      result = await copyMedia(entry.ref, { ...this.deps, writeSlots: this.writeSlots }, this.abort.signal);
    } catch (error) {
      if (error instanceof AbortedError || this.abort.signal.aborted) return undefined;
      // The store failed for this file: keep it for a later run, and say so.
      this.report.errors++;
      this.deps.logger.warn('could not store a media file; a later run tries again', {
        groupId: entry.ref.groupId,
        msgSeq: entry.ref.msgSeq,
        error: describeError(error),
      });
      return { ...entry, lastError: describeError(error) };
    }
    const attempts = entry.attempts + result.attempts;
    const now = clock.now();
    const { outcome } = result;
    if (outcome.status === 'archived') {
      this.downloadedBytes += outcome.bytes;
      this.downloadMs += Math.max(1, now - started);
      this.report.archived++;
      this.report.bytes += outcome.bytes;
      this.report.storedBytes += result.storedBytes;
      if (result.storedBytes === 0) this.report.deduplicated++;
    } else if (outcome.status === 'failed') {
      const retentionEnd = (entry.ref.msgTime + this.options.retentionDays * 86_400) * 1000;
      // Retention is the server's: on its clock, not this host's.
      if ((this.deps.serverNowMs?.() ?? now) < retentionEnd) {
        this.report.retrying++;
        return { ref: entry.ref, attempts, lastError: outcome.reason };
      }
      this.report.failed++;
    } else if (outcome.status === 'expired') this.report.expired++;
    else if (outcome.status === 'refused') this.report.refused++;
    else this.report.noUrl++;
    return manifestRow(entry.ref, outcome, now, attempts);
  }

  /** Intent → manifest objects and remainder → delete the source → commit. */
  private async commit(source: string, out: BatchOutput): Promise<void> {
    const writes = [...out.byDay].map(([dt, lines]) => ({
      key: manifestObjectKey({
        sdkAppId: this.options.sdkAppId,
        dt,
        runId: this.options.runId,
        part: this.nextManifestPart++,
      }),
      lines,
    }));
    if (out.remainder.count > 0) writes.push({ key: this.nextQueueKey(), lines: out.remainder });
    const runId = this.options.runId;
    // Fenced like every checkpoint write: the lease (renewed if it runs short), and the hard stop.
    await this.fence();
    await this.ledger.update((p) => [...p, { runId, source, objects: writes.map((w) => w.key) }]);
    for (const write of writes) {
      const body = await write.lines.end();
      await this.fence();
      await this.deps.store.put(write.key, body, {
        ifNoneMatch: '*',
        contentType: 'application/x-ndjson',
        contentEncoding: 'gzip',
      });
    }
    await this.deps.store.delete(source);
    await this.ledger.update((p) => p.filter((e) => e.source !== source));
    this.report.manifestObjects += out.byDay.size;
    this.report.checkpoints++;
  }

  /** The references of a queue object, read a line at a time (none when it is gone). */
  private async *read(key: string): AsyncGenerator<MediaQueueEntry> {
    const stored = await this.deps.store.get(key);
    if (stored === undefined) return;
    for await (const line of gunzipLines(stored.body)) yield parseQueueEntry(line);
  }
}

/** A batch's outcomes as they come: final rows by day and the remainder, gzipped; message times. */
class BatchOutput {
  public readonly byDay = new Map<string, GzipLines>();
  public readonly remainder = new GzipLines();
  /** Message times (epoch s) of every reference read, and of those left in the remainder. */
  public readonly times: number[] = [];
  public readonly remainderTimes: number[] = [];
  /** References tried (a final row, or a failure to retry later). */
  public attempted = 0;

  public finalRow(dt: string, line: string): void {
    let lines = this.byDay.get(dt);
    if (lines === undefined) {
      lines = new GzipLines();
      this.byDay.set(dt, lines);
    }
    lines.push(line);
  }

  public remain(entry: MediaQueueEntry): void {
    this.remainder.push(serializeQueueEntry(entry));
    this.remainderTimes.push(entry.ref.msgTime);
  }

  public discard(): void {
    for (const lines of this.byDay.values()) lines.discard();
    this.remainder.discard();
  }
}

/** References of one batch handed to the download slots ahead of them: a few rounds. */
export function sliceOf(concurrency: number): number {
  return Math.max(4 * concurrency, 64);
}

/** At most `size` references of a batch between being read and being done. */
class SliceWindow {
  private inside = 0;
  private wake: (() => void) | undefined;

  public constructor(private readonly size: number) {}

  public async enter(): Promise<void> {
    while (this.inside >= this.size) await new Promise<void>((resolve) => (this.wake = resolve));
    this.inside++;
  }

  public leave(): void {
    this.inside--;
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }

  /** Settles once every reference that entered has left. */
  public async drained(): Promise<void> {
    while (this.inside > 0) await new Promise<void>((resolve) => (this.wake = resolve));
  }
}
