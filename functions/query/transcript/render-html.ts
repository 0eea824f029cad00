/**
 * A conversation as one HTML page a person reads in a browser, without script: messages in order
 * with sender and local time, day separators, every element type, system messages, deleted and
 * recalled placeholders, edits with their history, media from the archive.
 *
 * Safety: message content is untrusted. Every value is escaped for the context it lands in (text
 * or a quoted attribute); control characters are shown as `\u0001`-style escapes; no URL from
 * message content is ever written into the page: only links to archived copies, which the media
 * lookup supplies and which must be plain relative paths (anything else is refused, so a
 * `javascript:` URL cannot appear). A Content-Security-Policy meta tag allows no script at all,
 * no remote resource, and only this page's own style (by hash), so even a renderer bug could not
 * load or run anything.
 *
 * Pure: no clock, no I/O; the caller passes the time it was generated.
 */
import { createHash } from 'node:crypto';
import type { JsonObject, JsonValue } from '../../domain/tencent-types.ts';
import {
  type ArchivedMedia,
  type MediaLookup,
  type MediaRef,
  type MediaVariant,
  type MessageVersion,
  relayItems,
  type TranscriptElement,
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
 * Text for HTML text content or a double-quoted attribute: `& < > " '` escaped, control
 * characters other than tab and line feed shown as `\uXXXX` (HTML forbids most of them), CR LF
 * and CR read as line feeds, lone surrogates replaced by U+FFFD.
 */
export function escapeHtml(value: string): string {
  return (
    value
      .replace(/\r\n?/g, '\n')
      // biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point.
      .replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f]/g, (ch) => `\\u${hex4(ch)}`)
      .replace(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, '\ufffd')
      .replace(/[&<>"']/g, (ch) => HTML_ESCAPES[ch] ?? ch)
  );
}

function hex4(ch: string): string {
  return ch.charCodeAt(0).toString(16).padStart(4, '0');
}

/** A relative link the page may use: plain path characters, no scheme, no `..`, not absolute. */
const SAFE_HREF = /^(?!\/)(?!.*(?:^|\/)\.\.(?:\/|$))[A-Za-z0-9._\-/]+$/;

/** The href if it is a safe relative path, else undefined (the media then counts as not archived). */
export function safeHref(href: string): string | undefined {
  return SAFE_HREF.test(href) && !href.includes('//') ? href : undefined;
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
  return {
    day: (s) => {
      const p = pieces(s);
      return `${p.year}-${p.month}-${p.day}`;
    },
    time: (s) => {
      const p = pieces(s);
      return `${p.hour}:${p.minute}:${p.second}`;
    },
    dateTime: (s) => {
      const p = pieces(s);
      return `${p.year}-${p.month}-${p.day} ${p.hour}:${p.minute}:${p.second}`;
    },
    weekday: (s) => weekday.format(s * 1000),
  };
}

// ---------------------------------------------------------------------------------------------
// Elements
// ---------------------------------------------------------------------------------------------

interface RenderContext {
  readonly media: MediaLookup;
  readonly clocks: Clocks;
  readonly message: TranscriptMessage;
}

function mediaFor(ctx: RenderContext, element: readonly number[], variant: MediaVariant) {
  const ref: MediaRef = {
    groupId: ctx.message.groupId,
    topicId: ctx.message.topicId,
    seq: ctx.message.seq,
    element,
    variant,
  };
  const found: ArchivedMedia | undefined = ctx.media(ref);
  const href = found === undefined ? undefined : safeHref(found.href);
  return href === undefined ? undefined : { ...found, href };
}

/** The "not archived" note with what the element says about the file (never its URL). */
function notArchived(kind: string, facts: readonly (string | undefined)[]): string {
  const known = facts.filter((f): f is string => f !== undefined && f !== '');
  return `<span class="missing">${escapeHtml(kind)}: media not archived${known.length > 0 ? ` (${escapeHtml(known.join(', '))})` : ''}</span>`;
}

const IMAGE_TYPE: Readonly<Record<number, MediaVariant>> = {
  1: 'image-original',
  2: 'image-large',
  3: 'image-thumbnail',
};

function renderImage(ctx: RenderContext, content: JsonObject, path: readonly number[]): string {
  const infos = objects(content.ImageInfoArray);
  const sizes = new Map<MediaVariant, JsonObject>();
  for (const info of infos) {
    const variant = IMAGE_TYPE[num(info, 'Type') ?? 0];
    if (variant !== undefined && !sizes.has(variant)) sizes.set(variant, info);
  }
  const original = sizes.get('image-original');
  const dims = (info: JsonObject | undefined) => {
    const w = info === undefined ? undefined : num(info, 'Width');
    const h = info === undefined ? undefined : num(info, 'Height');
    return w !== undefined && h !== undefined ? `${w}×${h}` : undefined;
  };
  const bytes = original === undefined ? undefined : num(original, 'Size');
  // Shown: the large size if archived (light to load), else the original, else the thumbnail.
  for (const variant of ['image-large', 'image-original', 'image-thumbnail'] as const) {
    const shown = mediaFor(ctx, path, variant);
    if (shown === undefined) continue;
    const full = mediaFor(ctx, path, 'image-original') ?? shown;
    const alt = `image ${dims(original) ?? ''}`.trim();
    return (
      `<figure class="image"><a href="${escapeHtml(full.href)}"><img src="${escapeHtml(shown.href)}" alt="${escapeHtml(alt)}" loading="lazy"></a>` +
      `<figcaption>${escapeHtml([dims(original), bytes === undefined ? undefined : humanBytes(bytes)].filter(Boolean).join(', '))}</figcaption></figure>`
    );
  }
  return notArchived('image', [
    dims(original),
    bytes === undefined ? undefined : humanBytes(bytes),
    str(content, 'UUID') === undefined ? undefined : `uuid ${str(content, 'UUID')}`,
  ]);
}

function renderFile(ctx: RenderContext, content: JsonObject, path: readonly number[]): string {
  const name = str(content, 'FileName') ?? 'file';
  const size = num(content, 'FileSize');
  const facts = `${size === undefined ? '' : ` (${humanBytes(size)})`}`;
  const copy = mediaFor(ctx, path, 'file');
  if (copy === undefined)
    return `<span class="file">📄 ${escapeHtml(name)}${escapeHtml(facts)}</span> ${notArchived('file', [])}`;
  return `<a class="file" href="${escapeHtml(copy.href)}" download="${escapeHtml(name)}">📄 ${escapeHtml(name)}</a>${escapeHtml(facts)}`;
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
    return `<div class="media">${still}<span class="video">${escapeHtml(label)}</span> ${notArchived('video', [str(content, 'VideoFormat')])}</div>`;
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
  return `<span class="location">📍 ${desc ? `${escapeHtml(desc)} ` : ''}<span class="coords">(${escapeHtml(where)})</span></span>`;
}

function renderFace(content: JsonObject): string {
  const index = num(content, 'Index');
  const data = str(content, 'Data');
  return `<span class="face" title="face">☺ face ${index === undefined ? '?' : escapeHtml(String(index))}${data ? ` <span class="data">${escapeHtml(data)}</span>` : ''}</span>`;
}

function renderCustom(content: JsonObject): string {
  const rows = ['Data', 'Desc', 'Ext', 'Sound']
    .map((key) => [key, str(content, key)] as const)
    .filter(([, v]) => v !== undefined && v !== '')
    .map(([key, v]) => `<dt>${key}</dt><dd><code>${escapeHtml(v ?? '')}</code></dd>`);
  const known = new Set(['Data', 'Desc', 'Ext', 'Sound']);
  const others = Object.keys(content).filter((k) => !known.has(k));
  const rest =
    others.length > 0
      ? `<dt>other</dt><dd><code>${escapeHtml(jsonText(Object.fromEntries(others.map((k) => [k, content[k] ?? null]))))}</code></dd>`
      : '';
  return `<div class="custom"><span class="kind">custom element</span><dl>${rows.join('')}${rest}</dl></div>`;
}

function renderRelay(
  ctx: RenderContext,
  content: JsonObject,
  path: readonly number[],
  depth: number,
): string {
  const title = str(content, 'Title') ?? 'Forwarded messages';
  const count = num(content, 'MsgNum');
  const summary = `↪ ${escapeHtml(title)}${count === undefined ? '' : ` (${count} message${count === 1 ? '' : 's'})`}`;
  if (!Array.isArray(content.MsgList) || content.MsgList.length === 0) {
    const abstracts = Array.isArray(content.AbstractList)
      ? content.AbstractList.filter((a): a is string => typeof a === 'string')
      : [];
    const key = str(content, 'JsonMsgKey');
    return (
      `<details class="relay" open><summary>${summary}</summary>` +
      `<p class="missing">The forwarded messages are not in the history (too large: Tencent keeps them under a key${key ? ` ${escapeHtml(key)}` : ''}).</p>` +
      (abstracts.length > 0
        ? `<ul class="abstract">${abstracts.map((a) => `<li>${escapeHtml(a)}</li>`).join('')}</ul>`
        : '') +
      '</details>'
    );
  }
  const nested = relayItems(content)
    .map(({ item, body }, j) => {
      const time = num(item, 'MsgTimeStamp');
      const from = str(item, 'From_Account') ?? 'unknown sender';
      return (
        `<li><div class="meta"><span class="sender">${escapeHtml(from)}</span>` +
        (time === undefined ? '' : ` <time>${escapeHtml(ctx.clocks.dateTime(time))}</time>`) +
        `</div>${renderBody(ctx, body, [...path, j], depth + 1)}</li>`
      );
    })
    .join('');
  return `<details class="relay" open><summary>${summary}</summary><ol class="nested">${nested}</ol></details>`;
}

function renderElement(
  ctx: RenderContext,
  element: TranscriptElement,
  path: readonly number[],
  depth: number,
): string {
  const c = element.content;
  switch (element.type) {
    case 'TIMTextElem':
      return `<div class="text">${escapeHtml(str(c, 'Text') ?? '')}</div>`;
    case 'TIMFaceElem':
      return renderFace(c);
    case 'TIMLocationElem':
      return renderLocation(c);
    case 'TIMCustomElem':
      return renderCustom(c);
    case 'TIMImageElem':
      return renderImage(ctx, c, path);
    case 'TIMFileElem':
      return renderFile(ctx, c, path);
    case 'TIMSoundElem':
      return renderSound(ctx, c, path);
    case 'TIMVideoFileElem':
      return renderVideo(ctx, c, path);
    case 'TIMRelayElem':
      // Tencent nests one level; deeper data is still shown, as data, so nothing is hidden.
      return depth > 8
        ? `<pre class="data">${escapeHtml(jsonText(c))}</pre>`
        : renderRelay(ctx, c, path, depth);
    default:
      return `<div class="custom"><span class="kind">${escapeHtml(element.type)}</span><pre class="data">${escapeHtml(jsonText(c))}</pre></div>`;
  }
}

function renderBody(
  ctx: RenderContext,
  body: readonly TranscriptElement[],
  path: readonly number[],
  depth: number,
): string {
  if (body.length === 0) return '<div class="empty">(no content)</div>';
  return body.map((e, i) => `<div class="el">${renderElement(ctx, e, [...path, i], depth)}</div>`).join('');
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
  const body = version.body.length > 0 || note === undefined ? renderBody(ctx, version.body, [], 0) : '';
  const custom = version.cloudCustomData
    ? `<details class="ccd"><summary>cloud custom data</summary><code>${escapeHtml(version.cloudCustomData)}</code></details>`
    : '';
  return `${note === undefined ? '' : `<div class="placeholder">⊘ ${escapeHtml(note)}</div>`}${body}${custom}`;
}

function renderMessage(ctx: RenderContext, topics: boolean): string {
  const m = ctx.message;
  const current = m.versions.at(-1) ?? m.versions[0];
  if (current === undefined) return '';
  const classes = ['msg'];
  if (m.isSystem) classes.push('system');
  if (current.isPlace === 1) classes.push('deleted');
  if (current.isPlace === 2) classes.push('recalled');
  const changes = m.versions.slice(1);
  if (changes.length > 0) classes.push('changed');
  const badges = changes
    .map((v) => CHANGE_LABELS[v.change ?? ''] ?? v.change ?? 'changed')
    .filter((label, i, all) => all.indexOf(label) === i)
    .map((label) => `<span class="badge">${escapeHtml(label)}</span>`)
    .join(' ');
  const history =
    changes.length === 0
      ? ''
      : `<details class="history"><summary>history: ${m.versions.length} versions</summary><ol>${m.versions
          .map(
            (v) =>
              `<li><div class="meta">revision ${v.revision}${v.change ? `: ${escapeHtml(v.change)}` : ': first capture'}${
                v.observedAt === null ? '' : `, seen ${escapeHtml(ctx.clocks.dateTime(v.observedAt))}`
              }</div>${renderVersionContent(ctx, v)}</li>`,
          )
          .join('')}</ol></details>`;
  const topic = topics && m.topicId !== null ? ` <span class="topic">${escapeHtml(m.topicId)}</span>` : '';
  return (
    `<article class="${classes.join(' ')}" id="m-${escapeHtml(m.topicId ?? '')}-${m.seq}">` +
    `<div class="meta"><span class="sender">${escapeHtml(m.isSystem ? 'system' : (m.sender ?? 'unknown sender'))}</span> ` +
    `<time>${escapeHtml(ctx.clocks.time(m.time))}</time> <span class="seq">#${m.seq}</span>${topic}${badges ? ` ${badges}` : ''}</div>` +
    `<div class="body">${renderVersionContent(ctx, current)}</div>${history}</article>`
  );
}

// ---------------------------------------------------------------------------------------------
// Page
// ---------------------------------------------------------------------------------------------

const STYLE = `
:root { color-scheme: light; --muted: #6b7280; --line: #e5e7eb; --accent: #2563eb; }
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.5 system-ui, -apple-system, "Segoe UI", "Noto Sans", "Noto Sans CJK SC", "PingFang SC", "Microsoft YaHei", sans-serif; color: #111827; background: #f3f4f6; }
header { background: #fff; border-bottom: 1px solid var(--line); padding: 16px 24px; }
header h1 { margin: 0 0 4px; font-size: 20px; }
header p { margin: 2px 0; color: var(--muted); font-size: 13px; }
main { max-width: 880px; margin: 0 auto; padding: 8px 16px 48px; }
.day { text-align: center; margin: 20px 0 8px; color: var(--muted); font-size: 13px; }
.day span { background: #e5e7eb; border-radius: 999px; padding: 2px 12px; }
.msg { background: #fff; border: 1px solid var(--line); border-radius: 10px; padding: 8px 12px; margin: 6px 0; }
.msg .meta { font-size: 12px; color: var(--muted); }
.msg .sender { font-weight: 600; color: #111827; }
.msg .seq, .msg .topic { font-variant-numeric: tabular-nums; }
.text { white-space: pre-wrap; overflow-wrap: anywhere; }
.el + .el { margin-top: 4px; }
.system { background: #f9fafb; border-style: dashed; text-align: center; }
.deleted .body, .recalled .body { color: var(--muted); }
.placeholder { font-style: italic; color: #b45309; }
.badge { display: inline-block; font-size: 11px; padding: 0 6px; border-radius: 4px; background: #fef3c7; color: #92400e; }
.missing { color: #b91c1c; font-size: 13px; }
figure.image { margin: 4px 0; }
figure.image img, img.thumb { display: block; width: auto; height: auto; max-width: min(100%, 420px); max-height: 280px; border-radius: 6px; border: 1px solid var(--line); }
.media { display: flex; align-items: center; gap: 8px; flex-wrap: wrap; }
audio { height: 36px; }
figcaption, .caption { font-size: 12px; color: var(--muted); }
video { display: block; max-width: min(100%, 480px); max-height: 320px; }
.custom dl { margin: 2px 0; display: grid; grid-template-columns: max-content 1fr; gap: 0 8px; }
.custom dt { color: var(--muted); font-size: 12px; }
.custom dd { margin: 0; }
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

/** The whole transcript page. */
export function renderTranscriptHtml(input: TranscriptInput): string {
  const clocks = clocksFor(input.timeZone);
  const topics = input.messages.some((m) => m.topicId !== null);
  const parts: string[] = [];
  let day = '';
  for (const message of input.messages) {
    const d = clocks.day(message.time);
    if (d !== day) {
      day = d;
      parts.push(
        `<h2 class="day" id="d-${escapeHtml(d)}"><span>${escapeHtml(`${clocks.weekday(message.time)}, ${d}`)}</span></h2>`,
      );
    }
    parts.push(renderMessage({ media: input.media, clocks, message }, topics));
  }
  const counts = {
    messages: input.messages.length,
    placeholders: input.messages.filter((m) => (m.versions.at(-1)?.isPlace ?? 0) !== 0).length,
    changed: input.messages.filter((m) => m.versions.length > 1).length,
  };
  const generated = new Date(input.generatedAtMs).toISOString().replace(/\.\d+Z$/, 'Z');
  return `<!DOCTYPE html>
<html lang="und">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="${escapeHtml(contentSecurityPolicy())}">
<meta name="referrer" content="no-referrer">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(input.title)}</title>
<style>${STYLE}</style>
</head>
<body>
<header>
<h1>${escapeHtml(input.title)}</h1>
<p>Group <code>${escapeHtml(input.groupId)}</code>${input.topicId === null ? '' : `, topic <code>${escapeHtml(input.topicId)}</code>`}, ${escapeHtml(input.from)} to ${escapeHtml(input.to)}; times in ${escapeHtml(input.timeZone)}.</p>
<p>${counts.messages} messages (${counts.placeholders} deleted or recalled, ${counts.changed} changed after capture). From ${escapeHtml(input.source)}, generated ${escapeHtml(generated)}.</p>
</header>
<main>
${counts.messages === 0 ? '<p class="empty">No archived messages in this range.</p>' : parts.join('\n')}
</main>
<footer>tencent-chat-archiver transcript: content as archived; media links point to archived copies only.</footer>
</body>
</html>
`;
}
