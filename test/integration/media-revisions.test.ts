/**
 * Media of later revisions: an edit that adds an image (found by the rescan as a `modified`
 * revision) gets the image copied like any other, with its manifest row keyed to the revision row,
 * and the `message_media` view (DuckDB) joins it to that revision, not to the first capture.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { LocalFolderStore } from '../../functions/adapters/local-folder/local-folder-store.ts';
import { systemClock } from '../../functions/adapters/system-clock.ts';
import { openArchiveRunner } from '../../functions/cli/query-runners.ts';
import { mediaObjectKey } from '../../functions/domain/media-manifest.ts';
import type { JsonValue, RawMessage } from '../../functions/domain/tencent-types.ts';
import { runArchive } from '../../functions/engine/run-archive.ts';
import { collectRows } from '../../functions/query/result.ts';
import { startSimulator } from '../../functions/simulator/index.ts';
import { readArchive } from '../helpers/archive.ts';
import { silentLogger, testRunOptions } from '../helpers/engine.ts';
import { readManifest, simMediaFetcher } from '../helpers/media.ts';
import { clientFor } from '../helpers/tencent.ts';

/** A message body as an array of elements (the simulator's bodies always are). */
const bodyOf = (m: RawMessage): { MsgType?: JsonValue }[] =>
  Array.isArray(m.MsgBody) ? (m.MsgBody as { MsgType?: JsonValue }[]) : [];
/** Resolves once the wall clock has entered a later second than now. */
async function untilNextSecond(): Promise<void> {
  const second = Math.floor(Date.now() / 1000);
  while (Math.floor(Date.now() / 1000) === second) {
    await new Promise((resolve) => setTimeout(resolve, 1_000 - (Date.now() % 1000) + 1));
  }
}

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()?.();
});

describe('media of later revisions', () => {
  it('copies the image an edit added, with its manifest row keyed to the revision row', async () => {
    // Prepare: the strict default media simulation; one run archives everything.
    const sim = await startSimulator({
      seed: 31,
      rateLimits: { get_appid_group_list: 1_000, get_group_info: 5_000, group_msg_get_simple: 5_000 },
      retentionDays: 30,
      dataset: {
        groups: 3,
        activeFraction: 1,
        messagesPerActiveGroup: [30, 40],
        historyDays: 2,
        mediaMaxBytes: 4_000,
      },
    });
    cleanups.push(() => sim.stop());
    const dir = await mkdtemp(join(tmpdir(), 'media-revisions-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    const store = new LocalFolderStore(dir);
    // The client paces on the real clock, as the simulator counts its rate limits; only the
    // downloader's back-off sleeps are virtual (`clock`: the media listener has no rate limit).
    const { client, app, clock } = clientFor(sim, {
      clock: systemClock,
      rateLimits: { groupMsgGetSimple: 2_000, getGroupInfo: 2_000, getAppidGroupList: 100, getTopic: 2_000 },
    });
    const fetcher = simMediaFetcher(sim, client, clock, { tempName: 'media-revisions-test' });
    const options = testRunOptions(app.sdkAppId, {
      flushBytes: 64 * 1024,
      concurrency: 8,
      rescanDays: 3,
      retentionDays: 30,
      media: { enabled: true, concurrency: 8, imageSizes: ['original'], retentionDays: 30 },
    });
    const run = (runId: string) =>
      runArchive(
        { api: client, store, clock: systemClock, logger: silentLogger, media: { fetcher, store } },
        { ...options, runId },
      );
    await run('run-first');
    const before = await readManifest(store);
    // A text-only message, edited to carry an image besides its text.
    const group = sim.groups().find((g) => !g.topicsEnabled && g.nextMsgSeq > 5);
    const groupId = group?.groupId ?? '';
    const message = [...sim.groundTruth(groupId)].find(
      (m) => m.IsPlaceMsg === 0 && bodyOf(m).every((e) => e.MsgType === 'TIMTextElem'),
    );
    if (!message) throw new Error('no text-only message');
    const image = sim.mediaElement({ kind: 'image', id: 'edit-adds-an-image', bytes: 50_000 });
    sim.modifyMessage(groupId, message.MsgSeq, {
      body: [...(bodyOf(message) as unknown as JsonValue[]), image as unknown as JsonValue],
    });
    const url = String((image.MsgContent.ImageInfoArray as { URL: string }[])[0]?.URL);
    // The rescan compares only captures from before its cycle's first second (isCandidate in
    // functions/domain/rescan-plan.ts): a first run that ended within the second the next one
    // starts in would hide the edit. So the next run starts in a later second, however fast.
    await untilNextSecond();

    // Act
    const second = await run('run-second');

    // Assess: one new revision row, one new manifest row for its image, keyed to that revision.
    expect(second.rescan.modified).toBe(1);
    const revisions = (await readArchive(store))
      .map((r) => r.record)
      .filter((r) => r.group_id === groupId && r.msg_seq === message.MsgSeq);
    expect(revisions.map((r) => [r.revision, r.change])).toEqual([
      [0, null],
      [1, 'modified'],
    ]);
    const after = await readManifest(store);
    const added = after.filter((r) => !before.some((b) => JSON.stringify(b) === JSON.stringify(r)));
    expect(added).toHaveLength(1);
    const truth = sim.mediaTruth(url);
    expect(added[0]).toMatchObject({
      group_id: groupId,
      msg_seq: message.MsgSeq,
      revision: 1,
      element_path: String(bodyOf(message).length),
      status: 'archived',
      url,
      sha256: truth?.sha256,
      bytes: 50_000,
    });
    expect(await store.get(mediaObjectKey(String(truth?.sha256)))).toBeDefined();
    expect(before.every((r) => r.revision === 0)).toBe(true);
    // The view joins the image to the revision that has it.
    const db = await openArchiveRunner({
      archive: store.location,
      timeZone: 'UTC',
      clock: systemClock,
      workGroup: 'wg',
      database: 'db',
    });
    cleanups.push(async () => db.close());
    const joined = await collectRows(
      await db.run(
        `SELECT count(*) FROM message_media WHERE group_id = '${groupId}' AND msg_seq = ${message.MsgSeq}`,
      ),
    );
    expect(joined.map((row) => row.map(Number))).toEqual([[1]]);
  }, 60_000);
});
