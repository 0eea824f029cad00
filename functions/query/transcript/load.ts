/**
 * The records of one conversation, read exactly as archived. The query runner finds which objects
 * hold the group's rows in the date range (`"$path"`, with the partition filter, so Athena reads
 * only those days); the objects are then read from the store and parsed losslessly. Athena's own
 * rendering of `msg_body` cannot serve here: it lower-cases `MsgContent` keys and drops fields the
 * table does not declare.
 */
import { gunzipSync } from 'node:zlib';
import { parseRecordLine } from '../../domain/record-codec.ts';
import type { ObjectStore } from '../../domain/storage.ts';
import type { ParamValue, QueryRunner } from '../port.ts';
import { collectRows } from '../result.ts';
import type { TranscriptRecord } from './model.ts';

/** Which conversation: a group (optionally one topic) and an inclusive `dt` range. */
export interface ConversationQuery {
  readonly groupId: string;
  readonly topicId: string | null;
  readonly from: string;
  readonly to: string;
}

/** The SQL that lists the objects holding a conversation (same text for DuckDB and Athena). */
export function conversationObjectsSql(topic: boolean): string {
  return (
    'SELECT DISTINCT "$path" AS path FROM messages WHERE dt BETWEEN ? AND ? AND group_id = ?' +
    (topic ? ' AND topic_id = ?' : '') +
    ' ORDER BY 1'
  );
}

/** The store key of an object from its `"$path"` (a local path or an `s3://` URL). */
export function keyOfPath(path: string): string | undefined {
  const at = path.lastIndexOf('messages/sdkappid=');
  return at < 0 ? undefined : path.slice(at);
}

/** Every record of the conversation, every revision included, in no particular order. */
export async function loadConversation(
  runner: QueryRunner,
  store: ObjectStore,
  query: ConversationQuery,
): Promise<TranscriptRecord[]> {
  const values: ParamValue[] = [
    { type: 'date', value: query.from },
    { type: 'date', value: query.to },
    { type: 'string', value: query.groupId },
    ...(query.topicId === null ? [] : [{ type: 'string', value: query.topicId } as const]),
  ];
  const rows = await collectRows(await runner.run(conversationObjectsSql(query.topicId !== null), values));
  const records: TranscriptRecord[] = [];
  for (const [path] of rows) {
    const key = path == null ? undefined : keyOfPath(path);
    if (key === undefined) continue;
    const object = await store.get(key);
    if (object === undefined) continue;
    for (const line of gunzipSync(object.body).toString('utf8').split('\n')) {
      if (line.length === 0) continue;
      const record = parseRecordLine(line);
      if (record.group_id !== query.groupId) continue;
      if (query.topicId !== null && record.topic_id !== query.topicId) continue;
      records.push(record);
    }
  }
  return records;
}
