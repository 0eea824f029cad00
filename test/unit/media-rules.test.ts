/**
 * The pure media rules: content types and first bytes that fit an element, declared sizes, the
 * retry decision, and the host and address rules.
 */
import { describe, expect, it } from 'vitest';
import {
  blockedAddressReason,
  checkMediaUrl,
  parseAllowedHosts,
} from '../../functions/adapters/media/host-policy.ts';
import { DEFAULT_MEDIA_HOSTS } from '../../functions/domain/media-hosts.ts';
import { contentTypeFits, looksLikeMarkup, sizeMatches } from '../../functions/domain/media-verify.ts';
import {
  DEFAULT_MEDIA_RETRY_OPTIONS,
  decideMediaRetry,
  type MediaFailure,
} from '../../functions/domain/retry-policy.ts';
import { HOSTILE_MARKUP, MEDIA_HEADS, markupEncodings } from '../helpers/media-fixtures.ts';

const bytes = (text: string) => new TextEncoder().encode(text);
const BINARY = Uint8Array.from([0xff, 0xd8, 0xff, 0xe0, 0, 16]);
const MP4 = head('MP4');
const M4A = head('M4A');

function head(format: string): Buffer {
  const found = MEDIA_HEADS.find((h) => h.format === format);
  if (!found) throw new Error(`no fixture ${format}`);
  return found.head;
}

describe('content type and first bytes', () => {
  it('refuses an HTML page as an image, whatever the Content-Type says', () => {
    expect(contentTypeFits('image', 'text/html; charset=utf-8', BINARY).ok).toBe(false);
    expect(contentTypeFits('image', 'image/jpeg', bytes('\uFEFF  <!DOCTYPE html><html>')).ok).toBe(false);
    expect(
      contentTypeFits('image', 'application/octet-stream', bytes('<html><body>502</body></html>')).ok,
    ).toBe(false);
    expect(contentTypeFits('image', null, bytes('<?xml version="1.0"?><Error>')).ok).toBe(false);
  });

  it('accepts fitting and generic binary types for each kind', () => {
    expect(contentTypeFits('image', 'image/png', BINARY).ok).toBe(true);
    expect(contentTypeFits('video-thumbnail', 'image/jpeg', BINARY).ok).toBe(true);
    expect(contentTypeFits('video', 'video/mp4', MP4).ok).toBe(true);
    expect(contentTypeFits('sound', 'audio/mp4', M4A).ok).toBe(true);
    expect(contentTypeFits('sound', 'application/octet-stream', M4A).ok).toBe(true);
    expect(contentTypeFits('video', 'image/jpeg', MP4).ok).toBe(false);
    expect(contentTypeFits('sound', 'application/json', M4A).ok).toBe(false);
  });

  it('lets files be any type (an HTML attachment is a file); their declared size guards them', () => {
    expect(contentTypeFits('file', 'text/html', bytes('<html>')).ok).toBe(true);
    expect(sizeMatches(42, 41)).toEqual({ ok: false, reason: 'size 41 bytes differs from the declared 42' });
    expect(sizeMatches(42, 42).ok).toBe(true);
    expect(sizeMatches(null, 7).ok).toBe(true);
  });

  it('does not mistake binary that happens to start with < for markup', () => {
    expect(looksLikeMarkup(Uint8Array.from([0x3c, 0x00, 0x91, 0x7f]))).toBe(false);
  });
});

