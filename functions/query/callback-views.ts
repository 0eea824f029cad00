/**
 * Callbacks beside the pull (issue 25, docs/callbacks.md): the `callback_messages` view reads the
 * send callbacks' messages out of `callback_events` (one row per delivery), and two named queries
 * compare them with what the pull archived:
 *
 * - `callback-reconciliation`: per app and group, messages seen by both and equal, by the callback
 *   only (a dissolved group, an expired message, or a pull not yet run), by the pull only (a lost
 *   callback), by both with different content (an edit before the first pull, or a forged body:
 *   the Sign does not cover it), by both where the pull kept only a placeholder, and events
 *   replayed with another body;
 * - `callback-unconfirmed`: the messages only callbacks hold, listed (unconfirmed, since the body
 *   is not signed).
 *
 * "Equal" compares what both sides carry: sender, random and the text elements (joined with a
 * newline, as `messages.text`). The pull side is the first capture (revision 0) of messages sent
 * since the app's first recorded callback: before it, a missing callback means nothing.
 */

import { MATERIALIZED_QUERIES } from './callback-materialized-queries.ts';
import { CALLBACK_EVENTS_TABLE } from './callback-tables.ts';

/** A view column's shape (functions/query/views.ts, which imports this file, defines it). */
interface ViewColumn {
  readonly name: string;
  readonly hiveType: string;
  readonly athena: string;
  readonly duckdb: string;
  readonly comment: string;
}

const both = (expr: string) => ({ athena: expr, duckdb: expr });
const pass = (name: string, hiveType: string, comment: string): ViewColumn => ({
  name,
  hiveType,
  ...both(name),
  comment,
});

/** A body field as text, for readable send callbacks only (quarantined or base64 bodies give null). */
const field = (path: string) => ({
  athena: `CASE WHEN NOT quarantined AND body_encoding = 'utf8' THEN json_extract_scalar(body, '${path}') END`,
  duckdb: `CASE WHEN NOT quarantined AND body_encoding = 'utf8' THEN json_extract_string(body, '${path}') END`,
});
const integerField = (path: string) => ({
  athena: `TRY_CAST(${field(path).athena} AS BIGINT)`,
  duckdb: `TRY_CAST(${field(path).duckdb} AS BIGINT)`,
});

/** The text elements of `MsgBody` joined with a newline, null when there is none (as `messages.text`). */
const TEXT = {
  athena:
    "CASE WHEN NOT quarantined AND body_encoding = 'utf8' THEN nullif(array_join(transform(filter(TRY_CAST(json_extract(body, '$.MsgBody') AS ARRAY(JSON)), E -> json_extract_scalar(E, '$.MsgType') = 'TIMTextElem'), E -> json_extract_scalar(E, '$.MsgContent.Text')), chr(10)), '') END",
  duckdb:
    "CASE WHEN NOT quarantined AND body_encoding = 'utf8' THEN nullif(array_to_string(list_transform(list_filter(TRY_CAST(json_extract(body, '$.MsgBody') AS JSON[]), lambda e: json_extract_string(e, '$.MsgType') = 'TIMTextElem'), lambda e: json_extract_string(e, '$.MsgContent.Text')), chr(10)), '') END",
};

const localDate = (epochSeconds: string) => ({
  athena: `format_datetime(from_unixtime(${epochSeconds}, {zone}), 'yyyy-MM-dd')`,
  duckdb: `strftime(timezone({zone}, to_timestamp(${epochSeconds})), '%Y-%m-%d')`,
});

export const CALLBACK_MESSAGES_VIEW = {
  name: 'callback_messages',
  description:
    'Group messages as send callbacks told them: one row per delivery of Group.CallbackAfterSendMsg (the ids are null for other commands)',
  from: CALLBACK_EVENTS_TABLE,
  columns: [
    pass('sdk_app_id', 'bigint', 'SDKAppID'),
    pass('callback_command', 'string', 'CallbackCommand'),
    { name: 'group_id', hiveType: 'string', ...field('$.GroupId'), comment: 'GroupId' },
    { name: 'topic_id', hiveType: 'string', ...field('$.TopicId'), comment: 'TopicId, null outside topics' },
    { name: 'msg_seq', hiveType: 'bigint', ...integerField('$.MsgSeq'), comment: 'MsgSeq (the pull’s seq)' },
    { name: 'from_account', hiveType: 'string', ...field('$.From_Account'), comment: 'From_Account' },
    {
      name: 'operator_account',
      hiveType: 'string',
      ...field('$.Operator_Account'),
      comment: 'Operator_Account',
    },
    { name: 'msg_random', hiveType: 'bigint', ...integerField('$.Random'), comment: 'Random (MsgRandom)' },
    { name: 'msg_time', hiveType: 'bigint', ...integerField('$.MsgTime'), comment: 'MsgTime, epoch seconds' },
    {
      name: 'msg_dt',
      hiveType: 'string',
      ...localDate(integerField('$.MsgTime').athena),
      duckdb: localDate(integerField('$.MsgTime').duckdb).duckdb,
      comment: 'The message date in the archive zone (the dt its pulled copy is filed under)',
    },
    {
      name: 'online_only',
      hiveType: 'boolean',
      athena: `${integerField('$.OnlineOnlyFlag').athena} = 1`,
      duckdb: `${integerField('$.OnlineOnlyFlag').duckdb} = 1`,
      comment: 'OnlineOnlyFlag 1: never stored, so no pull can see it',
    },
    { name: 'text', hiveType: 'string', ...TEXT, comment: 'Text elements joined with a newline' },
    pass('event_time', 'bigint', 'EventTime, epoch ms'),
    pass('received_at', 'bigint', 'When the receiver got it, epoch ms'),
    pass('event_key', 'string', 'The event’s identity (deliveries of one event share it)'),
    pass('body_sha256', 'string', 'The body’s hash (a replay with another body differs)'),
    pass('sdkappid', 'string', 'Partition: the SDKAppID'),
    pass('dt', 'string', 'Partition: the arrival date'),
  ] satisfies ViewColumn[],
};

