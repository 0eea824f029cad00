/**
 * A big pair's window split into spans paged at once (issue 26, deliverable 7; docs/one-to-one.md
 * "Concurrency and pacing", functions/engine/c2c-pull.ts), under kills: the real CLI over the
 * simulator pages one conversation of 1,500 messages (about 75 pages); with no other pair to hand
 * out, its window is split after the first page. The run is SIGKILLed at a named point
 * (functions/adapters/pause-at.ts) while the committed state holds the spans and their cursors;
 * the rerun continues every span and leaves every message exactly once.
 */
import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import type { LocalFolderStore } from '../../functions/adapters/local-folder/local-folder-store.ts';
import { parseShard } from '../../functions/domain/c2c-pairs.ts';
import { conversationOf, parseC2cRecordLine } from '../../functions/domain/c2c-record.ts';
import { c2cHeadKey, parseC2cHead } from '../../functions/domain/c2c-state.ts';
import { runKilledAt, startProcessArchive, useProcessCleanups } from '../helpers/process-archive.ts';

const cleanups = useProcessCleanups();

const ALICE = 'alice.spans';
const BOB = 'bob.spans';

async function start() {
  return startProcessArchive(cleanups, {
    tempPrefix: 'c2c-spans-kill-',
    simulator: {
      seed: 2607,
      latencyMs: 2,
      retentionDays: 7,
      media: false,
      dataset: { groups: 1, activeFraction: 1, messagesPerActiveGroup: [3, 5], historyDays: 1 },
      c2c: { generated: 0, spanDays: 5, conversations: [{ accounts: [ALICE, BOB], messages: 1_500 }] },
    },
    app: { c2c: { pairs: [[ALICE, BOB]] } },
    // A checkpoint every 20 KB of rows: many, so the kill falls between two of them.
    archive: { flushMegabytes: 0.02 },
    run: { checkpointSeconds: 0.3, leaseSeconds: 30 },
    media: { enabled: false },
  });
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

describe('a split one-to-one window under kills', () => {
  it('killed with SIGKILL mid-window while its spans are committed, rerun: every message exactly once', async () => {
    // Prepare
    const t = await start();

    // Act: killed before the 5th write of the pass's state: the second checkpoint's (the first
    // committed the split window; the spans page fast, so a run may make only a few checkpoints).
    const killed = await runKilledAt(t, 'state/c2c/:5', { timeoutMs: 120_000 });

    // Assess: the committed state holds the split window, its spans with their own cursors.
    expect(killed.paused, killed.result.stderr).toBe(true);
    expect(killed.result.signal).toBe('SIGKILL');
    const head = parseC2cHead(
      new TextDecoder().decode((await t.store.get(c2cHeadKey(t.sdkAppId)))?.body),
      t.sdkAppId,
    );
    const shardKey = head.shardKeys.find((k) => k !== null) as string;
    const [pair] = parseShard(new TextDecoder().decode((await t.store.get(shardKey))?.body));
    expect(pair?.window?.spans?.length ?? 0).toBeGreaterThan(1);

    // Act: rerun to the end.
    const rerun = await t.spawnArchive({ timeoutMs: 120_000 }).done;

    // Assess
    expect(rerun.code, rerun.stderr).toBe(0);
    const ids = await archivedIds(t.store);
    const expected = t.sim.c2c.visible(ALICE, BOB).map((m) => `${conversationOf(ALICE, BOB)} ${m.MsgKey}`);
    expect(ids.length).toBe(new Set(ids).size);
    expect(ids.sort()).toEqual(expected.sort());
  }, 300_000);
});
