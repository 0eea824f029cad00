/**
 * The transcript's input model: what the HTML renderer needs to know about a conversation, and
 * nothing about where it came from. Built from archive records here (pure), so the renderer grows
 * with the archive: revisions (edits, recalls, deletions seen by a rescan) become versions of one
 * message, and archived media are found through a lookup that may be empty.
 */
import type { ArchiveRecord } from '../../domain/record.ts';
import type { JsonObject } from '../../domain/tencent-types.ts';

/** One `MsgBody` element as archived (`MsgContent` verbatim). */
export interface TranscriptElement {
  readonly type: string;
  readonly content: JsonObject;
}

/** One version of a message: revision 0 is the first capture, later ones what a rescan saw. */
export interface MessageVersion {
  readonly revision: number;
  /** Epoch seconds of the run that saw this version; null when not recorded. */
  readonly observedAt: number | null;
  /** What changed since the previous version (`modified`, `recalled`, `deleted`, …); null for 0. */
  readonly change: string | null;
  /** 0 normal, 1 placeholder (deleted, expired or failed), 2 recalled. */
  readonly isPlace: number;
  readonly body: readonly TranscriptElement[];
  readonly cloudCustomData: string | null;
}

/** One message of the conversation with every archived version, oldest first. */
export interface TranscriptMessage {
  readonly groupId: string;
  readonly topicId: string | null;
  readonly seq: number;
  /** Epoch seconds (`MsgTimeStamp`). */
  readonly time: number;
  readonly sender: string | null;
  readonly isSystem: boolean;
  /** At least one; the last is the current state. */
  readonly versions: readonly MessageVersion[];
}

/** Which media file of an element: image sizes (`ImageInfoArray[].Type` 1/2/3), file, voice, video. */
export type MediaVariant =
  | 'image-original'
  | 'image-large'
  | 'image-thumbnail'
  | 'file'
  | 'sound'
  | 'video'
  | 'video-thumbnail';

/**
 * One media reference: the message, the element's position (`[i]` for `MsgBody[i]`, and
 * `[i, j, k]` for element `k` of item `j` of a merged-forward element `i`) and the variant.
 */
export interface MediaRef {
  readonly groupId: string;
  readonly topicId: string | null;
  readonly seq: number;
  readonly element: readonly number[];
  readonly variant: MediaVariant;
}

/** An archived copy: a relative link to it next to the transcript, and what is known of it. */
export interface ArchivedMedia {
  /** Relative path (letters, digits, `._-/` only); the renderer refuses anything else. */
  readonly href: string;
  readonly contentType?: string;
  readonly bytes?: number;
}

/** Finds the archived copy of a reference; undefined when it was not archived. */
export type MediaLookup = (ref: MediaRef) => ArchivedMedia | undefined;

/** A lookup that finds nothing (an archive without media). */
export const NO_MEDIA: MediaLookup = () => undefined;

/** Everything a transcript shows. */
export interface TranscriptInput {
  readonly title: string;
  /** Where it came from, e.g. `./archive` or `s3://bucket/prefix`, and the query (shown in the header). */
  readonly source: string;
  readonly groupId: string;
  readonly topicId: string | null;
  readonly from: string;
  readonly to: string;
  /** The archive's `archive.timeZone`: every time is shown in it. */
  readonly timeZone: string;
  /** When the transcript was made (epoch ms, injected). */
  readonly generatedAtMs: number;
  readonly messages: readonly TranscriptMessage[];
  readonly media: MediaLookup;
}

/** The fields of an archive record the transcript reads; revision columns are optional. */
export type TranscriptRecord = Pick<
  ArchiveRecord,
  | 'group_id'
  | 'topic_id'
  | 'msg_seq'
  | 'msg_time'
  | 'from_account'
  | 'is_place_msg'
  | 'is_system_msg'
  | 'msg_body'
  | 'cloud_custom_data'
> & {
  readonly revision?: number | bigint | null;
  readonly observed_at?: number | bigint | null;
  readonly change?: string | null;
};

