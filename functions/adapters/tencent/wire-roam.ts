/**
 * Answer schema of `admin_getroammsg` (docs/tencent-api.md, admin_getroammsg). Unknown fields are
 * kept (`looseObject`); items are checked one by one, so one bad item is archived as a flagged row
 * instead of failing the page.
 */
import { stringify as losslessStringify } from 'lossless-json';
import * as z from 'zod';
import { MAX_EPOCH_SECONDS } from '../../domain/partition.ts';
import type { JsonValue, RejectedItem, RoamMessage } from '../../domain/tencent-types.ts';
import { describeSchemaError } from './wire.ts';

const int = z.number().int();

/**
 * A page: `Complete` 0 or 1, and a continuation point whenever it is 0 (without one the next
 * page cannot be asked for: the answer is malformed, retried as such).
 */
export const RoamResponse = z
  .looseObject({
    Complete: int.min(0).max(1),
    MsgCnt: int.nonnegative().optional(),
    LastMsgTime: int.nonnegative().optional().default(0),
    LastMsgKey: z.string().optional().default(''),
    MsgList: z.array(z.unknown()).optional().default([]),
  })
  .refine(
    (page) => page.Complete === 1 || (page.LastMsgKey !== '' && page.LastMsgTime > 0),
    'an incomplete page must carry LastMsgKey and LastMsgTime',
  );

/** An item that is a one-to-one message: a `MsgKey` to identify it, a time to file it under. */
export const RoamMessageSchema = z.looseObject({
  MsgKey: z.string().min(1),
  MsgTimeStamp: int
    .nonnegative()
    .max(MAX_EPOCH_SECONDS, `after 9999-12-30 (more than ${MAX_EPOCH_SECONDS}): no date to file it under`),
});

/** A page's items split into messages and rejected items (exact text kept, losslessly re-serialised). */
export function splitRoamItems(items: readonly unknown[]): {
  messages: RoamMessage[];
  rejected: RejectedItem[];
} {
  const messages: RoamMessage[] = [];
  const rejected: RejectedItem[] = [];
  for (const item of items) {
    const checked = RoamMessageSchema.safeParse(item);
    if (checked.success) {
      messages.push(item as RoamMessage);
      continue;
    }
    const seq = (item as { MsgSeq?: unknown } | null)?.MsgSeq;
    rejected.push({
      text: losslessStringify(item as JsonValue) ?? 'null',
      reason: describeSchemaError(checked.error),
      msgSeq: typeof seq === 'number' && Number.isSafeInteger(seq) ? seq : null,
    });
  }
  return { messages, rejected };
}
