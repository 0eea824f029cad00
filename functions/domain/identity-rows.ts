/**
 * The identity rows: what the archive records of names and roles (issue 24), one model shared by
 * the capture (engine), the tables (query) and the readers (transcripts, exports).
 *
 * Rows are append-only and record only changes: a row is written when an observed value differs
 * from the last one the archive holds for the same key (users: account; groups: group; members:
 * group and account). `observed_at` is the epoch seconds of the run that observed the value, so a
 * name is "valid from" the first run that saw it (docs/names.md).
 *
 * A value the server no longer serves (a deleted account, a dissolved group, a member who left) is
 * a row with `status` other than the live one and null values: the row claims only what the server
 * answered. Readers carry the last known value forward (the views' `last_value … IGNORE NULLS`).
 * Key order here is the column order and the NDJSON key order.
 */

/** Where each kind of identity row is stored, under the archive prefix. */
export const IDENTITY_KINDS = ['users', 'groups', 'members'] as const;
export type IdentityKind = (typeof IDENTITY_KINDS)[number];

/**
 * `identities/<kind>/sdkappid=<id>/dt=<observed date>/`: the Glue location template of one kind
 * (`dt` is the date of `observed_at` in the configured time zone).
 */
export function identityLocationTemplate(kind: IdentityKind): string {
  return `identities/${kind}/sdkappid=\${sdkappid}/dt=\${dt}/`;
}

/** A user's nickname as `portrait_get` served it; `status` 'gone' when the API no longer knows the account. */
export interface UserNameRow {
  sdk_app_id: number;
  account: string;
  /** `Tag_Profile_IM_Nick` exactly as served ('' when unset); null when `status` is 'gone'. */
  nick: string | null;
  /** `Tag_Profile_IM_Image` exactly as served ('' when unset); null when `status` is 'gone'. */
  image: string | null;
  status: 'active' | 'gone';
  /** The per-account `ResultCode` when `status` is 'gone', else null. */
  result_code: number | null;
  observed_at: number;
}

/** A group's name and type as `get_group_info` served them; `status` 'dissolved' on 10010/10015. */
export interface GroupNameRow {
  sdk_app_id: number;
  group_id: string;
  /** `Name` exactly as served; null when `status` is 'dissolved'. */
  name: string | null;
  /** `Type` as served; null when `status` is 'dissolved'. */
  type: string | null;
  /** `Owner_Account` as served ('' for a group without owner); null when `status` is 'dissolved'. */
  owner_account: string | null;
  status: 'active' | 'dissolved';
  /** The group's `ErrorCode` when `status` is 'dissolved', else null. */
  error_code: number | null;
  observed_at: number;
}

/** A member's role and name card in one group; `status` 'left' when the member is no longer listed. */
export interface GroupMemberRow {
  sdk_app_id: number;
  group_id: string;
  account: string;
  /** `Role` as served ('Owner', 'Admin', 'Member', or another string kept as served); null when 'left'. */
  role: string | null;
  /** `NameCard` exactly as served ('' when unset); null when 'left'. */
  name_card: string | null;
  status: 'member' | 'left';
  observed_at: number;
}

export type IdentityRow = UserNameRow | GroupNameRow | GroupMemberRow;

/** The key of a row within its kind: what "the same identity" means for change detection. */
export function identityKey(kind: IdentityKind, row: IdentityRow): string {
  switch (kind) {
    case 'users':
      return JSON.stringify([row.sdk_app_id, (row as UserNameRow).account]);
    case 'groups':
      return JSON.stringify([row.sdk_app_id, (row as GroupNameRow).group_id]);
    case 'members':
      return JSON.stringify([
        row.sdk_app_id,
        (row as GroupMemberRow).group_id,
        (row as GroupMemberRow).account,
      ]);
  }
}

/** The observed values of a row (key and `observed_at` left out): two rows differ when these do. */
export function identityValues(row: IdentityRow): string {
  const { observed_at: _observed, ...rest } = row;
  return JSON.stringify(rest);
}
