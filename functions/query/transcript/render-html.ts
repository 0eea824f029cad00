/**
 * A conversation as one HTML page a person reads in a browser, without script: messages in order
 * with sender and local time, day separators, every element type, system messages, deleted and
 * recalled placeholders, edits with their history, media from the archive, elements not in the
 * expected shape (as data, key by key), and items the archive could not read (as "unreadable",
 * with their exact text).
 *
 * Safety and faithfulness: message content is untrusted. Every value is escaped for the context
 * it lands in (text or a quoted attribute); every character a reader could not see (controls, bidi
 * controls, zero-width characters, lone surrogates) is shown as a `⟨U+202E⟩` token, never removed;
 * every user value inside a line (sender, file name, topic, title) is bidi-isolated in a `<bdi>`,
 * so none can reorder the time and seq beside it; a time outside the calendar reads "invalid
 * time". No URL from message content is ever written into the page: only links to archived
 * copies, which the media lookup supplies and which must be plain relative paths (anything else is
 * refused, so a `javascript:` URL cannot appear). A Content-Security-Policy meta tag allows no script at all,
 * no remote resource, and only this page's own style (by hash), so even a renderer bug could not
 * load or run anything.
 *
 * Pure: no clock, no I/O; the caller passes the time it was generated.
 */
import { createHash } from 'node:crypto';
import type { SenderAt } from '../../domain/identity-timeline.ts';
import { isJsonObject } from '../../domain/json-guards.ts';
import type { ImageSizeClass, MediaRefPlace, SizeClass } from '../../domain/media-refs.ts';
import type { JsonObject, JsonValue } from '../../domain/tencent-types.ts';
import {
  type ArchivedMedia,
  type MediaLookup,
  type MessageVersion,
  relayItems,
  type TranscriptElement,
  type TranscriptGroup,
  type TranscriptInput,
  type TranscriptMessage,
} from './model.ts';

// ---------------------------------------------------------------------------------------------
// Escaping
// ---------------------------------------------------------------------------------------------

const HTML_ESCAPES: Readonly<Record<string, string>> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};

/**
 * Characters a reader cannot see, or that reorder or hide the text around them: C0 and C1
 * controls, the soft hyphen, bidi marks, embeddings, overrides and isolates (U+061C, U+200E/F,
 * U+202A–U+202E, U+2066–U+2069), zero-width and invisible operators (U+200B–U+200D, U+2060–U+2064,
 * U+206A–U+206F, U+180E, U+FEFF, U+034F), blank letters that pass for nothing or a space (Hangul
 * fillers U+115F, U+1160, U+3164, U+FFA0; Khmer U+17B4, U+17B5), line and paragraph separators,
 * interlinear annotations, tag characters, and lone surrogates (which are not text at all). Tab and
 * line feed are listed too: {@link visibleText} keeps them where a line break is expected.
 */
export const INVISIBLE_CHARS =
  // biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point.
  /[\u0000-\u001f\u007f-\u009f\u00ad\u061c\u115f\u1160\u180e\u3164\uffa0\u200b-\u200f\u2028-\u202e\u2060-\u2064\u2066-\u206f\ufeff\ufff9-\ufffb\ud800-\udfff\u{e0000}-\u{e007f}]|\u034f|\u17b4|\u17b5/u;

/**
 * Invisible characters that are part of what a person sees, kept in message text: a zero-width
 * joiner inside an emoji sequence (👩‍💻) and the tag characters of a subdivision flag (🏴 England).
 */
const EMOJI_PARTS =
  /\p{Extended_Pictographic}[\u{fe0f}\u{1f3fb}-\u{1f3ff}]?\u200d(?=\p{Extended_Pictographic})|\u{1f3f4}[\u{e0020}-\u{e007e}]+\u{e007f}/u;

const TEXT_CHARS = new RegExp(`(${EMOJI_PARTS.source})|${INVISIBLE_CHARS.source}`, 'gu');
const FIELD_CHARS = new RegExp(INVISIBLE_CHARS.source, 'gu');

/** `⟨U+202E⟩`: how an invisible character is shown. */
export function codePointToken(ch: string): string {
  return `⟨U+${(ch.codePointAt(0) ?? 0).toString(16).toUpperCase().padStart(4, '0')}⟩`;
}

/**
 * HTML-escaped text (`& < > " '`) with every invisible character shown as its token, so nothing
 * is hidden and nothing reorders the page. `lines`: message text, where CR LF and CR read as line
 * feeds and tab and line feed stay, as do emoji sequences; otherwise (a name, an id) every one of
 * them shows as a token. `mark` wraps a token (default: as is).
 */
