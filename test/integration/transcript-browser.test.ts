/**
 * The transcript in a real browser: the simulator's group with every element type and hostile
 * content is archived by the engine, its media (test images and voice files written into the
 * archive with manifest rows, as the media copier leaves them) found through the manifest, and `npm run export --
 * transcript` writes the page. Headless Chromium (Debian's `chromium`, driven by puppeteer-core)
 * opens it and checks what a person sees: every message text, every image decoded, the voice
 * file playable, no console error (a CSP violation would be one), and no script from the content
 * ran (it would rename the page or open a dialog). A screenshot is kept in test-output/.
 *
 * Without Chromium this test is skipped with a message saying how to install it; `.ci/run`
 * installs it, so CI always runs it.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { gzipSync } from 'node:zlib';
import type { Browser, Page } from 'puppeteer-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalFolderStore } from '../../functions/adapters/local-folder/local-folder-store.ts';
import { runExportCommand } from '../../functions/cli/export-command.ts';
import type { MediaRefPlace } from '../../functions/domain/media-refs.ts';
import { dateInZone } from '../../functions/domain/partition.ts';
import type { JsonObject, RawMessage } from '../../functions/domain/tencent-types.ts';
import { mediaRefsOf, messagesFromRecords } from '../../functions/query/transcript/model.ts';
import type { Simulator } from '../../functions/simulator/index.ts';
import { readArchive } from '../helpers/archive.ts';
import { REPO_ROOT } from '../helpers/cli.ts';
import { engineRun, startEngineSimulator } from '../helpers/engine.ts';
import { captureExportIo } from '../helpers/export.ts';
import { FakeClock } from '../helpers/fake-clock.ts';
import {
  HOSTILE_DT,
  HOSTILE_GROUP,
  HOSTILE_TEXTS,
  LONG_NAME,
  writeHostileArchive,
  writeHostileIdentities,
} from '../helpers/hostile-transcript.ts';
import { archivedManifestRow, pngImage, wavTone } from '../helpers/media-fixtures.ts';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const HAVE_CHROMIUM = existsSync(CHROMIUM);
if (!HAVE_CHROMIUM) {
  console.warn(
    `transcript-browser: skipped, no Chromium at ${CHROMIUM}. Install it with ` +
      '`apt-get update && apt-get install -y chromium` (Debian/Ubuntu), or set CHROMIUM_PATH; `.ci/run` does this.',
  );
}

const ZONE = 'Asia/Shanghai';
const GROUP = '@TGS#BROWSERTEST1';
const OUTPUT = join(REPO_ROOT, 'test-output');

/** The few DOM members the page-side callbacks use (the project compiles without the DOM lib). */
interface PageEvents {
  addEventListener(type: string, listener: () => void, options?: { once: boolean }): void;
}
interface PageImage extends PageEvents {
  loading: string;
  readonly complete: boolean;
  readonly naturalWidth: number;
  getAttribute(name: string): string | null;
}
interface PageAudio extends PageEvents {
  preload: string;
  load(): void;
  querySelector(selector: string): PageEvents | null;
}

let sim: Simulator;
let dir = '';
let browser: Browser | undefined;
let truth: RawMessage[] = [];

beforeAll(async () => {
  if (!HAVE_CHROMIUM) return;
  sim = await startEngineSimulator({
    seed: 7,
    retentionDays: 365,
    dataset: {
      groups: 0,
      activeFraction: 0,
      messagesPerActiveGroup: [0, 0],
      historyDays: 3,
      deletedFraction: 0.04,
      recalledFraction: 0.04,
      extraGroups: [{ groupId: GROUP, type: 'Public', messages: 100, name: 'Browser test' }],
    },
  });
  dir = await mkdtemp(join(tmpdir(), 'transcript-browser-'));
  await engineRun(sim, new LocalFolderStore(join(dir, 'archive')), { timeZone: ZONE }).run();
  truth = [...sim.groundTruth(GROUP, { withRecalledMsg: true })];
  const { launch } = await import('puppeteer-core');
  browser = await launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--allow-file-access-from-files'],
  });
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await sim?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

