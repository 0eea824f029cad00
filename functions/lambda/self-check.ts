/**
 * A middy `before` middleware that answers the self-check event (`{ "selfCheck": true }`, sent by
 * `npm run verify-deploy`) instead of archiving: it probes the archive store on the function's own
 * role (functions/engine/store-self-check.ts) and returns the report as the invocation's result
 * (middy's early response), so the event check, the SSM secrets and the engine never run.
 */
import { randomUUID } from 'node:crypto';
import { isSelfCheckEvent } from '../domain/deploy-verdicts.ts';
import type { ObjectStore } from '../domain/storage.ts';
import { runStoreSelfCheck } from '../engine/store-self-check.ts';

export function answerSelfCheck(store: Promise<ObjectStore>) {
  return {
    before: async (request: { event: unknown }) =>
      isSelfCheckEvent(request.event) ? runStoreSelfCheck(await store, randomUUID()) : undefined,
  };
}
