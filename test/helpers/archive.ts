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
    if (row.record.msg_time <= 0) continue; // a zeroed placeholder: see zeroedDtProblems
    const dt = dateInZone(row.record.msg_time, timeZone);
    if (dt !== row.dt) problems.push(`${id} is in dt=${row.dt}, expected dt=${dt}`);
  }
  problems.push(...zeroedDtProblems(rows, timeZone));
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

/**
 * `dt` problems of zeroed placeholders (`MsgTimeStamp` 0, functions/domain/placeholder-time.ts):
 * a revision lies in the `dt` of its message's first capture; a first capture lies no earlier than
 * the `dt` of its nearest older archived neighbour with a time and no later than today (it is filed
 * under a neighbour's time, a newer message's, or the run's), never in 1970.
 */
function zeroedDtProblems(rows: readonly ArchivedRow[], timeZone: string): string[] {
  const today = dateInZone(Math.floor(Date.now() / 1000), timeZone);
  const problems: string[] = [];
  const streams = new Map<string, ArchivedRow[]>();
  for (const row of rows) {
    if (row.record.revision !== 0) continue;
    const key = `${row.record.group_id}|${row.record.topic_id ?? ''}|${row.record.generation}`;
    const list = streams.get(key) ?? [];
    list.push(row);
    streams.set(key, list);
  }
  const firstDt = new Map<string, string>();
  for (const [key, list] of streams) {
    list.sort((a, b) => a.record.msg_seq - b.record.msg_seq);
    let lower: string | undefined;
    for (const row of list) {
      firstDt.set(`${key}|${row.record.msg_seq}`, row.dt);
      if (row.record.msg_time > 0) {
        lower = row.dt;
        continue;
      }
      if (row.dt.startsWith('1970') || (lower !== undefined && row.dt < lower) || row.dt > today)
        problems.push(
          `zeroed ${key}|${row.record.msg_seq} is in dt=${row.dt}, expected dt=${lower}..${today}`,
        );
    }
  }
  for (const row of rows) {
    if (row.record.revision === 0 || row.record.msg_time > 0) continue;
    const key = `${row.record.group_id}|${row.record.topic_id ?? ''}|${row.record.generation}|${row.record.msg_seq}`;
    const first = firstDt.get(key);
    if (first !== row.dt)
      problems.push(
        `zeroed revision ${key}#${row.record.revision} is in dt=${row.dt}, its message in dt=${first}`,
      );
  }
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
