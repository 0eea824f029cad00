/**
 * The completeness audit: for every target of an app, the seqs the committed state says are
 * archived (from the first captured seq up to the high-water mark, plus an interrupted range's
 * `(cursor, top]`) against the rows the archive holds, through the query runner (DuckDB locally,
 * Athena on S3). It names every missing seq, duplicate, misplaced row, revision hole, row or object
 * no committed state accounts for, and media reference without a manifest row or object, and
 * classifies each: explained (expired before the first capture, a placeholder, an uncommitted
 * checkpoint the next run rolls back) or not.
 *
 * The state is read through the domain's own reader (`readLayout`: the head, its base and
 * deltas), so the audit follows any change of the state layout.
 */
import type { ObjectStore } from '../../domain/storage.ts';
import type { ParamValue, QueryRunner } from '../port.ts';
import { listArchivedObjects, reportArchived } from './archived.ts';
import { claimedTargets, pendingKeys, readState } from './committed.ts';
import { auditCoverage } from './coverage.ts';
import { auditAppIncremental } from './incremental.ts';
import { auditMedia, checkMediaOrphans } from './media.ts';
import type { AppAudit, AuditReport, Finding } from './report.ts';
import { checkDuplicates, checkRevisionHoles, checkWrongPartition } from './row-checks.ts';
import { groupByTarget, readObjectTargets } from './targets.ts';
import { checkStateMissing, checkStrayObjects, checkUncommittedRows } from './uncommitted.ts';

export interface AuditOptions {
  /** Shown in the report: `./archive` or `s3://bucket/prefix`. */
  readonly archive: string;
  readonly timeZone: string;
  /** Apps to audit; default: every app with a state or messages in the archive. */
  readonly sdkAppIds?: readonly number[];
  readonly nowMs: number;
  /**
   * Audit incrementally: read only the partitions new or changed since the app's running totals,
   * kept in the archive (incremental.ts); `full` reads every partition and rewrites the totals.
   * Absent: the full audit, which neither reads nor writes totals.
   */
  readonly incremental?: { readonly full: boolean };
}

/** Apps found in the archive: under `state/` and `messages/`. */
export async function discoverApps(store: ObjectStore): Promise<number[]> {
  const ids = new Set<number>();
  for (const prefix of ['state/', 'messages/']) {
    for await (const key of store.list(prefix)) {
      const match = /^(?:state|messages)\/sdkappid=(\d+)\//.exec(key);
      if (match) ids.add(Number(match[1]));
    }
  }
  return [...ids].sort((a, b) => a - b);
}

/** Runs the audit over every selected app. */
export async function auditArchive(
  runner: QueryRunner,
  store: ObjectStore,
  options: AuditOptions,
): Promise<AuditReport> {
  const apps = options.sdkAppIds ?? (await discoverApps(store));
  const findings: Finding[] = [];
  const audits: AppAudit[] = [];
  const manifestObjects = new Set<string>();
  let mediaAudited = false;
  for (const sdkAppId of apps) {
    const audit =
      options.incremental === undefined
        ? await auditApp({ runner, store, sdkAppId, timeZone: options.timeZone, findings })
        : await auditAppIncremental({
            runner,
            store,
            sdkAppId,
            timeZone: options.timeZone,
            full: options.incremental.full,
            findings,
          });
    audits.push(audit.app);
    for (const key of audit.mediaObjects) manifestObjects.add(key);
    mediaAudited ||= audit.app.media.audited;
  }
  // Media objects are shared by every app (content-addressed): orphans only when all apps were audited.
  if (mediaAudited && options.sdkAppIds === undefined) {
    const orphans = await checkMediaOrphans(store, manifestObjects);
    if (orphans !== null) findings.push(orphans);
  }
  return {
    archive: options.archive,
    engine: runner.dialect === 'athena' ? 'Athena' : 'DuckDB',
    generatedAtMs: options.nowMs,
    apps: audits,
    findings,
    unexplained: findings.filter((f) => !f.explained).length,
  };
}

/**
 * One app, step by step: what the archive holds and what the committed state claims, then each
 * check in turn (each appends its findings to `findings`, in this order).
 */
async function auditApp(options: {
  readonly runner: QueryRunner;
  readonly store: ObjectStore;
  readonly sdkAppId: number;
  readonly timeZone: string;
  readonly findings: Finding[];
}): Promise<{ app: AppAudit; mediaObjects: string[] }> {
  const { runner, store, sdkAppId, timeZone, findings } = options;
  const app: ParamValue[] = [{ type: 'string', value: String(sdkAppId) }];
  const finding = (f: Omit<Finding, 'sdkAppId'>) => findings.push({ sdkAppId, ...f });
  const state = await readState(store, sdkAppId);
  const objectTargets = await readObjectTargets(runner, app);
  const byTarget = groupByTarget(objectTargets);
  const stateTargets = claimedTargets(state, byTarget);
  const pending = pendingKeys(state);
  const archived = await listArchivedObjects(store, sdkAppId);

  checkStateMissing({ sdkAppId, state, objectTargets, finding });
  checkUncommittedRows({ objectTargets, stateTargets, pending, finding });
  await checkStrayObjects({ store, sdkAppId, objectTargets, pending, archived, finding });
  const targets = await auditCoverage({ runner, app, stateTargets, byTarget, finding });
  await checkDuplicates({ runner, app, finding });
  await checkWrongPartition({ runner, app, timeZone, finding });
  await checkRevisionHoles({ runner, app, finding });
  const media = await auditMedia({ runner, app, store, sdkAppId, objectTargets, archived, finding });
  const unreadableArchived = reportArchived({ keys: archived, objectTargets, finding });
  return {
    app: {
      sdkAppId,
      targets,
      objects: new Set(objectTargets.map((o) => o.key)).size,
      rows: objectTargets.reduce((n, o) => n + o.rows, 0),
      unreadableArchived,
      media: media.summary,
    },
    mediaObjects: media.objects,
  };
}
