/**
 * The transcript in a real browser: the simulator's group with every element type and hostile
 * content is archived by the engine, its media (here: test images and a voice file written into
 * the archive, as the media copier will) linked by the media source, and `npm run export --
 * transcript` writes the page. Headless Chromium (Debian's `chromium`, driven by puppeteer-core)
 * opens it and checks what a person sees: every message text, every image decoded, the voice
 * file playable, no console error (a CSP violation would be one), and no script from the content
 * ran (it would rename the page or open a dialog). A screenshot is kept in test-output/.
 *
 * Without Chromium this test is skipped with a message saying how to install it; `.ci/run`
 * installs it, so CI always runs it.
 */
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Browser } from 'puppeteer-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalFolderStore } from '../../functions/adapters/local-folder/local-folder-store.ts';
import { runExportCommand } from '../../functions/cli/export-command.ts';
import type { MediaSource } from '../../functions/cli/transcript-command.ts';
import { dateInZone } from '../../functions/domain/partition.ts';
import type { JsonObject, RawMessage } from '../../functions/domain/tencent-types.ts';
import { mediaRefKey } from '../../functions/query/transcript/model.ts';
import { type Simulator, startSimulator } from '../../functions/simulator/index.ts';
import { REPO_ROOT } from '../helpers/cli.ts';
import { archiveWithEngine } from '../helpers/engine-archive.ts';
import { captureExportIo } from '../helpers/export.ts';
import { FakeClock } from '../helpers/fake-clock.ts';
import { pngImage, wavTone } from '../helpers/media-fixtures.ts';

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
  sim = await startSimulator({
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
  await archiveWithEngine(sim, { out: join(dir, 'archive'), timeZone: ZONE });
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

/** Archived media for the test: a coloured PNG per image size and video thumbnail, a WAV per voice. */
async function writeMedia(store: LocalFolderStore): Promise<MediaSource> {
  const keys = new Map<string, { key: string; contentType: string }>();
  const colours: [number, number, number][] = [
    [37, 99, 235],
    [22, 163, 74],
    [234, 88, 12],
  ];
  let n = 0;
  const source: MediaSource = (ref) => keys.get(mediaRefKey(ref));
  const add = async (ref: Parameters<MediaSource>[0]) => {
    if (ref.variant.startsWith('image') || ref.variant === 'video-thumbnail') {
      const key = `media/test/${n}.png`;
      await store.put(key, pngImage(160, 100, colours[n++ % colours.length] ?? [0, 0, 0]));
      keys.set(mediaRefKey(ref), { key, contentType: 'image/png' });
    } else if (ref.variant === 'sound') {
      const key = `media/test/${n++}.wav`;
      await store.put(key, wavTone(0.5));
      keys.set(mediaRefKey(ref), { key, contentType: 'audio/wav' });
    }
  };
  return Object.assign(source, { add });
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
    const media = (await writeMedia(store)) as MediaSource & {
      add: (ref: Parameters<MediaSource>[0]) => Promise<void>;
    };
    // Every reference the transcript can make gets a file (as the media copier would archive).
    const { mediaRefsOf, messagesFromRecords } = await import('../../functions/query/transcript/model.ts');
    const { readArchive } = await import('../helpers/archive.ts');
    const rows = (await readArchive(store)).map((r) => r.record).filter((r) => r.group_id === GROUP);
    for (const message of messagesFromRecords(rows))
      for (const ref of mediaRefsOf(message)) await media.add(ref);

    const dts = truth.map((m) => dateInZone(m.MsgTimeStamp as number, ZONE)).sort();
    const out = join(dir, 'chat.html');
    const io = captureExportIo({ store, mediaSource: media, clock: new FakeClock(Date.now()) });
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
        expect(visible).toContain(text.replace(/\s+/g, ' ').trim());
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
