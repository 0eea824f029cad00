/**
 * `npm run export -- transcript` end to end on a local archive (DuckDB) holding the hostile
 * conversation of issue 21 (`test/helpers/hostile-transcript.ts`): a page name with a space and
 * parentheses still links its copied media, images get the extension their type needs (an SVG is
 * `.svg`, shown without a link that would open it as a document), and the whole conversation (far
 * and invalid times included) is written, the item the archive could not read as "unreadable"
 * with its exact text.
 */
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalFolderStore } from '../../functions/adapters/local-folder/local-folder-store.ts';
import { runExportCommand } from '../../functions/cli/export-command.ts';
import { captureExportIo } from '../helpers/export.ts';
import { FakeClock } from '../helpers/fake-clock.ts';
import {
  HOSTILE_DT,
  HOSTILE_GROUP,
  UNREADABLE_TEXT,
  writeHostileArchive,
} from '../helpers/hostile-transcript.ts';

let dir = '';

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'transcript-command-'));
});

afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** Archives the messages `seqs` (all when undefined) in a fresh archive and writes `outName`. */
async function transcribe(name: string, outName: string, seqs?: readonly number[]) {
  const archive = join(dir, name, 'archive');
  const store = new LocalFolderStore(archive);
  await writeHostileArchive(store, seqs);
  const out = join(dir, name, outName);
  const io = captureExportIo({ store, clock: new FakeClock(Date.UTC(2026, 11, 2)) });
  const code = await runExportCommand(
    ['transcript', '--params', `group_id=${HOSTILE_GROUP}`, `from=${HOSTILE_DT}`, `to=${HOSTILE_DT}`].concat([
      '--out',
      out,
      '--archive',
      archive,
      '--time-zone',
      'UTC',
    ]),
    io.deps,
  );
  expect(code, io.err.join('')).toBe(0);
  return {
    html: await readFile(out, 'utf8'),
    out: io.out.join(''),
    folder: join(dir, name, `${outName.replace(/\.html$/, '')}_files`),
  };
}

/** Every `src` and `href` of the page. */
function links(page: string): string[] {
  return [...page.matchAll(/\b(?:src|href)="([^"]*)"/g)].map((m) => m[1] ?? '');
}

describe('transcript command', () => {
  it('links media copied beside a page whose name has a space and parentheses (issue 21, point 12)', async () => {
    // Seq 3: a file; seq 13: a PNG and an SVG image. All three are archived.
    const { html, out, folder } = await transcribe('media', 'my chat (1).html', [3, 13]);
    expect(out).toMatch(/wrote 2 messages to .* and 3 media files to /);
    const files = await readdir(folder);
    expect(files).toHaveLength(3);
    expect(html).not.toContain('media not archived');
    const hrefs = links(html);
    expect(hrefs).toHaveLength(4);
    for (const href of hrefs) {
      expect(href).toMatch(/^my%20chat%20%281%29_files\/[A-Za-z0-9._-]+$/);
      expect(files).toContain(decodeURIComponent(href.split('/')[1] ?? ''));
    }
  });

  it('names copied images by their type, and shows an SVG without a link that would open it (point 17)', async () => {
    const { html, folder } = await transcribe('svg', 'chat.html', [3, 13]);
    const files = await readdir(folder);
    expect(files.filter((f) => f.endsWith('.png'))).toHaveLength(1);
    expect(files.filter((f) => f.endsWith('.svg'))).toHaveLength(1);
    // The file (TIMFileElem) keeps its content-addressed name: no extension from its type.
    expect(files.filter((f) => !f.includes('.'))).toHaveLength(1);
    const svg = files.find((f) => f.endsWith('.svg')) ?? '';
    expect(html).toContain(`<figure class="image"><img src="chat_files/${svg}"`);
    expect(html).not.toContain(`href="chat_files/${svg}"`);
  });

  it('writes the whole hostile conversation, far times and the unreadable item included (points 4, 2)', async () => {
    const { html, out } = await transcribe('all', 'hostile.html');
    // The voice message (seq 10) has no archived copy; the two images and the file do.
    expect(out).toMatch(/wrote 16 messages to .* and 3 media files .*\(1 media elements without/);
    expect(html.match(/[a-z]+: media not archived/g)).toEqual(['voice: media not archived']);
    expect(html).toContain('<time>invalid time</time>');
    expect(html).not.toContain('(no content)');
    expect(html).toMatch(/<article class="msg unreadable"[^>]*>[\s\S]*?unreadable/);
    expect(html).toContain(UNREADABLE_TEXT.replaceAll('"', '&quot;').replace('<b>', '&lt;b&gt;'));
  });

  it('prints a hostile page name escaped: no terminal escape or bidi override reaches the terminal', async () => {
    const name = 'x\u001b]0;pwned\u0007\u202Elmth.exe.html';
    const { out } = await transcribe('terminal', name, [3]);
    expect(out).toContain('\\u001b]0;pwned\\u0007\\u202elmth.exe.html');
    // biome-ignore lint/suspicious/noControlCharactersInRegex: the raw controls are what must not appear.
    expect(out).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u202e]/);
  });
});
