/**
 * Pair discovery from the recorded callbacks under kills (issue 26; docs/one-to-one.md,
 * Witnesses): the real CLI with `c2c.fromCallbacks`, SIGKILLed at named points of the discovery's
 * commit (functions/adapters/pause-at.ts: before its first shard, before its cursor object), then
 * rerun: the unfinished commit is rolled back, the callbacks are read again, the pair only they
 * name is archived, and every message is archived exactly once.
 */
import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import type { LocalFolderStore } from '../../functions/adapters/local-folder/local-folder-store.ts';
import { conversationOf, parseC2cRecordLine } from '../../functions/domain/c2c-record.ts';
import { c2cHeadKey, parseC2cHead } from '../../functions/domain/c2c-state.ts';
import { callbackObjectKey, toCallbackEventRow } from '../../functions/domain/callback-event.ts';
import { gzipNdjson } from '../../functions/domain/ndjson-gzip.ts';
import { dateInZone } from '../../functions/domain/partition.ts';
import type { Simulator } from '../../functions/simulator/index.ts';
import { runKilledAt, startProcessArchive, useProcessCleanups } from '../helpers/process-archive.ts';

const cleanups = useProcessCleanups();

const ALICE = 'alice.kd';
const BOB = 'bob.kd';
const DAVE = 'dave.kd';
const ERIN = 'erin "kd"';

async function start() {
  return startProcessArchive(cleanups, {
    tempPrefix: 'c2c-discovery-kill-',
    simulator: {
      seed: 263,
      latencyMs: 2,
      retentionDays: 30,
      media: false,
      dataset: { groups: 1, activeFraction: 1, messagesPerActiveGroup: [3, 5], historyDays: 1 },
      c2c: {
        generated: 0,
        conversations: [
          { accounts: [ALICE, BOB], messages: 80 },
          { accounts: [DAVE, ERIN], messages: 120 },
        ],
      },
    },
    app: { c2c: { pairs: [[ALICE, BOB]], fromCallbacks: true } },
    archive: { flushMegabytes: 0.02 },
    run: { checkpointSeconds: 0.3, leaseSeconds: 30 },
    media: { enabled: false },
  });
}

/** One recorded `C2C.CallbackAfterSendMsg` naming dave and erin's newest message. */
async function recordCallback(store: LocalFolderStore, sim: Simulator, sdkAppId: number): Promise<void> {
  const newest = sim.c2c.visible(DAVE, ERIN).at(-1);
  const nowSec = Math.floor(Date.now() / 1000);
  const body = {
    CallbackCommand: 'C2C.CallbackAfterSendMsg',
    From_Account: newest?.From_Account,
    To_Account: newest?.To_Account,
    MsgTime: newest?.MsgTimeStamp,
    MsgKey: newest?.MsgKey,
    OnlineOnlyFlag: 0,
    EventTime: nowSec * 1000,
  };
  const row = toCallbackEventRow({
    sdkAppId,
    command: 'C2C.CallbackAfterSendMsg',
    requestTime: nowSec,
    receivedAt: nowSec * 1000,
    body: new TextEncoder().encode(JSON.stringify(body)),
  });
  const key = callbackObjectKey({
    sdkAppId,
    dt: dateInZone(nowSec, 'UTC'),
    receiverId: 'kill-test',
    batch: 1,
  });
  await store.put(key, await gzipNdjson([JSON.stringify(row)]), { ifNoneMatch: '*' });
}

async function archivedIds(store: LocalFolderStore): Promise<string[]> {
  const ids: string[] = [];
  for await (const key of store.list('c2c/')) {
    if (!key.endsWith('.ndjson.gz')) continue;
    const object = await store.get(key);
    for (const line of gunzipSync(object?.body as Uint8Array)
      .toString('utf8')
      .split('\n')) {
      if (line === '') continue;
      const row = parseC2cRecordLine(line);
      ids.push(`${row.conversation} ${row.msg_key}`);
    }
  }
  return ids;
}

describe('pair discovery from callbacks, killed', () => {
  it.each(['its first shard', 'its cursor object'])(
    'killed with SIGKILL before the discovery writes %s, rerun: the pair is archived, every message once',
    async (point) => {
      const t = await start();
      await recordCallback(t.store, t.sim, t.sdkAppId);
      // The second `state/c2c/` write is the discovery's first shard (after its intent); a prefix
      // with `witness/` is its cursor object (after every shard).
      const at = point === 'its first shard' ? 'state/c2c/:2' : `state/c2c/sdkappid=${t.sdkAppId}/witness/`;
      const killed = await runKilledAt(t, at, { timeoutMs: 120_000 });
      expect(killed.paused).toBe(true);
      expect(killed.result.signal).toBe('SIGKILL');
      const left = parseC2cHead(
        new TextDecoder().decode((await t.store.get(c2cHeadKey(t.sdkAppId)))?.body),
        t.sdkAppId,
      );
      expect(left.pending).not.toBeNull();
      expect(left.witnessKey).toBeNull();

      let code: number | null = null;
      for (let attempt = 0; attempt < 4 && code !== 0; attempt++) {
        const rerun = await t.spawnArchive({ timeoutMs: 120_000 }).done;
        code = rerun.code;
        expect([0, 3], rerun.stderr).toContain(code);
      }
      expect(code).toBe(0);
      const head = parseC2cHead(
        new TextDecoder().decode((await t.store.get(c2cHeadKey(t.sdkAppId)))?.body),
        t.sdkAppId,
      );
      expect(head.pending).toBeNull();
      expect(head.witnessKey).not.toBeNull();
      const ids = await archivedIds(t.store);
      expect(ids.length).toBe(new Set(ids).size);
      const expected = [
        ...t.sim.c2c.visible(ALICE, BOB).map((m) => `${conversationOf(ALICE, BOB)} ${m.MsgKey}`),
        ...t.sim.c2c.visible(DAVE, ERIN).map((m) => `${conversationOf(DAVE, ERIN)} ${m.MsgKey}`),
      ];
      expect(ids.sort()).toEqual(expected.sort());
    },
    // Real processes on a shared machine: two archive runs, each up to a few minutes when busy.
    360_000,
  );
});
