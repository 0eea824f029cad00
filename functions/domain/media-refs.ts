/**
 * Every media file a message refers to, as a list of references with a stable identity.
 *
 * Element shapes (docs/tencent-api.md, Message elements): `TIMImageElem` carries up to three sizes in
 * `ImageInfoArray` (Type 1 original, 2 large, 3 thumbnail), `TIMFileElem` a `Url`, `TIMSoundElem` a
 * `Url` (SDK 4.X; 2.X/3.X sound elements have none), `TIMVideoFileElem` a `VideoUrl` and a
 * `ThumbUrl`, and `TIMRelayElem` (merged forward) a nested `MsgList` whose bodies are elements again.
 * Placeholders (`IsPlaceMsg` 1 deleted/expired, 2 recalled) have an empty body and so no media.
 *
 * The identity of a reference is (message key, element path, size class), never the URL or the file
 * name: URLs change form (host style, signatures) and names collide.
 */
import type { ArchiveRecord } from './record.ts';
import type { JsonObject, JsonValue, RawMessage } from './tencent-types.ts';

/** What kind of file a reference points at; decides the content types that fit (see media-verify). */
export type MediaKind = 'image' | 'file' | 'sound' | 'video' | 'video-thumbnail';

/** Which size of an element: images have three, a video its video and thumbnail. */
export type SizeClass = 'original' | 'large' | 'thumbnail' | 'file' | 'sound' | 'video' | 'video-thumbnail';

/** Image sizes that can be archived (`media.imageSizes`). */
export const IMAGE_SIZE_CLASSES = ['original', 'large', 'thumbnail'] as const;
export type ImageSizeClass = (typeof IMAGE_SIZE_CLASSES)[number];

/** `ImageInfoArray[].Type` → size class (docs/tencent-api.md, Message elements). */
const IMAGE_TYPES: Readonly<Record<number, ImageSizeClass>> = { 1: 'original', 2: 'large', 3: 'thumbnail' };

/**
 * The message a reference belongs to: the archive's message key plus its time. A one-to-one
 * message (functions/domain/c2c-media.ts) has `groupId` its conversation (`["alice","bob"]`, the
 * `c2c_messages.conversation`), `topicId` null, its `MsgSeq` (0 when absent) and `msgKey`: its
 * `MsgKey`, what tells it apart (a one-to-one `MsgSeq` is chosen by the client and repeats).
 */
export interface MediaMessageKey {
  sdkAppId: number;
  groupId: string;
  topicId: string | null;
  msgSeq: number;
  /** A one-to-one message's `MsgKey`; absent for group messages. */
  msgKey?: string;
  /** Epoch seconds (`MsgTimeStamp`): decides the partition and the retention left. */
  msgTime: number;
  /**
   * The record's revision when the reference comes from a later revision (an edit that added a
   * file); absent for revision 0, so references and queue entries written before revisions keep
   * their identity.
   */
  revision?: number;
}

export interface MediaRef extends MediaMessageKey {
  /**
   * Where the element sits: its index in `MsgBody` (`"2"`), and for elements nested in a merged
   * forward the relay's index, the `MsgList` item and the nested element (`"2.0.1"`, recursively).
   */
  elementPath: string;
  sizeClass: SizeClass;
  kind: MediaKind;
  /** The element's `UUID` / `VideoUUID` / `ThumbUUID`, when present. */
  uuid: string | null;
  /** Download URL, or null for elements of SDKs 2.X/3.X, which carry none. */
  url: string | null;
  /** Declared size in bytes, only where the API documents it as the file's size (see {@link declaredSizeOf}). */
  declaredSize: number | null;
  /** `FileName` of a file element. */
  fileName: string | null;
  /** `ImageFormat` (1 JPG, 2 GIF, 3 PNG, 4 BMP, 255 other) rendered as a name, `VideoFormat`, `ThumbFormat`. */
  format: string | null;
}

export interface ExtractOptions {
  /** Image sizes to copy; default: the original only. */
  imageSizes?: readonly ImageSizeClass[];
}

/**
 * Where a reference sits within one app, whatever the revision: what the transcript, the manifest
 * reader and the audit match references on.
 */