describe('media verified by content (issue 21)', () => {
  const KINDS = ['image', 'video-thumbnail', 'sound', 'video'] as const;
  const FAMILY = { image: 'image', 'video-thumbnail': 'image', sound: 'sound', video: 'video' } as const;
  /** Content types a hostile server may put on markup: the kind's own, SVG's, generic, none. */
  const TYPES = {
    image: ['image/jpeg', 'image/png'],
    'video-thumbnail': ['image/jpeg'],
    sound: ['audio/mp4', 'audio/amr', 'video/mp4'],
    video: ['video/mp4'],
  } as const;

  it('refuses SVG, HTML and XML as an image, a voice or a video whatever the Content-Type and encoding', () => {
    // Prepare
    const accepted: string[] = [];

    // Act
    for (const kind of KINDS) {
      for (const type of [...TYPES[kind], 'image/svg+xml', 'application/octet-stream', null]) {
        for (const [name, markup] of Object.entries(HOSTILE_MARKUP)) {
          for (const [encoding, body] of Object.entries(markupEncodings(markup))) {
            if (contentTypeFits(kind, type, body).ok)
              accepted.push(`${name} (${encoding}) as ${kind}, ${type}`);
          }
        }
      }
    }

    // Assess
    expect(accepted).toEqual([]);
  });

  it('says the body is markup, and refuses image/svg+xml even with image bytes', () => {
    expect(contentTypeFits('image', 'image/jpeg', bytes(HOSTILE_MARKUP['<iframe>'] ?? ''))).toEqual({
      ok: false,
      reason: 'the body is an HTML/XML document (markup, SVG included), not an image',
    });
    expect(contentTypeFits('image', 'image/svg+xml', head('PNG'))).toEqual({
      ok: false,
      reason: 'content type image/svg+xml does not fit an image',
    });
    expect(contentTypeFits('image', 'image/svg+xml')).toMatchObject({ ok: false });
  });

  it('accepts each format for the kinds it can be, and refuses it for the others', () => {
    // Prepare
    const wrong: string[] = [];

    // Act
    for (const { format, fits, head: first } of MEDIA_HEADS) {
      for (const kind of KINDS) {
        const accepted = contentTypeFits(kind, 'application/octet-stream', first).ok;
        if (accepted !== fits.includes(FAMILY[kind])) wrong.push(`${format} as ${kind}: ${accepted}`);
      }
    }

    // Assess
    expect(wrong).toEqual([]);
  });

  it('refuses a text document, an empty body and random bytes for every kind but a file', () => {
    for (const kind of KINDS) {
      expect(contentTypeFits(kind, null, bytes('Service temporarily unavailable')).ok, kind).toBe(false);
      expect(contentTypeFits(kind, null, bytes('{"error":"no such key"}')).ok, kind).toBe(false);
      expect(contentTypeFits(kind, null, new Uint8Array()).ok, kind).toBe(false);
      expect(contentTypeFits(kind, null, Uint8Array.from([0x13, 0x37, 0x00, 0x42, 0x99])).ok, kind).toBe(
        false,
      );
    }
    expect(
      contentTypeFits('file', 'image/svg+xml', bytes(HOSTILE_MARKUP['SVG with a script'] ?? '')).ok,
    ).toBe(true);
  });

  it('checks only the type before any byte came (the downloader asks early, with the headers)', () => {
    expect(contentTypeFits('image', 'image/jpeg').ok).toBe(true);
    expect(contentTypeFits('sound', null).ok).toBe(true);
    expect(contentTypeFits('video', 'text/html').ok).toBe(false);
  });
});

describe('media retry decision', () => {
  const decide = (failure: MediaFailure, attempt = 1, signed = false) =>
    decideMediaRetry({ failure, attempt, signed, options: DEFAULT_MEDIA_RETRY_OPTIONS, random: () => 0.5 });

  it('retries 5xx, 408, 429, resets and timeouts with backoff', () => {
    for (const failure of [
      { kind: 'http-status', status: 503 },
      { kind: 'http-status', status: 500 },
      { kind: 'http-status', status: 429 },
      { kind: 'http-status', status: 408 },
      { kind: 'network', detail: 'ECONNRESET' },
      { kind: 'timeout' },
    ] as const) {
      expect(decide(failure).kind, JSON.stringify(failure)).toBe('retry');
    }
  });

  it('waits at least as long as Retry-After asks', () => {
    const decision = decide({ kind: 'http-status', status: 503, retryAfterMs: 7_000 });
    expect(decision).toMatchObject({ kind: 'retry', delayMs: 7_000 });
  });

  it('gives up for this run when Retry-After is longer than allowed, or attempts run out', () => {
    expect(decide({ kind: 'http-status', status: 503, retryAfterMs: 3_600_000 }).kind).toBe('failed');
    expect(decide({ kind: 'timeout' }, DEFAULT_MEDIA_RETRY_OPTIONS.maxAttempts).kind).toBe('failed');
  });

  it('calls 404 and 410 expired, asks for a signature on the first 403 only', () => {
    expect(decide({ kind: 'http-status', status: 404 }).kind).toBe('expired');
    expect(decide({ kind: 'http-status', status: 410 }).kind).toBe('expired');
    expect(decide({ kind: 'http-status', status: 403 }).kind).toBe('sign');
    expect(decide({ kind: 'http-status', status: 403 }, 2, true).kind).toBe('failed');
    expect(decide({ kind: 'http-status', status: 400 }).kind).toBe('failed');
  });
});

