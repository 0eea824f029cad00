/**
 * Named queries over the materialized callback rows (issue 25, docs/callbacks.md "Materialized
 * rows"; the tables are functions/query/callback-tables.ts), registered with the other callback
 * queries (functions/query/callback-views.ts):
 *
 * - `messages-with-source`: every message of a date range once, whether the pull, a callback or
 *   both hold it (`source` 'pull', 'callback', 'both'). When both do, the pull's copy is the one
 *   shown (`differs` says whether the callback told another sender, random or text); a message
 *   only callbacks hold is `unconfirmed` (the Sign does not cover the body).
 * - `message-revisions`: the changes of a date range, from the pull's rescan (`source` 'pull': what
 *   changed, seen at `observed_at`, by whom unknown) and from recall and edit callbacks (`source`
 *   'callback': `changed_by` and `changed_at`).
 *
 * The pull side of a message is its first capture (revision 0), matched with the callback's by
 * group, topic, seq and time (a group dissolved and re-created reuses seqs, not times; a
 * placeholder the server zeroed matches by seq alone). The SQL is the same for Athena and DuckDB.
 */

/** A named query's shape (functions/query/named-queries.ts registers these). */
interface MaterializedQuery {
  readonly name: string;
  readonly description: string;
  readonly params: readonly { readonly name: string; readonly type: 'date'; readonly description: string }[];
  readonly sql: string;
}

const FROM = { name: 'from', type: 'date', description: 'first date, YYYY-MM-DD' } as const;
const TO = { name: 'to', type: 'date', description: 'last date, YYYY-MM-DD' } as const;

const MESSAGES_WITH_SOURCE = `WITH pl AS (
  SELECT sdk_app_id, group_id, coalesce(topic_id, '') AS topic, msg_seq, msg_time, from_account, msg_random,
    text, cloud_custom_data, is_place_msg, dt
  FROM messages
  WHERE dt BETWEEN :from AND :to AND coalesce(revision, 0) = 0 AND NOT coalesce(quarantined, false)
), cb AS (
  SELECT * FROM (
    SELECT sdk_app_id, group_id, coalesce(topic_id, '') AS topic, msg_seq, msg_time, from_account, msg_random,
      text, cloud_custom_data, received_at, dt,
      row_number() OVER (PARTITION BY sdk_app_id, group_id, coalesce(topic_id, ''), msg_seq, msg_time
        ORDER BY received_at, body_sha256) AS delivery
    FROM callback_message_rows
    WHERE dt BETWEEN :from AND :to
  ) AS ranked WHERE delivery = 1
)
SELECT coalesce(pl.sdk_app_id, cb.sdk_app_id) AS sdk_app_id, coalesce(pl.group_id, cb.group_id) AS group_id,
  nullif(coalesce(pl.topic, cb.topic), '') AS topic_id, coalesce(pl.msg_seq, cb.msg_seq) AS msg_seq,
  CASE WHEN pl.msg_seq IS NULL THEN cb.msg_time ELSE pl.msg_time END AS msg_time,
  CASE WHEN pl.msg_seq IS NULL THEN cb.from_account ELSE pl.from_account END AS from_account,
  CASE WHEN pl.msg_seq IS NULL THEN cb.msg_random ELSE pl.msg_random END AS msg_random,
  CASE WHEN pl.msg_seq IS NULL THEN cb.text ELSE pl.text END AS text,
  CASE WHEN pl.msg_seq IS NULL THEN cb.cloud_custom_data ELSE pl.cloud_custom_data END AS cloud_custom_data,
  CASE WHEN pl.msg_seq IS NULL THEN 'callback' WHEN cb.msg_seq IS NULL THEN 'pull' ELSE 'both' END AS source,
  pl.msg_seq IS NULL AS unconfirmed,
  pl.msg_seq IS NOT NULL AND cb.msg_seq IS NOT NULL AND coalesce(pl.is_place_msg, 0) = 0
    AND (pl.from_account IS DISTINCT FROM cb.from_account OR pl.msg_random IS DISTINCT FROM cb.msg_random
      OR pl.text IS DISTINCT FROM cb.text) AS differs,
  coalesce(pl.dt, cb.dt) AS dt
FROM pl FULL OUTER JOIN cb ON pl.sdk_app_id = cb.sdk_app_id AND pl.group_id = cb.group_id
  AND pl.topic = cb.topic AND pl.msg_seq = cb.msg_seq AND (pl.msg_time = cb.msg_time OR pl.msg_time = 0)
ORDER BY sdk_app_id, group_id, topic_id, msg_seq, msg_time`;

const MESSAGE_REVISIONS = `SELECT sdk_app_id, group_id, topic_id, msg_seq, change, source, changed_by, changed_at, observed_at, text, dt
FROM (
  SELECT sdk_app_id, group_id, topic_id, msg_seq, change, 'pull' AS source, CAST(NULL AS VARCHAR) AS changed_by,
    CAST(NULL AS BIGINT) AS changed_at, observed_at, text, dt
  FROM messages
  WHERE dt BETWEEN :from AND :to AND coalesce(revision, 0) > 0 AND NOT coalesce(quarantined, false)
  UNION ALL
  SELECT sdk_app_id, group_id, topic_id, msg_seq, change, 'callback' AS source, changed_by, changed_at,
    CAST(NULL AS BIGINT) AS observed_at, text, dt
  FROM callback_revisions
  WHERE dt BETWEEN :from AND :to
) AS revisions
ORDER BY sdk_app_id, group_id, topic_id, msg_seq, coalesce(changed_at, observed_at * 1000)`;

export const MATERIALIZED_QUERIES: readonly MaterializedQuery[] = [
  {
    name: 'messages-with-source',
    description:
      "Every message of a date range once, from the pull, callbacks or both (source 'pull', 'callback', 'both'; the pull's copy shown when both hold it; callback-only rows unconfirmed)",
    params: [FROM, TO],
    sql: MESSAGES_WITH_SOURCE,
  },
  {
    name: 'message-revisions',
    description:
      "Changes of a date range: from the pull's rescan (source 'pull', seen at observed_at) and from recall and edit callbacks (source 'callback', with changed_by and changed_at)",
    params: [FROM, TO],
    sql: MESSAGE_REVISIONS,
  },
];
