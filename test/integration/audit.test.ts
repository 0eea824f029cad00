/**
 * The completeness audit on archives the engine made against the simulator (two incremental runs,
 * a topic community, placeholders and recalls): it passes on the real archive, and finds each
 * injected fault, named with group, topic and seqs: a deleted object, a duplicated row, a row in
 * the wrong partition, a revision chain with a hole, an orphan object (rows no committed state
 * claims, and a stray file), a missing media object and a media reference without a manifest row.
 * Each fault goes into its own copy of the archive; nothing but the injected fault may be
 * unexplained.
 */
import { cp, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalFolderStore } from '../../functions/adapters/local-folder/local-folder-store.ts';
import { runAuditCommand } from '../../functions/cli/audit-command.ts';
import { EXIT } from '../../functions/cli/exit-codes.ts';
import { openArchiveRunner } from '../../functions/cli/query-runners.ts';
import { ArchivedObjectError } from '../../functions/domain/errors.ts';
import { mediaRefKey } from '../../functions/domain/media-refs.ts';
import { stateKey } from '../../functions/domain/partition.ts';
import type { ArchiveRecord } from '../../functions/domain/record.ts';
import { parseRecordLine, serializeRecord } from '../../functions/domain/record-codec.ts';
import { serializeInline } from '../../functions/domain/state-layout.ts';
import { auditArchive } from '../../functions/query/audit/audit.ts';
import { readReferences, referencesInObjects } from '../../functions/query/audit/media-references.ts';
import type { AuditReport, Finding } from '../../functions/query/audit/report.ts';
import { readObjectTargets } from '../../functions/query/audit/targets.ts';
import { mediaRefsOf, messagesFromRecords } from '../../functions/query/transcript/model.ts';
import type { Simulator } from '../../functions/simulator/index.ts';
import { listAll } from '../helpers/archive.ts';
import { engineRun, startEngineSimulator } from '../helpers/engine.ts';
import { captureExportIo } from '../helpers/export.ts';
import { FakeClock } from '../helpers/fake-clock.ts';
import { archivedManifestRow } from '../helpers/media-fixtures.ts';
import { readState } from '../helpers/state.ts';

const ZONE = 'Asia/Shanghai';
let sim: Simulator;
let base = '';
let original = '';
let sdkAppId = 0;
let copies = 0;

beforeAll(async () => {
  // The rates the test client is configured for: two runs back to back list the groups within a
  // second, which the default 1/s would answer with a frequency limit.
  sim = await startEngineSimulator({
    seed: 31,
    retentionDays: 365,
    dataset: {
      groups: 6,
      activeFraction: 1,
      messagesPerActiveGroup: [40, 120],
      historyDays: 12,
      deletedFraction: 0.03,
      recalledFraction: 0.03,
      typeWeights: { AVChatRoom: 0 },
      extraGroups: [
        {
          groupId: '@TGS#_@TGS#cAUDITTOPICS',
          type: 'Community',
          messages: 0,
          topics: [{ topicId: '@TGS#_@TGS#cAUDITTOPICS@TOPIC#_@TOPIC#cONE', messages: 50 }],
        },
      ],
    },
  });
  sdkAppId = sim.apps[0]?.sdkAppId ?? 0;
  base = await mkdtemp(join(tmpdir(), 'audit-'));
  original = join(base, 'archive');
  await engineRun(sim, new LocalFolderStore(original), { timeZone: ZONE }).run();
  const grow = sim.groups().find((g) => g.type === 'Public' && !g.deleted);
  if (grow) {
    // Changes after archiving, which the second run's rescan records as revision rows.
    for (let seq = grow.nextMsgSeq - 1, edits = 0; seq > 0 && edits < 4; seq--) {
      try {
        if (edits % 2 === 0) sim.modifyMessage(grow.groupId, seq);
        else sim.recallMessage(grow.groupId, seq);
        edits++;
      } catch {
        // a placeholder cannot be edited: try the one before
      }
    }
    sim.appendMessages(grow.groupId, 25);
  }
  // Rows are compared only when observed before the rescan's cycle started (whole seconds): the
  // first run may have started within the same second on a fast machine.
  await engineRun(sim, new LocalFolderStore(original), {
    timeZone: ZONE,
    rescanDays: 30,
    observedAtSec: Math.floor(Date.now() / 1000) + 1,
  }).run();
}, 120_000);