export type MediaRefPlace = Pick<
  MediaRef,
  'groupId' | 'topicId' | 'msgSeq' | 'msgKey' | 'elementPath' | 'sizeClass'
>;

/**
 * The key of a reference's place: `group|topic|seq|2.0.1|large` (the one key format of a
 * reference); a one-to-one message's `c2c|["<conversation>","<MsgKey>","2.0.1"]|large` (no group
 * key reads so: it would need a group `c2c` whose topic id starts with `[`, and topic ids start
 * with `@TGS#`, docs/tencent-api.md).
 */
export function mediaRefKey(ref: MediaRefPlace): string {
  if (ref.msgKey !== undefined) {
    return `c2c|${JSON.stringify([ref.groupId, ref.msgKey, ref.elementPath])}|${ref.sizeClass}`;
  }
  return [ref.groupId, ref.topicId ?? '', ref.msgSeq, ref.elementPath, ref.sizeClass].join('|');
}

/** The stable identity of a reference: one manifest row per distinct value (its app, its key, its revision). */
export function mediaRefId(
  ref: Omit<MediaRef, 'kind' | 'uuid' | 'url' | 'declaredSize' | 'fileName' | 'format'>,
): string {
  const id = `${ref.sdkAppId}|${mediaRefKey(ref)}`;
  return (ref.revision ?? 0) > 0 ? `${id}|r${ref.revision}` : id;
}

/** The media references of an archived record (none for placeholders and recalled messages). */
export function mediaRefsOfRecord(record: ArchiveRecord, options: ExtractOptions = {}): MediaRef[] {
  if (record.is_place_msg !== 0) return [];
  const key: MediaMessageKey = {
    sdkAppId: record.sdk_app_id,
    groupId: record.group_id,
    topicId: record.topic_id,
    msgSeq: record.msg_seq,
    msgTime: record.msg_time,
    ...((record.revision ?? 0) > 0 ? { revision: record.revision } : {}),
  };
  const body = record.msg_body.map((e) => ({ MsgType: e.msg_type, MsgContent: e.msg_content }));
  return refsOfBody({ key, imageSizes: sizesOf(options) }, body, '');
}

/** The media references of a message as the API returned it. */
export function mediaRefsOfMessage(
  message: RawMessage,
  context: { sdkAppId: number; groupId: string; topicId: string | null },
  options: ExtractOptions = {},
): MediaRef[] {
  const place = message.IsPlaceMsg;
  if (place !== undefined && place !== 0) return [];
  const key: MediaMessageKey = { ...context, msgSeq: message.MsgSeq, msgTime: message.MsgTimeStamp };
  return refsOfBody({ key, imageSizes: sizesOf(options) }, message.MsgBody, '');
}

/** The media references of a message body (`MsgBody` as the API serves it) of the message `key`. */
export function mediaRefsOfBody(
  key: MediaMessageKey,
  body: JsonValue | undefined,
  options: ExtractOptions = {},
): MediaRef[] {
  return refsOfBody({ key, imageSizes: sizesOf(options) }, body, '');
}

function sizesOf(options: ExtractOptions): ReadonlySet<ImageSizeClass> {
  return new Set(options.imageSizes ?? ['original']);
}

/** What every element of one message's body is read with: the message's key and the image sizes wanted. */
interface BodyWalk {
  readonly key: MediaMessageKey;
  readonly imageSizes: ReadonlySet<ImageSizeClass>;
}

/** The references of a body; `prefix` is the element path of the body's parent (`''` at the top). */
function refsOfBody(walk: BodyWalk, body: JsonValue | undefined, prefix: string): MediaRef[] {
  if (!Array.isArray(body)) return [];
  const refs: MediaRef[] = [];
  body.forEach((element, index) => {
    if (!isObject(element) || !isObject(element.MsgContent)) return;
    const path = `${prefix}${index}`;
    refs.push(...refsOfElement(walk, str(element.MsgType), element.MsgContent, path));
  });
  return refs;
}

