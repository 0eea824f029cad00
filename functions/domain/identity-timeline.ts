/**
 * Names as of a time, from identity rows (`identity-rows.ts`), following docs/names.md exactly:
 * for one key, rows ordered by `observed_at`; a row is valid from its `observed_at` (the key's
 * first row from the beginning of time) to the next row's `observed_at` (exclusive; the latest row
 * for ever). A row of a deleted account or a dissolved group has null values: the last known value
 * is carried forward (the views' `last_value … IGNORE NULLS`) and the row's status is reported.
 *
 * The name shown for a sender: the name card valid at the time (when not empty and the member row
 * says `member`), else the nickname valid at the time (when not empty), else the account id.
 * Pure: what the transcript needs for one group and its senders.
 */
import type { GroupMemberRow, GroupNameRow, UserNameRow } from './identity-rows.ts';

/** Which value the shown name is (docs/names.md `from_name_source`). */
export type NameSource = 'name_card' | 'nick' | 'account';

/** A sender as of a time. */
export interface SenderAt {
  readonly account: string;
  /** The name shown: name card, else nickname, else the account id. */
  readonly name: string;
  readonly source: NameSource;
  /** The member's role valid at the time, null when none is known or the member had left. */
  readonly role: string | null;
  /** The account's row valid at the time says `gone`: the nickname (if any) is the last known one. */
  readonly gone: boolean;
  /**
   * When the account is gone now (its latest row): the `observed_at` of the first `gone` row since
   * its last live one, else null. A deleted account cannot send, so its messages are almost all
   * from before: this says the account has since been deleted (the views' `gone_since`).
   */
  readonly goneSince: number | null;
  /** The member's row valid at the time says `left`. */
  readonly left: boolean;
}

/** A group as of a time. */
export interface GroupAt {
  readonly groupId: string;
  /** The name valid at the time; a dissolved group's last known name; null when none was ever served. */
  readonly name: string | null;
  readonly type: string | null;
  readonly dissolved: boolean;
  /** When dissolved: the `observed_at` of the first row of the dissolved stretch valid at the time. */
  readonly dissolvedSince: number | null;
}

/** The identity rows of one group and its senders (rows of other keys are left out). */
export interface IdentityRowSet {
  readonly users: readonly UserNameRow[];
  readonly groups: readonly GroupNameRow[];
  readonly members: readonly GroupMemberRow[];
}

export interface IdentityTimeline {
  /** True when at least one row names this account (as a user or a member of the group). */
  knows(account: string): boolean;
  /** The sender at epoch seconds `t`. */
  senderAt(account: string, t: number): SenderAt;
  /** The group at epoch seconds `t`; undefined when no row names the group. */
  groupAt(t: number): GroupAt | undefined;
}

/** One row with its validity and the values carried forward up to it. */
interface Period<R> {
  readonly row: R;
  readonly validFrom: number | null;
  readonly validTo: number | null;
  /** Index of the row in its key's ordered rows. */
  readonly index: number;
}

/**
 * The rows of one key as periods, ordered by `observed_at` (stable for equal times; an exact
 * duplicate row, the same values at the same time, counts once).
 */
export function periodsOf<R extends { observed_at: number }>(rows: readonly R[]): Period<R>[] {
  const seen = new Set<string>();
  const unique = rows.filter((row) => {
    const text = JSON.stringify(row);
    if (seen.has(text)) return false;
    seen.add(text);
    return true;
  });
  const ordered = unique
    .map((row, i) => ({ row, i }))
    .sort((a, b) => a.row.observed_at - b.row.observed_at || a.i - b.i)
    .map(({ row }) => row);
  return ordered.map((row, index) => ({
    row,
    index,
    validFrom: index === 0 ? null : row.observed_at,
    validTo: ordered[index + 1]?.observed_at ?? null,
  }));
}

