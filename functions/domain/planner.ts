/**
 * The planner's pure decisions: which groups are in scope, which are skipped and why, and which
 * targets have work. The engine does the calls (discovery, `get_group_info`, `get_topic`).
 */
import type { GroupInfo, GroupType } from './tencent-types.ts';

export interface GroupSelection {
  /** Exact ids or `*`/`?` wildcards; empty = every group. */
  include: readonly string[];
  /** Exact ids or wildcards, applied after `include`. */
  exclude: readonly string[];
  /** Group types to archive; empty = every type that keeps history. */
  types: readonly string[];
}

/** Group types whose history the API does not keep (docs/tencent-api.md, Supported group types). */
export const TYPES_WITHOUT_HISTORY: ReadonlySet<GroupType> = new Set(['AVChatRoom', 'BChatRoom']);

/**
 * Compile `*` / `?` wildcards to a RegExp. Hand-written: the patterns are group ids (no path
 * semantics), so a glob library's `/` and brace rules would only surprise.
 */
export function wildcardToRegExp(pattern: string): RegExp {
  const escaped = pattern
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replace(/\*/g, '.*')
    .replace(/\?/g, '.');
  return new RegExp(`^${escaped}$`);
}

/** Does the group id pass the include/exclude filters? */
export function selectsGroupId(selection: GroupSelection, groupId: string): boolean {
  const matches = (patterns: readonly string[]) => patterns.some((p) => wildcardToRegExp(p).test(groupId));
  if (selection.include.length > 0 && !matches(selection.include)) return false;
  return !matches(selection.exclude);
}

export type GroupDecision =
  | { kind: 'archive'; type: GroupType; hasTopics: boolean }
  | {
      kind: 'skip';
      reason: 'deleted' | 'invalid-id' | 'no-history-type' | 'type-filtered' | 'error';
      detail: string;
    };

/**
 * Decide what to do with one group from its `get_group_info` entry.
 * Topic-enabled Community groups have ids starting with `@TGS#_` (docs/tencent-api.md, get_topic).
 */
export function decideGroup(selection: GroupSelection, info: GroupInfo): GroupDecision {
  if (!info.ok) {
    if (info.errorCode === 10010)
      return { kind: 'skip', reason: 'deleted', detail: 'group dissolved (10010)' };
    if (info.errorCode === 10015)
      return { kind: 'skip', reason: 'invalid-id', detail: 'group does not exist (10015)' };
    return {
      kind: 'skip',
      reason: 'error',
      detail: `get_group_info ErrorCode ${info.errorCode}: ${info.errorInfo}`,
    };
  }
  if (TYPES_WITHOUT_HISTORY.has(info.type)) {
    return { kind: 'skip', reason: 'no-history-type', detail: `${info.type} keeps no history` };
  }
  if (selection.types.length > 0 && !selection.types.map(canonicalType).includes(canonicalType(info.type))) {
    return { kind: 'skip', reason: 'type-filtered', detail: `type ${info.type} not selected` };
  }
  return {
    kind: 'archive',
    type: info.type,
    hasTopics: info.type === 'Community' && info.groupId.startsWith('@TGS#_'),
  };
}

/**
 * `Work` and `Meeting` are the newer names of `Private` and `ChatRoom` (docs/tencent-api.md, Supported group
 * types).
 */
export function canonicalType(type: string): string {
  if (type === 'Work') return 'Private';
  if (type === 'Meeting') return 'ChatRoom';
  return type;
}

/** Split a list into batches of at most `size` (50 for `get_group_info`). */
export function batches<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/** Empty `get_appid_group_list` pages with a non-zero `Next` tolerated in a row before the listing is abandoned. */
export const MAX_EMPTY_LIST_PAGES = 3;

/** What a listing has seen so far, for {@link listingProblem}. */
export interface ListingProgress {
  readonly seen: Set<bigint>;
  emptyInARow: number;
}

/**
 * Does this `get_appid_group_list` page show that the listing would never end? A `Next` handed out
 * twice loops forever; empty pages that still carry a `Next` may, so a few in a row are tolerated
 * (a full last page is followed by an empty one, docs/tencent-api.md, get_appid_group_list) and more are not.
 * Returns the problem, or undefined. Updates `progress`.
 */
export function listingProblem(
  progress: ListingProgress,
  page: { count: number; next: bigint },
): string | undefined {
  if (page.next === 0n) return undefined;
  if (progress.seen.has(page.next)) {
    return `returned Next ${page.next} a second time (after ${progress.seen.size} pages): the listing would never end`;
  }
  progress.seen.add(page.next);
  progress.emptyInARow = page.count === 0 ? progress.emptyInARow + 1 : 0;
  if (progress.emptyInARow > MAX_EMPTY_LIST_PAGES) {
    return `returned ${progress.emptyInARow} empty pages in a row that still carry a Next: the listing would never end`;
  }
  return undefined;
}
