/**
 * The audit's SQL over the `messages` table, the same text for DuckDB and Athena except the one
 * date expression (the message's local date), which the dialects spell differently. Every query
 * is for one app (`sdkappid = ?`, the partition) and returns few rows on a healthy archive: gaps,
 * duplicates, misplaced rows and revision holes are listed, not the messages.
 *
 * `"$path"` is the object a row was read from (Athena's pseudo-column; the DuckDB mirror names a
 * column so). Rows written before the revision columns existed read as revision 0, generation 0.
 */
import type { SqlDialect } from '../port.ts';

const GEN = 'coalesce(generation, 0)';
const REV = 'coalesce(revision, 0)';

/**
 * A row whose body is not (only) its `msg_body` column: a quarantined item, a message kept as served
 * (`raw`), or a `MsgBody` kept verbatim in `extra` (any mention of it). The audit reads the few
 * objects holding such rows themselves for their media references, as the transcript does.
 */
const BODY_ELSEWHERE =
  "raw IS NOT NULL OR coalesce(quarantined, false) OR strpos(coalesce(extra, ''), 'MsgBody') > 0";

/**
 * Per target (and object): seq bounds and row counts, and how many rows keep their body elsewhere
 * ({@link BODY_ELSEWHERE}). One row per (target, object).
 */
export const OBJECT_TARGETS_SQL = objectTargetsSql(0);

/**
 * `AND dt IN (?, …)` for `partitions` parameters (none: every partition). The incremental audit
 * reads only the partitions that are new or changed since its totals (incremental.ts).
 */
export function partitionFilter(partitions: number): string {
  return partitions === 0 ? '' : ` AND dt IN (${Array.from({ length: partitions }, () => '?').join(', ')})`;
}

/** {@link OBJECT_TARGETS_SQL} over `partitions` `dt` parameters after the sdkappid (0: all). */
export function objectTargetsSql(partitions: number): string {
  return `SELECT "$path" AS path, group_id, topic_id, ${GEN} AS gen,
  min(msg_seq) AS first_seq, max(msg_seq) AS last_seq, count(*) AS rows_n,
  count_if(${REV} > 0) AS revision_rows, count_if(${BODY_ELSEWHERE}) AS elsewhere_rows
FROM messages WHERE sdkappid = ?${partitionFilter(partitions)}
GROUP BY 1, 2, 3, 4
ORDER BY 2, 3, 4, 1`;
}

/**
 * The incremental audit's seq ranges: per object and target, the runs of consecutive seqs that
 * have a revision-0 row (gaps and islands: a seq minus its rank is constant along a run). One row
 * per run, normally one per (object, target).
 */
export function revisionZeroRangesSql(partitions: number): string {
  return `SELECT path, group_id, topic_id, gen, min(msg_seq) AS lo, max(msg_seq) AS hi FROM (
  SELECT path, group_id, topic_id, gen, msg_seq,
    msg_seq - row_number() OVER (PARTITION BY path, group_id, topic_id, gen ORDER BY msg_seq) AS island
  FROM (SELECT DISTINCT "$path" AS path, group_id, topic_id, ${GEN} AS gen, msg_seq
    FROM messages WHERE sdkappid = ?${partitionFilter(partitions)} AND ${REV} = 0) s
) i
GROUP BY path, group_id, topic_id, gen, island`;
}

/**
 * The incremental audit's exceptional rows: revisions above 0, placeholders, rows without a
 * message time (zeroed placeholders), a (seq, revision) held more than once in one object, and rows
 * whose message time falls on another date than their `dt` folder (parameters: sdkappid, the
 * partitions, then the zone; the date is compared in the WHERE clause, where Athena takes
 * parameters). Few rows on a healthy archive.
 */
export function exceptionalRowsSql(dialect: SqlDialect, partitions: number): string {
  return `SELECT path, group_id, topic_id, gen, msg_seq, rev, place, msg_time, dt, n FROM (
  SELECT "$path" AS path, group_id, topic_id, ${GEN} AS gen, msg_seq, ${REV} AS rev,
    coalesce(is_place_msg, 0) AS place, coalesce(msg_time, 0) AS msg_time, dt,
    count(*) OVER (PARTITION BY "$path", group_id, topic_id, ${GEN}, msg_seq, ${REV}) AS n
  FROM messages WHERE sdkappid = ?${partitionFilter(partitions)}
) x
WHERE rev > 0 OR place <> 0 OR msg_time <= 0 OR n > 1 OR dt <> ${localDate(dialect)}`;
}

/** Holes in each target's seqs: `(msg_seq, next_seq)` with nothing in between. */
export const GAPS_SQL = `SELECT group_id, topic_id, gen, msg_seq, next_seq FROM (
  SELECT group_id, topic_id, gen, msg_seq,
    lead(msg_seq) OVER (PARTITION BY group_id, topic_id, gen ORDER BY msg_seq) AS next_seq
  FROM (SELECT DISTINCT group_id, topic_id, ${GEN} AS gen, msg_seq FROM messages WHERE sdkappid = ?) s
) g
WHERE next_seq > msg_seq + 1
ORDER BY 1, 2, 3, 4`;

