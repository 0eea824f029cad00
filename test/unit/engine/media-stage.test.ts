/**
 * The media stage (functions/engine/media-stage.ts) with a fake MediaFetcher and a memory store:
 * a file is stored once however many references point at it, a refusal is recorded without a
 * download, a failed download is queued for the next run and copied there, and each batch is
 * committed through the ledger (intent, objects, source deleted, commit), and with a byte budget
 * (functions/engine/media-budget.ts) the temp files never add up to more than it. No network, no disk.
 */
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { ByteBudget } from '../../../functions/domain/byte-budget.ts';
import {
  type MediaManifestRow,
  type MediaQueueEntry,
  mediaLedgerKey,
  mediaObjectKey,
  mediaQueuePrefix,
  parseManifestRow,
  parseQueueEntry,
  serializeQueueEntry,
} from '../../../functions/domain/media-manifest.ts';
import type { MediaRef } from '../../../functions/domain/media-refs.ts';
import { gzipNdjson } from '../../../functions/domain/ndjson-gzip.ts';
import type { MediaFetcher, MediaFetchResult } from '../../../functions/domain/ports.ts';
import { withByteBudget } from '../../../functions/engine/media-budget.ts';
import { MediaStage, type MediaStageOptions } from '../../../functions/engine/media-stage.ts';
import { StateKeeper } from '../../../functions/engine/state-keeper.ts';
import { FakeClock, MemoryStore, silentLogger } from '../../helpers/engine-fakes.ts';

const APP = 1400000003;
/** Message times: 2025-12-31, a day before the fake clock's start. */
const T0 = Date.UTC(2025, 11, 31) / 1000;

/** What the fake fetcher answers for a URL: the file's bytes, or a failure. */
type Answer = string | { status: 'failed' | 'expired'; reason: string; attempts: number };

/** A MediaFetcher over a table of URL → answer; refuses the hosts in `refusedHosts`. */
class TableFetcher implements MediaFetcher {
  public readonly downloads: string[] = [];

  public constructor(
    private readonly answers: Record<string, Answer>,
    private readonly refusedHosts: readonly string[] = [],
  ) {}

  public refusal(ref: MediaRef): string | undefined {
    const host = new URL(ref.url ?? 'https://none.invalid/').host;
    return this.refusedHosts.includes(host) ? `host ${host} is not allowed` : undefined;
  }

  public async download(ref: MediaRef): Promise<MediaFetchResult> {
    const url = ref.url ?? '';
    this.downloads.push(url);
    const answer = this.answers[url];
    if (answer === undefined) throw new Error(`no answer scripted for ${url}`);
    if (typeof answer !== 'string') return answer;
    const bytes = Buffer.from(answer);
    return {
      status: 'archived',
      sha256: sha256(answer),
      bytes: bytes.byteLength,
      contentType: 'image/png',
      reason: null,
      attempts: 1,
      open: () => Readable.from([bytes]),
      dispose: async () => undefined,
    };
  }
}

/**
 * A MediaFetcher whose temp files are `declaredSize` bytes (`maxBytes` when none is declared): it
 * counts the bytes of the files that exist, from the start of a download to its `dispose`, and
 * keeps each download going for a few turns of the event loop so that many overlap.
 */
class SizedFetcher implements MediaFetcher {
  public inFlight = 0;
  public peak = 0;
  public started = 0;

  public constructor(private readonly maxBytes: number) {}

  public refusal(): string | undefined {
    return undefined;
  }

  public async download(ref: MediaRef): Promise<MediaFetchResult> {
    const bytes = ref.declaredSize ?? this.maxBytes;
    this.inFlight += bytes;
    this.peak = Math.max(this.peak, this.inFlight);
    const turns = (this.started++ % 5) + 1;
    for (let n = 0; n < turns; n++) await new Promise<void>((resolve) => setImmediate(resolve));
    const body = Buffer.alloc(bytes, ref.msgSeq % 251);
    body.write(`${ref.msgSeq}:`);
    return {
      status: 'archived',
      sha256: createHash('sha256').update(body).digest('hex'),
      bytes,
      contentType: 'application/octet-stream',
      reason: null,
      attempts: 1,
      open: () => Readable.from([body]),
      dispose: async () => {
        this.inFlight -= bytes;
      },
    };
  }
}

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

function ref(msgSeq: number, url: string | null): MediaRef {
  return {
    sdkAppId: APP,
    groupId: 'g1',
    topicId: null,
    msgSeq,
    msgTime: T0 + msgSeq,
    elementPath: '0',
    sizeClass: 'original',
    kind: 'image',
    uuid: null,
    url,
    declaredSize: null,
    fileName: null,
    format: null,
  };
}

