/**
 * The media references of the archived messages, for the audit's media checks: found by the query
 * engine (UNNEST over `msg_body`, see {@link mediaElementsSql}) instead of downloading every
 * message object. Only objects holding a row whose body lives elsewhere (quarantined, kept as
 * served, or a `MsgBody` in `extra`: `elsewhereRows` of the objects query) are read and parsed, as
 * before. Either way a message's
 * references are those of `mediaRefsOf` (functions/query/transcript/model.ts) over its first
 * version in each object, original image sizes only: the same references as reading every object.
 */
import { gunzipSync } from 'node:zlib';
import { ArchivedObjectError } from '../../domain/errors.ts';
import { mediaRefKey } from '../../domain/media-refs.ts';
import { parseRecordLine } from '../../domain/record-codec.ts';
import type { ObjectStore } from '../../domain/storage.ts';
import type { JsonValue } from '../../domain/tencent-types.ts';
import type { ParamValue, QueryRunner } from '../port.ts';
import { keyOfPath } from '../transcript/load.ts';
import {
  mediaRefsOf,
  messagesFromRecords,
  type TranscriptElement,
  type TranscriptMessage,
} from '../transcript/model.ts';
import { mediaElementsSql } from './sql.ts';
import { int, type ObjectTarget, text } from './targets.ts';
import { largeResultRows } from './unload.ts';

/** Where a reference sits, for the findings. */
export interface RefPlace {
  groupId: string;
  topicId: string | null;
  seq: number;
}

/** Adds the references of a message's first version (original image sizes; what the copier archives by default). */
/** Per reference, the message objects it was found in (filled when asked for). */
export type RefObjects = Map<string, Set<string>>;

function addReferences(
  referenced: Map<string, RefPlace>,
  message: TranscriptMessage,
  at: { readonly key: string; readonly objects: RefObjects | undefined },
): void {
  if ((message.versions[0]?.isPlace ?? 0) !== 0) return;
  for (const ref of mediaRefsOf({ ...message, versions: message.versions.slice(0, 1) })) {
    if (ref.sizeClass === 'large' || ref.sizeClass === 'thumbnail') continue;
    const refKey = mediaRefKey(ref);
    referenced.set(refKey, { groupId: ref.groupId, topicId: ref.topicId, seq: ref.msgSeq });
    at.objects?.set(refKey, (at.objects.get(refKey) ?? new Set()).add(at.key));
  }
}

/**
 * The references in the given message objects, read and parsed whole; objects whose GET is
 * refused as archived are skipped and added to `archived`.
 */
export async function referencesInObjects(
  store: ObjectStore,
  keys: Iterable<string>,
  archived: Set<string>,
  objects?: RefObjects,
): Promise<Map<string, RefPlace>> {
  const referenced = new Map<string, RefPlace>();
  for (const key of keys) {
    if (archived.has(key)) continue;
    const object = await store.get(key).catch((error: unknown) => {
      if (!(error instanceof ArchivedObjectError)) throw error;
      archived.add(key);
      return undefined;
    });
    if (object === undefined) continue;
    const records = gunzipSync(object.body)
      .toString('utf8')
      .split('\n')
      .filter((l) => l.length > 0)
      .map(parseRecordLine);
    for (const message of messagesFromRecords(records)) addReferences(referenced, message, { key, objects });
  }
  return referenced;
}

/** A message of one object, rebuilt from its media elements (other positions left empty). */
interface SparseMessage {
  readonly key: string;
  readonly groupId: string;
  readonly topicId: string | null;
  readonly seq: number;
  readonly body: TranscriptElement[];
}

const NO_ELEMENT: TranscriptElement = { type: '', content: {} };

function asMessage(m: SparseMessage): TranscriptMessage {
  const body = Array.from(m.body, (e) => e ?? NO_ELEMENT);
  const version = { revision: 0, observedAt: null, change: null, isPlace: 0, body, cloudCustomData: null };
  return {
    groupId: m.groupId,
    topicId: m.topicId,
    seq: m.seq,
    time: 0,
    sender: null,
    isSystem: false,
    versions: [version],
  };
}

/** A merged forward's content as the element walk reads it: its `MsgList` parsed from the query's text. */
function relayContent(msgList: string | null): TranscriptElement['content'] {
  if (msgList === null) return {};
  try {
    return { MsgList: JSON.parse(msgList) as JsonValue };
  } catch {
    return {};
  }
}

/**
 * The app's media references through the query engine (`app`: the sdkappid parameter), plus those
 * of the objects holding a row whose body is elsewhere (`elsewhereRows` > 0 in `objectTargets`),
 * read whole; archived objects are skipped as in {@link referencesInObjects}.
 */
export async function readReferences(options: {
  readonly runner: QueryRunner;
  readonly app: readonly ParamValue[];
  readonly store: ObjectStore;
  readonly objectTargets: readonly ObjectTarget[];
  readonly archived: Set<string>;
  /** Only these `dt` partitions (their values follow the app's in `app`); default every partition. */
  readonly partitions?: readonly string[];
  /** Filled with the objects each reference was found in. */
  readonly objects?: RefObjects;
}): Promise<Map<string, RefPlace>> {
  const { runner, app, store, objectTargets, archived } = options;
  const elsewhere = new Set(objectTargets.filter((o) => o.elsewhereRows > 0).map((o) => o.key));
  const messages = new Map<string, SparseMessage>();
  const sql = mediaElementsSql(runner.dialect, options.partitions?.length ?? 0);
  // One row per media element: on Athena over S3 through UNLOAD (unload.ts), not paged.
  for await (const r of largeResultRows({ runner, store, sql, values: app })) {
    const key = keyOfPath(text(r.path)) ?? text(r.path);
    // (An archived object the query could read, restored, is used: only GETs are refused.)
    if (elsewhere.has(key)) continue;
    const id = JSON.stringify([key, text(r.group_id), r.topic_id ?? '', int(r.msg_seq)]);
    const m = messages.get(id) ?? {
      key,
      groupId: text(r.group_id),
      topicId: r.topic_id ?? null,
      seq: int(r.msg_seq),
      body: [],
    };
    const type = text(r.msg_type);
    m.body[int(r.pos) - 1] = {
      type,
      content: type === 'TIMRelayElem' ? relayContent(r.msg_list ?? null) : {},
    };
    messages.set(id, m);
  }
  const referenced = await referencesInObjects(store, elsewhere, archived, options.objects);
  for (const m of messages.values())
    addReferences(referenced, asMessage(m), { key: m.key, objects: options.objects });
  return referenced;
}
