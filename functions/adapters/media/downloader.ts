/**
 * The media downloader: the only code that fetches media URLs. One GET per attempt, streamed
 * through SHA-256 and a byte counter into a temp file, so memory stays bounded whatever the size.
 *
 * Written on node:http/https rather than fetch because the security rules need the socket: the
 * address a host name resolves to is checked inside the connection's own `lookup` (so a DNS answer
 * cannot change between check and connect), and redirects are followed by hand, each hop checked.
 *
 * Rules (issue 10): allowed hosts only, HTTPS unless the host's rule allows HTTP, no private,
 * loopback, link-local or metadata addresses unless the rule allows them, redirects only to allowed
 * hosts, at most `maxBytes` (checked against the declared size, Content-Length and while
 * streaming), never more than the declared size on disk (a longer body is refused as it streams), an idle timeout and a total time limit per download (issue 21: from the declared
 * size and a minimum rate, capped), HTTP 200 only, the declared size exactly, a content type and
 * first bytes that fit the element (sniffed: functions/domain/media-verify.ts). Retries, expiry
 * and signing follow `decideMediaRetry` (functions/domain/retry-policy.ts); a 403 asks
 * `get_cos_sig` for a pre-signed URL.
 */
import { createHash, randomBytes } from 'node:crypto';
import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { once } from 'node:events';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, unlink } from 'node:fs/promises';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { LookupFunction } from 'node:net';
import { isIP } from 'node:net';
import { join } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { downloadDeadlineOf, MEDIA_DEFAULTS } from '../../config/schema.ts';
import { AbortedError } from '../../domain/errors.ts';
import type { MediaRef } from '../../domain/media-refs.ts';
import { contentTypeFits, sizeMatches } from '../../domain/media-verify.ts';
import type { Clock, FetchedMedia, Logger, MediaFetcher, Random } from '../../domain/ports.ts';
import {
  DEFAULT_MEDIA_RETRY_OPTIONS,
  type DownloadDeadlineOptions,
  decideMediaRetry,
  downloadDeadlineMs,
  type MediaFailure,
  type MediaRetryOptions,
} from '../../domain/retry-policy.ts';
import type { CosSigResult } from '../../domain/tencent-types.ts';
import { MediaIdleTimeoutError, MediaRefusedError } from '../errors.ts';
import { type AllowedHostRule, blockedAddressReason, checkMediaUrl } from './host-policy.ts';

/** Asks `get_cos_sig` about one URL. */
export type CosSigner = (rawUrl: string, signal?: AbortSignal) => Promise<CosSigResult | undefined>;

export interface MediaDownloaderOptions {
  allowedHosts: readonly AllowedHostRule[];
  /** Largest file accepted (`media.maxBytes`). */
  maxBytes: number;
  /** Folder for the temp files (created if missing). */
  tempDir: string;
  clock: Clock;
  random: Random;
  logger: Logger;
  /** `get_cos_sig`; without it a 403 is a failure. */
  signer?: CosSigner;
  retry?: Partial<MediaRetryOptions>;
  /** No byte (headers or body) for this long ends the attempt as a timeout. Default 30 s. */
  idleTimeoutMs?: number;
  /**
   * Total time of one download, attempts included: `min(capMs, floorMs + size / minBytesPerSecond)`
   * with the declared size (or `maxBytes` when none is declared). Defaults in
   * the `media` section's defaults (`MEDIA_DEFAULTS` in functions/config/schema.ts).
   */
  deadline?: Partial<DownloadDeadlineOptions>;
  /** Default 5. */
  maxRedirects?: number;
}

/** A verified file in a temp file; the caller stores it (`open`) and then calls `dispose`. */
export interface DownloadedFile extends FetchedMedia {
  /** The temp file. */
  file: string;
}

export type DownloadResult =
  | DownloadedFile
  | { status: 'expired' | 'refused' | 'failed'; reason: string; attempts: number };

