/**
 * The transcript's input model: what the HTML renderer needs to know about a conversation, and
 * nothing about where it came from. Built from archive records here (pure), so the renderer grows
 * with the archive: revisions (edits, recalls, deletions seen by a rescan) become versions of one
 * message, and archived media are found through a lookup that may be empty.
 */
import { fitsAthenaType, MSG_CONTENT_TYPE } from '../../domain/athena-fit.ts';
import type { SenderAt } from '../../domain/identity-timeline.ts';
import { hasExactKeys, isJsonObject, parseLosslessJson } from '../../domain/json-guards.ts';
import { type MediaRefPlace, mediaRefKey, type SizeClass } from '../../domain/media-refs.ts';
import { type ArchiveRecord, EXTRA_REASON_KEY } from '../../domain/record.ts';
import type { JsonObject, JsonValue } from '../../domain/tencent-types.ts';

/** One `MsgBody` element as archived (`MsgContent` verbatim). */
export interface TranscriptElement {
  /** `MsgType`, or `(no type)` when the element has none. */
  readonly type: string;
  /** `MsgContent` when it is an object, else `{}`. */
  readonly content: JsonObject;
  /**
   * The element verbatim when it is not in the shape the archive's `msg_body` column accepts
   * (exactly `MsgType` and `MsgContent`, with known fields of the documented types): a face
   * `Index` as a string, an extra key, `Text` and `text` together, a fractional `Second`, an item
   * that is not an object. The renderer shows it as data, keys and values, so nothing is hidden.
   */
  readonly data?: JsonValue;
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
  /**
   * A one-to-one message's `MsgKey` (its identity; its `MsgSeq` is chosen by the client and not
   * unique): the page then names the message by it, not by seq. Absent for group messages.
   */
  readonly key?: string;
  /** Epoch seconds (`MsgTimeStamp`). */
  readonly time: number;
  readonly sender: string | null;
  /**
   * The sender as of the message's time (name, role, deleted account), when the archive's identity
   * rows name them (docs/names.md); absent otherwise, and the sender is shown by account as before.
   */
  readonly from?: SenderAt;
  readonly isSystem: boolean;
  /** At least one; the last is the current state. */
  readonly versions: readonly MessageVersion[];
  /**
   * Set for an item the archive could not read as a message (a quarantined row, or a stored line
   * that does not parse): its exact text as archived, and why, when known. The other fields are a
   * best effort (`seq` 0 when unknown).
   */
  readonly unreadable?: { readonly raw: string; readonly reason: string | null };
}

/** An archived copy: a relative link to it next to the transcript, and what is known of it. */
export interface ArchivedMedia {
  /**
   * Relative path: letters, digits, `._-/` and `%XX` escapes only (see {@link relativeHref}); the
   * renderer refuses anything else.
   */
  readonly href: string;
  readonly contentType?: string;
  readonly bytes?: number;
}

/**
 * Finds the archived copy of a reference (the domain's model, without the app and the revision: a
 * transcript shows one conversation and every version of a message); undefined when it was not
 * archived.
 */
export type MediaLookup = (ref: MediaRefPlace) => ArchivedMedia | undefined;

/**
 * A relative link from path segments (a folder beside the page, a file name): every byte of a
 * segment other than `A-Z a-z 0-9 . _ -` percent-encoded (UTF-8), so a page named `my chat (1).html`
 * can link to `my%20chat%20%281%29_files/…`.
 */
export function relativeHref(...segments: readonly string[]): string {
  return segments
    .map((segment) =>
      [...new TextEncoder().encode(segment)]
        .map((byte) => {
          const ch = String.fromCharCode(byte);
          return /[A-Za-z0-9._-]/.test(ch) ? ch : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
        })
        .join(''),
    )
    .join('/');
}

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
  /** What the archive's identity rows say of the group; absent when they name it not. */
  readonly group?: TranscriptGroup;
  /** A one-to-one conversation's two accounts: the header names them instead of a group. */
  readonly conversation?: readonly [string, string];
}

/** The group's names over the transcript (docs/names.md), for the page's header. */
export interface TranscriptGroup {
  /**
   * The names valid at the transcript's messages, in order, each with the time of the first
   * message under it (null for the first); one entry when it was not renamed within the transcript.
   */
  readonly names: readonly { readonly name: string; readonly since: number | null }[];
  /** When the archive first saw the group dissolved; null when it has not. */
  readonly dissolvedSince: number | null;
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
  /** Read for a `MsgBody` kept verbatim there (one element did not fit the column). */
  readonly extra?: JsonObject | null;
  readonly quarantined?: boolean | null;
  readonly raw?: string | null;
  readonly revision?: number | bigint | null;
  readonly observed_at?: number | bigint | null;
  readonly change?: string | null;
};

/**
 * Messages from records: one per (group, topic, seq) with its revisions as versions (a repeated
 * revision, which the audit reports as a duplicate, is shown once), ordered by the time of the
 * first capture, then topic and seq. An unreadable (quarantined) record is a message of its own,
 * one per distinct raw text, so two of them at the same seq (0 when unknown) both show.
 */
