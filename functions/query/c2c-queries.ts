/**
 * The named query of one one-to-one conversation (issue 26; docs/querying.md): every message of
 * the pair, oldest first (by time, then `MsgSeq` and `MsgRandom`, the server's order), from `c2c_messages_current`, and the items the archive kept but could not
 * read (quarantined rows of `c2c_messages`) as rows marked unreadable with their exact text. With
 * names (docs/names.md), the sender's nickname valid at the message's time (`user_names`), else
 * the account. `npm run export -- --conversation a,b` runs it with the pair sorted
 * ({@link conversationParams}); named-queries.ts registers it.
 */
import { compareCodePoints } from '../domain/c2c-record.ts';
import { QueryUsageError } from './errors.ts';

/** A named query's shape (functions/query/named-queries.ts registers these; it imports this file). */
interface C2cQuery {
  readonly name: string;
  readonly description: string;
  readonly params: readonly {
    readonly name: string;
    readonly type: 'string' | 'date';
    readonly description: string;
  }[];
  readonly sql: string;
  readonly namesSql: string;
}

export const C2C_CONVERSATION_QUERY_NAME = 'c2c-conversation';
/** The `dt` range a conversation export reads when none is given: every day. */
export const ALL_DAYS = { from: '1970-01-01', to: '9999-12-31' } as const;

const WHERE = 'dt BETWEEN :from AND :to AND account_a = :account_a AND account_b = :account_b';

/** The items of the pair the archive could not read (`c2c_messages_unreadable`). */
const UNREADABLE = (nameColumns: string) => `SELECT msg_time, sent_at, from_account,${nameColumns}
    to_account, 'unreadable: ' || coalesce(reason, 'unknown reason') AS text, '' AS element_types,
    false AS is_recalled, false AS is_deleted, msg_key, CAST(NULL AS bigint) AS msg_seq, CAST(NULL AS bigint) AS msg_random,
    CAST(0 AS bigint) AS revision, sdk_app_id, dt, true AS unreadable, raw
  FROM c2c_messages_unreadable
  WHERE ${WHERE}`;

/** The row of `user_names` valid at the message's time (docs/names.md's predicate). */
const NAME_JOIN = `LEFT JOIN user_names un ON un.sdkappid = m.sdkappid AND un.sdk_app_id = m.sdk_app_id
    AND un.account = m.from_account
    AND (un.valid_from IS NULL OR un.valid_from <= m.msg_time) AND (un.valid_to IS NULL OR m.msg_time < un.valid_to)`;

export const C2C_QUERIES: readonly C2cQuery[] = [
  {
    name: C2C_CONVERSATION_QUERY_NAME,
    description:
      'A one-to-one conversation (the pair sorted: account_a first by code point) for a date range, oldest first; items the archive could not read are rows marked unreadable, with their exact text in raw',
    params: [
      { name: 'account_a', type: 'string', description: 'the lower account of the pair' },
      { name: 'account_b', type: 'string', description: 'the higher account of the pair' },
      { name: 'from', type: 'date', description: 'first dt, YYYY-MM-DD (inclusive)' },
      { name: 'to', type: 'date', description: 'last dt, YYYY-MM-DD (inclusive)' },
    ],
    sql: `SELECT sent_at, from_account, to_account, text, element_types, is_recalled, is_deleted, msg_key, msg_seq, revision, sdk_app_id, dt, unreadable, raw
FROM (
  SELECT msg_time, sent_at, from_account, to_account, text, element_types, is_recalled, is_deleted, msg_key, msg_seq,
    msg_random, revision, sdk_app_id, dt, false AS unreadable, CAST(NULL AS varchar) AS raw
  FROM c2c_messages_current
  WHERE ${WHERE}
  UNION ALL
  ${UNREADABLE('')}
) AS conversation
ORDER BY msg_time, msg_seq, msg_random, msg_key`,
    namesSql: `SELECT sent_at, from_account, from_name, from_gone, to_account, text, element_types, is_recalled, is_deleted, msg_key, msg_seq, revision, sdk_app_id, dt, unreadable, raw
FROM (
  SELECT m.msg_time, m.sent_at, m.from_account,
    CASE WHEN un.nick <> '' THEN un.nick ELSE m.from_account END AS from_name,
    un.gone_since IS NOT NULL AS from_gone,
    m.to_account, m.text, m.element_types, m.is_recalled, m.is_deleted, m.msg_key, m.msg_seq, m.msg_random, m.revision,
    m.sdk_app_id, m.dt,
    false AS unreadable, CAST(NULL AS varchar) AS raw
  FROM c2c_messages_current m
  ${NAME_JOIN}
  WHERE m.dt BETWEEN :from AND :to AND m.account_a = :account_a AND m.account_b = :account_b
  UNION ALL
  ${UNREADABLE(' from_account AS from_name, false AS from_gone,')}
) AS conversation
ORDER BY msg_time, msg_seq, msg_random, msg_key`,
  },
];

/**
 * The two accounts of `--conversation`: `a,b` (exactly one comma), or a JSON array of two strings
 * for accounts that hold a comma (`["bob,x","alice"]`); sorted by code point, as the archive
 * names the pair, so either order finds it.
 * @throws QueryUsageError naming `--conversation`.
 */
export function parseConversationFlag(text: string): [string, string] {
  const field = '--conversation';
  let pair: unknown[];
  if (text.trimStart().startsWith('[')) {
    try {
      pair = JSON.parse(text) as unknown[];
    } catch {
      throw new QueryUsageError(`${field}: not a JSON array of two accounts`, { field });
    }
  } else {
    pair = text.split(',');
    if (pair.length !== 2) {
      throw new QueryUsageError(
        `${field} a,b: give two accounts separated by one comma, or a JSON array ["a,1","b"] when an account holds a comma`,
        { field },
      );
    }
  }
  if (!Array.isArray(pair) || pair.length !== 2 || !pair.every((a) => typeof a === 'string' && a !== '')) {
    throw new QueryUsageError(`${field}: expected two non-empty accounts`, { field });
  }
  const [a, b] = pair as [string, string];
  if (a === b) throw new QueryUsageError(`${field}: the two accounts are the same`, { field });
  return compareCodePoints(a, b) <= 0 ? [a, b] : [b, a];
}

/**
 * The named query's raw parameters for a pair (either order: sorted here) and an optional date
 * range (default every day).
 */
export function conversationParams(
  pair: readonly [string, string],
  range: { readonly from?: string | undefined; readonly to?: string | undefined },
): Record<string, string> {
  const [a, b] = compareCodePoints(pair[0], pair[1]) <= 0 ? pair : [pair[1], pair[0]];
  return {
    account_a: a,
    account_b: b,
    from: range.from ?? ALL_DAYS.from,
    to: range.to ?? ALL_DAYS.to,
  };
}
