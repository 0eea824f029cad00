/**
 * The identity tables (issue 24): `identity_users`, `identity_groups` and `identity_members` over
 * `identities/<kind>/sdkappid=<id>/dt=<observed date>/`, one row per observed change of a name,
 * type or role (functions/domain/identity-rows.ts is the row model, docs/names.md the rule). The
 * column lists are typed by the row interfaces, so a column the rows lack, or a row key without a
 * column, fails the typecheck. The SCD2 views over them are in views.ts.
 */
import {
  type GroupMemberRow,
  type GroupNameRow,
  IDENTITY_KINDS,
  type IdentityKind,
  identityLocationTemplate,
  type UserNameRow,
} from '../domain/identity-rows.ts';
import {
  type ArchiveLocationProps,
  type ArchiveTableDefinition,
  type ColumnSpec,
  columnsOf,
  type GlueColumn,
  rowTable,
} from './tables.ts';

/** The table of each kind. `identity_` keeps them together, and apart from the views' names. */
export const IDENTITY_TABLES: { readonly [K in IdentityKind]: string } = {
  users: 'identity_users',
  groups: 'identity_groups',
  members: 'identity_members',
};

const OBSERVED_AT = ['bigint', 'Epoch seconds of the run that observed this value'] as const;

const USER_COLUMNS: ColumnSpec<UserNameRow> = {
  sdk_app_id: ['bigint', 'Tencent SDKAppID'],
  account: ['string', 'UserID (From_Account of the messages)'],
  nick: ['string', "Tag_Profile_IM_Nick as served ('' when unset); null when status is gone"],
  image: ['string', "Tag_Profile_IM_Image as served ('' when unset); null when status is gone"],
  status: ['string', 'active, or gone when the API no longer knows the account'],
  result_code: ['bigint', 'The per-account ResultCode when gone, else null'],
  observed_at: OBSERVED_AT,
};

const GROUP_COLUMNS: ColumnSpec<GroupNameRow> = {
  sdk_app_id: ['bigint', 'Tencent SDKAppID'],
  group_id: ['string', 'Group ID'],
  name: ['string', 'Name as served; null when status is dissolved'],
  type: ['string', 'Type as served (Public, Work, Community, ...); null when dissolved'],
  owner_account: ['string', "Owner_Account as served ('' for none); null when dissolved"],
  status: ['string', 'active, or dissolved when get_group_info answers 10010 or 10015'],
  error_code: ['bigint', 'The group ErrorCode when dissolved, else null'],
  observed_at: OBSERVED_AT,
};

const MEMBER_COLUMNS: ColumnSpec<GroupMemberRow> = {
  sdk_app_id: ['bigint', 'Tencent SDKAppID'],
  group_id: ['string', 'Group ID'],
  account: ['string', 'UserID of the member'],
  role: ['string', 'Role as served (Owner, Admin, Member, ...); null when status is left'],
  name_card: ['string', "NameCard as served ('' when unset); null when status is left"],
  status: ['string', 'member, or left when the member is no longer listed'],
  observed_at: OBSERVED_AT,
};

const SPECS: { readonly [K in IdentityKind]: Readonly<Record<string, readonly [string, string]>> } = {
  users: USER_COLUMNS,
  groups: GROUP_COLUMNS,
  members: MEMBER_COLUMNS,
};

/** The columns of one kind's table, in the row model's key order. */
export function identityColumns(kind: IdentityKind): GlueColumn[] {
  return columnsOf(SPECS[kind]);
}

/** The folder of one kind under the archive root: `identities/<kind>/`. */
export function identityFolder(kind: IdentityKind): string {
  return identityLocationTemplate(kind).split('sdkappid=')[0] as string;
}

/** One kind's table: gzip NDJSON, partitioned and projected like `messages` (dt: the observed date). */
export function identityTable(kind: IdentityKind, props: ArchiveLocationProps): ArchiveTableDefinition {
  return rowTable(props, {
    name: IDENTITY_TABLES[kind],
    description: `Identity changes (${kind}) as observed by the archiver runs, dt = observed date in ${props.timeZone}`,
    columns: identityColumns(kind),
    folder: identityFolder(kind),
    locationTemplate: identityLocationTemplate(kind),
    dtComment: 'Date the run observed the value, in the archive time zone (YYYY-MM-DD)',
  });
}

/** The three identity tables. */
export function identityTables(props: ArchiveLocationProps): ArchiveTableDefinition[] {
  return IDENTITY_KINDS.map((kind) => identityTable(kind, props));
}
