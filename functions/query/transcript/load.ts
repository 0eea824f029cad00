/**
 * The records of one conversation, read exactly as archived. The query runner finds which objects
 * hold the group's rows in the date range (`"$path"`, with the partition filter, so Athena reads
 * only those days); the objects are then read from the store and parsed losslessly. Athena's own
 * rendering of `msg_body` cannot serve here: it lower-cases `MsgContent` keys and drops fields the
 * table does not declare.
 */
import { gunzipNdjson } from '../../domain/ndjson-gzip.ts';
import { EXTRA_REASON_KEY } from '../../domain/record.ts';
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

/** The conversation's records, and the apps whose objects hold them (whose names apply). */
export interface Conversation {
  readonly records: TranscriptRecord[];
  readonly sdkAppIds: number[];
}

/** The app of a message object key (`messages/sdkappid=<id>/…`), if it names one. */
export function sdkAppIdOfKey(key: string): number | undefined {
  const match = /^messages\/sdkappid=(\d+)\//.exec(key);
  const id = match === null ? Number.NaN : Number(match[1]);
  return Number.isSafeInteger(id) ? id : undefined;
}

/**
 * Every record of the conversation, every revision included, in no particular order. A stored
 * line that does not parse as a record is kept as an unreadable one ({@link unreadableLine}) when
 * it names this conversation; one that names no conversation is left out and reported through
 * `warn`, as it may belong to another group.
 */
export async function loadConversation(
  runner: QueryRunner,
  store: ObjectStore,
  query: ConversationQuery,
  warn: (message: string) => void = () => {},
): Promise<Conversation> {
  const values: ParamValue[] = [
    { type: 'date', value: query.from },
    { type: 'date', value: query.to },
    { type: 'string', value: query.groupId },
    ...(query.topicId === null ? [] : [{ type: 'string', value: query.topicId } as const]),
  ];
  const rows = await collectRows(await runner.run(conversationObjectsSql(query.topicId !== null), values));
  const records: TranscriptRecord[] = [];
  const apps = new Set<number>();
  for (const [path] of rows) {
    const key = path == null ? undefined : keyOfPath(path);
    if (key === undefined) continue;
    const app = sdkAppIdOfKey(key);
    if (app !== undefined) apps.add(app);
    const object = await store.get(key);
    if (object === undefined) continue;
    gunzipNdjson(object.body).forEach((line, i) => {
      if (line.length === 0) return;
      const record = readLine(line);
      if (record === undefined) {
        warn(`transcript: line ${i + 1} of ${key} is not a record and names no group: left out\n`);
        return;
      }
      if (record.group_id !== query.groupId) return;
      if (query.topicId !== null && record.topic_id !== query.topicId) return;
      records.push(record);
    });
  }
  return { records, sdkAppIds: [...apps].sort((a, b) => a - b) };
}

function readLine(line: string): TranscriptRecord | undefined {
  try {
    return parseRecordLine(line);
  } catch (error) {
    return unreadableLine(line, error);
  }
}

/**
 * A stored line that is not a valid record, as an unreadable (quarantined) one: its exact text in
 * `raw`, the columns it has in the expected types as a best effort (an invalid time stays NaN,
 * shown as "invalid time"); undefined when it names no group.
 */
export function unreadableLine(line: string, error: unknown): TranscriptRecord | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(line);
  } catch {
    return undefined;
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) return undefined;
  const fields = parsed as Record<string, unknown>;
  if (typeof fields.group_id !== 'string') return undefined;
  const int = (value: unknown) => (Number.isSafeInteger(value) ? (value as number) : undefined);
  return {
    group_id: fields.group_id,
    topic_id: typeof fields.topic_id === 'string' ? fields.topic_id : null,
    msg_seq: int(fields.msg_seq) ?? 0,
    msg_time: int(fields.msg_time) ?? Number.NaN,
    from_account: typeof fields.from_account === 'string' ? fields.from_account : null,
    is_place_msg: 0,
    is_system_msg: 0,
    msg_body: [],
    cloud_custom_data: null,
    extra: { [EXTRA_REASON_KEY]: error instanceof Error ? error.message : String(error) },
    quarantined: true,
    raw: line,
  };
}
