/**
 * The revision views on DuckDB over records written by the partition writer into a temp folder:
 * `messages_latest` keeps one row per message (its highest revision), `message_changes` one row
 * per revision above 0 with the content before and after, `messages_flat` and the named queries
 * follow the latest revision, lines written before the version columns existed read as revision 0,
 * and quarantined rows stay out of the message views.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalFolderStore } from '../../functions/adapters/local-folder/local-folder-store.ts';
import { systemClock } from '../../functions/adapters/system-clock.ts';
import { openArchiveRunner } from '../../functions/cli/query-runners.ts';
import {
  type ArchiveRecord,
  type RecordContext,
  toQuarantinedRecord,
  toRecord,
} from '../../functions/domain/record.ts';
import { serializeRecord } from '../../functions/domain/record-codec.ts';
import type { RawMessage } from '../../functions/domain/tencent-types.ts';
import { PartitionWriter } from '../../functions/engine/partition-writer.ts';
import { findNamedQuery, parseParams, runNamedQuery } from '../../functions/query/named-queries.ts';
import type { QueryRunner } from '../../functions/query/port.ts';
import { collectRows } from '../../functions/query/result.ts';

const ZONE = 'UTC';
const T = Date.UTC(2026, 10, 20, 8, 0, 0) / 1000;
const ctx: RecordContext = { sdkAppId: 1400000000, groupId: '@TGS#1', topicId: null, observedAt: T + 100 };
const text = (seq: number, body: string): RawMessage => ({
  From_Account: `user${seq}`,
  IsPlaceMsg: 0,
  MsgBody: [{ MsgType: 'TIMTextElem', MsgContent: { Text: body } }],
  MsgRandom: seq,
  MsgSeq: seq,
  MsgTimeStamp: T + seq,
});

let dir = '';
let db: QueryRunner;

async function write(runId: string, records: ArchiveRecord[]): Promise<void> {
  const writer = new PartitionWriter({
    sdkAppId: 1400000000,
    runId,
    timeZone: ZONE,
    store: new LocalFolderStore(dir),
  });
  writer.addAll(records);
  await writer.flush();
}

const rows = async (sql: string) => collectRows(await db.run(sql));

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'revisions-duckdb-'));
  // Run 1: five messages first captured; one in a topic with the same seq as a group message.
  await write('run1', [
    ...[1, 2, 3, 4].map((seq) => toRecord(text(seq, `hello ${seq}`), ctx)),
    toRecord(text(1, 'topic message'), { ...ctx, topicId: '@TOPIC#a' }),
    toQuarantinedRecord(
      { text: '{"MsgSeq":9,"MsgTimeStamp":null}', reason: 'MsgTimeStamp: null', msgSeq: 9 },
      { ...ctx, fallbackTime: T + 9 },
    ),
  ]);
  // Run 2: seq 1 edited, seq 2 recalled, seq 3 deleted.
  const later = { ...ctx, observedAt: T + 86_400 };
  await write('run2', [
    toRecord(text(1, 'hello 1 (edited)'), { ...later, revision: 1, change: 'modified' }),
    toRecord({ ...text(2, ''), IsPlaceMsg: 2, MsgBody: [] }, { ...later, revision: 1, change: 'recalled' }),
    toRecord(
      { IsPlaceMsg: 1, MsgBody: [], From_Account: '', MsgSeq: 3, MsgTimeStamp: T + 3 },
      { ...later, revision: 1, change: 'deleted' },
    ),
  ]);
  // Run 3: seq 1 edited again.
  await write('run3', [
    toRecord(text(1, 'hello 1 (v3)'), {
      ...ctx,
      observedAt: T + 2 * 86_400,
      revision: 2,
      change: 'modified',
    }),
  ]);
  // A line written before the version columns existed (seq 5), in its own object.
  const legacy = JSON.parse(serializeRecord(toRecord(text(5, 'old line'), ctx))) as Record<string, unknown>;
  for (const key of ['revision', 'observed_at', 'change', 'generation', 'quarantined', 'raw'])
    delete legacy[key];
  const folder = join(dir, 'messages/sdkappid=1400000000/dt=2026-11-20');
  await mkdir(folder, { recursive: true });
  await writeFile(join(folder, 'part-legacy-00000.ndjson.gz'), gzipSync(`${JSON.stringify(legacy)}\n`));
  db = await openArchiveRunner({
    archive: dir,
    timeZone: ZONE,
    clock: systemClock,
    workGroup: 'wg',
    database: 'db',
  });
});

afterAll(async () => {
  db?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('revision views on DuckDB', () => {
  it('messages keeps every row; messages_latest one per message at its highest revision', async () => {
    expect(await rows('SELECT count(*) FROM messages')).toEqual([['11']]);
    expect(
      await rows(
        'SELECT topic_id, msg_seq, revision, change, text, is_place_msg FROM messages_latest ORDER BY topic_id NULLS FIRST, msg_seq',
      ),
    ).toEqual([
      [null, '1', '2', 'modified', 'hello 1 (v3)', '0'],
      [null, '2', '1', 'recalled', null, '2'],
      [null, '3', '1', 'deleted', null, '1'],
      [null, '4', '0', null, 'hello 4', '0'],
      [null, '5', '0', null, 'old line', '0'],
      ['@TOPIC#a', '1', '0', null, 'topic message', '0'],
    ]);
  });

  it('message_changes has one row per change with before and after', async () => {
    expect(
      await rows(
        'SELECT msg_seq, revision, change, sender, text_before, text_after, is_place_msg_before, is_place_msg_after, observed_on FROM message_changes ORDER BY msg_seq, revision',
      ),
    ).toEqual([
      ['1', '1', 'modified', 'user1', 'hello 1', 'hello 1 (edited)', '0', '0', '2026-11-21'],
      ['1', '2', 'modified', 'user1', 'hello 1 (edited)', 'hello 1 (v3)', '0', '0', '2026-11-22'],
      ['2', '1', 'recalled', 'user2', 'hello 2', null, '0', '2', '2026-11-21'],
      ['3', '1', 'deleted', 'user3', 'hello 3', null, '0', '1', '2026-11-21'],
    ]);
  });

  it('messages_flat and the named queries read the latest revision', async () => {
    expect(
      await rows(
        'SELECT count(*), count_if(is_recalled), count_if(is_deleted), max(revision) FROM messages_flat',
      ),
    ).toEqual([['6', '1', '1', '2']]);
    const search = findNamedQuery('text-search');
    if (!search) throw new Error('no text-search query');
    const found = await collectRows(
      await runNamedQuery(
        db,
        search,
        parseParams(search, { text: 'hello 1', from: '2026-11-20', to: '2026-11-20' }),
      ),
    );
    expect(found.map((r) => r[4])).toEqual(['hello 1 (v3)']);
    const changes = findNamedQuery('changes');
    if (!changes) throw new Error('no changes query');
    const seen = await collectRows(
      await runNamedQuery(db, changes, parseParams(changes, { from: '2026-11-20', to: '2026-11-20' })),
    );
    expect(seen.map((r) => [r[4], r[6], r[7], r[0]])).toEqual([
      ['1', 'modified', '1', '2026-11-21'],
      ['1', 'modified', '2', '2026-11-22'],
      ['2', 'recalled', '1', '2026-11-21'],
      ['3', 'deleted', '1', '2026-11-21'],
    ]);
    const none = await collectRows(
      await runNamedQuery(db, changes, parseParams(changes, { from: '2026-11-21', to: '2026-11-30' })),
    );
    expect(none).toEqual([]);
  });

  it('keeps quarantined rows in messages only, with their exact text', async () => {
    expect(await rows('SELECT msg_seq, raw FROM messages WHERE quarantined')).toEqual([
      ['9', '{"MsgSeq":9,"MsgTimeStamp":null}'],
    ]);
    expect(await rows('SELECT count(*) FROM messages_latest WHERE msg_seq = 9')).toEqual([['0']]);
  });
});