/**
 * Messages from records: one per (group, topic, seq) with its revisions as versions (a repeated
 * revision, which the audit reports as a duplicate, is shown once), ordered by the time of the
 * first capture, then topic and seq.
 */
export function messagesFromRecords(records: Iterable<TranscriptRecord>): TranscriptMessage[] {
  const bySeq = new Map<string, TranscriptRecord[]>();
  for (const record of records) {
    const key = `${record.group_id}\u0000${record.topic_id ?? ''}\u0000${record.msg_seq}`;
    const list = bySeq.get(key);
    if (list) list.push(record);
    else bySeq.set(key, [record]);
  }
  const messages: TranscriptMessage[] = [];
  for (const list of bySeq.values()) {
    const byRevision = new Map<number, TranscriptRecord>();
    for (const record of list) {
      const revision = Number(record.revision ?? 0);
      if (!byRevision.has(revision)) byRevision.set(revision, record);
    }
    const ordered = [...byRevision.entries()].sort(([a], [b]) => a - b);
    const first = ordered[0]?.[1];
    if (first === undefined) continue;
    messages.push({
      groupId: first.group_id,
      topicId: first.topic_id,
      seq: Number(first.msg_seq),
      time: Number(first.msg_time),
      sender: first.from_account,
      isSystem: Number(first.is_system_msg) === 1,
      versions: ordered.map(([revision, r]) => ({
        revision,
        observedAt: r.observed_at == null ? null : Number(r.observed_at),
        change: r.change ?? null,
        isPlace: Number(r.is_place_msg),
        body: r.msg_body.map((e) => ({ type: e.msg_type, content: e.msg_content })),
        cloudCustomData: r.cloud_custom_data,
      })),
    });
  }
  return messages.sort(
    (a, b) => a.time - b.time || (a.topicId ?? '').localeCompare(b.topicId ?? '') || a.seq - b.seq,
  );
}

/** The media variants an element can reference, by element type. */
function variantsOf(element: TranscriptElement): MediaVariant[] {
  switch (element.type) {
    case 'TIMImageElem':
      return ['image-original', 'image-large', 'image-thumbnail'];
    case 'TIMFileElem':
      return ['file'];
    case 'TIMSoundElem':
      return ['sound'];
    case 'TIMVideoFileElem':
      return ['video', 'video-thumbnail'];
    default:
      return [];
  }
}

/** Elements of a merged-forward element's `MsgList` items, as transcript elements. */
export function relayItems(content: JsonObject): { item: JsonObject; body: TranscriptElement[] }[] {
  const list = Array.isArray(content.MsgList) ? content.MsgList : [];
  return list.filter(isObject).map((item) => ({
    item,
    body: (Array.isArray(item.MsgBody) ? item.MsgBody : []).filter(isObject).map((e) => ({
      type: typeof e.MsgType === 'string' ? e.MsgType : '(no type)',
      content: isObject(e.MsgContent) ? e.MsgContent : {},
    })),
  }));
}

function isObject(value: unknown): value is JsonObject {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/**
 * Every media reference a message can make (every variant of every media element, nested
 * merged-forward elements included, across all versions), each once.
 */
export function mediaRefsOf(message: TranscriptMessage): MediaRef[] {
  const refs = new Map<string, MediaRef>();
  const walk = (body: readonly TranscriptElement[], path: readonly number[]) => {
    body.forEach((element, i) => {
      const at = [...path, i];
      for (const variant of variantsOf(element)) {
        const ref = {
          groupId: message.groupId,
          topicId: message.topicId,
          seq: message.seq,
          element: at,
          variant,
        };
        refs.set(mediaRefKey(ref), ref);
      }
      if (element.type === 'TIMRelayElem') {
        relayItems(element.content).forEach(({ body: nested }, j) => {
          walk(nested, [...at, j]);
        });
      }
    });
  };
  for (const version of message.versions) walk(version.body, []);
  return [...refs.values()];
}

/** A stable text key of a reference: `group|topic|seq|0.2.1|image-large`. */
export function mediaRefKey(ref: MediaRef): string {
  return `${ref.groupId}|${ref.topicId ?? ''}|${ref.seq}|${ref.element.join('.')}|${ref.variant}`;
}