afterAll(async () => {
  await sim?.stop();
  if (base) await rm(base, { recursive: true, force: true });
});

/** A fresh copy of the engine's archive to damage. */
async function copy(): Promise<{ dir: string; store: LocalFolderStore }> {
  const dir = join(base, `copy${copies++}`);
  await cp(original, dir, { recursive: true });
  return { dir, store: new LocalFolderStore(dir) };
}

/**
 * A folder in which some objects are in an archived storage class, as S3 shows them: listed by
 * `listArchived`, and a GET refused with the store's ArchivedObjectError.
 */
class ArchivedClassStore extends LocalFolderStore {
  public constructor(
    dir: string,
    /** GET refused (any archived object; an Intelligent-Tiering archive tier shows only so). */
    private readonly refused: ReadonlySet<string>,
    /** Listed with an archived storage class (Glacier Flexible Retrieval, Deep Archive). */
    private readonly listed: ReadonlySet<string> = new Set(),
  ) {
    super(dir);
  }

  public override async get(key: string) {
    if (this.refused.has(key) || this.listed.has(key))
      throw new ArchivedObjectError(`${key} is archived`, { key, storageClass: 'GLACIER' });
    return super.get(key);
  }

  public async *listArchived(prefix: string): AsyncIterable<string> {
    for await (const key of this.list(prefix)) if (this.listed.has(key)) yield key;
  }
}

async function audit(dir: string, store = new LocalFolderStore(dir)): Promise<AuditReport> {
  const runner = await openArchiveRunner({
    archive: dir,
    timeZone: ZONE,
    clock: new FakeClock(),
    workGroup: 'w',
    database: 'd',
  });
  try {
    return await auditArchive(runner, store, { archive: dir, timeZone: ZONE, nowMs: 0 });
  } finally {
    runner.close();
  }
}

async function linesOf(store: LocalFolderStore, key: string): Promise<string[]> {
  const object = await store.get(key);
  if (object === undefined) throw new Error(`no object ${key}`);
  return gunzipSync(object.body)
    .toString('utf8')
    .split('\n')
    .filter((l) => l.length > 0);
}

async function writeLines(store: LocalFolderStore, key: string, lines: readonly string[]): Promise<void> {
  await store.delete(key);
  await store.put(key, gzipSync(`${lines.join('\n')}\n`));
}

async function messageObjects(store: LocalFolderStore): Promise<string[]> {
  return (await listAll(store, 'messages/')).filter((k) => k.endsWith('.ndjson.gz'));
}

/** Message objects, the ones with the most rows first. */
async function objectsBySize(store: LocalFolderStore): Promise<string[]> {
  const sized = await Promise.all(
    (await messageObjects(store)).map(async (k) => [k, (await linesOf(store, k)).length] as const),
  );
  return sized.sort((x, y) => y[1] - x[1]).map(([k]) => k);
}

/**
 * The media references of the archive's first captures (original sizes), each with a manifest row
 * as the media copier writes it and its object under media/.
 */
async function mediaOfArchive(store: LocalFolderStore) {
  const records = (await Promise.all((await messageObjects(store)).map((k) => linesOf(store, k))))
    .flat()
    .map(parseRecordLine);
  const refs = messagesFromRecords(records)
    .filter((m) => (m.versions[0]?.isPlace ?? 0) === 0)
    .flatMap((m) => mediaRefsOf({ ...m, versions: m.versions.slice(0, 1) }))
    .filter((r) => r.sizeClass !== 'large' && r.sizeClass !== 'thumbnail');
  expect(refs.length).toBeGreaterThan(5);
  const rows = refs.map((ref, i) =>
    archivedManifestRow(
      ref,
      `media/sha256/${String(i).padStart(64, '0').slice(0, 2)}/${String(i).padStart(64, '0')}`,
      'application/octet-stream',
      1,
    ),
  );
  for (const row of rows) await store.put(row.object_key as string, new Uint8Array([1]));
  return { refs, rows };
}

