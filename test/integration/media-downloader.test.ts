/**
 * The media downloader over real HTTP against small local servers: one test per verification and
 * security rule. Back-off sleeps run on a fake clock; "requests" counts what each server received,
 * so a refusal is proven to have happened before any byte left for a host that is not allowed.
 */
import { createHash } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  type DownloadResult,
  MediaDownloader,
  type MediaDownloaderOptions,
} from '../../functions/adapters/media/downloader.ts';
import { type AllowedHostEntry, parseAllowedHosts } from '../../functions/adapters/media/host-policy.ts';
import type { MediaKind, MediaRef } from '../../functions/domain/media-refs.ts';
import type { CosSigResult } from '../../functions/domain/tencent-types.ts';
import { FakeClock } from '../helpers/fake-clock.ts';
import { exactly, HOSTILE_MARKUP, markupEncodings } from '../helpers/media-fixtures.ts';
import { captureLogger, seededRandom } from '../helpers/tencent.ts';

type Route = (req: IncomingMessage, res: ServerResponse) => void;

interface TestServer {
  origin: string;
  host: string;
  requests: string[];
  routes: Map<string, Route>;
  server: Server;
}

async function startServer(): Promise<TestServer> {
  const routes = new Map<string, Route>();
  const requests: string[] = [];
  const server = createServer((req, res) => {
    requests.push(req.url ?? '');
    const route = routes.get(new URL(req.url ?? '/', 'http://x').pathname);
    if (route) route(req, res);
    else {
      res.writeHead(404);
      res.end();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { origin: `http://127.0.0.1:${port}`, host: `127.0.0.1:${port}`, requests, routes, server };
}

const BODY = Buffer.from(Array.from({ length: 70_000 }, (_, i) => (i * 31) % 251));
// A JPEG's first bytes: images are verified by their content (functions/domain/media-verify.ts).
BODY.set([0xff, 0xd8, 0xff, 0xe0]);
const SHA = createHash('sha256').update(BODY).digest('hex');

function serve(body: Buffer | string, headers: Record<string, string | number> = {}, status = 200): Route {
  return (_req, res) => {
    res.writeHead(status, {
      'content-type': 'image/jpeg',
      'content-length': Buffer.byteLength(body),
      ...headers,
    });
    res.end(body);
  };
}

let main: TestServer;
let other: TestServer;
let tempDir: string;

beforeAll(async () => {
  main = await startServer();
  other = await startServer();
  tempDir = await mkdtemp(join(tmpdir(), 'media-dl-'));
});
afterAll(async () => {
  for (const s of [main, other]) {
    s.server.closeAllConnections();
    await new Promise((resolve) => s.server.close(resolve));
  }
  await rm(tempDir, { recursive: true, force: true });
});
afterEach(() => {
  main.routes.clear();
  other.routes.clear();
  main.requests.length = 0;
  other.requests.length = 0;
});

function downloader(over: Partial<MediaDownloaderOptions> & { hosts?: AllowedHostEntry[] } = {}) {
  const clock = new FakeClock();
  const hosts = over.hosts ?? [{ host: main.host, allowHttp: true, allowPrivateAddresses: true }];
  const d = new MediaDownloader({
    allowedHosts: parseAllowedHosts(hosts),
    maxBytes: 1_000_000,
    tempDir,
    clock,
    random: seededRandom(),
    logger: captureLogger().logger,
    idleTimeoutMs: 2_000,
    ...over,
  });
  return { d, clock };
}

function ref(url: string | null, over: Partial<MediaRef> = {}, kind: MediaKind = 'image'): MediaRef {
  return {
    sdkAppId: 1,
    groupId: 'g',
    topicId: null,
    msgSeq: 1,
    msgTime: 1,
    elementPath: '0',
    sizeClass: 'original',
    kind,
    uuid: 'u',
    url,
    declaredSize: BODY.length,
    fileName: null,
    format: 'jpg',
    ...over,
  };
}

async function tempFiles(): Promise<string[]> {
  return (await readdir(tempDir)).filter((n) => n.startsWith('media-'));
}

async function expectRefused(result: DownloadResult, reason: RegExp): Promise<void> {
  expect(result.status).toBe('refused');
  if (result.status !== 'archived') expect(result.reason).toMatch(reason);
  expect(await tempFiles()).toEqual([]);
}

describe('media downloader: verification', () => {
  it('streams a 200 into a temp file with the right SHA-256 and size', async () => {
    // Prepare
    main.routes.set('/a.jpg', serve(BODY));

    // Act
    const result = await downloader().d.download(ref(`${main.origin}/a.jpg`));

    // Assess
    expect(result).toMatchObject({
      status: 'archived',
      sha256: SHA,
      bytes: BODY.length,
      contentType: 'image/jpeg',
    });
    if (result.status !== 'archived') throw new Error('not archived');
    expect(
      createHash('sha256')
        .update(await readFile(result.file))
        .digest('hex'),
    ).toBe(SHA);
    await result.dispose();
    expect(await tempFiles()).toEqual([]);
  });

  it('calls 404 and 410 expired', async () => {
    main.routes.set('/gone', serve('', {}, 404));
    main.routes.set('/gone410', serve('', {}, 410));
    expect((await downloader().d.download(ref(`${main.origin}/gone`))).status).toBe('expired');
    expect((await downloader().d.download(ref(`${main.origin}/gone410`))).status).toBe('expired');
  });

  it('refuses a 200 whose size differs from the declared one', async () => {
    main.routes.set('/short', serve(BODY.subarray(1)));
    await expectRefused(
      await downloader().d.download(ref(`${main.origin}/short`)),
      /differs from the declared/,
    );
  });

  it('refuses a body longer than declared even without Content-Length (counted while streaming)', async () => {
    main.routes.set('/chunked', (_req, res) => {
      res.writeHead(200, { 'content-type': 'image/jpeg' });
      res.write(BODY);
      res.end(Buffer.from([1, 2, 3]));
    });
    await expectRefused(
      await downloader().d.download(ref(`${main.origin}/chunked`)),
      /the body is longer than the declared 70000 bytes/,
    );
  });

  it('stops writing a body at its declared size: the temp file never outgrows its reservation (issue 22)', async () => {
    // A server that sends more than declared and then never ends the answer.
    let closed = false;
    main.routes.set('/endless', (_req, res) => {
      res.on('close', () => {
        closed = true;
      });
      res.writeHead(200, { 'content-type': 'image/jpeg' });
      res.write(BODY);
      res.write(BODY);
    });
    const { d } = downloader({ idleTimeoutMs: 60_000 });
    await expectRefused(
      await d.download(ref(`${main.origin}/endless`, { declaredSize: 1_000 })),
      /the body is longer than the declared 1000 bytes/,
    );
    await expect.poll(() => closed).toBe(true);
  });

  it('refuses a 200 HTML error page as an image (by type, and by its bytes under a lying type)', async () => {
    const page = '<!DOCTYPE html><html><body><h1>502 Bad Gateway</h1></body></html>';
    main.routes.set('/html', serve(page, { 'content-type': 'text/html' }));
    main.routes.set('/lying', serve(page, { 'content-type': 'image/jpeg' }));
    const noSize = { declaredSize: null };
    await expectRefused(
      await downloader().d.download(ref(`${main.origin}/html`, noSize)),
      /text\/html does not fit/,
    );
    await expectRefused(
      await downloader().d.download(ref(`${main.origin}/lying`, noSize)),
      /HTML\/XML document/,
    );
  });

  it('refuses a file above maxBytes: by declared size with no request, by Content-Length, and while streaming', async () => {
    // Prepare
    main.routes.set('/big', serve(BODY));
    main.routes.set('/big-chunked', (_req, res) => {
      res.writeHead(200, { 'content-type': 'image/jpeg' });
      res.end(BODY);
    });
    const { d } = downloader({ maxBytes: 1_000 });

    // Act
    const declared = await d.download(ref(`${main.origin}/big`, { declaredSize: 2_000 }));
    const requestsAfterDeclared = main.requests.length;
    const byLength = await d.download(ref(`${main.origin}/big`, { declaredSize: null }));
    const streamed = await d.download(ref(`${main.origin}/big-chunked`, { declaredSize: null }));

    // Assess
    await expectRefused(declared, /declared 2000 bytes exceeds media.maxBytes/);
    expect(requestsAfterDeclared).toBe(0);
    await expectRefused(byLength, /Content-Length 70000 exceeds/);
    await expectRefused(streamed, /the body exceeds/);
  });

  it('retries 503 honouring Retry-After, then archives', async () => {
    // Prepare
    let calls = 0;
    main.routes.set('/flaky', (req, res) => {
      calls++;
      if (calls <= 2) serve('busy', { 'retry-after': '7', 'content-type': 'text/html' }, 503)(req, res);
      else serve(BODY)(req, res);
    });
    const { d, clock } = downloader();

    // Act
    const result = await d.download(ref(`${main.origin}/flaky`));

    // Assess
    expect(result).toMatchObject({ status: 'archived', sha256: SHA, attempts: 3 });
    expect(clock.sleeps).toHaveLength(2);
    expect(clock.sleeps.every((ms) => ms >= 7_000)).toBe(true);
    if (result.status === 'archived') await result.dispose();
  });

  it('retries a connection reset and a body cut short, then archives', async () => {
    // Prepare
    let calls = 0;
    main.routes.set('/reset', (req, res) => {
      calls++;
      if (calls === 1) req.socket.destroy();
      else if (calls === 2) {
        res.writeHead(200, { 'content-type': 'image/jpeg', 'content-length': BODY.length });
        res.write(BODY.subarray(0, 1000), () => res.socket?.destroy());
      } else serve(BODY)(req, res);
    });

    // Act
    const result = await downloader().d.download(ref(`${main.origin}/reset`));

    // Assess
    expect(result).toMatchObject({ status: 'archived', sha256: SHA, attempts: 3 });
    if (result.status === 'archived') await result.dispose();
    expect(await tempFiles()).toEqual([]);
  });

  it('times out a server that stops sending, and gives up after the attempts as failed', async () => {
    main.routes.set('/stall', (_req, res) => {
      res.writeHead(200, { 'content-type': 'image/jpeg', 'content-length': BODY.length });
      res.write(BODY.subarray(0, 10));
    });
    const { d } = downloader({ idleTimeoutMs: 100, retry: { maxAttempts: 2 } });
    const result = await d.download(ref(`${main.origin}/stall`));
    expect(result).toMatchObject({ status: 'failed', attempts: 2 });
    if (result.status === 'failed') expect(result.reason).toMatch(/timed out; gave up after 2 attempts/);
    expect(await tempFiles()).toEqual([]);
  });
});

describe('media downloader: security', () => {
  it('refuses a host that is not allowed without sending anything', async () => {
    const result = await downloader().d.download(ref(`${other.origin}/a.jpg`));
    await expectRefused(result, /not in media.allowedHosts/);
    expect(other.requests).toEqual([]);
  });

  it('refuses plain HTTP unless the host is explicitly allowed over HTTP', async () => {
    const { d } = downloader({ hosts: [{ host: main.host, allowPrivateAddresses: true }] });
    await expectRefused(await d.download(ref(`${main.origin}/a.jpg`)), /plain HTTP/);
    expect(main.requests).toEqual([]);
  });

  it('refuses a private or loopback address unless the host is explicitly allowed to have one', async () => {
    main.routes.set('/a.jpg', serve(BODY));
    const { d } = downloader({ hosts: [{ host: main.host, allowHttp: true }] });
    await expectRefused(await d.download(ref(`${main.origin}/a.jpg`)), /127\.0\.0\.1 is loopback/);
    expect(main.requests).toEqual([]);
  });

  it('checks what a host name resolves to at connect time (localhost → loopback)', async () => {
    const port = new URL(main.origin).port;
    const { d } = downloader({ hosts: [{ host: `localhost:${port}`, allowHttp: true }] });
    await expectRefused(
      await d.download(ref(`http://localhost:${port}/a.jpg`)),
      /resolves to .* which is loopback/,
    );
    expect(main.requests).toEqual([]);
  });

  it('follows redirects only to allowed hosts', async () => {
    // Prepare
    main.routes.set('/to-other', serve('', { location: `${other.origin}/x.jpg` }, 302));
    main.routes.set('/to-self', serve('', { location: '/a.jpg' }, 301));
    main.routes.set('/a.jpg', serve(BODY));
    const { d } = downloader();

    // Act
    const refused = await d.download(ref(`${main.origin}/to-other`));
    const followed = await d.download(ref(`${main.origin}/to-self`));
    if (followed.status === 'archived') await followed.dispose();

    // Assess
    await expectRefused(refused, /redirect refused: host 127\.0\.0\.1:\d+ is not in media.allowedHosts/);
    expect(other.requests).toEqual([]);
    expect(followed).toMatchObject({ status: 'archived', sha256: SHA });
  });

  it('stops after too many redirects', async () => {
    main.routes.set('/loop', serve('', { location: '/loop' }, 302));
    await expectRefused(await downloader().d.download(ref(`${main.origin}/loop`)), /more than 5 redirects/);
    expect(main.requests).toHaveLength(6);
  });
});

describe('media downloader: signatures (get_cos_sig)', () => {
  const signed = (status: number, url = `${main.origin}/signed.jpg?sign=ok`): CosSigResult => ({
    resourceId: 0,
    code: 0,
    desc: '',
    status,
    preSigUrl: status === 2 ? '' : url,
  });
  const guarded: Route = (req, res) => {
    if (new URL(req.url ?? '/', 'http://x').searchParams.get('sign') === 'ok') serve(BODY)(req, res);
    else serve('<Error>AccessDenied</Error>', { 'content-type': 'application/xml' }, 403)(req, res);
  };

  it('on 403 fetches the pre-signed URL get_cos_sig returns', async () => {
    // Prepare
    main.routes.set('/signed.jpg', guarded);
    const asked: string[] = [];
    const { d } = downloader({
      signer: async (url) => {
        asked.push(url);
        return signed(0);
      },
    });

    // Act
    const result = await d.download(ref(`${main.origin}/signed.jpg`));

    // Assess
    expect(result).toMatchObject({
      status: 'archived',
      sha256: SHA,
      reason: expect.stringMatching(/pre-signed/),
    });
    expect(asked).toEqual([`${main.origin}/signed.jpg`]);
    if (result.status === 'archived') await result.dispose();
  });

  it('archives a banned file (Status 1) through its pre-signed URL and says so', async () => {
    main.routes.set('/signed.jpg', guarded);
    const result = await downloader({ signer: async () => signed(1) }).d.download(
      ref(`${main.origin}/signed.jpg`),
    );
    expect(result).toMatchObject({ status: 'archived', reason: expect.stringMatching(/banned/) });
    if (result.status === 'archived') await result.dispose();
  });

  it('calls a file get_cos_sig reports gone (Status 2) expired', async () => {
    main.routes.set('/signed.jpg', guarded);
    const result = await downloader({ signer: async () => signed(2) }).d.download(
      ref(`${main.origin}/signed.jpg`),
    );
    expect(result).toMatchObject({ status: 'expired', reason: expect.stringMatching(/Status 2/) });
  });

  it('applies the host rules to the pre-signed URL too', async () => {
    main.routes.set('/signed.jpg', guarded);
    const { d } = downloader({ signer: async () => signed(0, `${other.origin}/x.jpg?sign=ok`) });
    await expectRefused(await d.download(ref(`${main.origin}/signed.jpg`)), /not in media.allowedHosts/);
    expect(other.requests).toEqual([]);
  });

  it('fails (for a later run) when the pre-signed URL is refused too, or there is no signer', async () => {
    main.routes.set('/forbidden', serve('', {}, 403));
    const again = await downloader({
      signer: async () => signed(0, `${main.origin}/forbidden?sign=x`),
    }).d.download(ref(`${main.origin}/forbidden`));
    expect(again).toMatchObject({
      status: 'failed',
      reason: expect.stringMatching(/even with the pre-signed URL/),
    });
    const none = await downloader().d.download(ref(`${main.origin}/forbidden`));
    expect(none).toMatchObject({
      status: 'failed',
      reason: expect.stringMatching(/get_cos_sig is not available/),
    });
  });
});

describe('media downloader: content, whatever the Content-Type (issue 21)', () => {
  /** Markup of exactly the declared size, so only its content can give it away. */
  const cases: { name: string; kind: MediaKind; type: string; markup: string }[] = [
    {
      name: 'SVG with a script as image/svg+xml',
      kind: 'image',
      type: 'image/svg+xml',
      markup: 'SVG with a script',
    },
    {
      name: 'SVG with a script as image/jpeg',
      kind: 'image',
      type: 'image/jpeg',
      markup: 'SVG with a script',
    },
    { name: '<img onerror> as image/png', kind: 'image', type: 'image/png', markup: '<img onerror>' },
    { name: '<iframe> as a thumbnail', kind: 'video-thumbnail', type: 'image/jpeg', markup: '<iframe>' },
    { name: '<meta refresh> as a voice', kind: 'sound', type: 'audio/mp4', markup: '<meta refresh>' },
    { name: '<img onerror> as a voice', kind: 'sound', type: 'audio/amr', markup: '<img onerror>' },
    { name: '<iframe> as a video', kind: 'video', type: 'video/mp4', markup: '<iframe>' },
    {
      name: 'SVG as a video',
      kind: 'video',
      type: 'application/octet-stream',
      markup: 'SVG after an XML declaration',
    },
  ];

  it.each(cases)('refuses $name and keeps nothing', async ({ kind, type, markup }) => {
    // Prepare
    const body = exactly(
      2_000,
      markupEncodings(HOSTILE_MARKUP[markup] ?? '')['UTF-8 BOM and whitespace'] ?? Buffer.alloc(0),
    );
    main.routes.set('/hostile', serve(body, { 'content-type': type }));

    // Act
    const result = await downloader().d.download(
      ref(`${main.origin}/hostile`, { declaredSize: 2_000 }, kind),
    );

    // Assess
    await expectRefused(result, /HTML\/XML document|does not fit/);
  });

  it('archives a real voice and video of the declared size (their first bytes are their format)', async () => {
    // Prepare
    const m4a = Buffer.concat([
      Buffer.from('\x00\x00\x00\x1cftypM4A \x00\x00\x00\x00M4A mp42isom', 'latin1'),
      BODY,
    ]);
    main.routes.set('/voice.m4a', serve(m4a, { 'content-type': 'audio/mp4' }));
    main.routes.set('/clip.mp4', serve(m4a, { 'content-type': 'video/mp4' }));
    const { d } = downloader();

    // Act
    const voice = await d.download(ref(`${main.origin}/voice.m4a`, { declaredSize: m4a.length }, 'sound'));
    const clip = await d.download(ref(`${main.origin}/clip.mp4`, { declaredSize: m4a.length }, 'video'));

    // Assess
    expect([voice.status, clip.status]).toEqual(['archived', 'archived']);
    for (const r of [voice, clip]) if (r.status === 'archived') await r.dispose();
  });
});

describe('media downloader: total time limit (issue 21)', () => {
  it('ends a download that trickles one byte at a time (never idle, never finished) at its limit', async () => {
    // Prepare: a byte every 20 ms, inside the 2 s idle timeout, for ever; a limit of 300 ms.
    let closed = false;
    let sent = 0;
    main.routes.set('/trickle', (_req, res) => {
      res.writeHead(200, { 'content-type': 'image/jpeg', 'content-length': BODY.length });
      res.flushHeaders();
      const timer = setInterval(() => res.write(BODY.subarray(sent, ++sent)), 20);
      res.on('close', () => {
        clearInterval(timer);
        closed = true;
      });
    });
    const { d } = downloader({ deadline: { floorMs: 300, minBytesPerSecond: 1e9, capMs: 300 } });

    // Act
    const result = await d.download(ref(`${main.origin}/trickle`));

    // Assess
    expect(result).toMatchObject({ status: 'failed', attempts: 1 });
    if (result.status === 'failed') expect(result.reason).toMatch(/took longer than its limit of 1 s/);
    await expect.poll(() => closed).toBe(true);
    expect(sent).toBeLessThan(BODY.length);
    expect(await tempFiles()).toEqual([]);
  });
});
