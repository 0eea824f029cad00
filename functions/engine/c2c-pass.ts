/**
 * The one-to-one pass (issue 26; docs/one-to-one.md), run after the group paging: every pair with a
 * window to read is paged backwards with `LastMsgKey`/`LastMsgTime` (functions/domain/c2c-pairs.ts),
 * many pairs at once, paced by the app's client like every call. Its rows go into gzip NDJSON
 * objects under `c2c/` (`c2cObjectKey`), and its state is sharded (functions/domain/c2c-state.ts):
 * the shards are read one after the other, so a run holds the shards whose pairs are in flight,
 * not every known pair.
 *
 * Exactly once, as the group checkpoints (functions/engine/checkpoint.ts): a checkpoint takes, in
 * one synchronous step, the rows settled so far and the pair states that claim exactly those (a
 * page in flight is in neither); it writes its intent into the head, then the row objects and the
 * changed shards (create-only, deterministic keys), then the head naming the shards with the intent
 * cleared. A run that dies leaves an intent whose objects the next run deletes before it continues
 * from the committed cursors. Every write is behind the run's lease fence.
 */

import pLimit, { type LimitFunction } from 'p-limit';
import {
  type C2cPairState,
  needsPull,
  newPairState,
  type PageOutcome,
  pairConversation,
  pairShard,
  type SortedPair,
  serializeShard,
} from '../domain/c2c-pairs.ts';
import {
  c2cObjectKey,
  serializeC2cRecord,
  toC2cRecord,
  toQuarantinedC2cRecord,
} from '../domain/c2c-record.ts';
import { type C2cPrint, c2cPrintOf, prunePrints } from '../domain/c2c-revision.ts';
import { c2cShardKey, DEFAULT_C2C_SHARDS } from '../domain/c2c-state.ts';
import { ArchiverError } from '../domain/errors.ts';
import type { HistoryFilesApi } from '../domain/history-file.ts';
import { gzipNdjson } from '../domain/ndjson-gzip.ts';
import { dateInZone } from '../domain/partition.ts';
import type { Clock, Logger, RoamApi } from '../domain/ports.ts';
import type { ObjectStore } from '../domain/storage.ts';
import type { RoamPage } from '../domain/tencent-types.ts';
import { discoverPairs } from './c2c-discovery.ts';
import { type C2cMediaBatch, C2cMediaQueue, type C2cMediaStage } from './c2c-media.ts';
import { type C2cPullHost, pullPair } from './c2c-pull.ts';
import { type C2cReport, emptyC2cReport } from './c2c-report.ts';
import { type C2cPairSlot, type C2cRescanHost, needsRescan, rescanPair } from './c2c-rescan.ts';
import { C2cStateStore } from './c2c-state-store.ts';

/**
 * Pair states held at once (the memory bound): the shards whose pairs are being handed out, in
 * flight or not yet committed. The next shard is read only while fewer are held (or none), so a
 * run holds at most this many and one shard more: with 1,000,000 known pairs in 256 shards, about
 * 3 shards; with a few thousand pairs, all of them, so that no shard waiting on one big pair keeps
 * the others' pairs from being paged.
 */
export const DEFAULT_MAX_PAIR_STATES = 8_192;

export interface C2cPassOptions {
  readonly sdkAppId: number;
  readonly runId: string;
  readonly timeZone: string;
  readonly retentionDays: number;
  readonly deadlineMs: number | null;
  readonly observedAtSec: number;
  readonly checkpointIntervalMs: number;
  readonly flushBytes: number;
  /** Requests in flight, and pairs paged at once (a big pair's spans share the requests). */
  readonly concurrency: number;
  /** Pair states held at once (default {@link DEFAULT_MAX_PAIR_STATES}). */
  readonly maxPairStates?: number | undefined;
  /** The pairs the config names (functions/domain/c2c-pairs.ts `configPairs`). */
  readonly pairs: readonly SortedPair[];
  /** Shards of a new state (default DEFAULT_C2C_SHARDS); an existing state keeps its own. */
  readonly shards?: number | undefined;
  /** Read the recorded `C2C.CallbackAfterSendMsg` events first (functions/engine/c2c-discovery.ts). */
  readonly fromCallbacks?: boolean | undefined;
  /**
   * `rescan.days`: the prints of messages archived within these days are kept in their pair's state
   * (functions/domain/c2c-revision.ts), for the rescan to compare with; 0 or absent keeps none.
   */
  readonly rescanDays?: number | undefined;
}

