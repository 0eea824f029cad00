import { describe, expect, it } from 'vitest';
import type { TargetState } from '../../../functions/domain/continuation.ts';
import { StateCorruptError } from '../../../functions/domain/errors.ts';
import { stateKey } from '../../../functions/domain/partition.ts';
import { emptyHead, serializeHead, serializeTargets } from '../../../functions/domain/state-layout.ts';
import { readStoredState } from '../../../functions/engine/state-reader.ts';
import { MemoryStore } from '../../helpers/engine-fakes.ts';

const APP = 1400000001;

function target(groupId: string, highWater: number): TargetState {
  return { groupId, topicId: null, highWater, highWaterTime: null, inProgress: null, generation: 0 };
}

describe('readStoredState', () => {
  it('is undefined for an app without state', async () => {
    expect(await readStoredState(new MemoryStore(), APP)).toBeUndefined();
  });

  it('merges the base and the deltas the head names, a later delta winning, with the head ETag', async () => {
    const store = new MemoryStore();
    const base = `state/sdkappid=${APP}/targets/r-00000.base.json`;
    const delta = `state/sdkappid=${APP}/targets/r-00001.delta.json`;
    store.seed(base, serializeTargets(APP, [target('g1', 1), target('g2', 2)]));
    store.seed(delta, serializeTargets(APP, [target('g2', 7)]));
    const etag = store.seed(
      stateKey(APP),
      serializeHead({
        ...emptyHead(APP),
        base: { key: base, bytes: 1, targets: 2 },
        deltas: [{ key: delta, bytes: 1, targets: 1 }],
      }),
    );
    const read = await readStoredState(store, APP);
    expect(read?.etag).toBe(etag);
    expect(read?.read.layout).toBe('head');
    expect([...(read?.targets.values() ?? [])].map((t) => [t.groupId, t.highWater])).toEqual([
      ['g1', 1],
      ['g2', 7],
    ]);
  });

  it('refuses a state that is not JSON, names the store location, and never reads it as empty', async () => {
    const store = new MemoryStore();
    store.seed(stateKey(APP), '{not json');
    const error = await readStoredState(store, APP).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StateCorruptError);
    expect((error as Error).message).toContain(`memory://test/${stateKey(APP)} is not valid JSON`);
  });

  it('refuses the state of another app', async () => {
    const store = new MemoryStore();
    store.seed(stateKey(APP), serializeHead(emptyHead(1400000002)));
    await expect(readStoredState(store, APP)).rejects.toThrow(
      /belongs to SDKAppID 1400000002, not 1400000001/,
    );
  });

  it('reports a target object the head names but the store lacks', async () => {
    const store = new MemoryStore();
    const missing = `state/sdkappid=${APP}/targets/r-00000.delta.json`;
    store.seed(
      stateKey(APP),
      serializeHead({ ...emptyHead(APP), deltas: [{ key: missing, bytes: 1, targets: 1 }] }),
    );
    await expect(readStoredState(store, APP)).rejects.toThrow(missing);
  });
});
