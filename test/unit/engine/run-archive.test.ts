/**
 * runArchive (functions/engine/run-archive.ts) end to end over the in-memory fakes: the scripted
 * ChatApi, the in-memory store and a fake clock. Two groups are archived whole, each message once;
 * a second run finds nothing new, asks for no history and writes no message object; a run that
 * meets a fatal error commits nothing of it, says so in its report and releases the lease.
 */
import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { targetKey } from '../../../functions/domain/continuation.ts';
import { GiveUpError } from '../../../functions/domain/errors.ts';
import { stateKey } from '../../../functions/domain/partition.ts';
import { RunFailedError } from '../../../functions/engine/errors.ts';
import { runArchive } from '../../../functions/engine/run-archive.ts';
import { readStoredState } from '../../../functions/engine/state-reader.ts';
import {
  FakeChatApi,
  FakeClock,
  MemoryStore,
  messageRun,
  silentLogger,
  testRunOptions,
} from '../../helpers/engine-fakes.ts';

const APP = 1400000001;
const NOW_SEC = Date.UTC(2026, 0, 1) / 1000;
/** Two groups: 45 messages a minute apart, 30 ten minutes apart. */
function twoGroups() {
  return {
    '@TGS#alpha': messageRun(45, NOW_SEC - 86_400),
    '@TGS#beta': messageRun(30, NOW_SEC - 2 * 86_400, 600),
  };
}

/** Every archived row as (group, seq), from the message objects in the store. */
function archivedRows(store: MemoryStore): { group: string; seq: number }[] {
  const rows: { group: string; seq: number }[] = [];
  for (const key of store.keys('messages/')) {
    const text = gunzipSync(store.body(key) as Uint8Array).toString('utf8');
    for (const line of text.split('\n')) {
      if (line === '') continue;
      const row = JSON.parse(line) as { group_id: string; msg_seq: number };
      rows.push({ group: row.group_id, seq: row.msg_seq });
    }
  }
  return rows;
}

function setup(groups: ConstructorParameters<typeof FakeChatApi>[0] = { groups: twoGroups() }) {
  const store = new MemoryStore();
  const clock = new FakeClock();
  const api = new FakeChatApi(groups);
  return { store, clock, api, deps: { api, store, clock, logger: silentLogger } };
}

describe('runArchive over fakes', () => {
  it('archives every message of two groups exactly once, and commits both high-water marks', async () => {
    const { store, deps } = setup();

    const report = await runArchive(deps, testRunOptions(APP, { runId: 'run1' }));

    expect(report.done).toBe(true);
    expect(report.messages).toBe(75);
    expect(report.groups.archived).toBe(2);
    expect(report.errors).toEqual([]);
    const rows = archivedRows(store);
    const expected = Object.entries(twoGroups()).flatMap(([group, messages]) =>
      messages.map((m) => ({ group, seq: m.MsgSeq })),
    );
    expect(rows).toHaveLength(75);
    expect(new Set(rows.map((r) => `${r.group}:${r.seq}`))).toEqual(
      new Set(expected.map((r) => `${r.group}:${r.seq}`)),
    );
    const stored = await readStoredState(store, APP);
    expect(stored?.read.head.pending).toBeNull();
    expect(stored?.read.head.lease).toBeNull();
    expect(stored?.targets.get(targetKey({ groupId: '@TGS#alpha', topicId: null }))?.highWater).toBe(45);
    expect(stored?.targets.get(targetKey({ groupId: '@TGS#beta', topicId: null }))?.highWater).toBe(30);
    // The report is kept beside the archive.
    expect(store.keys('runs/')).toHaveLength(1);
  });

  it('adds nothing on a second run: no history call, no message object', async () => {
    const { store, clock, api, deps } = setup();
    await runArchive(deps, testRunOptions(APP, { runId: 'run1' }));
    const objects = store.keys('messages/');
    const historyCalls = api.historyRequests.length;
    clock.advance(60_000);

    const second = await runArchive(deps, testRunOptions(APP, { runId: 'run2' }));

    expect(second.done).toBe(true);
    expect(second.messages).toBe(0);
    expect(api.historyRequests.length).toBe(historyCalls);
    expect(store.keys('messages/')).toEqual(objects);
    expect(archivedRows(store)).toHaveLength(75);
    expect(store.keys('runs/')).toHaveLength(2);
  });

  it('archives only what arrived since, on a run after new messages', async () => {
    const groups = twoGroups();
    const { store, clock, deps } = setup({ groups });
    await runArchive(deps, testRunOptions(APP, { runId: 'run1' }));
    groups['@TGS#alpha'].push(...messageRun(48, NOW_SEC - 86_400).slice(45));
    clock.advance(60_000);

    const second = await runArchive(deps, testRunOptions(APP, { runId: 'run2' }));

    expect(second.messages).toBe(3);
    const alpha = archivedRows(store).filter((r) => r.group === '@TGS#alpha');
    expect(alpha.map((r) => r.seq).sort((a, b) => a - b)).toEqual(
      Array.from({ length: 48 }, (_, i) => i + 1),
    );
  });

  it('stops on a fatal error: nothing of it committed, the report says why, the lease is released', async () => {
    const fatal = new GiveUpError('fatal-config', 'the admin account is wrong', { attempts: 1 });
    const { store, deps } = setup({
      groups: twoGroups(),
      history: () => {
        throw fatal;
      },
    });

    const error = await runArchive(deps, testRunOptions(APP, { runId: 'run1' })).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(RunFailedError);
    expect((error as RunFailedError).cause).toBe(fatal);
    const report = (error as RunFailedError).report;
    expect(report.done).toBe(false);
    expect(report.messages).toBe(0);
    expect(report.fatalError).toMatch(/the admin account is wrong/);
    expect(store.keys('messages/')).toEqual([]);
    const head = JSON.parse(store.text(stateKey(APP)) ?? 'null');
    expect(head.lease).toBeNull();
  });
});
