/**
 * The name views over what the capture really writes (issue 24): the engine archives the simulator
 * with identity capture into a local folder, then `messages_named` on DuckDB names every message
 * as the simulator served its sender and group at the time: a first run, then a second run after
 * every member of one group is renamed and the group too, where the old messages keep the old
 * names and the new ones (sent after the second run's observed_at) get the new names.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalFolderStore } from '../../functions/adapters/local-folder/local-folder-store.ts';
import { systemClock } from '../../functions/adapters/system-clock.ts';
import { openArchiveRunner } from '../../functions/cli/query-runners.ts';
import { DEFAULT_IDENTITY_OPTIONS } from '../../functions/engine/identity-capture.ts';
import type { RunOptions } from '../../functions/engine/run-archive.ts';
import { collectRows } from '../../functions/query/result.ts';
import type { Simulator } from '../../functions/simulator/index.ts';
import { engineRun, startEngineSimulator } from '../helpers/engine.ts';

const ZONE = 'Asia/Shanghai';
const DATASET = {
  groups: 5,
  activeFraction: 1,
  messagesPerActiveGroup: [20, 40] as [number, number],
  historyDays: 2,
};

let sim: Simulator;
let dir = '';
beforeAll(async () => {
  sim = await startEngineSimulator({ seed: 2424, retentionDays: 3650, dataset: DATASET, media: false });
  dir = await mkdtemp(join(tmpdir(), 'names-capture-'));
});
afterAll(async () => {
  await sim?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** What the simulator serves now, per group and account: the name shown and the role. */
function servedNames(groupIds: readonly string[]): Map<string, [name: string, role: string | null]> {
  const served = new Map<string, [string, string | null]>();
  for (const groupId of groupIds) {
    for (const member of sim.identities.members(groupId)) {
      const nick = sim.identities.nick(member.account) ?? '';
      const name = member.nameCard !== '' ? member.nameCard : nick !== '' ? nick : member.account;
      served.set(`${groupId}\n${member.account}`, [name, member.role]);
    }
  }
  return served;
}

/** The name and role expected for `sender` in `groupId` from `served`; a sender who is no member (the app admin): the nickname, no role. */
function expected(
  served: Map<string, [string, string | null]>,
  groupId: string,
  sender: string,
): [string, string | null] {
  return served.get(`${groupId}\n${sender}`) ?? [sim.identities.nick(sender) || sender, null];
}

interface NamedRow {
  groupId: string;
  sender: string;
  msgTime: number;
  fromName: string;
  fromRole: string | null;
  groupName: string | null;
}

async function namedRows(): Promise<NamedRow[]> {
  const db = await openArchiveRunner({
    archive: dir,
    timeZone: ZONE,
    clock: systemClock,
    workGroup: 'wg',
    database: 'db',
  });
  try {
    const rows = await collectRows(
      await db.run(
        "SELECT group_id, sender, msg_time, from_name, from_role, group_name FROM messages_named WHERE sender <> '' ORDER BY group_id, msg_time, msg_seq",
      ),
    );
    expect(await collectRows(await db.run('SELECT count(*) FROM messages_named'))).toEqual(
      await collectRows(await db.run('SELECT count(*) FROM messages_flat')),
    );
    return rows.map(([groupId, sender, msgTime, fromName, fromRole, groupName]) => ({
      groupId: groupId as string,
      sender: sender as string,
      msgTime: Number(msgTime),
      fromName: fromName as string,
      fromRole: fromRole ?? null,
      groupName: groupName ?? null,
    }));
  } finally {
    db.close();
  }
}

describe('messages_named over the capture', () => {
  it('names each message as served at its time, before and after renames', async () => {
    const engine = engineRun(sim, new LocalFolderStore(dir), { timeZone: ZONE });
    const identities = { ...DEFAULT_IDENTITY_OPTIONS, maxCallShare: 0.5 };
    const runAt = async (observedAtSec: number) => {
      const report = await engine.run({
        runId: `n${observedAtSec}`,
        observedAtSec,
        identities,
      } as Partial<RunOptions>);
      expect(report.fatalError).toBeUndefined();
    };
    const groupIds = sim
      .groups()
      .filter((g) => !g.deleted && g.type !== 'AVChatRoom')
      .map((g) => g.groupId);
    const t0 = Math.floor(Date.now() / 1000) - 3_600;
    await runAt(t0);
    const before = servedNames(groupIds);
    const groupNamesBefore = new Map(groupIds.map((id) => [id, sim.identities.groupName(id)]));

    const first = await namedRows();
    expect(first.length).toBeGreaterThan(50);
    for (const row of first) {
      expect([row.fromName, row.fromRole], `${row.groupId} ${row.sender}`).toEqual(
        expected(before, row.groupId, row.sender),
      );
      expect(row.groupName).toBe(groupNamesBefore.get(row.groupId));
    }

    // Rename every member of one group (nicknames) and the group; then new messages there.
    const target = sim.groups().find((g) => groupIds.includes(g.groupId) && g.nextMsgSeq > 1)
      ?.groupId as string;
    for (const member of sim.identities.members(target))
      if (sim.identities.nick(member.account) !== undefined)
        sim.identities.renameUser(member.account, `${member.account} renamed`);
    sim.identities.renameGroup(target, 'Renamed group');
    const t1 = Math.floor(Date.now() / 1000) - 1;
    sim.appendMessages(target, 20);
    await runAt(t1);
    const after = servedNames([target]);

    const second = (await namedRows()).filter((r) => r.groupId === target);
    const newer = second.filter((r) => r.msgTime >= t1);
    const older = second.filter((r) => r.msgTime < t1);
    expect(newer.length).toBeGreaterThan(0);
    expect(older.length).toBeGreaterThan(0);
    for (const row of older) {
      expect(row.fromName).toBe(expected(before, target, row.sender)[0]);
      expect(row.groupName).toBe(groupNamesBefore.get(target));
    }
    for (const row of newer) {
      expect(row.fromName).toBe(expected(after, target, row.sender)[0]);
      expect(row.groupName).toBe('Renamed group');
    }
    // Someone in the new messages goes by the new nickname (not every sender has a name card).
    expect(newer.some((r) => r.fromName === `${r.sender} renamed`)).toBe(true);
  });
});