function refsOfElement(walk: BodyWalk, type: string | null, content: JsonObject, path: string): MediaRef[] {
  const { key, imageSizes } = walk;
  const ref = (fields: Omit<MediaRef, keyof MediaMessageKey | 'elementPath'>): MediaRef => ({
    ...key,
    elementPath: path,
    ...fields,
  });
  switch (type) {
    case 'TIMImageElem':
      return imageRefs(content, imageSizes, ref);
    case 'TIMFileElem':
      return [
        ref({
          sizeClass: 'file',
          kind: 'file',
          uuid: str(content.UUID),
          url: url(content.Url),
          declaredSize: size(content.FileSize),
          fileName: str(content.FileName),
          format: null,
        }),
      ];
    case 'TIMSoundElem':
      // Both layouts: SDK 4.X adds `Url` and `Download_Flag`; 2.X/3.X has UUID, Size, Second only.
      return [
        ref({
          sizeClass: 'sound',
          kind: 'sound',
          uuid: str(content.UUID),
          url: url(content.Url),
          declaredSize: size(content.Size),
          fileName: null,
          format: null,
        }),
      ];
    case 'TIMVideoFileElem':
      return [
        ref({
          sizeClass: 'video',
          kind: 'video',
          uuid: str(content.VideoUUID),
          url: url(content.VideoUrl),
          declaredSize: size(content.VideoSize),
          fileName: null,
          format: str(content.VideoFormat),
        }),
        ref({
          sizeClass: 'video-thumbnail',
          kind: 'video-thumbnail',
          uuid: str(content.ThumbUUID),
          url: url(content.ThumbUrl),
          declaredSize: size(content.ThumbSize),
          fileName: null,
          format: str(content.ThumbFormat),
        }),
      ];
    case 'TIMRelayElem': {
      // `MsgList` only when the forward fits 12K; otherwise `JsonMsgKey`, which carries no media here.
      const list = content.MsgList;
      if (!Array.isArray(list)) return [];
      return list.flatMap((item, i) =>
        isObject(item) ? refsOfBody(walk, item.MsgBody, `${path}.${i}.`) : [],
      );
    }
    default:
      return [];
  }
}

const IMAGE_FORMATS: Readonly<Record<number, string>> = {
  1: 'jpg',
  2: 'gif',
  3: 'png',
  4: 'bmp',
  255: 'other',
};

function imageRefs(
  content: JsonObject,
  imageSizes: ReadonlySet<ImageSizeClass>,
  ref: (fields: Omit<MediaRef, keyof MediaMessageKey | 'elementPath'>) => MediaRef,
): MediaRef[] {
  const uuid = str(content.UUID);
  const formatCode = typeof content.ImageFormat === 'number' ? content.ImageFormat : undefined;
  const format = formatCode === undefined ? null : (IMAGE_FORMATS[formatCode] ?? String(formatCode));
  const infos = Array.isArray(content.ImageInfoArray) ? content.ImageInfoArray.filter(isObject) : [];
  const bySize = new Map<ImageSizeClass, JsonObject>();
  for (const info of infos) {
    const sizeClass = typeof info.Type === 'number' ? IMAGE_TYPES[info.Type] : undefined;
    if (sizeClass !== undefined && !bySize.has(sizeClass)) bySize.set(sizeClass, info);
  }
  const refs: MediaRef[] = [];
  for (const sizeClass of IMAGE_SIZE_CLASSES) {
    if (!imageSizes.has(sizeClass)) continue;
    const info = bySize.get(sizeClass);
    // An image without its original entry (old SDKs) is recorded as a reference without URL.
    if (info === undefined && sizeClass !== 'original') continue;
    refs.push(
      ref({
        sizeClass,
        kind: 'image',
        uuid,
        url: url(info?.URL),
        // The SDK documents `size` as valid for the original only (docs/tencent-api.md, Message elements).
        declaredSize: sizeClass === 'original' ? size(info?.Size) : null,
        fileName: null,
        format,
      }),
    );
  }
  return refs;
}

function isObject(value: JsonValue | undefined): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function str(value: JsonValue | undefined): string | null {
  return typeof value === 'string' && value !== '' ? value : null;
}

function url(value: JsonValue | undefined): string | null {
  return typeof value === 'string' && value.trim() !== '' ? value.trim() : null;
}

/** A declared size: a positive safe integer (0 and junk mean "not declared"). */
function size(value: JsonValue | undefined): number | null {
  const n = typeof value === 'bigint' ? Number(value) : value;
  return typeof n === 'number' && Number.isSafeInteger(n) && n > 0 ? n : null;
}
