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
import { openArchiveRunner } from '../../functions/cli/query-runners.ts';
import { identityTimeline } from '../../functions/domain/identity-timeline.ts';
import { collectRows } from '../../functions/query/result.ts';
import { captureExportIo } from '../helpers/export.ts';
import { FakeClock } from '../helpers/fake-clock.ts';
import {
  BIDI_NAME,
  CONTROL_NAME,
  HOSTILE_APP,
  HOSTILE_DT,
  HOSTILE_GROUP,
  hostileIdentityRows,
  hostileRecords,
  LONG_NAME,
  UNREADABLE_TEXT,
  writeHostileArchive,
  writeHostileIdentities,
} from '../helpers/hostile-transcript.ts';

let dir = '';

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'transcript-command-'));
});

afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

/**
 * Archives the messages `seqs` (all when undefined) in a fresh archive, with the identity rows
 * when `names`, and writes `outName` (a folder when it ends in `/`).
 */
async function transcribe(
  name: string,
  outName: string,
  seqs?: readonly number[],
  names = false,
  flags: readonly string[] = [],
) {
  const archive = join(dir, name, 'archive');
  const store = new LocalFolderStore(archive);
  await writeHostileArchive(store, seqs);
  if (names) await writeHostileIdentities(store);
  const out = join(dir, name, outName) + (outName.endsWith('/') ? '/' : '');
  const io = captureExportIo({ store, clock: new FakeClock(Date.UTC(2026, 11, 2)) });
  const code = await runExportCommand(
    ['transcript', '--params', `group_id=${HOSTILE_GROUP}`, `from=${HOSTILE_DT}`, `to=${HOSTILE_DT}`].concat([
      '--out',
      out,
      '--archive',
      archive,
      '--time-zone',
      'UTC',
      ...flags,
    ]),
    io.deps,
  );
  expect(code, io.err.join('')).toBe(0);
  // Into a folder: the page is named by the command (said on stdout; plain names only here).
  const written = outName.endsWith('/')
    ? (/wrote \d+ messages to (.*?\.html)/.exec(io.out.join(''))?.[1] ?? out)
    : out;
  return {
    written,
    html: await readFile(written, 'utf8'),
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

  it('without identity rows, shows senders by account and titles the page by group id, as before names', async () => {
    const { html } = await transcribe('no-names', 'plain.html');
    expect(html).toContain(`<title>Chat ${HOSTILE_GROUP}</title>`);
    expect(html).not.toMatch(/class="(?:who|people|group-names|renamed)"/);
    expect(html).toContain('<div class="meta" dir="ltr"><bdi class="sender">carol</bdi> <time>');
  });
});

/** The `<article>` of message `seq`. */
function article(html: string, seq: number): string {
  return new RegExp(`<article [^>]*id="m--${seq}">[\\s\\S]*?</article>`).exec(html)?.[0] ?? '';
}

