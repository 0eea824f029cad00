/**
 * The identity rows a transcript needs (issue 24), read from the store: the rows of the group and
 * of the accounts that sent its messages, of the apps whose objects hold the conversation. Every
 * object under `identities/<kind>/sdkappid=<id>/` is listed and read (rows record only changes, so
 * these prefixes stay small beside `messages/`: docs/querying.md, "Names in transcripts", gives
 * the cost), and only the rows naming this group or its senders are kept. A line that is not a
 * row of its kind is left out and reported through `warn`; an archive without identity rows gives
 * empty lists, and the transcript then reads as it did before names.
 */
import type { GroupMemberRow, GroupNameRow, IdentityKind, UserNameRow } from '../../domain/identity-rows.ts';
import type { IdentityRowSet } from '../../domain/identity-timeline.ts';
import { gunzipNdjson } from '../../domain/ndjson-gzip.ts';
import type { ObjectStore } from '../../domain/storage.ts';

/** Whose rows: the apps, the group and its senders (null for a one-to-one conversation: users only). */
export interface IdentityQuery {
  readonly sdkAppIds: readonly number[];
  readonly groupId: string | null;
  readonly accounts: ReadonlySet<string>;
}

/** How many objects are read at once. */
const READ_CONCURRENCY = 8;

/** The prefix of one kind's rows of one app. */
export function identityPrefix(kind: IdentityKind, sdkAppId: number): string {
  return `identities/${kind}/sdkappid=${sdkAppId}/`;
}

/** The rows of the group and its senders, and how many objects were read. */
export async function loadIdentities(
  store: ObjectStore,
  query: IdentityQuery,
  warn: (message: string) => void = () => {},
): Promise<IdentityRowSet & { objects: number }> {
  const users: UserNameRow[] = [];
  const groups: GroupNameRow[] = [];
  const members: GroupMemberRow[] = [];
  let objects = 0;
  for (const sdkAppId of query.sdkAppIds) {
    for (const kind of ['users', 'groups', 'members'] as const) {
      const keys: string[] = [];
      for await (const key of store.list(identityPrefix(kind, sdkAppId))) {
        if (/\.ndjson(?:\.gz)?$/.test(key)) keys.push(key);
      }
      objects += keys.length;
      await forEachLimited(keys, READ_CONCURRENCY, async (key) => {
        const object = await store.get(key);
        if (object === undefined) return;
        const lines = key.endsWith('.gz')
          ? gunzipNdjson(object.body)
          : new TextDecoder().decode(object.body).split('\n');
        lines.forEach((line, i) => {
          if (line.trim().length === 0) return;
          const row = parseIdentityLine(kind, line);
          if (row === undefined) {
            warn(`transcript: line ${i + 1} of ${key} is not a ${kind} row: left out\n`);
            return;
          }
          if (row.sdk_app_id !== sdkAppId) return;
          if (kind === 'users') {
            const user = row as UserNameRow;
            if (query.accounts.has(user.account)) users.push(user);
          } else if (kind === 'groups') {
            const group = row as GroupNameRow;
            if (group.group_id === query.groupId) groups.push(group);
          } else {
            const member = row as GroupMemberRow;
            if (member.group_id === query.groupId && query.accounts.has(member.account)) members.push(member);
          }
        });
      });
    }
  }
  return { users, groups, members, objects };
}

async function forEachLimited<T>(items: readonly T[], limit: number, work: (item: T) => Promise<void>) {
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const item = items[next++] as T;
      await work(item);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

type Fields = Record<string, unknown>;

const isText = (v: unknown): v is string => typeof v === 'string';
const isTextOrNull = (v: unknown) => v === null || typeof v === 'string';
const isInt = (v: unknown): v is number => Number.isSafeInteger(v);
const isIntOrNull = (v: unknown) => v === null || Number.isSafeInteger(v);

/** One row of `kind` from an NDJSON line, or undefined when the line is not one. */
export function parseIdentityLine(
  kind: IdentityKind,
  line: string,
): UserNameRow | GroupNameRow | GroupMemberRow | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(line);
  } catch {
    return undefined;
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) return undefined;
  const f = parsed as Fields;
  if (!isInt(f.sdk_app_id) || !isInt(f.observed_at)) return undefined;
  switch (kind) {
    case 'users':
      return isText(f.account) &&
        isTextOrNull(f.nick) &&
        isTextOrNull(f.image) &&
        (f.status === 'active' || f.status === 'gone') &&
        isIntOrNull(f.result_code)
        ? (f as unknown as UserNameRow)
        : undefined;
    case 'groups':
      return isText(f.group_id) &&
        isTextOrNull(f.name) &&
        isTextOrNull(f.type) &&
        isTextOrNull(f.owner_account) &&
        (f.status === 'active' || f.status === 'dissolved') &&
        isIntOrNull(f.error_code)
        ? (f as unknown as GroupNameRow)
        : undefined;
    case 'members':
      return isText(f.group_id) &&
        isText(f.account) &&
        isTextOrNull(f.role) &&
        isTextOrNull(f.name_card) &&
        (f.status === 'member' || f.status === 'left')
        ? (f as unknown as GroupMemberRow)
        : undefined;
  }
}
