/**
 * Small, valid media files made in memory: a PNG of one colour and a short WAV tone. For tests that
 * need a browser to decode real files (no binary fixtures in the repository).
 */
import { crc32, deflateSync } from 'node:zlib';
import type { ManifestRow } from '../../functions/query/media-manifest.ts';
import type { MediaRef } from '../../functions/query/transcript/model.ts';

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
  ref: MediaRef,
  objectKey: string,
  contentType: string,
  bytes: number,
): ManifestRow {
  return {
    group_id: ref.groupId,
    topic_id: ref.topicId,
    msg_seq: ref.seq,
    element_path: ref.element.join('.'),
    size_class: ref.variant.replace(/^image-/, ''),
    status: 'archived',
    object_key: objectKey,
    content_type: contentType,
    bytes,
  };
}