export interface C2cPassDeps {
  readonly roam: RoamApi;
  readonly store: ObjectStore;
  readonly clock: Clock;
  readonly logger: Logger;
  /** The API server's time (epoch ms): windows end at the server's now. */
  readonly serverNowMs: () => number;
  /** Run before every write: throws when the lease cannot be kept or the hard stop came. */
  readonly fence: () => Promise<void>;
  readonly signal: AbortSignal;
  readonly stop?: AbortSignal | undefined;
  /** The hourly `get_history` files (functions/domain/history-file.ts): fetched before the pull when given. */
  readonly historyFiles?: HistoryFilesApi | undefined;
  /** The run's media stage, when media copying is on: the rows' media are queued with their checkpoint (c2c-media.ts). */
  readonly media?: C2cMediaStage | undefined;
}

interface OpenShard {
  readonly index: number;
  readonly pairs: Map<string, C2cPairState>;
  readonly replaces: string | null;
  version: number;
  committedVersion: number;
  inFlight: number;
  exhausted: boolean;
}

interface Snapshot {
  readonly rows: { key: string; lines: string[] }[];
  readonly shards: { shard: OpenShard; version: number; key: string; body: Uint8Array }[];
  /** The media references of `rows`, as one queue object (c2c-media.ts). */
  readonly media: C2cMediaBatch | undefined;
}

const encoder = new TextEncoder();

/** Run the pass. @throws on a fatal error (nothing after the last checkpoint is claimed) */
export async function runC2cPass(deps: C2cPassDeps, options: C2cPassOptions): Promise<C2cReport> {
  const pass = new C2cPass(deps, options);
  return pass.run();
}

class C2cPass {
  private readonly report: C2cReport = emptyC2cReport();
  private readonly open = new Map<number, OpenShard>();
  private readonly configSet = new Set<string>();
  private readonly configByShard = new Map<number, SortedPair[]>();
  private state: C2cStateStore | undefined;
  private rows = new Map<string, string[]>();
  private bufferedBytes = 0;
  private part = 0;
  private shardPart = 0;
  private lastCheckpointMs: number;
  private checkpointing: Promise<void> | null = null;
  private failure: unknown;
  private allHandedOut = false;
  /** The feed waits for room: no pair can be handed out until a shard is dropped. */
  private roomBlocked = false;
  private waiters: (() => void)[] = [];
  /** The pass's request slots, and its API bounded by them (pulls and rescans alike). */
  private readonly requests: LimitFunction;
  private readonly roam: RoamApi;
  private readonly media: C2cMediaQueue | undefined;

  public constructor(
    private readonly deps: C2cPassDeps,
    private readonly options: C2cPassOptions,
  ) {
    this.lastCheckpointMs = deps.clock.now();
    this.requests = pLimit(Math.max(1, options.concurrency));
    this.roam = {
      getRoamMessages: (request, signal) => this.requests(() => deps.roam.getRoamMessages(request, signal)),
    };
    this.media = deps.media && new C2cMediaQueue(deps.media, deps.store);
  }

  public async run(): Promise<C2cReport> {
    const { deps, options } = this;
    const opened = await C2cStateStore.open(deps, options.sdkAppId, options.shards ?? DEFAULT_C2C_SHARDS);
    this.state = opened.state;
    this.report.rolledBackObjects = opened.rolledBack;
    if (options.fromCallbacks === true || deps.historyFiles !== undefined) await this.discover(opened.state);
    const shards = opened.state.head.shards;
    for (const pair of options.pairs) {
      const conversation = JSON.stringify(pair);
      this.configSet.add(conversation);
      const index = pairShard(conversation, shards);
      const list = this.configByShard.get(index) ?? [];
      list.push(pair);
      this.configByShard.set(index, list);
    }
    const feed = this.duePairs();
    const workers = Array.from({ length: Math.max(1, options.concurrency) }, () => this.worker(feed));
    await Promise.all(workers);
    await this.checkpointing;
    if (this.failure === undefined && !deps.signal.aborted) await this.checkpoint();
    await this.checkpointing;
    if (this.failure !== undefined) throw this.failure;
    deps.signal.throwIfAborted();
    this.report.done = this.allHandedOut && this.report.pairsLeftOpen === 0 && this.report.rescanLeft === 0;
    return this.report;
  }

