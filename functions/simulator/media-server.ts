/**
 * The simulator's media files over HTTP, on their own listener (like COS, not the REST API), plus
 * a second "disallowed" listener that no archiver may ever reach, and `get_cos_sig`.
 *
 * Bytes are generated block by block while they are sent (media-files.ts), so a 30 MB file costs
 * 64 KiB of memory. Unsigned GETs of files that need a signature answer 403 like COS; a pre-signed
 * URL from `get_cos_sig` carries `sign` and `t` (expiry, epoch seconds, 15 minutes).
 */
import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import type { ApiAnswer } from './envelope.ts';
import {
  CONTENT_TYPES,
  DEFAULT_MEDIA_SPEC,
  expectedMediaStatus,
  type MediaFate,
  type MediaPath,
  markupFile,
  mediaBytes,
  mediaFate,
  needsSignature,
  parseMediaPath,
  presignature,
  type ResolvedMediaSpec,
  type SimMediaSpec,
  servedLength,
} from './media-files.ts';
import type { RequestOf } from './request-schemas.ts';

/** Validity of a pre-signed URL ("默认有效期15分钟": docs/tencent-api.md, get_cos_sig). */
const PRESIGN_SECONDS = 15 * 60;

/** What the media listeners saw. */
export interface MediaStats {
  /** GETs on the media listener. */
  requests: number;
  /** 403s to unsigned (or badly signed) GETs. */
  forbidden: number;
  /** GETs with a valid pre-signature. */
  signed: number;
  /** Bytes of file bodies sent (HTML pages not counted). */
  bytesServed: number;
  /** Requests that reached the disallowed listener: must stay 0 for a correct archiver. */
  disallowedRequests: number;
  /** `get_cos_sig` items answered. */
  cosSigItems: number;
}

/** Ground truth of one media URL. */
export interface MediaTruth {
  fate: MediaFate;
  expected: 'archived' | 'expired' | 'refused';
  /** Declared (and, when archived, stored) size. */
  bytes: number;
  /** SHA-256 of the bytes an archiver must store (only for `archived`; computed on demand). */
  sha256: string | undefined;
}

const HTML_PAGE =
  '<!DOCTYPE html>\n<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway</h1></center><hr><center>cos-proxy</center></body></html>\n';

