/**
 * The state's base-plus-deltas layout over real files: a checkpoint that touches k targets writes
 * O(k) bytes of state (counted at the store), compaction keeps the state whole, and a version-1
 * state (one file holding every target) is migrated without losing or repeating a message.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { LocalFolderStore } from '../../functions/adapters/local-folder/local-folder-store.ts';
import { stateKey } from '../../functions/domain/partition.ts';
import { serializeInline } from '../../functions/domain/state-layout.ts';
import type { ObjectStore, PutOptions } from '../../functions/domain/storage.ts';
import { type Simulator, startSimulator } from '../../functions/simulator/index.ts';
import { exactlyOnceProblems, expectedIdentities, readArchive } from '../helpers/archive.ts';
import { engineRun } from '../helpers/engine.ts';
import { readState } from '../helpers/state.ts';

const APP = 1400000000;
const GROUPS = 300;
const cleanups: (() => Promise<unknown>)[] = [];
afterAll(async () => {
  while (cleanups.length > 0) await cleanups.pop()?.();
});

/** Counts the bytes PUT under `state/`: the head apart from the target objects. */
class CountingStore implements ObjectStore {
  public headBytes = 0;
  public headPuts = 0;
  public targetBytes = 0;
  public targetPuts = 0;
  public constructor(private readonly inner: ObjectStore) {}
  public get location(): string {
    return this.inner.location;
  }
  public reset(): void {
    this.headBytes = this.headPuts = this.targetBytes = this.targetPuts = 0;
  }
  public put(key: string, body: Uint8Array, options?: PutOptions) {
    if (key === stateKey(APP)) {
      this.headBytes += body.byteLength;
      this.headPuts++;
    } else if (key.startsWith('state/') && key.includes('/targets/')) {
      this.targetBytes += body.byteLength;
      this.targetPuts++;
    }
    return this.inner.put(key, body, options);
  }
  public get(key: string) {
    return this.inner.get(key);
  }
  public delete(key: string) {
    return this.inner.delete(key);
  }
  public list(prefix: string) {
    return this.inner.list(prefix);
  }
}

async function world(): Promise<{ sim: Simulator; store: CountingStore; inner: LocalFolderStore }> {
  const sim = await startSimulator({
    seed: 11,
    retentionDays: 365,
    rateLimits: { get_appid_group_list: 1_000, get_group_info: 20_000, group_msg_get_simple: 20_000 },
    dataset: {
      groups: GROUPS,
      activeFraction: 1,
      messagesPerActiveGroup: [1, 4],
      historyDays: 3,
      typeWeights: { Public: 1, Private: 0, ChatRoom: 0, Community: 0, TopicCommunity: 0, AVChatRoom: 0 },
    },
  });
  cleanups.push(() => sim.stop());
  const dir = await mkdtemp(join(tmpdir(), 'state-layout-'));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  const inner = new LocalFolderStore(dir);
  return { sim, store: new CountingStore(inner), inner };
}

describe('state layout: a small head, a base and deltas', () => {
  it('writes state bytes in proportion to the targets a checkpoint touched, not to all targets', async () => {
    const { sim, store, inner } = await world();
    const first = await engineRun(sim, store).run();
    expect(first.done).toBe(true);
    const state = await readState(inner, APP);
    expect(state?.targets).toHaveLength(GROUPS);
    const baseBytes = store.targetBytes;
    expect(baseBytes).toBeGreaterThan(GROUPS * 50);

    const touched = sim.groups().slice(0, 2);
    for (const g of touched) sim.appendMessages(g.groupId, 3);
    store.reset();
    const second = await engineRun(sim, store).run();
    expect(second.done).toBe(true);
    expect(second.checkpoints).toBeGreaterThanOrEqual(1);
    // One delta holding the 2 changed targets: a few hundred bytes, not the whole state.
    expect(store.targetPuts).toBe(1);
    expect(store.targetBytes).toBe(second.stateBytesWritten);
    expect(store.targetBytes).toBeLessThan(2 * 400);
    expect(store.targetBytes * 50).toBeLessThan(baseBytes);
    // The head holds no target: its size does not grow with them either.
    expect(store.headBytes / store.headPuts).toBeLessThan(2_000);

    const after = await readState(inner, APP);
    expect(after?.head.deltas).toHaveLength((state?.head.deltas.length ?? 0) + 1);
    for (const g of touched) {
      const t = after?.targets.find((x) => x.groupId === g.groupId);
      expect(t?.highWater).toBe(g.nextMsgSeq - 1 + 3);
    }
    expect(exactlyOnceProblems(await readArchive(inner), expectedIdentities(sim), 'UTC')).toEqual([]);
  }, 120_000);

  it('compacts the deltas into a new base past its bounds and deletes what it replaced', async () => {
    const { sim, store, inner } = await world();
    const layoutBounds = { deltaBytes: 1_000, deltas: 2 };
    await engineRun(sim, store, { layoutBounds }).run();
    const groups = sim.groups();
    const bases = new Set<string>();
    for (let round = 0; round < 4; round++) {
      sim.appendMessages(groups[round]?.groupId ?? '', 2);
      const report = await engineRun(sim, store, { layoutBounds }).run();
      expect(report.done).toBe(true);
      const state = await readState(inner, APP);
      expect(state?.head.deltas.length).toBeLessThanOrEqual(2);
      if (state?.head.base) bases.add(state.head.base.key);
    }
    expect(bases.size).toBeGreaterThan(1);
    // Only what the committed head names is left under state/…/targets/.
    const left: string[] = [];
    for await (const key of inner.list(`state/sdkappid=${APP}/targets/`)) left.push(key);
    const state = await readState(inner, APP);
    expect(left.sort()).toEqual([...(state?.named ?? [])].sort());
    expect(state?.targets).toHaveLength(GROUPS);
    expect(exactlyOnceProblems(await readArchive(inner), expectedIdentities(sim), 'UTC')).toEqual([]);
    // Nothing new: no history call at all, so every target's high-water mark survived the compactions.
    const again = engineRun(sim, store, { layoutBounds });
    expect((await again.run()).messages).toBe(0);
    expect(again.client.stats().requests.groupMsgGetSimple).toBe(0);
  }, 120_000);

  it('reads a version-1 state (every target in state.json) and migrates it at the first checkpoint', async () => {
    const { sim, store, inner } = await world();
    await engineRun(sim, store).run();
    const v2 = await readState(inner, APP);
    if (!v2) throw new Error('no state');
    // Rewrite the state as the previous release stored it, and drop the target objects.
    for (const key of v2.named) await inner.delete(key);
    await inner.put(stateKey(APP), new TextEncoder().encode(serializeInline(v2.head, v2.targets)));
    const idle = engineRun(sim, store);
    await idle.run();
    expect(idle.client.stats().requests.groupMsgGetSimple).toBe(0);

    sim.appendMessages(sim.groups()[5]?.groupId ?? '', 4);
    await engineRun(sim, store).run();
    const migrated = await readState(inner, APP);
    const head = JSON.parse(new TextDecoder().decode((await inner.get(stateKey(APP)))?.body));
    expect(head.version).toBe(2);
    expect(head.targets).toBeUndefined();
    expect(migrated?.head.base?.targets).toBe(GROUPS);
    expect(exactlyOnceProblems(await readArchive(inner), expectedIdentities(sim), 'UTC')).toEqual([]);
  }, 120_000);
});