  /** Pairs and their newest message times from the witnesses, committed before the pull. */
  private async discover(state: C2cStateStore): Promise<void> {
    const { deps, options, report } = this;
    const found = await discoverPairs(deps, state, {
      sdkAppId: options.sdkAppId,
      runId: options.runId,
      timeZone: options.timeZone,
      retentionDays: options.retentionDays,
      nextPart: () => this.shardPart++,
      fromCallbacks: options.fromCallbacks === true,
      historyFiles: deps.historyFiles,
    });
    report.callbackObjectsRead = found.callbackObjects;
    report.callbackSightings = found.sightings;
    report.pairsDiscovered = found.pairsDiscovered;
    report.pairsWitnessed = found.pairsWitnessed;
    report.historyHours = found.historyHours;
    report.historyFilesKept = found.historyFilesKept;
    report.historyFilesRejected = found.historyFilesRejected;
    report.historySightings = found.historySightings;
    report.historyMessagesIndexed = found.historyMessagesIndexed;
  }

  private stopped(): boolean {
    const { deps, options } = this;
    return (
      this.failure !== undefined ||
      deps.signal.aborted ||
      deps.stop?.aborted === true ||
      (options.deadlineMs !== null && deps.clock.now() >= options.deadlineMs)
    );
  }

  /** The pairs to pull, shard after shard; a shard is read when the workers reach it. */
  private async *duePairs(): AsyncGenerator<{ shard: OpenShard; conversation: string }> {
    const head = this.state?.head;
    if (!head) return;
    for (let index = 0; index < head.shards; index++) {
      if (this.stopped()) return;
      const key = head.shardKeys[index] ?? null;
      const configured = this.configByShard.get(index) ?? [];
      if (key === null && configured.length === 0) continue;
      await this.makeRoom();
      if (this.stopped()) return;
      const shard = await this.loadShard(index, key, configured);
      for (const [conversation, pair] of [...shard.pairs]) {
        if (!needsPull(pair, this.configSet.has(conversation)) && !needsRescan(pair, this.rescanStart()))
          continue;
        if (this.stopped()) return;
        shard.inFlight++;
        yield { shard, conversation };
      }
      shard.exhausted = true;
      if (shard.inFlight === 0 && shard.version === shard.committedVersion) this.open.delete(index);
    }
    this.allHandedOut = true;
  }

  /** Waits until fewer than `maxPairStates` pair states are held: pairs settle, checkpoints commit. */
  private async makeRoom(): Promise<void> {
    const bound = this.options.maxPairStates ?? DEFAULT_MAX_PAIR_STATES;
    for (;;) {
      this.dropSettledShards();
      let held = 0;
      for (const s of this.open.values()) held += s.pairs.size;
      if (this.open.size === 0 || held < bound || this.stopped()) return;
      if (this.checkpointing !== null) {
        await this.checkpointing;
      } else if ([...this.open.values()].some((s) => s.exhausted && s.inFlight === 0)) {
        await this.checkpoint();
      } else {
        this.roomBlocked = true;
        await new Promise<void>((resolve) => this.waiters.push(resolve));
        this.roomBlocked = false;
      }
    }
  }

  private async loadShard(index: number, key: string | null, configured: readonly SortedPair[]) {
    const stored = key === null ? [] : await (this.state as C2cStateStore).readShard(key);
    const pairs = new Map<string, C2cPairState>();
    for (const pair of stored) pairs.set(pairConversation(pair), pair);
    const shard: OpenShard = {
      index,
      pairs,
      replaces: key,
      version: 0,
      committedVersion: 0,
      inFlight: 0,
      exhausted: false,
    };
    for (const pair of configured) {
      const conversation = JSON.stringify(pair);
      if (pairs.has(conversation)) continue;
      pairs.set(conversation, newPairState(pair));
      shard.version++;
      this.report.pairsAdded++;
    }
    this.report.pairsKnown += pairs.size;
    this.open.set(index, shard);
    let loaded = 0;
    for (const s of this.open.values()) loaded += s.pairs.size;
    this.report.peakPairsLoaded = Math.max(this.report.peakPairsLoaded, loaded);
    return shard;
  }

