/**
 * The named queries for the common questions, defined once: name, description, typed parameters
 * and SQL. The same definitions become Athena saved queries (`AWS::Athena::NamedQuery`), run on
 * Athena through the export command, and run on DuckDB over a local archive.
 *
 * SQL is written with `:name` markers and compiled to positional `?` placeholders; values are
 * never pasted into the SQL. Athena receives them as `ExecutionParameters` (each a SQL literal,
 * rendered here from a validated, typed value), DuckDB as prepared-statement bindings.
 *
 * The queries read the views, which absorb the dialect differences (time zones, array functions),
 * so the named queries themselves are plain SQL both engines accept. Message queries read the
 * latest revision of each message (`messages_flat`, `messages_latest`); `changes` reads the
 * revisions themselves (`message_changes`). `duckdbSql` exists for a
 * query that ever needs a translation. Queries that show a sender have a names variant
 * (`namesSql`: `messages_named`, or the same joins for unreadable items and changes) that adds
 * `from_name`, `from_role` and `group_name`; without names, the columns are exactly as before.
 */
import { C2C_QUERIES } from './c2c-queries.ts';
import { CALLBACK_QUERIES } from './callback-views.ts';
import { QueryUsageError } from './errors.ts';
import type { ParamValue, QueryResult, QueryRunner, SqlDialect } from './port.ts';
import { isRealDate } from './tables.ts';
import { type NamesLookup, namesColumns, namesJoins, renderJoins } from './views.ts';

export type ParamType = 'string' | 'date' | 'integer';

/** One parameter of a named query. */
export interface QueryParamSpec {
  readonly name: string;
  readonly type: ParamType;
  readonly description: string;
}

/** A named query. */
export interface NamedQuery {
  readonly name: string;
  readonly description: string;
  readonly params: readonly QueryParamSpec[];
  /** Athena (Trino) SQL with `:param` markers. */
  readonly sql: string;
  /** DuckDB SQL with `:param` markers, only where it differs from `sql`. */
  readonly duckdbSql?: string;
  /**
   * The same query with names (docs/names.md): today's columns plus `from_name`, `from_role` and
   * `group_name`, for queries that show a sender. Same SQL in both dialects.
   */
  readonly namesSql?: string;
}

/** The name columns a names query reads from a message row (alias `m`) joined by `namesJoins`. */
function nameColumns(m: NamesLookup, names: readonly string[]): Record<string, string> {
  const columns = namesColumns(m);
  return Object.fromEntries(
    names.map((name) => [name, columns.find((c) => c.name === name)?.athena ?? 'NULL'] as const),
  );
}

const UNREADABLE: NamesLookup = { alias: 'u', sender: 'sender', time: 'nullif(u.msg_time, 0)' };
const UNREADABLE_NAMES = nameColumns(UNREADABLE, ['from_name', 'from_role', 'group_name']);
const CHANGE: NamesLookup = { alias: 'c', sender: 'sender', time: 'c.msg_time' };
const CHANGE_NAMES = nameColumns(CHANGE, ['from_name', 'from_role', 'group_name']);
const joinsSql = (m: NamesLookup) => renderJoins(namesJoins(m), (name) => name);

const FROM: QueryParamSpec = { name: 'from', type: 'date', description: 'first dt, YYYY-MM-DD (inclusive)' };
const TO: QueryParamSpec = { name: 'to', type: 'date', description: 'last dt, YYYY-MM-DD (inclusive)' };

/** Element types that carry media directly (merged forwards may, but need not). */
const MEDIA_TYPES = "'TIMImageElem', 'TIMFileElem', 'TIMSoundElem', 'TIMVideoFileElem'";

const MISSING_MEDIA_ROWS = `SELECT dt, group_id, topic_id, msg_seq, element_path, kind, size_class, status, reason, url
FROM message_media
WHERE dt BETWEEN :from AND :to AND status <> 'archived'`;

/** Messages with media elements but no manifest row: their media is still queued (pending). */
const PENDING_MEDIA = (
  hasMedia: string,
) => `SELECT m.dt, m.group_id, m.topic_id, m.msg_seq, NULL, NULL, NULL, 'pending', 'no manifest row yet', NULL
FROM messages m
WHERE m.dt BETWEEN :from AND :to AND m.is_place_msg = 0 AND coalesce(m.revision, 0) = 0 AND ${hasMedia}
  AND NOT EXISTS (SELECT 1 FROM media md WHERE md.sdkappid = m.sdkappid AND md.dt = m.dt AND md.group_id = m.group_id
    AND coalesce(md.topic_id, '') = coalesce(m.topic_id, '') AND md.msg_seq = m.msg_seq)`;

