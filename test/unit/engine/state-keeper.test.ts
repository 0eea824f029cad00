import { describe, expect, it } from 'vitest';
import { type TargetState, targetKey } from '../../../functions/domain/continuation.ts';
import { PreconditionFailedError } from '../../../functions/domain/errors.ts';
import { stateKey } from '../../../functions/domain/partition.ts';
import { LeaseHeldError, LeaseLostError } from '../../../functions/engine/errors.ts';
import { StateKeeper, type StateKeeperOptions } from '../../../functions/engine/state-keeper.ts';
import { readStoredState } from '../../../functions/engine/state-reader.ts';
import {
  FakeClock,
  FakeHostProcesses,
  MemoryStore,
  RecordingLogger,
  silentLogger,
} from '../../helpers/engine-fakes.ts';

const APP = 1400000001;
const KEY = stateKey(APP);
const LEASE_MS = 120_000;

function target(groupId: string, highWater: number): TargetState {
  return {
    groupId,
    topicId: null,
    highWater,
    highWaterTime: highWater * 10,
    inProgress: null,
    generation: 0,
  };
}

function keeperOptions(store: MemoryStore, clock: FakeClock, over: Partial<StateKeeperOptions> = {}) {
  return { store, sdkAppId: APP, runId: 'runA', clock, logger: silentLogger, leaseMs: LEASE_MS, ...over };
}

function storedHead(store: MemoryStore) {
  return JSON.parse(store.text(KEY) ?? 'null');
}

/** Stage, write and commit `states` as one checkpoint would. */
async function commitTargets(keeper: StateKeeper, states: TargetState[]) {
  const staged = keeper.stage(states);
  if (staged) await keeper.writeStaged(staged);
  await keeper.commit(staged, (s) => s);
  return staged;
}

describe('StateKeeper.open', () => {
  it('creates the state create-only and takes the lease, naming this process', async () => {
    const store = new MemoryStore();
    const clock = new FakeClock();
    const processes = new FakeHostProcesses();
    const keeper = await StateKeeper.open(keeperOptions(store, clock, { processes }));
    expect(store.calls.filter((c) => c.op === 'put')).toEqual([
      { op: 'put', key: KEY, options: { contentType: 'application/json', ifNoneMatch: '*' } },
    ]);
    expect(storedHead(store).lease).toEqual({
      owner: 'runA',
      expiresAtMs: clock.now() + LEASE_MS,
      holder: processes.self,
    });
    expect(keeper.leaseExpiresAtMs).toBe(clock.now() + LEASE_MS);
    expect(keeper.targets.size).toBe(0);
  });

  it('refuses a lease another run holds, without writing', async () => {
    const store = new MemoryStore();
    const clock = new FakeClock();
    await StateKeeper.open(keeperOptions(store, clock, { runId: 'runA' }));
    const puts = store.calls.length;
    clock.advance(LEASE_MS - 1);
    const error = await StateKeeper.open(keeperOptions(store, clock, { runId: 'runB' })).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(LeaseHeldError);
    expect((error as LeaseHeldError).owner).toBe('runA');
    expect((error as LeaseHeldError).expiresAtMs).toBe(clock.now() + 1);
    expect(store.calls.slice(puts).map((c) => c.op)).toEqual(['get']);
    expect(storedHead(store).lease.owner).toBe('runA');
  });

  it('takes over an expired lease, and warns', async () => {
    const store = new MemoryStore();
    const clock = new FakeClock();
    await StateKeeper.open(keeperOptions(store, clock, { runId: 'runA' }));
    clock.advance(LEASE_MS);
    const logger = new RecordingLogger();
    await StateKeeper.open(keeperOptions(store, clock, { runId: 'runB', logger }));
    expect(storedHead(store).lease.owner).toBe('runB');
    expect(logger.at('warn')).toEqual(['taking over an expired lease']);
  });

  it('takes over at once from a holder of this host whose process is gone', async () => {
    const store = new MemoryStore();
    const clock = new FakeClock();
    const crashed = new FakeHostProcesses({ host: 'test-host', pid: 11, startedAt: 'boot-1:5' });
    await StateKeeper.open(keeperOptions(store, clock, { runId: 'runA', processes: crashed }));
    const processes = new FakeHostProcesses();
    processes.gone.push(crashed.self);
    const logger = new RecordingLogger();
    await StateKeeper.open(keeperOptions(store, clock, { runId: 'runB', processes, logger }));
    expect(storedHead(store).lease).toMatchObject({ owner: 'runB', holder: processes.self });
    expect(logger.at('warn')[0]).toMatch(/^taking over at once/);
  });

  it('reads again after losing the race for the first write, and gives up after three losses', async () => {
    const store = new MemoryStore().fail({ op: 'put', key: KEY, error: new PreconditionFailedError(KEY) });
    const keeper = await StateKeeper.open(keeperOptions(store, new FakeClock()));
    expect(storedHead(store).lease.owner).toBe('runA');
    expect(store.calls.filter((c) => c.op === 'put')).toHaveLength(2);
    expect(keeper.head.lease?.owner).toBe('runA');

    const losing = new MemoryStore().fail({
      op: 'put',
      key: KEY,
      error: new PreconditionFailedError(KEY),
      times: 3,
    });
    await expect(StateKeeper.open(keeperOptions(losing, new FakeClock()))).rejects.toBeInstanceOf(
      LeaseLostError,
    );
    expect(losing.text(KEY)).toBeUndefined();
  });
});

