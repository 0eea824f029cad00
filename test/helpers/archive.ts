/**
 * Reading an archive back and comparing it with the simulator's ground truth: the exactly-once check.
 */
import { gunzipSync } from 'node:zlib';
import { dateInZone } from '../../functions/domain/partition.ts';
import type { ArchiveRecord } from '../../functions/domain/record.ts';
import { parseRecordLine } from '../../functions/domain/record-codec.ts';
import type { ObjectStore } from '../../functions/domain/storage.ts';
import type { Simulator } from '../../functions/simulator/index.ts';

export interface ArchivedRow {
  record: ArchiveRecord;
  key: string;
  dt: string;
}

/** Every record in every message object of the store, with the object's `dt` partition. */
export async function readArchive(store: ObjectStore): Promise<ArchivedRow[]> {
  const rows: ArchivedRow[] = [];
  for await (const key of store.list('messages/')) {
    const object = await store.get(key);
    if (!object) continue;
    const dt = /\/dt=(\d{4}-\d{2}-\d{2})\//.exec(key)?.[1] ?? '?';
    const text = gunzipSync(object.body).toString('utf8');
    for (const line of text.split('\n'))
      if (line.length > 0) rows.push({ record: parseRecordLine(line), key, dt });
  }
  return rows;
}

export const identity = (groupId: string, topicId: string | null, seq: number) =>
  `${groupId}|${topicId ?? ''}|${seq}`;

/** Identities of every message the simulator would return now (groups and topics with history). */
export function expectedIdentities(sim: Simulator, options: { withRecalledMsg?: boolean } = {}): string[] {
  const out: string[] = [];
  for (const group of sim.groups()) {
    if (group.deleted || group.type === 'AVChatRoom' || group.type === 'BChatRoom') continue;
    for (const m of sim.groundTruth(group.groupId, { withRecalledMsg: options.withRecalledMsg ?? true })) {
      out.push(identity(group.groupId, null, m.MsgSeq));
    }
    for (const topic of group.topics) {
      for (const m of sim.groundTruth(group.groupId, {
        topicId: topic.topicId,
        withRecalledMsg: options.withRecalledMsg ?? true,
      })) {
        out.push(identity(group.groupId, topic.topicId, m.MsgSeq));
      }
    }
  }
  return out;
}

/**
 * Problems with the archive: duplicates (of a message, or of one revision of it), missing and
 * unexpected messages, revisions without their predecessor, wrong `dt` folders.
 */
export function exactlyOnceProblems(rows: ArchivedRow[], expected: string[], timeZone: string): string[] {
  const problems: string[] = [];
  const seen = new Map<string, number>();
  const revisions = new Map<string, number>();
  for (const row of rows) {
    const id = identity(row.record.group_id, row.record.topic_id, row.record.msg_seq);
    if (row.record.revision === 0) seen.set(id, (seen.get(id) ?? 0) + 1);
    const revision = `${id}#${row.record.revision}`;
    revisions.set(revision, (revisions.get(revision) ?? 0) + 1);
    const dt = dateInZone(row.record.msg_time, timeZone);
    if (dt !== row.dt) problems.push(`${id} is in dt=${row.dt}, expected dt=${dt}`);
  }
  for (const [id, n] of seen) if (n > 1) problems.push(`${id} archived ${n} times`);
  for (const [revision, n] of revisions) {
    if (n > 1 && !revision.endsWith('#0')) problems.push(`${revision} archived ${n} times`);
    const [id, number] = revision.split('#') as [string, string];
    if (Number(number) > 0 && !revisions.has(`${id}#${Number(number) - 1}`))
      problems.push(`${revision} has no revision ${Number(number) - 1}`);
  }
  const want = new Set(expected);
  for (const id of want) if (!seen.has(id)) problems.push(`${id} missing`);
  for (const id of seen.keys()) if (!want.has(id)) problems.push(`${id} unexpected`);
  return problems;
}

/** Every key under `prefix`, in the order the store lists them. */
export async function listAll(store: ObjectStore, prefix: string): Promise<string[]> {
  const keys: string[] = [];
  for await (const key of store.list(prefix)) keys.push(key);
  return keys;
}

/** The highest revision of every message, by identity. */
export function latestRevisions(rows: readonly ArchivedRow[]): Map<string, ArchiveRecord> {
  const latest = new Map<string, ArchiveRecord>();
  for (const { record } of rows) {
    const id = identity(record.group_id, record.topic_id, record.msg_seq);
    const current = latest.get(id);
    if (current === undefined || record.revision > current.revision) latest.set(id, record);
  }
  return latest;
}
