/**
 * Pair discovery from the recorded callbacks under kills (issue 26; docs/one-to-one.md,
 * Witnesses): the real CLI with `c2c.fromCallbacks`, SIGKILLed at named points of the discovery's
 * commit (functions/adapters/pause-at.ts: before its first shard, before its cursor object), then
 * rerun: the unfinished commit is rolled back, the callbacks are read again, the pair only they
 * name is archived, and every message is archived exactly once.
 */
import { describe, expect, it } from 'vitest';
import type { LocalFolderStore } from '../../functions/adapters/local-folder/local-folder-store.ts';
import { callbackObjectKey, toCallbackEventRow } from '../../functions/domain/callback-event.ts';
import { gzipNdjson } from '../../functions/domain/ndjson-gzip.ts';
import { dateInZone } from '../../functions/domain/partition.ts';
import type { Simulator } from '../../functions/simulator/index.ts';
import {
  c2cIds,
  readC2cHead,
  rerunUntilDone,
  startC2cProcessArchive,
  visibleC2cIds,
} from '../helpers/c2c.ts';
import { runKilledAt, useProcessCleanups } from '../helpers/process-archive.ts';

const cleanups = useProcessCleanups();

const ALICE = 'alice.kd';
const BOB = 'bob.kd';
const DAVE = 'dave.kd';
const ERIN = 'erin "kd"';

function start() {
  return startC2cProcessArchive(cleanups, {
    tempPrefix: 'c2c-discovery-kill-',
    seed: 263,
    c2c: {
      conversations: [
        { accounts: [ALICE, BOB], messages: 80 },
        { accounts: [DAVE, ERIN], messages: 120 },
      ],
    },
    app: { pairs: [[ALICE, BOB]], fromCallbacks: true },
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
      const left = await readC2cHead(t);
      expect(left.pending).not.toBeNull();
      expect(left.witnessKey).toBeNull();

      await rerunUntilDone(t);
      const head = await readC2cHead(t);
      expect(head.pending).toBeNull();
      expect(head.witnessKey).not.toBeNull();
      const ids = await c2cIds(t.store);
      expect(ids.length).toBe(new Set(ids).size);
      const expected = visibleC2cIds(t.sim, [
        [ALICE, BOB],
        [DAVE, ERIN],
      ]);
      expect(ids.sort()).toEqual(expected.sort());
    },
    // Real processes on a shared machine: two archive runs, each up to a few minutes when busy.
    360_000,
  );
});
