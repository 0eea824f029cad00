/**
 * The rescan under SIGKILL, with the real CLI in a real process: after a full archive, messages
 * are edited, recalled and deleted inside and outside the rescan window, then rescanning runs are
 * killed while paused at named points (mid-rescan, mid-checkpoint, between the commit and the
 * saved progress) and rerun until one finishes. Afterwards
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
import { writeSimulatorConfig } from '../helpers/cli.ts';
import {
  PROCESS_APP,
  runKilledAt,
  sleep,
  startProcessArchive,
  useProcessCleanups,
} from '../helpers/process-archive.ts';

const cleanups = useProcessCleanups();

const DAY = 86_400;
/** A run on a loaded machine may take minutes: the CLI's safety net only catches a hang. */
const SLOW_MACHINE = { timeoutMs: 240_000 };

/**
 * Where the rescanning runs are killed, one run each (`ARCHIVER_TEST_PAUSE_AT`, see
 * functions/adapters/pause-at.ts); every checkpoint writes a message part, its fingerprint log,
 * the state, then the rescan progress.
 */
const KILL_POINTS = [
  // Mid-rescan: one checkpoint committed, the next one's part not written yet.
  'messages/:2',
  // Mid-checkpoint: the part written, its fingerprint log not (the next run rolls it back).
  'fingerprints/:1',
  // Committed but the progress not saved: the next run compares that window again.
  'rescan/:2',
  'messages/:3',
];

describe('rescan killed with SIGKILL at named points', () => {
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
          extraGroups: groups.map((groupId) => ({ groupId, type: 'Public' as const, messages: 1_200 })),
        },
      },
      archive: { flushMegabytes: 0.05 },
      // Nothing is killed before the rescan: a lease no loaded machine outlasts.
      run: { checkpointSeconds: 1, leaseSeconds: 60 },
      // Revisions of messages only: media has its own kill test (kill-resume.test.ts).
      media: { enabled: false },
    });
    const { sim, store } = t;
    const history: string[] = [];
    /** Kills after some but not all revisions were committed: the rescan died half way. */
    let midRescanKills = 0;
    const expected = new Map<string, ChangeKind>();

    /** One run; killed while paused at `point` when given (it must get there). */
    const archive = async (point?: string): Promise<CliResult> => {
      const { result, paused } =
        point === undefined
          ? { result: await t.spawnArchive(SLOW_MACHINE).done, paused: false }
          : await runKilledAt(t, point, SLOW_MACHINE);
      const committed = (await readArchive(store)).filter((r) => r.record.revision > 0).length;
      history.push(`${point ?? 'run'} -> ${result.code ?? result.signal} (${committed} revisions)`);
      if (point !== undefined && !paused)
        throw new Error(`the run never reached ${point}: ${history.join(', ')}\n${result.stderr}`);
      if (paused && committed > 0 && committed < expected.size) midRescanKills++;
      // A killed run's lease is taken over at once (its process is gone): never exit 75.
      if (!paused && result.code !== 0 && result.code !== 3)
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

    // The rescan one window at a time, a checkpoint after every window with a change (any row is
    // over the flush size; no checkpoint is due by time): the same writes in the same order on any
    // machine, so each named point below is reached, and with a known part of the rescan done.
    await writeSimulatorConfig(sim, t.dir, {
      app: { ...PROCESS_APP, maxConcurrency: 1, retentionDays: 30 },
      archive: { flushMegabytes: 0.0001 },
      run: { checkpointSeconds: 30, leaseSeconds: 60 },
      media: { enabled: false },
    });
    for (const point of KILL_POINTS) await archive(point);
    await untilDone();

    const summary = history.join(', ');
    // Every kill landed after the first checkpoint of the rescan and before its last.
    expect(midRescanKills, summary).toBe(KILL_POINTS.length);
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
  }, 600_000);
});
