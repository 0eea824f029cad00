/**
 * The simulator's media files, pure: how message URLs are built, what each file "is" (its fate),
 * and its deterministic bytes. The media server and `get_cos_sig` serve from here; tests compute
 * ground truth from here; so they cannot disagree.
 *
 * A URL looks like the documented COS samples (docs/tencent-api.md, Message elements), on the simulator's
 * media listener: `<base>/<bucket>/<app>/<kind>/<fileId>-<size>[.<ext>]` with a bucket named like
 * Tencent's (`…-privatev2-01-1256635546` or `…-shared-01-1256635546`). The declared size is in the
 * name (the second sample ends in `-142072.jpg` too), so the server knows it without an index.
 */
import { createHash, createHmac } from 'node:crypto';
import type { JsonObject } from '../domain/tencent-types.ts';
import { createPrng, hashString, mix, unit } from './hash.ts';

export type SimMediaKind = 'image' | 'thumb' | 'sound' | 'video' | 'file';

/**
 * What a file does when fetched:
 * - `normal`; `flaky` (503 with Retry-After for the first few requests, then normal);
 * - `expired` (404; `get_cos_sig` Status 2), `banned` (403 even in a public bucket; Status 1, the
 *   pre-signed URL works);
 * - `html` (200 with an HTML error page instead of the file), `markup` (200 with hostile markup of
 *   exactly the declared size under a media type: see {@link markupFile}), `wrong-size` (one byte
 *   more than declared), `redirect` (302 to the disallowed host), `disallowed-host` (the message's URL is on
 *   a host that is not allowed).
 */
export type MediaFate =
  | 'normal'
  | 'flaky'
  | 'expired'
  | 'banned'
  | 'html'
  | 'markup'
  | 'wrong-size'
  | 'redirect'
  | 'disallowed-host';

/** Switches of the media simulation (all shares of files, decided per file by hash). */
export interface SimMediaSpec {
  /**
   * Which files answer 403 unless pre-signed via `get_cos_sig`. The docs say SDK URLs carry an
   * "ordinary account signature" yet every sample is unsigned (docs/tencent-api.md, get_cos_sig): the default
   * takes the strict reading that files in `privatev2` buckets (about half) need signing; `all` is stricter
   * still, `none` the lenient reading.
   */
  requireSignature?: 'private' | 'all' | 'none';
  expiredFraction?: number;
  bannedFraction?: number;
  flakyFraction?: number;
  /** 503s a flaky file answers before it works; default 2. */
  flakyTimes?: number;
  htmlFraction?: number;
  /** Hostile markup in place of images, voices and videos (issue 21); default 0. */
  markupFraction?: number;
  wrongSizeFraction?: number;
  redirectFraction?: number;
  disallowedHostFraction?: number;
}

export type ResolvedMediaSpec = Required<SimMediaSpec>;

export const DEFAULT_MEDIA_SPEC: ResolvedMediaSpec = {
  requireSignature: 'private',
  expiredFraction: 0.03,
  bannedFraction: 0.01,
  flakyFraction: 0.05,
  flakyTimes: 2,
  htmlFraction: 0.02,
  markupFraction: 0,
  wrongSizeFraction: 0.02,
  redirectFraction: 0.01,
  disallowedHostFraction: 0.01,
};

/** What message generation needs to build URLs. */
export interface MediaUrlPlan {
  /** The media listener, e.g. `http://127.0.0.1:PORT` (or a made-up COS host when not serving). */
  baseUrl: string;
  /** A listener that is never allowed; `disallowed-host` files point here. */
  disallowedBaseUrl: string | undefined;
  disallowedHostFraction: number;
  /** Declared sizes are folded below this (tests keep files tiny); default 30 MB. */
  maxBytes: number;
}

/**
 * Largest simulated file: the documented limits are 28 MB (images) and 100 MB (files), docs/tencent-api.md,
 * Message elements.
 */
export const SIM_MEDIA_MAX_BYTES = 30_000_000;

