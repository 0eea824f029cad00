/**
 * What the views show for the two kinds of row a reader could lose (DuckDB over a local archive):
 * - a quarantined item (issue 21): the `conversation` export has it as a row marked unreadable,
 *   with the reason and its exact text in `raw`, and `messages_unreadable` lists it;
 * - a deletion served with a zeroed time (issue 19): `messages_flat` keeps the message's own time
 *   from its first revision, and a placeholder first seen zeroed has no time (null), not 1970.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalFolderStore } from '../../functions/adapters/local-folder/local-folder-store.ts';
import { runExportCommand } from '../../functions/cli/export-command.ts';
import { messageObjectKey } from '../../functions/domain/partition.ts';
import { type ArchiveRecord, toRecord } from '../../functions/domain/record.ts';
import { serializeRecord } from '../../functions/domain/record-codec.ts';
import type { RawMessage } from '../../functions/domain/tencent-types.ts';
import { captureExportIo } from '../helpers/export.ts';
import {
  HOSTILE_APP,
  HOSTILE_DT,
  HOSTILE_GROUP,
  HOSTILE_T0,
  UNREADABLE_TEXT,
  writeHostileArchive,
} from '../helpers/hostile-transcript.ts';

let dir = '';

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'unreadable-views-'));
});

afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** Runs an export into `dir/<name>` and returns its JSON lines. */
async function exportRows(archive: string, name: string, args: readonly string[]) {
  const out = join(dir, name);
  const io = captureExportIo();
  const code = await runExportCommand(
    [...args, '--out', out, '--archive', archive, '--time-zone', 'UTC'],
    io.deps,
  );
  expect(code, io.err.join('')).toBe(0);
  const text = await readFile(out, 'utf8');
  return text
    .trimEnd()
    .split('\n')
    .filter((l) => l.length > 0)
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

describe('an item the archive could not read', () => {
  it('is a row of the conversation export, marked unreadable, with its reason and exact text', async () => {
    const archive = join(dir, 'hostile');
    await writeHostileArchive(new LocalFolderStore(archive), [1, 2, 16]);
    const rows = await exportRows(archive, 'conversation.jsonl', [
      'conversation',
      '--params',
      `group_id=${HOSTILE_GROUP}`,
      `from=${HOSTILE_DT}`,
      `to=${HOSTILE_DT}`,
    ]);
    expect(rows.map((r) => [r.msg_seq, r.unreadable])).toEqual([
      [1, false],
      [2, false],
      [16, true],
    ]);
    const odd = rows[2];
    expect(odd?.text).toBe('unreadable: item is not JSON');
    expect(odd?.raw).toBe(UNREADABLE_TEXT);
    expect(odd?.sent_at).toBe('2026-12-01 09:00:16');
    expect(rows[0]?.raw).toBeNull();

    const listed = await exportRows(archive, 'unreadable.jsonl', [
      'SELECT group_id, msg_seq, reason, raw, dt FROM messages_unreadable',
    ]);
    expect(listed).toEqual([
      {
        group_id: HOSTILE_GROUP,
        msg_seq: 16,
        reason: 'item is not JSON',
        raw: UNREADABLE_TEXT,
        dt: HOSTILE_DT,
      },
    ]);
  });
});

describe('a deletion served with a zeroed time', () => {
  it('keeps the time of its first revision in messages_flat, and shows no time when none was ever known', async () => {
    const archive = join(dir, 'zeroed');
    const ctx = { sdkAppId: HOSTILE_APP, groupId: HOSTILE_GROUP, topicId: null, observedAt: HOSTILE_T0 };
    const message = (seq: number, time: number): ArchiveRecord =>
      toRecord(
        {
          From_Account: 'alice',
          IsPlaceMsg: 0,
          MsgBody: [{ MsgType: 'TIMTextElem', MsgContent: { Text: `message ${seq}` } }],
          MsgRandom: seq,
          MsgSeq: seq,
          MsgTimeStamp: time,
        } as RawMessage,
        ctx,
      );
    const original = message(1, HOSTILE_T0 + 1);
    const deleted: ArchiveRecord = {
      ...original,
      msg_time: 0,
      msg_random: 0,
      from_account: '',
      is_place_msg: 1,
      msg_body: [],
      text: null,
      element_types: [],
      revision: 1,
      change: 'deleted',
      observed_at: HOSTILE_T0 + 3600,
    };
    const firstSeenZeroed: ArchiveRecord = { ...message(2, 0), from_account: '', is_place_msg: 1 };
    const key = messageObjectKey({ sdkAppId: HOSTILE_APP, dt: HOSTILE_DT, runId: 'zeroed', part: 0 });
    await new LocalFolderStore(archive).put(
      key,
      gzipSync(`${[original, deleted, firstSeenZeroed].map(serializeRecord).join('\n')}\n`),
    );
    const rows = await exportRows(archive, 'flat.jsonl', [
      'SELECT msg_seq, msg_time, sent_at, is_deleted FROM messages_flat ORDER BY msg_seq',
    ]);
    expect(rows).toEqual([
      { msg_seq: 1, msg_time: HOSTILE_T0 + 1, sent_at: '2026-12-01 09:00:01', is_deleted: true },
      { msg_seq: 2, msg_time: null, sent_at: null, is_deleted: true },
    ]);
    const latest = await exportRows(archive, 'latest.jsonl', [
      'SELECT msg_seq, msg_time, sent_at FROM messages_latest ORDER BY msg_seq',
    ]);
    // messages_latest passes msg_time through as served; its sent_at is the known time.
    expect(latest).toEqual([
      { msg_seq: 1, msg_time: 0, sent_at: '2026-12-01 09:00:01' },
      { msg_seq: 2, msg_time: 0, sent_at: null },
    ]);
  });
});