/** Counters for the run report and the benchmark. */
export interface DownloaderStats {
  requests: number;
  retries: number;
  signatures: number;
  bytes: number;
}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);
/** Bytes kept for sniffing (an HTML page served as an image). */
const HEAD_BYTES = 512;

export class MediaDownloader implements MediaFetcher {
  private readonly retry: MediaRetryOptions;
  private readonly idleTimeoutMs: number;
  private readonly deadline: DownloadDeadlineOptions;
  private readonly maxRedirects: number;
  private tempReady: Promise<unknown> | undefined;
  /** Answers whose request our idle timer ended (their body errors only say "aborted"). */
  private readonly timedOut = new WeakSet<IncomingMessage>();
  private readonly counters: DownloaderStats = { requests: 0, retries: 0, signatures: 0, bytes: 0 };

  public constructor(private readonly options: MediaDownloaderOptions) {
    this.retry = { ...DEFAULT_MEDIA_RETRY_OPTIONS, ...options.retry };
    this.idleTimeoutMs = options.idleTimeoutMs ?? 30_000;
    this.deadline = { ...downloadDeadlineOf(MEDIA_DEFAULTS), ...options.deadline };
    this.maxRedirects = options.maxRedirects ?? 5;
  }

  public stats(): DownloaderStats {
    return { ...this.counters };
  }

  public refusal(ref: MediaRef): string | undefined {
    if (ref.url === null) return 'the element carries no URL';
    if (ref.declaredSize !== null && ref.declaredSize > this.options.maxBytes) {
      return this.tooLarge(`declared ${ref.declaredSize} bytes`);
    }
    const verdict = checkMediaUrl(this.options.allowedHosts, ref.url);
    return verdict.ok ? undefined : verdict.reason;
  }

  /**
   * Download and verify one reference (which must have a URL), within its total time limit: past
   * it the download ends as `failed` (a later run tries again).
   * @throws AbortedError when `signal` fires; nothing is left behind
   */
  public async download(ref: MediaRef, signal?: AbortSignal): Promise<DownloadResult> {
    const rawUrl = ref.url;
    const refused = this.refusal(ref);
    if (refused !== undefined || rawUrl === null) {
      return { status: 'refused', reason: refused ?? 'the element carries no URL', attempts: 0 };
    }
    const limitMs = downloadDeadlineMs(ref.declaredSize ?? this.options.maxBytes, this.deadline);
    const deadline = new AbortController();
    const timer = setTimeout(() => deadline.abort(), limitMs);
    const both = signal === undefined ? deadline.signal : AbortSignal.any([signal, deadline.signal]);
    const progress = { attempts: 0 };
    try {
      return await this.attempts(ref, rawUrl, both, progress);
    } catch (error) {
      if (!(error instanceof AbortedError) || signal?.aborted || !deadline.signal.aborted) throw error;
      const decision = decideMediaRetry({
        failure: { kind: 'deadline', limitMs },
        attempt: progress.attempts,
        signed: false,
        options: this.retry,
        random: this.options.random,
      });
      return { status: 'failed', reason: decision.reason, attempts: progress.attempts };
    } finally {
      clearTimeout(timer);
    }
  }

