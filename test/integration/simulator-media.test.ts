/**
 * The simulator's media files over real HTTP: message URLs point at its media listener, bytes are
 * deterministic and match the ground truth, files that need a signature answer 403 until
 * pre-signed through get_cos_sig (called with the real Tencent client), and each switch behaves.
 */
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mediaRefsOfMessage } from '../../functions/domain/media-refs.ts';
import { type MediaFate, type Simulator, startSimulator } from '../../functions/simulator/index.ts';
import { FakeClock } from '../helpers/fake-clock.ts';
import { simMediaFetcher } from '../helpers/media.ts';
import { clientFor } from '../helpers/tencent.ts';

let sim: Simulator;
/** Every media URL of the simulator's messages, with its fate. */
let urls: { url: string; fate: MediaFate }[];

beforeAll(async () => {
  sim = await startSimulator({
    seed: 5,
    retentionDays: 3650,
    dataset: {
      groups: 6,
      activeFraction: 1,
      messagesPerActiveGroup: [150, 200],
      historyDays: 5,
      mediaMaxBytes: 50_000,
    },
    media: {
      expiredFraction: 0.1,
      bannedFraction: 0.05,
      flakyFraction: 0.1,
      htmlFraction: 0.05,
      wrongSizeFraction: 0.05,
      redirectFraction: 0.05,
      disallowedHostFraction: 0.05,
    },
  });
  urls = [];
  for (const group of sim.groups()) {
    if (group.topicsEnabled || group.type === 'AVChatRoom') continue;
    for (const message of sim.groundTruth(group.groupId)) {
      const refs = mediaRefsOfMessage(
        message,
        { sdkAppId: 1, groupId: group.groupId, topicId: null },
        {
          imageSizes: ['original', 'large', 'thumbnail'],
        },
      );
      for (const ref of refs) {
        if (ref.url === null) continue;
        const fate = sim.mediaTruth(ref.url)?.fate;
        if (fate) urls.push({ url: ref.url, fate });
      }
    }
  }
});
afterAll(() => sim.stop());

const first = (fate: MediaFate) => {
  const found = urls.find((u) => u.fate === fate);
  if (!found) throw new Error(`no ${fate} file in the dataset`);
  return found.url;
};