export const NAMED_QUERIES: readonly NamedQuery[] = [
  {
    name: 'conversation',
    description:
      "A group's conversation for a date range, oldest first; items the archive could not read are rows marked unreadable, with their exact text in raw",
    params: [{ name: 'group_id', type: 'string', description: 'the GroupId' }, FROM, TO],
    sql: `SELECT sent_at, sender, text, element_types, is_deleted, is_recalled, is_system, group_id, topic_id, msg_seq, dt, unreadable, raw
FROM (
  SELECT msg_time, sent_at, sender, text, element_types, is_deleted, is_recalled, is_system,
    group_id, topic_id, msg_seq, dt, false AS unreadable, CAST(NULL AS varchar) AS raw
  FROM messages_flat
  UNION ALL
  SELECT msg_time, sent_at, sender, 'unreadable: ' || coalesce(reason, 'unknown reason'), '', false, false, false,
    group_id, topic_id, msg_seq, dt, true, raw
  FROM messages_unreadable
) AS conversation
WHERE dt BETWEEN :from AND :to AND group_id = :group_id
ORDER BY msg_time, topic_id NULLS FIRST, msg_seq`,
    namesSql: `SELECT sent_at, sender, from_name, from_role, text, element_types, is_deleted, is_recalled, is_system, group_id, group_name, topic_id, msg_seq, dt, unreadable, raw
FROM (
  SELECT msg_time, sent_at, sender, from_name, from_role, text, element_types, is_deleted, is_recalled, is_system,
    group_id, group_name, topic_id, msg_seq, dt, false AS unreadable, CAST(NULL AS varchar) AS raw
  FROM messages_named
  UNION ALL
  SELECT u.msg_time, u.sent_at, u.sender, ${UNREADABLE_NAMES.from_name}, ${UNREADABLE_NAMES.from_role},
    'unreadable: ' || coalesce(u.reason, 'unknown reason'), '', false, false, false,
    u.group_id, ${UNREADABLE_NAMES.group_name}, u.topic_id, u.msg_seq, u.dt, true, u.raw
  FROM messages_unreadable u${joinsSql(UNREADABLE)}
) AS conversation
WHERE dt BETWEEN :from AND :to AND group_id = :group_id
ORDER BY msg_time, topic_id NULLS FIRST, msg_seq`,
  },
  {
    name: 'text-search',
    description: 'Messages whose text contains a string (case-insensitive) in a date range',
    params: [{ name: 'text', type: 'string', description: 'the text to look for' }, FROM, TO],
    sql: `SELECT sent_at, group_id, topic_id, sender, text, msg_seq, dt
FROM messages_flat
WHERE dt BETWEEN :from AND :to AND strpos(lower(text), lower(:text)) > 0
ORDER BY msg_time, group_id, topic_id NULLS FIRST, msg_seq`,
    namesSql: `SELECT sent_at, group_id, group_name, topic_id, sender, from_name, from_role, text, msg_seq, dt
FROM messages_named
WHERE dt BETWEEN :from AND :to AND strpos(lower(text), lower(:text)) > 0
ORDER BY msg_time, group_id, topic_id NULLS FIRST, msg_seq`,
  },
  {
    name: 'daily-volume',
    description: 'Messages, deleted and recalled per group and day',
    params: [FROM, TO],
    sql: `SELECT dt, sdk_app_id, group_id,
  count_if(NOT is_deleted AND NOT is_recalled) AS messages,
  count_if(is_deleted) AS deleted,
  count_if(is_recalled) AS recalled
FROM messages_flat
WHERE dt BETWEEN :from AND :to
GROUP BY dt, sdk_app_id, group_id
ORDER BY dt, sdk_app_id, group_id`,
  },
  {
    name: 'deleted-recalled',
    description: 'Deleted (placeholder) and recalled messages in a date range',
    params: [FROM, TO],
    sql: `SELECT sent_at, group_id, topic_id, msg_seq, sender,
  CASE WHEN is_recalled THEN 'recalled' ELSE 'deleted' END AS status, dt
FROM messages_flat
WHERE dt BETWEEN :from AND :to AND (is_deleted OR is_recalled)
ORDER BY msg_time, group_id, topic_id NULLS FIRST, msg_seq`,
    namesSql: `SELECT sent_at, group_id, group_name, topic_id, msg_seq, sender, from_name, from_role,
  CASE WHEN is_recalled THEN 'recalled' ELSE 'deleted' END AS status, dt
FROM messages_named
WHERE dt BETWEEN :from AND :to AND (is_deleted OR is_recalled)
ORDER BY msg_time, group_id, topic_id NULLS FIRST, msg_seq`,
  },
  {
    name: 'element-types',
    description: 'Message elements per type (text, image, file, ...) in a date range',
    params: [FROM, TO],
    sql: `SELECT t.element_type, count(*) AS elements
FROM messages_latest CROSS JOIN UNNEST(element_types) AS t(element_type)
WHERE dt BETWEEN :from AND :to
GROUP BY t.element_type
ORDER BY elements DESC, t.element_type`,
  },
  {
    name: 'missing-media',
    description:
      'Media not in the archive: references expired, refused, failed or without URL, and media messages with no manifest row yet (pending)',
    params: [FROM, TO],
    sql: `${MISSING_MEDIA_ROWS}
UNION ALL
${PENDING_MEDIA(`arrays_overlap(m.element_types, ARRAY[${MEDIA_TYPES}])`)}
ORDER BY dt, group_id, topic_id NULLS FIRST, msg_seq, element_path NULLS FIRST`,
    duckdbSql: `${MISSING_MEDIA_ROWS}
UNION ALL
${PENDING_MEDIA(`list_has_any(m.element_types, [${MEDIA_TYPES}])`)}
ORDER BY dt, group_id, topic_id NULLS FIRST, msg_seq, element_path NULLS FIRST`,
  },
  {
    name: 'changes',
    description:
      'Messages of a date range recalled, edited or deleted after archiving: one row per change, with before and after',
    params: [FROM, TO],
    sql: `SELECT observed_on, sent_at, group_id, topic_id, msg_seq, sender, change, revision,
  text_before, text_after, cloud_custom_data_before, cloud_custom_data_after, dt
FROM message_changes
WHERE dt BETWEEN :from AND :to
ORDER BY msg_time, group_id, topic_id NULLS FIRST, msg_seq, revision`,
    namesSql: `SELECT observed_on, sent_at, group_id, group_name, topic_id, msg_seq, sender, from_name, from_role, change, revision,
  text_before, text_after, cloud_custom_data_before, cloud_custom_data_after, dt
FROM (
  SELECT c.*, ${CHANGE_NAMES.from_name} AS from_name, ${CHANGE_NAMES.from_role} AS from_role,
    ${CHANGE_NAMES.group_name} AS group_name
  FROM message_changes c${joinsSql(CHANGE)}
) AS changes
WHERE dt BETWEEN :from AND :to
ORDER BY msg_time, group_id, topic_id NULLS FIRST, msg_seq, revision`,
  },
  {
    name: 'runs',
    description: 'Archiver runs started in a date range, with their counters',
    params: [FROM, TO],
    sql: `SELECT * FROM runs_flat
WHERE dt BETWEEN :from AND :to
ORDER BY started_at, run_id`,
  },
  ...CALLBACK_QUERIES,
  ...C2C_QUERIES,
];

