/**
 * Athena over the archive: a Glue database with the `messages`, `runs`, `media`, identity, callback,
 * one-to-one (`c2c_messages`) and hourly-file (`history_file_messages`, `history_file_hours`) tables (partition projection, no crawler, no partition upkeep), the views (functions/query/views.ts), a
 * workgroup with enforced, encrypted results and a per-query scan limit, and saved queries for the
 * common questions.
 *
 * Everything about the schema comes from `functions/query` (which derives it from the writer's
 * `RECORD_COLUMNS`, `MESSAGE_LOCATION_TEMPLATE` and `RunReport`); this file only renders it.
 * Standalone on purpose: the main stack passes the archive bucket and config in.
 */
import { Duration, RemovalPolicy, Stack, Token, Validations } from 'aws-cdk-lib';
import * as athena from 'aws-cdk-lib/aws-athena';
import * as glue from 'aws-cdk-lib/aws-glue';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { c2cMessagesTable } from '../../functions/query/c2c-tables.ts';
import { callbackEventsTable, callbackRowTables } from '../../functions/query/callback-tables.ts';
import {
  historyFileHoursTable,
  historyFileMessagesTable,
} from '../../functions/query/history-file-tables.ts';
import { parseHiveType } from '../../functions/query/hive-types.ts';
import { identityTables } from '../../functions/query/identity-tables.ts';
import { mediaTable } from '../../functions/query/media-table.ts';
import { compiledFor, NAMED_QUERIES, savedQueryDescription } from '../../functions/query/named-queries.ts';
import {
  type ArchiveLocationProps,
  type ArchiveTableDefinition,
  archiveRootUrl,
  DEFAULT_DATABASE,
  DEFAULT_WORKGROUP,
  messagesTable,
  normalizePrefix,
  runsTable,
} from '../../functions/query/tables.ts';
import {
  athenaCreateViewSql,
  prestoViewOriginalText,
  VIEWS,
  type ViewSpec,
} from '../../functions/query/views.ts';

export interface ArchiveQueryProps {
  /** The archive bucket (`archive.out` = `s3://<bucket>/<prefix>`). */
  readonly bucket: s3.IBucket;
  /** The archive prefix inside the bucket; '' for the bucket root. */
  readonly prefix: string;
  /** The archived apps (partition projection enumerates them). */
  readonly sdkAppIds: readonly number[];
  /** `archive.timeZone`: the zone of the `dt` folders and of the views' local times. */
  readonly timeZone: string;
  /** First date that can hold data, `YYYY-MM-DD`: the start of the projected `dt` range. */
  readonly dtStart: string;
  /** Glue database. Default `chat_archive`. */
  readonly databaseName?: string;
  /** Athena workgroup. Default `chat-archive`. */
  readonly workGroupName?: string;
  /** Per-query scan limit in bytes. Default 10 GiB (Athena's minimum is 10 MB). */
  readonly bytesScannedCutoffPerQuery?: number;
  /** How long query results are kept. Default 30 days. */
  readonly resultsRetention?: Duration;
  /** Where the results bucket logs access. Default: no access logs (acknowledged, see below). */
  readonly serverAccessLogsBucket?: s3.IBucket;
  /** Encrypt results with this key (SSE-KMS). Default SSE-S3. */
  readonly resultsEncryptionKey?: kms.IKey;
}

const MIN_CUTOFF = 10 * 1024 * 1024;

/**
 * The tables and views a view reads, as its declaration names them: `from`, its joins, and the
 * tables of its own SQL.
 */
export function viewReads(view: ViewSpec): string[] {
  const ownSql = typeof view.source === 'object' && view.source.kind === 'sql' ? view.source.tables : [];
  return [view.from, ...(view.joins ?? []).map((j) => j.table), ...ownSql];
}

/**
 * The archive folders (under the prefix) a query over `names` reads: each table's own folder, and
 * for a view the folders of every table it reads, through the views it reads.
 * @param folders the folder of each table
 * @throws RangeError for a name that is neither a table nor a view
 */
export function foldersRead(
  names: readonly string[],
  folders: ReadonlyMap<string, string>,
  views: readonly ViewSpec[] = VIEWS,
): string[] {
  const byName = new Map(views.map((v) => [v.name, v]));
  const found = new Set<string>();
  const seen = new Set<string>();
  const visit = (name: string): void => {
    if (seen.has(name)) return;
    seen.add(name);
    const folder = folders.get(name);
    const view = byName.get(name);
    if (folder !== undefined) found.add(folder);
    else if (view) for (const read of viewReads(view)) visit(read);
    else throw new RangeError(`no table or view ${name}`);
  };
  for (const name of names) visit(name);
  return [...found].sort();
}