const BUCKETS = {
  private: '98ec-shanghai-007-privatev2-01-1256635546',
  shared: '005f-shanghai-360-shared-01-1256635546',
} as const;

const SALT_FATE = 0x3ed1a;
const SALT_BUCKET = 0xb0c7;
const SALT_BYTES = 0xb17e5;

/** The fate of a file: a function of the seed and the file id only. */
export function mediaFate(seed: number, fileId: string, spec: ResolvedMediaSpec): MediaFate {
  let u = unit(mix(seed, hashString(fileId), SALT_FATE));
  const order: [MediaFate, number][] = [
    ['disallowed-host', spec.disallowedHostFraction],
    ['redirect', spec.redirectFraction],
    ['expired', spec.expiredFraction],
    ['banned', spec.bannedFraction],
    ['html', spec.htmlFraction],
    ['markup', spec.markupFraction],
    ['wrong-size', spec.wrongSizeFraction],
    ['flaky', spec.flakyFraction],
  ];
  for (const [fate, share] of order) {
    if (u < share) return fate;
    u -= share;
  }
  return 'normal';
}

/** Whether the file sits in a `privatev2` bucket. */
export function isPrivateBucket(seed: number, fileId: string): boolean {
  return unit(mix(seed, hashString(fileId), SALT_BUCKET)) < 0.5;
}

/** Smallest folded size: a real image, voice or video is never a few bytes (see {@link SIGNATURES}). */
const MIN_FOLDED = 64;

/** Declared size folded into the plan's maximum (deterministic, never below 64 bytes when it fits). */
export function foldSize(size: number, plan: Pick<MediaUrlPlan, 'maxBytes'>): number {
  if (size <= plan.maxBytes) return size;
  const folded = 1 + (size % plan.maxBytes);
  return folded < MIN_FOLDED && plan.maxBytes >= 2 * MIN_FOLDED ? folded + MIN_FOLDED : folded;
}

/** One file a message links to: its kind, id, declared size and file extension (none: no extension). */
export interface MediaUrlFile {
  readonly kind: SimMediaKind;
  readonly fileId: string;
  readonly size: number;
  readonly ext?: string | undefined;
}

/** The URL a message carries for one file. */
export function mediaUrl(seed: number, plan: MediaUrlPlan, file: MediaUrlFile): string {
  const { kind, fileId, size, ext } = file;
  const disallowed =
    plan.disallowedBaseUrl !== undefined &&
    unit(mix(seed, hashString(fileId), SALT_FATE)) < plan.disallowedHostFraction;
  const base = disallowed ? (plan.disallowedBaseUrl as string) : plan.baseUrl;
  const bucket = isPrivateBucket(seed, fileId) ? BUCKETS.private : BUCKETS.shared;
  return `${base}/${bucket}/0345-1400000000/${kind}/${fileId}-${size}${ext === undefined ? '' : `.${ext}`}`;
}

/** A media URL path, parsed. */
export interface MediaPath {
  bucket: string;
  kind: SimMediaKind;
  fileId: string;
  size: number;
}

const PATH_PATTERN =
  /^\/([\w-]+)\/[\w-]+\/(image|thumb|sound|video|file)\/([0-9a-f]{32}(?:_[123])?)-(\d{1,10})(?:\.[a-z0-9]+)?$/;

export function parseMediaPath(pathname: string): MediaPath | undefined {
  const match = PATH_PATTERN.exec(pathname);
  if (!match) return undefined;
  const [, bucket = '', kind = 'file', fileId = '', size = '0'] = match;
  return { bucket, kind: kind as SimMediaKind, fileId, size: Number(size) };
}

/** Whether an unsigned GET of this file is refused with 403. */
export function needsSignature(seed: number, path: MediaPath, spec: ResolvedMediaSpec): boolean {
  if (spec.requireSignature === 'all') return true;
  if (spec.requireSignature === 'none') return false;
  return path.bucket === BUCKETS.private && isPrivateBucket(seed, path.fileId);
}

