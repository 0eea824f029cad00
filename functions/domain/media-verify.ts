/**
 * What a download must satisfy before its bytes are stored: a content type (and first bytes) that
 * fit the element, and the byte count the element declares. Pure: the downloader hands over the
 * header value, the first bytes and the count.
 *
 * Peers stored proxy error pages as images (slackdump #371) and HTTP error bodies as assets
 * (DiscordChatExporter); so an HTML, XML or JSON document is never accepted as an image, a voice
 * message or a video, whatever its Content-Type says.
 */
import type { MediaKind } from './media-refs.ts';

export type Verification = { ok: true } | { ok: false; reason: string };

const OK: Verification = { ok: true };

/** Generic binary types a storage service may answer for any file. */
const GENERIC_BINARY = new Set(['application/octet-stream', 'binary/octet-stream']);

/** Media types that fit each kind besides the generic binary ones. */
const FITTING: Readonly<Record<Exclude<MediaKind, 'file'>, (type: string) => boolean>> = {
  image: (t) => t.startsWith('image/'),
  'video-thumbnail': (t) => t.startsWith('image/'),
  // m4a/aac voice is served as audio/* or, being an MPEG-4 container, video/mp4.
  sound: (t) => t.startsWith('audio/') || t === 'video/mp4',
  video: (t) => t.startsWith('video/'),
};

/** `text/html; charset=utf-8` → `text/html`. */
export function mediaTypeOf(contentType: string | null | undefined): string | null {
  const type = contentType?.split(';')[0]?.trim().toLowerCase();
  return type === undefined || type === '' ? null : type;
}

/** The first bytes of an HTML or XML document (a page, an error body), after whitespace and a BOM. */
export function looksLikeMarkup(head: Uint8Array): boolean {
  let text = new TextDecoder('utf-8', { fatal: false }).decode(head.subarray(0, 512));
  text = text
    .replace(/^\uFEFF/, '')
    .trimStart()
    .toLowerCase();
  return /^<(!doctype|html|head|body|\?xml|!--|script|title|h1|center|error|div|p[ >])/.test(text);
}

/**
 * Whether the answer's type fits the element. Files (`TIMFileElem`) may be of any type, an HTML
 * attachment included: their declared `FileSize` is what catches an error page in their place.
 */
export function contentTypeFits(kind: MediaKind, contentType: string | null, head: Uint8Array): Verification {
  if (kind === 'file') return OK;
  const type = mediaTypeOf(contentType);
  if (type !== null && !GENERIC_BINARY.has(type) && !FITTING[kind](type)) {
    return { ok: false, reason: `content type ${type} does not fit a ${kind}` };
  }
  if (looksLikeMarkup(head)) {
    return { ok: false, reason: `the body is an HTML/XML document, not a ${kind}` };
  }
  return OK;
}

/** Byte count against the declared size, where one is declared. */
export function sizeMatches(declaredSize: number | null, bytes: number): Verification {
  if (declaredSize === null || declaredSize === bytes) return OK;
  return { ok: false, reason: `size ${bytes} bytes differs from the declared ${declaredSize}` };
}
