/**
 * What a download must satisfy before its bytes are stored: a content type and first bytes that
 * fit the element, and the byte count the element declares. Pure: the downloader hands over the
 * header value, the first bytes and the count.
 *
 * Peers stored proxy error pages as images (slackdump #371) and HTTP error bodies as assets
 * (DiscordChatExporter), and a Content-Type is only what the server says (issue 21: an SVG with a
 * script, `<img onerror>`, `<iframe>` and `<meta refresh>` fragments were stored as images). So an
 * image, a voice message, a video or a video's thumbnail is verified by its content: its first
 * bytes must be the signature of a format of that kind, and markup (HTML, XML, SVG; after a BOM or
 * whitespace, in UTF-8 or UTF-16) is refused whatever the Content-Type says. `image/svg+xml` is
 * never an image here: a browser runs an SVG's scripts. Files (`TIMFileElem`) may be of any type.
 */
import type { MediaKind } from './media-refs.ts';

export type Verification = { ok: true } | { ok: false; reason: string };

const OK: Verification = { ok: true };

/** The kinds whose content is sniffed (files may hold anything). */
export type SniffedKind = Exclude<MediaKind, 'file'>;

/** Generic binary types a storage service may answer for any file. */
const GENERIC_BINARY = new Set(['application/octet-stream', 'binary/octet-stream']);

/** Media types that fit each kind besides the generic binary ones (markup types never do). */
const FITTING: Readonly<Record<SniffedKind, (type: string) => boolean>> = {
  image: (t) => t.startsWith('image/'),
  'video-thumbnail': (t) => t.startsWith('image/'),
  // m4a/aac voice is served as audio/* or, being an MPEG-4 container, video/mp4.
  sound: (t) => t.startsWith('audio/') || t === 'video/mp4',
  video: (t) => t.startsWith('video/'),
};

/** Types that are markup whatever their top-level type says: `image/svg+xml`, `*+xml`, `text/*`. */
function isMarkupType(type: string): boolean {
  return type.startsWith('text/') || type.endsWith('+xml') || type.endsWith('/xml') || type.includes('svg');
}

/** `text/html; charset=utf-8` → `text/html`. */
export function mediaTypeOf(contentType: string | null | undefined): string | null {
  const type = contentType?.split(';')[0]?.trim().toLowerCase();
  return type === undefined || type === '' ? null : type;
}

/** The head as text: UTF-16 (by BOM, or by a NUL next to the first `<`) or UTF-8, BOM dropped. */
function headText(head: Uint8Array): string {
  const bytes = head.subarray(0, 512);
  const [a, b] = [bytes[0], bytes[1]];
  let encoding = 'utf-8';
  if ((a === 0xff && b === 0xfe) || (a === 0x3c && b === 0x00)) encoding = 'utf-16le';
  else if ((a === 0xfe && b === 0xff) || (a === 0x00 && b === 0x3c)) encoding = 'utf-16be';
  return new TextDecoder(encoding, { fatal: false }).decode(bytes).replace(/^\uFEFF/, '');
}

/**
 * Whether the first bytes are markup: after a BOM and whitespace, a `<` that opens a tag, a
 * declaration, a comment or a processing instruction (`<svg`, `<img onerror=…>`, `<iframe`,
 * `<meta http-equiv=refresh>`, `<?xml`, `<!DOCTYPE`, `<!--`). Binary that happens to start with
 * `<` followed by anything else is not.
 */
export function looksLikeMarkup(head: Uint8Array): boolean {
  return /^[\s\0]*<[!?/a-z]/i.test(headText(head));
}

const ascii = (text: string, at: Uint8Array, offset = 0): boolean => {
  if (at.length < offset + text.length) return false;
  for (let i = 0; i < text.length; i++) if (at[offset + i] !== text.charCodeAt(i)) return false;
  return true;
};
const bytesAt = (expected: readonly number[], at: Uint8Array, offset = 0): boolean =>
  at.length >= offset + expected.length && expected.every((byte, i) => at[offset + i] === byte);

/** ISO-BMFF brands (`ftyp` major brand) of still images and image sequences: HEIF, HEIC, AVIF. */
const IMAGE_BRANDS = new Set([
  'heic',
  'heix',
  'hevc',
  'hevx',
  'heim',
  'heis',
  'mif1',
  'msf1',
  'avif',
  'avis',
]);

