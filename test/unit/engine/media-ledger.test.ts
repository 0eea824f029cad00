import { describe, expect, it } from 'vitest';
import { StorageError } from '../../../functions/domain/errors.ts';
import { mediaLedgerKey } from '../../../functions/domain/media-manifest.ts';
import { LeaseLostError } from '../../../functions/engine/errors.ts';
import { MediaLedger, recoverMediaCheckpoints } from '../../../functions/engine/media-ledger.ts';
import { MemoryStore, RecordingLogger, silentLogger } from '../../helpers/engine-fakes.ts';

const APP = 1400000001;
const KEY = mediaLedgerKey(APP);

function ledgerOf(store: MemoryStore) {
  return JSON.parse(store.text(KEY) ?? 'null');
}

describe('MediaLedger', () => {
  it('starts empty without writing, creates the ledger create-only, then replaces it by ETag', async () => {
    const store = new MemoryStore();
    const ledger = await MediaLedger.open(store, APP);
    expect(ledger.pending).toEqual([]);
    expect(store.keys()).toEqual([]);
    const entry = { runId: 'runA', source: 'q/1', objects: ['m/1', 'q/2'] };
    await ledger.update((p) => [...p, entry]);
    await ledger.update((p) => p.filter((e) => e.source !== 'q/1'));
    const puts = store.calls.filter((c) => c.op === 'put');
    expect(puts[0]?.options).toEqual({ contentType: 'application/json', ifNoneMatch: '*' });
    expect(puts[1]?.options?.ifMatch).toMatch(/^"[0-9a-f]{32}"$/);
    expect(ledgerOf(store)).toEqual({ version: 1, pending: [] });
    expect(store.text(KEY)?.endsWith('\n')).toBe(true);
  });

  it('reads back what an earlier run left', async () => {
    const store = new MemoryStore();
    const entry = { runId: 'runA', source: 'q/1', objects: ['m/1'] };
    await (await MediaLedger.open(store, APP)).update(() => [entry]);
    const reopened = await MediaLedger.open(store, APP);
    expect(reopened.pending).toEqual([entry]);
    // Its writes match the stored ETag (no precondition failure).
    await reopened.update(() => []);
    expect(ledgerOf(store).pending).toEqual([]);
  });

  it('refuses an unreadable ledger or an unknown version instead of starting empty', async () => {
    const store = new MemoryStore();
    store.seed(KEY, '{"version":2,"pending":[]}');
    const error = await MediaLedger.open(store, APP).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StorageError);
    expect((error as Error).message).toContain(`memory://test/${KEY} cannot be read`);
    expect(((error as Error).cause as Error).message).toBe('unknown ledger version');
    store.seed(KEY, 'garbage');
    await expect(MediaLedger.open(store, APP)).rejects.toBeInstanceOf(StorageError);
  });

  it('stops with LeaseLostError when another run changed the ledger, and keeps its own view', async () => {
    const store = new MemoryStore();
    const ledger = await MediaLedger.open(store, APP);
    await ledger.update(() => [{ runId: 'runA', source: 'q/1', objects: [] }]);
    store.seed(KEY, '{"version":1,"pending":[]}');
    await expect(ledger.update(() => [])).rejects.toBeInstanceOf(LeaseLostError);
    expect(ledger.pending).toHaveLength(1);
    // A first write loses too when the ledger appeared meanwhile.
    const fresh = new MemoryStore();
    const late = await MediaLedger.open(fresh, APP);
    fresh.seed(KEY, '{"version":1,"pending":[]}');
    await expect(late.update(() => [])).rejects.toBeInstanceOf(LeaseLostError);
  });

  it('serialises updates: each sees the result of the one before', async () => {
    const store = new MemoryStore();
    const ledger = await MediaLedger.open(store, APP);
    await Promise.all(
      [1, 2, 3].map((n) => ledger.update((p) => [...p, { runId: 'runA', source: `q/${n}`, objects: [] }])),
    );
    expect(ledgerOf(store).pending.map((e: { source: string }) => e.source)).toEqual(['q/1', 'q/2', 'q/3']);
  });

  it('passes a storage failure on, and goes on with the next update', async () => {
    const store = new MemoryStore().fail({ op: 'put', key: KEY });
    const ledger = await MediaLedger.open(store, APP);
    await expect(ledger.update(() => [])).rejects.toThrow(/injected put failure/);
    await ledger.update(() => [{ runId: 'r', source: 's', objects: [] }]);
    expect(ledgerOf(store).pending).toHaveLength(1);
  });
});

describe('recoverMediaCheckpoints', () => {
  it('rolls back an entry whose source still exists, rolls forward one whose source is gone, then clears', async () => {
    const store = new MemoryStore();
    for (const key of ['q/1', 'm/1a', 'm/1b', 'q/1r', 'm/2', 'q/2r']) store.seed(key, key);
    const ledger = await MediaLedger.open(store, APP);
    await ledger.update(() => [
      { runId: 'runA', source: 'q/1', objects: ['m/1a', 'm/1b', 'q/1r'] },
      // Its source was deleted (step 3): the checkpoint completed but for the commit.
      { runId: 'runA', source: 'q/2', objects: ['m/2', 'q/2r'] },
    ]);
    const logger = new RecordingLogger();
    const rolledBack = await recoverMediaCheckpoints(ledger, store, logger);
    expect(rolledBack).toBe(3);
    expect(store.keys()).toEqual(['m/2', 'q/1', 'q/2r', KEY]);
    expect(ledger.pending).toEqual([]);
    expect(ledgerOf(store).pending).toEqual([]);
    expect(logger.at('warn')).toEqual(['rolling back an uncommitted media checkpoint of an earlier run']);
  });

  it('writes nothing when nothing is pending', async () => {
    const store = new MemoryStore();
    const ledger = await MediaLedger.open(store, APP);
    expect(await recoverMediaCheckpoints(ledger, store, silentLogger)).toBe(0);
    expect(store.calls.filter((c) => c.op === 'put')).toEqual([]);
  });
});