/** What running a query in the workgroup takes: start, poll, read, stop. */
const RUN_QUERY_ACTIONS = [
  'athena:StartQueryExecution',
  'athena:GetQueryExecution',
  'athena:GetQueryResults',
  'athena:StopQueryExecution',
  'athena:GetWorkGroup',
] as const;

/** Glue and Athena both want lower-case names of letters, digits and underscores for databases. */
const DATABASE_NAME = /^[a-z][a-z0-9_]{0,254}$/;

export class ArchiveQuery extends Construct {
  public readonly databaseName: string;
  public readonly workGroupName: string;
  public readonly resultsBucket: s3.Bucket;
  public readonly workGroup: athena.CfnWorkGroup;
  public readonly database: glue.CfnDatabase;
  public readonly tables: Readonly<Record<string, glue.CfnTable>>;

  private readonly bucket: s3.IBucket;
  private readonly prefix: string;
  private readonly resultsKey: kms.IKey | undefined;
  /** Each table's folder under the archive prefix (`messages/`, `callbacks/`, …). */
  private readonly tableFolders = new Map<string, string>();

  public constructor(scope: Construct, id: string, props: ArchiveQueryProps) {
    super(scope, id);
    this.databaseName = props.databaseName ?? DEFAULT_DATABASE;
    this.workGroupName = props.workGroupName ?? DEFAULT_WORKGROUP;
    this.bucket = props.bucket;
    this.resultsKey = props.resultsEncryptionKey;
    this.prefix = normalizePrefix(props.prefix);
    // The view SQL is base64-encoded at synth time, so the names in it must be real strings.
    if (Token.isUnresolved(this.databaseName) || !DATABASE_NAME.test(this.databaseName)) {
      throw new RangeError(`databaseName must match ${DATABASE_NAME.source}, got ${this.databaseName}`);
    }
    const cutoff = props.bytesScannedCutoffPerQuery ?? 10 * 1024 ** 3;
    if (!Number.isSafeInteger(cutoff) || cutoff < MIN_CUTOFF) {
      throw new RangeError(`bytesScannedCutoffPerQuery must be an integer of at least ${MIN_CUTOFF} (10 MB)`);
    }

    const account = Stack.of(this).account;
    this.database = new glue.CfnDatabase(this, 'Database', {
      catalogId: account,
      databaseInput: {
        name: this.databaseName,
        description: 'Tencent Cloud Chat archive (tencent-chat-archiver)',
      },
    });

    const location: ArchiveLocationProps = {
      bucketName: props.bucket.bucketName,
      prefix: props.prefix,
      sdkAppIds: props.sdkAppIds,
      timeZone: props.timeZone,
      dtStart: props.dtStart,
    };
    const tables: Record<string, glue.CfnTable> = {};
    const root = archiveRootUrl(location.bucketName, location.prefix);
    const definitions = [
      messagesTable(location),
      runsTable(location),
      mediaTable(location),
      ...identityTables(location),
      callbackEventsTable(location),
      ...callbackRowTables(location),
      c2cMessagesTable(location),
      historyFileMessagesTable(location),
      historyFileHoursTable(location),
    ];
    for (const definition of definitions) {
      tables[definition.name] = this.externalTable(definition, account);
      // Each table reads one folder of the archive: what a query over it must be allowed to read.
      if (!definition.location.startsWith(root)) {
        throw new RangeError(`table ${definition.name} is not under the archive root ${root}`);
      }
      this.tableFolders.set(definition.name, definition.location.slice(root.length));
    }
    const viewContext = { database: this.databaseName, timeZone: props.timeZone };
    for (const view of VIEWS) {
      const table = this.view(view, viewContext, account);
      for (const read of viewReads(view)) {
        const source = tables[read];
        if (source) table.node.addDependency(source);
      }
      tables[view.name] = table;
    }
    this.tables = tables;

    this.resultsBucket = this.createResultsBucket(props);
    this.workGroup = new athena.CfnWorkGroup(this, 'WorkGroup', {
      name: this.workGroupName,
      description: 'Queries over the Tencent Cloud Chat archive',
      state: 'ENABLED',
      // Deleting the stack deletes the workgroup with its saved queries and history.
      recursiveDeleteOption: true,
      workGroupConfiguration: {
        // Clients cannot override the results location, encryption or the scan limit.
        enforceWorkGroupConfiguration: true,
        publishCloudWatchMetricsEnabled: true,
        bytesScannedCutoffPerQuery: cutoff,
        // The views' types and OpenX's Trino reader (how `extra` renders) are engine v3 behaviour.
        engineVersion: { selectedEngineVersion: 'Athena engine version 3' },
        resultConfiguration: {
          outputLocation: this.resultsBucket.s3UrlForObject('results/'),
          encryptionConfiguration: props.resultsEncryptionKey
            ? { encryptionOption: 'SSE_KMS', kmsKey: props.resultsEncryptionKey.keyArn }
            : { encryptionOption: 'SSE_S3' },
        },
      },
    });

    // With names (the stack always has the identity tables; without rows the names are the accounts).
    for (const query of NAMED_QUERIES) {
      this.savedQuery(
        `Query-${query.name}`,
        query.name,
        savedQueryDescription(query, { names: true }),
        compiledFor(query, 'athena', { names: true }).sql,
      );
    }
    // Fallback if Athena ever reports a view as stale: recreate it from SQL with these.
    for (const view of VIEWS) {
      this.savedQuery(
        `CreateView-${view.name}`,
        `create-view-${view.name}`,
        `Recreates the ${view.name} view (it is normally created by the stack)`,
        athenaCreateViewSql(view, viewContext),
      );
    }
  }