/** The major brand of an ISO-BMFF `ftyp` box at the start (MP4, M4A, MOV, 3GP, HEIF, AVIF). */
function ftypBrand(h: Uint8Array): string | undefined {
  if (h[0] !== 0 || !ascii('ftyp', h, 4) || h.length < 12) return undefined;
  return String.fromCharCode(...h.subarray(8, 12));
}

/** An MPEG audio frame header (MP3 and its kin): sync, a layer, a bitrate index other than "bad". */
function mpegAudioFrame(h: Uint8Array): boolean {
  const [b0 = 0, b1 = 0, b2 = 0] = h;
  return b0 === 0xff && (b1 & 0xe0) === 0xe0 && (b1 & 0x06) !== 0 && b2 >> 4 !== 0x0f && (b2 & 0x0c) !== 0x0c;
}

/** An AAC ADTS header: sync, layer 0. */
const adtsFrame = (h: Uint8Array): boolean => h[0] === 0xff && ((h[1] ?? 0) & 0xf6) === 0xf0;

/** An MPEG transport stream: the 0x47 sync byte at the start of each 188-byte packet in the head. */
const transportStream = (h: Uint8Array): boolean =>
  h.length > 188 && h[0] === 0x47 && h[188] === 0x47 && (h.length <= 376 || h[376] === 0x47);

/** A QuickTime file without `ftyp` (older MOV): a top-level atom of its own at the start. */
const quickTimeAtom = (h: Uint8Array): boolean =>
  h[0] === 0 && ['moov', 'mdat', 'wide', 'free', 'skip', 'pnot'].some((atom) => ascii(atom, h, 4));

interface Signature {
  name: string;
  kinds: readonly ('image' | 'sound' | 'video')[];
  test: (head: Uint8Array) => boolean;
}

/**
 * The formats each kind may be, by their first bytes. Hand-written: a few bytes per format, and
 * SILK (the voice format of Tencent's clients) is in no general detector. The `file-type`
 * package (npm, ESM, maintained) was weighed and not taken: its maintained line (22.x) needs
 * Node 22 where this project runs on 20, it brings four runtime packages for what is a table of
 * magic numbers here, it knows neither SILK nor markup, and its answer is one guessed format
 * where this check asks "is this any format of that kind".
 */
const SIGNATURES: readonly Signature[] = [
  { name: 'JPEG', kinds: ['image'], test: (h) => bytesAt([0xff, 0xd8, 0xff], h) },
  {
    name: 'PNG',
    kinds: ['image'],
    test: (h) => bytesAt([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], h),
  },
  { name: 'GIF', kinds: ['image'], test: (h) => ascii('GIF87a', h) || ascii('GIF89a', h) },
  { name: 'WebP', kinds: ['image'], test: (h) => ascii('RIFF', h) && ascii('WEBP', h, 8) },
  // "BM" alone is two letters of text: the header's reserved bytes 6-9 are zero.
  { name: 'BMP', kinds: ['image'], test: (h) => ascii('BM', h) && bytesAt([0, 0, 0, 0], h, 6) },
  {
    name: 'TIFF',
    kinds: ['image'],
    test: (h) => bytesAt([0x49, 0x49, 0x2a, 0], h) || bytesAt([0x4d, 0x4d, 0, 0x2a], h),
  },
  { name: 'ICO', kinds: ['image'], test: (h) => bytesAt([0, 0, 1, 0], h) && (h[4] ?? 0) + (h[5] ?? 0) > 0 },
  { name: 'HEIF/AVIF', kinds: ['image'], test: (h) => IMAGE_BRANDS.has(ftypBrand(h) ?? '') },
  {
    name: 'MP4/MOV/3GP',
    kinds: ['sound', 'video'],
    test: (h) => {
      const brand = ftypBrand(h);
      return brand !== undefined && !IMAGE_BRANDS.has(brand);
    },
  },
  { name: 'AMR', kinds: ['sound'], test: (h) => ascii('#!AMR', h) },
  // The SILK encoder Tencent's clients use writes a 0x02 byte before the tag.
  {
    name: 'SILK',
    kinds: ['sound'],
    test: (h) => ascii('#!SILK_V3', h) || (h[0] === 0x02 && ascii('#!SILK_V3', h, 1)),
  },
  { name: 'MP3', kinds: ['sound'], test: (h) => ascii('ID3', h) || mpegAudioFrame(h) },
  { name: 'AAC', kinds: ['sound'], test: (h) => adtsFrame(h) || ascii('ADIF', h) },
  { name: 'Ogg', kinds: ['sound'], test: (h) => ascii('OggS', h) },
  { name: 'WAV', kinds: ['sound'], test: (h) => ascii('RIFF', h) && ascii('WAVE', h, 8) },
  { name: 'FLAC', kinds: ['sound'], test: (h) => ascii('fLaC', h) },
  { name: 'WebM/Matroska', kinds: ['sound', 'video'], test: (h) => bytesAt([0x1a, 0x45, 0xdf, 0xa3], h) },
  { name: 'QuickTime', kinds: ['video'], test: quickTimeAtom },
  { name: 'AVI', kinds: ['video'], test: (h) => ascii('RIFF', h) && ascii('AVI ', h, 8) },
  { name: 'FLV', kinds: ['video'], test: (h) => ascii('FLV', h) && h[3] === 0x01 },
  { name: 'MPEG-TS', kinds: ['video'], test: transportStream },
  // MPEG program stream pack header, or an MPEG-1/2 video sequence header.
  {
    name: 'MPEG-PS',
    kinds: ['video'],
    test: (h) => bytesAt([0, 0, 1, 0xba], h) || bytesAt([0, 0, 1, 0xb3], h),
  },
];