  /** The attempts of one download; `signal` is the caller's and the time limit's together. */
  private async attempts(
    ref: MediaRef,
    rawUrl: string,
    signal: AbortSignal,
    progress: { attempts: number },
  ): Promise<DownloadResult> {
    let target = rawUrl;
    let signed = false;
    let signedReason: string | null = null;
    for (let attempt = 1; ; attempt++) {
      throwIfAborted(signal);
      progress.attempts = attempt;
      let failure: MediaFailure;
      try {
        const response = await this.get(target, signal);
        if (response.statusCode === 200) {
          const result = await this.receive(response, ref, signal);
          if (result.status === 'archived') return { ...result, reason: signedReason, attempts: attempt };
          if (result.status === 'refused') return { ...result, attempts: attempt };
          failure = result.failure;
        } else {
          response.destroy();
          failure = {
            kind: 'http-status',
            status: response.statusCode ?? 0,
            retryAfterMs: retryAfterMs(response.headers['retry-after'], this.options.clock.now()),
          };
        }
      } catch (error) {
        if (error instanceof MediaRefusedError)
          return { status: 'refused', reason: error.message, attempts: attempt };
        if (signal?.aborted) throw new AbortedError('media download aborted', { cause: error });
        failure = toFailure(error);
      }
      const decision = decideMediaRetry({
        failure,
        attempt,
        signed,
        options: this.retry,
        random: this.options.random,
      });
      switch (decision.kind) {
        case 'expired':
          return { status: 'expired', reason: decision.reason, attempts: attempt };
        case 'failed':
          return { status: 'failed', reason: decision.reason, attempts: attempt };
        case 'retry':
          this.counters.retries++;
          await this.options.clock.sleep(decision.delayMs, signal).catch((cause: unknown) => {
            throw new AbortedError('media download aborted while backing off', { cause });
          });
          break;
        case 'sign': {
          const answer = await this.sign(rawUrl, signal);
          if (answer.kind === 'done') return { ...answer.result, attempts: attempt };
          target = answer.url;
          signed = true;
          signedReason = answer.reason;
          break;
        }
      }
    }
  }

  /** After a 403: ask get_cos_sig, and act on its Status (0 normal, 1 banned, 2 gone). */
  private async sign(
    rawUrl: string,
    signal: AbortSignal | undefined,
  ): Promise<
    | { kind: 'done'; result: { status: 'expired' | 'failed'; reason: string } }
    | { kind: 'signed'; url: string; reason: string }
  > {
    const signer = this.options.signer;
    if (signer === undefined) {
      return {
        kind: 'done',
        result: { status: 'failed', reason: 'HTTP 403 and get_cos_sig is not available' },
      };
    }
    this.counters.signatures++;
    let answer: CosSigResult | undefined;
    try {
      answer = await signer(rawUrl, signal);
    } catch (error) {
      if (signal?.aborted) throw new AbortedError('media download aborted', { cause: error });
      const message = error instanceof Error ? error.message : String(error);
      return {
        kind: 'done',
        result: { status: 'failed', reason: `HTTP 403; get_cos_sig failed: ${message}` },
      };
    }
    if (answer === undefined || answer.code !== 0) {
      return {
        kind: 'done',
        result: {
          status: 'failed',
          reason: `HTTP 403; get_cos_sig answered Code ${answer?.code ?? 'nothing'}`,
        },
      };
    }
    if (answer.status === 2) {
      return {
        kind: 'done',
        result: { status: 'expired', reason: 'get_cos_sig Status 2: the file is gone' },
      };
    }
    if (answer.preSigUrl === '') {
      return { kind: 'done', result: { status: 'failed', reason: 'get_cos_sig returned no PreSigURL' } };
    }
    const reason =
      answer.status === 1
        ? 'banned (get_cos_sig Status 1): fetched with its pre-signed URL'
        : 'HTTP 403: fetched with the pre-signed URL from get_cos_sig';
    return { kind: 'signed', url: answer.preSigUrl, reason };
  }

  /** GET with redirects followed by hand: every hop must pass the host rules. */
  private async get(rawUrl: string, signal: AbortSignal | undefined): Promise<IncomingMessage> {
    let current = rawUrl;
    for (let hop = 0; ; hop++) {
      const verdict = checkMediaUrl(this.options.allowedHosts, current);
      if (!verdict.ok)
        throw new MediaRefusedError(hop === 0 ? verdict.reason : `redirect refused: ${verdict.reason}`);
      const response = await this.requestOnce(verdict.url, verdict.rule, signal);
      const location = response.headers.location;
      if (!REDIRECTS.has(response.statusCode ?? 0) || location === undefined) return response;
      response.destroy();
      if (hop >= this.maxRedirects) throw new MediaRefusedError(`more than ${this.maxRedirects} redirects`);
      try {
        current = new URL(location, verdict.url).href;
      } catch {
        throw new MediaRefusedError('redirect refused: the Location is not a valid URL');
      }
    }
  }

