/**
 * The incremental audit of one app (docs/audit.md, "The incremental audit"): the same findings as
 * the full audit (audit.ts), reading only the `dt` partitions that are new or changed since the
 * app's running totals (totals.ts). Which partitions changed is decided by listing them (cheap):
 * a partition whose object keys differ from the ones the totals recorded is read again (message
 * objects are written create-only under a key naming their run, so a key stands for its content),
 * and its contribution to the totals is replaced. The checks spanning partitions are then derived
 * from the totals (derive.ts), and the totals are written back over the ETag read.
 */

import type { ObjectStore } from '../../domain/storage.ts';
import { readManifest } from '../media-manifest.ts';
import type { QueryRunner } from '../port.ts';
import { listArchivedObjects, reportArchived } from './archived.ts';
import { claimedTargets, pendingKeys, readState } from './committed.ts';
import { coverageOf } from './coverage.ts';
import {
  allPairs,
  duplicateRowsOf,
  holesOf,
  misplacedRowsOf,
  objectTargetsOf,
  placeholdersOf,
  revisionHoleRowsOf,
} from './derive.ts';
import { dtOfKey, partitionValues, readPartitionFacts } from './facts.ts';
import { checkMedia, NO_MEDIA_MANIFEST, unmanifestedOf } from './media.ts';
import { type RefObjects, type RefPlace, readReferences } from './media-references.ts';
import type { AppAudit, Finding } from './report.ts';
import { reportRows } from './row-checks.ts';
import { groupByTarget } from './targets.ts';
import { type AuditTotals, type PartitionTotals, readTotals, TOTALS_VERSION, writeTotals } from './totals.ts';
import { checkStateMissing, checkStrayObjects, checkUncommittedRows } from './uncommitted.ts';

/** The app's message objects per `dt` partition, keys sorted (objects outside a partition left out). */
export async function listPartitions(store: ObjectStore, sdkAppId: number): Promise<Map<string, string[]>> {
  const partitions = new Map<string, string[]>();
  for await (const key of store.list(`messages/sdkappid=${sdkAppId}/`)) {
    const dt = dtOfKey(key);
    if (dt !== '') partitions.set(dt, [...(partitions.get(dt) ?? []), key]);
  }
  for (const keys of partitions.values()) keys.sort();
  return partitions;
}

/**
 * More changed partitions than this are read without a `dt` filter (every partition, as `--full`):
 * one parameter each would make a long statement for little saving.
 */
export const MAX_FILTERED_PARTITIONS = 400;

const sameKeys = (a: readonly string[], b: readonly string[]) =>
  a.length === b.length && a.every((k, i) => k === b[i]);

/** The partitions to read: new, changed, or without media totals while the app has a manifest. */
function changedPartitions(
  listed: ReadonlyMap<string, readonly string[]>,
  previous: AuditTotals | undefined,
  hasManifest: boolean,
): string[] {
  return [...listed]
    .filter(([dt, keys]) => {
      const p = previous?.partitions[dt];
      return p === undefined || !sameKeys(p.objects, keys) || (hasManifest && p.media === null);
    })
    .map(([dt]) => dt)
    .sort();
}

interface ReadOptions {
  readonly runner: QueryRunner;
  readonly store: ObjectStore;
  readonly sdkAppId: number;
  readonly timeZone: string;
  /** Null: every partition (no `dt` filter). */
  readonly partitions: readonly string[] | null;
  readonly listed: ReadonlyMap<string, readonly string[]>;
  readonly manifest: Awaited<ReturnType<typeof readManifest>>;
  readonly archived: Set<string>;
}

/** Reads the given partitions (their facts, and their media references when there is a manifest). */
async function readPartitions(options: ReadOptions): Promise<Map<string, PartitionTotals>> {
  const { runner, store, sdkAppId, timeZone, listed, manifest, archived } = options;
  const filter = options.partitions ?? [];
  const facts = await readPartitionFacts({ runner, sdkAppId, partitions: filter, timeZone });
  for (const dt of options.partitions ?? listed.keys())
    if (!facts.has(dt)) facts.set(dt, { objects: [], targets: [], misplaced: [], media: null });
  for (const [dt, p] of facts) p.objects = [...(listed.get(dt) ?? [])];
  if (manifest.length === 0) return facts;
  const objects: RefObjects = new Map();
  const referenced = await readReferences({
    objects,
    runner,
    app: partitionValues(sdkAppId, filter),
    store,
    objectTargets: objectTargetsOf([...facts.values()].flatMap((p) => p.targets)),
    archived,
    ...(filter.length > 0 ? { partitions: filter } : {}),
  });
  const pending = unmanifestedOf(referenced, manifest);
  for (const p of facts.values()) p.media = { references: 0, pending: [] };
  for (const [ref, place] of referenced) {
    // Counted once in each partition holding it (a message filed in two partitions is a finding).
    for (const dt of new Set([...(objects.get(ref) ?? [])].map(dtOfKey))) {
      const p = facts.get(dt);
      if (p?.media == null) continue;
      p.media.references++;
      if (pending.has(ref))
        p.media.pending.push({ ref, groupId: place.groupId, topicId: place.topicId, seq: place.seq });
    }
  }
  return facts;
}

