/**
 * The identity capture's commits (issue 24, docs/names.md "Exactly once"), in slices (issue 23):
 * observed rows are buffered and, every {@link SLICE_ROWS} rows, compared with the shards they fall
 * in and committed as one version (intent → rows objects and shards → head), so the rows, the
 * changes and the intent's text never hold more than a slice, while paging as after it. The last
 * slice carries the run's pending work and roll-call cursor; the others carry the head's as it was.
 *
 * Exactly once: each slice is its own version, written first whole as an intent (create-only),
 * then applied; a run finds an intent for the version after its head's and applies it before
 * anything else. A kill between two slices leaves the first committed and the second not made: the
 * next run looks its items up again (they are still pending or seen again) and, compared with the
 * shards the first slice updated, writes only what changed. Slices are committed one at a time, so
 * each compares with the shards the previous one wrote. Every write is fenced by the run's lease.
 */
import pLimit from 'p-limit';
import { PreconditionFailedError, StateCorruptError } from '../domain/errors.ts';
import {
  changedRows,
  emptyIdentityHead,
  type IdentityCommit,
  type IdentityWork,
  identityHeadKey,
  identityIntentKey,
  identityRowsKey,
  identityShardKey,
  parseIdentityCommit,
  parseIdentityHead,
  parseShard,
  serializeShard,
  shardOf,
} from '../domain/identity-capture.ts';
import { IDENTITY_KINDS, type IdentityKind, type IdentityRow, identityKey } from '../domain/identity-rows.ts';
import { gzipNdjson } from '../domain/ndjson-gzip.ts';
import { dateInZone } from '../domain/partition.ts';
import type { Logger } from '../domain/ports.ts';
import type { ObjectStore } from '../domain/storage.ts';

/**
 * Observed rows compared and committed at a time (one intent each). A slice costs about 1 KB of
 * heap a row while it is compared and committed (its rows, keys, changes, the intent's text and
 * bytes, the rows object's lines): 20,000 raised the 50,000-group run's peak by about 30 MB
 * (docs/benchmarks.md "Memory on busy apps"); each slice also rereads and rewrites its shards.
 */
export const SLICE_ROWS = 10_000;

/** Shard objects read or written at once (one shard is under 1 MB for a million keys). */
const SHARDS_IN_FLIGHT = 16;

type PerKind = Record<IdentityKind, number>;
type RowsPerKind = { [K in IdentityKind]: IdentityRow[] };

/** A commit without its pending work, which is kept as the JSON text it is stored as. */
type SliceCommit = Omit<IdentityCommit, 'pending'>;

/** What the commits need: where to write, fenced by the run's lease. */
export interface CommitContext {
  store: ObjectStore;
  logger: Logger;
  /** Checks the lease (and the hard stop) right before a write. */
  fence: () => Promise<void>;
  sdkAppId: number;
  timeZone: string;
  /** `observed_at` of the rows (the run's): gives the rows objects' `dt`. */
  observedAt: number;
}

/** What the commits wrote, for the report. */
export interface CommitCounts {
  /** Rows written per kind. */
  rows: PerKind;
  /** Of those, rows of a key the archive had no row for. */
  firstRows: number;
  /** Whether a killed run's commit was finished first. */
  rolledForward: boolean;
}

const noRowsPerKind = (): RowsPerKind => ({ users: [], groups: [], members: [] });

/** The committed head as the commits keep it: its pending work as JSON text. */
interface HeadState {
  version: number;
  pendingText: string;
  rollCall: number;
}

export class IdentityCommits {
  private opened: Promise<HeadState> | undefined;
  private buffer = noRowsPerKind();
  private buffered = 0;
  /** The last commit (or open), which the next one waits for. */
  private tail: Promise<unknown> = Promise.resolve();
  public readonly counts: CommitCounts = {
    rows: { users: 0, groups: 0, members: 0 },
    firstRows: 0,
    rolledForward: false,
  };

  public constructor(
    private readonly ctx: CommitContext,
    sliceRows?: number | undefined,
  ) {
    this.sliceRows = sliceRows ?? SLICE_ROWS;
  }

  private readonly sliceRows: number;

  /** The head, after finishing a commit a killed run left (read once). */
  private open(): Promise<HeadState> {
    this.opened ??= openIdentityState(this.ctx).then(({ head, rolledForward }) => {
      this.counts.rolledForward = rolledForward;
      return head;
    });
    return this.opened;
  }