/**
 * Media archived the way the media copier leaves them: bytes under `media/` and one manifest row
 * per reference (`archived`, with its object key) under `media-manifest/`. A coloured PNG per image
 * size and video thumbnail, a WAV per voice; files and videos stay unarchived.
 */
async function archiveMedia(
  store: LocalFolderStore,
  sdkAppId: number,
  refs: readonly MediaRefPlace[],
): Promise<void> {
  const colours: [number, number, number][] = [
    [37, 99, 235],
    [22, 163, 74],
    [234, 88, 12],
  ];
  const rows: string[] = [];
  let n = 0;
  for (const ref of refs) {
    const image = ['original', 'large', 'thumbnail', 'video-thumbnail'].includes(ref.sizeClass);
    if (!image && ref.sizeClass !== 'sound') continue;
    // A slightly different shade each, so every file is its own object (content-addressed).
    const [r, g, b] = colours[n % colours.length] ?? [0, 0, 0];
    const bytes = image ? pngImage(160, 100, [r, g, (b + n) % 256]) : wavTone(0.5 + n / 100);
    const sha256 = createHash('sha256').update(bytes).digest('hex');
    const key = `media/sha256/${sha256.slice(0, 2)}/${sha256}`;
    n++;
    await store.put(key, bytes);
    rows.push(JSON.stringify(archivedManifestRow(ref, key, image ? 'image/png' : 'audio/wav', bytes.length)));
  }
  await store.put(
    `media-manifest/sdkappid=${sdkAppId}/dt=2026-01-01/part-test-00000.ndjson.gz`,
    gzipSync(`${rows.join('\n')}\n`),
  );
}