function visibleText(value: string, lines: boolean, mark: (token: string) => string = (t) => t): string {
  const escaped = (lines ? value.replace(/\r\n?/g, '\n') : value).replace(
    /[&<>"']/g,
    (ch) => HTML_ESCAPES[ch] ?? ch,
  );
  if (!lines) return escaped.replace(FIELD_CHARS, (ch) => mark(codePointToken(ch)));
  return escaped.replace(TEXT_CHARS, (ch, emoji: string | undefined) =>
    emoji !== undefined || ch === '\n' || ch === '\t' ? ch : mark(codePointToken(ch)),
  );
}

const markToken = (token: string): string => `<span class="cc">${token}</span>`;

/**
 * Text for HTML text content or a double-quoted attribute: `& < > " '` escaped, CR LF and CR read
 * as line feeds, and every other invisible character (controls, bidi controls, zero-width
 * characters, lone surrogates) shown as a `⟨U+202E⟩` token.
 */
export function escapeHtml(value: string): string {
  return visibleText(value, true);
}

/** Message text (multi-line) for an element's content, tokens marked so they read as such. */
export function textHtml(value: string): string {
  return visibleText(value, true, markToken);
}

/**
 * A user-controlled value inside a line (sender, file name, topic, title): bidi-isolated in a
 * `<bdi>` (so `alice\u202Egnp.exe` cannot reverse the time and seq after it), with every invisible
 * character, line breaks included, shown as a marked token (so `admin\u200b` does not read as
 * `admin`).
 */
export function userHtml(value: string, className?: string): string {
  const cls = className === undefined ? '' : ` class="${className}"`;
  return `<bdi${cls}>${visibleText(value, false, markToken)}</bdi>`;
}

/** One segment of a relative link: plain path characters and `%XX` escapes (upper-case hex). */
const SAFE_SEGMENT = /^(?:[A-Za-z0-9._-]|%[0-9A-F]{2})+$/;

/**
 * The href if it is a safe relative path, else undefined (the media then counts as not archived):
 * non-empty segments of plain path characters and `%XX` escapes (as `relativeHref` in `model.ts`
 * writes them), none of them `.` or `..` (written plain or escaped), no escaped NUL, slash or backslash.
 * So no scheme, no absolute path, no way out of the page's folder.
 */
export function safeHref(href: string): string | undefined {
  const segments = href.split('/');
  const safe = segments.every(
    (segment) =>
      SAFE_SEGMENT.test(segment) && !/%(?:00|2F|5C)/.test(segment) && !/^(?:\.|%2E){1,2}$/.test(segment),
  );
  return safe ? href : undefined;
}

// ---------------------------------------------------------------------------------------------
// Values from MsgContent (numbers may be bigint, fields may be missing or of another type)
// ---------------------------------------------------------------------------------------------

function str(content: JsonObject, key: string): string | undefined {
  const value = content[key];
  return typeof value === 'string' ? value : undefined;
}

function num(content: JsonObject, key: string): number | undefined {
  const value = content[key];
  if (typeof value === 'number' && Number.isFinite(value)) return value;
  if (typeof value === 'bigint') return Number(value);
  return undefined;
}

function objects(value: JsonValue | undefined): JsonObject[] {
  return Array.isArray(value)
    ? value.filter((v): v is JsonObject => v !== null && typeof v === 'object' && !Array.isArray(v))
    : [];
}

/** JSON text of any value (bigint as digits), for "shown as data". */
function jsonText(value: JsonValue): string {
  return JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v), 2) ?? '';
}

/** `1536` → `1.5 KB` (for people; decimal units as file managers show them). */
export function humanBytes(bytes: number): string {
  if (bytes < 1000) return `${bytes} B`;
  const units = ['KB', 'MB', 'GB', 'TB'];
  let value = bytes / 1000;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit++;
  }
  return `${value.toFixed(value < 10 ? 1 : 0)} ${units[unit]}`;
}

// ---------------------------------------------------------------------------------------------
// Time in the archive's zone
// ---------------------------------------------------------------------------------------------

/** What a time outside the calendar shows as (NaN, negative, past what a date can hold, not a number). */
export const INVALID_TIME = 'invalid time';

/** The latest epoch second a JavaScript date can hold (±8.64e15 ms). */
const MAX_EPOCH_SECONDS = 8.64e12;

/** Epoch seconds a date can show: a finite number from 0 to {@link MAX_EPOCH_SECONDS}. */
export function isShowableTime(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value) && value >= 0 && value <= MAX_EPOCH_SECONDS;
}

/** Every method shows {@link INVALID_TIME} (`day` too) for a time that is not showable. */
interface Clocks {
  day(epochSeconds: number): string;
  time(epochSeconds: number): string;
  dateTime(epochSeconds: number): string;
  weekday(epochSeconds: number): string;
}

function clocksFor(timeZone: string): Clocks {
  const parts = new Intl.DateTimeFormat('en-CA', {
    timeZone,
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
    hourCycle: 'h23',
  });
  const weekday = new Intl.DateTimeFormat('en-GB', { timeZone, weekday: 'long' });
  const pieces = (s: number) => {
    const out: Record<string, string> = {};
    for (const p of parts.formatToParts(s * 1000)) out[p.type] = p.value;
    return out;
  };
  const guarded =
    (show: (s: number) => string) =>
    (s: number): string =>
      isShowableTime(s) ? show(s) : INVALID_TIME;
  return {
    day: guarded((s) => {
      const p = pieces(s);
      return `${p.year}-${p.month}-${p.day}`;
    }),
    time: guarded((s) => {
      const p = pieces(s);
      return `${p.hour}:${p.minute}:${p.second}`;
    }),
    dateTime: guarded((s) => {
      const p = pieces(s);
      return `${p.year}-${p.month}-${p.day} ${p.hour}:${p.minute}:${p.second}`;
    }),
    weekday: guarded((s) => weekday.format(s * 1000)),
  };
}

// ---------------------------------------------------------------------------------------------
// Elements
// ---------------------------------------------------------------------------------------------

