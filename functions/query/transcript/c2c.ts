/**
 * A one-to-one conversation for the transcript (issue 26; docs/one-to-one.md): its rows read
 * exactly as archived, and the messages the renderer shows. As for groups (load.ts), the query
 * runner finds the objects that hold the pair's rows in the date range (`"$path"`, with the
 * partition filter), and the objects are read from the store and parsed losslessly. A message is
 * one per `msg_key` with its revisions as versions; a recall (`MsgFlagBits` 8) shows as recalled.
 */
import {
  type C2cRecord,
  conversationOf,
  fromC2cRecord,
  MSG_FLAG_RECALLED,
  parseC2cRecordLine,
} from '../../domain/c2c-record.ts';
import { gunzipNdjson } from '../../domain/ndjson-gzip.ts';
import { EXTRA_REASON_KEY } from '../../domain/record.ts';
import type { ObjectStore } from '../../domain/storage.ts';
import type { ParamValue, QueryRunner } from '../port.ts';
import { collectRows } from '../result.ts';
import { elementsOf, type TranscriptMessage } from './model.ts';

/** Which conversation: the pair (either order) and an inclusive `dt` range. */
export interface C2cConversationQuery {
  readonly pair: readonly [string, string];
  readonly from: string;
  readonly to: string;
}

/** The SQL that lists the objects holding a pair's rows (same text for DuckDB and Athena). */
export const C2C_OBJECTS_SQL =
  'SELECT DISTINCT "$path" AS path FROM c2c_messages WHERE dt BETWEEN ? AND ? AND conversation = ? ORDER BY 1';

/** The store key of a one-to-one object from its `"$path"` (a local path or an `s3://` URL). */
export function c2cKeyOfPath(path: string): string | undefined {
  const at = path.lastIndexOf('c2c/sdkappid=');
  return at < 0 ? undefined : path.slice(at);
}

/** The pair's rows, every revision included, and the apps whose objects hold them. */
export async function loadC2cConversation(
  runner: QueryRunner,
  store: ObjectStore,
  query: C2cConversationQuery,
  warn: (message: string) => void = () => {},
): Promise<{ records: C2cRecord[]; sdkAppIds: number[] }> {
  const conversation = conversationOf(query.pair[0], query.pair[1]);
  const values: ParamValue[] = [
    { type: 'date', value: query.from },
    { type: 'date', value: query.to },
    { type: 'string', value: conversation },
  ];
  const rows = await collectRows(await runner.run(C2C_OBJECTS_SQL, values));
  const records: C2cRecord[] = [];
  const apps = new Set<number>();
  for (const [path] of rows) {
    const key = path == null ? undefined : c2cKeyOfPath(path);
    if (key === undefined) continue;
    const app = Number(/^c2c\/sdkappid=(\d+)\//.exec(key)?.[1]);
    if (Number.isSafeInteger(app)) apps.add(app);
    const object = await store.get(key);
    if (object === undefined) continue;
    gunzipNdjson(object.body).forEach((line, i) => {
      if (line.length === 0) return;
      let record: C2cRecord;
      try {
        record = parseC2cRecordLine(line);
      } catch {
        warn(`transcript: line ${i + 1} of ${key} is not a one-to-one row: left out\n`);
        return;
      }
      if (record.conversation === conversation) records.push(record);
    });
  }
  return { records, sdkAppIds: [...apps].sort((a, b) => a - b) };
}

/**
 * The messages of a pair's rows: one per `msg_key` (an unreadable row one per raw text), its
 * revisions as versions (a repeated revision once), ordered by time, then `MsgSeq`, then key. The content is the
 * message as served (`fromC2cRecord`: `raw` or `extra` win over the columns), so nothing the
 * archive kept is hidden.
 */
export function messagesFromC2cRecords(records: Iterable<C2cRecord>): TranscriptMessage[] {
  const byKey = new Map<string, C2cRecord[]>();
  for (const record of records) {
    const key = record.quarantined ? `\u0000${record.raw ?? ''}` : (record.msg_key ?? '');
    const list = byKey.get(key);
    if (list) list.push(record);
    else byKey.set(key, [record]);
  }
  const messages: TranscriptMessage[] = [];
  for (const [key, list] of byKey) {
    const byRevision = new Map<number, C2cRecord>();
    for (const record of list) if (!byRevision.has(record.revision)) byRevision.set(record.revision, record);
    const ordered = [...byRevision.entries()].sort(([a], [b]) => a - b);
    const first = ordered[0]?.[1];
    if (first !== undefined) messages.push(messageOf(key, first, ordered));
  }
  // The server's order: time, then MsgSeq within a second (docs/one-to-one.md), then the key.
  return messages.sort((a, b) => a.time - b.time || a.seq - b.seq || compareKeys(a.key ?? '', b.key ?? ''));
}

function compareKeys(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function messageOf(
  key: string,
  first: C2cRecord,
  ordered: readonly (readonly [number, C2cRecord])[],
): TranscriptMessage {
  const served = first.quarantined ? undefined : fromC2cRecord(first);
  const reason = first.extra?.[EXTRA_REASON_KEY];
  return {
    groupId: first.conversation,
    topicId: null,
    seq: first.msg_seq ?? 0,
    key: first.quarantined ? `unreadable-${key.length}` : key,
    time: first.msg_time,
    sender: typeof served?.From_Account === 'string' ? served.From_Account : first.from_account,
    isSystem: false,
    versions: ordered.map(([revision, r]) => {
      const message = r.quarantined ? undefined : fromC2cRecord(r);
      const custom = message?.CloudCustomData;
      return {
        revision,
        observedAt: r.observed_at,
        change: r.change,
        // A deletion row (neither side shows the message: docs/one-to-one.md) reads as a placeholder.
        isPlace: r.msg_flag_bits === MSG_FLAG_RECALLED ? 2 : r.change === 'deleted' ? 1 : 0,
        body: message?.MsgBody === undefined ? [] : elementsOf(message.MsgBody),
        cloudCustomData: typeof custom === 'string' ? custom : null,
      };
    }),
    ...(first.quarantined
      ? { unreadable: { raw: first.raw ?? '', reason: typeof reason === 'string' ? reason : null } }
      : {}),
  };
}
