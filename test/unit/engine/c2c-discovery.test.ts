/**
 * Pair discovery from the recorded callbacks (functions/engine/c2c-discovery.ts) inside runArchive
 * over the in-memory fakes: a pair only a `C2C.CallbackAfterSendMsg` names is archived; each
 * recorded object is read once; a pair whose newest witnessed message is archived is not pulled
 * again, one with a newer witness is; a discovery that died before its head is rolled back and
 * read again, every message archived once.
 */
import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { configPairs } from '../../../functions/domain/c2c-pairs.ts';
import { conversationOf, parseC2cRecordLine } from '../../../functions/domain/c2c-record.ts';
import { c2cHeadKey, parseC2cHead } from '../../../functions/domain/c2c-state.ts';
import { callbackObjectKey, toCallbackEventRow } from '../../../functions/domain/callback-event.ts';
import { StorageError } from '../../../functions/domain/errors.ts';
import { gzipNdjson } from '../../../functions/domain/ndjson-gzip.ts';
import { dateInZone } from '../../../functions/domain/partition.ts';
import type { RoamApi } from '../../../functions/domain/ports.ts';
import type { RoamMessage, RoamRequest } from '../../../functions/domain/tencent-types.ts';
import type { C2cReport } from '../../../functions/engine/c2c-report.ts';
import { runArchive } from '../../../functions/engine/run-archive.ts';
import {
  FakeChatApi,
  FakeClock,
  MemoryStore,
  silentLogger,
  testRunOptions,
} from '../../helpers/engine-fakes.ts';

const APP = 1400000001;
const NOW_SEC = Date.UTC(2026, 0, 1, 12) / 1000;

function conversation(from: string, to: string, count: number, startSec: number, tag = ''): RoamMessage[] {
  return Array.from({ length: count }, (_, i) => ({
    From_Account: i % 2 === 0 ? from : to,
    To_Account: i % 2 === 0 ? to : from,
    MsgSeq: i,
    MsgRandom: i,
    MsgTimeStamp: startSec + i * 30,
    MsgKey: `${from}-${to}-${tag}${i}`,
    MsgFlagBits: 0,
    MsgBody: [{ MsgType: 'TIMTextElem', MsgContent: { Text: `m${i}` } }],
  }));
}

function archivedC2c(store: MemoryStore): string[] {
  return store.keys('c2c/').flatMap((key) =>
    gunzipSync(store.body(key) as Uint8Array)
      .toString('utf8')
      .split('\n')
      .filter((line) => line !== '')
      .map((line) => {
        const row = parseC2cRecordLine(line);
        return `${row.conversation} ${row.msg_key}`;
      }),
  );
}

const keysOf = (accounts: readonly [string, string], messages: RoamMessage[]) =>
  messages.map((m) => `${conversationOf(...accounts)} ${m.MsgKey}`);

/** A send callback as the receiver records it. */
function sendEvent(from: string, to: string, msgTime: number, extra: object = {}) {
  return { From_Account: from, To_Account: to, MsgTime: msgTime, OnlineOnlyFlag: 0, ...extra };
}

let batch = 0;
/** One recorded callback object (callbackObjectKey) holding these events, received at `atSec`. */
async function recordCallbacks(
  store: MemoryStore,
  atSec: number,
  events: { command: string; body: object | string }[],
): Promise<string> {
  const lines = events.map((e) =>
    JSON.stringify(
      toCallbackEventRow({
        sdkAppId: APP,
        command: e.command,
        requestTime: atSec,
        receivedAt: atSec * 1000,
        body: new TextEncoder().encode(
          typeof e.body === 'string'
            ? e.body
            : JSON.stringify({ CallbackCommand: e.command, ...e.body, EventTime: atSec * 1000 }),
        ),
      }),
    ),
  );
  const key = callbackObjectKey({
    sdkAppId: APP,
    dt: dateInZone(atSec, 'UTC'),
    receiverId: 'rcv',
    batch: batch++,
  });
  await store.put(key, await gzipNdjson(lines), { ifNoneMatch: '*' });
  return key;
}

function setup() {
  const store = new MemoryStore();
  const clock = new FakeClock(NOW_SEC * 1000);
  const ab = {
    accounts: ['alice', 'bob'] as const,
    messages: conversation('alice', 'bob', 10, NOW_SEC - 5_000),
  };
  // dave and erin talk, but no config names them: only the callbacks do.
  const de = {
    accounts: ['dave', 'erin'] as const,
    messages: conversation('erin', 'dave', 30, NOW_SEC - 7_000),
  };
  const fg = {
    accounts: ['frank', 'gina'] as const,
    messages: conversation('frank', 'gina', 4, NOW_SEC - 3_000),
  };
  const api = new FakeChatApi({ c2c: [ab, de, fg], serverNowMs: () => clock.now() });
  const operators: string[] = [];
  const roam: RoamApi = {
    getRoamMessages: (request: RoamRequest) => {
      operators.push(`${request.operatorAccount}/${request.peerAccount}`);
      return api.getRoamMessages(request);
    },
  };
  const deps = { api, roam, store, clock, logger: silentLogger };
  const options = () => ({
    ...testRunOptions(APP),
    retentionDays: 7,
    c2c: {
      pairs: configPairs({ pairs: [['alice', 'bob']] }),
      concurrency: 4,
      shards: 8,
      fromCallbacks: true,
    },
  });
  return { store, clock, ab, de, fg, deps, options, operators };
}