interface RenderContext {
  readonly media: MediaLookup;
  readonly clocks: Clocks;
  readonly message: TranscriptMessage;
  /** The names this sender was shown under before, when this message is the first under a new one. */
  readonly earlierNames?: readonly string[];
}

function mediaFor(ctx: RenderContext, element: readonly number[], sizeClass: SizeClass) {
  const ref: MediaRefPlace = {
    groupId: ctx.message.groupId,
    topicId: ctx.message.topicId,
    msgSeq: ctx.message.seq,
    ...(ctx.message.key === undefined ? {} : { msgKey: ctx.message.key }),
    elementPath: element.join('.'),
    sizeClass,
  };
  const found: ArchivedMedia | undefined = ctx.media(ref);
  const href = found === undefined ? undefined : safeHref(found.href);
  return href === undefined ? undefined : { ...found, href };
}

/**
 * The "not archived" note with what the element says about the file (never its URL). `facts` are
 * HTML already (user values in {@link userHtml}).
 */
function notArchived(kind: string, facts: readonly (string | undefined)[]): string {
  const known = facts.filter((f): f is string => f !== undefined && f !== '');
  return `<span class="missing">${escapeHtml(kind)}: media not archived${known.length > 0 ? ` (${known.join(', ')})` : ''}</span>`;
}

const IMAGE_TYPE: Readonly<Record<number, ImageSizeClass>> = {
  1: 'original',
  2: 'large',
  3: 'thumbnail',
};

/** `800×600` from an `ImageInfoArray` entry, when it has both. */
function dimsOf(info: JsonObject | undefined): string | undefined {
  const w = info === undefined ? undefined : num(info, 'Width');
  const h = info === undefined ? undefined : num(info, 'Height');
  return w !== undefined && h !== undefined ? `${w}×${h}` : undefined;
}

function renderImage(ctx: RenderContext, content: JsonObject, path: readonly number[]): string {
  const sizes = new Map<ImageSizeClass, JsonObject>();
  for (const info of objects(content.ImageInfoArray)) {
    const sizeClass = IMAGE_TYPE[num(info, 'Type') ?? 0];
    if (sizeClass !== undefined && !sizes.has(sizeClass)) sizes.set(sizeClass, info);
  }
  const original = sizes.get('original');
  const bytes = original === undefined ? undefined : num(original, 'Size');
  const facts = [dimsOf(original), bytes === undefined ? undefined : humanBytes(bytes)];
  // Shown: the large size if archived (light to load), else the original, else the thumbnail.
  for (const sizeClass of ['large', 'original', 'thumbnail'] as const) {
    const shown = mediaFor(ctx, path, sizeClass);
    if (shown === undefined) continue;
    const full = mediaFor(ctx, path, 'original') ?? shown;
    const alt = `image ${dimsOf(original) ?? ''}`.trim();
    const img = `<img src="${escapeHtml(shown.href)}" alt="${escapeHtml(alt)}" loading="lazy">`;
    // An <img> never runs an SVG's script, a page opened from a link would: SVGs get no link.
    const linked = isSvg(full.contentType) ? img : `<a href="${escapeHtml(full.href)}">${img}</a>`;
    return `<figure class="image">${linked}<figcaption>${escapeHtml(facts.filter(Boolean).join(', '))}</figcaption></figure>`;
  }
  const uuid = str(content, 'UUID');
  return notArchived('image', [
    ...facts.map((f) => (f === undefined ? undefined : escapeHtml(f))),
    uuid === undefined ? undefined : `uuid ${userHtml(uuid)}`,
  ]);
}

function isSvg(contentType: string | undefined): boolean {
  return /^image\/svg/i.test(contentType ?? '');
}

function renderFile(ctx: RenderContext, content: JsonObject, path: readonly number[]): string {
  const name = str(content, 'FileName') ?? 'file';
  const size = num(content, 'FileSize');
  const facts = `${size === undefined ? '' : ` (${humanBytes(size)})`}`;
  const copy = mediaFor(ctx, path, 'file');
  if (copy === undefined)
    return `<span class="file">📄 ${userHtml(name)}${escapeHtml(facts)}</span> ${notArchived('file', [])}`;
  return `<a class="file" href="${escapeHtml(copy.href)}" download="${escapeHtml(name)}">📄 ${userHtml(name)}</a>${escapeHtml(facts)}`;
}

function renderSound(ctx: RenderContext, content: JsonObject, path: readonly number[]): string {
  const seconds = num(content, 'Second');
  const size = num(content, 'Size');
  const label = `🎤 voice${seconds === undefined ? '' : `, ${seconds} s`}`;
  const copy = mediaFor(ctx, path, 'sound');
  if (copy === undefined) {
    return `<span class="sound">${escapeHtml(label)}</span> ${notArchived('voice', [size === undefined ? undefined : humanBytes(size)])}`;
  }
  const type = copy.contentType === undefined ? '' : ` type="${escapeHtml(copy.contentType)}"`;
  return `<div class="media"><span class="sound">${escapeHtml(label)}</span> <audio controls preload="none"><source src="${escapeHtml(copy.href)}"${type}><a href="${escapeHtml(copy.href)}">voice file</a></audio></div>`;
}