  private requestOnce(
    url: URL,
    rule: AllowedHostRule,
    signal: AbortSignal | undefined,
  ): Promise<IncomingMessage> {
    if (!rule.allowPrivateAddresses && isIP(url.hostname) !== 0) {
      const reason = blockedAddressReason(url.hostname);
      if (reason !== undefined) throw new MediaRefusedError(`address ${url.hostname} is ${reason}`);
    }
    this.counters.requests++;
    const request = url.protocol === 'https:' ? httpsRequest : httpRequest;
    return new Promise((resolve, reject) => {
      const req = request(url, {
        method: 'GET',
        headers: { accept: '*/*', 'accept-encoding': 'identity', 'user-agent': 'tencent-chat-archiver' },
        ...(rule.allowPrivateAddresses ? {} : { lookup: publicOnlyLookup }),
        ...(signal ? { signal } : {}),
      });
      let response: IncomingMessage | undefined;
      req.setTimeout(this.idleTimeoutMs, () => {
        if (response) this.timedOut.add(response);
        req.destroy(new MediaIdleTimeoutError(`no data for ${this.idleTimeoutMs} ms`));
      });
      req.once('response', (res) => {
        response = res;
        resolve(res);
      });
      req.once('error', (error: NodeJS.ErrnoException) => {
        if (error.code === 'EMEDIABLOCKED') reject(new MediaRefusedError(error.message));
        else reject(error);
      });
      req.end();
    });
  }

  /** Stream a 200 answer into a temp file through the hash, then verify it. */
  private async receive(
    response: IncomingMessage,
    ref: MediaRef,
    signal: AbortSignal | undefined,
  ): Promise<
    | Omit<DownloadedFile, 'attempts' | 'reason'>
    | { status: 'refused'; reason: string }
    | { status: 'retry'; failure: MediaFailure }
  > {
    const refuse = (reason: string) => {
      response.destroy();
      return { status: 'refused' as const, reason };
    };
    const contentType = headerValue(response.headers['content-type']);
    const length = Number(headerValue(response.headers['content-length']) ?? Number.NaN);
    if (Number.isFinite(length) && length > this.options.maxBytes)
      return refuse(this.tooLarge(`Content-Length ${length}`));
    if (Number.isFinite(length) && ref.declaredSize !== null && length !== ref.declaredSize) {
      return refuse(`Content-Length ${length} differs from the declared size ${ref.declaredSize}`);
    }
    // The type alone for now; the content is sniffed once its first bytes are in.
    const early = contentTypeFits(ref.kind, contentType);
    if (!early.ok) return refuse(early.reason);

    this.tempReady ??= mkdir(this.options.tempDir, { recursive: true });
    await this.tempReady;
    const file = join(this.options.tempDir, `media-${randomBytes(8).toString('hex')}`);
    const hash = createHash('sha256');
    let bytes = 0;
    let head = Buffer.alloc(0);
    // The temp file never grows past the declared size (it would be refused for its size anyway),
    // so the bytes the download reserved of the temp folder's budget hold (engine/media-budget.ts).
    const declared = ref.declaredSize;
    const limit = declared === null ? this.options.maxBytes : Math.min(declared, this.options.maxBytes);
    const overLimit =
      declared !== null && declared <= this.options.maxBytes
        ? `the body is longer than the declared ${declared} bytes`
        : this.tooLarge('the body');
    const meter = new Transform({
      transform(chunk: Buffer, _encoding, callback) {
        bytes += chunk.length;
        if (bytes > limit) {
          callback(new MediaRefusedError(overLimit));
          return;
        }
        if (head.length < HEAD_BYTES)
          head = Buffer.concat([head, chunk.subarray(0, HEAD_BYTES - head.length)]);
        hash.update(chunk);
        callback(null, chunk);
      },
    });
    // unlink, not rm({ force }): rm goes through rimraf (two lstat calls) for one file, a
    // measurable share of the per-file cost with many small files (the bench's media-copy section).
    const dispose = () => unlink(file).catch(ignoreMissing);
    const out = createWriteStream(file, { flags: 'wx' });
    try {
      await pipeline(response, meter, out, signal ? { signal } : {});
    } catch (error) {
      // A stream destroyed while still opening creates its file afterwards: wait for it to close.
      if (!out.closed) await once(out, 'close').catch(() => undefined);
      await dispose();
      if (error instanceof MediaRefusedError) return { status: 'refused', reason: error.message };
      if (signal?.aborted) throw new AbortedError('media download aborted', { cause: error });
      return {
        status: 'retry',
        failure: this.timedOut.has(response) ? { kind: 'timeout' } : toFailure(error),
      };
    }
    const verdict = [contentTypeFits(ref.kind, contentType, head), sizeMatches(ref.declaredSize, bytes)].find(
      (v) => !v.ok,
    );
    if (verdict !== undefined && !verdict.ok) {
      await dispose();
      return { status: 'refused', reason: verdict.reason };
    }
    this.counters.bytes += bytes;
    const open = () => createReadStream(file);
    return { status: 'archived', file, sha256: hash.digest('hex'), bytes, contentType, open, dispose };
  }