/** Every row of a (seq, revision) that occurs more than once, with its object. */
export const DUPLICATES_SQL = `SELECT group_id, topic_id, gen, msg_seq, rev, path FROM (
  SELECT group_id, topic_id, ${GEN} AS gen, msg_seq, ${REV} AS rev, "$path" AS path,
    count(*) OVER (PARTITION BY group_id, topic_id, ${GEN}, msg_seq, ${REV}) AS n
  FROM messages WHERE sdkappid = ?
) d
WHERE n > 1
ORDER BY 1, 2, 3, 4, 5, 6`;

/** Messages whose revisions are not 0 … n without a hole. */
export const REVISION_HOLES_SQL = `SELECT group_id, topic_id, ${GEN} AS gen, msg_seq,
  count(DISTINCT ${REV}) AS revisions, max(${REV}) AS last_revision
FROM messages WHERE sdkappid = ?
GROUP BY 1, 2, 3, 4
HAVING count(DISTINCT ${REV}) <> max(${REV}) + 1 OR min(${REV}) <> 0
ORDER BY 1, 2, 3, 4`;

/** Placeholders as first captured (revision 0): `IsPlaceMsg` 1 (deleted, expired) and 2 (recalled). */
export const PLACEHOLDERS_SQL = `SELECT group_id, topic_id, ${GEN} AS gen, msg_seq, is_place_msg
FROM messages WHERE sdkappid = ? AND ${REV} = 0 AND is_place_msg <> 0
ORDER BY 1, 2, 3, 4`;

/** The message's date in the archive zone (`?` is the zone), as the writer files it. */
function localDate(dialect: SqlDialect): string {
  return dialect === 'athena'
    ? "format_datetime(from_unixtime(msg_time, ?), 'yyyy-MM-dd')"
    : "strftime(timezone(?, to_timestamp(msg_time)), '%Y-%m-%d')";
}

/**
 * Rows whose `dt` folder is not their message date; parameters: zone, then sdkappid. A zeroed
 * placeholder (`MsgTimeStamp` 0, functions/domain/placeholder-time.ts) has no date of its own: the
 * writer files its revision beside the message's first capture (so that is where it belongs), and
 * a first capture under its neighbours' date, which the table cannot check.
 */
export function wrongPartitionSql(dialect: SqlDialect): string {
  return `SELECT group_id, topic_id, gen, msg_seq, dt, expected, path FROM (
  SELECT group_id, topic_id, ${GEN} AS gen, msg_seq, dt, "$path" AS path,
    CASE WHEN msg_time > 0 THEN ${localDate(dialect)}
      ELSE first_value(dt) OVER (PARTITION BY group_id, topic_id, ${GEN}, msg_seq ORDER BY ${REV}) END AS expected
  FROM messages WHERE sdkappid = ?
) w
WHERE dt <> expected
ORDER BY 1, 2, 3, 4`;
}

/** The element types that can reference media (functions/domain/media-refs.ts), and the merged forward. */
const MEDIA_ELEMENT_TYPES = [
  'TIMImageElem',
  'TIMFileElem',
  'TIMSoundElem',
  'TIMVideoFileElem',
  'TIMRelayElem',
]
  .map((t) => `'${t}'`)
  .join(', ');

/**
 * The media elements of each message's first version within each object (its lowest revision
 * there, no placeholder): object, message, 1-based element position, type, and for a merged
 * forward its `MsgList` as JSON text (media nested in it are found from that text). Athena's
 * UNNEST of an array of rows gives each field a column and reads `msg_content` as a struct whose
 * fields match case-insensitively; the DuckDB mirror keeps the element a struct and `msg_content`
 * JSON with the API's keys.
 */
export function mediaElementsSql(dialect: SqlDialect, partitions = 0): string {
  const athena = dialect === 'athena';
  const type = athena ? 'e.msg_type' : 'e.el.msg_type';
  const list = athena
    ? 'e.msg_content.msglist'
    : "CAST(json_extract(e.el.msg_content, '$.MsgList') AS VARCHAR)";
  const unnest = athena ? 'e(msg_type, msg_content, pos)' : 'e(el, pos)';
  return `SELECT f.path, f.group_id, f.topic_id, f.msg_seq, e.pos, ${type} AS msg_type,
  CASE WHEN ${type} = 'TIMRelayElem' THEN ${list} END AS msg_list
FROM (
  SELECT "$path" AS path, group_id, topic_id, msg_seq, coalesce(is_place_msg, 0) AS place, msg_body,
    ${REV} AS rev, min(${REV}) OVER (PARTITION BY "$path", group_id, topic_id, msg_seq) AS first_rev
  FROM messages WHERE sdkappid = ?${partitionFilter(partitions)}
) f
CROSS JOIN UNNEST(f.msg_body) WITH ORDINALITY AS ${unnest}
WHERE f.rev = f.first_rev AND f.place = 0 AND ${type} IN (${MEDIA_ELEMENT_TYPES})`;
}