function renderVideo(ctx: RenderContext, content: JsonObject, path: readonly number[]): string {
  const seconds = num(content, 'VideoSecond');
  const size = num(content, 'VideoSize');
  const label = `🎬 video${seconds ? `, ${seconds} s` : ''}${size === undefined ? '' : `, ${humanBytes(size)}`}`;
  const video = mediaFor(ctx, path, 'video');
  const thumb = mediaFor(ctx, path, 'video-thumbnail');
  if (video === undefined) {
    const still =
      thumb === undefined ? '' : `<img class="thumb" src="${escapeHtml(thumb.href)}" alt="video thumbnail">`;
    const format = str(content, 'VideoFormat');
    return `<div class="media">${still}<span class="video">${escapeHtml(label)}</span> ${notArchived('video', [format === undefined ? undefined : userHtml(format)])}</div>`;
  }
  const poster = thumb === undefined ? '' : ` poster="${escapeHtml(thumb.href)}"`;
  const type = video.contentType === undefined ? '' : ` type="${escapeHtml(video.contentType)}"`;
  return `<video controls preload="none"${poster}><source src="${escapeHtml(video.href)}"${type}><a href="${escapeHtml(video.href)}">video file</a></video><div class="caption">${escapeHtml(label)}</div>`;
}

function renderLocation(content: JsonObject): string {
  const lat = num(content, 'Latitude');
  const lon = num(content, 'Longitude');
  const where =
    lat !== undefined && lon !== undefined ? `${lat.toFixed(6)}, ${lon.toFixed(6)}` : 'no coordinates';
  const desc = str(content, 'Desc');
  return `<span class="location">📍 ${desc ? `${userHtml(desc)} ` : ''}<span class="coords">(${escapeHtml(where)})</span></span>`;
}

function renderFace(content: JsonObject): string {
  const index = num(content, 'Index') ?? str(content, 'Index');
  const data = str(content, 'Data');
  return `<span class="face" title="face">☺ face ${index === undefined ? '?' : userHtml(String(index))}${data ? ` ${userHtml(data, 'data')}` : ''}</span>`;
}

const CUSTOM_FIELDS = ['Data', 'Desc', 'Ext', 'Sound'] as const;

function renderCustom(content: JsonObject): string {
  const rows = CUSTOM_FIELDS.map((key) => [key, str(content, key)] as const)
    .filter(([, v]) => v !== undefined && v !== '')
    .map(([key, v]) => `<dt>${key}</dt><dd><code>${textHtml(v ?? '')}</code></dd>`);
  const known = new Set<string>(CUSTOM_FIELDS);
  const others = Object.keys(content).filter((k) => !known.has(k));
  const rest =
    others.length > 0
      ? `<dt>other</dt><dd><code>${textHtml(jsonText(Object.fromEntries(others.map((k) => [k, content[k] ?? null]))))}</code></dd>`
      : '';
  return `<div class="custom"><span class="kind">custom element</span><dl>${rows.join('')}${rest}</dl></div>`;
}

/** The time of a forwarded item: none when absent, {@link INVALID_TIME} when not a showable number. */
function relayTime(ctx: RenderContext, item: JsonObject): string {
  if (!Object.hasOwn(item, 'MsgTimeStamp')) return '';
  const value = item.MsgTimeStamp;
  const seconds = typeof value === 'bigint' ? Number(value) : value;
  return ` <time>${escapeHtml(isShowableTime(seconds) ? ctx.clocks.dateTime(seconds) : INVALID_TIME)}</time>`;
}

/** A merged forward whose messages Tencent keeps elsewhere: its abstract and key only. */
function renderRelayAbstract(summary: string, content: JsonObject): string {
  const abstracts = Array.isArray(content.AbstractList)
    ? content.AbstractList.filter((a): a is string => typeof a === 'string')
    : [];
  const key = str(content, 'JsonMsgKey');
  return (
    `<details class="relay" open><summary>${summary}</summary>` +
    `<p class="missing">The forwarded messages are not in the history (too large: Tencent keeps them under a key${key ? ` ${userHtml(key)}` : ''}).</p>` +
    (abstracts.length > 0
      ? `<ul class="abstract">${abstracts.map((a) => `<li dir="auto">${textHtml(a)}</li>`).join('')}</ul>`
      : '') +
    '</details>'
  );
}

function renderRelay(ctx: RenderContext, content: JsonObject, at: ElementAt): string {
  const title = str(content, 'Title') ?? 'Forwarded messages';
  const count = num(content, 'MsgNum');
  const summary = `↪ ${userHtml(title)}${count === undefined ? '' : ` (${count} message${count === 1 ? '' : 's'})`}`;
  if (!Array.isArray(content.MsgList) || content.MsgList.length === 0) {
    return renderRelayAbstract(summary, content);
  }
  const nested = relayItems(content)
    .map(({ item, body }, j) => {
      const from = str(item, 'From_Account') ?? 'unknown sender';
      return (
        `<li><div class="meta" dir="ltr">${userHtml(from, 'sender')}${relayTime(ctx, item)}</div>` +
        `${renderBody(ctx, body, { path: [...at.path, j], depth: at.depth + 1 })}</li>`
      );
    })
    .join('');
  return `<details class="relay" open><summary>${summary}</summary><ol class="nested">${nested}</ol></details>`;
}