/** The media side of one simulator. */
export class SimMedia {
  readonly spec: ResolvedMediaSpec;
  readonly #seed: number;
  readonly #now: () => number;
  readonly #secret: string;
  readonly #flakyLeft = new Map<string, number>();
  readonly #stats: MediaStats = {
    requests: 0,
    forbidden: 0,
    signed: 0,
    bytesServed: 0,
    disallowedRequests: 0,
    cosSigItems: 0,
  };
  #baseUrl = '';
  #disallowedBaseUrl = '';
  readonly servers: Server[] = [];

  public constructor(options: { seed: number; now: () => number; spec?: SimMediaSpec }) {
    this.#seed = options.seed;
    this.#now = options.now;
    this.spec = { ...DEFAULT_MEDIA_SPEC, ...options.spec };
    for (const [field, value] of Object.entries(this.spec)) {
      if (typeof value === 'number' && !(value >= 0 && Number.isFinite(value))) {
        throw new RangeError(`media.${field} must be a non-negative number`);
      }
    }
    this.#secret = `sim-cos-${options.seed}`;
  }

  /** Starts both listeners on 127.0.0.1. */
  public async listen(): Promise<{ baseUrl: string; disallowedBaseUrl: string }> {
    const media = createServer((req, res) => this.#serve(req, res));
    const disallowed = createServer((_req, res) => {
      this.#stats.disallowedRequests++;
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end(HTML_PAGE);
    });
    this.servers.push(media, disallowed);
    const port = async (server: Server): Promise<number> => {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(0, '127.0.0.1', () => resolve());
      });
      return (server.address() as AddressInfo).port;
    };
    this.#baseUrl = `http://127.0.0.1:${await port(media)}`;
    this.#disallowedBaseUrl = `http://127.0.0.1:${await port(disallowed)}`;
    return { baseUrl: this.#baseUrl, disallowedBaseUrl: this.#disallowedBaseUrl };
  }

  public async stop(): Promise<void> {
    await Promise.all(
      this.servers.map(
        (server) =>
          new Promise<void>((resolve) => {
            server.close(() => resolve());
            server.closeAllConnections();
          }),
      ),
    );
  }

  public stats(): MediaStats {
    return { ...this.#stats };
  }

  /** The fate of the file behind a message URL. */
  public fateOf(url: string): MediaFate | undefined {
    const parsed = safeUrl(url);
    if (parsed === undefined) return undefined;
    if (this.#disallowedBaseUrl !== '' && parsed.origin === this.#disallowedBaseUrl) return 'disallowed-host';
    const path = parseMediaPath(parsed.pathname);
    if (path === undefined) return undefined;
    const fate = mediaFate(this.#seed, path.fileId, this.spec);
    // Only the URL decides whether the host is disallowed (message generation put it there).
    return fate === 'disallowed-host' ? 'normal' : fate;
  }

  /** Ground truth for a message URL: what it is and, if it should be archived, its SHA-256. */
  public truth(url: string): MediaTruth | undefined {
    const fate = this.fateOf(url);
    const path = parseMediaPath(safeUrl(url)?.pathname ?? '');
    if (fate === undefined || path === undefined) return undefined;
    // The SDK documents the size of an image's original only (docs/tencent-api.md, Message elements):
    // a large or thumbnail image one byte longer than its `Size` is not detectable, so it is archived
    // as served.
    const sizeUnchecked = fate === 'wrong-size' && /_[23]$/.test(path.fileId);
    const expected = sizeUnchecked ? 'archived' : expectedMediaStatus(fate, path.kind);
    const bytes = servedLength(path, fate);
    let sha256: string | undefined;
    if (expected === 'archived') {
      const hash = createHash('sha256');
      for (const block of mediaBytes(this.#seed, path.fileId, bytes, path.kind)) hash.update(block);
      sha256 = hash.digest('hex');
    }
    return { fate, expected, bytes, sha256 };
  }

  /**
   * `v4/im_cos_msg/get_cos_sig`: `{RawURLs:[{ResourceID,RawURL}]}` → `PreSigURLs`, each echoing its
   * item's integer `ResourceID`. Types and counts are checked before (request-schemas.ts).
   */
  public getCosSig(request: RequestOf<'get_cos_sig'>): ApiAnswer {
    const items = request.RawURLs.map(({ ResourceID: resourceId, RawURL: rawUrl }) => {
      this.#stats.cosSigItems++;
      const parsed = safeUrl(rawUrl);
      const path = parsed && parsed.origin === this.#baseUrl ? parseMediaPath(parsed.pathname) : undefined;
      if (parsed === undefined || path === undefined) {
        return {
          Code: 1,
          Desc: 'RawURL is not a chat file of this app',
          ResourceID: resourceId,
          PreSigURL: '',
          Status: 2,
        };
      }
      const fate = mediaFate(this.#seed, path.fileId, this.spec);
      if (fate === 'expired') return { Code: 0, Desc: '', ResourceID: resourceId, PreSigURL: '', Status: 2 };
      const expires = Math.floor(this.#now() / 1000) + PRESIGN_SECONDS;
      const sign = presignature(this.#secret, parsed.pathname, expires);
      return {
        Code: 0,
        Desc: '',
        ResourceID: resourceId,
        PreSigURL: `${this.#baseUrl}${parsed.pathname}?sign=${sign}&t=${expires}`,
        Status: fate === 'banned' ? 1 : 0,
      };
    });
    return {
      code: 0,
      body: JSON.stringify({ ActionStatus: 'OK', ErrorInfo: '', ErrorCode: 0, PreSigURLs: items }),
      messages: 0,
    };
  }

  #serve(req: IncomingMessage, res: ServerResponse): void {
    this.#stats.requests++;
    const url = new URL(req.url ?? '/', this.#baseUrl);
    const path = req.method === 'GET' ? parseMediaPath(url.pathname) : undefined;
    if (path === undefined) {
      this.#text(res, 404, 'NoSuchKey');
      return;
    }
    const fate = mediaFate(this.#seed, path.fileId, this.spec);
    const signed = this.#validSignature(url);
    if (signed) this.#stats.signed++;
    if (fate === 'expired') {
      this.#text(res, 404, 'NoSuchKey');
      return;
    }
    if (!signed && (fate === 'banned' || needsSignature(this.#seed, path, this.spec))) {
      this.#stats.forbidden++;
      this.#text(res, 403, 'AccessDenied');
      return;
    }
    if (fate === 'redirect') {
      res.writeHead(302, { location: `${this.#disallowedBaseUrl}${url.pathname}` });
      res.end();
      return;
    }
    if (fate === 'flaky') {
      const left = this.#flakyLeft.get(path.fileId) ?? this.spec.flakyTimes;
      if (left > 0) {
        this.#flakyLeft.set(path.fileId, left - 1);
        res.writeHead(503, { 'content-type': 'text/html', 'retry-after': '1' });
        res.end(HTML_PAGE);
        return;
      }
    }
    if (fate === 'html') {
      // Chunked, so only the type and the first bytes give it away.
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      res.end(HTML_PAGE);
      return;
    }
    if (fate === 'markup' && path.kind !== 'file') {
      const { contentType, body } = markupFile(this.#seed, path);
      res.writeHead(200, { 'content-type': contentType, 'content-length': body.length });
      res.end(body);
      return;
    }
    this.#file(res, path, fate);
  }

  #file(res: ServerResponse, path: MediaPath, fate: MediaFate): void {
    const length = servedLength(path, fate);
    res.writeHead(200, { 'content-type': CONTENT_TYPES[path.kind], 'content-length': length });
    const seed = this.#seed;
    const stats = this.#stats;
    function* body(): Generator<Uint8Array> {
      for (const block of mediaBytes(seed, path.fileId, length, path.kind)) {
        stats.bytesServed += block.length;
        yield block;
      }
    }
    Readable.from(body(), { objectMode: false }).pipe(res);
  }

  #validSignature(url: URL): boolean {
    const sign = url.searchParams.get('sign');
    const t = Number(url.searchParams.get('t'));
    if (sign === null || !Number.isInteger(t) || t * 1000 < this.#now()) return false;
    return sign === presignature(this.#secret, url.pathname, t);
  }

  #text(res: ServerResponse, status: number, code: string): void {
    const body = `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code></Error>\n`;
    res.writeHead(status, { 'content-type': 'application/xml', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  }
}

function safeUrl(text: string): URL | undefined {
  try {
    return new URL(text);
  } catch {
    return undefined;
  }
}