async function putManifest(store: LocalFolderStore, rows: readonly unknown[]): Promise<void> {
  const manifestKey = `media-manifest/sdkappid=${sdkAppId}/dt=2026-01-01/part-test-00000.ndjson.gz`;
  await store.put(manifestKey, gzipSync(`${rows.map((r) => JSON.stringify(r)).join('\n')}\n`));
}

/**
 * Moves the body of the object's first message with media into `extra` (as the record mapping does
 * for a `MsgBody` the column cannot hold), in the object with the most such messages; returns it.
 */
async function keepBodyInExtra(store: LocalFolderStore): Promise<string> {
  const hasMedia = (r: ArchiveRecord) =>
    r.is_place_msg === 0 &&
    r.msg_body.some((e) => e.msg_type !== 'TIMTextElem' && e.msg_type !== 'TIMFaceElem');
  const counted = await Promise.all(
    (await messageObjects(store)).map(async (k) => {
      const records = (await linesOf(store, k)).map(parseRecordLine);
      return [k, records.filter(hasMedia).length] as const;
    }),
  );
  const [key] = counted.sort((a, b) => b[1] - a[1])[0] ?? [''];
  const records = (await linesOf(store, key)).map(parseRecordLine);
  const at = records.findIndex(hasMedia);
  const record = records[at] as ArchiveRecord;
  const body = record.msg_body.map((e) => ({ MsgType: e.msg_type, MsgContent: e.msg_content }));
  records[at] = { ...record, msg_body: [], extra: { ...(record.extra ?? {}), MsgBody: body } };
  await writeLines(store, key, records.map(serializeRecord));
  return key;
}

const unexplained = (report: AuditReport) => report.findings.filter((f) => !f.explained);
const seqsOf = (f: Finding | undefined) =>
  f?.seqs.flatMap(([a, b]) => Array.from({ length: b - a + 1 }, (_, i) => a + i));
const id = (r: Pick<ArchiveRecord, 'group_id' | 'topic_id'>) => `${r.group_id}|${r.topic_id ?? ''}`;