describe.skipIf(!HAVE_CHROMIUM)('transcript in headless Chromium', () => {
  it('shows every text and image, plays voice, runs no hostile script and logs no error', async () => {
    const hostile = truth.filter((m) =>
      JSON.stringify(m.MsgBody ?? '').includes('<script>document.title=\\"pwned\\"</script>'),
    );
    expect(hostile.length).toBeGreaterThan(0);
    const types = new Set(
      truth.flatMap((m) =>
        ((Array.isArray(m.MsgBody) ? m.MsgBody : []) as JsonObject[]).map((e) => e.MsgType),
      ),
    );
    for (const t of [
      'TIMTextElem',
      'TIMFaceElem',
      'TIMLocationElem',
      'TIMCustomElem',
      'TIMImageElem',
      'TIMFileElem',
      'TIMSoundElem',
      'TIMVideoFileElem',
      'TIMRelayElem',
    ]) {
      expect(types).toContain(t);
    }

    const archive = join(dir, 'archive');
    const store = new LocalFolderStore(archive);
    // Every image and voice reference of the group is archived, as the media copier would.
    const rows = (await readArchive(store)).map((r) => r.record).filter((r) => r.group_id === GROUP);
    await archiveMedia(store, sim.apps[0]?.sdkAppId ?? 0, messagesFromRecords(rows).flatMap(mediaRefsOf));

    const dts = truth.map((m) => dateInZone(m.MsgTimeStamp as number, ZONE)).sort();
    const out = join(dir, 'chat.html');
    const io = captureExportIo({ store, clock: new FakeClock(Date.now()) });
    const code = await runExportCommand(
      [
        'transcript',
        '--params',
        `group_id=${GROUP}`,
        `from=${dts[0]}`,
        `to=${dts.at(-1)}`,
        '--out',
        out,
        '--archive',
        archive,
        '--time-zone',
        ZONE,
      ],
      io.deps,
    );
    expect(code).toBe(0);
    expect(io.out.join('')).toMatch(new RegExp(`wrote ${truth.length} messages to .* and \\d+ media files`));
    expect((await readdir(join(dir, 'chat_files'))).length).toBeGreaterThan(5);

    const page = await (browser as Browser).newPage();
    const problems: string[] = [];
    page.on('console', (m) => {
      if (m.type() === 'error' || m.type() === 'warn') problems.push(`console ${m.type()}: ${m.text()}`);
    });
    page.on('pageerror', (e) => problems.push(`page error: ${String(e)}`));
    page.on('dialog', (d) => {
      problems.push(`dialog: ${d.message()}`);
      void d.dismiss();
    });
    // ERR_ABORTED is a media element restarting its own fetch (load() below), not a failure.
    page.on('requestfailed', (r) => {
      if (r.failure()?.errorText !== 'net::ERR_ABORTED')
        problems.push(`request failed: ${r.url()} ${r.failure()?.errorText}`);
    });
    await page.setViewport({ width: 960, height: 1400 });
    await page.goto(pathToFileURL(out).href, { waitUntil: 'load' });
    await page.evaluate(async () => {
      await (globalThis as unknown as { document: { fonts: { ready: Promise<unknown> } } }).document.fonts
        .ready;
    });

    // No script from the content ran: the title is ours, no dialog, no element created by it.
    expect(await page.title()).toBe(`Chat ${GROUP}`);
    expect(await page.$$eval('script', (s) => s.length)).toBe(0);
    expect(await page.$$eval('[onerror], [onclick], [onload]', (s) => s.length)).toBe(0);
    const links = await page.$$eval('a[href], img[src], source[src], video[poster]', (els) =>
      els.map((e) => e.getAttribute('href') ?? e.getAttribute('src') ?? e.getAttribute('poster') ?? ''),
    );
    expect(links.length).toBeGreaterThan(10);
    for (const link of links) expect(link).toMatch(/^chat_files\/[A-Za-z0-9._-]+$/);

    // Every text of every message with content is visible (innerText: what is rendered, not the DOM).
    const visible =
      // biome-ignore lint/performance/useDomNodeTextContent: the rendered text is what a person sees.
      (await page.$eval('main', (m) => (m as unknown as { innerText: string }).innerText)).replace(
        /\s+/g,
        ' ',
      );
    let texts = 0;
    for (const m of truth) {
      if (m.IsPlaceMsg !== 0 && m.IsPlaceMsg !== undefined) continue;
      for (const e of (Array.isArray(m.MsgBody) ? m.MsgBody : []) as JsonObject[]) {
        const text = e.MsgType === 'TIMTextElem' ? (e.MsgContent as JsonObject).Text : undefined;
        if (typeof text !== 'string' || text.trim() === '') continue;
        // A zero-width space is shown as a token (the simulator's texts have no other invisible
        // character outside emoji sequences, whose joiners stay).
        expect(visible).toContain(text.replace(/\s+/g, ' ').trim().replaceAll('\u200b', '⟨U+200B⟩'));
        texts++;
      }
    }
    expect(texts).toBeGreaterThan(20);
    expect(visible).toContain('<script>document.title="pwned"</script>');
    expect(visible).toMatch(/deleted or expired|recalled/);

    // Every image is decoded (loading="lazy" ones are scrolled into view first).
    await page.$$eval('img', (imgs) => {
      for (const img of imgs) (img as unknown as PageImage).loading = 'eager';
    });
    const images = await page.$$eval('img', (imgs) =>
      Promise.all(
        imgs.map(async (img) => {
          const image = img as unknown as PageImage;
          if (!image.complete)
            await new Promise<void>((r) => image.addEventListener('load', () => r(), { once: true }));
          return { src: image.getAttribute('src'), width: image.naturalWidth };
        }),
      ),
    );
    expect(images.length).toBeGreaterThan(5);
    for (const image of images) expect(image, `${image.src} did not load`).toMatchObject({ width: 160 });

    // Voice files are playable.
    const audio = await page.$$eval('audio', (els) =>
      Promise.all(
        els.map(
          (el) =>
            new Promise<string>((resolve) => {
              const a = el as unknown as PageAudio;
              a.addEventListener('canplay', () => resolve('canplay'), { once: true });
              a.addEventListener('error', () => resolve('error'), { once: true });
              a.querySelector('source')?.addEventListener('error', () => resolve('error'), { once: true });
              a.preload = 'auto';
              a.load();
            }),
        ),
      ),
    );
    expect(audio.length).toBeGreaterThan(0);
    expect(new Set(audio)).toEqual(new Set(['canplay']));

    await mkdir(OUTPUT, { recursive: true });
    await page.screenshot({ path: join(OUTPUT, 'transcript.png'), fullPage: false });
    expect(problems).toEqual([]);
    await page.close();
  }, 120_000);
});