/**
 * The period valid at `t`: `(valid_from IS NULL OR valid_from <= t) AND (valid_to IS NULL OR t <
 * valid_to)`, as the views write it (so a time that is not a number matches only a key's only row).
 */
export function periodAt<R>(periods: readonly Period<R>[], t: number): Period<R> | undefined {
  return periods.find(
    (p) => (p.validFrom === null || p.validFrom <= t) && (p.validTo === null || t < p.validTo),
  );
}

/** The last non-null value of `pick` over the periods up to and including `at` (IGNORE NULLS). */
function carried<R, V>(periods: readonly Period<R>[], at: Period<R>, pick: (row: R) => V | null): V | null {
  for (let i = at.index; i >= 0; i--) {
    const row = periods[i]?.row;
    const value = row === undefined ? null : pick(row);
    if (value !== null) return value;
  }
  return null;
}

function groupBy<R>(rows: readonly R[], key: (row: R) => string): Map<string, R[]> {
  const map = new Map<string, R[]>();
  for (const row of rows) {
    const k = key(row);
    const list = map.get(k);
    if (list) list.push(row);
    else map.set(k, [row]);
  }
  return map;
}

/** The timeline of group `groupId` and the accounts of `rows` (rows of other groups are ignored). */
export function identityTimeline(groupId: string, rows: IdentityRowSet): IdentityTimeline {
  const users = new Map(
    [...groupBy(rows.users, (r) => r.account)].map(([account, list]) => [account, periodsOf(list)]),
  );
  const members = new Map(
    [
      ...groupBy(
        rows.members.filter((r) => r.group_id === groupId),
        (r) => r.account,
      ),
    ].map(([account, list]) => [account, periodsOf(list)]),
  );
  const groups = periodsOf(rows.groups.filter((r) => r.group_id === groupId));
  return {
    knows: (account) => users.has(account) || members.has(account),
    senderAt: (account, t) => senderAt(account, t, users.get(account) ?? [], members.get(account) ?? []),
    groupAt: (t) => groupAt(groupId, t, groups),
  };
}

function senderAt(
  account: string,
  t: number,
  users: readonly Period<UserNameRow>[],
  members: readonly Period<GroupMemberRow>[],
): SenderAt {
  const user = periodAt(users, t);
  const member = periodAt(members, t);
  const isMember = member?.row.status === 'member';
  const card = isMember ? (member?.row.name_card ?? '') : '';
  const nick = user === undefined ? null : carried(users, user, (r) => r.nick);
  const base = {
    account,
    role: isMember ? (member?.row.role ?? null) : null,
    gone: user?.row.status === 'gone',
    goneSince: sinceOf(users, (r) => r.status === 'gone'),
    left: member?.row.status === 'left',
  };
  if (card !== '') return { ...base, name: card, source: 'name_card' };
  if (nick !== null && nick !== '') return { ...base, name: nick, source: 'nick' };
  return { ...base, name: account, source: 'account' };
}

/**
 * When the stretch of rows matching `test` that ends at period `at` (default: the latest) began:
 * the `observed_at` of its first row; null when the row at `at` does not match.
 */
function sinceOf<R extends { observed_at: number }>(
  periods: readonly Period<R>[],
  test: (row: R) => boolean,
  at: number = periods.length - 1,
): number | null {
  const row = periods[at]?.row;
  if (row === undefined || !test(row)) return null;
  let first = at;
  while (first > 0 && test((periods[first - 1] as Period<R>).row)) first--;
  return periods[first]?.row.observed_at ?? null;
}

function groupAt(groupId: string, t: number, groups: readonly Period<GroupNameRow>[]): GroupAt | undefined {
  const at = periodAt(groups, t);
  if (at === undefined) return undefined;
  return {
    groupId,
    name: carried(groups, at, (r) => r.name),
    type: carried(groups, at, (r) => r.type),
    dissolved: at.row.status === 'dissolved',
    dissolvedSince: sinceOf(groups, (r) => r.status === 'dissolved', at.index),
  };
}