  private tooLarge(what: string): string {
    return `${what} exceeds media.maxBytes (${this.options.maxBytes} bytes)`;
  }
}

/** dns.lookup, failing with EMEDIABLOCKED when any address is private, loopback, link-local, …. */
const publicOnlyLookup: LookupFunction = (hostname, options, callback) => {
  dnsLookup(hostname, { ...options, all: true }, (error, addresses) => {
    if (error) {
      callback(error, '', 0);
      return;
    }
    const list = addresses as unknown as LookupAddress[];
    for (const entry of list) {
      const reason = blockedAddressReason(entry.address);
      if (reason !== undefined) {
        const blocked: NodeJS.ErrnoException = new Error(
          `${hostname} resolves to ${entry.address}, which is ${reason}`,
        );
        blocked.code = 'EMEDIABLOCKED';
        callback(blocked, '', 0);
        return;
      }
    }
    const first = list[0];
    if (first === undefined) {
      const none: NodeJS.ErrnoException = new Error(`${hostname} has no address`);
      none.code = 'ENOTFOUND';
      callback(none, '', 0);
      return;
    }
    if ((options as { all?: boolean }).all)
      (callback as unknown as (e: null, a: LookupAddress[]) => void)(null, list);
    else callback(null, first.address, first.family);
  });
};

function toFailure(error: unknown): MediaFailure {
  if (error instanceof MediaIdleTimeoutError) return { kind: 'timeout' };
  const code = (error as { code?: unknown } | null)?.code;
  const detail = typeof code === 'string' ? code : error instanceof Error ? error.message : String(error);
  return { kind: 'network', detail };
}

function headerValue(value: string | string[] | undefined): string | null {
  const first = Array.isArray(value) ? value[0] : value;
  return first === undefined || first === '' ? null : first;
}

/** `Retry-After` in either form HTTP allows: a number of seconds, or an HTTP date. */
export function retryAfterMs(value: string | string[] | undefined, nowMs: number): number | undefined {
  const text = headerValue(value)?.trim();
  if (text === undefined) return undefined;
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  const date = Date.parse(text);
  return Number.isNaN(date) ? undefined : Math.max(0, date - nowMs);
}

function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new AbortedError('media download aborted', { cause: signal.reason });
}

/** A temp file already gone is what removing it wanted; anything else is reported. */
function ignoreMissing(error: NodeJS.ErrnoException): void {
  if (error.code !== 'ENOENT') throw error;
}