describe('npm run audit', () => {
  it('passes on the archive the engine made, with every gap classified', async () => {
    const report = await audit(original);
    expect(unexplained(report)).toEqual([]);
    const app = report.apps[0];
    expect(app?.targets.length).toBeGreaterThan(5);
    expect(app?.targets.some((t) => t.topicId !== null)).toBe(true);
    const placeholders = app?.targets.reduce(
      (n, t) => n + t.gaps.deletedPlaceholders.length + t.gaps.recalledPlaceholders.length,
      0,
    );
    expect(placeholders).toBeGreaterThan(0);
    // The rescan's revision rows are there and audited (chains without a hole, no duplicate).
    expect(app?.targets.reduce((n, t) => n + t.revisionRows, 0)).toBeGreaterThanOrEqual(4);
    for (const t of app?.targets ?? []) {
      expect(t.highWater).toBe(t.lastSeq);
      expect(t.gaps.unexplained).toEqual([]);
    }

    const io = captureExportIo();
    expect(await runAuditCommand(['--archive', original, '--time-zone', ZONE], io.deps)).toBe(EXIT.done);
    expect(io.out.join('')).toContain('Result: complete.');
    const json = captureExportIo();
    expect(await runAuditCommand(['--archive', original, '--time-zone', ZONE, '--json'], json.deps)).toBe(0);
    expect(JSON.parse(json.out.join('')).unexplained).toBe(0);
  });

  it('finds a deleted object: the seqs it held are missing, named by group and topic', async () => {
    const { dir, store } = await copy();
    // An object from the middle of the history: every target in it has rows before it elsewhere.
    const objects = await messageObjects(store);
    const rowsByObject = new Map<string, ArchiveRecord[]>();
    for (const key of objects) rowsByObject.set(key, (await linesOf(store, key)).map(parseRecordLine));
    const all = [...rowsByObject.values()].flat();
    const firstSeq = new Map<string, number>();
    for (const r of all) firstSeq.set(id(r), Math.min(firstSeq.get(id(r)) ?? Infinity, r.msg_seq));
    const victim = objects.find((k) =>
      (rowsByObject.get(k) ?? []).every((r) => r.msg_seq > (firstSeq.get(id(r)) ?? 0)),
    );
    expect(victim).toBeDefined();
    const lost = rowsByObject.get(victim as string) ?? [];
    await store.delete(victim as string);

    const report = await audit(dir);
    const missing = unexplained(report);
    expect(missing.every((f) => f.kind === 'missing-seqs')).toBe(true);
    const expected = new Map<string, number[]>();
    for (const r of lost) expected.set(id(r), [...(expected.get(id(r)) ?? []), r.msg_seq]);
    expect(missing).toHaveLength(expected.size);
    for (const [target, seqs] of expected) {
      const f = missing.find((m) => `${m.groupId}|${m.topicId ?? ''}` === target);
      expect(seqsOf(f)).toEqual([...seqs].sort((a, b) => a - b));
    }
    const io = captureExportIo();
    expect(await runAuditCommand(['--archive', dir, '--time-zone', ZONE], io.deps)).toBe(
      EXIT.auditUnexplained,
    );
    expect(io.out.join('')).toMatch(/UNEXPLAINED missing seqs: app \d+ group @TGS#\S+ (topic \S+ )?seqs \d/);
  });

  it('finds a duplicated row, naming both objects', async () => {
    const { dir, store } = await copy();
    const objects = await objectsBySize(store);
    const dtOf = (k: string | undefined) => k?.split('/dt=')[1]?.slice(0, 10);
    // Two objects of one dt folder (run 1's and run 2's), so only the duplicate is wrong.
    const a = objects.find((k) => objects.some((o) => o !== k && dtOf(o) === dtOf(k)));
    const b = objects.find((o) => o !== a && dtOf(o) === dtOf(a));
    const line = (await linesOf(store, a as string))[3] as string;
    await writeLines(store, b as string, [...(await linesOf(store, b as string)), line]);
    const record = parseRecordLine(line);

    const found = unexplained(await audit(dir));
    expect(found.map((f) => f.kind)).toEqual(['duplicate-rows']);
    expect(found[0]).toMatchObject({
      groupId: record.group_id,
      topicId: record.topic_id,
      seqs: [[record.msg_seq, record.msg_seq]],
    });
    expect([...(found[0]?.objects ?? [])].sort()).toEqual([a, b].sort());
  });

  it('finds a row in the wrong dt partition', async () => {
    const { dir, store } = await copy();
    const objects = await objectsBySize(store);
    const from = objects[0] as string;
    const to = objects.find(
      (k) => k.split('/dt=')[1]?.slice(0, 10) !== from.split('/dt=')[1]?.slice(0, 10),
    ) as string;
    const lines = await linesOf(store, from);
    const moved = lines[0] as string;
    await writeLines(store, from, lines.slice(1));
    await writeLines(store, to, [...(await linesOf(store, to)), moved]);
    const record = parseRecordLine(moved);

    const found = unexplained(await audit(dir));
    expect(found.map((f) => f.kind)).toEqual(['wrong-partition']);
    expect(found[0]).toMatchObject({
      groupId: record.group_id,
      topicId: record.topic_id,
      seqs: [[record.msg_seq, record.msg_seq]],
      objects: [to],
    });
  });

  it('finds a revision chain with a hole', async () => {
    const { dir, store } = await copy();
    const key = (await messageObjects(store))[0] as string;
    const lines = await linesOf(store, key);
    const record = parseRecordLine(lines[0] as string);
    const later = { ...record, revision: 2, change: 'modified' as const, observed_at: record.msg_time + 60 };
    await writeLines(store, key, [...lines, serializeRecord(later)]);

    const found = unexplained(await audit(dir));
    expect(found.map((f) => f.kind)).toEqual(['revision-hole']);
    expect(found[0]).toMatchObject({ groupId: record.group_id, seqs: [[record.msg_seq, record.msg_seq]] });
  });

  it('finds orphan objects: rows beyond the committed state, and a file that is no archive object', async () => {
    const { dir, store } = await copy();
    const key = (await messageObjects(store))[0] as string;
    const record = parseRecordLine((await linesOf(store, key))[0] as string);
    const report = await audit(dir);
    const target = report.apps[0]?.targets.find(
      (t) => t.groupId === record.group_id && t.topicId === record.topic_id,
    );
    const top = target?.highWater ?? 0;
    // What a checkpoint that never committed would leave: the next seqs of the target.
    const orphanKey = key.replace(/part-[^/]+$/, 'part-neverCommitted-00000.ndjson.gz');
    const beyond = [1, 2, 3].map((n) => serializeRecord({ ...record, msg_seq: top + n }));
    await store.put(orphanKey, gzipSync(`${beyond.join('\n')}\n`));
    const strayKey = key.replace(/part-[^/]+$/, 'notes.txt');
    await store.put(strayKey, new TextEncoder().encode('left here by hand'));

    const found = unexplained(await audit(dir));
    expect(found.map((f) => f.kind).sort()).toEqual(['orphan-object', 'orphan-object']);
    expect(found).toContainEqual(
      expect.objectContaining({
        groupId: record.group_id,
        topicId: record.topic_id,
        seqs: [[top + 1, top + 3]],
        objects: [orphanKey],
      }),
    );
    expect(found).toContainEqual(expect.objectContaining({ groupId: null, objects: [strayKey] }));
  });

  it('finds a missing media object, a reference without a manifest row and an orphan media object', async () => {
    const { dir, store } = await copy();
    const { refs, rows } = await mediaOfArchive(store);
    const [dropped, unmanifested, ...kept] = rows;
    await putManifest(store, [dropped, ...kept]);
    expect(unexplained(await audit(dir))).toEqual([
      expect.objectContaining({
        kind: 'media-unmanifested',
        groupId: unmanifested?.group_id,
        seqs: [[unmanifested?.msg_seq, unmanifested?.msg_seq]],
      }),
      expect.objectContaining({ kind: 'media-orphan', objects: [unmanifested?.object_key] }),
    ]);
    await store.delete(dropped?.object_key as string);
    await store.put(`media/sha256/zz/${'f'.repeat(64)}`, new Uint8Array([2]));

    const found = unexplained(await audit(dir));
    expect(found.map((f) => f.kind).sort()).toEqual([
      'media-object-missing',
      'media-orphan',
      'media-unmanifested',
    ]);
    expect(found).toContainEqual(
      expect.objectContaining({
        kind: 'media-object-missing',
        groupId: dropped?.group_id,
        topicId: dropped?.topic_id,
        seqs: [[dropped?.msg_seq, dropped?.msg_seq]],
        objects: [dropped?.object_key],
      }),
    );
    expect(mediaRefKey(refs[0] as (typeof refs)[number])).toContain(`|${rows[0]?.element_path}|`);
  });
});

describe('npm run audit with objects in archived storage classes', () => {
  it('skips an object whose GET is refused as archived, counted per target and explained', async () => {
    const { dir, store } = await copy();
    await putManifest(store, (await mediaOfArchive(store)).rows);
    // The object the audit must GET: one of its rows keeps its MsgBody in `extra`.
    const key = await keepBodyInExtra(store);
    const full = await audit(dir);
    expect(unexplained(full)).toEqual([]);
    const targets = new Set((await linesOf(store, key)).map(parseRecordLine).map(id));

    const report = await audit(dir, new ArchivedClassStore(dir, new Set([key])));

    expect(unexplained(report)).toEqual([]);
    expect(report.apps[0]?.unreadableArchived).toBe(1);
    const skipped = report.findings.filter((f) => f.kind === 'archived-unreadable');
    expect(skipped.map((f) => `${f.groupId}|${f.topicId ?? ''}`).sort()).toEqual([...targets].sort());
    for (const f of skipped) expect(f).toMatchObject({ explained: true, objects: [key] });
    expect(report.apps[0]?.media.references).toBeLessThan(full.apps[0]?.media.references ?? 0);
  });

  it('reports an object the query skips (Athena skips Glacier) as archived, not as an orphan', async () => {
    const { dir, store } = await copy();
    const [key] = await objectsBySize(store);
    // Out of the tables' reach, as Athena leaves a Glacier Flexible Retrieval object, still listed.
    const hidden = `${key}.glacier`;
    await store.put(hidden, (await store.get(key ?? ''))?.body ?? new Uint8Array());
    await store.delete(key ?? '');
    expect((await audit(dir)).findings).toContainEqual(
      expect.objectContaining({ kind: 'orphan-object', objects: [hidden] }),
    );

    const report = await audit(dir, new ArchivedClassStore(dir, new Set(), new Set([hidden])));

    expect(report.findings.filter((f) => f.kind === 'orphan-object')).toEqual([]);
    expect(report.findings).toContainEqual(
      expect.objectContaining({
        kind: 'archived-unreadable',
        explained: true,
        groupId: null,
        objects: [hidden],
      }),
    );
    expect(report.apps[0]?.unreadableArchived).toBe(1);
    // Which seqs it holds is unknown without a restore: they still read as missing (docs/audit.md).
    expect(unexplained(report).map((f) => f.kind)).toContain('missing-seqs');
  });
});

describe('media references found by the query engine', () => {
  it('are the references of reading and parsing every message object', async () => {
    const { dir, store } = await copy();
    const extraKey = await keepBodyInExtra(store);
    const runner = await openArchiveRunner({
      archive: dir,
      timeZone: ZONE,
      clock: new FakeClock(),
      workGroup: 'w',
      database: 'd',
    });
    try {
      const app = [{ type: 'string' as const, value: String(sdkAppId) }];
      const objectTargets = await readObjectTargets(runner, app);
      const bySql = await readReferences({ runner, app, store, objectTargets, archived: new Set() });
      const byObjects = await referencesInObjects(store, await messageObjects(store), new Set());
      expect(objectTargets.filter((o) => o.elsewhereRows > 0).map((o) => o.key)).toEqual([extraKey]);
      expect([...bySql.keys()].sort()).toEqual([...byObjects.keys()].sort());
      expect([...bySql.entries()].sort()).toEqual([...byObjects.entries()].sort());
      // The archive covers every kind: images, files, sounds, videos and media nested in a forward.
      const sizeClasses = new Set([...bySql.keys()].map((k) => k.split('|')[4]));
      expect([...sizeClasses].sort()).toEqual(['file', 'original', 'sound', 'video', 'video-thumbnail']);
      expect([...bySql.keys()].some((k) => (k.split('|')[3] ?? '').includes('.'))).toBe(true);
    } finally {
      runner.close();
    }
  });
});

describe('npm run audit on hostile names', () => {
  it('exits 2 naming the folder when --report points into a folder that does not exist', async () => {
    const report = join(base, 'no-such-folder', 'audit.json');
    const io = captureExportIo();
    expect(await runAuditCommand(['--archive', original, '--report', report], io.deps)).toBe(EXIT.usage);
    expect(io.err.join('')).toContain(
      `--report ${report}: the folder ${join(base, 'no-such-folder')} does not exist`,
    );
    expect(io.out).toEqual([]);
  });

  it('reads an archive whose folder name holds glob characters (`[`, `*`, `?`) as that folder', async () => {
    const dir = join(base, 'arch[1]*?');
    await cp(original, dir, { recursive: true });
    // A sibling the glob `arch[1]*?` would match instead, holding nothing.
    await cp(join(original, 'state'), join(base, 'arch1xy', 'state'), { recursive: true });
    const report = await audit(dir);
    expect(unexplained(report)).toEqual([]);
    expect(report.apps[0]?.rows).toBe((await audit(original)).apps[0]?.rows);
    expect(report.apps[0]?.rows).toBeGreaterThan(100);
  });

  it('prints group ids from the archive with control and bidi characters escaped', async () => {
    const { dir, store } = await copy();
    const hostile = '@TGS#\u001b]0;pwned\u0007\u001b[2J\nUNEXPLAINED forged\u009b31m\u202egnp.exe';
    const key = (await messageObjects(store))[0] as string;
    const lines = (await linesOf(store, key)).map((line) =>
      serializeRecord({ ...parseRecordLine(line), group_id: hostile }),
    );
    await writeLines(store, key, lines);

    const io = captureExportIo();
    expect(await runAuditCommand(['--archive', dir, '--time-zone', ZONE], io.deps)).toBe(
      EXIT.auditUnexplained,
    );
    const text = io.out.join('');
    // biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is the point.
    const raw = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/;
    expect(text).not.toMatch(raw);
    expect(text).toContain(
      'group @TGS#\\u001b]0;pwned\\u0007\\u001b[2J\\u000aUNEXPLAINED forged\\u009b31m\\u202egnp.exe',
    );
    expect(text.split('\n').filter((l) => l.startsWith('UNEXPLAINED forged'))).toEqual([]);

    const json = captureExportIo();
    await runAuditCommand(['--archive', dir, '--time-zone', ZONE, '--json'], json.deps);
    expect(json.out.join('')).not.toMatch(raw);
    const parsed = JSON.parse(json.out.join('')) as AuditReport;
    expect(parsed.findings.some((f) => f.groupId === hostile)).toBe(true);
  });

  it('keeps a group id holding NUL whole: one group, no topic', async () => {
    const { dir, store } = await copy();
    const withNul = '@TGS#\u0000@TOPIC#_@TOPIC#cFORGED';
    const key = (await messageObjects(store))[0] as string;
    const lines = (await linesOf(store, key)).map((line) =>
      serializeRecord({ ...parseRecordLine(line), group_id: withNul, topic_id: null }),
    );
    await writeLines(store, key, lines);
    const report = await audit(dir);
    const targets = report.apps[0]?.targets ?? [];
    expect(targets.filter((t) => t.groupId === withNul).map((t) => t.topicId)).toEqual([null]);
    expect(targets.some((t) => t.groupId === '@TGS#' || t.topicId === '@TOPIC#_@TOPIC#cFORGED')).toBe(false);
    expect(report.findings.some((f) => f.groupId === withNul && f.topicId === null)).toBe(true);
  });

  it('counts each seq of a range in progress once: not yet archived, never also "before the first capture"', async () => {
    const { dir, store } = await copy();
    const state = await readState(store, sdkAppId);
    const before = await audit(dir);
    const chosen = before.apps[0]?.targets.find(
      (t) => t.topicId === null && t.generation === 0 && t.firstSeq === 1 && t.highWater >= 30,
    );
    if (state === undefined || chosen === undefined) throw new Error('no target to interrupt');
    // As if the server returned nothing below seq 11 yet: the range is in progress down to cursor 10.
    const cursor = 10;
    const targets = state.targets.map((t) =>
      t.groupId === chosen.groupId && t.topicId === null
        ? { ...t, highWater: 0, inProgress: { top: t.highWater, cursor, floorTime: null, topTime: null } }
        : t,
    );
    await store.delete(stateKey(sdkAppId));
    await store.put(stateKey(sdkAppId), Buffer.from(serializeInline(state.head, targets)));
    for (const key of await messageObjects(store)) {
      const lines = await linesOf(store, key);
      const kept = lines.filter((line) => {
        const r = parseRecordLine(line);
        return !(r.group_id === chosen.groupId && r.topic_id === null && r.msg_seq <= cursor);
      });
      if (kept.length < lines.length) await writeLines(store, key, kept);
    }
    const after = (await audit(dir)).apps[0]?.targets.find(
      (t) => t.groupId === chosen.groupId && t.topicId === null,
    );
    expect(after?.gaps.notYetArchived).toEqual([[1, cursor]]);
    expect(after?.gaps.beforeFirstCapture).toEqual([]);
    expect(after?.gaps.unexplained).toEqual([]);
  });
});