describe('transcript command with names (issue 24)', () => {
  it('names each sender as of the message, notes a rename where it happens, and names the file after the group', async () => {
    const { html, written } = await transcribe('names', 'out/', undefined, true);
    // The group's last name, with a path, a bidi override, a NUL and markup: a safe file name.
    expect(written.split('/').at(-1)).toBe('_Ops_night_ _b_.html');
    expect(html).toContain('<title>../Ops⟨U+202E⟩/night⟨U+0000⟩ &lt;b&gt;</title>');
    expect(html).toMatch(
      /Group names: <bdi class="name"[^>]*>Night shift<\/bdi>, later <bdi class="name"[^>]*>\.\.\/Ops/,
    );
    expect(html).toContain('(from 2026-12-01 09:00:10)');

    // Carol: "Carol" before her rename, "Carol Chen" after, an Admin badge, the account beside it.
    for (const seq of [7, 8]) expect(article(html, seq)).toContain('title="Carol">Carol</bdi>');
    for (const seq of [9, 10, 11])
      expect(article(html, seq)).toContain('title="Carol Chen">Carol Chen</bdi>');
    expect(article(html, 9)).toContain('<span class="account">(<bdi>carol</bdi>)</span>');
    expect(article(html, 9)).toContain('<span class="badge role">Admin</span>');
    // The note on the first message under the new name only, and in the list of people.
    expect(html.match(/class="renamed"/g)).toHaveLength(1);
    expect(article(html, 9)).toMatch(
      /name changed: <bdi class="name"[^>]*>Carol<\/bdi>, later <bdi class="name"[^>]*>Carol Chen<\/bdi>/,
    );
    expect(html).toMatch(
      /<li dir="ltr"><bdi class="name"[^>]*>Carol<\/bdi>, later <bdi class="name"[^>]*>Carol Chen<\/bdi> <span class="account">/,
    );

    // Hostile names: escaped, invisible characters as tokens, isolated; the long one kept whole.
    expect(article(html, 3)).toContain('>Bob<span class="cc">⟨U+202E⟩</span>gnp.exe</bdi>');
    expect(article(html, 3)).toContain('<span class="badge role">Owner</span>');
    expect(article(html, 5)).toContain(`title="${LONG_NAME}">${LONG_NAME}</bdi>`);
    expect(article(html, 15)).toContain(
      '>Frank<span class="cc">⟨U+0000⟩</span><span class="cc">⟨U+0007⟩</span><span class="cc">⟨U+001B⟩</span>[2J</bdi>',
    );
    expect(html).not.toContain(BIDI_NAME);
    expect(html).not.toContain(CONTROL_NAME);
    // An empty nickname: the account is the name (not repeated beside it), the role as text.
    expect(article(html, 13)).toContain('<bdi class="sender" title="erin">erin</bdi> <span class="role">');
    expect(html).toMatch(/<li dir="ltr"><bdi class="name" title="erin">erin<\/bdi> <span class="role">/);
    // A deleted account keeps its last known name, marked.
    expect(article(html, 12)).toContain('title="Dave">Dave</bdi>');
    expect(article(html, 12)).toContain('account deleted; last known name');
    // Deleted after her message: the message says the account has since been deleted.
    expect(article(html, 13)).toContain('<span class="badge gone">account since deleted</span>');
    expect(html).toMatch(
      /<li dir="ltr"><bdi class="name"[^>]*>Dave<\/bdi> <span class="account">\(<bdi>dave<\/bdi>\)<\/span> <span class="badge gone">account deleted<\/span><\/li>/,
    );
    // Another app's row is not this archive's; a sender without rows reads as before.
    expect(html).not.toContain('Other app Carol');
    expect(article(html, 1)).toContain('<bdi class="sender">alice');
  });

  it('--no-names: the page as before names, with the identity rows in the archive', async () => {
    const { html } = await transcribe('no-names-flag', 'plain.html', undefined, true, ['--no-names']);
    expect(html).toContain(`<title>Chat ${HOSTILE_GROUP}</title>`);
    expect(html).not.toMatch(/class="(?:who|people|group-names|renamed)"/);
    expect(html).not.toContain('Carol Chen');
  });

  it('names every message as the messages_named view does (DuckDB over the same archive)', async () => {
    await transcribe('agree', 'agree.html', undefined, true);
    const runner = await openArchiveRunner({
      archive: join(dir, 'agree', 'archive'),
      timeZone: 'UTC',
      clock: new FakeClock(Date.UTC(2026, 11, 2)),
      workGroup: 'primary',
      database: 'chat_archive',
    });
    let viewed: (string | null)[][];
    try {
      viewed = await collectRows(
        await runner.run(
          'SELECT CAST(msg_seq AS VARCHAR), from_name, from_role, group_name FROM messages_named WHERE group_id = ? ORDER BY msg_seq',
          [{ type: 'string', value: HOSTILE_GROUP }],
        ),
      );
    } finally {
      runner.close();
    }
    // This app's rows, as the transcript's loader keeps them.
    const rows = hostileIdentityRows();
    const timeline = identityTimeline(HOSTILE_GROUP, {
      ...rows,
      users: rows.users.filter((r) => r.sdk_app_id === HOSTILE_APP),
    });
    const readable = hostileRecords().filter((r) => r.quarantined !== true);
    expect(viewed).toHaveLength(readable.length);
    const expected = readable.map((r) => {
      const from = timeline.senderAt(r.from_account ?? '', r.msg_time);
      return [String(r.msg_seq), from.name, from.role, timeline.groupAt(r.msg_time)?.name ?? null];
    });
    expect(viewed).toEqual(expected);
  });
});
