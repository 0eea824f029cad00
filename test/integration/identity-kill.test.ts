/**
 * The identity capture killed with SIGKILL, with the real CLI in a real process (issue 24): each
 * run stops dead before a named write of the capture (functions/adapters/pause-at.ts: the intent,
 * a rows object, a shard, the head), is killed, names change on the server, and the next run goes
 * on. Afterwards every change is recorded exactly once (no key has two consecutive rows with the
 * same values), every row holds a value the server served at some time, and the last row of every
 * key looked up by the last run is what the server serves now.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import type { LocalFolderStore } from '../../functions/adapters/local-folder/local-folder-store.ts';
import { gunzipNdjson } from '../../functions/domain/ndjson-gzip.ts';
import { runKilledAt, startProcessArchive, useProcessCleanups } from '../helpers/process-archive.ts';

const cleanups = useProcessCleanups();

/**
 * Where runs are killed (`<key prefix>:<nth>` write of the process): before the intent, before the
 * first rows object (intent written), before the members' rows, between shards, before the head.
 */
const POINTS = [
  'state/identities/:1',
  'identities/:1',
  'identities/members/:1',
  'state/identities/:3',
  'state/identities/:6',
];

type Row = Record<string, unknown>;

async function rowsOf(store: LocalFolderStore, kind: string): Promise<Row[]> {
  const rows: Row[] = [];
  for await (const key of store.list(`identities/${kind}/`)) {
    const object = await store.get(key);
    if (!object) continue;
    for (const line of gunzipNdjson(object.body)) if (line !== '') rows.push(JSON.parse(line) as Row);
  }
  return rows;
}

describe('identity capture killed at named points', () => {
  it('records every change exactly once, and only values the server served', async () => {
    const t = await startProcessArchive(cleanups, {
      tempPrefix: 'identity-kill-',
      simulator: {
        seed: 31,
        latencyMs: 2,
        retentionDays: 3_650,
        dataset: { groups: 8, activeFraction: 1, messagesPerActiveGroup: [30, 80], historyDays: 3 },
        media: false,
      },
      run: { checkpointSeconds: 60 },
    });
    // Half the calls may go to names here: every run looks all its senders up.
    const config = JSON.parse(await readFile(t.config, 'utf8')) as Record<string, unknown>;
    config.identities = { maxCallShare: 0.5 };
    await writeFile(t.config, JSON.stringify(config));

    const groups = t.sim.groups().filter((g) => !g.deleted && g.nextMsgSeq > 1 && g.type !== 'AVChatRoom');
    /** Every nick the server served for an account, and every name for a group. */
    const servedNicks = new Map<string, Set<string | undefined>>();
    const servedNames = new Map<string, Set<string>>();
    const noteServed = () => {
      for (const g of groups) {
        const names = servedNames.get(g.groupId) ?? new Set();
        names.add(t.sim.identities.groupName(g.groupId));
        servedNames.set(g.groupId, names);
        for (const m of t.sim.identities.members(g.groupId)) {
          const nicks = servedNicks.get(m.account) ?? new Set();
          nicks.add(t.sim.identities.nick(m.account));
          servedNicks.set(m.account, nicks);
        }
      }
    };
    noteServed();
    let round = 0;
    for (const point of POINTS) {
      const killed = await runKilledAt(t, point);
      expect(killed.paused, `the run reached ${point}`).toBe(true);
      // Names change between the killed run and the next: the rerun must not mix them up.
      round++;
      for (const g of groups) {
        const [, first] = t.sim.identities.members(g.groupId);
        if (first && t.sim.identities.nick(first.account) !== undefined)
          t.sim.identities.renameUser(first.account, `${first.account} r${round}`);
        t.sim.appendMessages(g.groupId, 3);
      }
      const target = groups[round % groups.length];
      if (target) t.sim.identities.renameGroup(target.groupId, `group r${round}`);
      noteServed();
    }
    const last = await t.spawnArchive().done;
    expect(last.code, last.stderr).toBe(0);

    const users = await rowsOf(t.store, 'users');
    const byAccount = new Map<string, Row[]>();
    for (const row of users) {
      // Accounts not among the members listed (never renamed here): the nick served now.
      const served =
        servedNicks.get(row.account as string) ?? new Set([t.sim.identities.nick(row.account as string)]);
      expect(served.has((row.nick as string | null) ?? undefined), `${row.account}: ${row.nick}`).toBe(true);
      const list = byAccount.get(row.account as string) ?? [];
      list.push(row);
      byAccount.set(row.account as string, list);
    }
    for (const [account, rows] of byAccount) {
      rows.sort((a, b) => (a.observed_at as number) - (b.observed_at as number));
      for (let i = 1; i < rows.length; i++)
        expect(rows[i]?.nick, `${account}: a change recorded twice`).not.toBe(rows[i - 1]?.nick);
    }
    const groupRows = await rowsOf(t.store, 'groups');
    const byGroup = new Map<string, Row[]>();
    for (const row of groupRows) {
      const served =
        servedNames.get(row.group_id as string) ??
        new Set([t.sim.identities.groupName(row.group_id as string)]);
      expect(served.has(row.name as string), `${row.group_id}: ${row.name}`).toBe(true);
      const list = byGroup.get(row.group_id as string) ?? [];
      list.push(row);
      byGroup.set(row.group_id as string, list);
    }
    for (const [groupId, rows] of byGroup) {
      rows.sort((a, b) => (a.observed_at as number) - (b.observed_at as number));
      for (let i = 1; i < rows.length; i++)
        expect(rows[i]?.name, `${groupId}: a change recorded twice`).not.toBe(rows[i - 1]?.name);
      // The last run archived new messages of every group: its name is the one served now.
      expect(rows.at(-1)?.name).toBe(t.sim.identities.groupName(groupId));
    }
    const members = await rowsOf(t.store, 'members');
    const memberKeys = members.map((r) => `${r.group_id}\n${r.account}`);
    expect(new Set(memberKeys).size).toBe(memberKeys.length);
    // No commit is left half-done.
    const left: string[] = [];
    for await (const key of t.store.list('state/identities/')) if (key.includes('intent-')) left.push(key);
    expect(left).toEqual([]);
  }, 180_000);
});
