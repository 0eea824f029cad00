/**
 * The rescan under SIGKILL, with the real CLI in a real process: after a full archive, messages
 * are edited, recalled and deleted inside and outside the rescan window, then rescanning runs are
 * killed at random moments (mid-page, mid-checkpoint) and rerun until one finishes. Afterwards
 * every changed message inside the window has exactly one revision row with the server's current
 * content and the right `change`, nothing else has one, and the first captures are byte for byte
 * intact.
 */
import { describe, expect, it } from 'vitest';
import { type ChangeKind, fromRecord } from '../../functions/domain/record.ts';
import type { RawMessage } from '../../functions/domain/tencent-types.ts';
import {
  exactlyOnceProblems,
  expectedIdentities,
  identity,
  latestRevisions,
  readArchive,
} from '../helpers/archive.ts';
import type { CliResult } from '../helpers/cli.ts';
import {
  killAfterLease,
  sleep,
  startProcessArchive,
  useProcessCleanups,
} from '../helpers/process-archive.ts';
import { seededRandom } from '../helpers/tencent.ts';

const cleanups = useProcessCleanups();

const DAY = 86_400;

describe('rescan killed with SIGKILL at random moments', () => {
  it('records every change inside the window exactly once', async () => {
    const groups = ['A', 'B', 'C', 'D'].map((n) => `@TGS#2KILL${n}`);
    const t = await startProcessArchive(cleanups, {
      tempPrefix: 'rescan-kill-',
      simulator: {
        seed: 31,
        latencyMs: 3,
        retentionDays: 30,
        dataset: {
          groups: 2,
          activeFraction: 1,
          messagesPerActiveGroup: [50, 100],
          historyDays: 6,
          extraGroups: groups.map((groupId) => ({ groupId, type: 'Public' as const, messages: 2_000 })),
        },
      },
      archive: { flushMegabytes: 0.05 },
      run: { checkpointSeconds: 0.2, leaseSeconds: 1.2 },
      // Revisions of messages only: media has its own kill test (kill-resume.test.ts).
      media: { enabled: false },
    });
    const { sim, store, readState } = t;
    const random = seededRandom(77);
    const history: string[] = [];
    let kills = 0;
    /** Kills after some but not all revisions were committed: the rescan died half way. */
    let midRescanKills = 0;
    const expected = new Map<string, ChangeKind>();

    const waitForLease = async () => {
      const state = await readState();
      await sleep(Math.max(0, (state?.lease?.expiresAtMs ?? 0) - Date.now() + 50));
    };
    /** One run; killed `killMs` after it took the lease when given. */
    const archive = async (killMs?: number): Promise<CliResult> => {
      const before = (await readState())?.lease?.owner;
      const run = t.spawnArchive();
      if (killMs !== undefined) await killAfterLease(t, run, before, killMs);
      const result = await run.done;
      const committed = (await readArchive(store)).filter((r) => r.record.revision > 0).length;
      if (result.signal === 'SIGKILL' && committed > 0 && committed < expected.size) midRescanKills++;
      history.push(
        `${killMs === undefined ? 'run' : `kill+${Math.round(killMs)}ms`} -> ${result.code ?? result.signal} (${committed} revisions)`,
      );
      if (result.signal === 'SIGKILL') kills++;
      if (result.code === 75 || result.signal === 'SIGKILL') await waitForLease();
      else if (result.code !== 0 && result.code !== 3)
        throw new Error(`archive exited ${result.code}\n${result.stderr}`);
      return result;
    };
    const untilDone = async () => {
      for (let i = 0; i < 15; i++) if ((await archive()).code === 0) return;
      throw new Error(`no run finished: ${history.join(', ')}`);
    };

    await untilDone();
    const originals = new Map<string, Buffer>();
    for await (const key of store.list('messages/'))
      originals.set(key, Buffer.from((await store.get(key))?.body ?? []));
    // The next cycle must start in a later second than the first capture.
    await sleep(1_100);

    const now = Math.floor(Date.now() / 1000);
    const truth = (g: string) => [...sim.groundTruth(g, { withRecalledMsg: true })];
    const between = (g: string, youngest: number, oldest: number) =>
      truth(g).filter(
        (m) => m.IsPlaceMsg === 0 && m.MsgTimeStamp <= now - youngest && m.MsgTimeStamp >= now - oldest,
      );
    const outside = new Set<string>();
    const kinds: ChangeKind[] = ['modified', 'recalled', 'deleted'];
    for (const [i, g] of groups.entries()) {
      const inside = between(g, 3_600, 3 * DAY - 7_200);
      // Spread over the window, so changes land in several days and checkpoints.
      for (let k = 0; k < 24; k++) {
        const m = inside[Math.floor((k * inside.length) / 24)] as RawMessage;
        const kind = kinds[(k + i) % 3] as ChangeKind;
        if (kind === 'modified') sim.modifyMessage(g, m.MsgSeq);
        if (kind === 'recalled') sim.recallMessage(g, m.MsgSeq);
        if (kind === 'deleted') sim.deleteMessage(g, m.MsgSeq);
        expected.set(identity(g, null, m.MsgSeq), kind);
      }
      for (const m of between(g, 3 * DAY + 7_200, 5 * DAY).slice(0, 3)) {
        sim.modifyMessage(g, m.MsgSeq);
        outside.add(identity(g, null, m.MsgSeq));
      }
    }

    for (let attempt = 0; kills < 4 || midRescanKills < 2; attempt++) {
      if (attempt >= 20) throw new Error(`too few kills landed mid-rescan: ${history.join(', ')}`);
      await archive(random() * 1_500);
    }
    await untilDone();

    const summary = history.join(', ');
    const rows = await readArchive(store);
    expect(exactlyOnceProblems(rows, expectedIdentities(sim), 'UTC'), summary).toEqual([]);
    const revisions = new Map(
      rows
        .filter((r) => r.record.revision > 0)
        .map((r) => [identity(r.record.group_id, r.record.topic_id, r.record.msg_seq), r.record.change]),
    );
    expect(revisions, summary).toEqual(expected);
    const latest = latestRevisions(rows);
    for (const g of groups) {
      for (const m of truth(g)) {
        const id = identity(g, null, m.MsgSeq);
        if (expected.has(id)) expect(fromRecord(latest.get(id) as never), id).toStrictEqual(m);
      }
    }
    for (const id of outside) expect(latest.get(id)?.revision, id).toBe(0);
    for (const [key, body] of originals)
      expect(Buffer.from((await store.get(key))?.body ?? []).equals(body), key).toBe(true);
    if (process.env.KILL_TEST_VERBOSE) console.info(summary);
  }, 300_000);
});
