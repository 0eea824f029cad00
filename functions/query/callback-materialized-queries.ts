/**
 * The view `messages_with_source` and named queries over the materialized callback rows (issue 25,
 * docs/callbacks.md "Materialized rows"; the tables are functions/query/callback-tables.ts), the
 * queries registered with the other callback queries (functions/query/callback-views.ts):
 *
 * - `messages-with-source`: the view for a date range: every message once, whether the pull, a callback or
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

/** The table names the view reads (functions/query/tables.ts and callback-tables.ts name them). */
const MESSAGES = 'messages';
const CALLBACK_MESSAGE_ROWS = 'callback_message_rows';

/** The columns both sides of {@link MESSAGES_WITH_SOURCE_VIEW} give, in its order. */
const SIDE_COLUMNS = [
  'sdk_app_id',
  'group_id',
  'topic_id',
  'msg_seq',
  'msg_time',
  'from_account',
  'msg_random',
  'text',
  'cloud_custom_data',
] as const;

/** The first delivery of each callback message (a duplicate or a replay is another row of the table). */
const firstDeliveries = (table: string) => `(SELECT * FROM (
    SELECT sdkappid, dt, ${SIDE_COLUMNS.join(', ')},
      row_number() OVER (PARTITION BY sdkappid, dt, sdk_app_id, group_id, coalesce(topic_id, ''), msg_seq, msg_time
        ORDER BY received_at, body_sha256) AS delivery
    FROM ${table}
  ) AS ranked WHERE delivery = 1)`;

/** A pull row (first capture) and a callback row are one message: same partition, group, topic, seq and time. */
const SAME_MESSAGE = `pl.sdkappid = cb.sdkappid AND pl.dt = cb.dt AND pl.sdk_app_id = cb.sdk_app_id
    AND pl.group_id = cb.group_id AND coalesce(pl.topic_id, '') = coalesce(cb.topic_id, '')
    AND pl.msg_seq = cb.msg_seq AND (pl.msg_time = cb.msg_time OR pl.msg_time = 0)`;
const FIRST_CAPTURE = 'coalesce(pl.revision, 0) = 0 AND NOT coalesce(pl.quarantined, false)';

/**
 * Every message once, with its source: the pull's first captures (each with the callback that told
 * it, if any: 'both', else 'pull'), then the callback messages the pull never archived ('callback',
 * unconfirmed: an anti-join, no correlated subquery). A UNION ALL of two branches joined on
 * `sdkappid` and `dt` (a callback row's `dt` is its message's date, as the pull's), so a `dt`
 * filter on the view reaches both tables in both branches and prunes their partitions, which a full
 * outer join would not promise.
 */
const messagesWithSourceSql = (
  table: (name: string) => string,
) => `SELECT ${SIDE_COLUMNS.map((c) => `pl.${c}`).join(', ')},
    CASE WHEN cb.msg_seq IS NULL THEN 'pull' ELSE 'both' END AS source, false AS unconfirmed,
    cb.msg_seq IS NOT NULL AND coalesce(pl.is_place_msg, 0) = 0
      AND (pl.from_account IS DISTINCT FROM cb.from_account OR pl.msg_random IS DISTINCT FROM cb.msg_random
        OR pl.text IS DISTINCT FROM cb.text) AS differs,
    pl.sdkappid, pl.dt
  FROM ${table(MESSAGES)} pl LEFT JOIN ${firstDeliveries(table(CALLBACK_MESSAGE_ROWS))} cb ON ${SAME_MESSAGE}
  WHERE ${FIRST_CAPTURE}
  UNION ALL
  SELECT ${SIDE_COLUMNS.map((c) => `cb.${c}`).join(', ')}, 'callback' AS source, true AS unconfirmed,
    false AS differs, cb.sdkappid, cb.dt
  FROM ${firstDeliveries(table(CALLBACK_MESSAGE_ROWS))} cb
    LEFT JOIN (SELECT * FROM ${table(MESSAGES)} pl WHERE ${FIRST_CAPTURE}) pl ON ${SAME_MESSAGE}
  WHERE pl.msg_seq IS NULL`;

const pass = (name: string, hiveType: string, comment: string) => ({
  name,
  hiveType,
  athena: name,
  duckdb: name,
  comment,
});

/**
 * `messages_with_source` (functions/query/views.ts renders it for Athena and DuckDB): every group
 * message once, whether the pull, a callback or both hold it.
 */
export const MESSAGES_WITH_SOURCE_VIEW = {
  name: 'messages_with_source',
  description:
    "Every group message once, from the pull, callbacks or both (source 'pull', 'callback', 'both'; the pull's first capture when both hold it; callback-only rows unconfirmed)",
  from: MESSAGES,
  source: {
    kind: 'sql',
    tables: [MESSAGES, CALLBACK_MESSAGE_ROWS],
    columns: [...SIDE_COLUMNS, 'source', 'unconfirmed', 'differs', 'sdkappid', 'dt'],
    sql: messagesWithSourceSql,
  },
  columns: [
    pass('sdk_app_id', 'bigint', 'SDKAppID'),
    pass('group_id', 'string', 'GroupId'),
    pass('topic_id', 'string', 'Topic ID, null outside topics'),
    pass('msg_seq', 'bigint', 'MsgSeq'),
    pass('msg_time', 'bigint', 'MsgTimeStamp, epoch seconds (the pull’s when both hold the message)'),
    {
      name: 'sent_at',
      hiveType: 'string',
      athena: "format_datetime(from_unixtime(msg_time, {zone}), 'yyyy-MM-dd HH:mm:ss')",
      duckdb: "strftime(timezone({zone}, to_timestamp(msg_time)), '%Y-%m-%d %H:%M:%S')",
      comment: 'Local time in the archive zone, yyyy-MM-dd HH:mm:ss',
    },
    pass('from_account', 'string', 'From_Account'),
    pass('msg_random', 'bigint', 'MsgRandom'),
    pass('text', 'string', 'Text elements joined with a newline, as first captured'),
    pass('cloud_custom_data', 'string', 'CloudCustomData, as first captured'),
    pass('source', 'string', "'pull', 'callback' (only callbacks hold it) or 'both'"),
    pass('unconfirmed', 'boolean', 'Only callbacks hold it: the Sign does not cover a callback body'),
    pass('differs', 'boolean', 'Both hold it and the callback told another sender, random or text'),
    pass('sdkappid', 'string', 'Partition: the SDKAppID'),
    pass('dt', 'string', 'Partition: the message date; filter on it to limit bytes scanned'),
  ],
} as const;

/** The named query over the view, for a date range (the columns of the view but `sent_at`). */
const MESSAGES_WITH_SOURCE = `SELECT sdk_app_id, group_id, topic_id, msg_seq, msg_time, from_account, msg_random, text,
  cloud_custom_data, source, unconfirmed, differs, dt
FROM messages_with_source
WHERE dt BETWEEN :from AND :to
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