export function messagesFromRecords(records: Iterable<TranscriptRecord>): TranscriptMessage[] {
  const bySeq = new Map<string, TranscriptRecord[]>();
  for (const record of records) {
    const unreadable = record.quarantined === true ? `\u0000${record.raw ?? ''}` : '';
    const key = `${record.group_id}\u0000${record.topic_id ?? ''}\u0000${record.msg_seq}${unreadable}`;
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
      sender: servedString(first, 'From_Account') ?? first.from_account,
      isSystem: Number(first.is_system_msg) === 1,
      versions: ordered.map(([revision, r]) => ({
        revision,
        observedAt: r.observed_at == null ? null : Number(r.observed_at),
        change: r.change ?? null,
        isPlace: Number(r.is_place_msg),
        body: bodyOf(r),
        cloudCustomData: servedString(r, 'CloudCustomData') ?? r.cloud_custom_data,
      })),
      ...(first.quarantined === true
        ? { unreadable: { raw: first.raw ?? '', reason: reasonOf(first.extra) } }
        : {}),
    });
  }
  // A time that is not a number (an unreadable item's) sorts last.
  const time = (m: TranscriptMessage) => (Number.isFinite(m.time) ? m.time : Number.MAX_VALUE);
  return messages.sort(
    (a, b) => time(a) - time(b) || (a.topicId ?? '').localeCompare(b.topicId ?? '') || a.seq - b.seq,
  );
}

function reasonOf(extra: JsonObject | null | undefined): string | null {
  const reason = extra?.[EXTRA_REASON_KEY];
  return typeof reason === 'string' ? reason : null;
}

/**
 * The message exactly as served, for a record that keeps it in `raw` beside readable columns (a
 * message with a lone surrogate, whose columns hold U+FFFD: see `functions/domain/record.ts`), so
 * the transcript shows the lone surrogate itself (as a token); null for any other record.
 */
function servedOf(record: TranscriptRecord): JsonObject | null {
  if (record.quarantined === true || record.raw == null) return null;
  try {
    const value = parseLosslessJson(record.raw);
    return isJsonObject(value) ? value : null;
  } catch {
    return null;
  }
}

/** A string field of the message as served ({@link servedOf}), if it has one. */
function servedString(record: TranscriptRecord, key: string): string | null {
  const value = servedOf(record)?.[key];
  return typeof value === 'string' ? value : null;
}

/**
 * A record's elements: its `msg_body` column, or, when the API's `MsgBody` did not fit the column
 * and was kept verbatim in `extra` (see `functions/domain/record.ts`), that body element by element.
 */
function bodyOf(record: TranscriptRecord): TranscriptElement[] {
  const served = servedOf(record);
  if (served !== null && Object.hasOwn(served, 'MsgBody')) return elementsOf(served.MsgBody ?? null);
  const extra = record.extra;
  if (extra != null && Object.hasOwn(extra, 'MsgBody')) return elementsOf(extra.MsgBody ?? null);
  return record.msg_body.map((e) => ({ type: e.msg_type, content: e.msg_content }));
}

/** Transcript elements of a raw `MsgBody`; anything but a list is one element shown as data. */
export function elementsOf(body: JsonValue): TranscriptElement[] {
  if (!Array.isArray(body)) return [{ type: '(MsgBody is not a list)', content: {}, data: body }];
  return body.map(elementOf);
}

function elementOf(item: JsonValue): TranscriptElement {
  if (!isJsonObject(item)) return { type: '(not an element)', content: {}, data: item };
  const type = typeof item.MsgType === 'string' ? item.MsgType : '(no type)';
  const content = isJsonObject(item.MsgContent) ? item.MsgContent : {};
  const fits =
    typeof item.MsgType === 'string' &&
    isJsonObject(item.MsgContent) &&
    hasExactKeys(item, ['MsgType', 'MsgContent']) &&
    fitsAthenaType(MSG_CONTENT_TYPE, item.MsgContent);
  return fits ? { type, content } : { type, content, data: item };
}

/** The size classes an element can reference, by element type (see `functions/domain/media-refs.ts`). */
function sizeClassesOf(element: TranscriptElement): SizeClass[] {
  switch (element.type) {
    case 'TIMImageElem':
      return ['original', 'large', 'thumbnail'];
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

/**
 * A merged-forward element's `MsgList` items with their elements, index for index (so media paths
 * match `functions/domain/media-refs.ts`). An item that is not an object is one element shown as
 * data; a missing `MsgBody` is an empty body.
 */
export function relayItems(content: JsonObject): { item: JsonObject; body: TranscriptElement[] }[] {
  const list = Array.isArray(content.MsgList) ? content.MsgList : [];
  return list.map((item) => {
    if (!isJsonObject(item)) return { item: {}, body: elementsOf([item]) };
    return { item, body: item.MsgBody === undefined ? [] : elementsOf(item.MsgBody) };
  });
}

/**
 * Every media reference a message can make (every size class of every media element, nested
 * merged-forward elements included, across all versions), each once.
 */
export function mediaRefsOf(message: TranscriptMessage): MediaRefPlace[] {
  const refs = new Map<string, MediaRefPlace>();
  const walk = (body: readonly TranscriptElement[], prefix: string) => {
    body.forEach((element, i) => {
      const elementPath = `${prefix}${i}`;
      for (const sizeClass of sizeClassesOf(element)) {
        const ref = {
          groupId: message.groupId,
          topicId: message.topicId,
          msgSeq: message.seq,
          // A one-to-one message's media are keyed by its MsgKey (functions/domain/c2c-media.ts).
          ...(message.key === undefined ? {} : { msgKey: message.key }),
          elementPath,
          sizeClass,
        };
        refs.set(mediaRefKey(ref), ref);
      }
      if (element.type === 'TIMRelayElem') {
        relayItems(element.content).forEach(({ body: nested }, j) => {
          walk(nested, `${elementPath}.${j}.`);
        });
      }
    });
  };
  for (const version of message.versions) walk(version.body, '');
  return [...refs.values()];
}