describe('StateKeeper commits', () => {
  it('writes changed targets as a delta before the head names it, and reads them back', async () => {
    const store = new MemoryStore();
    const clock = new FakeClock();
    const keeper = await StateKeeper.open(keeperOptions(store, clock));
    const staged = await commitTargets(keeper, [target('g1', 5), target('g2', 9)]);
    expect(staged?.kind).toBe('delta');
    const deltaKey = staged?.ref.key ?? '';
    expect(deltaKey).toBe(`state/sdkappid=${APP}/targets/runA-00000.delta.json`);
    const puts = store.calls.filter((c) => c.op === 'put').map((c) => c.key);
    expect(puts.slice(-2)).toEqual([deltaKey, KEY]);
    expect(storedHead(store).deltas).toEqual([{ key: deltaKey, bytes: staged?.ref.bytes, targets: 2 }]);
    expect(keeper.targets.get(targetKey(target('g1', 0)))?.highWater).toBe(5);

    const read = await readStoredState(store, APP);
    expect([...(read?.targets.values() ?? [])].map((t) => [t.groupId, t.highWater])).toEqual([
      ['g1', 5],
      ['g2', 9],
    ]);
  });

  it('stages nothing when no target changed, and only the changed ones otherwise', async () => {
    const keeper = await StateKeeper.open(keeperOptions(new MemoryStore(), new FakeClock()));
    await commitTargets(keeper, [target('g1', 5), target('g2', 9)]);
    expect(keeper.stage([target('g1', 5), target('g2', 9)])).toBeUndefined();
    const staged = keeper.stage([target('g1', 5), target('g2', 10)]);
    expect(staged?.changed.map((t) => t.groupId)).toEqual(['g2']);
  });

  it('compacts into a new base past the delta bound, deleting and remembering the replaced objects', async () => {
    const store = new MemoryStore();
    const clock = new FakeClock();
    const keeper = await StateKeeper.open(
      keeperOptions(store, clock, { layoutBounds: { deltaBytes: 1_000_000, deltas: 1 } }),
    );
    const first = await commitTargets(keeper, [target('g1', 1)]);
    const second = await commitTargets(keeper, [target('g2', 2)]);
    expect([first?.kind, second?.kind]).toEqual(['delta', 'base']);
    expect(second?.ref.targets).toBe(2);
    const head = storedHead(store);
    expect(head.base.key).toBe(second?.ref.key);
    expect(head.deltas).toEqual([]);
    expect(head.rolledBack.map((k: { key: string }) => k.key)).toEqual([first?.ref.key]);
    expect(store.text(first?.ref.key ?? '')).toBeUndefined();
    const read = await readStoredState(store, APP);
    expect([...(read?.targets.values() ?? [])].map((t) => t.groupId)).toEqual(['g1', 'g2']);
  });

  it('stops with LeaseLostError when another run changed the state (the fencing write loses)', async () => {
    const store = new MemoryStore();
    const clock = new FakeClock();
    const a = await StateKeeper.open(keeperOptions(store, clock, { runId: 'runA' }));
    clock.advance(LEASE_MS + 1);
    await StateKeeper.open(keeperOptions(store, clock, { runId: 'runB' }));
    const error = await a.update((s) => s).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LeaseLostError);
    expect((error as Error).cause).toBeInstanceOf(PreconditionFailedError);
    expect(storedHead(store).lease.owner).toBe('runB');
    // The queue goes on after a failure: a later write is attempted (and loses the same way).
    await expect(a.update((s) => s)).rejects.toBeInstanceOf(LeaseLostError);
  });

  it('does not swallow a storage failure that is not a lost precondition', async () => {
    const store = new MemoryStore();
    const keeper = await StateKeeper.open(keeperOptions(store, new FakeClock()));
    store.fail({ op: 'put', key: KEY });
    await expect(keeper.update((s) => s)).rejects.toThrow(/injected put failure/);
    // The ETag was not advanced: the next write still matches.
    await keeper.update((s) => ({ ...s, pending: { runId: 'runA', objects: ['x'] } }));
    expect(storedHead(store).pending).toEqual({ runId: 'runA', objects: ['x'] });
  });
});

describe('StateKeeper lease', () => {
  it('ensureLease writes nothing while the lease has the margin, and renews it when not', async () => {
    const store = new MemoryStore();
    const clock = new FakeClock();
    const keeper = await StateKeeper.open(keeperOptions(store, clock));
    const before = store.calls.length;
    await keeper.ensureLease(40_000);
    expect(store.calls.length).toBe(before);
    clock.advance(90_000);
    await keeper.ensureLease(40_000);
    expect(store.calls.slice(before).map((c) => c.op)).toEqual(['put']);
    expect(keeper.leaseExpiresAtMs).toBe(clock.now() + LEASE_MS);
  });

  it('ensureLease fails when even a fresh lease is shorter than the margin', async () => {
    const keeper = await StateKeeper.open(keeperOptions(new MemoryStore(), new FakeClock()));
    await expect(keeper.ensureLease(LEASE_MS)).rejects.toThrow(/cannot be kept 120000 ms ahead/);
  });

  it('release gives the lease back so another run may start at once', async () => {
    const store = new MemoryStore();
    const clock = new FakeClock();
    const keeper = await StateKeeper.open(keeperOptions(store, clock, { runId: 'runA' }));
    await keeper.release();
    expect(storedHead(store).lease).toBeNull();
    const next = await StateKeeper.open(keeperOptions(store, clock, { runId: 'runB' }));
    expect(next.head.lease?.owner).toBe('runB');
  });
});