  private async worker(feed: AsyncGenerator<{ shard: OpenShard; conversation: string }>): Promise<void> {
    for (;;) {
      let next: IteratorResult<{ shard: OpenShard; conversation: string }>;
      try {
        next = await feed.next();
      } catch (error) {
        this.failure ??= error;
        return;
      }
      if (next.done) return;
      const { shard, conversation } = next.value;
      try {
        const before = (shard.pairs.get(conversation) as C2cPairState).archivedTime;
        if (needsPull(shard.pairs.get(conversation) as C2cPairState, this.configSet.has(conversation))) {
          await pullPair(this.pullHost(), this.slot(shard, conversation), conversation);
        }
        await rescanPair(this.rescanHost(), this.slot(shard, conversation), before);
      } catch (error) {
        this.failure ??= error;
      } finally {
        shard.inFlight--;
      }
      for (const wake of this.waiters.splice(0)) wake();
      this.maybeCheckpoint();
    }
  }

  /** What a pull (functions/engine/c2c-pull.ts) needs of the pass. */
  private pullHost(): C2cPullHost {
    const { deps, options, report } = this;
    return {
      roam: this.roam,
      signal: deps.signal,
      report,
      retentionDays: options.retentionDays,
      nowSec: () => Math.floor(deps.serverNowMs() / 1000),
      stopped: () => this.stopped(),
      takePage: (before, page, outcome) => this.takePage(before, page, outcome),
      checkpointIfDue: () => {
        if (this.checkpointDue()) this.maybeCheckpoint();
      },
      idleSlots: () => this.idleSlots(),
      slots: this.requests.concurrency,
    };
  }

  /** A page's fresh rows into the buffer; the pair's next state with their prints. */
  private takePage(before: C2cPairState, page: RoamPage, outcome: PageOutcome): C2cPairState {
    return this.withPrints(outcome.next, this.addRows(before, page, outcome.fresh));
  }

  /**
   * Request slots no call waits for, once no pair is left to hand out (or none can be, until a
   * shard is dropped): a big pair's span may then be split to use them (functions/engine/c2c-pull.ts).
   */
  private idleSlots(): number {
    if (!this.allHandedOut && !this.roomBlocked) return 0;
    const used = this.requests.activeCount + this.requests.pendingCount;
    return Math.max(0, this.requests.concurrency - used);
  }

  /** The rescan window's start on the server's clock (epoch seconds), or null when the rescan is off. */
  private rescanStart(): number | null {
    const days = this.options.rescanDays ?? 0;
    return days > 0 ? Math.floor(this.deps.serverNowMs() / 1000) - days * 86_400 : null;
  }

  /** What the rescan (functions/engine/c2c-rescan.ts) needs of the pass. */
  private rescanHost(): C2cRescanHost {
    const { deps, options, report } = this;
    return {
      roam: this.roam,
      signal: deps.signal,
      sdkAppId: options.sdkAppId,
      observedAtSec: options.observedAtSec,
      report,
      rescanStart: () => this.rescanStart(),
      deletionFloor: () => Math.floor(deps.serverNowMs() / 1000) - options.retentionDays * 86_400 + 3_600,
      stopped: () => this.stopped(),
      bufferRow: (line, time) => {
        this.bufferRow(line, time);
        this.media?.addLine(line);
      },
      checkpointIfDue: () => this.maybeCheckpoint(),
    };
  }

  /** A pair's state in its open shard; replacing it counts a change of the shard. */
  private slot(shard: OpenShard, conversation: string): C2cPairSlot {
    return {
      get: () => shard.pairs.get(conversation) as C2cPairState,
      set: (next) => {
        shard.pairs.set(conversation, next);
        shard.version++;
      },
    };
  }

