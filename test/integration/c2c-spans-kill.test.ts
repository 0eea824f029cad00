/**
 * A big pair's window split into spans paged at once (issue 26, deliverable 7; docs/one-to-one.md
 * "Concurrency and pacing", functions/engine/c2c-pull.ts), under kills: the real CLI over the
 * simulator pages one conversation of 1,500 messages (about 75 pages); with no other pair to hand
 * out, its window is split after the first page. The run is SIGKILLed at a named point
 * (functions/adapters/pause-at.ts) while the committed state holds the spans and their cursors;
 * the rerun continues every span and leaves every message exactly once.
 */
import { describe, expect, it } from 'vitest';
import { parseShard } from '../../functions/domain/c2c-pairs.ts';
import { c2cIds, readC2cHead, startC2cProcessArchive, visibleC2cIds } from '../helpers/c2c.ts';
import { runKilledAt, useProcessCleanups } from '../helpers/process-archive.ts';

const cleanups = useProcessCleanups();

const ALICE = 'alice.spans';
const BOB = 'bob.spans';

function start() {
  // A checkpoint every 20 KB of rows (the helper's default): many, so the kill falls between two.
  return startC2cProcessArchive(cleanups, {
    tempPrefix: 'c2c-spans-kill-',
    seed: 2607,
    retentionDays: 7,
    c2c: { spanDays: 5, conversations: [{ accounts: [ALICE, BOB], messages: 1_500 }] },
    app: { pairs: [[ALICE, BOB]] },
  });
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
    const head = await readC2cHead(t);
    const shardKey = head.shardKeys.find((k) => k !== null) as string;
    const [pair] = parseShard(new TextDecoder().decode((await t.store.get(shardKey))?.body));
    expect(pair?.window?.spans?.length ?? 0).toBeGreaterThan(1);

    // Act: rerun to the end.
    const rerun = await t.spawnArchive({ timeoutMs: 120_000 }).done;

    // Assess
    expect(rerun.code, rerun.stderr).toBe(0);
    const ids = await c2cIds(t.store);
    const expected = visibleC2cIds(t.sim, [[ALICE, BOB]]);
    expect(ids.length).toBe(new Set(ids).size);
    expect(ids.sort()).toEqual(expected.sort());
  }, 300_000);
});
