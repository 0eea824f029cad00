/**
 * The Glue/Athena tables over the archive, as plain data: columns, SerDe, partition projection and
 * location. The CDK construct renders these into `AWS::Glue::Table`; the DuckDB adapter reads the
 * same column lists. Everything is derived from the writer's own sources of truth:
 * `RECORD_COLUMNS` / `PARTITION_COLUMNS` / `MESSAGE_LOCATION_TEMPLATE` for messages. Run reports
 * are the engine's `StoredRunReport`; the query layer does not import the engine, so it lists the
 * report's keys itself and a test fails (at typecheck and at run time) if the two disagree
 * (test/unit/query-layout.test.ts).
 */
import { assertTimeZone, MESSAGE_LOCATION_TEMPLATE } from '../domain/partition.ts';
import { ATHENA_SERDE, PARTITION_COLUMNS, RECORD_COLUMNS } from './message-schema.ts';

/** Glue database and Athena workgroup the stack creates, and the export command's defaults. */
export const DEFAULT_DATABASE = 'chat_archive';
export const DEFAULT_WORKGROUP = 'chat-archive';

export const MESSAGES_TABLE = 'messages';
export const RUNS_TABLE = 'runs';

/**
 * Where the run reports live, relative to the archive root; `runReportKey` fills it in.
 */
// biome-ignore lint/suspicious/noTemplateCurlyInString: Athena projection placeholders, not a JS template.
export const RUNS_LOCATION_TEMPLATE = 'runs/sdkappid=${sdkappid}/dt=${dt}/';

/** The Java date pattern of `dt` for partition projection; `dateInZone` writes exactly this. */
export const DT_PROJECTION_FORMAT = 'yyyy-MM-dd';

/**
 * The OpenX SerDe's properties, each set explicitly (the defaults differ between OpenX builds) and
 * chosen from the AWS docs (Athena user guide, "OpenX JSON SerDe"):
 *
 * - `case.insensitive` TRUE: `msg_content` holds the API's `MsgContent` verbatim, whose keys are
 *   mixed case (`Text`, `ImageInfoArray`, `URL`); Hive field names are always lower case, so only a
 *   case-insensitive match reaches them. Our own keys are already lower case.
 * - `ignore.malformed.json` FALSE: a corrupt line must fail the query, not silently become a row
 *   of nulls; for an archive, a wrong count is worse than an error.
 * - `dots.in.keys` FALSE: no key of ours has a dot; leave keys as written.
 *
 * The docs warn that OpenX results "can be non-deterministic" (extra rows, missing rows, unexpected
 * nulls). The Hive JSON SerDe is not an option: it rejects an object in a `string` column, which
 * `extra` and `msg_content.msglist` need. The writer removes the known triggers instead: one object
 * per line with U+2028/U+2029/U+0085 escaped, every value fits its declared type (a body that
 * does not is moved to `extra`), and no two keys of one object map to the same field regardless of
 * case (see `fitsAthenaType` in `functions/domain/athena-fit.ts`).
 */
export const MESSAGES_SERDE_PARAMETERS: Readonly<Record<string, string>> = {
  'case.insensitive': 'TRUE',
  'ignore.malformed.json': 'FALSE',
  'dots.in.keys': 'FALSE',
};

/** A Glue column. */
export interface GlueColumn {
  readonly name: string;
  readonly type: string;
  readonly comment?: string;
}

/** One table over the archive, ready to render into `AWS::Glue::Table`. */
export interface ArchiveTableDefinition {
  readonly name: string;
  readonly description: string;
  readonly columns: readonly GlueColumn[];
  readonly partitionKeys: readonly GlueColumn[];
  readonly location: string;
  readonly serdeLibrary: string;
  readonly serdeParameters: Readonly<Record<string, string>>;
  readonly parameters: Readonly<Record<string, string>>;
}

