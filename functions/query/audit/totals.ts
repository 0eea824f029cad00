/**
 * The incremental audit's running totals (docs/audit.md, "The incremental audit"): per `dt`
 * partition of one app, what the audit's per-row queries found in it, kept as seq ranges rather
 * than seqs, so that the checks spanning partitions (missing seqs, duplicates, revision holes,
 * uncommitted rows, a zeroed placeholder's partition) can be derived without reading the
 * partition again. One object per app (`auditTotalsKey`), gzip JSON, written create-only and then
 * replaced only with `If-Match` on the ETag read: of two audits at once, one loses and stops.
 */
import { gunzipSync, gzipSync } from 'node:zlib';
import * as z from 'zod';
import { PreconditionFailedError } from '../../domain/errors.ts';
import { auditTotalsKey } from '../../domain/partition.ts';
import type { ObjectStore } from '../../domain/storage.ts';
import { AuditTotalsConflictError } from '../errors.ts';

/**
 * The layout of the totals; an object of another version is not read (the audit recomputes
 * everything and writes this one).
 */
export const TOTALS_VERSION = 1;

const range = z.tuple([z.number().int(), z.number().int()]);

/** One (object, target) pair of a partition: the objects query's row and its seqs as ranges. */
const objectTargetSchema = z.object({
  key: z.string(),
  groupId: z.string(),
  topicId: z.string().nullable(),
  generation: z.number().int(),
  firstSeq: z.number().int(),
  lastSeq: z.number().int(),
  rows: z.number().int(),
  revisionRows: z.number().int(),
  elsewhereRows: z.number().int(),
  /** Seqs with a revision-0 row here. */
  rev0: z.array(range),
  /** Seqs with a row of each revision above 0 here: `[revision, ranges]`. */
  revisions: z.array(z.tuple([z.number().int(), z.array(range)])),
  /** `(seq, revision)` pairs this object holds more than once: `[seq, revision, rows]`. */
  multi: z.array(z.tuple([z.number().int(), z.number().int(), z.number().int()])),
  /** Revision-0 placeholders: `IsPlaceMsg` 2 (recalled) and any other non-zero (deleted, expired). */
  deleted: z.array(range),
  recalled: z.array(range),
  /** Rows without a message time (a zeroed placeholder): `[seq, revision]`; their `dt` is the first revision's. */
  zeroed: z.array(z.tuple([z.number().int(), z.number().int()])),
});
export type ObjectTargetTotals = z.infer<typeof objectTargetSchema>;

/** A row with a message time whose `dt` folder is not that time's date. */
const misplacedSchema = z.object({
  key: z.string(),
  groupId: z.string(),
  topicId: z.string().nullable(),
  generation: z.number().int(),
  seq: z.number().int(),
  expected: z.string(),
});
export type MisplacedRow = z.infer<typeof misplacedSchema>;

/** A media reference no manifest row named when the partition was read. */
const pendingRefSchema = z.object({
  ref: z.string(),
  groupId: z.string(),
  topicId: z.string().nullable(),
  seq: z.number().int(),
});
export type PendingRef = z.infer<typeof pendingRefSchema>;

const partitionSchema = z.object({
  /** The partition's object keys when it was read, sorted: what decides "changed". */
  objects: z.array(z.string()),
  targets: z.array(objectTargetSchema),
  misplaced: z.array(misplacedSchema),
  /** Null when the app had no media manifest then (the partition is read again once it has one). */
  media: z
    .object({
      references: z.number().int(),
      pending: z.array(pendingRefSchema),
    })
    .nullable(),
});
export type PartitionTotals = z.infer<typeof partitionSchema>;

const totalsSchema = z.object({
  version: z.number().int(),
  sdkAppId: z.number().int(),
  /** The zone the partitions were checked in: another zone recomputes everything. */
  timeZone: z.string(),
  partitions: z.record(z.string(), partitionSchema),
});
export type AuditTotals = z.infer<typeof totalsSchema>;

/** The totals as read, and the ETag to replace them with (undefined: none yet). */
export interface StoredTotals {
  readonly totals: AuditTotals | undefined;
  readonly etag: string | undefined;
}

/**
 * The app's totals. An object of another layout version, another zone, or one that does not parse
 * is returned as `undefined` totals (with its ETag, so that it can be replaced): the audit then
 * reads every partition.
 */
export async function readTotals(
  store: ObjectStore,
  sdkAppId: number,
  timeZone: string,
): Promise<StoredTotals> {
  const object = await store.get(auditTotalsKey(sdkAppId));
  if (object === undefined) return { totals: undefined, etag: undefined };
  let parsed: unknown;
  try {
    parsed = JSON.parse(gunzipSync(object.body).toString('utf8'));
  } catch {
    return { totals: undefined, etag: object.etag };
  }
  const result = totalsSchema.safeParse(parsed);
  const usable =
    result.success &&
    result.data.version === TOTALS_VERSION &&
    result.data.sdkAppId === sdkAppId &&
    result.data.timeZone === timeZone;
  return { totals: usable ? result.data : undefined, etag: object.etag };
}

/**
 * Writes the totals: create-only when none were read, else only over the ETag read.
 *
 * @throws AuditTotalsConflictError when another audit wrote them in between (this one's result is
 *   still right; only its totals are not kept)
 */
export async function writeTotals(
  store: ObjectStore,
  totals: AuditTotals,
  etag: string | undefined,
): Promise<void> {
  const key = auditTotalsKey(totals.sdkAppId);
  const body = gzipSync(JSON.stringify(totals));
  try {
    await store.put(key, body, {
      ...(etag === undefined ? { ifNoneMatch: '*' as const } : { ifMatch: etag }),
      contentType: 'application/json',
    });
  } catch (error) {
    if (error instanceof PreconditionFailedError) throw new AuditTotalsConflictError(key, { cause: error });
    throw error;
  }
}