/** Where an element is: its media path (`MediaRefPlace.elementPath` split at its dots) and how deep in forwards. */
interface ElementAt {
  readonly path: readonly number[];
  readonly depth: number;
}

/** An element by its type; an unknown type is shown as data. */
function renderTyped(ctx: RenderContext, element: TranscriptElement, at: ElementAt): string {
  const c = element.content;
  switch (element.type) {
    case 'TIMTextElem':
      return `<div class="text" dir="auto">${textHtml(str(c, 'Text') ?? '')}</div>`;
    case 'TIMFaceElem':
      return renderFace(c);
    case 'TIMLocationElem':
      return renderLocation(c);
    case 'TIMCustomElem':
      return renderCustom(c);
    case 'TIMImageElem':
      return renderImage(ctx, c, at.path);
    case 'TIMFileElem':
      return renderFile(ctx, c, at.path);
    case 'TIMSoundElem':
      return renderSound(ctx, c, at.path);
    case 'TIMVideoFileElem':
      return renderVideo(ctx, c, at.path);
    case 'TIMRelayElem':
      // Tencent nests one level; deeper data is still shown, as data, so nothing is hidden.
      return at.depth > 8 ? `<pre class="data">${textHtml(jsonText(c))}</pre>` : renderRelay(ctx, c, at);
    default:
      return `<div class="custom"><span class="kind">${userHtml(element.type)}</span><pre class="data">${textHtml(jsonText(c))}</pre></div>`;
  }
}

const KNOWN_TYPES = new Set([
  'TIMTextElem',
  'TIMFaceElem',
  'TIMLocationElem',
  'TIMCustomElem',
  'TIMImageElem',
  'TIMFileElem',
  'TIMSoundElem',
  'TIMVideoFileElem',
  'TIMRelayElem',
]);

/**
 * An element not in the expected shape: what its type shows (when it is a known type with a
 * `MsgContent` object), then every key of it with its value, as data.
 */
function renderAsData(ctx: RenderContext, element: TranscriptElement, at: ElementAt): string {
  const data = element.data ?? null;
  const typed =
    isJsonObject(data) && isJsonObject(data.MsgContent) && KNOWN_TYPES.has(element.type)
      ? renderTyped(ctx, element, at)
      : '';
  const fields = isJsonObject(data)
    ? `<dl>${Object.entries(data)
        .map(
          ([key, value]) =>
            `<dt>${userHtml(key)}</dt><dd><pre class="data">${textHtml(jsonText(value))}</pre></dd>`,
        )
        .join('')}</dl>`
    : `<pre class="data">${textHtml(jsonText(data))}</pre>`;
  return `${typed}<div class="odd"><span class="kind">element not in the expected shape, shown as data</span>${fields}</div>`;
}

function renderBody(ctx: RenderContext, body: readonly TranscriptElement[], at: ElementAt): string {
  if (body.length === 0) return '<div class="empty">(no content)</div>';
  return body
    .map((e, i) => {
      const here = { path: [...at.path, i], depth: at.depth };
      return `<div class="el">${e.data === undefined ? renderTyped(ctx, e, here) : renderAsData(ctx, e, here)}</div>`;
    })
    .join('');
}

// ---------------------------------------------------------------------------------------------
// Messages
// ---------------------------------------------------------------------------------------------

const CHANGE_LABELS: Readonly<Record<string, string>> = {
  modified: 'edited',
  recalled: 'recalled',
  deleted: 'deleted',
  restored: 'restored',
};

function placeholderNote(isPlace: number): string | undefined {
  if (isPlace === 1) return 'deleted or expired: Tencent returned a placeholder without content';
  if (isPlace === 2) return 'recalled';
  return undefined;
}

function renderVersionContent(ctx: RenderContext, version: MessageVersion): string {
  const note = placeholderNote(version.isPlace);
  const body =
    version.body.length > 0 || note === undefined
      ? renderBody(ctx, version.body, { path: [], depth: 0 })
      : '';
  const custom = version.cloudCustomData
    ? `<details class="ccd"><summary>cloud custom data</summary><code>${textHtml(version.cloudCustomData)}</code></details>`
    : '';
  return `${note === undefined ? '' : `<div class="placeholder">⊘ ${escapeHtml(note)}</div>`}${body}${custom}`;
}

/** An item the archive could not read as a message: said so, with its exact text as archived. */
function renderUnreadable(unreadable: { readonly raw: string; readonly reason: string | null }): string {
  return (
    '<div class="unreadable-note">⚠ unreadable: the archive could not read this item as a message; its exact text as archived:</div>' +
    `<pre class="data raw">${textHtml(unreadable.raw)}</pre>` +
    (unreadable.reason === null ? '' : `<div class="caption">reason: ${userHtml(unreadable.reason)}</div>`)
  );
}

function renderHistory(ctx: RenderContext): string {
  const m = ctx.message;
  if (m.versions.length < 2) return '';
  const items = m.versions.map(
    (v) =>
      `<li><div class="meta">revision ${v.revision}${v.change ? `: ${userHtml(v.change)}` : ': first capture'}${
        v.observedAt === null ? '' : `, seen ${escapeHtml(ctx.clocks.dateTime(v.observedAt))}`
      }</div>${renderVersionContent(ctx, v)}</li>`,
  );
  return `<details class="history"><summary>history: ${m.versions.length} versions</summary><ol>${items.join('')}</ol></details>`;
}