/** What the tables need to know about the archive. */
export interface ArchiveLocationProps {
  /** The archive bucket's name (a literal or a CDK token). */
  readonly bucketName: string;
  /** The archive prefix inside the bucket (`archive.out` = `s3://bucket/<prefix>`); '' for the root. */
  readonly prefix: string;
  /** The apps archived there: the `sdkappid` partition values. */
  readonly sdkAppIds: readonly number[];
  /** The archive's `archive.timeZone`: the zone of the `dt` folders. */
  readonly timeZone: string;
  /** The first `dt` that can hold data (`YYYY-MM-DD`); projection starts here. */
  readonly dtStart: string;
}

/**
 * `prefix` without leading/trailing slashes, plus one trailing slash ('' stays '').
 *
 * @throws RangeError for empty segments (`a//b`) or `.`/`..` segments, which S3 keys would keep
 *   literally and the writer would never produce.
 */
export function normalizePrefix(prefix: string): string {
  const trimmed = prefix.replace(/^\/+|\/+$/g, '');
  if (trimmed === '') return '';
  if (trimmed.split('/').some((segment) => segment === '' || segment === '.' || segment === '..')) {
    throw new RangeError(`archive prefix ${JSON.stringify(prefix)} has an empty, "." or ".." segment`);
  }
  return `${trimmed}/`;
}

/** `s3://bucket/prefix/`: the store root the writer's keys are relative to. */
export function archiveRootUrl(bucketName: string, prefix: string): string {
  return `s3://${bucketName}/${normalizePrefix(prefix)}`;
}

/**
 * The upper end of the `dt` projection range. Athena generates projected dates in UTC, so `NOW`
 * is the UTC date. In a zone ahead of UTC (Asia/Shanghai is +8), local "today" starts before the
 * UTC date turns, and for those hours `NOW` would leave today's partition out. `NOW+1DAYS` covers
 * every zone (offsets are below +24 h) at the cost of one empty prefix listing.
 */
export function projectionRangeEnd(timeZone: string): string {
  assertTimeZone(timeZone);
  return maxUtcOffsetMinutes(timeZone) > 0 ? 'NOW+1DAYS' : 'NOW';
}

/** Largest offset of the zone from UTC over one year (summer and winter), in minutes. */
function maxUtcOffsetMinutes(timeZone: string): number {
  const formatter = new Intl.DateTimeFormat('en-US', { timeZone, timeZoneName: 'longOffset' });
  // Fixed instants keep the synthesized template deterministic; zones keep their sign across years.
  const samples = [Date.UTC(2024, 0, 15), Date.UTC(2024, 6, 15)];
  return Math.max(
    ...samples.map((ms) => {
      const name = formatter.formatToParts(ms).find((p) => p.type === 'timeZoneName')?.value ?? 'GMT';
      const match = /GMT([+-])(\d{2}):(\d{2})/.exec(name);
      if (match === null) return 0;
      const minutes = Number(match[2]) * 60 + Number(match[3]);
      return match[1] === '-' ? -minutes : minutes;
    }),
  );
}

export function assertProps(props: ArchiveLocationProps): void {
  if (props.sdkAppIds.length === 0) throw new RangeError('sdkAppIds must list at least one app');
  for (const id of props.sdkAppIds) {
    if (!Number.isSafeInteger(id) || id <= 0)
      throw new RangeError(`sdkAppIds: ${id} is not a positive integer`);
  }
  if (!isRealDate(props.dtStart)) {
    throw new RangeError(
      `dtStart must be a real date formatted YYYY-MM-DD, got ${JSON.stringify(props.dtStart)}`,
    );
  }
  assertTimeZone(props.timeZone);
}

/** `YYYY-MM-DD` naming a day that exists. */
export function isRealDate(text: string): boolean {
  const match = /^(\d{4})-(\d{2})-(\d{2})$/.exec(text);
  if (match === null) return false;
  const date = new Date(Date.UTC(Number(match[1]), Number(match[2]) - 1, Number(match[3])));
  return !Number.isNaN(date.getTime()) && date.toISOString().slice(0, 10) === text;
}