  /** The pair's prints with `added`, those older than the rescan window dropped (none kept without a rescan). */
  private withPrints(pair: C2cPairState, added: readonly C2cPrint[]): C2cPairState {
    const days = this.options.rescanDays ?? 0;
    if (days <= 0) return pair.prints === undefined ? pair : { ...pair, prints: undefined };
    const windowStart = Math.floor(this.deps.serverNowMs() / 1000) - days * 86_400;
    return { ...pair, prints: prunePrints(pair.prints ?? [], added, windowStart) };
  }

  /** Buffers one row's line under its date. */
  private bufferRow(line: string, time: number): void {
    const dt = dateInZone(time, this.options.timeZone);
    const lines = this.rows.get(dt) ?? [];
    lines.push(line);
    this.rows.set(dt, lines);
    this.bufferedBytes += line.length + 1;
  }

  /** Adds a page's fresh rows and quarantined items to the buffer; returns the fresh rows' prints. */
  private addRows(pair: C2cPairState, page: RoamPage, fresh: RoamPage['messages']): C2cPrint[] {
    const { options } = this;
    const ctx = {
      sdkAppId: options.sdkAppId,
      accounts: [pair.a, pair.b] as const,
      source: 'roam' as const,
      observedAt: options.observedAtSec,
    };
    const add = (line: string, time: number): void => this.bufferRow(line, time);
    const prints: C2cPrint[] = [];
    for (const m of fresh) {
      const record = toC2cRecord(m, ctx);
      add(serializeC2cRecord(record), record.msg_time);
      this.media?.add(record);
      const print = c2cPrintOf(record);
      if (print !== undefined) prints.push(print);
      this.report.messages++;
      if (record.msg_flag_bits === 8) this.report.recalled++;
    }
    const fallbackTime = page.lastMsgTime > 0 ? page.lastMsgTime : (pair.window?.cursorTime ?? 0);
    for (const item of page.rejected ?? []) {
      const record = toQuarantinedC2cRecord(item, { ...ctx, fallbackTime });
      add(serializeC2cRecord(record), record.msg_time);
      this.report.quarantined++;
    }
    return prints;
  }

  private checkpointDue(): boolean {
    const { options, deps } = this;
    const shardDone = [...this.open.values()].some((s) => s.exhausted && s.inFlight === 0);
    return (
      shardDone ||
      this.bufferedBytes >= options.flushBytes ||
      deps.clock.now() - this.lastCheckpointMs >= options.checkpointIntervalMs
    );
  }

  /** Starts a checkpoint when one is due and none is being written. */
  private maybeCheckpoint(): void {
    if (this.checkpointing !== null || this.failure !== undefined || !this.checkpointDue()) return;
    void this.checkpoint();
  }

  private checkpoint(): Promise<void> {
    const snapshot = this.snapshot();
    this.lastCheckpointMs = this.deps.clock.now();
    if (snapshot.rows.length === 0 && snapshot.shards.length === 0) {
      this.dropSettledShards();
      return Promise.resolve();
    }
    const writing = this.writeSnapshot(snapshot).then(
      () => {
        this.checkpointing = null;
        this.dropSettledShards();
      },
      (error: unknown) => {
        this.checkpointing = null;
        this.failure ??= error;
      },
    );
    this.checkpointing = writing;
    return writing;
  }

