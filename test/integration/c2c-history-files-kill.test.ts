/**
 * The hourly files under kills (issue 26; docs/one-to-one.md, Witnesses): the real CLI with
 * `c2c.fromHistoryFiles`, SIGKILLed at named points (functions/adapters/pause-at.ts) before its
 * second raw file and before its witness cursor, then rerun: every file is kept once (the same
 * key, create-only), the pair only the files name is archived, and every message exactly once.
 */
import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import type { LocalFolderStore } from '../../functions/adapters/local-folder/local-folder-store.ts';
import { conversationOf, parseC2cRecordLine } from '../../functions/domain/c2c-record.ts';
import { c2cHeadKey, parseC2cHead } from '../../functions/domain/c2c-state.ts';
import { runKilledAt, startProcessArchive, useProcessCleanups } from '../helpers/process-archive.ts';

const cleanups = useProcessCleanups();

const ALICE = 'alice.hk';
const BOB = 'bob.hk';
const DAVE = 'dave.hk';
const ERIN = 'erin "hk"';

async function list(store: LocalFolderStore, prefix: string): Promise<string[]> {
  const out: string[] = [];
  for await (const key of store.list(prefix)) out.push(key);
  return out.sort();
}

async function archivedIds(store: LocalFolderStore): Promise<string[]> {
  const ids: string[] = [];
  for (const key of await list(store, 'c2c/')) {
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

describe('the hourly files, killed', () => {
  it.each(['its second raw file', 'its witness cursor'])(
    'killed with SIGKILL before the run writes %s, rerun: each file kept once, every message once',
    async (point) => {
      const t = await startProcessArchive(cleanups, {
        tempPrefix: 'c2c-history-kill-',
        simulator: {
          seed: 266,
          latencyMs: 2,
          retentionDays: 30,
          media: false,
          dataset: { groups: 1, activeFraction: 1, messagesPerActiveGroup: [3, 5], historyDays: 1 },
          c2c: {
            generated: 0,
            spanDays: 2,
            conversations: [
              { accounts: [ALICE, BOB], messages: 20 },
              { accounts: [DAVE, ERIN], messages: 300 },
            ],
          },
        },
        app: { c2c: { pairs: [[ALICE, BOB]], fromHistoryFiles: true } },
        run: { checkpointSeconds: 0.3, leaseSeconds: 30 },
        media: { enabled: false },
      });
      const at =
        point === 'its second raw file' ? 'history-files/:2' : `state/c2c/sdkappid=${t.sdkAppId}/witness/`;
      const killed = await runKilledAt(t, at, { timeoutMs: 180_000 });
      expect(killed.paused).toBe(true);
      expect(killed.result.signal).toBe('SIGKILL');
      const before = await list(t.store, 'history-files/');
      expect(before.length).toBeGreaterThan(0);

      let code: number | null = null;
      for (let attempt = 0; attempt < 4 && code !== 0; attempt++) {
        const rerun = await t.spawnArchive({ timeoutMs: 180_000 }).done;
        code = rerun.code;
        expect([0, 3], rerun.stderr).toContain(code);
      }
      expect(code).toBe(0);
      const after = await list(t.store, 'history-files/');
      // The files kept before the kill are the same objects; one key per file of each hour.
      expect(after).toEqual(expect.arrayContaining(before));
      const perFile = after.map((k) => k.replace(/-[0-9a-f]{32}\.json\.gz$/, ''));
      expect(perFile.length).toBe(new Set(perFile).size);
      const head = parseC2cHead(
        new TextDecoder().decode((await t.store.get(c2cHeadKey(t.sdkAppId)))?.body),
        t.sdkAppId,
      );
      expect(head.pending).toBeNull();
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
