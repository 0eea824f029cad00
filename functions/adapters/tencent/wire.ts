/**
 * Runtime schemas of the Tencent REST responses, checked at the boundary. Unknown fields are
 * tolerated and kept (`looseObject`): Tencent adds fields over time (docs/tencent-api.md, Request format).
 */
import * as z from 'zod';
import { MAX_EPOCH_SECONDS } from '../../domain/partition.ts';

const int = z.number().int();
/** A JSON integer parsed losslessly: beyond 2^53 it arrives as a bigint. */
const uint64 = z.union([int.nonnegative(), z.bigint().nonnegative()]).transform((n) => BigInt(n));

/** The envelope every API returns. `ErrorInfo` is missing in some old samples, so it is optional. */
export const Envelope = z.looseObject({
  ActionStatus: z.string(),
  ErrorCode: int.optional(),
  ErrorInfo: z.string().optional(),
});

export const GroupListResponse = z.looseObject({
  TotalCount: int.optional().default(0),
  GroupIdList: z.array(z.looseObject({ GroupId: z.string() })).default([]),
  Next: uint64.optional().default(0n),
});

export const GroupInfoResponse = z.looseObject({
  GroupInfo: z
    .array(
      z.looseObject({
        GroupId: z.string(),
        ErrorCode: int.optional().default(0),
        ErrorInfo: z.string().optional().default(''),
        Type: z.string().optional(),
        Name: z.string().optional(),
        Owner_Account: z.string().optional(),
        NextMsgSeq: int.nonnegative().optional(),
        LastMsgTime: int.nonnegative().optional(),
      }),
    )
    .default([]),
});

/**
 * A page item that is a message. A `MsgTimeStamp` after 9999-12-30 has no date to file it under
 * (functions/domain/partition.ts): the item is rejected, so it is archived as a flagged row (its
 * exact text kept) instead of stopping the run.
 */
export const RawMessageSchema = z.looseObject({
  MsgSeq: int.nonnegative(),
  MsgTimeStamp: int
    .nonnegative()
    .max(MAX_EPOCH_SECONDS, `after 9999-12-30 (more than ${MAX_EPOCH_SECONDS}): no date to file it under`),
});

export const HistoryResponse = z.looseObject({
  GroupId: z.string().optional(),
  IsFinished: int.min(0).max(2),
  // Items are checked one by one (RawMessageSchema): one bad item must not fail the whole page.
  RspMsgList: z.array(z.unknown()).optional().default([]),
});

export const TopicResponse = z.looseObject({
  TopicAndSelfInfo: z.array(
    z.looseObject({
      ErrorCode: int.optional().default(0),
      ErrorInfo: z.string().optional().default(''),
      TopicInfo: z
        .looseObject({
          TopicId: z.string(),
          TopicName: z.string().optional(),
          NextMsgSeq: int.nonnegative().optional(),
          LastMsgTime: int.nonnegative().optional(),
        })
        .optional(),
    }),
  ),
});

/**
 * A `get_cos_sig` item's `ResourceID`: sent as an integer (client.ts), read back tolerantly as an
 * integer or a numeric string. Anything else matches no request (undefined), without failing the
 * other items of the answer.
 */
const numericString = z
  .string()
  .regex(/^-?[0-9]{1,10}$/)
  .transform(Number);
const resourceId = z.union([int, numericString]).optional().catch(undefined);

/** `get_cos_sig` (docs/tencent-api.md, get_cos_sig): one item per requested URL. */
export const CosSigResponse = z.looseObject({
  PreSigURLs: z
    .array(
      z.looseObject({
        Code: int.optional().default(0),
        Desc: z.string().optional().default(''),
        ResourceID: resourceId,
        PreSigURL: z.string().optional().default(''),
        Status: int.optional().default(0),
      }),
    )
    .default([]),
});

/** A short, secret-free description of why a body did not match its schema. */
export function describeSchemaError(error: z.ZodError): string {
  return error.issues
    .slice(0, 3)
    .map((issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`)
    .join('; ');
}