  /** The committed pending work and roll-call cursor (parsed from its text when asked). */
  public async head(): Promise<{ pending: IdentityWork; rollCall: number }> {
    const head = await this.open();
    const pending = parseIdentityHead(
      `{"version":0,"pending":${head.pendingText}}`,
      identityHeadKey(this.ctx.sdkAppId),
    ).pending;
    return { pending, rollCall: head.rollCall };
  }

  /**
   * Adds observed rows of one kind; once a slice is full, commits it before resolving (the caller,
   * a lookup, waits: the lookups go at the commits' pace, and the buffer stays about a slice).
   */
  public async add(kind: IdentityKind, rows: readonly IdentityRow[]): Promise<void> {
    for (const row of rows) this.buffer[kind].push(row);
    this.buffered += rows.length;
    while (this.buffered >= this.sliceRows)
      await this.serial(() => (this.buffered >= this.sliceRows ? this.commitSlice() : Promise.resolve()));
  }

  /**
   * Commits what is buffered, a slice at a time, the last with the run's pending work and roll-call
   * cursor (a commit without rows when only those changed).
   */
  public finish(pending: IdentityWork, rollCall: number): Promise<void> {
    return this.serial(async () => {
      const head = await this.open();
      const end = { pendingText: JSON.stringify(pending), rollCall };
      while (this.buffered > this.sliceRows) await this.commitSlice();
      const headChanged = end.rollCall !== head.rollCall || end.pendingText !== head.pendingText;
      await this.commitSlice(headChanged ? end : undefined);
    });
  }

  private serial(step: () => Promise<void>): Promise<void> {
    const next = this.tail.then(step);
    this.tail = next.catch(() => undefined);
    return next;
  }

  /** The first slice of the buffer, compared and committed; with `end`, the head it leaves. */
  private async commitSlice(end?: { pendingText: string; rollCall: number }): Promise<void> {
    const head = await this.open();
    const slice = noRowsPerKind();
    let room = this.sliceRows;
    for (const kind of IDENTITY_KINDS) {
      const taken = this.buffer[kind].splice(0, room);
      slice[kind] = taken;
      room -= taken.length;
      this.buffered -= taken.length;
    }
    const commit = await diff(this.ctx, slice, head.version + 1, this.counts);
    const anyRows = IDENTITY_KINDS.some((kind) => commit.rows[kind].length > 0);
    if (!anyRows && end === undefined) return;
    const next: HeadState = {
      version: commit.version,
      pendingText: end?.pendingText ?? head.pendingText,
      rollCall: end?.rollCall ?? head.rollCall,
    };
    commit.rollCall = next.rollCall;
    await writeIntent(this.ctx, commit, next.pendingText);
    await applyCommit(this.ctx, commit, next.pendingText);
    for (const kind of IDENTITY_KINDS) this.counts.rows[kind] += commit.rows[kind].length;
    this.opened = Promise.resolve(next);
  }
}

/** Compares a slice's rows with the shards they fall in (16 shards read at a time, the kinds sharing them). */
async function diff(
  ctx: CommitContext,
  slice: RowsPerKind,
  version: number,
  counts: CommitCounts,
): Promise<SliceCommit> {
  const commit: SliceCommit = {
    version,
    dt: dateInZone(ctx.observedAt, ctx.timeZone),
    rows: noRowsPerKind(),
    shards: { users: {}, groups: {}, members: {} },
    rollCall: 0,
  };
  const shardIo = pLimit(SHARDS_IN_FLIGHT);
  const diffKind = async (kind: IdentityKind): Promise<void> => {
    const byShard = new Map<string, IdentityRow[]>();
    for (const row of slice[kind]) {
      const shard = shardOf(identityKey(kind, row));
      const list = byShard.get(shard) ?? [];
      list.push(row);
      byShard.set(shard, list);
    }
    await Promise.all(
      [...byShard.keys()].map((shard) =>
        shardIo(async () => {
          const hashes = await readShard(ctx, kind, shard);
          const { rows, changes, firstRows } = changedRows(kind, byShard.get(shard) ?? [], hashes);
          counts.firstRows += firstRows;
          if (rows.length === 0) return;
          for (const row of rows) commit.rows[kind].push(row);
          commit.shards[kind][shard] = changes;
        }),
      ),
    );
    // In key order, whatever the shards' order: the same rows give the same object.
    const keyed = commit.rows[kind].map((row) => [identityKey(kind, row), row] as const);
    keyed.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
    commit.rows[kind] = keyed.map(([, row]) => row);
  };
  await Promise.all(IDENTITY_KINDS.map(diffKind));
  return commit;
}

async function readShard(ctx: CommitContext, kind: IdentityKind, shard: string) {
  const key = identityShardKey(ctx.sdkAppId, kind, shard);
  const object = await ctx.store.get(key);
  return object === undefined ? new Map<string, string>() : parseShard(decode(object.body), key);
}

