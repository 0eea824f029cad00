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
import { gunzipSync } from 'node:zlib';
import type { PendingWrite, TargetState } from '../../domain/continuation.ts';
import type { RolledBackKey } from '../../domain/lease.ts';
import { stateKey } from '../../domain/partition.ts';
import { parseRecordLine } from '../../domain/record-codec.ts';
import { readLayout } from '../../domain/state-layout.ts';
import type { ObjectStore } from '../../domain/storage.ts';
import { type ManifestRow, manifestRefKey, readManifest } from '../media-manifest.ts';
import type { Cell, ParamValue, QueryRunner } from '../port.ts';
import { collectObjects } from '../result.ts';
import { keyOfPath } from '../transcript/load.ts';
import { mediaRefKey, mediaRefsOf, messagesFromRecords } from '../transcript/model.ts';
import {
  type AppAudit,
  type AuditReport,
  type Finding,
  type SeqRanges,
  type TargetAudit,
  toRanges,
} from './report.ts';
import {
  DUPLICATES_SQL,
  GAPS_SQL,
  OBJECT_TARGETS_SQL,
  PLACEHOLDERS_SQL,
  REVISION_HOLES_SQL,
  wrongPartitionSql,
} from './sql.ts';

export interface AuditOptions {
  /** Shown in the report: `./archive` or `s3://bucket/prefix`. */
  readonly archive: string;
  readonly timeZone: string;
  /** Apps to audit; default: every app with a state or messages in the archive. */
  readonly sdkAppIds?: readonly number[];
  readonly nowMs: number;
}

const text = (cell: Cell | undefined) => cell ?? '';
const int = (cell: Cell | undefined) => Number(cell ?? 0);
/**
 * A target's map key: JSON of (group, topic, generation), so no character of an id (NUL included)
 * can split it differently; {@link parseTargetId} reads it back. No topic is '' (Athena may read a
 * null string as '').
 */
const targetId = (groupId: string, topicId: string | null, generation = 0) =>
  JSON.stringify([groupId, topicId ?? '', generation]);
const parseTargetId = (id: string): { groupId: string; topicId: string | null; generation: number } => {
  const [groupId, topic, generation] = JSON.parse(id) as [string, string, number];
  return { groupId, topicId: topic === '' ? null : topic, generation };
};

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