/** Table properties for partition projection over `sdkappid=<enum>/dt=<date>`. */
export function projection(props: ArchiveLocationProps, locationTemplate: string): Record<string, string> {
  return {
    'projection.enabled': 'true',
    'projection.sdkappid.type': 'enum',
    'projection.sdkappid.values': props.sdkAppIds.join(','),
    'projection.dt.type': 'date',
    'projection.dt.format': DT_PROJECTION_FORMAT,
    'projection.dt.range': `${props.dtStart},${projectionRangeEnd(props.timeZone)}`,
    'projection.dt.interval': '1',
    'projection.dt.interval.unit': 'DAYS',
    'storage.location.template': `${archiveRootUrl(props.bucketName, props.prefix)}${locationTemplate}`,
  };
}

export const PARTITION_KEYS: readonly GlueColumn[] = PARTITION_COLUMNS.map((c) => ({
  name: c.name,
  type: c.athenaType,
  comment:
    c.name === 'dt'
      ? 'Message date in the archive time zone (YYYY-MM-DD): filter on it to limit the bytes scanned'
      : 'Tencent SDKAppID (partition)',
}));

/** Shared table parameters: gzip NDJSON files. */
export const JSON_TABLE_PARAMETERS = { EXTERNAL: 'TRUE', classification: 'json', compressionType: 'gzip' };

/** The Glue columns of a row model: each key's Hive type and comment; a missing key fails the typecheck. */
export type ColumnSpec<Row> = { readonly [K in keyof Row]-?: readonly [type: string, comment: string] };

/** The columns of a {@link ColumnSpec}, in the row model's key order. */
export function columnsOf(spec: Readonly<Record<string, readonly [string, string]>>): GlueColumn[] {
  return Object.entries(spec).map(([name, [type, comment]]) => ({ name, type, comment }));
}

/** A gzip NDJSON table of rows other than messages, partitioned and projected like `messages`. */
export interface RowTableSpec {
  readonly name: string;
  readonly description: string;
  readonly columns: GlueColumn[];
  /** Its folder under the archive root, e.g. `callbacks/`. */
  readonly folder: string;
  /** The projection's location template under the archive root, `<folder>sdkappid=${sdkappid}/dt=${dt}/`. */
  readonly locationTemplate: string;
  /** What its `dt` is (the comment of the partition key). */
  readonly dtComment: string;
}

/** The Glue definition of a {@link RowTableSpec}. */
export function rowTable(props: ArchiveLocationProps, spec: RowTableSpec): ArchiveTableDefinition {
  assertProps(props);
  return {
    name: spec.name,
    description: spec.description,
    columns: spec.columns,
    partitionKeys: PARTITION_KEYS.map((c) => (c.name === 'dt' ? { ...c, comment: spec.dtComment } : c)),
    location: `${archiveRootUrl(props.bucketName, props.prefix)}${spec.folder}`,
    serdeLibrary: ATHENA_SERDE,
    serdeParameters: MESSAGES_SERDE_PARAMETERS,
    parameters: { ...JSON_TABLE_PARAMETERS, ...projection(props, spec.locationTemplate) },
  };
}

/** The messages table: one row per archived message, columns exactly `RECORD_COLUMNS`. */
export function messagesTable(props: ArchiveLocationProps): ArchiveTableDefinition {
  assertProps(props);
  return {
    name: MESSAGES_TABLE,
    description: `Archived Tencent Cloud Chat group messages (gzip NDJSON), dt in ${props.timeZone}`,
    columns: RECORD_COLUMNS.map((c) => ({ name: c.name, type: c.athenaType, comment: c.comment })),
    partitionKeys: PARTITION_KEYS,
    location: `${archiveRootUrl(props.bucketName, props.prefix)}messages/`,
    serdeLibrary: ATHENA_SERDE,
    serdeParameters: MESSAGES_SERDE_PARAMETERS,
    parameters: { ...JSON_TABLE_PARAMETERS, ...projection(props, MESSAGE_LOCATION_TEMPLATE) },
  };
}

// ---------------------------------------------------------------------------------------------
// Run reports
// ---------------------------------------------------------------------------------------------

/** One column of the runs table: snake_case name, the report's camelCase key, a Hive type. */
export interface RunReportColumn {
  readonly name: string;
  readonly key: RunReportKey;
  readonly type: string;
}