describe('simulator media', () => {
  it('points every media URL at its media listener or its disallowed listener, each switch present', () => {
    expect(urls.length).toBeGreaterThan(50);
    for (const { url, fate } of urls) {
      const base = fate === 'disallowed-host' ? sim.disallowedMediaUrl : sim.mediaUrl;
      expect(url.startsWith(`${base}/`), url).toBe(true);
    }
    const fates = new Set(urls.map((u) => u.fate));
    for (const fate of [
      'normal',
      'flaky',
      'expired',
      'banned',
      'html',
      'wrong-size',
      'redirect',
      'disallowed-host',
    ]) {
      expect(fates.has(fate as MediaFate), fate).toBe(true);
    }
  });

  it('serves the bytes the ground truth names, and the same bytes every time', async () => {
    // Prepare
    const { client } = clientFor(sim);
    const url = first('normal');
    const truth = sim.mediaTruth(url);

    // Act
    let res = await fetch(url);
    if (res.status === 403) {
      const [signed] = await client.getCosSig([{ resourceId: 0, rawUrl: url }]);
      res = await fetch(signed?.preSigUrl ?? '');
    }
    const body = Buffer.from(await res.arrayBuffer());

    // Assess
    expect(res.status).toBe(200);
    expect(body.length).toBe(truth?.bytes);
    expect(createHash('sha256').update(body).digest('hex')).toBe(truth?.sha256);
  });

  it('answers 403 to unsigned GETs of private-bucket files and 200 once pre-signed by get_cos_sig', async () => {
    // Prepare
    const { client } = clientFor(sim);
    const url = urls.find((u) => u.fate === 'normal' && u.url.includes('privatev2'))?.url ?? '';

    // Act
    const unsigned = await fetch(url);
    const [answer] = await client.getCosSig([{ resourceId: 1, rawUrl: url }]);
    const signed = await fetch(answer?.preSigUrl ?? '');
    const tampered = await fetch((answer?.preSigUrl ?? '').replace(/sign=[0-9a-f]/, 'sign=x'));

    // Assess
    expect(unsigned.status).toBe(403);
    expect(answer).toMatchObject({ resourceId: 1, code: 0, status: 0 });
    expect(signed.status).toBe(200);
    expect(tampered.status).toBe(403);
  });

  it('reports expired files as 404 and get_cos_sig Status 2, banned ones as 403 and Status 1', async () => {
    const { client } = clientFor(sim);
    const expired = first('expired');
    const banned = first('banned');
    expect((await fetch(expired)).status).toBe(404);
    expect((await fetch(banned)).status).toBe(403);
    const answers = await client.getCosSig([
      { resourceId: 5, rawUrl: expired },
      { resourceId: 6, rawUrl: banned },
    ]);
    expect(answers.map((a) => [a.resourceId, a.status])).toEqual([
      [5, 2],
      [6, 1],
    ]);
    expect((await fetch(answers[1]?.preSigUrl ?? '')).status).toBe(200);
  });

  it('serves the fault switches: flaky 503 with Retry-After, HTML pages, wrong sizes, redirects', async () => {
    const { client } = clientFor(sim);
    const signedUrl = async (url: string) =>
      (await client.getCosSig([{ resourceId: 0, rawUrl: url }]))[0]?.preSigUrl ?? '';
    const flaky = await signedUrl(first('flaky'));
    expect((await fetch(flaky)).status).toBe(503);
    const html = await fetch(await signedUrl(first('html')));
    expect([html.status, html.headers.get('content-type')]).toEqual([200, 'text/html; charset=utf-8']);
    const wrongUrl = first('wrong-size');
    const wrong = await fetch(await signedUrl(wrongUrl));
    // The declared size is in the file name (`<id>-<size>.<ext>`); one more byte is served.
    const declared = Number(/-(\d+)(?:\.[a-z0-9]+)?$/.exec(wrongUrl)?.[1]);
    expect(Number(wrong.headers.get('content-length'))).toBe(declared + 1);
    const redirect = await fetch(await signedUrl(first('redirect')), { redirect: 'manual' });
    expect(redirect.status).toBe(302);
    expect(redirect.headers.get('location')?.startsWith(sim.disallowedMediaUrl ?? '-')).toBe(true);
    expect(sim.mediaStats().disallowedRequests).toBe(0);
  });
});

describe('simulator media messages of an exact size', () => {
  it('serves a file above the generated maximum, unfolded, streamed, with the bytes of its ground truth', async () => {
    // Prepare: one message carrying a 40 MB file (generated files stop at 30 MB), with every fault
    // switch at its strict default.
    const big = await startSimulator({
      seed: 9,
      dataset: {
        groups: 0,
        activeFraction: 1,
        messagesPerActiveGroup: [0, 0],
        historyDays: 1,
        extraGroups: [{ groupId: '@TGS#2BIGFILE', type: 'Public', messages: 2 }],
      },
      mediaMessages: [{ groupId: '@TGS#2BIGFILE', files: [{ kind: 'file', id: 'big', bytes: 40_000_000 }] }],
    });
    try {
      const message = [...big.groundTruth('@TGS#2BIGFILE')].find((m) => m.MsgSeq === 1);
      if (!message) throw new Error('no message 1');
      const [ref] = mediaRefsOfMessage(message, { sdkAppId: 1, groupId: 'g', topicId: null });
      const url = String(ref?.url);
      const { client } = clientFor(big);

      // Act: unsigned first (a private bucket answers 403), then through get_cos_sig.
      let answer = await fetch(url);
      if (answer.status === 403) {
        await answer.body?.cancel();
        const [signed] = await client.getCosSig([{ resourceId: 0, rawUrl: url }]);
        answer = await fetch(String(signed?.preSigUrl));
      }
      const hash = createHash('sha256');
      let bytes = 0;
      for await (const chunk of answer.body as unknown as AsyncIterable<Uint8Array>) {
        hash.update(chunk);
        bytes += chunk.length;
      }

      // Assess
      expect(ref).toMatchObject({ kind: 'file', declaredSize: 40_000_000, fileName: 'big.bin' });
      expect(answer.status).toBe(200);
      expect(bytes).toBe(40_000_000);
      expect(hash.digest('hex')).toBe(big.mediaTruth(url)?.sha256);
      expect(big.mediaTruth(url)?.fate).toBe('normal');
    } finally {
      await big.stop();
    }
  }, 60_000);
});

