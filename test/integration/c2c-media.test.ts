/**
 * One-to-one media through the group media pipeline (issue 26, deliverable 4; docs/one-to-one.md
 * "Media"): the real CLI over the simulator, whose one-to-one messages carry media its listener
 * serves. Each reference of the conversation gets exactly one manifest row beside the groups', with
 * the status and bytes the simulator meant (verified, stored once by content); a run SIGKILLed at a
 * named point (functions/adapters/pause-at.ts) after the pass wrote its rows and their media queue
 * object but before its checkpoint committed, or in the media stage, then rerun, still gives one row
 * per reference; and the conversation's transcript shows the archived files, accounts escaped.
 */
import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import type { LocalFolderStore } from '../../functions/adapters/local-folder/local-folder-store.ts';
import { runExportCommand } from '../../functions/cli/export-command.ts';
import { mediaRefsOfC2cRecord } from '../../functions/domain/c2c-media.ts';
import { conversationOf, parseC2cRecordLine, toC2cRecord } from '../../functions/domain/c2c-record.ts';
import { c2cHeadKey, parseC2cHead } from '../../functions/domain/c2c-state.ts';
import { type MediaManifestRow, mediaQueuePrefix } from '../../functions/domain/media-manifest.ts';
import type { MediaRef } from '../../functions/domain/media-refs.ts';
import { rerunUntilDone } from '../helpers/c2c.ts';
import { captureExportIo } from '../helpers/export.ts';
import { FakeClock } from '../helpers/fake-clock.ts';
import { expectedMediaRefs, mediaProblems, readManifest } from '../helpers/media.ts';
import {
  type ProcessArchive,
  runKilledAt,
  startProcessArchive,
  useProcessCleanups,
} from '../helpers/process-archive.ts';

const cleanups = useProcessCleanups();

const ALICE = 'alice.media';
/** An account with a bidi override and markup: the transcript must escape and isolate it. */
const BOB = 'bob\u202e"<i>';

async function start(prefix: string): Promise<ProcessArchive> {
  return startProcessArchive(cleanups, {
    tempPrefix: prefix,
    simulator: {
      seed: 2604,
      latencyMs: 2,
      retentionDays: 30,
      // Small files (every fault switch of the media listener at its default share).
      dataset: {
        groups: 1,
        activeFraction: 1,
        messagesPerActiveGroup: [5, 10],
        historyDays: 2,
        mediaMaxBytes: 8_000,
      },
      c2c: {
        generated: 0,
        recalledFraction: 0.05,
        conversations: [{ accounts: [ALICE, BOB], messages: 90 }],
      },
    },
    app: { c2c: { pairs: [[ALICE, BOB]] } },
    run: { checkpointSeconds: 10, leaseSeconds: 30 },
  });
}

/** The references of every message the conversation holds now, as the pass extracts them. */
function conversationRefs(t: ProcessArchive): MediaRef[] {
  return t.sim.c2c
    .visible(ALICE, BOB)
    .flatMap((m) =>
      mediaRefsOfC2cRecord(toC2cRecord(m, { sdkAppId: t.sdkAppId, accounts: [ALICE, BOB], source: 'roam' })),
    );
}

/** Every manifest row is one reference's, group or one-to-one, with the simulator's status and bytes. */
async function expectMediaOnce(t: ProcessArchive): Promise<MediaManifestRow[]> {
  const refs = conversationRefs(t);
  const manifest = await readManifest(t.store);
  expect(
    await mediaProblems(t.sim, t.store, [...expectedMediaRefs(t.sim, t.sdkAppId), ...refs], manifest),
  ).toEqual([]);
  const rows = manifest.filter((r) => r.msg_key !== null);
  expect(rows).toHaveLength(refs.length);
  return rows;
}

/** Every message of the conversation once. */
async function expectRowsOnce(t: ProcessArchive): Promise<void> {
  const keys: string[] = [];
  for await (const key of (t.store as LocalFolderStore).list('c2c/')) {
    const object = await t.store.get(key);
    for (const line of gunzipSync(object?.body as Uint8Array)
      .toString('utf8')
      .split('\n')) {
      if (line !== '') keys.push(parseC2cRecordLine(line).msg_key as string);
    }
  }
  expect(keys.sort()).toEqual(
    t.sim.c2c
      .visible(ALICE, BOB)
      .map((m) => m.MsgKey)
      .sort(),
  );
}