describe('allowed hosts', () => {
  const defaults = parseAllowedHosts(DEFAULT_MEDIA_HOSTS);

  it("allows Tencent's COS media URLs in both host styles, over HTTPS only", () => {
    const samples = [
      'https://cos.ap-shanghai.myqcloud.com/98ec-shanghai-007-privatev2-01-1256635546/0345-1400187352/0612-yyy/9a0f4c42d208ccfb5aa47c29284aefc6.png',
      'https://6126-shanghai-007-shared-05-1256635546.cos.ap-shanghai.myqcloud.com/ef09-1400376945/7629-0_27/0_27-x.jpeg',
    ];
    for (const url of samples) expect(checkMediaUrl(defaults, url).ok, url).toBe(true);
    expect(checkMediaUrl(defaults, samples[0]?.replace('https:', 'http:') ?? '').ok).toBe(false);
  });

  it('refuses other hosts, look-alikes, other buckets, ports, schemes and credentials', () => {
    for (const url of [
      'https://evil.example/a.jpg',
      'https://cos.ap-shanghai.myqcloud.com.evil.example/a.jpg',
      'https://attacker-999.cos.ap-shanghai.myqcloud.com/a.jpg',
      'https://cos.ap-shanghai.myqcloud.com:8443/a.jpg',
      'ftp://cos.ap-shanghai.myqcloud.com/a.jpg',
      'file:///etc/passwd',
      'https://user:pw@cos.ap-shanghai.myqcloud.com/a.jpg',
      'https://[::1]/a.jpg',
      'not a url',
    ]) {
      expect(checkMediaUrl(defaults, url).ok, url).toBe(false);
    }
  });

  it('allows plain HTTP and a port only for a rule that says so', () => {
    const rules = parseAllowedHosts([
      { host: '127.0.0.1:8080', allowHttp: true, allowPrivateAddresses: true },
    ]);
    expect(checkMediaUrl(rules, 'http://127.0.0.1:8080/a').ok).toBe(true);
    expect(checkMediaUrl(rules, 'http://127.0.0.1:8081/a').ok).toBe(false);
    expect(checkMediaUrl(parseAllowedHosts(['127.0.0.1:8080']), 'http://127.0.0.1:8080/a').ok).toBe(false);
  });
});

describe('blocked addresses', () => {
  it('refuses private, loopback, link-local, metadata and other special ranges', () => {
    for (const address of [
      '10.1.2.3',
      '172.16.0.1',
      '192.168.1.1',
      '127.0.0.1',
      '169.254.169.254',
      '100.100.100.200',
      '0.0.0.0',
      '::1',
      'fd00:ec2::254',
      'fe80::1',
      '::ffff:127.0.0.1',
      '::ffff:a9fe:a9fe',
      '224.0.0.1',
    ]) {
      expect(blockedAddressReason(address), address).toBeDefined();
    }
  });

  it('lets public addresses through', () => {
    for (const address of ['203.205.254.1', '8.8.8.8', '2402:4e00::1', '::ffff:8.8.8.8']) {
      expect(blockedAddressReason(address), address).toBeUndefined();
    }
  });
});
