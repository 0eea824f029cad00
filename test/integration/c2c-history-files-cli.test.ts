/**
 * A pair discovered only through Tencent's hourly files, end to end (issue 26; docs/one-to-one.md,
 * Witnesses): the real CLI with `c2c.fromHistoryFiles` over the simulator's `get_history` asks for
 * every hour of the files' 7 days, checks and keeps each file once under `history-files/`, learns
 * the pair no config names, and archives its whole history once; a second run asks for no hour it
 * fetched and keeps no file again.
 */
import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import type { LocalFolderStore } from '../../functions/adapters/local-folder/local-folder-store.ts';
import { conversationOf, parseC2cRecordLine } from '../../functions/domain/c2c-record.ts';
import { startProcessArchive, useProcessCleanups } from '../helpers/process-archive.ts';

const cleanups = useProcessCleanups();

const ALICE = 'alice.hc';
const BOB = 'bob.hc';
const DAVE = 'dave.hc';
const ERIN = 'erin,"hc"';

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

async function keys(store: LocalFolderStore, prefix: string): Promise<string[]> {
  const out: string[] = [];
  for await (const key of store.list(prefix)) out.push(key);
  return out.sort();
}

describe('a pair discovered only through the hourly files', () => {
  it('is archived whole and once by the CLI, and each file is kept once', async () => {
    const t = await startProcessArchive(cleanups, {
      tempPrefix: 'c2c-history-files-',
      simulator: {
        seed: 265,
        latencyMs: 2,
        retentionDays: 30,
        media: false,
        dataset: { groups: 1, activeFraction: 1, messagesPerActiveGroup: [3, 5], historyDays: 1 },
        c2c: {
          generated: 0,
          spanDays: 2,
          conversations: [
            { accounts: [ALICE, BOB], messages: 30 },
            { accounts: [DAVE, ERIN], messages: 400 },
          ],
        },
      },
      app: { c2c: { pairs: [[ALICE, BOB]], fromHistoryFiles: true } },
      run: { checkpointSeconds: 0.3, leaseSeconds: 30 },
      media: { enabled: false },
    });
    t.sim.resetStats();

    const first = await t.spawnArchive({ timeoutMs: 180_000 }).done;
    expect(first.code, first.stderr).toBe(0);
    const kept = await keys(t.store, 'history-files/');
    expect(kept.length).toBeGreaterThan(0);
    expect(kept.every((k) => k.startsWith(`history-files/sdkappid=${t.sdkAppId}/chat=c2c/hour=`))).toBe(true);
    const ids = await archivedIds(t.store);
    expect(ids.length).toBe(new Set(ids).size);
    const expected = [
      ...t.sim.c2c.visible(ALICE, BOB).map((m) => `${conversationOf(ALICE, BOB)} ${m.MsgKey}`),
      ...t.sim.c2c.visible(DAVE, ERIN).map((m) => `${conversationOf(DAVE, ERIN)} ${m.MsgKey}`),
    ];
    expect(ids.sort()).toEqual(expected.sort());
    const asked = t.sim.stats().perApi.get_history.calls;
    expect(asked).toBeGreaterThan(100);

    t.sim.resetStats();
    const second = await t.spawnArchive({ timeoutMs: 180_000 }).done;
    expect(second.code, second.stderr).toBe(0);
    expect(await keys(t.store, 'history-files/')).toEqual(kept);
    // Only hours not taken as fetched are asked again (the newest ones, still without a file).
    expect(t.sim.stats().perApi.get_history.calls).toBeLessThan(10);
    expect((await archivedIds(t.store)).length).toBe(expected.length);
  }, 360_000);
});