const c2cOf = (report: object) => (report as { c2c?: C2cReport }).c2c as C2cReport;

describe('pair discovery from the recorded callbacks', () => {
  it('archives a pair only a callback names, reads each object once, and pulls it again only for a newer message', async () => {
    const { store, clock, ab, de, deps, options, operators } = setup();
    const newest = de.messages.at(-1)?.MsgTimeStamp as number;
    await recordCallbacks(store, NOW_SEC - 60, [
      { command: 'C2C.CallbackAfterSendMsg', body: sendEvent('erin', 'dave', newest) },
      { command: 'C2C.CallbackAfterSendMsg', body: sendEvent('dave', 'erin', newest - 30) },
      // Online-only: never stored, no pull could find it.
      {
        command: 'C2C.CallbackAfterSendMsg',
        body: sendEvent('frank', 'gina', NOW_SEC - 100, { OnlineOnlyFlag: 1 }),
      },
      {
        command: 'Group.CallbackAfterSendMsg',
        body: { GroupId: '@TGS#1', From_Account: 'frank', MsgTime: 1 },
      },
      { command: 'C2C.CallbackAfterSendMsg', body: 'not json' },
    ]);

    const first = await runArchive(deps, options());

    expect(first.done).toBe(true);
    expect(c2cOf(first)).toMatchObject({
      callbackObjectsRead: 1,
      callbackSightings: 2,
      pairsDiscovered: 1,
      pairsWitnessed: 1,
      pairsKnown: 2,
      messages: 40,
    });
    expect(archivedC2c(store).sort()).toEqual(
      [...keysOf(ab.accounts, ab.messages), ...keysOf(de.accounts, de.messages)].sort(),
    );
    expect(operators.some((o) => o.startsWith('frank'))).toBe(false);

    // A night later: nothing new recorded; an old message witnessed again pulls nothing.
    clock.advance(86_400_000);
    operators.length = 0;
    await recordCallbacks(store, NOW_SEC + 86_000, [
      { command: 'C2C.CallbackAfterSendMsg', body: sendEvent('dave', 'erin', newest - 30) },
    ]);
    const second = await runArchive(deps, options());

    expect(c2cOf(second)).toMatchObject({
      callbackObjectsRead: 1,
      pairsDiscovered: 0,
      pairsWitnessed: 0,
      messages: 0,
    });
    expect(operators).toEqual(['alice/bob']);

    // dave and erin talk again; the callback says so, and only the new messages come.
    clock.advance(3_600_000);
    operators.length = 0;
    const later = conversation('dave', 'erin', 3, NOW_SEC + 89_000, 'late-');
    de.messages.push(...later);
    await recordCallbacks(store, NOW_SEC + 89_900, [
      {
        command: 'C2C.CallbackAfterSendMsg',
        body: sendEvent('dave', 'erin', later.at(-1)?.MsgTimeStamp as number),
      },
    ]);
    const third = await runArchive(deps, options());

    expect(c2cOf(third)).toMatchObject({ callbackObjectsRead: 1, pairsWitnessed: 1, messages: 3 });
    expect(operators.filter((o) => o.startsWith('dave')).length).toBeGreaterThan(0);
    const rows = archivedC2c(store);
    expect(rows.length).toBe(new Set(rows).size);
    expect(rows.sort()).toEqual(
      [...keysOf(ab.accounts, ab.messages), ...keysOf(de.accounts, de.messages)].sort(),
    );
  });

  it('rolls back a discovery that died before its head, reads the callbacks again, and archives once', async () => {
    const { store, de, deps, options } = setup();
    await recordCallbacks(store, NOW_SEC - 60, [
      {
        command: 'C2C.CallbackAfterSendMsg',
        body: sendEvent('erin', 'dave', de.messages.at(-1)?.MsgTimeStamp as number),
      },
    ]);
    // The cursor object lands, then the writer dies before it hears back: the head is not written.
    store.fail({
      op: 'put',
      key: (k) => k.includes('/witness/'),
      when: 'after',
      error: new StorageError('boom'),
    });

    await expect(runArchive(deps, options())).rejects.toBeInstanceOf(StorageError);
    const left = parseC2cHead(store.text(c2cHeadKey(APP)) as string, APP);
    expect(left.pending?.objects.some((k) => k.includes('/witness/'))).toBe(true);
    expect(left.witnessKey).toBeNull();
    expect(archivedC2c(store)).toEqual([]);

    const second = await runArchive(deps, { ...options(), runId: 'run2' });

    expect(c2cOf(second)).toMatchObject({ callbackObjectsRead: 1, pairsDiscovered: 1 });
    expect(c2cOf(second).rolledBackObjects).toBe(left.pending?.objects.length);
    expect(store.keys('state/c2c/').filter((k) => k.includes('/witness/'))).toHaveLength(1);
    const rows = archivedC2c(store).filter((r) => r.startsWith(conversationOf('dave', 'erin')));
    expect(rows.sort()).toEqual(keysOf(de.accounts, de.messages).sort());
  });
});
