/**
 * What the Object Lock retention function computes, without I/O: the PutObjectRetention input
 * for one created object version (the handler, retention-handler.ts, sends it).
 */

/** The fields of EventBridge's S3 "Object Created" event this function reads. */
export interface ObjectCreatedEvent {
  time: string;
  detail: { bucket: { name: string }; object: { key: string; 'version-id'?: string } };
}

export type LockMode = 'COMPLIANCE' | 'GOVERNANCE';

/** Environment variables the stack sets. */
export const LOCK_ENV = { mode: 'LOCK_MODE', days: 'LOCK_DAYS' } as const;

const DAY_MS = 86_400_000;

/** The PutObjectRetention input for one created object version. */
export function retentionInput(event: ObjectCreatedEvent, mode: LockMode, days: number) {
  const created = Date.parse(event.time);
  if (Number.isNaN(created)) throw new TypeError(`event time is not a timestamp: ${event.time}`);
  const versionId = event.detail.object['version-id'];
  if (versionId === undefined) throw new TypeError('the event names no object version (is versioning on?)');
  return {
    Bucket: event.detail.bucket.name,
    Key: event.detail.object.key,
    VersionId: versionId,
    Retention: { Mode: mode, RetainUntilDate: new Date(created + days * DAY_MS) },
  };
}