/** What one incremental audit of an app found, and how much it read. */
export interface IncrementalAppResult {
  readonly app: AppAudit;
  readonly mediaObjects: string[];
}

/**
 * One app, incrementally: the partitions to read, then every check from the totals, in the full
 * audit's order (audit.ts, `auditApp`); the totals are written last.
 *
 * @throws AuditTotalsConflictError (functions/query/errors.ts) when another audit replaced the totals meanwhile
 */
export async function auditAppIncremental(options: {
  readonly runner: QueryRunner;
  readonly store: ObjectStore;
  readonly sdkAppId: number;
  readonly timeZone: string;
  /** Read every partition, whatever the totals say (`--full`). */
  readonly full: boolean;
  readonly findings: Finding[];
}): Promise<IncrementalAppResult> {
  const { runner, store, sdkAppId, timeZone, findings } = options;
  const finding = (f: Omit<Finding, 'sdkAppId'>) => findings.push({ sdkAppId, ...f });
  const state = await readState(store, sdkAppId);
  const stored = await readTotals(store, sdkAppId, timeZone);
  const previous = options.full ? undefined : stored.totals;
  const listed = await listPartitions(store, sdkAppId);
  const manifest = await readManifest(store, sdkAppId);
  const archived = await listArchivedObjects(store, sdkAppId);
  const changed = changedPartitions(listed, previous, manifest.length > 0);
  const read =
    changed.length === 0
      ? new Map<string, PartitionTotals>()
      : await readPartitions({
          runner,
          store,
          sdkAppId,
          timeZone,
          partitions: previous === undefined || changed.length > MAX_FILTERED_PARTITIONS ? null : changed,
          listed,
          manifest,
          archived,
        });
  const partitions: Record<string, PartitionTotals> = {};
  for (const dt of [...new Set([...listed.keys(), ...read.keys()])].sort()) {
    const p = read.get(dt) ?? previous?.partitions[dt];
    if (p !== undefined) partitions[dt] = p;
  }
  const all = Object.values(partitions);
  const pairs = allPairs(all);
  const objectTargets = objectTargetsOf(pairs);
  const byTarget = groupByTarget(objectTargets);
  const stateTargets = claimedTargets(state, byTarget);
  const pending = pendingKeys(state);

  checkStateMissing({ sdkAppId, state, objectTargets, finding });
  checkUncommittedRows({ objectTargets, stateTargets, pending, finding });
  await checkStrayObjects({ store, sdkAppId, objectTargets, pending, archived, finding });
  const targets = coverageOf({
    stateTargets,
    byTarget,
    holes: holesOf(pairs),
    placeholders: placeholdersOf(pairs),
    finding,
  });
  reportRows('duplicate-rows', duplicateRowsOf(pairs), finding);
  reportRows('wrong-partition', misplacedRowsOf(all), finding);
  reportRows('revision-hole', revisionHoleRowsOf(pairs), finding);
  const media = await mediaOfTotals({ store, manifest, partitions: all, finding });
  const unreadableArchived = reportArchived({ keys: archived, objectTargets, finding });
  const totals: AuditTotals = { version: TOTALS_VERSION, sdkAppId, timeZone, partitions };
  await writeTotals(store, totals, stored.etag);
  return {
    app: {
      sdkAppId,
      targets,
      objects: new Set(objectTargets.map((o) => o.key)).size,
      rows: objectTargets.reduce((n, o) => n + o.rows, 0),
      unreadableArchived,
      media: media.summary,
      partitions: { total: all.length, read: read.size, full: read.size > 0 && read.size >= all.length },
    },
    mediaObjects: media.objects,
  };
}

/**
 * The media checks from the totals: the references no manifest row named when their partition
 * was read, checked against today's manifest (the media stage may have copied them since); those
 * now named leave the totals.
 */
async function mediaOfTotals(options: {
  readonly store: ObjectStore;
  readonly manifest: Awaited<ReturnType<typeof readManifest>>;
  readonly partitions: readonly PartitionTotals[];
  readonly finding: (f: Omit<Finding, 'sdkAppId'>) => void;
}): Promise<{ summary: AppAudit['media']; objects: string[] }> {
  const { store, manifest, partitions, finding } = options;
  if (manifest.length === 0) return { summary: NO_MEDIA_MANIFEST, objects: [] };
  const referenced = new Map<string, RefPlace>();
  for (const p of partitions)
    for (const r of p.media?.pending ?? [])
      referenced.set(r.ref, { groupId: r.groupId, topicId: r.topicId, seq: r.seq });
  const still = unmanifestedOf(referenced, manifest);
  for (const p of partitions)
    if (p.media !== null) p.media.pending = p.media.pending.filter((r) => still.has(r.ref));
  const references = partitions.reduce((n, p) => n + (p.media?.references ?? 0), 0);
  return checkMedia({ store, manifest, referenced: still, references, finding });
}