describe('one-to-one media through the CLI', () => {
  it('copies each reference once beside the groups’, adds none on a second run, and the transcript shows them', async () => {
    // Prepare
    const t = await start('c2c-media-');
    // Act
    const first = await t.spawnArchive({ timeoutMs: 120_000 }).done;
    // Assess
    expect(first.code, first.stderr).toBe(0);
    const rows = await expectMediaOnce(t);
    expect(rows.every((r) => r.group_id === conversationOf(ALICE, BOB))).toBe(true);
    // The one-to-one share of the run's media references, on the printed one-to-one line.
    expect(first.stdout).toContain(`, ${rows.length} media references`);
    const images = rows.filter((r) => r.kind === 'image' && r.status === 'archived');
    expect(images.length).toBeGreaterThan(0);

    const second = await t.spawnArchive({ timeoutMs: 120_000 }).done;
    expect(second.code, second.stderr).toBe(0);
    expect(await expectMediaOnce(t)).toHaveLength(rows.length);

    const out = join(t.dir, 'conversation.html');
    const io = captureExportIo({ clock: new FakeClock(Date.UTC(2026, 11, 8)) });
    const code = await runExportCommand(
      [
        'transcript',
        '--conversation',
        `${ALICE},${BOB}`,
        '--archive',
        t.archiveDir,
        '--time-zone',
        'UTC',
        '--out',
        out,
      ],
      io.deps,
    );
    expect(code, io.err.join('')).toBe(0);
    const archived = rows.filter((r) => r.status === 'archived');
    const shas = new Set(archived.map((r) => r.sha256));
    expect(io.out.join('')).toContain(`and ${shas.size} media files to`);
    const html = await readFile(out, 'utf8');
    // Each archived image is shown from the folder beside the page, whose files are the stored bytes.
    expect(html.match(/<img src="conversation_files\//g)?.length).toBeGreaterThanOrEqual(images.length);
    const copied = await readdir(join(t.dir, 'conversation_files'));
    expect(copied).toHaveLength(shas.size);
    for (const name of copied) {
      const bytes = await readFile(join(t.dir, 'conversation_files', name));
      expect(shas.has(createHash('sha256').update(bytes).digest('hex')), name).toBe(true);
    }
    // The account is escaped and bidi-isolated as before.
    expect(html).not.toContain('\u202e');
    expect(html).not.toContain('<i>');
  });

  it.each([
    // After the pass wrote its rows and their media queue object, before its shard and head.
    { point: (t: ProcessArchive) => `state/c2c/sdkappid=${t.sdkAppId}/shard-`, midCheckpoint: true },
    // In the media stage: before its first manifest object.
    { point: () => 'media-manifest/', midCheckpoint: false },
  ])(
    'killed with SIGKILL at a named point (mid-checkpoint: $midCheckpoint), rerun: one manifest row per reference',
    async ({ point, midCheckpoint }) => {
      // Prepare
      const t = await start('c2c-media-kill-');
      // Act
      const killed = await runKilledAt(t, point(t), { timeoutMs: 120_000 });
      expect(killed.paused).toBe(true);
      expect(killed.result.signal).toBe('SIGKILL');
      if (midCheckpoint) {
        // The intent names a media queue object that is written: the next run must roll it back
        // before its media stage lists the queue, or its references would be copied twice.
        const stored = await t.store.get(c2cHeadKey(t.sdkAppId));
        const pending = parseC2cHead(new TextDecoder().decode(stored?.body), t.sdkAppId).pending;
        const queued = pending?.objects.filter((k) => k.startsWith(mediaQueuePrefix(t.sdkAppId))) ?? [];
        expect(queued).toHaveLength(1);
        expect(await t.store.get(queued[0] as string)).toBeDefined();
      }
      await rerunUntilDone(t);
      // Assess
      await expectRowsOnce(t);
      await expectMediaOnce(t);
    },
  );
});