describe('simulator media that is markup in disguise (issue 21)', () => {
  it('serves each file starting like its kind, and markup of the declared size that the archiver refuses', async () => {
    // Prepare: a third of the files are markup; no other fault and no signing (the client's fake
    // clock would outrun get_cos_sig's rate), so every other file is archived.
    const hostile = await startSimulator({
      seed: 21,
      retentionDays: 3650,
      dataset: {
        groups: 4,
        activeFraction: 1,
        messagesPerActiveGroup: [120, 160],
        historyDays: 3,
        mediaMaxBytes: 20_000,
      },
      media: {
        markupFraction: 0.35,
        requireSignature: 'none',
        expiredFraction: 0,
        bannedFraction: 0,
        flakyFraction: 0,
        htmlFraction: 0,
        wrongSizeFraction: 0,
        redirectFraction: 0,
        disallowedHostFraction: 0,
      },
    });
    try {
      const { client } = clientFor(hostile);
      const fetcher = simMediaFetcher(hostile, client, new FakeClock(), { tempName: 'sim-markup-media' });
      const refs = [];
      for (const group of hostile.groups()) {
        if (group.topicsEnabled || group.type === 'AVChatRoom') continue;
        for (const message of hostile.groundTruth(group.groupId)) {
          const key = { sdkAppId: 1, groupId: group.groupId, topicId: null };
          for (const ref of mediaRefsOfMessage(message, key, { imageSizes: ['original', 'thumbnail'] })) {
            if (ref.url !== null) refs.push(ref);
          }
        }
      }

      // Act
      const outcomes: {
        kind: string;
        fate: string | undefined;
        status: string;
        expected: string;
        reason: string | null;
      }[] = [];
      for (const ref of refs) {
        const truth = hostile.mediaTruth(ref.url ?? '');
        const result = await fetcher.download(ref);
        if (result.status === 'archived') {
          expect(result.sha256, ref.url ?? '').toBe(truth?.sha256);
          await result.dispose();
        }
        outcomes.push({
          kind: ref.kind,
          fate: truth?.fate,
          status: result.status,
          expected: String(truth?.expected),
          reason: result.reason,
        });
      }

      // Assess
      expect(outcomes.filter((o) => o.status !== o.expected)).toEqual([]);
      const seen = (fate: string, status: string) =>
        new Set(outcomes.filter((o) => o.fate === fate && o.status === status).map((o) => o.kind));
      expect(seen('markup', 'refused')).toEqual(new Set(['image', 'sound', 'video', 'video-thumbnail']));
      expect(seen('markup', 'archived')).toEqual(new Set(['file']));
      // Refused for what they are (their size and, but for SVG's, their type fit): never by chance.
      for (const o of outcomes.filter((x) => x.fate === 'markup' && x.status === 'refused')) {
        expect(o.reason).toMatch(/HTML\/XML document|content type image\/svg\+xml/);
      }
      expect(seen('normal', 'archived')).toEqual(
        new Set(['image', 'sound', 'video', 'video-thumbnail', 'file']),
      );
    } finally {
      await hostile.stop();
    }
  }, 60_000);
});