const FAMILY: Readonly<Record<SniffedKind, 'image' | 'sound' | 'video'>> = {
  image: 'image',
  'video-thumbnail': 'image',
  sound: 'sound',
  video: 'video',
};

/** The format the first bytes are, among those `kind` may be; undefined if none. */
export function sniffFormat(kind: SniffedKind, head: Uint8Array): string | undefined {
  const family = FAMILY[kind];
  return SIGNATURES.find((s) => s.kinds.includes(family) && s.test(head))?.name;
}

const LABEL: Readonly<Record<SniffedKind, string>> = {
  image: 'an image',
  'video-thumbnail': "a video's thumbnail",
  sound: 'a voice message',
  video: 'a video',
};

/** What each kind may be, for messages. */
const EXPECTED: Readonly<Record<'image' | 'sound' | 'video', string>> = {
  image: 'an image (JPEG, PNG, GIF, WebP, BMP, TIFF, ICO, HEIF/AVIF)',
  sound: 'an audio file (AMR, SILK, MP3, AAC, MP4/M4A/3GP, Ogg, WAV, FLAC, WebM)',
  video: 'a video (MP4/MOV/3GP, WebM/Matroska, AVI, FLV, MPEG-TS/PS)',
};

/**
 * Whether the answer fits the element. Without `head` (before any byte came), only the content
 * type is checked; with it (the first bytes, up to 512), the content too: markup is refused and a
 * known signature of the kind is required, so an empty body is refused as well.
 *
 * Files (`TIMFileElem`) may be of any type, an HTML attachment included: their declared `FileSize`
 * is what catches an error page in their place.
 */
export function contentTypeFits(
  kind: MediaKind,
  contentType: string | null,
  head?: Uint8Array,
): Verification {
  if (kind === 'file') return OK;
  const type = mediaTypeOf(contentType);
  if (type !== null && !GENERIC_BINARY.has(type) && (isMarkupType(type) || !FITTING[kind](type))) {
    return { ok: false, reason: `content type ${type} does not fit ${LABEL[kind]}` };
  }
  if (head === undefined) return OK;
  if (looksLikeMarkup(head)) {
    return {
      ok: false,
      reason: `the body is an HTML/XML document (markup, SVG included), not ${LABEL[kind]}`,
    };
  }
  if (sniffFormat(kind, head) === undefined) {
    return { ok: false, reason: `the first bytes are not those of ${EXPECTED[FAMILY[kind]]}` };
  }
  return OK;
}

/** Byte count against the declared size, where one is declared. */
export function sizeMatches(declaredSize: number | null, bytes: number): Verification {
  if (declaredSize === null || declaredSize === bytes) return OK;
  return { ok: false, reason: `size ${bytes} bytes differs from the declared ${declaredSize}` };
}