/**
 * Column name and Hive type per key of the stored run report (the engine's `StoredRunReport`:
 * `RunReport` and the sections other passes add), optional ones included: its keys must be exactly
 * the report's (checked by a test that sees both layers). Nested camelCase keys
 * (`errors[].groupId`) become lower-case struct fields, which the case-insensitive SerDe matches;
 * every struct field must be a key of a real report (test/unit/runs-columns.test.ts). A key a
 * struct does not list is skipped by the SerDe, so a section may gain keys before the table does.
 */
const RUN_REPORT_SPEC = {
  runId: ['run_id', 'string'],
  sdkAppId: ['sdk_app_id', 'bigint'],
  startedAtMs: ['started_at_ms', 'bigint'],
  finishedAtMs: ['finished_at_ms', 'bigint'],
  serverFinishedAtMs: ['server_finished_at_ms', 'bigint'],
  serverClockOffsetMs: ['server_clock_offset_ms', 'bigint'],
  elapsedMs: ['elapsed_ms', 'bigint'],
  done: ['done', 'boolean'],
  groups: [
    'groups',
    'struct<seen:bigint,skipped:map<string,bigint>,idle:bigint,archived:bigint,failed:bigint>',
  ],
  topics: ['topics', 'bigint'],
  targetsWithWork: ['targets_with_work', 'bigint'],
  remainingTargets: ['remaining_targets', 'bigint'],
  pendingNewestTime: ['pending_newest_time', 'bigint'],
  pendingOldestTime: ['pending_oldest_time', 'bigint'],
  pendingNeverArchived: ['pending_never_archived', 'bigint'],
  messages: ['messages', 'bigint'],
  placeholders: ['placeholders', 'bigint'],
  recalled: ['recalled', 'bigint'],
  quarantined: ['quarantined', 'bigint'],
  quarantinedItems: [
    'quarantined_items',
    'array<struct<groupid:string,topicid:string,msgseq:bigint,reason:string>>',
  ],
  inconsistentAnswers: ['inconsistent_answers', 'bigint'],
  seqResets: [
    'seq_resets',
    'array<struct<groupid:string,topicid:string,highwater:bigint,newestseq:bigint,generation:bigint>>',
  ],
  pages: ['pages', 'bigint'],
  shortPages: ['short_pages', 'bigint'],
  planMs: ['plan_ms', 'bigint'],
  planCarried: ['plan_carried', 'boolean'],
  calls: ['calls', 'map<string,bigint>'],
  retries: ['retries', 'bigint'],
  throttles: ['throttles', 'bigint'],
  checkpoints: ['checkpoints', 'bigint'],
  objectsWritten: ['objects_written', 'bigint'],
  bytesWritten: ['bytes_written', 'bigint'],
  stateBytesWritten: ['state_bytes_written', 'bigint'],
  rolledBackObjects: ['rolled_back_objects', 'bigint'],
  errors: ['errors', 'array<struct<groupid:string,topicid:string,error:string>>'],
  rescan: [
    'rescan',
    'struct<days:bigint,calls:bigint,checked:bigint,modified:bigint,recalled:bigint,deleted:bigint,restored:bigint,complete:boolean>',
  ],
  fatalError: ['fatal_error', 'string'],
  media: [
    'media',
    'struct<references:bigint,queuedfromearlierruns:bigint,archived:bigint,bytes:bigint,storedbytes:bigint,deduplicated:bigint,expired:bigint,refused:bigint,failed:bigint,retrying:bigint,nourl:bigint,pending:bigint,pendingbatches:bigint,errors:bigint,manifestobjects:bigint,checkpoints:bigint,rolledbackobjects:bigint>',
  ],
  // The identity capture's section (issue 24): null in runs without it.
  identities: [
    'identities',
    'struct<calls:struct<groupinfo:bigint,profiles:bigint,members:bigint>,duringpaging:bigint,budget:bigint,othercalls:bigint,groupsfromplanning:bigint,rollcall:bigint,rows:struct<users:bigint,groups:bigint,members:bigint>,firstrows:bigint,pending:struct<users:bigint,groups:bigint,members:bigint>,dropped:bigint,failedcalls:bigint,rolledforward:boolean,elapsedms:bigint>',
  ],
  // The one-to-one pass's section (issue 26): null for an app without `c2c`.
  c2c: [
    'c2c',
    'struct<pairsknown:bigint,pairsadded:bigint,pairspulled:bigint,pairscaughtup:bigint,pairsleftopen:bigint,pairsskipped:bigint,skipped:array<struct<conversation:string,reason:string>>,messages:bigint,recalled:bigint,quarantined:bigint,duplicates:bigint,pages:bigint,objectswritten:bigint,byteswritten:bigint,statebyteswritten:bigint,checkpoints:bigint,rolledbackobjects:bigint,peakpairsloaded:bigint,done:boolean>',
  ],
  // The callback materialization's section (issue 25): null for an app without a callback token;
  // `reconciliation` null when the run did not reconcile (functions/domain/callback-reconcile.ts).
  callbacks: [
    'callbacks',
    'struct<events:bigint,duplicates:bigint,replayed:bigint,unreadable:bigint,onlineonly:bigint,ignored:bigint,messages:bigint,revisions:bigint,dissolutions:bigint,objects:bigint,objectsleft:bigint,unreadablelines:bigint,commits:bigint,rolledforward:boolean,elapsedms:bigint,reconciliation:struct<bothequal:bigint,callbackonly:bigint,different:bigint,pullplaceholder:bigint,pullonly:bigint,lossrate:double,groups:array<struct<groupid:string,topicid:string,bothequal:bigint,callbackonly:bigint,different:bigint,pullplaceholder:bigint,pullonly:bigint>>,groupsnotlisted:bigint>>',
  ],
  // The group hourly files' section (issue 26): null for an app without `historyFiles.groups`.
  historyFiles: [
    'history_files',
    'struct<hours:bigint,hoursleft:bigint,fileskept:bigint,filesrejected:bigint,messagesindexed:bigint,unreadablelines:bigint,done:boolean>',
  ],
} as const satisfies Readonly<Record<string, readonly [name: string, type: string]>>;

