import { gunzipSync, gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import {
  gunzipNdjson,
  gunzipText,
  gzipBlocks,
  gzipNdjson,
  gzipSink,
  gzipText,
} from '../../functions/domain/ndjson-gzip.ts';

describe('the gzip NDJSON codec', () => {
  it('writes each line followed by a newline, and reads the same lines back', async () => {
    const lines = ['{"a":1}', '{"b":"é 𠮷"}', '{"c":null}'];
    const body = await gzipNdjson(lines);
    expect(gunzipSync(body).toString('utf8')).toBe('{"a":1}\n{"b":"é 𠮷"}\n{"c":null}\n');
    expect(gunzipNdjson(body)).toEqual(lines);
  });

  it('writes no line at all for no lines, and reads none back', async () => {
    const body = await gzipNdjson([]);
    expect(gunzipSync(body).length).toBe(0);
    expect(gunzipNdjson(body)).toEqual([]);
  });

  it('reads an object written elsewhere without a final newline, and keeps inner empty lines in place', () => {
    expect(gunzipNdjson(gzipSync('{"a":1}\n\n{"b":2}'))).toEqual(['{"a":1}', '', '{"b":2}']);
  });

  it('round-trips text, and a sink streams to the same bytes a whole-body gzip reads back', async () => {
    expect(gunzipText(await gzipText('x\ny\n'))).toBe('x\ny\n');
    const sink = gzipSink();
    sink.stream.write(Buffer.from('{"a":1}\n'));
    sink.stream.write(Buffer.from('{"b":2}\n'));
    sink.stream.end();
    await sink.done;
    expect(gunzipNdjson(sink.body())).toEqual(['{"a":1}', '{"b":2}']);
  });

  it('rejects done when a sink is destroyed, without an unhandled rejection', async () => {
    const sink = gzipSink();
    sink.stream.destroy(new Error('discarded'));
    await expect(sink.done).rejects.toThrow('discarded');
  });

  it('gzips text given in blocks as the same text, multi-byte characters across blocks included', async () => {
    const blocks = ['fp1\nT ["g",null,0]\n', 'é 𠮷\n'.repeat(50_000), '', 'end\n'];
    expect(gunzipText(await gzipBlocks(blocks))).toBe(blocks.join(''));
    expect(gunzipText(await gzipBlocks([]))).toBe('');
  });
});