export const CONTENT_TYPES: Readonly<Record<SimMediaKind, string>> = {
  image: 'image/jpeg',
  thumb: 'image/jpeg',
  sound: 'audio/mp4',
  video: 'video/mp4',
  file: 'application/octet-stream',
};

const BLOCK = 64 * 1024;

/** An ISO-BMFF `ftyp` box: its size, the major brand, the minor version, the compatible brands. */
const ftyp = (major: string, minor: number[], ...compatible: string[]): Uint8Array => {
  const box = new Uint8Array(16 + 4 * compatible.length);
  box.set([0, 0, 0, box.length, ...Buffer.from('ftyp', 'ascii')]);
  box.set(Buffer.from(major, 'ascii'), 8);
  box.set(minor, 12);
  box.set(Buffer.from(compatible.join(''), 'ascii'), 16);
  return box;
};

/** A JPEG's start of image (FF D8), then a JFIF APP0 segment (FF E0, "JFIF", version 1.1, 1:1). */
const jpegHead = (): Uint8Array =>
  Uint8Array.from(Buffer.from('ffd8ffe000104a46494600010100000100010000', 'hex'));

/**
 * The first bytes of each kind of file, so the archiver's content check (functions/domain/
 * media-verify.ts) sees what a real one starts with: a JPEG's SOI and JFIF APP0 marker for images
 * and thumbnails, an ISO-BMFF `ftyp` box for voice (M4A) and video (MP4). A file stays random bytes.
 */
export const SIGNATURES: Readonly<Record<SimMediaKind, Uint8Array>> = {
  image: jpegHead(),
  thumb: jpegHead(),
  sound: ftyp('M4A ', [0, 0, 0, 0], 'M4A ', 'mp42', 'isom'),
  video: ftyp('isom', [0, 0, 2, 0], 'isom', 'iso2', 'mp41'),
  file: new Uint8Array(),
};

/**
 * The file's bytes, `length` of them, in 64 KiB blocks generated on demand (a 30 MB file is never
 * held whole): the kind's signature ({@link SIGNATURES}), then random bytes. Block `i` depends on
 * (seed, file id, kind, i) only.
 */
export function* mediaBytes(
  seed: number,
  fileId: string,
  length: number,
  kind: SimMediaKind = 'file',
): Generator<Uint8Array> {
  const fileHash = hashString(fileId);
  for (let offset = 0, block = 0; offset < length; offset += BLOCK, block++) {
    const size = Math.min(BLOCK, length - offset);
    const words = new Uint32Array(Math.ceil(size / 4));
    const random = createPrng(mix(seed, fileHash, block, SALT_BYTES));
    for (let i = 0; i < words.length; i++) words[i] = Math.floor(random() * 0x1_0000_0000);
    const bytes = new Uint8Array(words.buffer, 0, size);
    if (block === 0) bytes.set(SIGNATURES[kind].subarray(0, size));
    yield bytes;
  }
}

/** The length the server sends for the file (the declared size, or one more for `wrong-size`). */
export function servedLength(path: MediaPath, fate: MediaFate): number {
  return fate === 'wrong-size' ? path.size + 1 : path.size;
}

/** What a file of fate `markup` serves in place of an image, a voice or a video. */
const MARKUP = [
  '<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"><script>alert(document.domain)</script></svg>',
  '<img src=x onerror="alert(document.cookie)">',
  '<iframe src="https://evil.example/" style="position:fixed;inset:0"></iframe>',
  '<meta http-equiv="refresh" content="0;url=https://evil.example/">',
];

/**
 * The answer of a file of fate `markup` (issue 21): an SVG with a script or an HTML fragment
 * (`<img onerror>`, `<iframe>`, `<meta refresh>`), padded with spaces (or cut) to exactly the
 * declared size, under the kind's own content type or `image/svg+xml`. Neither the type nor the
 * size gives it away, only its first bytes. Chosen by the file id's hash.
 */
