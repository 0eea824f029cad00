/**
 * Answer schemas of the identity APIs (docs/tencent-api.md: portrait_get, get_group_member_info,
 * get_specified_group_member_info). Names are kept exactly as served: any string, empty included.
 */
import * as z from 'zod';
import { PROFILE_TAGS } from '../../domain/tencent-types.ts';

const int = z.number().int();
const STRING_TAGS: ReadonlySet<string> = new Set(Object.values(PROFILE_TAGS));

export const PortraitResponse = z.looseObject({
  UserProfileItem: z
    .array(
      z
        .looseObject({
          To_Account: z.string(),
          ProfileItem: z.array(z.looseObject({ Tag: z.string(), Value: z.unknown() })).default([]),
          ResultCode: int.optional().default(0),
          ResultInfo: z.string().optional().default(''),
        })
        .refine(
          (item) => item.ProfileItem.every((p) => !STRING_TAGS.has(p.Tag) || typeof p.Value === 'string'),
          'the nickname and avatar tags must have string values',
        ),
    )
    .default([]),
});

const MemberItem = z.looseObject({
  Member_Account: z.string(),
  Role: z.string().optional(),
  NameCard: z.string().optional(),
  JoinTime: int.nonnegative().optional(),
});

export const MemberListResponse = z.looseObject({
  MemberNum: int.nonnegative().optional(),
  MemberList: z.array(MemberItem).default([]),
  /** Community groups only: the cursor of the next page, '' (or absent) after the last. */
  Next: z.string().optional(),
});

export type MemberItemWire = z.output<typeof MemberItem>;