  private externalTable(definition: ArchiveTableDefinition, account: string): glue.CfnTable {
    return new glue.CfnTable(this, `Table-${definition.name}`, {
      catalogId: account,
      databaseName: this.database.ref,
      tableInput: {
        name: definition.name,
        description: definition.description,
        tableType: 'EXTERNAL_TABLE',
        parameters: definition.parameters,
        partitionKeys: definition.partitionKeys.map(toGlueColumn),
        storageDescriptor: {
          columns: definition.columns.map(toGlueColumn),
          location: definition.location,
          inputFormat: 'org.apache.hadoop.mapred.TextInputFormat',
          outputFormat: 'org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat',
          compressed: definition.parameters.compressionType === 'gzip',
          serdeInfo: {
            serializationLibrary: definition.serdeLibrary,
            parameters: definition.serdeParameters,
          },
        },
      },
    });
  }

  /** An Athena view stored in Glue: `VIRTUAL_VIEW` with the Presto view encoding. */
  private view(view: ViewSpec, ctx: { database: string; timeZone: string }, account: string): glue.CfnTable {
    return new glue.CfnTable(this, `View-${view.name}`, {
      catalogId: account,
      databaseName: this.database.ref,
      tableInput: {
        name: view.name,
        description: view.description,
        tableType: 'VIRTUAL_VIEW',
        parameters: { presto_view: 'true', comment: 'Presto View' },
        viewOriginalText: prestoViewOriginalText(view, ctx),
        viewExpandedText: '/* Presto View */',
        partitionKeys: [],
        storageDescriptor: {
          columns: view.columns.map((c) => ({ name: c.name, type: c.hiveType, comment: c.comment })),
          serdeInfo: {},
        },
      },
    });
  }

  private createResultsBucket(props: ArchiveQueryProps): s3.Bucket {
    const bucket = new s3.Bucket(this, 'Results', {
      encryption: props.resultsEncryptionKey ? s3.BucketEncryption.KMS : s3.BucketEncryption.S3_MANAGED,
      ...(props.resultsEncryptionKey
        ? { encryptionKey: props.resultsEncryptionKey, bucketKeyEnabled: true }
        : {}),
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      lifecycleRules: [
        {
          expiration: props.resultsRetention ?? Duration.days(30),
          // Athena writes results with multipart uploads; a cancelled query can leave parts behind.
          abortIncompleteMultipartUploadAfter: Duration.days(1),
        },
      ],
      ...(props.serverAccessLogsBucket
        ? { serverAccessLogsBucket: props.serverAccessLogsBucket, serverAccessLogsPrefix: 'athena-results/' }
        : {}),
    });
    // The bucket is kept when the stack is deleted (S3's default); so is its TLS-only policy.
    bucket.policy?.applyRemovalPolicy(RemovalPolicy.RETAIN);
    if (!props.serverAccessLogsBucket) {
      Validations.of(bucket).acknowledge({
        id: 'AwsSolutions-S1',
        reason:
          'Holds only transient Athena query results that expire; who ran which query is recorded by ' +
          'Athena query history and CloudTrail. Pass serverAccessLogsBucket to log object access too.',
      });
    }
    return bucket;
  }

  private savedQuery(id: string, name: string, description: string, sql: string): void {
    new athena.CfnNamedQuery(this, id, {
      name,
      description: description.slice(0, 1024),
      database: this.databaseName,
      workGroup: this.workGroup.ref,
      queryString: sql,
    });
  }

