/**
 * The rescan end to end, in process: the simulator over real HTTP and a local folder. Messages are
 * edited, recalled and deleted between runs, inside and outside the rescan window, with the local
 * clock two days behind the server's (the window must follow the server). Afterwards every change
 * inside the window has exactly one new revision row with the server's current content, nothing
 * outside the window or unchanged has one, the original objects are byte for byte intact, and
 * DuckDB's `messages_latest` / `message_changes` agree with the simulator's ground truth.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalFolderStore } from '../../functions/adapters/local-folder/local-folder-store.ts';
import { systemClock } from '../../functions/adapters/system-clock.ts';
import { openArchiveRunner } from '../../functions/cli/query-runners.ts';
import { type ArchiveRecord, type ChangeKind, fromRecord } from '../../functions/domain/record.ts';
import type { RawMessage } from '../../functions/domain/tencent-types.ts';
import type { RunReport } from '../../functions/engine/report.ts';
import { collectRows } from '../../functions/query/result.ts';
import {
  PLACEHOLDER_READINGS,
  type PlaceholderReading,
  type Simulator,
} from '../../functions/simulator/index.ts';
import {
  type ArchivedRow,
  exactlyOnceProblems,
  expectedIdentities,
  identity,
  latestRevisions,
  readArchive,
} from '../helpers/archive.ts';
import { engineRun, startEngineSimulator } from '../helpers/engine.ts';
import { FakeClock } from '../helpers/fake-clock.ts';

const DAY = 86_400;
const RESCAN_DAYS = 3;
const TOPIC = '@TGS#_@TGS#cRESCAN@TOPIC#_@TOPIC#cA';

// The whole story runs on each reading of a deleted placeholder (world.ts): with its time kept,
// and with every field zeroed (MsgTimeStamp 0), where only the archive knows the message's time.
describe.each(PLACEHOLDER_READINGS)('%s placeholders', (placeholders: PlaceholderReading) => {
  let sim: Simulator;
  let dir = '';
  let store: LocalFolderStore;
  /** The engine's (local) clock: two days behind the server. */
  const local = new FakeClock(Date.now() - 2 * DAY * 1000);
  let runs = 0;

  async function run(): Promise<RunReport> {
    const report = await engineRun(sim, store, {
      clock: local,
      // The client paces on the real clock the simulator's rate limit counts; only the engine's is behind.
      client: { clock: systemClock },
      runId: `rescan${runs++}`,
      flushBytes: 30_000,
      concurrency: 8,
      rescanDays: RESCAN_DAYS,
      retentionDays: 30,
    }).run();
    local.advance(3_600_000);
    return report;
  }

  interface Stream {
    groupId: string;
    topicId?: string;
  }

  function streams(): Stream[] {
    const out: Stream[] = [];
    for (const g of sim.groups()) {
      if (g.deleted || g.type === 'AVChatRoom') continue;
      if (g.topicsEnabled) for (const t of g.topics) out.push({ groupId: g.groupId, topicId: t.topicId });
      else out.push({ groupId: g.groupId });
    }
    return out;
  }

  const truthOf = (s: Stream): RawMessage[] => [
    ...sim.groundTruth(s.groupId, { withRecalledMsg: true, ...(s.topicId ? { topicId: s.topicId } : {}) }),
  ];
  const serverNowSec = () => Math.floor(Date.now() / 1000);
  const idOf = (s: Stream, seq: number) => identity(s.groupId, s.topicId ?? null, seq);

  /** Normal messages of a stream between two ages (seconds before the server's now). */
  function normalBetween(s: Stream, youngest: number, oldest: number): RawMessage[] {
    const now = serverNowSec();
    return truthOf(s).filter(
      (m) => m.IsPlaceMsg === 0 && m.MsgTimeStamp <= now - youngest && m.MsgTimeStamp >= now - oldest,
    );
  }

  /** What changed where, as the test applied it: identity -> expected change kind. */
  const expected = new Map<string, ChangeKind>();
  const outside = new Set<string>();
  const unchangedOnPurpose = new Set<string>();
  let originals = new Map<string, Buffer>();
  let afterRun2: ArchivedRow[] = [];

  beforeAll(async () => {
    sim = await startEngineSimulator({
      seed: 5,
      placeholders,
      retentionDays: 30,
      dataset: {
        groups: 3,
        activeFraction: 1,
        messagesPerActiveGroup: [100, 200],
        historyDays: 8,
        deletedFraction: 0.01,
        recalledFraction: 0.02,
        extraGroups: [
          // Extra groups span the whole history: messages on both sides of the window's edge.
          ...['A', 'B', 'C', 'D'].map((n) => ({
            groupId: `@TGS#2RESCAN${n}`,
            type: 'Public' as const,
            messages: 320,
          })),
          {
            groupId: '@TGS#_@TGS#cRESCAN',
            type: 'Community',
            messages: 0,
            topics: [{ topicId: TOPIC, messages: 120 }],
          },
        ],
      },
    });
    dir = await mkdtemp(join(tmpdir(), 'rescan-'));
    store = new LocalFolderStore(dir);
  });

  afterAll(async () => {
    await sim?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  describe('rescan', () => {
    it('first run: archives everything and compares nothing it has just archived', async () => {
      const report = await run();
      expect(report.done).toBe(true);
      expect(report.rescan).toMatchObject({ days: RESCAN_DAYS, complete: true, checked: 0, modified: 0 });
      const rows = await readArchive(store);
      expect(exactlyOnceProblems(rows, expectedIdentities(sim), 'UTC')).toEqual([]);
      expect(rows.every((r) => r.record.revision === 0 && r.record.observed_at !== null)).toBe(true);
      originals = new Map();
      for await (const key of store.list('messages/'))
        originals.set(key, Buffer.from((await store.get(key))?.body ?? []));
      expect(originals.size).toBeGreaterThan(2);
    });

    it('second run: one new revision per change inside the window, none outside or for unchanged messages', async () => {
      const inside = (s: Stream) => normalBetween(s, 3_600, RESCAN_DAYS * DAY - 7_200);
      const old = (s: Stream) => normalBetween(s, RESCAN_DAYS * DAY + 7_200, 7 * DAY);
      // Groups with enough history on both sides of the window's edge.
      const busy = streams().filter((s) => !s.topicId && inside(s).length >= 12 && old(s).length >= 3);
      expect(busy.length).toBeGreaterThanOrEqual(4);
      const [a, b, c, d] = busy as [Stream, Stream, Stream, Stream];
      const topic = streams().find((s) => s.topicId === TOPIC) as Stream;
      const take = (list: RawMessage[], n: number) => list.slice(0, n);
      // Inside the window.
      for (const m of take(inside(a), 4)) {
        sim.modifyMessage(a.groupId, m.MsgSeq);
        expected.set(idOf(a, m.MsgSeq), 'modified');
      }
      const twice = inside(a)[10] as RawMessage;
      sim.modifyMessage(a.groupId, twice.MsgSeq);
      sim.modifyMessage(a.groupId, twice.MsgSeq, {
        body: [{ MsgType: 'TIMTextElem', MsgContent: { Text: 'second edit' } }],
      });
      expected.set(idOf(a, twice.MsgSeq), 'modified');
      const dataOnly = inside(b)[0] as RawMessage;
      sim.modifyMessage(b.groupId, dataOnly.MsgSeq, { cloudCustomData: '{"pinned":true}' });
      expected.set(idOf(b, dataOnly.MsgSeq), 'modified');
      for (const m of take(inside(b).slice(2), 3)) {
        sim.recallMessage(b.groupId, m.MsgSeq);
        expected.set(idOf(b, m.MsgSeq), 'recalled');
      }
      for (const m of take(inside(c), 3)) {
        sim.deleteMessage(c.groupId, m.MsgSeq);
        expected.set(idOf(c, m.MsgSeq), 'deleted');
      }
      const recalledThenDeleted = inside(c)[5] as RawMessage;
      sim.recallMessage(c.groupId, recalledThenDeleted.MsgSeq);
      sim.deleteMessage(c.groupId, recalledThenDeleted.MsgSeq);
      expected.set(idOf(c, recalledThenDeleted.MsgSeq), 'deleted');
      const topicEdit = inside(topic)[0] as RawMessage;
      sim.modifyMessage(topic.groupId, topicEdit.MsgSeq, { topicId: TOPIC });
      expected.set(idOf(topic, topicEdit.MsgSeq), 'modified');
      // Changed and changed back between two runs: not seen.
      const back = inside(d)[0] as RawMessage;
      sim.modifyMessage(d.groupId, back.MsgSeq);
      sim.modifyMessage(d.groupId, back.MsgSeq, { body: back.MsgBody as RawMessage['MsgBody'] as never });
      unchangedOnPurpose.add(idOf(d, back.MsgSeq));
      // Outside the window (older than 3 days on the server's clock, younger on the local one).
      for (const m of take(old(d), 2)) {
        sim.modifyMessage(d.groupId, m.MsgSeq);
        outside.add(idOf(d, m.MsgSeq));
      }
      for (const m of take(old(a), 2)) {
        sim.recallMessage(a.groupId, m.MsgSeq);
        outside.add(idOf(a, m.MsgSeq));
      }
      expect(old(a).length).toBeGreaterThan(2);

      const report = await run();
      expect(report.done).toBe(true);
      const count = (kind: ChangeKind) => [...expected.values()].filter((k) => k === kind).length;
      expect(report.rescan).toMatchObject({
        complete: true,
        modified: count('modified'),
        recalled: count('recalled'),
        deleted: count('deleted'),
        restored: 0,
      });
      expect(report.rescan.calls).toBeGreaterThan(0);
      expect(report.rescan.checked).toBeGreaterThan(100);

      const rows = await readArchive(store);
      afterRun2 = rows;
      expect(exactlyOnceProblems(rows, expectedIdentities(sim), 'UTC')).toEqual([]);
      const revisions = rows.filter((r) => r.record.revision > 0);
      expect(
        new Map(
          revisions.map((r) => [
            idOf(
              { groupId: r.record.group_id, ...(r.record.topic_id ? { topicId: r.record.topic_id } : {}) },
              r.record.msg_seq,
            ),
            r.record.change,
          ]),
        ),
      ).toEqual(expected);
      expect(
        revisions.every(
          (r) => r.record.revision === 1 && (r.record.observed_at ?? 0) > (rows[0]?.record.observed_at ?? 0),
        ),
      ).toBe(true);
      // A deletion's row is exactly as served, and lands in the dt of the message it deletes.
      const deletions = revisions.filter((r) => r.record.change === 'deleted');
      expect(deletions.length).toBe(count('deleted'));
      for (const row of deletions) {
        expect(row.record.msg_time === 0, row.key).toBe(placeholders === 'zeroed');
        const first = rows.find(
          (r) =>
            r.record.revision === 0 &&
            r.record.group_id === row.record.group_id &&
            r.record.msg_seq === row.record.msg_seq,
        );
        expect(row.dt).toBe(first?.dt);
      }
      // The originals are untouched, byte for byte.
      for (const [key, body] of originals)
        expect(Buffer.from((await store.get(key))?.body ?? []).equals(body), key).toBe(true);
    });

    it('the latest revision equals the server for the whole window; outside it the first capture stays', async () => {
      const latest = latestRevisions(afterRun2);
      const windowStart = serverNowSec() - RESCAN_DAYS * DAY + 60;
      let compared = 0;
      for (const s of streams()) {
        for (const m of truthOf(s)) {
          const record = latest.get(idOf(s, m.MsgSeq)) as ArchiveRecord;
          if (m.MsgTimeStamp < windowStart) continue;
          expect(fromRecord(record), idOf(s, m.MsgSeq)).toStrictEqual(m);
          compared++;
        }
      }
      expect(compared).toBeGreaterThan(200);
      for (const id of [...outside, ...unchangedOnPurpose]) expect(latest.get(id)?.revision, id).toBe(0);
    });

    it('an unchanged archive gets no new rows; a further change becomes revision 2', async () => {
      const quiet = await run();
      expect(quiet.rescan).toMatchObject({
        modified: 0,
        recalled: 0,
        deleted: 0,
        restored: 0,
        complete: true,
      });
      expect(quiet.rescan.checked).toBeGreaterThan(100);
      expect((await readArchive(store)).length).toBe(afterRun2.length);
      const [id] = [...expected].find(([, kind]) => kind === 'modified') ?? [];
      const [groupId, , seq] = (id as string).split('|') as [string, string, string];
      sim.modifyMessage(groupId, Number(seq), {
        body: [{ MsgType: 'TIMTextElem', MsgContent: { Text: 'third' } }],
      });
      const again = await run();
      expect(again.rescan.modified).toBe(1);
      const rows = await readArchive(store);
      expect(exactlyOnceProblems(rows, expectedIdentities(sim), 'UTC')).toEqual([]);
      const third = rows.filter((r) => r.record.revision === 2);
      expect(third.map((r) => [r.record.msg_seq, r.record.text, r.record.change])).toEqual([
        [Number(seq), 'third', 'modified'],
      ]);
    });

    it('DuckDB answers messages_latest and message_changes with the ground truth counts', async () => {
      const db = await openArchiveRunner({
        archive: dir,
        timeZone: 'UTC',
        clock: systemClock,
        workGroup: 'wg',
        database: 'db',
      });
      try {
        const rows = await readArchive(store);
        const ids = expectedIdentities(sim);
        expect(await collectRows(await db.run('SELECT count(*) FROM messages_latest'))).toEqual([
          [String(ids.length)],
        ]);
        const changes = rows.filter((r) => r.record.revision > 0).length;
        expect(await collectRows(await db.run('SELECT count(*) FROM message_changes'))).toEqual([
          [String(changes)],
        ]);
        let recalled = 0;
        let deleted = 0;
        for (const s of streams())
          for (const m of truthOf(s)) {
            if (m.IsPlaceMsg === 2) recalled++;
            if (m.IsPlaceMsg === 1) deleted++;
          }
        // Outside the window the archive keeps the first capture: the recalls there are not claimed.
        expect(
          await collectRows(
            await db.run(
              'SELECT count_if(is_place_msg = 2), count_if(is_place_msg = 1) FROM messages_latest',
            ),
          ),
        ).toEqual([[String(recalled - 2), String(deleted)]]);
        // A deletion is the latest revision of its message, found by its identity (dt included:
        // the revision lies beside the first capture), and exactly as served.
        expect(
          await collectRows(
            await db.run(
              "SELECT count(*), count_if(msg_time = 0), count_if(revision = 1) FROM messages_latest WHERE change = 'deleted'",
            ),
          ),
        ).toEqual([['4', placeholders === 'zeroed' ? '4' : '0', '4']]);
        expect(
          await collectRows(
            await db.run('SELECT change, count(*) FROM message_changes GROUP BY change ORDER BY change'),
          ),
        ).toEqual([
          ['deleted', '4'],
          ['modified', String([...expected.values()].filter((k) => k === 'modified').length + 1)],
          ['recalled', '3'],
        ]);
      } finally {
        db.close();
      }
    });
  });
});