/**
 * The message's line of metadata, left to right whatever the content: sender, time, seq, topic,
 * badges. Each user value is isolated ({@link userHtml}), so none can move the others.
 */
function renderMeta(ctx: RenderContext, topics: boolean, badges: readonly string[]): string {
  const m = ctx.message;
  const sender = m.isSystem ? 'system' : (m.sender ?? 'unknown sender');
  const seq =
    m.key !== undefined ? '' : m.unreadable !== undefined && m.seq === 0 ? 'seq unknown' : `#${m.seq}`;
  const topic = topics && m.topicId !== null ? ` ${userHtml(m.topicId, 'topic')}` : '';
  const badgeHtml = badges.map((label) => ` <span class="badge">${userHtml(label)}</span>`).join('');
  const who = m.from === undefined ? userHtml(sender, 'sender') : whoHtml(m.from);
  return (
    `<div class="meta" dir="ltr">${who} ` +
    `<time>${escapeHtml(ctx.clocks.time(m.time))}</time>${seq === '' ? '' : ` <span class="seq">${escapeHtml(seq)}</span>`}${topic}${badgeHtml}</div>`
  );
}

/**
 * A name a person reads: isolated, clipped to one line when long (the whole text stays in the page
 * and in the `title` tooltip, invisible characters as tokens there too).
 */
function nameHtml(name: string, className: string): string {
  return `<bdi class="${className}" title="${visibleText(name, false)}">${visibleText(name, false, markToken)}</bdi>`;
}

/** Owner and Admin get a badge; another role served is shown as plain text. */
function roleHtml(role: string | null): string {
  if (role === null) return '';
  if (role === 'Owner' || role === 'Admin') return ` <span class="badge role">${escapeHtml(role)}</span>`;
  return ` <span class="role">${userHtml(role)}</span>`;
}

/**
 * The sender as of the message's time (docs/names.md): the name shown, the account id beside it
 * (unless the name is the account), the role, and marks for a deleted account or a member who
 * left. Left to right, whatever the name's direction.
 */
function whoHtml(from: SenderAt): string {
  const account =
    from.source === 'account' ? '' : ` <span class="account">(${userHtml(from.account)})</span>`;
  const gone = from.gone
    ? ' <span class="badge gone">account deleted; last known name</span>'
    : from.goneSince === null
      ? ''
      : ' <span class="badge gone">account since deleted</span>';
  const left = from.left ? ' <span class="role">left the group</span>' : '';
  return `<bdi class="who" dir="ltr">${nameHtml(from.name, 'sender')}${account}${roleHtml(from.role)}${gone}${left}</bdi>`;
}

/** `Alice, later Alice Chen`: the names a sender was shown under, in order. */
function namesHtml(names: readonly string[]): string {
  return names.map((n, i) => `${i === 0 ? '' : ', later '}${nameHtml(n, 'name')}`).join('');
}

function renderMessage(ctx: RenderContext, topics: boolean): string {
  const m = ctx.message;
  const current = m.versions.at(-1) ?? m.versions[0];
  if (current === undefined) return '';
  const classes = ['msg'];
  if (m.isSystem) classes.push('system');
  if (current.isPlace === 1) classes.push('deleted');
  if (current.isPlace === 2) classes.push('recalled');
  if (m.unreadable !== undefined) classes.push('unreadable');
  const changes = m.versions.slice(1);
  if (changes.length > 0) classes.push('changed');
  const badges = [
    ...(m.unreadable === undefined ? [] : ['unreadable']),
    ...changes.map((v) => CHANGE_LABELS[v.change ?? ''] ?? v.change ?? 'changed'),
  ].filter((label, i, all) => all.indexOf(label) === i);
  const body =
    m.unreadable === undefined ? renderVersionContent(ctx, current) : renderUnreadable(m.unreadable);
  return (
    `<article class="${classes.join(' ')}" id="${escapeHtml(messageAnchor(m))}">` +
    `${renderMeta(ctx, topics, badges)}${renamedNote(ctx)}<div class="body">${body}</div>${renderHistory(ctx)}</article>`
  );
}

/**
 * On the first message under a sender's new name: `Alice, later Alice Chen`, so the change shows
 * where it happens (the header's list of people shows every sender's names at once).
 */
function renamedNote(ctx: RenderContext): string {
  const from = ctx.message.from;
  if (from === undefined || ctx.earlierNames === undefined || ctx.earlierNames.length === 0) return '';
  return `<div class="renamed" dir="ltr">name changed: ${namesHtml([...ctx.earlierNames, from.name])}</div>`;
}

/**
 * The article's id: `m-<topic>-<seq>`, with the raw text's length for an unreadable item; a
 * one-to-one message's `k-<MsgKey>`.
 */
function messageAnchor(m: TranscriptMessage): string {
  if (m.key !== undefined) return `k-${m.key}`;
  const base = `m-${m.topicId ?? ''}-${m.seq}`;
  return m.unreadable === undefined ? base : `${base}-unreadable-${m.unreadable.raw.length}`;
}

// ---------------------------------------------------------------------------------------------
// Page
// ---------------------------------------------------------------------------------------------

