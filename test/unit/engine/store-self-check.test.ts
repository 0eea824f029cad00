/**
 * The archiver function's store probe (functions/engine/store-self-check.ts) on the in-memory
 * store: every step is reported, a failing step does not stop the others, and nothing is left
 * behind when all pass.
 */
import { describe, expect, it } from 'vitest';
import { SELF_CHECK_PREFIX } from '../../../functions/domain/deploy-verdicts.ts';
import { StorageError } from '../../../functions/domain/errors.ts';
import { runStoreSelfCheck } from '../../../functions/engine/store-self-check.ts';
import { MemoryStore } from '../../helpers/engine-fakes.ts';

describe('runStoreSelfCheck', () => {
  it('writes, reads back, deletes its probe and finds the missing key absent', async () => {
    const store = new MemoryStore();
    const report = await runStoreSelfCheck(store, 'n1');
    expect(report).toMatchObject({ selfCheck: true, location: 'memory://test' });
    expect(report.steps.map((s) => [s.step, s.key, s.ok])).toEqual([
      ['put', `${SELF_CHECK_PREFIX}n1.probe`, true],
      ['get', `${SELF_CHECK_PREFIX}n1.probe`, true],
      ['delete', `${SELF_CHECK_PREFIX}n1.probe`, true],
      ['get-missing', `${SELF_CHECK_PREFIX}n1.missing`, true],
    ]);
    expect(store.keys()).toEqual([]);
    // The probe was written create-only.
    const put = store.calls.find((c) => c.op === 'put');
    expect(put?.options).toMatchObject({ ifNoneMatch: '*' });
  });

  it('reports a refused write and still runs the other steps', async () => {
    const store = new MemoryStore().fail({
      op: 'put',
      key: (k) => k.endsWith('.probe'),
      error: new StorageError('AccessDenied: s3:PutObject'),
    });
    const report = await runStoreSelfCheck(store, 'n2');
    expect(report.steps.map((s) => [s.step, s.ok])).toEqual([
      ['put', false],
      ['get', false],
      ['delete', true],
      ['get-missing', true],
    ]);
    expect(report.steps[0]?.detail).toContain('AccessDenied: s3:PutObject');
    expect(report.steps[1]?.detail).toContain('reads as absent');
  });

  it('fails the missing-key step when the store answers an error instead of absent (403 for 404)', async () => {
    const store = new MemoryStore().fail({
      op: 'get',
      key: (k) => k.endsWith('.missing'),
      error: new StorageError('AccessDenied: s3:ListBucket'),
    });
    const report = await runStoreSelfCheck(store, 'n3');
    const missing = report.steps.find((s) => s.step === 'get-missing');
    expect(missing).toMatchObject({ ok: false });
    expect(missing?.detail).toContain('s3:ListBucket');
    expect(report.steps.filter((s) => s.ok).map((s) => s.step)).toEqual(['put', 'get', 'delete']);
  });
});
