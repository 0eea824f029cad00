/**
 * The archiver function's store probe, run on its own role by the self-check event
 * (functions/lambda/self-check.ts; `npm run verify-deploy` sends it): write a small object under
 * the archive prefix, read it back, delete it, and read a key that was never written, which must
 * come back absent (S3's 404), not as an access error (S3's 403 when the role may not list).
 * Each step runs whatever the others did, so one answer shows every missing permission.
 */
import {
  type ProbeStep,
  type ProbeStepResult,
  SELF_CHECK_PREFIX,
  type StoreSelfCheckReport,
} from '../domain/deploy-verdicts.ts';
import type { ObjectStore } from '../domain/storage.ts';

/** Probes `store` with keys named by `nonce` (unique per call, e.g. a random UUID). */
export async function runStoreSelfCheck(store: ObjectStore, nonce: string): Promise<StoreSelfCheckReport> {
  const key = `${SELF_CHECK_PREFIX}${nonce}.probe`;
  const missingKey = `${SELF_CHECK_PREFIX}${nonce}.missing`;
  const body = new TextEncoder().encode(`tencent-chat-archiver verify-deploy probe ${nonce}\n`);
  const steps: ProbeStepResult[] = [];
  steps.push(
    await step('put', key, async () => {
      await store.put(key, body, { ifNoneMatch: '*', contentType: 'text/plain' });
      return `wrote ${body.length} bytes`;
    }),
  );
  steps.push(
    await step('get', key, async () => {
      const stored = await store.get(key);
      if (stored === undefined) throw new Error('the object just written reads as absent');
      if (!sameBytes(stored.body, body)) {
        throw new Error('the object read back differs from what was written');
      }
      return 'read back the same bytes';
    }),
  );
  steps.push(
    await step('delete', key, async () => {
      await store.delete(key);
      return 'deleted';
    }),
  );
  steps.push(
    await step('get-missing', missingKey, async () => {
      const stored = await store.get(missingKey);
      if (stored !== undefined) throw new Error('a key that was never written exists');
      return 'absent (404)';
    }),
  );
  return { selfCheck: true, location: store.location, steps };
}

async function step(name: ProbeStep, key: string, run: () => Promise<string>): Promise<ProbeStepResult> {
  try {
    return { step: name, key, ok: true, detail: await run() };
  } catch (error) {
    const detail = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
    return { step: name, key, ok: false, detail };
  }
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((byte, i) => byte === b[i]);
}