/** Looks up a named query. */
export function findNamedQuery(name: string): NamedQuery | undefined {
  return NAMED_QUERIES.find((q) => q.name === name);
}

/** SQL with positional `?` placeholders and the parameter name behind each, in order. */
export interface CompiledSql {
  readonly sql: string;
  readonly order: readonly string[];
}

/** `:name` not preceded by `:` or a word character (so `::cast` and `a:b` are left alone). */
const MARKER = /(?<![:\w]):([a-z_][a-z0-9_]*)/g;

/** Replaces `:name` markers with `?` and records their order. */
export function compileSql(template: string): CompiledSql {
  const order: string[] = [];
  const sql = template.replace(MARKER, (_match, name: string) => {
    order.push(name);
    return '?';
  });
  return { sql, order };
}

/** Whether a query's result gains the name columns (`npm run export --names`, docs/names.md). */
export interface NamesOption {
  readonly names?: boolean;
}

/** The SQL of a query for an engine, compiled; with names when asked and the query has them. */
export function compiledFor(query: NamedQuery, engine: SqlDialect, options: NamesOption = {}): CompiledSql {
  if (options.names === true && query.namesSql !== undefined) return compileSql(query.namesSql);
  return compileSql(engine === 'duckdb' ? (query.duckdbSql ?? query.sql) : query.sql);
}