const STYLE = `
:root { color-scheme: light; --muted: #6b7280; --line: #e5e7eb; --accent: #2563eb; }
* { box-sizing: border-box; }
body { margin: 0; overflow-wrap: anywhere; font: 15px/1.5 system-ui, -apple-system, "Segoe UI", "Noto Sans", "Noto Sans CJK SC", "PingFang SC", "Microsoft YaHei", sans-serif; color: #111827; background: #f3f4f6; }
header { background: #fff; border-bottom: 1px solid var(--line); padding: 16px 24px; }
header h1 { margin: 0 0 4px; font-size: 20px; }
header p { margin: 2px 0; color: var(--muted); font-size: 13px; }
main { max-width: 880px; margin: 0 auto; padding: 8px 16px 48px; }
.day { text-align: center; margin: 20px 0 8px; color: var(--muted); font-size: 13px; }
.day span { background: #e5e7eb; border-radius: 999px; padding: 2px 12px; }
.msg { background: #fff; border: 1px solid var(--line); border-radius: 10px; padding: 8px 12px; margin: 6px 0; min-width: 0; }
bdi, code, time, .seq { unicode-bidi: isolate; }
.cc { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 0.8em; font-weight: 400; color: #b91c1c; background: #fee2e2; border-radius: 3px; padding: 0 2px; }
.msg .meta { font-size: 12px; color: var(--muted); }
.msg .sender { font-weight: 600; color: #111827; }
.msg .seq, .msg .topic { font-variant-numeric: tabular-nums; }
.text { white-space: pre-wrap; overflow-wrap: anywhere; }
.el + .el { margin-top: 4px; }
.system { background: #f9fafb; border-style: dashed; text-align: center; }
.deleted .body, .recalled .body { color: var(--muted); }
.placeholder { font-style: italic; color: #b45309; }
bdi.sender[title], bdi.name { display: inline-block; max-width: min(100%, 36em); overflow: hidden; text-overflow: ellipsis; white-space: nowrap; vertical-align: bottom; }
.account, .role { color: var(--muted); font-weight: 400; }
.badge.role { background: #dbeafe; color: #1e40af; }
.badge.gone { background: #fee2e2; color: #991b1b; }
.renamed { font-size: 12px; color: #92400e; }
.people { margin-top: 6px; font-size: 13px; }
.people ul { margin: 4px 0; padding-left: 20px; }
.badge { display: inline-block; font-size: 11px; padding: 0 6px; border-radius: 4px; background: #fef3c7; color: #92400e; }
.missing { color: #b91c1c; font-size: 13px; }
figure.image { margin: 4px 0; }
figure.image img, img.thumb { display: block; width: auto; height: auto; max-width: min(100%, 420px); max-height: 280px; border-radius: 6px; border: 1px solid var(--line); }
.media { display: flex; align-items: center; gap: 8px; flex-wrap: wrap; }
audio { height: 36px; }
figcaption, .caption { font-size: 12px; color: var(--muted); }
video { display: block; max-width: min(100%, 480px); max-height: 320px; }
.custom dl, .odd dl { margin: 2px 0; display: grid; grid-template-columns: fit-content(40%) minmax(0, 1fr); gap: 0 8px; }
.custom dt, .odd dt { color: var(--muted); font-size: 12px; }
.custom dd, .odd dd { margin: 0; min-width: 0; }
.odd { border-left: 3px solid #f59e0b; padding-left: 8px; margin-top: 4px; }
.unreadable { border-color: #f59e0b; background: #fffbeb; }
.unreadable-note { color: #92400e; font-size: 13px; }
.kind { font-size: 12px; color: var(--muted); }
code, pre { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 13px; white-space: pre-wrap; overflow-wrap: anywhere; }
pre.data { margin: 2px 0; background: #f9fafb; padding: 4px 6px; border-radius: 4px; }
.relay { border-left: 3px solid var(--accent); padding-left: 8px; margin: 4px 0; }
.relay summary { cursor: pointer; color: var(--accent); }
ol.nested { list-style: none; padding-left: 0; margin: 4px 0; }
ol.nested > li { padding: 4px 0; border-top: 1px dotted var(--line); }
.history { margin-top: 6px; font-size: 13px; }
.history ol { padding-left: 20px; }
.location .coords { color: var(--muted); font-variant-numeric: tabular-nums; }
a { color: var(--accent); }
footer { text-align: center; color: var(--muted); font-size: 12px; padding: 16px; }
`;

/** `sha256-…` of the style element's text, for the CSP. */
function styleHash(style: string): string {
  return `'sha256-${createHash('sha256').update(style, 'utf8').digest('base64')}'`;
}

/** The page's Content-Security-Policy: no script, nothing remote, only archived media beside it. */
export function contentSecurityPolicy(): string {
  return [
    "default-src 'none'",
    "img-src 'self'",
    "media-src 'self'",
    `style-src ${styleHash(STYLE)}`,
    "base-uri 'none'",
    "form-action 'none'",
  ].join('; ');
}

/**
 * What the identity rows say of the group: its name (and renames within the transcript, with the
 * time of the first message under each), and when it was first seen dissolved.
 */
