/**
 * The group hourly files under a kill (issue 26, deliverable 3; docs/one-to-one.md, Witnesses): the
 * real CLI with `historyFiles.groups`, SIGKILLed at a named point (functions/adapters/pause-at.ts)
 * after it kept its first raw file and before that file's identity rows, then rerun: each kept
 * file has exactly one index object, each hour one row, and the rows index every line once.
 */
import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import type { LocalFolderStore } from '../../functions/adapters/local-folder/local-folder-store.ts';
import { listKeys } from '../helpers/c2c.ts';
import { historyFileMessages } from '../helpers/history-files.ts';
import { runKilledAt, startProcessArchive, useProcessCleanups } from '../helpers/process-archive.ts';

const cleanups = useProcessCleanups();

async function lines(store: LocalFolderStore, key: string): Promise<string[]> {
  const body = (await store.get(key))?.body as Uint8Array;
  return gunzipSync(body)
    .toString('utf8')
    .split('\n')
    .filter((l) => l !== '');
}

describe('the group hourly files, killed', () => {
  it('killed with SIGKILL between keeping a file and writing its index, rerun: one index object per file', async () => {
    // Prepare
    const t = await startProcessArchive(cleanups, {
      tempPrefix: 'history-files-kill-',
      simulator: {
        seed: 2604,
        latencyMs: 2,
        retentionDays: 30,
        media: false,
        dataset: {
          groups: 3,
          activeFraction: 1,
          messagesPerActiveGroup: [150, 250],
          historyDays: 2,
          typeWeights: { Public: 1, Private: 1, ChatRoom: 0, Community: 0, TopicCommunity: 0, AVChatRoom: 0 },
        },
      },
      app: { historyFiles: { groups: true } },
      run: { checkpointSeconds: 0.3, leaseSeconds: 30 },
      media: { enabled: false },
    });

    // Act: killed before the first identity object, the first raw file kept.
    const killed = await runKilledAt(t, `history-file-messages/sdkappid=${t.sdkAppId}/`, {
      timeoutMs: 180_000,
    });
    expect(killed.paused).toBe(true);
    expect(killed.result.signal).toBe('SIGKILL');
    const keptBefore = await listKeys(t.store, 'history-files/');
    expect(keptBefore.length).toBe(1);
    expect(await listKeys(t.store, 'history-file-messages/')).toEqual([]);
    const rerun = await t.spawnArchive({ timeoutMs: 180_000 }).done;

    // Assess
    expect(rerun.code, rerun.stderr).toBe(0);
    const kept = await listKeys(t.store, 'history-files/');
    expect(kept).toEqual(expect.arrayContaining(keptBefore));
    const indexes = await listKeys(t.store, 'history-file-messages/');
    const name = (k: string) =>
      k.replace(/^.*\/chat=group\/hour=(\d+)\/(\d+-[0-9a-f]+)\.json\.gz$/, 'group-$1-$2');
    const indexName = (k: string) => k.replace(/^.*\//, '').replace(/\.ndjson\.gz$/, '');
    expect(indexes.map(indexName)).toEqual(kept.map(name).sort());
    for (const [i, key] of kept.entries()) {
      const raw = historyFileMessages(
        gunzipSync((await t.store.get(key))?.body as Uint8Array).toString('utf8'),
      );
      const rows = (await lines(t.store, indexes[kept.map(name).sort().indexOf(name(key))] as string)).map(
        (l) => JSON.parse(l) as { file_key: string; group_id: string; msg_seq: number },
      );
      expect(
        rows.map((r) => `${r.group_id} ${r.msg_seq}`),
        `file ${i}`,
      ).toEqual(raw.messages.map((m) => `${m.GroupId} ${m.MsgSeq}`));
      expect(new Set(rows.map((r) => r.file_key))).toEqual(new Set([key]));
    }
    const hourRows = await listKeys(t.store, 'history-file-hours/');
    const hours = hourRows.map((k) => k.replace(/^.*\/group-(\d+)\.ndjson\.gz$/, '$1'));
    expect(hours.length).toBe(new Set(hours).size);
    for (const key of kept) expect(hours).toContain(key.replace(/^.*\/hour=(\d+)\/.*$/, '$1'));
  }, 360_000);
});