const decode = (body: Uint8Array): string => new TextDecoder().decode(body);
const encode = (text: string): Uint8Array => new TextEncoder().encode(text);

/** The head, after finishing a commit a killed run left (its intent for the next version). */
async function openIdentityState(ctx: CommitContext): Promise<{ head: HeadState; rolledForward: boolean }> {
  const headKey = identityHeadKey(ctx.sdkAppId);
  const stored = await ctx.store.get(headKey);
  const read = stored === undefined ? emptyIdentityHead() : parseIdentityHead(decode(stored.body), headKey);
  const head = { version: read.version, pendingText: JSON.stringify(read.pending), rollCall: read.rollCall };
  const intentKey = identityIntentKey(ctx.sdkAppId, head.version + 1);
  const intent = await ctx.store.get(intentKey);
  if (intent === undefined) {
    // A run killed after its head and before deleting its intent left it: done, only tidied here.
    const done = head.version > 0 ? identityIntentKey(ctx.sdkAppId, head.version) : undefined;
    if (done !== undefined && (await ctx.store.get(done)) !== undefined) {
      await ctx.fence();
      await ctx.store.delete(done);
    }
    return { head, rolledForward: false };
  }
  const commit = parseIdentityCommit(decode(intent.body), intentKey);
  if (commit.version !== head.version + 1)
    throw new StateCorruptError(`${intentKey}: holds version ${commit.version}, not ${head.version + 1}`);
  ctx.logger.info('finishing the identity commit a stopped run left', { version: commit.version });
  const pendingText = JSON.stringify(commit.pending);
  await applyCommit(ctx, commit, pendingText);
  return { head: { version: commit.version, pendingText, rollCall: commit.rollCall }, rolledForward: true };
}

/** The commit's JSON text (the pending work spliced in as the text it is kept as). */
function commitText(commit: SliceCommit, pendingText: string): string {
  const { version, dt, rows, shards, rollCall } = commit;
  const head = `{"version":${version},"dt":${JSON.stringify(dt)},"rows":${JSON.stringify(rows)}`;
  return `${head},"shards":${JSON.stringify(shards)},"pending":${pendingText},"rollCall":${rollCall}}\n`;
}

async function writeIntent(ctx: CommitContext, commit: SliceCommit, pendingText: string): Promise<void> {
  await ctx.fence();
  await ctx.store.put(
    identityIntentKey(ctx.sdkAppId, commit.version),
    encode(commitText(commit, pendingText)),
    {
      ifNoneMatch: '*',
      contentType: 'application/json',
    },
  );
}

/** Applies a commit written as an intent; every step can be repeated (a rolled-forward commit). */
async function applyCommit(ctx: CommitContext, commit: SliceCommit, pendingText: string): Promise<void> {
  const { store, sdkAppId } = ctx;
  for (const kind of IDENTITY_KINDS) {
    const rows = commit.rows[kind];
    if (rows.length === 0) continue;
    const body = await gzipNdjson(rows.map((row) => JSON.stringify(row)));
    await ctx.fence();
    try {
      await store.put(identityRowsKey(kind, sdkAppId, commit.dt, commit.version), body, {
        ifNoneMatch: '*',
        contentType: 'application/x-ndjson',
        contentEncoding: 'gzip',
      });
    } catch (error) {
      // Written by the run that was stopped: the same rows (the intent's), once.
      if (!(error instanceof PreconditionFailedError)) throw error;
    }
  }
  const shardIo = pLimit(SHARDS_IN_FLIGHT);
  const shardWrites = IDENTITY_KINDS.flatMap((kind) =>
    Object.entries(commit.shards[kind]).map(([shard, changes]) =>
      shardIo(async () => {
        const hashes = await readShard(ctx, kind, shard);
        for (const [key, hash] of Object.entries(changes)) hashes.set(key, hash);
        await ctx.fence();
        await store.put(identityShardKey(sdkAppId, kind, shard), encode(serializeShard(hashes)), {
          contentType: 'application/json',
        });
      }),
    ),
  );
  // Every write settles before the head is written (a failed one fails the commit: rolled forward next run).
  const settled = await Promise.allSettled(shardWrites);
  const failed = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (failed) throw failed.reason;
  const head = `{"version":${commit.version},"pending":${pendingText},"rollCall":${commit.rollCall}}\n`;
  await ctx.fence();
  await store.put(identityHeadKey(sdkAppId), encode(head), { contentType: 'application/json' });
  await store.delete(identityIntentKey(sdkAppId, commit.version));
}