/** A named query's shape (functions/query/named-queries.ts registers these; it imports this file). */
interface CallbackQuery {
  readonly name: string;
  readonly description: string;
  readonly params: readonly { readonly name: string; readonly type: 'date'; readonly description: string }[];
  readonly sql: string;
}

const FROM = { name: 'from', type: 'date', description: 'first message date, YYYY-MM-DD' } as const;
const TO = { name: 'to', type: 'date', description: 'last message date, YYYY-MM-DD' } as const;

/** Both sides, one row per message, with the comparison's verdict (`side`). */
const COMPARED = `WITH cb AS (
  SELECT sdk_app_id, group_id, coalesce(topic_id, '') AS topic, msg_seq,
    min(from_account) AS from_account, min(msg_random) AS msg_random, min(text) AS text,
    min(msg_time) AS msg_time, count(DISTINCT body_sha256) AS bodies
  FROM callback_messages
  WHERE callback_command = 'Group.CallbackAfterSendMsg' AND msg_seq IS NOT NULL
    AND NOT coalesce(online_only, false) AND msg_dt BETWEEN :from AND :to
  GROUP BY sdk_app_id, group_id, coalesce(topic_id, ''), msg_seq
), since AS (
  SELECT sdk_app_id, min(received_at) / 1000 AS first_callback FROM callback_events GROUP BY sdk_app_id
), pl AS (
  SELECT sdk_app_id, group_id, coalesce(topic_id, '') AS topic, msg_seq, from_account,
    msg_random, text, msg_time, is_place_msg
  FROM messages
  WHERE dt BETWEEN :from AND :to AND coalesce(revision, 0) = 0 AND NOT coalesce(quarantined, false)
    AND msg_time >= (SELECT min(s.first_callback) FROM since s WHERE s.sdk_app_id = messages.sdk_app_id)
), compared AS (
  SELECT coalesce(cb.sdk_app_id, pl.sdk_app_id) AS sdk_app_id, coalesce(cb.group_id, pl.group_id) AS group_id,
    coalesce(cb.topic, pl.topic) AS topic, coalesce(cb.msg_seq, pl.msg_seq) AS msg_seq,
    coalesce(cb.msg_time, pl.msg_time) AS msg_time, cb.from_account, cb.text AS callback_text, cb.bodies,
    CASE
      WHEN pl.msg_seq IS NULL THEN 'callback-only'
      WHEN cb.msg_seq IS NULL THEN 'pull-only'
      WHEN pl.is_place_msg <> 0 THEN 'pull-placeholder'
      WHEN cb.bodies = 1 AND cb.from_account IS NOT DISTINCT FROM pl.from_account
        AND cb.msg_random IS NOT DISTINCT FROM pl.msg_random AND cb.text IS NOT DISTINCT FROM pl.text THEN 'both-equal'
      ELSE 'different'
    END AS side
  FROM cb FULL OUTER JOIN pl ON cb.sdk_app_id = pl.sdk_app_id AND cb.group_id = pl.group_id
    AND cb.topic = pl.topic AND cb.msg_seq = pl.msg_seq
)`;

export const CALLBACK_QUERIES: readonly CallbackQuery[] = [
  {
    name: 'callback-reconciliation',
    description:
      'Callbacks against the pull per app and group, for messages of a date range: both and equal, callback only, pull only (lost callbacks), different content, pull kept a placeholder, and replays with another body',
    params: [FROM, TO],
    sql: `${COMPARED}
SELECT sdk_app_id, group_id,
  count_if(side = 'both-equal') AS both_equal,
  count_if(side = 'callback-only') AS callback_only,
  count_if(side = 'pull-only') AS pull_only,
  count_if(side = 'different') AS different,
  count_if(side = 'pull-placeholder') AS pull_placeholder,
  count_if(bodies > 1) AS replayed_bodies
FROM compared
GROUP BY sdk_app_id, group_id
ORDER BY sdk_app_id, group_id`,
  },
  {
    name: 'callback-unconfirmed',
    description:
      'Messages of a date range that only callbacks hold (a dissolved group, an expired message): unconfirmed, since a callback body is not signed',
    params: [FROM, TO],
    sql: `${COMPARED}
SELECT sdk_app_id, group_id, nullif(topic, '') AS topic_id, msg_seq, msg_time, from_account, callback_text AS text, bodies
FROM compared
WHERE side = 'callback-only'
ORDER BY sdk_app_id, group_id, topic, msg_seq`,
  },
  ...MATERIALIZED_QUERIES,
];