  /**
   * What a function needs to run its own queries over `tables` of the archive, and no more (for
   * people and tools, {@link grantQuery}): start, poll, read and stop queries in the workgroup; read
   * those tables' definitions; read and list the folder of each table, and of each table a view
   * among them reads, through the views it reads ({@link foldersRead}: `callback_messages` reads
   * `callbacks/`, `messages_with_source` `messages/` and the callback message rows); write and
   * read Athena's results under `results/` with the results key. The archive bucket's key is the
   * caller's to grant.
   * @throws RangeError for a table the construct does not define
   */
  public grantQueryTables(grantee: iam.IGrantable, tables: readonly string[]): void {
    const stack = Stack.of(this);
    for (const name of tables) {
      if (!(name in this.tables)) throw new RangeError(`no table or view ${name} in ${this.databaseName}`);
    }
    const add = (statement: iam.PolicyStatementProps) =>
      grantee.grantPrincipal.addToPrincipalPolicy(new iam.PolicyStatement(statement));
    add({
      sid: 'QueryWorkGroup',
      actions: [...RUN_QUERY_ACTIONS],
      resources: [
        stack.formatArn({ service: 'athena', resource: 'workgroup', resourceName: this.workGroupName }),
      ],
    });
    add({
      sid: 'QueryCatalog',
      actions: ['glue:GetDatabase', 'glue:GetTable'],
      resources: [
        stack.formatArn({ service: 'glue', resource: 'catalog' }),
        stack.formatArn({ service: 'glue', resource: 'database', resourceName: this.databaseName }),
        ...tables.map((t) =>
          stack.formatArn({ service: 'glue', resource: 'table', resourceName: `${this.databaseName}/${t}` }),
        ),
      ],
    });
    // A view reads the folders of every table it reads, through the views it reads.
    const folders = foldersRead(tables, this.tableFolders).map((folder) => `${this.prefix}${folder}*`);
    add({
      sid: 'QueryArchiveObjects',
      actions: ['s3:GetObject'],
      resources: folders.map((folder) => this.bucket.arnForObjects(folder)),
    });
    add({
      sid: 'QueryArchiveList',
      actions: ['s3:ListBucket'],
      resources: [this.bucket.bucketArn],
      conditions: { StringLike: { 's3:prefix': folders } },
    });
    add({
      sid: 'QueryBuckets',
      actions: ['s3:GetBucketLocation'],
      resources: [this.bucket.bucketArn, this.resultsBucket.bucketArn],
    });
    add({
      sid: 'QueryResults',
      actions: ['s3:GetObject', 's3:PutObject', 's3:AbortMultipartUpload', 's3:ListMultipartUploadParts'],
      resources: [this.resultsBucket.arnForObjects('results/*')],
    });
    add({
      sid: 'QueryResultsList',
      actions: ['s3:ListBucket'],
      resources: [this.resultsBucket.bucketArn],
      conditions: { StringLike: { 's3:prefix': ['results/*'] } },
    });
    if (this.resultsKey !== undefined) {
      add({
        sid: 'QueryResultsKey',
        actions: ['kms:Decrypt', 'kms:GenerateDataKey'],
        resources: [this.resultsKey.keyArn],
        conditions: { StringEquals: { 'kms:ViaService': `s3.${stack.region}.amazonaws.com` } },
      });
    }
  }

  /**
   * Lets `grantee` run queries in the workgroup: Athena on the workgroup, Glue reads on the
   * database and its tables, reads of every table's folder under the archive prefix, and results.
   */
  public grantQuery(grantee: iam.IGrantable): void {
    const stack = Stack.of(this);
    const workGroupArn = stack.formatArn({
      service: 'athena',
      resource: 'workgroup',
      resourceName: this.workGroupName,
    });
    const glueArn = (resource: string, name: string) =>
      stack.formatArn({ service: 'glue', resource, resourceName: name });
    iam.Grant.addToPrincipal({
      grantee,
      actions: [...RUN_QUERY_ACTIONS, 'athena:ListNamedQueries', 'athena:GetNamedQuery'],
      resourceArns: [workGroupArn],
    });
    iam.Grant.addToPrincipal({
      grantee,
      actions: ['glue:GetDatabase', 'glue:GetTable', 'glue:GetTables', 'glue:GetPartitions'],
      resourceArns: [
        stack.formatArn({ service: 'glue', resource: 'catalog' }),
        glueArn('database', this.databaseName),
        glueArn('table', `${this.databaseName}/*`),
      ],
    });
    for (const folder of new Set(this.tableFolders.values())) {
      this.bucket.grantRead(grantee, `${this.prefix}${folder}*`);
    }
    this.resultsBucket.grantReadWrite(grantee);
  }
}

function toGlueColumn(c: { name: string; type: string; comment?: string }): glue.CfnTable.ColumnProperty {
  // Parse to fail at synth, not at query time, if a type string is ever malformed.
  parseHiveType(c.type);
  return { name: c.name, type: c.type, ...(c.comment ? { comment: c.comment } : {}) };
}