function entry(r: MediaRef): MediaQueueEntry {
  return { ref: r, attempts: 0, lastError: null };
}

const OPTIONS: Omit<MediaStageOptions, 'runId'> = {
  sdkAppId: APP,
  timeZone: 'UTC',
  concurrency: 4,
  imageSizes: ['original'],
  retentionDays: 7,
  headroomDays: 2,
  deadlineMs: null,
  leaseMs: 120_000,
  renewEveryMs: 60_000,
};

interface Run {
  stage: MediaStage;
  keeper: StateKeeper;
}

/** How one run's media stage is opened. */
interface StageSetup {
  runId: string;
  /** The API server's clock (epoch ms); default the fake clock. */
  serverNowMs?: () => number;
  /** Downloads at once; default 4. */
  concurrency?: number;
}

/** Opens a run's media stage (its keeper takes the lease) over `store`. */
async function openStage(store: MemoryStore, fetcher: MediaFetcher, setup: StageSetup): Promise<Run> {
  const clock = new FakeClock();
  const keeper = await StateKeeper.open({
    store,
    sdkAppId: APP,
    runId: setup.runId,
    clock,
    logger: silentLogger,
    leaseMs: OPTIONS.leaseMs,
  });
  const serverNowMs = setup.serverNowMs;
  const stage = await MediaStage.open(
    { fetcher, store, clock, logger: silentLogger, ...(serverNowMs ? { serverNowMs } : {}) },
    { ...OPTIONS, runId: setup.runId, concurrency: setup.concurrency ?? OPTIONS.concurrency },
    keeper,
  );
  return { stage, keeper };
}

/** Hands `entries` to the stage as a committed message checkpoint would (queue object written first). */
async function enqueue(store: MemoryStore, stage: MediaStage, entries: MediaQueueEntry[]): Promise<string> {
  const key = stage.nextQueueKey();
  store.seed(key, await gzipNdjson(entries.map(serializeQueueEntry)));
  stage.enqueue(key, entries);
  return key;
}

/** Every manifest row stored, by message seq. */
async function manifestRows(store: MemoryStore): Promise<MediaManifestRow[]> {
  const rows: MediaManifestRow[] = [];
  for (const key of store.keys('media-manifest/')) {
    const object = await store.get(key);
    const text = gunzipSync(object?.body ?? new Uint8Array()).toString('utf8');
    for (const line of text.split('\n')) if (line !== '') rows.push(parseManifestRow(line));
  }
  return rows.sort((a, b) => a.msg_seq - b.msg_seq);
}

/** The entries of every queue object left for a later run. */
async function queued(store: MemoryStore): Promise<MediaQueueEntry[]> {
  const entries: MediaQueueEntry[] = [];
  for (const key of store.keys(mediaQueuePrefix(APP))) {
    const object = await store.get(key);
    const text = gunzipSync(object?.body ?? new Uint8Array()).toString('utf8');
    for (const line of text.split('\n')) if (line !== '') entries.push(parseQueueEntry(line));
  }
  return entries;
}

