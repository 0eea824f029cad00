/**
 * The Tencent client against the simulator over real HTTP: every API, every error class, and the
 * promise that no secret reaches a log line or an error.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemClock } from '../../functions/adapters/system-clock.ts';
import { genUserSig, type UserSigProvider } from '../../functions/adapters/tencent/user-sig.ts';
import { GiveUpError } from '../../functions/domain/errors.ts';
import { type Simulator, startSimulator } from '../../functions/simulator/index.ts';
import { rejection } from '../helpers/assertions.ts';
import { clientFor } from '../helpers/tencent.ts';

let sim: Simulator;
beforeAll(async () => {
  // Listing is 1 call/s for real; these tests run the client on a fake clock (no real waits), so the
  // simulator's listing limit is raised here. Rate limiting itself is covered by the limiter's unit
  // tests, the simulator's tests and the benchmark.
  sim = await startSimulator({ seed: 7, rateLimits: { get_appid_group_list: 1_000 } });
});
afterAll(async () => {
  sim.clearFaults();
  await sim.stop();
});

const historyGroup = () => {
  const g = sim.groups().find((x) => !x.deleted && x.type === 'Public' && x.nextMsgSeq > 45);
  if (!g) throw new Error('demo dataset has no Public group with history');
  return g;
};

describe('TencentClient APIs against the simulator', () => {
  it('lists every group, parsing a uint64 Next cursor beyond 2^53 losslessly', async () => {
    const { client } = clientFor(sim);
    const pages = [];
    for await (const page of client.listGroups({ pageSize: 3 })) pages.push(page);
    const ids = pages.flatMap((p) => p.groupIds);
    const expected = sim
      .groups()
      .filter((g) => !g.deleted)
      .map((g) => g.groupId);
    expect(new Set(ids)).toEqual(new Set(expected));
    expect(ids.length).toBe(expected.length);
    const cursors = pages.map((p) => p.next).filter((n) => n !== 0n);
    expect(cursors.length).toBeGreaterThan(0);
    for (const next of cursors) expect(next > BigInt(Number.MAX_SAFE_INTEGER)).toBe(true);
    expect(pages.at(-1)?.next).toBe(0n);
  });

  it('reads Type, NextMsgSeq, LastMsgTime, Name and Owner_Account for up to 50 groups, with per-group errors', async () => {
    const { client } = clientFor(sim);
    const g = historyGroup();
    const infos = await client.getGroupInfo([g.groupId, '@TGS#doesnotexist']);
    expect(infos[0]).toEqual({
      ok: true,
      groupId: g.groupId,
      type: g.type,
      nextMsgSeq: g.nextMsgSeq,
      lastMsgTime: g.lastMsgTime,
      name: sim.identities.groupName(g.groupId),
      // The owner is listed first (functions/simulator/identities.ts members).
      ownerAccount: sim.identities.members(g.groupId)[0]?.account,
    });
    expect(infos[1]).toMatchObject({ ok: false, groupId: '@TGS#doesnotexist', errorCode: 10015 });
    await expect(client.getGroupInfo(Array.from({ length: 51 }, (_, i) => `g${i}`))).rejects.toThrow(
      RangeError,
    );
  });

  it('pages group history newest first, exactly as the simulator holds it', async () => {
    const { client } = clientFor(sim);
    const g = historyGroup();
    const first = await client.getHistory({ groupId: g.groupId, reqMsgNumber: 20, withRecalledMsg: true });
    const truth = [...sim.groundTruth(g.groupId, { withRecalledMsg: true })].slice(0, first.messages.length);
    expect(first.messages).toEqual(truth);
    expect(first.messages[0]?.MsgSeq).toBe(g.nextMsgSeq - 1);
    const seqs = first.messages.map((m) => m.MsgSeq);
    expect(seqs).toEqual([...seqs].sort((a, b) => b - a));
    const second = await client.getHistory({
      groupId: g.groupId,
      reqMsgSeq: Math.min(...seqs) - 1,
      reqMsgNumber: 5,
      withRecalledMsg: true,
    });
    expect(second.messages.every((m) => m.MsgSeq < Math.min(...seqs))).toBe(true);
    expect([0, 1, 2]).toContain(second.isFinished);
    await expect(
      client.getHistory({ groupId: g.groupId, reqMsgNumber: 21, withRecalledMsg: false }),
    ).rejects.toThrow(RangeError);
  });

  it('lists the topics of a topic-enabled Community group and pages a topic', async () => {
    const { client } = clientFor(sim);
    const community = sim.groups().find((g) => g.topicsEnabled);
    if (!community) throw new Error('demo dataset has no topic community');
    const topics = await client.getTopics(community.groupId);
    expect(topics.map((t) => (t.ok ? t.topicId : null)).sort()).toEqual(
      community.topics.map((t) => t.topicId).sort(),
    );
    const topic = community.topics[0];
    if (!topic) throw new Error('no topic');
    const page = await client.getHistory({
      groupId: community.groupId,
      topicId: topic.topicId,
      reqMsgNumber: 10,
      withRecalledMsg: true,
    });
    expect(page.messages.length).toBeGreaterThan(0);
    expect(page.messages[0]?.MsgSeq).toBe(topic.nextMsgSeq - 1);
  });
});

describe('TencentClient failure handling (the retry policy decides, the client obeys)', () => {
  it.each([
    ['an ErrorCode 10002', { kind: 'error-code', code: 10002 }],
    [
      'a 502 with an HTML body',
      { kind: 'http-status', status: 502, body: '<html><body>Bad Gateway</body></html>' },
    ],
    ['malformed JSON', { kind: 'malformed-json' }],
    ['a reset connection', { kind: 'reset' }],
    ['a slow answer past the timeout', { kind: 'slow', delayMs: 600 }],
  ] as const)('retries %s with backoff and then succeeds', async (_label, fault) => {
    const { client, clock } = clientFor(sim, { requestTimeoutMs: 250 });
    sim.injectFaults({ api: 'get_group_info', ...fault, times: 2 });
    const infos = await client.getGroupInfo([historyGroup().groupId]);
    expect(infos[0]?.ok).toBe(true);
    expect(client.stats().retries).toBe(2);
    expect(client.stats().requests.getGroupInfo).toBe(3);
    expect(clock.sleeps.filter((ms) => ms >= 0).length).toBeGreaterThanOrEqual(2);
  });

  it('repeats only the call that got a frequency-limit answer, without pausing the app', async () => {
    const { client, clock } = clientFor(sim);
    const start = clock.now();
    const before = sim.stats().perApi.group_msg_get_simple.calls;
    sim.injectFaults({ api: 'group_msg_get_simple', kind: 'error-code', code: 10006 });
    const pages = await Promise.all(
      Array.from({ length: 10 }, () =>
        client.getHistory({ groupId: historyGroup().groupId, reqMsgNumber: 1, withRecalledMsg: true }),
      ),
    );
    expect(pages.every((p) => p.messages.length === 1)).toBe(true);
    expect(client.stats()).toMatchObject({ throttles: 1, retries: 1, requests: { groupMsgGetSimple: 11 } });
    expect(sim.stats().perApi.group_msg_get_simple.calls - before).toBe(11);
    // No app-wide pause and no backoff: besides the pacer's spacing (1000 / 200 = 5 ms between
    // sends), only the rejected call waited, until one window (plus the pacer's margin) after its
    // rejected send, so the server's window has moved past it.
    expect(clock.sleeps.filter((ms) => ms > 5)).toHaveLength(1);
    expect(clock.now() - start).toBeGreaterThanOrEqual(1_000);
    expect(clock.now() - start).toBeLessThan(1_300);
  });

  it('gives up after maxAttempts on a persistent transient error', async () => {
    const { client } = clientFor(sim, { retry: { maxAttempts: 3 } });
    sim.injectFaults({ api: 'get_group_info', kind: 'error-code', code: 70500, times: 3 });
    const error = await rejection(client.getGroupInfo([historyGroup().groupId]));
    expect(error).toBeInstanceOf(GiveUpError);
    expect(error).toMatchObject({ action: 'retries-exhausted', attempts: 3 });
  });

  it('skips a dissolved group (10010) without retrying', async () => {
    const { client } = clientFor(sim);
    sim.injectFaults({ api: 'group_msg_get_simple', kind: 'error-code', code: 10010 });
    const error = await rejection(
      client.getHistory({ groupId: historyGroup().groupId, reqMsgNumber: 1, withRecalledMsg: true }),
    );
    expect(error).toMatchObject({ name: 'GiveUpError', action: 'skip-group', attempts: 1 });
  });

  it('answers AVChatRoom history with a skip-group verdict (10044)', async () => {
    const { client } = clientFor(sim);
    const live = sim.groups().find((g) => g.type === 'AVChatRoom');
    if (!live) throw new Error('no AVChatRoom in the demo dataset');
    const error = await rejection(
      client.getHistory({ groupId: live.groupId, reqMsgNumber: 5, withRecalledMsg: true }),
    );
    expect(error).toMatchObject({ action: 'skip-group' });
    expect((error as Error).message).toContain('10044');
  });

  it('regenerates an expired UserSig once and carries on', async () => {
    const app = sim.apps[0];
    if (!app) throw new Error('no app');
    const now = Math.floor(Date.now() / 1000);
    const stale = genUserSig({
      sdkAppId: app.sdkAppId,
      key: app.secretKey,
      identifier: app.adminIdentifier,
      expireSeconds: 60,
      nowSeconds: now - 3_600,
    });
    const fresh = genUserSig({
      sdkAppId: app.sdkAppId,
      key: app.secretKey,
      identifier: app.adminIdentifier,
      expireSeconds: 86_400,
      nowSeconds: now,
    });
    let sig = stale;
    let regenerations = 0;
    const provider: UserSigProvider = {
      current: () => sig,
      regenerate: () => {
        regenerations++;
        sig = fresh;
        return sig;
      },
      secrets: () => [app.secretKey, stale, fresh],
    };
    const { client } = clientFor(sim, { userSig: provider });
    const infos = await client.getGroupInfo([historyGroup().groupId]);
    expect(infos[0]?.ok).toBe(true);
    expect(regenerations).toBe(1);
    expect(client.stats().signatureRenewals).toBe(1);
  });

  it('stops with a configuration error naming the fix when the key is wrong (70009)', async () => {
    const app = sim.apps[0];
    if (!app) throw new Error('no app');
    const wrongKey = 'f'.repeat(64);
    const { client } = clientFor(sim, {
      userSig: keyProvider(app.sdkAppId, wrongKey, app.adminIdentifier),
    });
    const error = await rejection(client.getGroupInfo([historyGroup().groupId]));
    expect(error).toMatchObject({ name: 'GiveUpError', action: 'fatal-config' });
    expect((error as Error).message).toMatch(/secret key/);
  });

  it('stops with a configuration error naming the region when the SDKAppID is unknown there (70020)', async () => {
    const app = sim.apps[0];
    if (!app) throw new Error('no app');
    const { client } = clientFor(sim, {
      sdkAppId: 1400999999,
      userSig: keyProvider(1400999999, app.secretKey, app.adminIdentifier),
    });
    const error = await rejection(client.getGroupInfo([historyGroup().groupId]));
    expect(error).toMatchObject({ action: 'fatal-config' });
    expect((error as Error).message).toMatch(/region/);
  });

  it('honours an AbortSignal', async () => {
    const { client } = clientFor(sim);
    const controller = new AbortController();
    controller.abort();
    const error = await rejection(client.getGroupInfo([historyGroup().groupId], controller.signal));
    expect(error).toMatchObject({ name: 'AbortedError' });
  });
});

describe('secrets never leak', () => {
  it('keeps the key and every UserSig out of log lines, error messages, stacks and causes', async () => {
    const app = sim.apps[0];
    if (!app) throw new Error('no app');
    const wrong = keyProvider(app.sdkAppId, 'e'.repeat(64), app.adminIdentifier);
    const good = clientFor(sim, { retry: { maxAttempts: 2 } });
    const bad = clientFor(sim, { userSig: wrong });
    sim.injectFaults(
      { api: 'get_group_info', kind: 'http-status', status: 502, body: '<html>bad gateway</html>' },
      { api: 'get_group_info', kind: 'malformed-json' },
      { api: 'group_msg_get_simple', kind: 'error-code', code: 70500, times: 2 },
      { api: 'group_msg_get_simple', kind: 'reset' },
    );
    const errors: unknown[] = [];
    const group = historyGroup().groupId;
    for (const call of [
      () => good.client.getGroupInfo([group]),
      () => good.client.getHistory({ groupId: group, reqMsgNumber: 2, withRecalledMsg: true }),
      () => good.client.getHistory({ groupId: group, reqMsgNumber: 2, withRecalledMsg: true }),
      () => bad.client.getGroupInfo([group]),
    ]) {
      await call().catch((error: unknown) => errors.push(error));
    }
    expect(errors.length).toBeGreaterThanOrEqual(2);
    const secrets = [app.secretKey, 'e'.repeat(64), ...good.userSig.secrets(), ...wrong.secrets()].filter(
      (s) => s.length > 20,
    );
    expect(secrets.length).toBeGreaterThanOrEqual(4);
    const texts = [...good.lines, ...bad.lines, ...errors.flatMap(errorTexts)];
    expect(texts.length).toBeGreaterThan(4);
    for (const text of texts) {
      for (const secret of secrets) expect(text).not.toContain(secret);
    }
  });
});

function keyProvider(sdkAppId: number, key: string, identifier: string): UserSigProvider {
  const sig = genUserSig({
    sdkAppId,
    key,
    identifier,
    expireSeconds: 86_400,
    nowSeconds: Math.floor(Date.now() / 1000),
  });
  return { current: () => sig, regenerate: () => sig, secrets: () => [key, sig] };
}

/** Message, stack and string form of an error and of every cause below it. */
function errorTexts(error: unknown): string[] {
  const out: string[] = [];
  let current: unknown = error;
  for (let depth = 0; current !== undefined && current !== null && depth < 10; depth++) {
    if (current instanceof Error) {
      out.push(current.message, current.stack ?? '', String(current), JSON.stringify(current));
      current = current.cause;
    } else {
      out.push(String(current), JSON.stringify(current) ?? '');
      break;
    }
  }
  return out;
}

describe('TencentClient pacing against the strict simulator (sliding window, jitter)', () => {
  it('gets no frequency-limit answer over several windows at the full rate', async () => {
    // 100/s counted as a sliding window of arrivals, 20 ± 10 ms latency: 350 calls span 3.5 windows.
    const strict = await startSimulator({
      seed: 11,
      latencyMs: 20,
      jitterMs: 10,
      rateLimits: { group_msg_get_simple: 100 },
    });
    try {
      const { client } = clientFor(strict, {
        clock: systemClock,
        rateLimits: { groupMsgGetSimple: 100 },
        maxConcurrency: 16,
      });
      const group = strict.groups().find((g) => !g.deleted && g.type === 'Public' && g.nextMsgSeq > 20);
      if (!group) throw new Error('no Public group with history');
      await Promise.all(
        Array.from({ length: 350 }, () =>
          client.getHistory({ groupId: group.groupId, reqMsgNumber: 1, withRecalledMsg: true }),
        ),
      );
      const stats = strict.stats().perApi.group_msg_get_simple;
      expect(stats.calls).toBe(350);
      expect(stats.overLimit).toBe(0);
      expect(client.stats().throttles).toBe(0);
    } finally {
      await strict.stop();
    }
  });
});