export type { ParamValue } from './port.ts';

const MAX_STRING_PARAM = 1_000;

function parseOne(spec: QueryParamSpec, raw: string): ParamValue {
  const field = `--params ${spec.name}`;
  switch (spec.type) {
    case 'date':
      if (!isRealDate(raw)) {
        throw new QueryUsageError(
          `${field}: must be a date formatted YYYY-MM-DD, got ${JSON.stringify(raw)}`,
          {
            field,
          },
        );
      }
      return { type: 'date', value: raw };
    case 'integer':
      if (!/^-?\d{1,19}$/.test(raw) || BigInt(raw) > 2n ** 63n - 1n || BigInt(raw) < -(2n ** 63n)) {
        throw new QueryUsageError(`${field}: must be a 64-bit integer, got ${JSON.stringify(raw)}`, {
          field,
        });
      }
      return { type: 'integer', value: BigInt(raw) };
    case 'string':
      if (raw.length === 0 || raw.length > MAX_STRING_PARAM) {
        throw new QueryUsageError(
          `${field}: must be 1 to ${MAX_STRING_PARAM} characters, got ${raw.length}`,
          {
            field,
          },
        );
      }
      return { type: 'string', value: raw };
  }
}

/**
 * Validates `key=value` parameters against the query's declaration.
 *
 * @throws QueryUsageError naming the parameter: unknown, missing, malformed, or `from` after `to`.
 */
export function parseParams(
  query: NamedQuery,
  raw: Readonly<Record<string, string>>,
): Map<string, ParamValue> {
  const known = query.params.map((p) => p.name);
  for (const name of Object.keys(raw)) {
    if (!known.includes(name)) {
      throw new QueryUsageError(
        `--params ${name}: "${query.name}" has no such parameter (it takes ${describeParams(query)})`,
        { field: `--params ${name}` },
      );
    }
  }
  const values = new Map<string, ParamValue>();
  for (const spec of query.params) {
    const text = raw[spec.name];
    if (text === undefined) {
      throw new QueryUsageError(
        `--params ${spec.name}: missing; "${query.name}" takes ${describeParams(query)}`,
        { field: `--params ${spec.name}` },
      );
    }
    values.set(spec.name, parseOne(spec, text));
  }
  const from = values.get('from')?.value;
  const to = values.get('to')?.value;
  if (typeof from === 'string' && typeof to === 'string' && from > to) {
    throw new QueryUsageError(`--params from: ${from} is after to=${to}`, { field: '--params from' });
  }
  return values;
}

/** `group_id=<string> from=<date> to=<date>` */
export function describeParams(query: NamedQuery): string {
  return query.params.length === 0
    ? 'no parameters'
    : query.params.map((p) => `${p.name}=<${p.type}>`).join(' ');
}

/** The values in placeholder order. */
export function orderedValues(compiled: CompiledSql, values: ReadonlyMap<string, ParamValue>): ParamValue[] {
  return compiled.order.map((name) => {
    const value = values.get(name);
    if (value === undefined) throw new RangeError(`no value for :${name}`);
    return value;
  });
}

/** Runs a named query with its validated parameters, in the runner's dialect (without names unless asked). */
export function runNamedQuery(
  runner: QueryRunner,
  query: NamedQuery,
  values: ReadonlyMap<string, ParamValue>,
  options: NamesOption = {},
): Promise<QueryResult> {
  const compiled = compiledFor(query, runner.dialect, options);
  return runner.run(compiled.sql, orderedValues(compiled, values));
}

/** A one-line description for a saved query, with its parameters in placeholder order. */
export function savedQueryDescription(query: NamedQuery, options: NamesOption = {}): string {
  const order = compiledFor(query, 'athena', options).order;
  return `${query.description}. Parameters in order: ${order.join(', ')} (quote strings and dates: '2024-03-01').`;
}