describe('MediaStage', () => {
  it('stores a file once for every reference to it, with one manifest row per reference', async () => {
    const store = new MemoryStore();
    const fetcher = new TableFetcher({
      'https://cdn.test/a.png': 'picture A',
      'https://cdn.test/b.png': 'B',
    });
    // One download at a time: the second reference to A finds it stored.
    const { stage, keeper } = await openStage(store, fetcher, { runId: 'run-a', concurrency: 1 });

    const source = await enqueue(store, stage, [
      entry(ref(1, 'https://cdn.test/a.png')),
      entry(ref(2, 'https://cdn.test/a.png')),
      entry(ref(3, 'https://cdn.test/b.png')),
    ]);
    const report = await stage.finish();
    await keeper.release();

    // Every reference is downloaded, but each distinct content is written once.
    expect(fetcher.downloads).toHaveLength(3);
    const mediaWrites = store.calls.filter((c) => c.op === 'putStream');
    expect(mediaWrites.map((c) => c.key).sort()).toEqual(
      [mediaObjectKey(sha256('picture A')), mediaObjectKey(sha256('B'))].sort(),
    );
    expect(store.text(mediaObjectKey(sha256('picture A')))).toBe('picture A');
    expect(report).toMatchObject({ references: 3, archived: 3, deduplicated: 1, bytes: 19, storedBytes: 10 });
    const rows = await manifestRows(store);
    expect(rows.map((r) => [r.msg_seq, r.status, r.sha256, r.object_key])).toEqual([
      [1, 'archived', sha256('picture A'), mediaObjectKey(sha256('picture A'))],
      [2, 'archived', sha256('picture A'), mediaObjectKey(sha256('picture A'))],
      [3, 'archived', sha256('B'), mediaObjectKey(sha256('B'))],
    ]);
    // The batch's queue object is consumed: nothing is left for a later run.
    expect(store.text(source)).toBeUndefined();
    expect(await queued(store)).toEqual([]);
  });

  it('records a refused reference without downloading it, and a reference without URL as no_url', async () => {
    const store = new MemoryStore();
    const fetcher = new TableFetcher({ 'https://cdn.test/ok.png': 'ok' }, ['evil.test']);
    const { stage, keeper } = await openStage(store, fetcher, { runId: 'run-a' });

    await enqueue(store, stage, [
      entry(ref(1, 'https://evil.test/x.png')),
      entry(ref(2, 'https://cdn.test/ok.png')),
      entry(ref(3, null)),
    ]);
    const report = await stage.finish();
    await keeper.release();

    expect(fetcher.downloads).toEqual(['https://cdn.test/ok.png']);
    expect(report).toMatchObject({ refused: 1, archived: 1, noUrl: 1 });
    const rows = await manifestRows(store);
    expect(rows.map((r) => [r.msg_seq, r.status, r.reason])).toEqual([
      [1, 'refused', 'host evil.test is not allowed'],
      [2, 'archived', null],
      [3, 'no_url', expect.stringContaining('carries no download URL')],
    ]);
  });

  it('queues a failed download for the next run, which copies it and counts every attempt', async () => {
    const store = new MemoryStore();
    const url = 'https://cdn.test/flaky.png';
    const failing = new TableFetcher({ [url]: { status: 'failed', reason: 'HTTP 503', attempts: 3 } });
    const first = await openStage(store, failing, { runId: 'run-a' });

    await enqueue(store, first.stage, [entry(ref(1, url))]);
    const firstReport = await first.stage.finish();
    await first.keeper.release();

    // Still inside retention: no manifest row, the reference waits in a queue object.
    expect(firstReport).toMatchObject({ retrying: 1, pending: 1, failed: 0, archived: 0 });
    expect(await manifestRows(store)).toEqual([]);
    expect(await queued(store)).toEqual([{ ref: ref(1, url), attempts: 3, lastError: 'HTTP 503' }]);

    // The next run picks the queue object up at open and copies the file.
    const working = new TableFetcher({ [url]: 'at last' });
    const second = await openStage(store, working, { runId: 'run-b' });
    const secondReport = await second.stage.finish();
    await second.keeper.release();

    expect(secondReport).toMatchObject({ queuedFromEarlierRuns: 1, archived: 1, pending: 0 });
    expect(working.downloads).toEqual([url]);
    const rows = await manifestRows(store);
    expect(rows.map((r) => [r.msg_seq, r.status, r.attempts])).toEqual([[1, 'archived', 4]]);
    expect(await queued(store)).toEqual([]);
  });

  it('records a download that failed after its message left retention as failed, for good', async () => {
    const store = new MemoryStore();
    const url = 'https://cdn.test/old.png';
    const fetcher = new TableFetcher({ [url]: { status: 'failed', reason: 'HTTP 503', attempts: 2 } });
    // The server's clock is past the message's 7 days of retention.
    const { stage, keeper } = await openStage(store, fetcher, {
      runId: 'run-a',
      serverNowMs: () => (T0 + 8 * 86_400) * 1000,
    });

    await enqueue(store, stage, [entry(ref(1, url))]);
    const report = await stage.finish();
    await keeper.release();

    expect(report).toMatchObject({ failed: 1, retrying: 0, pending: 0 });
    expect((await manifestRows(store)).map((r) => [r.status, r.reason, r.attempts])).toEqual([
      ['failed', 'HTTP 503', 2],
    ]);
    expect(await queued(store)).toEqual([]);
  });

  it('commits a batch through the ledger: intent, objects, source deleted, then the intent cleared', async () => {
    const store = new MemoryStore();
    const url = 'https://cdn.test/a.png';
    const fetcher = new TableFetcher({
      [url]: 'A',
      'https://cdn.test/b.png': { status: 'failed', reason: 'timeout', attempts: 1 },
    });
    const { stage, keeper } = await openStage(store, fetcher, { runId: 'run-a' });
    const ledgerKey = mediaLedgerKey(APP);

    const source = await enqueue(store, stage, [entry(ref(1, url)), entry(ref(2, 'https://cdn.test/b.png'))]);
    const report = await stage.finish();
    await keeper.release();

    // The writes of the checkpoint, in order (media bytes and the state head left out).
    const steps = store.calls
      .filter(
        (c) =>
          c.key === ledgerKey ||
          c.key === source ||
          c.key.startsWith('media-manifest/') ||
          c.key.startsWith(mediaQueuePrefix(APP)),
      )
      .filter((c) => c.op === 'put' || c.op === 'delete')
      .map(
        (c) =>
          `${c.op} ${c.key === ledgerKey ? 'ledger' : c.key === source ? 'source' : c.key.startsWith('media-manifest/') ? 'manifest' : 'remainder'}`,
      );
    expect(steps).toEqual(['put ledger', 'put manifest', 'put remainder', 'delete source', 'put ledger']);
    // The intent named exactly the objects written, and the ledger ends empty.
    expect(JSON.parse(store.text(ledgerKey) ?? '')).toEqual({ version: 1, pending: [] });
    expect(report).toMatchObject({ checkpoints: 1, manifestObjects: 1, archived: 1, retrying: 1 });
    const remainder = store.keys(mediaQueuePrefix(APP));
    expect(remainder).toHaveLength(1);
    expect(remainder[0]).not.toBe(source);
  });

  it('keeps the temp files within the byte budget at every moment, files of mixed sizes, and copies them all', async () => {
    const store = new MemoryStore();
    const maxBytes = 4_000;
    const budget = 10_000;
    const fetcher = new SizedFetcher(maxBytes);
    // Eight downloads at once could hold 8 x 4,000 bytes; the budget allows 10,000.
    const { stage, keeper } = await openStage(
      store,
      withByteBudget(fetcher, new ByteBudget(budget), maxBytes),
      {
        runId: 'run-a',
        concurrency: 8,
      },
    );
    const sizes = [3_900, 120, 2_500, null, 40, 3_000, 800, 4_000, 1, 1_700];
    const refs = Array.from({ length: 60 }, (_, i) => ({
      ...ref(i + 1, `https://cdn.test/f${i + 1}.bin`),
      kind: 'file' as const,
      declaredSize: sizes[i % sizes.length] ?? null,
    }));
    for (let at = 0; at < refs.length; at += 15) {
      await enqueue(store, stage, refs.slice(at, at + 15).map(entry));
    }
    const report = await stage.finish();
    await keeper.release();

    expect(fetcher.peak).toBeLessThanOrEqual(budget);
    // The budget, not the concurrency, was the bound: it was nearly full at times.
    expect(fetcher.peak).toBeGreaterThan(budget - maxBytes);
    expect(fetcher.inFlight).toBe(0);
    expect(report).toMatchObject({ references: 60, archived: 60, pending: 0, errors: 0 });
    expect((await manifestRows(store)).map((r) => r.status)).toEqual(Array(60).fill('archived'));
  });

  it('leaves a download waiting for its bytes to the next run when the stage stops', async () => {
    const store = new MemoryStore();
    const release: (() => void)[] = [];
    /** Holds every download until the test lets it go. */
    const held: MediaFetcher = {
      refusal: () => undefined,
      download: async (r) => {
        await new Promise<void>((resolve) => release.push(resolve));
        return { status: 'failed', reason: `held ${r.msgSeq}`, attempts: 1 };
      },
    };
    const budget = new ByteBudget(1_000);
    const { stage, keeper } = await openStage(store, withByteBudget(held, budget, 1_000), {
      runId: 'run-a',
      concurrency: 4,
    });
    const sized = (seq: number) => ({ ...ref(seq, `https://cdn.test/${seq}.bin`), declaredSize: 600 });
    await enqueue(store, stage, [entry(sized(1)), entry(sized(2))]);
    await new Promise<void>((resolve) => setImmediate(resolve));
    // The first download holds 600 bytes; the second waits for its 600.
    expect([budget.inUse, budget.waiting, release.length]).toEqual([600, 1, 1]);

    stage.close();
    for (const go of release) go();
    const report = await stage.finish().catch(() => stage.report);
    await keeper.release();
    expect([budget.inUse, budget.waiting, release.length]).toEqual([0, 0, 1]);
    expect(report.archived).toBe(0);
  });
});
