/**
 * The Object Lock retention function: S3 → EventBridge "Object Created" → this → PutObjectRetention
 * on the new object version, for write-once archive objects only (messages, media, run reports).
 *
 * Why not the bucket's default retention: it locks every version of every object, and the
 * continuation state (`state/…/state.json`) is rewritten at every checkpoint, so each of those
 * versions would stay (and be billed) for the whole lock period. S3 has no per-prefix default
 * retention, so the lock is set per object here. Retention is counted from the event time (when
 * S3 created the object), so a redelivered event sets the same date again, which S3 accepts even
 * in COMPLIANCE mode.
 */
import { PutObjectRetentionCommand, S3Client, S3ServiceException } from '@aws-sdk/client-s3';
import { LOCK_ENV, type ObjectCreatedEvent, retentionInput } from './retention.ts';

/** S3's own notifications URL-encode keys; if this one was, the encoded key is not found. */
function decodedKey(key: string): string {
  return decodeURIComponent(key.replace(/\+/g, ' '));
}

export function createHandler(
  client: Pick<S3Client, 'send'>,
  env: Readonly<Record<string, string | undefined>>,
) {
  const mode = env[LOCK_ENV.mode];
  const days = Number(env[LOCK_ENV.days]);
  if (mode !== 'COMPLIANCE' && mode !== 'GOVERNANCE') throw new TypeError(`${LOCK_ENV.mode} is ${mode}`);
  if (!Number.isInteger(days) || days < 1) throw new TypeError(`${LOCK_ENV.days} is ${env[LOCK_ENV.days]}`);
  return async (event: ObjectCreatedEvent): Promise<void> => {
    const input = retentionInput(event, mode, days);
    try {
      await client.send(new PutObjectRetentionCommand(input));
    } catch (error) {
      const missing = error instanceof S3ServiceException && error.$metadata.httpStatusCode === 404;
      if (!missing || decodedKey(input.Key) === input.Key) throw error;
      await client.send(new PutObjectRetentionCommand({ ...input, Key: decodedKey(input.Key) }));
    }
  };
}

let ready: ReturnType<typeof createHandler> | undefined;

/** The function's handler (bundled by the stack from this file); built at the first event. */
export const handler = (event: ObjectCreatedEvent): Promise<void> => {
  ready ??= createHandler(new S3Client({}), process.env);
  return ready(event);
};