export function markupFile(seed: number, path: MediaPath): { contentType: string; body: Buffer } {
  const pick = mix(seed, hashString(path.fileId), SALT_FATE, 0x5f6) >>> 0;
  const markup = MARKUP[pick % MARKUP.length] ?? '';
  const svgType = (pick >>> 8) % 2 === 0 && (path.kind === 'image' || path.kind === 'thumb');
  const body = Buffer.alloc(path.size, 0x20);
  body.write(markup, 'latin1');
  return { contentType: svgType ? 'image/svg+xml' : CONTENT_TYPES[path.kind], body };
}

/** `sign` query value of a pre-signed URL valid until `expiresSec`. */
export function presignature(secret: string, pathname: string, expiresSec: number): string {
  return createHmac('sha256', secret).update(`${pathname}\n${expiresSec}`).digest('hex');
}

/**
 * The status an archiver should end with for a file of this fate and kind. A file (`TIMFileElem`)
 * of fate `markup` is served as itself: a file may be of any type.
 */
export function expectedMediaStatus(
  fate: MediaFate,
  kind: SimMediaKind = 'image',
): 'archived' | 'expired' | 'refused' {
  if (fate === 'markup' && kind === 'file') return 'archived';
  switch (fate) {
    case 'normal':
    case 'flaky':
    case 'banned':
      return 'archived';
    case 'expired':
      return 'expired';
    default:
      return 'refused';
  }
}

/** What {@link chosenMediaElement} builds: an image or a file of an exact size. */
export interface ChosenMediaFile {
  kind: 'image' | 'file';
  /** Any text: the file id is derived from it (the same text, the same file and bytes). */
  id: string;
  /** Exact declared (and served) size: not folded, so a test or benchmark can ask for 100 MB. */
  bytes: number;
  /** `FileName` of a file element; default `<id>.bin`. */
  fileName?: string;
}

/**
 * A message element referring to one file of an exact size on the media listener, for tests and
 * benchmarks (an edit that adds an image, a message with a 100 MB file). Its bytes are streamed
 * like every other file (64 KiB at a time, never held whole). The file behaves normally: among the
 * ids derived from `file.id`, the first whose fate is `normal` is used (the fates have switches).
 * @throws RangeError for a size beyond what a media URL can carry (10 digits)
 */
export function chosenMediaElement(
  seed: number,
  baseUrl: string,
  spec: ResolvedMediaSpec,
  file: ChosenMediaFile,
): { MsgType: string; MsgContent: JsonObject } {
  if (!Number.isSafeInteger(file.bytes) || file.bytes < 1 || file.bytes > 9_999_999_999) {
    throw new RangeError(`a simulated file has 1 to 9999999999 bytes, got ${file.bytes}`);
  }
  let uuid = '';
  for (let attempt = 0; attempt < 1000; attempt++) {
    const candidate = createHash('md5').update(`${file.id}#${attempt}`).digest('hex');
    const id = file.kind === 'image' ? `${candidate}_1` : candidate;
    if (mediaFate(seed, id, spec) === 'normal') {
      uuid = candidate;
      break;
    }
  }
  if (uuid === '') throw new RangeError('no normal file id found: the media fault fractions leave none');
  const plan: MediaUrlPlan = {
    baseUrl,
    disallowedBaseUrl: undefined,
    disallowedHostFraction: 0,
    maxBytes: file.bytes,
  };
  if (file.kind === 'image') {
    return {
      MsgType: 'TIMImageElem',
      MsgContent: {
        UUID: uuid,
        ImageFormat: 1,
        ImageInfoArray: [
          {
            Type: 1,
            Size: file.bytes,
            Width: 1000,
            Height: 1000,
            URL: mediaUrl(seed, plan, { kind: 'image', fileId: `${uuid}_1`, size: file.bytes, ext: 'jpg' }),
          },
        ],
      },
    };
  }
  return {
    MsgType: 'TIMFileElem',
    MsgContent: {
      Url: mediaUrl(seed, plan, { kind: 'file', fileId: uuid, size: file.bytes }),
      UUID: uuid,
      FileSize: file.bytes,
      FileName: file.fileName ?? `${file.id}.bin`,
      Download_Flag: 2,
    },
  };
}