/** The keys of a stored run report (the engine's `StoredRunReport`, optional keys included). */
export type RunReportKey = keyof typeof RUN_REPORT_SPEC;

/** The runs table columns, in `StoredRunReport` declaration order. */
export const RUN_REPORT_COLUMNS: readonly RunReportColumn[] = Object.entries(RUN_REPORT_SPEC).map(
  ([key, [name, type]]) => ({ name, key: key as RunReportKey, type }),
);

/**
 * `mapping.<column>` SerDe properties for columns whose name is not the key: the report keeps its
 * camelCase keys (`runId`), the table uses snake_case (`run_id`). Values are lower case because
 * the original OpenX build lower-cases keys while parsing; Athena's matches case-insensitively.
 */
export function runsSerdeParameters(): Record<string, string> {
  const mappings = RUN_REPORT_COLUMNS.filter((c) => c.name !== c.key.toLowerCase()).map(
    (c) => [`mapping.${c.name}`, c.key.toLowerCase()] as const,
  );
  return { ...MESSAGES_SERDE_PARAMETERS, ...Object.fromEntries(mappings) };
}

/** The runs table: one row per run report. */
export function runsTable(props: ArchiveLocationProps): ArchiveTableDefinition {
  assertProps(props);
  return {
    name: RUNS_TABLE,
    description: 'Archiver run reports (one JSON object per run), dt = run start date in the archive zone',
    columns: RUN_REPORT_COLUMNS.map((c) => ({ name: c.name, type: c.type, comment: `RunReport.${c.key}` })),
    partitionKeys: PARTITION_KEYS,
    location: `${archiveRootUrl(props.bucketName, props.prefix)}runs/`,
    serdeLibrary: ATHENA_SERDE,
    serdeParameters: runsSerdeParameters(),
    parameters: {
      ...JSON_TABLE_PARAMETERS,
      compressionType: 'none',
      ...projection(props, RUNS_LOCATION_TEMPLATE),
    },
  };
}