/** The committed state of an app, or null when it has none. */
async function readState(
  store: ObjectStore,
  sdkAppId: number,
): Promise<{ pending: PendingWrite | null; rolledBack: RolledBackKey[]; targets: TargetState[] } | null> {
  const stored = await readLayout(
    async (key) => {
      const object = await store.get(key);
      return object && { text: new TextDecoder().decode(object.body), etag: object.etag };
    },
    sdkAppId,
    store.location,
  );
  if (stored === undefined) return null;
  const { pending, rolledBack } = stored.read.head;
  return { pending, rolledBack, targets: [...stored.targets.values()] };
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
    const audit = await auditApp(runner, store, sdkAppId, options, findings);
    audits.push(audit.app);
    for (const key of audit.mediaObjects) manifestObjects.add(key);
    mediaAudited ||= audit.app.media.audited;
  }
  // Media objects are shared by every app (content-addressed): orphans only when all apps were audited.
  if (mediaAudited && options.sdkAppIds === undefined) {
    const orphans: string[] = [];
    for await (const key of store.list('media/')) if (!manifestObjects.has(key)) orphans.push(key);
    if (orphans.length > 0) {
      findings.push({
        kind: 'media-orphan',
        explained: false,
        sdkAppId: 0,
        groupId: null,
        topicId: null,
        seqs: [],
        objects: orphans,
        detail: `${orphans.length} object${orphans.length === 1 ? '' : 's'} under media/ that no manifest row names`,
      });
    }
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

interface ObjectTarget {
  key: string;
  groupId: string;
  topicId: string | null;
  generation: number;
  firstSeq: number;
  lastSeq: number;
  rows: number;
  revisionRows: number;
}

/**
 * Seqs 1 … `firstSeq` - 1 that are not in `notYetArchived`: each missing seq is counted in one
 * category. (A range in progress whose server returned nothing down to its cursor has no row below
 * the cursor: those seqs are not archived yet, not gone before the first capture.)
 */
function beforeFirstCapture(firstSeq: number | null, notYetArchived: SeqRanges): SeqRanges {
  if (firstSeq === null || firstSeq <= 1) return [];
  let ranges: [number, number][] = [[1, firstSeq - 1]];
  for (const [lo, hi] of notYetArchived) {
    ranges = ranges.flatMap(([a, b]): [number, number][] =>
      hi < a || lo > b
        ? [[a, b]]
        : [
            ...(a < lo ? [[a, lo - 1] as [number, number]] : []),
            ...(hi < b ? [[hi + 1, b] as [number, number]] : []),
          ],
    );
  }
  return ranges;
}

async function rowsOf(runner: QueryRunner, sql: string, values: readonly ParamValue[]) {
  return collectObjects(await runner.run(sql, values));
}

async function auditApp(
  runner: QueryRunner,
  store: ObjectStore,
  sdkAppId: number,
  options: AuditOptions,
  findings: Finding[],
): Promise<{ app: AppAudit; mediaObjects: string[] }> {
  const app: ParamValue[] = [{ type: 'string', value: String(sdkAppId) }];
  const state = await readState(store, sdkAppId);
  const finding = (f: Omit<Finding, 'sdkAppId'>) => findings.push({ sdkAppId, ...f });

  const objectTargets: ObjectTarget[] = (await rowsOf(runner, OBJECT_TARGETS_SQL, app)).map((r) => ({
    key: keyOfPath(text(r.path)) ?? text(r.path),
    groupId: text(r.group_id),
    topicId: r.topic_id ?? null,
    generation: int(r.gen),
    firstSeq: int(r.first_seq),
    lastSeq: int(r.last_seq),
    rows: int(r.rows_n),
    revisionRows: int(r.revision_rows),
  }));
  const byTarget = new Map<string, ObjectTarget[]>();
  for (const ot of objectTargets) {
    const id = targetId(ot.groupId, ot.topicId, ot.generation);
    byTarget.set(id, [...(byTarget.get(id) ?? []), ot]);
  }
  // The state keeps each target's current generation; an earlier generation was archived whole
  // before its seqs started over, so everything from its first to its last row is claimed.
  const stateTargets = new Map<string, TargetState>();
  for (const t of state?.targets ?? []) {
    stateTargets.set(targetId(t.groupId, t.topicId, t.generation), t);
    for (let g = 0; g < t.generation; g++) {
      const old = byTarget.get(targetId(t.groupId, t.topicId, g)) ?? [];
      const top = Math.max(0, ...old.map((o) => o.lastSeq));
      stateTargets.set(targetId(t.groupId, t.topicId, g), {
        ...t,
        generation: g,
        highWater: top,
        inProgress: null,
      });
    }
  }
  // Objects the state names as not committed: an open intent, or keys rolled back after a takeover
  // (a frozen writer may put them late; every run deletes them again).
  const pending = new Set([
    ...(state?.pending?.objects ?? []),
    ...(state?.rolledBack ?? []).map((r) => r.key),
  ]);

  if (state === null && objectTargets.length > 0) {
    finding({
      kind: 'state-missing',
      explained: false,
      groupId: null,
      topicId: null,
      seqs: [],
      objects: [],
      detail: `app ${sdkAppId} has ${objectTargets.length} target-objects of messages but no ${stateKey(sdkAppId)}`,
    });
  }

  // What the state claims: seq <= highWater, and (cursor, top] of a range in progress.
  const claims = (t: TargetState | undefined, seq: number) =>
    t !== undefined &&
    (seq <= t.highWater || (t.inProgress !== null && seq > t.inProgress.cursor && seq <= t.inProgress.top));

  // Rows and objects beyond the committed state.
  const objectsBeyond = new Map<string, { beyond: number; rows: number }>();
  for (const ot of objectTargets) {
    const t = stateTargets.get(targetId(ot.groupId, ot.topicId, ot.generation));
    const entry = objectsBeyond.get(ot.key) ?? { beyond: 0, rows: 0 };
    entry.rows += ot.rows;
    if (!claims(t, ot.lastSeq) || !claims(t, ot.firstSeq)) entry.beyond += ot.rows;
    objectsBeyond.set(ot.key, entry);
  }
  const uncommitted = new Map<
    string,
    { groupId: string; topicId: string | null; seqs: number[]; objects: Set<string> }
  >();
  for (const ot of objectTargets) {
    const t = stateTargets.get(targetId(ot.groupId, ot.topicId, ot.generation));
    if (claims(t, ot.firstSeq) && claims(t, ot.lastSeq)) continue;
    const seqs: number[] = [];
    for (let s = ot.firstSeq; s <= ot.lastSeq && seqs.length < 100_000; s++) if (!claims(t, s)) seqs.push(s);
    const beyond = objectsBeyond.get(ot.key);
    const kind = pending.has(ot.key) ? 'p' : beyond?.beyond === beyond?.rows ? 'o' : 'u';
    const id = JSON.stringify([targetId(ot.groupId, ot.topicId, ot.generation), kind]);
    const u = uncommitted.get(id) ?? {
      groupId: ot.groupId,
      topicId: ot.topicId,
      seqs: [],
      objects: new Set<string>(),
    };
    u.seqs.push(...seqs);
    u.objects.add(ot.key);
    uncommitted.set(id, u);
  }
  for (const [id, u] of uncommitted) {
    const tag = (JSON.parse(id) as [string, string])[1];
    const kind = tag === 'p' ? 'pending-rollback' : tag === 'o' ? 'orphan-object' : 'uncommitted-rows';
    finding({
      kind,
      explained: kind === 'pending-rollback',
      groupId: u.groupId,
      topicId: u.topicId,
      seqs: toRanges(u.seqs),
      objects: [...u.objects],
      detail:
        kind === 'pending-rollback'
          ? 'named by the state as an uncommitted checkpoint; the next run deletes it'
          : [...stateTargets.values()].some((t) => t.groupId === u.groupId && t.topicId === u.topicId)
            ? 'seqs beyond the committed high-water mark'
            : 'a target the committed state does not know',
    });
  }

  // Objects under messages/ that hold no row the tables read (not an archive object, or empty).
  const withRows = new Set(objectTargets.map((o) => o.key));
  const stray: string[] = [];
  for await (const key of store.list(`messages/sdkappid=${sdkAppId}/`))
    if (!withRows.has(key)) stray.push(key);
  if (stray.length > 0) {
    const named = stray.filter((k) => pending.has(k));
    const unnamed = stray.filter((k) => !pending.has(k));
    if (named.length > 0) {
      finding({
        kind: 'pending-rollback',
        explained: true,
        groupId: null,
        topicId: null,
        seqs: [],
        objects: named,
        detail: 'named by the state as an uncommitted checkpoint; the next run deletes it',
      });
    }
    if (unnamed.length > 0) {
      finding({
        kind: 'orphan-object',
        explained: false,
        groupId: null,
        topicId: null,
        seqs: [],
        objects: unnamed,
        detail: 'under messages/ but holding no archive row (not an archive object, or empty)',
      });
    }
  }

  // Gaps inside each target's archived range.
  const holes = new Map<string, number[]>();
  for (const r of await rowsOf(runner, GAPS_SQL, app)) {
    const id = targetId(text(r.group_id), r.topic_id ?? null, int(r.gen));
    const list = holes.get(id) ?? [];
    for (let s = int(r.msg_seq) + 1; s < int(r.next_seq) && list.length < 100_000; s++) list.push(s);
    holes.set(id, list);
  }
  const placeholders = new Map<string, { deleted: number[]; recalled: number[] }>();
  for (const r of await rowsOf(runner, PLACEHOLDERS_SQL, app)) {
    const id = targetId(text(r.group_id), r.topic_id ?? null, int(r.gen));
    const p = placeholders.get(id) ?? { deleted: [], recalled: [] };
    (int(r.is_place_msg) === 2 ? p.recalled : p.deleted).push(int(r.msg_seq));
    placeholders.set(id, p);
  }

  const targets: TargetAudit[] = [];
  const ids = new Set([...stateTargets.keys(), ...byTarget.keys()]);
  for (const id of [...ids].sort()) {
    const t = stateTargets.get(id);
    const objects = byTarget.get(id) ?? [];
    const { groupId, topicId: topicPart, generation } = parseTargetId(id);
    const topicId = t?.topicId ?? objects[0]?.topicId ?? topicPart;
    const claimed = objects.filter((o) => claims(t, o.firstSeq));
    const firstSeq = claimed.length > 0 ? Math.min(...claimed.map((o) => o.firstSeq)) : null;
    const lastSeq = objects.length > 0 ? Math.max(...objects.map((o) => o.lastSeq)) : null;
    const highWater = t?.highWater ?? 0;
    const inProgress = t?.inProgress ? { cursor: t.inProgress.cursor, top: t.inProgress.top } : null;
    // Missing: claimed seqs from the first capture up with no row (holes between rows, and the
    // claimed range's ends beyond the last row).
    const missing = (holes.get(id) ?? []).filter((s) => claims(t, s) && firstSeq !== null && s >= firstSeq);
    const claimedTop = Math.max(highWater, inProgress?.top ?? 0);
    if (t !== undefined && firstSeq !== null && lastSeq !== null) {
      for (let s = lastSeq + 1; s <= claimedTop && missing.length < 200_000; s++)
        if (claims(t, s)) missing.push(s);
    }
    if (t !== undefined && firstSeq === null && highWater > 0) {
      // The state claims seqs but the archive holds none of them.
      finding({
        kind: 'missing-seqs',
        explained: false,
        groupId,
        topicId,
        seqs: [[1, highWater]],
        objects: [],
        detail: 'the state claims this target but the archive has no row of it',
      });
    }
    const p = placeholders.get(id) ?? { deleted: [], recalled: [] };
    const notYetArchived: SeqRanges =
      inProgress !== null && inProgress.cursor > highWater ? [[highWater + 1, inProgress.cursor]] : [];
    const gaps = {
      beforeFirstCapture: beforeFirstCapture(firstSeq, notYetArchived),
      deletedPlaceholders: toRanges(p.deleted),
      recalledPlaceholders: toRanges(p.recalled),
      unexplained: toRanges(missing),
      notYetArchived,
    };
    if (missing.length > 0) {
      finding({
        kind: 'missing-seqs',
        explained: false,
        groupId,
        topicId,
        seqs: gaps.unexplained,
        objects: [],
        detail: `${missing.length} seq${missing.length === 1 ? '' : 's'} the state says are archived have no row`,
      });
    }
    targets.push({
      groupId,
      topicId,
      generation,
      highWater,
      inProgress,
      firstSeq,
      lastSeq,
      rows: objects.reduce((n, o) => n + o.rows, 0),
      revisionRows: objects.reduce((n, o) => n + o.revisionRows, 0),
      gaps,
    });
  }

  // Duplicates, misplaced rows, revision holes: grouped per target.
  const grouped = async (
    sql: string,
    values: readonly ParamValue[],
    kind: Finding['kind'],
    detail: (rows: Record<string, Cell>[]) => string,
  ) => {
    const per = new Map<string, Record<string, Cell>[]>();
    for (const r of await rowsOf(runner, sql, values)) {
      const id = targetId(text(r.group_id), r.topic_id ?? null, int(r.gen));
      per.set(id, [...(per.get(id) ?? []), r]);
    }
    for (const rows of per.values()) {
      const first = rows[0];
      finding({
        kind,
        explained: false,
        groupId: text(first?.group_id),
        topicId: first?.topic_id ?? null,
        seqs: toRanges(rows.map((r) => int(r.msg_seq))),
        objects: [
          ...new Set(rows.map((r) => keyOfPath(text(r.path)) ?? text(r.path)).filter((k) => k !== '')),
        ],
        detail: detail(rows),
      });
    }
  };
  await grouped(
    DUPLICATES_SQL,
    app,
    'duplicate-rows',
    (rows) =>
      `${rows.length} rows for ${new Set(rows.map((r) => `${r.msg_seq}/${r.rev}`)).size} (seq, revision) pairs`,
  );
  await grouped(
    wrongPartitionSql(runner.dialect),
    [{ type: 'string', value: options.timeZone }, ...app],
    'wrong-partition',
    (rows) =>
      rows
        .slice(0, 3)
        .map((r) => `seq ${r.msg_seq} in dt=${r.dt}, belongs in dt=${r.expected}`)
        .join('; '),
  );
  await grouped(REVISION_HOLES_SQL, app, 'revision-hole', (rows) =>
    rows
      .slice(0, 3)
      .map((r) => `seq ${r.msg_seq}: ${r.revisions} of revisions 0-${r.last_revision}`)
      .join('; '),
  );

  const media = await auditMedia(store, sdkAppId, objectTargets, finding);
  return {
    app: {
      sdkAppId,
      targets,
      objects: new Set(objectTargets.map((o) => o.key)).size,
      rows: objectTargets.reduce((n, o) => n + o.rows, 0),
      media: media.summary,
    },
    mediaObjects: media.objects,
  };
}

/**
 * Media: every reference of an archived message has a manifest row, every `archived` row's object
 * exists. Only for archives with a manifest (archives made before media copying have none).
 */
async function auditMedia(
  store: ObjectStore,
  sdkAppId: number,
  objectTargets: readonly ObjectTarget[],
  finding: (f: Omit<Finding, 'sdkAppId'>) => void,
): Promise<{ summary: AppAudit['media']; objects: string[] }> {
  const manifest: ManifestRow[] = await readManifest(store, sdkAppId);
  if (manifest.length === 0) {
    return {
      summary: {
        audited: false,
        references: 0,
        manifestRows: 0,
        note: 'not audited: the archive has no media manifest for this app',
      },
      objects: [],
    };
  }
  const rows = new Map(manifest.map((r) => [manifestRefKey(r), r]));
  const referenced = new Map<string, { groupId: string; topicId: string | null; seq: number }>();
  for (const key of new Set(objectTargets.map((o) => o.key))) {
    const object = await store.get(key);
    if (object === undefined) continue;
    const records = gunzipSync(object.body)
      .toString('utf8')
      .split('\n')
      .filter((l) => l.length > 0)
      .map(parseRecordLine);
    for (const message of messagesFromRecords(records)) {
      if ((message.versions[0]?.isPlace ?? 0) !== 0) continue;
      for (const ref of mediaRefsOf({ ...message, versions: message.versions.slice(0, 1) })) {
        // Images: the original is what the copier archives by default; other sizes are opt-in.
        if (ref.variant === 'image-large' || ref.variant === 'image-thumbnail') continue;
        referenced.set(mediaRefKey(ref), { groupId: ref.groupId, topicId: ref.topicId, seq: ref.seq });
      }
    }
  }
  const unmanifested = new Map<string, { groupId: string; topicId: string | null; seqs: number[] }>();
  for (const [key, ref] of referenced) {
    if (rows.has(key)) continue;
    const id = targetId(ref.groupId, ref.topicId);
    const u = unmanifested.get(id) ?? { groupId: ref.groupId, topicId: ref.topicId, seqs: [] };
    u.seqs.push(ref.seq);
    unmanifested.set(id, u);
  }
  for (const u of unmanifested.values()) {
    finding({
      kind: 'media-unmanifested',
      explained: false,
      groupId: u.groupId,
      topicId: u.topicId,
      seqs: toRanges(u.seqs),
      objects: [],
      detail: `${u.seqs.length} media reference${u.seqs.length === 1 ? '' : 's'} with no manifest row`,
    });
  }
  const stored = new Set<string>();
  for await (const key of store.list('media/')) stored.add(key);
  const objects: string[] = [];
  const missing = new Map<
    string,
    { groupId: string; topicId: string | null; seqs: number[]; keys: string[] }
  >();
  for (const row of manifest) {
    if (row.status !== 'archived' || row.object_key === null) continue;
    objects.push(row.object_key);
    if (stored.has(row.object_key)) continue;
    const id = targetId(row.group_id, row.topic_id);
    const m = missing.get(id) ?? { groupId: row.group_id, topicId: row.topic_id, seqs: [], keys: [] };
    m.seqs.push(Number(row.msg_seq));
    m.keys.push(row.object_key);
    missing.set(id, m);
  }
  for (const m of missing.values()) {
    finding({
      kind: 'media-object-missing',
      explained: false,
      groupId: m.groupId,
      topicId: m.topicId,
      seqs: toRanges(m.seqs),
      objects: m.keys,
      detail: 'the manifest says archived, the object is not in the archive',
    });
  }
  const archived = manifest.filter((r) => r.status === 'archived').length;
  return {
    summary: {
      audited: true,
      references: referenced.size,
      manifestRows: manifest.length,
      note: `${referenced.size} references, ${manifest.length} manifest rows (${archived} archived, ${manifest.length - archived} expired, refused, failed or without URL)`,
    },
    objects,
  };
}