  /** The rows settled so far and the shards whose pairs changed: one synchronous step. */
  private snapshot(): Snapshot {
    const { options } = this;
    const rows = [...this.rows.entries()]
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([dt, lines]) => ({
        key: c2cObjectKey({ sdkAppId: options.sdkAppId, dt, runId: options.runId, part: this.part++ }),
        lines,
      }));
    this.rows = new Map();
    this.bufferedBytes = 0;
    const shards: Snapshot['shards'] = [];
    for (const shard of this.open.values()) {
      if (shard.version === shard.committedVersion) continue;
      const key = c2cShardKey({
        sdkAppId: options.sdkAppId,
        shard: shard.index,
        runId: options.runId,
        part: this.shardPart++,
      });
      shards.push({
        shard,
        version: shard.version,
        key,
        body: encoder.encode(serializeShard(shard.pairs.values())),
      });
    }
    return { rows, shards, media: this.media?.detach() };
  }

  /** Intent → row objects → shard objects → head (intent cleared) → replaced shards deleted. */
  private async writeSnapshot(snapshot: Snapshot): Promise<void> {
    const state = this.state as C2cStateStore;
    const { options, report } = this;
    const { media } = snapshot;
    const objects = [
      ...snapshot.rows.map((r) => r.key),
      ...(media ? [media.key] : []),
      ...snapshot.shards.map((s) => s.key),
    ];
    await state.write({ ...state.head, pending: { runId: options.runId, objects } });
    for (const row of snapshot.rows) {
      const body = await gzipNdjson(row.lines);
      await state.create(row.key, body, 'application/x-ndjson');
      report.objectsWritten++;
      report.bytesWritten += body.byteLength;
    }
    if (media) await this.media?.write(media, this.deps.fence);
    for (const s of snapshot.shards) await state.create(s.key, s.body, 'application/x-ndjson');
    const shardKeys = [...state.head.shardKeys];
    const replaced: string[] = [];
    for (const s of snapshot.shards) {
      const old = shardKeys[s.shard.index];
      if (old) replaced.push(old);
      shardKeys[s.shard.index] = s.key;
    }
    await state.write({ ...state.head, shardKeys, pending: null });
    for (const s of snapshot.shards) s.shard.committedVersion = s.version;
    if (media) {
      this.media?.committed(media);
      report.mediaReferences += media.count;
    }
    report.checkpoints++;
    report.stateBytesWritten += snapshot.shards.reduce((n, s) => n + s.body.byteLength, 0);
    await state.deleteReplaced(replaced, this.deps.logger);
  }

  /** Forget the shards whose pairs are all handed out, settled and committed. */
  private dropSettledShards(): void {
    for (const [index, shard] of this.open) {
      if (shard.exhausted && shard.inFlight === 0 && shard.version === shard.committedVersion) {
        this.open.delete(index);
      }
    }
  }
}

/** What the run passes the pass (functions/engine/run-archive.ts): the app's `c2c` config, resolved. */
export interface C2cRunOptions {
  /** The pairs the config names, sorted and once each (`configPairs`). */
  readonly pairs: readonly SortedPair[];
  readonly concurrency: number;
  /** Pair states held at once (tests, the state bench); default DEFAULT_MAX_PAIR_STATES. */
  readonly maxPairStates?: number | undefined;
  /** Shards of a new state (tests); default DEFAULT_C2C_SHARDS. */
  readonly shards?: number | undefined;
  /** `c2c.fromCallbacks`: pairs from the recorded one-to-one send callbacks. */
  readonly fromCallbacks?: boolean | undefined;
  /** `rescan.days`: how long the archived messages' prints are kept (C2cPassOptions.rescanDays). */
  readonly rescanDays?: number | undefined;
}

/** The pass within a run: after the group paging, on the run's lease, deadline and stops. */
export async function c2cForRun(
  deps: {
    readonly roam?: RoamApi | undefined;
    readonly store: ObjectStore;
    readonly clock: Clock;
    readonly logger: Logger;
    readonly api: { serverNowMs(): number };
    /** The hourly files' API, when the composition gives one (functions/domain/history-file.ts). */
    readonly historyFiles?: HistoryFilesApi | undefined;
  },
  options: Omit<C2cPassOptions, 'pairs' | 'concurrency' | 'shards' | 'observedAtSec' | 'retentionDays'> & {
    readonly c2c: C2cRunOptions;
    /** The plan's retention (the oldest a window reaches back); unknown: 7 days, the config's default. */
    readonly retentionDays?: number | null | undefined;
  },
  run: Pick<C2cPassDeps, 'fence' | 'signal' | 'stop' | 'media'> & { observedAtSec: number },
): Promise<C2cReport> {
  const { roam, store, clock, logger, api, historyFiles } = deps;
  if (!roam) throw new ArchiverError('one-to-one history is configured but no RoamApi was composed');
  return runC2cPass(
    { roam, store, clock, logger, serverNowMs: () => api.serverNowMs(), historyFiles, ...run },
    {
      ...options,
      ...options.c2c,
      retentionDays: options.retentionDays ?? 7,
      observedAtSec: run.observedAtSec,
    },
  );
}
