/**
 * The archive's one gzip NDJSON codec. Every `.ndjson.gz` object (message partitions, the media
 * manifest, the media queue) and every gzip text object (fingerprint logs) is written and read
 * here, so the compression level, the line ending and the handling of the last line are decided
 * once. Compression is computation, not I/O: the domain may hold it.
 */
import { Buffer } from 'node:buffer';
import { once } from 'node:events';
import { createGzip, type Gzip, gunzipSync, gzip } from 'node:zlib';

/** zlib's level for every archive object: the default trade of size against CPU. */
export const GZIP_LEVEL = 6;

/** A gzip stream being written, chunk by chunk, and the compressed body once it has ended. */
export interface GzipSink {
  /** Write text (whole lines, each ending in `\n`) here; `end()` it when done. */
  readonly stream: Gzip;
  /** Settles when the stream has ended (rejects when it was destroyed or failed). */
  readonly done: Promise<void>;
  /** The compressed bytes so far: the whole body once `done` has settled. */
  body(): Buffer;
}

/** A fresh gzip stream whose output is kept in memory (a partition's object before it is put). */
export function gzipSink(): GzipSink {
  const stream = createGzip({ level: GZIP_LEVEL });
  const chunks: Buffer[] = [];
  stream.on('data', (chunk: Buffer) => chunks.push(chunk));
  const done = new Promise<void>((resolve, reject) => {
    stream.once('end', resolve);
    stream.once('error', reject);
  });
  // A destroyed (discarded) stream rejects `done`; nobody need await it then.
  done.catch(() => undefined);
  return { stream, done, body: () => Buffer.concat(chunks) };
}

/** NDJSON of `lines` (each followed by `\n`), gzipped. */
export async function gzipNdjson(lines: readonly string[]): Promise<Uint8Array> {
  return gzipText(lines.length === 0 ? '' : `${lines.join('\n')}\n`);
}

/** Text, gzipped. */
export function gzipText(text: string): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    gzip(Buffer.from(text, 'utf8'), { level: GZIP_LEVEL }, (error, body) =>
      error ? reject(error) : resolve(new Uint8Array(body.buffer, body.byteOffset, body.byteLength)),
    );
  });
}

/**
 * Text given in blocks, gzipped through one stream: neither the whole text nor its UTF-8 bytes are
 * held at once, only a block at a time and the compressed output.
 */
export async function gzipBlocks(blocks: readonly string[]): Promise<Uint8Array> {
  const sink = gzipSink();
  for (const block of blocks) {
    if (!sink.stream.write(block, 'utf8')) await once(sink.stream, 'drain');
  }
  sink.stream.end();
  await sink.done;
  const body = sink.body();
  return new Uint8Array(body.buffer, body.byteOffset, body.byteLength);
}

/** The text of a gzip body. */
export function gunzipText(body: Uint8Array): string {
  return gunzipSync(body).toString('utf8');
}

/**
 * The lines of a gzip NDJSON body, in order, without the empty string after the final `\n`
 * (index `i` is line `i + 1` of the object). Empty lines inside are kept for the caller to skip.
 */
export function gunzipNdjson(body: Uint8Array): string[] {
  const lines = gunzipText(body).split('\n');
  if (lines.at(-1) === '') lines.pop();
  return lines;
}