/** The page-side view of one message's metadata line (see `renderMeta` in render-html.ts). */
interface MetaLine {
  readonly parts: readonly { tag: string; cls: string; text: string; isolate: string }[];
  /** Left and right edges of sender, time and seq as laid out. */
  readonly boxes: readonly { left: number; right: number; top: number }[];
}

/** The first three children of every message's metadata line, with their style and layout. */
async function metadataLines(page: Page): Promise<MetaLine[]> {
  return (await page.$$eval('article > .meta', (divs) =>
    divs.map((div) => {
      type El = {
        tagName: string;
        className: string;
        textContent: string;
        getBoundingClientRect(): { left: number; right: number; top: number };
      };
      const style = (globalThis as unknown as { getComputedStyle(e: El): { unicodeBidi: string } })
        .getComputedStyle;
      const kids = [...(div as unknown as { children: Iterable<El> }).children].slice(0, 3);
      return {
        parts: kids.map((k) => ({
          tag: k.tagName.toLowerCase(),
          cls: k.className,
          text: k.textContent,
          isolate: style(k).unicodeBidi,
        })),
        boxes: kids.map((k) => {
          const r = k.getBoundingClientRect();
          return { left: r.left, right: r.right, top: r.top };
        }),
      };
    }),
  )) as MetaLine[];
}

/**
 * Sender (by account, or by name with account and role: `bdi.who`), time and seq in this order in
 * the DOM and on screen, each bidi-isolated.
 */
