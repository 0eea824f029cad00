/**
 * Media queue and manifest objects as streams of lines (issue 23): written by gzipping lines as they
 * come ({@link GzipLines}), read back a line at a time ({@link gunzipLines}), so a checkpoint's
 * references are never held as a list of lines or objects. The format is the archive's gzip NDJSON
 * (functions/domain/ndjson-gzip.ts): one gzip member, every line followed by `\n`.
 */
import { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { type GzipSink, gzipSink } from '../domain/ndjson-gzip.ts';

/** Lines are handed to the gzip stream in blocks of about this many characters (one zlib job each). */
const BLOCK_CHARS = 64 * 1024;

/** Lines gzipped as they come; only a block of text and the compressed output are held. */
export class GzipLines {
  /** Lines pushed so far. */
  public count = 0;
  /** Opened with the first line: a zlib stream holds about 300 KB of its own. */
  private sink: GzipSink | undefined;
  private block: string[] = [];
  private blockChars = 0;
  private body: Promise<Uint8Array> | undefined;

  public push(line: string): void {
    this.block.push(line);
    this.blockChars += line.length + 1;
    this.count++;
    if (this.blockChars >= BLOCK_CHARS) this.writeBlock();
  }

  /** Ends the stream: the gzip NDJSON body of every line pushed (the same body on a second call). */
  public end(): Promise<Uint8Array> {
    this.body ??= this.finish();
    return this.body;
  }

  /** Drops the lines and the stream. */
  public discard(): void {
    this.sink?.stream.destroy();
    this.block = [];
    this.blockChars = 0;
  }

  private writeBlock(): void {
    if (this.block.length === 0) return;
    this.sink ??= gzipSink();
    this.sink.stream.write(`${this.block.join('\n')}\n`, 'utf8');
    this.block = [];
    this.blockChars = 0;
  }

  private async finish(): Promise<Uint8Array> {
    this.writeBlock();
    const sink = this.sink ?? gzipSink();
    sink.stream.end();
    await sink.done;
    const body = sink.body();
    this.sink = undefined;
    return new Uint8Array(body.buffer, body.byteOffset, body.byteLength);
  }
}

/**
 * The non-empty lines of a gzip NDJSON body, in order, decompressed as they are consumed: only a
 * chunk of text is held at a time.
 * @throws Error from zlib when the body is not gzip
 */
export async function* gunzipLines(body: Uint8Array): AsyncGenerator<string> {
  const text = Readable.from([body], { objectMode: false }).pipe(createGunzip());
  text.setEncoding('utf8');
  let rest = '';
  for await (const chunk of text as AsyncIterable<string>) {
    const lines = (rest + chunk).split('\n');
    rest = lines.pop() ?? '';
    for (const line of lines) if (line !== '') yield line;
  }
  if (rest !== '') yield rest;
}