function groupHeader(group: TranscriptGroup | undefined, clocks: Clocks): string {
  if (group === undefined) return '';
  const names = group.names
    .map(
      (n, i) =>
        `${i === 0 ? '' : ', later '}${nameHtml(n.name, 'name')}${
          n.since === null ? '' : ` (from ${escapeHtml(clocks.dateTime(n.since))})`
        }`,
    )
    .join('');
  const dissolved =
    group.dissolvedSince === null
      ? ''
      : ` Dissolved: first seen dissolved ${escapeHtml(clocks.dateTime(group.dissolvedSince))}; the name is the last known one.`;
  return `<p class="group-names" dir="ltr">Group name${group.names.length > 1 ? 's' : ''}: ${names === '' ? 'none known' : names}.${dissolved}</p>\n`;
}

/**
 * Who is who: every sender the identity rows name, in order of first message, with every name
 * shown in the transcript (`Alice, later Alice Chen`), the account id and the roles. Empty when
 * no sender is named (the page is then as it was before names).
 */
function peopleHtml(messages: readonly TranscriptMessage[]): string {
  const people = new Map<string, { names: string[]; roles: string[]; last: SenderAt }>();
  for (const m of messages) {
    const from = m.from;
    if (from === undefined) continue;
    const person = people.get(from.account) ?? { names: [], roles: [], last: from };
    if (person.names.at(-1) !== from.name) person.names.push(from.name);
    if (from.role !== null && !person.roles.includes(from.role)) person.roles.push(from.role);
    person.last = from;
    people.set(from.account, person);
  }
  if (people.size === 0) return '';
  const items = [...people.entries()].map(
    ([account, p]) =>
      `<li dir="ltr">${namesHtml(p.names)}${
        p.names.length === 1 && p.names[0] === account
          ? ''
          : ` <span class="account">(${userHtml(account)})</span>`
      }${p.roles
        .map((r) => roleHtml(r))
        .join(
          '',
        )}${p.last.goneSince === null ? '' : ' <span class="badge gone">account deleted</span>'}</li>`,
  );
  return `<details class="people" open><summary>${people.size} ${people.size === 1 ? 'person' : 'people'} named in this transcript (names as of each message's time)</summary><ul>${items.join('')}</ul></details>\n`;
}

/** What the transcript is of: a group (and topic), or a one-to-one conversation's two accounts. */
function subjectHtml(input: TranscriptInput): string {
  if (input.conversation !== undefined) {
    const [a, b] = input.conversation;
    return `One-to-one conversation of <code>${userHtml(a)}</code> and <code>${userHtml(b)}</code>`;
  }
  const topic = input.topicId === null ? '' : `, topic <code>${userHtml(input.topicId)}</code>`;
  return `Group <code>${userHtml(input.groupId)}</code>${topic}`;
}

/** The whole transcript page. */
export function renderTranscriptHtml(input: TranscriptInput): string {
  const clocks = clocksFor(input.timeZone);
  const topics = input.messages.some((m) => m.topicId !== null);
  const parts: string[] = [];
  let day = '';
  // Each sender's names so far, to note the first message under a new one.
  const shown = new Map<string, string[]>();
  for (const message of input.messages) {
    const d = clocks.day(message.time);
    if (d !== day) {
      day = d;
      const label = d === INVALID_TIME ? INVALID_TIME : `${clocks.weekday(message.time)}, ${d}`;
      parts.push(
        `<h2 class="day" id="d-${escapeHtml(d.replaceAll(' ', '-'))}"><span>${escapeHtml(label)}</span></h2>`,
      );
    }
    const from = message.from;
    const names = from === undefined ? undefined : shown.get(from.account);
    const renamed = from !== undefined && names !== undefined && names.at(-1) !== from.name;
    parts.push(
      renderMessage(
        { media: input.media, clocks, message, ...(renamed ? { earlierNames: [...(names ?? [])] } : {}) },
        topics,
      ),
    );
    if (from !== undefined && (names === undefined || renamed))
      shown.set(from.account, [...(names ?? []), from.name]);
  }
  const counts = {
    messages: input.messages.length,
    placeholders: input.messages.filter((m) => (m.versions.at(-1)?.isPlace ?? 0) !== 0).length,
    changed: input.messages.filter((m) => m.versions.length > 1).length,
    unreadable: input.messages.filter((m) => m.unreadable !== undefined).length,
  };
  const generated = new Date(input.generatedAtMs).toISOString().replace(/\.\d+Z$/, 'Z');
  return `<!DOCTYPE html>
<html lang="und">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="${escapeHtml(contentSecurityPolicy())}">
<meta name="referrer" content="no-referrer">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${visibleText(input.title, false)}</title>
<style>${STYLE}</style>
</head>
<body>
<header>
<h1>${userHtml(input.title)}</h1>
<p>${subjectHtml(input)}, ${escapeHtml(input.from)} to ${escapeHtml(input.to)}; times in ${escapeHtml(input.timeZone)}.</p>
${groupHeader(input.group, clocks)}<p>${counts.messages} messages (${counts.placeholders} deleted or recalled, ${counts.changed} changed after capture${counts.unreadable > 0 ? `, ${counts.unreadable} unreadable` : ''}). From ${userHtml(input.source)}, generated ${escapeHtml(generated)}.</p>
${peopleHtml(input.messages)}</header>
<main>
${counts.messages === 0 ? '<p class="empty">No archived messages in this range.</p>' : parts.join('\n')}
</main>
<footer>tencent-chat-archiver transcript: content as archived; media links point to archived copies only.</footer>
</body>
</html>
`;
}