function expectInOrder(meta: MetaLine): void {
  expect(meta.parts.map((p) => `${p.tag}.${p.cls}`)).toEqual([
    expect.stringMatching(/^bdi\.(?:sender|who)$/),
    'time.',
    'span.seq',
  ]);
  for (const part of meta.parts) expect(part.isolate).toBe('isolate');
  const [, time, seq] = meta.parts;
  expect(time?.text).toMatch(/^(?:\d\d:\d\d:\d\d|invalid time)$/);
  expect(seq?.text).toMatch(/^(?:#\d+|seq unknown)$/);
  const [senderBox, timeBox, seqBox] = meta.boxes;
  // Laid out left to right (the time may wrap below a long sender, never before it).
  if (senderBox && timeBox && timeBox.top <= senderBox.top + 1) {
    expect(timeBox.left).toBeGreaterThanOrEqual(senderBox.right - 1);
  }
  if (timeBox && seqBox) expect(seqBox.left).toBeGreaterThanOrEqual(timeBox.right - 1);
}

/** The ids of the cards wider than their box, and the page's width. */
async function overflow(page: Page): Promise<{ cards: string[]; pageWidth: number }> {
  const cards = await page.$$eval('article', (articles) =>
    articles
      .map((a) => a as unknown as { id: string; scrollWidth: number; clientWidth: number })
      .filter((a) => a.scrollWidth > a.clientWidth + 1)
      .map((a) => a.id),
  );
  const pageWidth = await page.evaluate(
    () =>
      (globalThis as unknown as { document: { documentElement: { scrollWidth: number } } }).document
        .documentElement.scrollWidth,
  );
  return { cards, pageWidth };
}

/** Every image's `src` and decoded width (0 when it failed), once loaded or failed. */
async function decodedImages(page: Page): Promise<{ src: string; width: number }[]> {
  return page.$$eval('img', (imgs) =>
    Promise.all(
      imgs.map(async (img) => {
        const image = img as unknown as PageImage;
        image.loading = 'eager';
        if (!image.complete)
          await new Promise<void>((r) => {
            image.addEventListener('load', () => r(), { once: true });
            image.addEventListener('error', () => r(), { once: true });
          });
        return { src: image.getAttribute('src') ?? '', width: image.naturalWidth };
      }),
    ),
  );
}

/** A new page that records console errors, page errors, dialogs and failed requests in `problems`. */
async function watchedPage(problems: string[]): Promise<Page> {
  const page = await (browser as Browser).newPage();
  page.on('console', (m) => {
    if (m.type() === 'error' || m.type() === 'warn') problems.push(`console ${m.type()}: ${m.text()}`);
  });
  page.on('pageerror', (e) => problems.push(`page error: ${String(e)}`));
  page.on('dialog', (d) => {
    problems.push(`dialog: ${d.message()}`);
    void d.dismiss();
  });
  page.on('requestfailed', (r) => problems.push(`request failed: ${r.url()} ${r.failure()?.errorText}`));
  await page.setViewport({ width: 960, height: 1400 });
  return page;
}

describe.skipIf(!HAVE_CHROMIUM)('the hostile transcript of issue 21 in headless Chromium', () => {
  it('runs nothing, shows every text, keeps every metadata line in order and every card in its width', async () => {
    const hostileDir = await mkdtemp(join(tmpdir(), 'transcript-hostile-'));
    try {
      const archive = join(hostileDir, 'archive');
      const store = new LocalFolderStore(archive);
      await writeHostileArchive(store);
      // A page name with a space and parentheses: its media must still be linked (point 12).
      const out = join(hostileDir, 'hostile chat (1).html');
      const io = captureExportIo({ store, clock: new FakeClock(Date.UTC(2026, 11, 2)) });
      const code = await runExportCommand(
        [
          'transcript',
          '--params',
          `group_id=${HOSTILE_GROUP}`,
          `from=${HOSTILE_DT}`,
          `to=${HOSTILE_DT}`,
        ].concat(['--out', out, '--archive', archive, '--time-zone', 'UTC']),
        io.deps,
      );
      expect(code, io.err.join('')).toBe(0);

      const problems: string[] = [];
      const page = await watchedPage(problems);
      await page.goto(pathToFileURL(out).href, { waitUntil: 'load' });

      // Nothing ran: no flag, no dialog, no script or handler in the DOM, the title is ours.
      expect(await page.evaluate(() => (globalThis as { __pwned?: unknown }).__pwned)).toBeUndefined();
      expect(await page.title()).toBe(`Chat ${HOSTILE_GROUP}`);
      expect(await page.$$eval('script, iframe, object, embed', (s) => s.length)).toBe(0);
      expect(await page.$$eval('[onerror], [onclick], [onload]', (s) => s.length)).toBe(0);

      // Every message's text is visible, invisible characters as tokens.
      const visible =
        // biome-ignore lint/performance/useDomNodeTextContent: the rendered text is what a person sees.
        (await page.$eval('main', (m) => (m as unknown as { innerText: string }).innerText)).replace(
          /\s+/g,
          ' ',
        );
      for (const text of HOSTILE_TEXTS) expect(visible).toContain(text.replace(/\s+/g, ' '));
      for (const shown of ['alice⟨U+202E⟩gnp.exe', 'admin⟨U+200B⟩', 'invoice⟨U+202E⟩fdp.exe'])
        expect(visible).toContain(shown);
      expect(visible).toContain('invalid time');
      expect(visible).toContain('unreadable');

      // No metadata reordered: every line reads sender, time, seq, on screen too.
      const metas = await metadataLines(page);
      expect(metas).toHaveLength(16);
      for (const meta of metas) expectInOrder(meta);

      // No card is wider than the page's column, however long the sender or the text.
      expect(await overflow(page)).toEqual({ cards: [], pageWidth: 960 });

      // Both images, the PNG and the SVG (named `.svg` so the browser knows its type), are decoded.
      const images = await decodedImages(page);
      expect(images.map((i) => i.src.replace(/\/.*\./, '/…'))).toEqual([
        'hostile%20chat%20%281%29_files/…png',
        'hostile%20chat%20%281%29_files/…svg',
      ]);
      for (const image of images) expect(image, `${image.src} did not load`).toMatchObject({ width: 120 });

      await mkdir(OUTPUT, { recursive: true });
      await page.screenshot({ path: join(OUTPUT, 'transcript-hostile.png'), fullPage: true });
      expect(problems).toEqual([]);
      await page.close();
    } finally {
      await rm(hostileDir, { recursive: true, force: true });
    }
  }, 120_000);
});

/** The name element of the message `seq`: its text, tooltip, and widths (laid out, content, card). */
async function nameBox(page: Page, seq: number) {
  return page.$eval(`#m--${seq} .meta .sender`, (el) => {
    const e = el as unknown as {
      textContent: string;
      clientWidth: number;
      scrollWidth: number;
      getAttribute(name: string): string | null;
      closest(selector: string): { clientWidth: number } | null;
    };
    return {
      text: e.textContent,
      title: e.getAttribute('title') ?? '',
      width: e.clientWidth,
      contentWidth: e.scrollWidth,
      cardWidth: e.closest('article')?.clientWidth ?? 0,
    };
  });
}

describe.skipIf(!HAVE_CHROMIUM)('names in the hostile transcript in headless Chromium (issue 24)', () => {
  it('shows names as of each message with a rename in the middle, hostile names safe and long ones clipped', async () => {
    const namesDir = await mkdtemp(join(tmpdir(), 'transcript-names-'));
    try {
      const archive = join(namesDir, 'archive');
      const store = new LocalFolderStore(archive);
      await writeHostileArchive(store);
      await writeHostileIdentities(store);
      const io = captureExportIo({ store, clock: new FakeClock(Date.UTC(2026, 11, 2)) });
      const code = await runExportCommand(
        [
          'transcript',
          '--params',
          `group_id=${HOSTILE_GROUP}`,
          `from=${HOSTILE_DT}`,
          `to=${HOSTILE_DT}`,
        ].concat(['--out', `${namesDir}/`, '--archive', archive, '--time-zone', 'UTC']),
        io.deps,
      );
      expect(code, io.err.join('')).toBe(0);
      // Named after the group's hostile name, made safe.
      const out = join(namesDir, '_Ops_night_ _b_.html');

      const problems: string[] = [];
      const page = await watchedPage(problems);
      await page.goto(pathToFileURL(out).href, { waitUntil: 'load' });
      expect(await page.evaluate(() => (globalThis as { __pwned?: unknown }).__pwned)).toBeUndefined();
      expect(await page.title()).toBe('../Ops⟨U+202E⟩/night⟨U+0000⟩ <b>');
      expect(await page.$$eval('script, iframe, object, embed, b', (s) => s.length)).toBe(0);

      // What a person reads: the old name before the rename, the new one after, and the note.
      const text = async (selector: string) =>
        // biome-ignore lint/performance/useDomNodeTextContent: the rendered text is what a person sees.
        (await page.$eval(selector, (m) => (m as unknown as { innerText: string }).innerText)).replace(
          /\s+/g,
          ' ',
        );
      expect(await text('#m--8 .meta')).toMatch(/^Carol \(carol\) Admin \d\d:\d\d:\d\d #8/);
      expect(await text('#m--9 .meta')).toMatch(/^Carol Chen \(carol\) Admin \d\d:\d\d:\d\d #9/);
      expect(await text('#m--9 .renamed')).toBe('name changed: Carol, later Carol Chen');
      expect(await text('#m--12 .meta')).toContain('Dave (dave) account deleted; last known name');
      expect(await text('#m--3 .meta')).toMatch(/^Bob⟨U\+202E⟩gnp\.exe \(bob\) Owner \d\d:/);
      expect(await text('header')).toContain('Carol, later Carol Chen (carol) Admin');

      // The 5,000-character name: clipped to the card, its whole text in the page and the tooltip.
      const long = await nameBox(page, 5);
      expect(long.text).toBe(LONG_NAME);
      expect(long.title).toBe(LONG_NAME);
      expect(long.contentWidth).toBeGreaterThan(long.width);
      expect(long.width).toBeLessThanOrEqual(long.cardWidth);

      // Every metadata line still reads name, time, seq; no card is wider than the column.
      const metas = await metadataLines(page);
      expect(metas).toHaveLength(16);
      for (const meta of metas) expectInOrder(meta);
      expect(await overflow(page)).toEqual({ cards: [], pageWidth: 960 });

      await mkdir(OUTPUT, { recursive: true });
      await page.screenshot({ path: join(OUTPUT, 'transcript-names.png'), fullPage: false });
      expect(problems).toEqual([]);
      await page.close();
    } finally {
      await rm(namesDir, { recursive: true, force: true });
    }
  }, 120_000);
});
