/**
 * The ArchiveQuery construct, checked against the writer: the Glue tables are read back from the
 * synthesized template and compared with records and object keys the writer's own functions
 * produce (columns both ways, value types, projection location and date format for several dates
 * and zones), then the views, workgroup, saved queries, and cdk-nag on a tiny stack.
 */
import { Buffer } from 'node:buffer';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { App, Duration, Stack, Validations } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { AwsSolutionsChecks } from 'cdk-nag';
import { describe, expect, it } from 'vitest';
import {
  C2C_RECORD_KEYS,
  c2cObjectKey,
  serializeC2cRecord,
  toC2cRecord,
} from '../../functions/domain/c2c-record.ts';
import { emptyCounts } from '../../functions/domain/callback-materialize.ts';
import { identityRowsKey } from '../../functions/domain/identity-capture.ts';
import { IDENTITY_KINDS, type IdentityKind, type IdentityRow } from '../../functions/domain/identity-rows.ts';
import { dateInZone, messageObjectKey, runReportKey } from '../../functions/domain/partition.ts';
import { toRecord } from '../../functions/domain/record.ts';
import { RECORD_KEYS, serializeRecord } from '../../functions/domain/record-codec.ts';
import type { RawMessage } from '../../functions/domain/tencent-types.ts';
import { emptyC2cReport } from '../../functions/engine/c2c-report.ts';
import type { CallbackMaterializeReport } from '../../functions/engine/callback-materialize.ts';
import type { IdentityReport } from '../../functions/engine/identity-capture.ts';
import { emptyReport } from '../../functions/engine/report.ts';
import type { StoredRunReport } from '../../functions/engine/report-format.ts';
import { C2C_MESSAGES_TABLE } from '../../functions/query/c2c-tables.ts';
import { type HiveType, parseHiveType, toPrestoType } from '../../functions/query/hive-types.ts';
import { IDENTITY_TABLES } from '../../functions/query/identity-tables.ts';
import { RECORD_COLUMNS } from '../../functions/query/message-schema.ts';
import { compiledFor, NAMED_QUERIES } from '../../functions/query/named-queries.ts';
import { RUN_REPORT_COLUMNS } from '../../functions/query/tables.ts';
import {
  athenaViewSql,
  duckdbViewSql,
  KNOWN_MSG_TIME_COLUMN,
  PREVIOUS_COLUMNS,
  SCD2_COLUMNS,
  USER_NAMES_VIEW,
  VIEWS,
} from '../../functions/query/views.ts';
import { ELEMENT_TYPES, generateMessage, streamKey } from '../../functions/simulator/index.ts';
import { ArchiveQuery, type ArchiveQueryProps } from '../../infra/constructs/archive-query.ts';

const BUCKET = 'my-archive-bucket';
const PREFIX = 'tenant-a/chat';
const APPS = [1400000000, 1400000001];

function build(
  over: Partial<ArchiveQueryProps> = {},
  beforeSynth?: (stack: Stack, query: ArchiveQuery) => void,
) {
  const app = new App();
  const stack = new Stack(app, 'QueryTest');
  // An imported bucket has a literal name, so template strings can be compared as written.
  const bucket = s3.Bucket.fromBucketName(stack, 'Archive', BUCKET);
  const query = new ArchiveQuery(stack, 'Query', {
    bucket,
    prefix: PREFIX,
    sdkAppIds: APPS,
    timeZone: 'Asia/Shanghai',
    dtStart: '2024-01-01',
    ...over,
  });
  beforeSynth?.(stack, query);
  return { app, stack, query, template: Template.fromStack(stack) };
}

interface GlueTableInput {
  Name: string;
  TableType: string;
  Parameters: Record<string, string>;
  PartitionKeys: { Name: string; Type: string }[];
  ViewOriginalText?: string;
  StorageDescriptor: {
    Columns: { Name: string; Type: string }[];
    Location?: string;
    SerdeInfo: { SerializationLibrary?: string; Parameters?: Record<string, string> };
  };
}

function tableInput(template: Template, name: string): GlueTableInput {
  const tables = Object.values(template.findResources('AWS::Glue::Table')) as {
    Properties: { TableInput: GlueTableInput };
  }[];
  const found = tables.find((t) => t.Properties.TableInput.Name === name);
  if (!found) throw new Error(`no Glue table ${name}`);
  return found.Properties.TableInput;
}

/** Whether OpenX (case-insensitive) can read `value` as `type`: what a query would see. */
function fitsHive(type: HiveType, value: unknown): boolean {
  if (value === null) return true;
  switch (type.kind) {
    case 'primitive':
      if (type.name === 'string') return true; // OpenX renders any JSON value as text
      if (type.name === 'boolean') return typeof value === 'boolean';
      if (type.name === 'double') return typeof value === 'number';
      if (type.name === 'int') return Number.isInteger(value) && Math.abs(value as number) < 2 ** 31;
      return Number.isInteger(value);
    case 'array':
      return Array.isArray(value) && value.every((v) => fitsHive(type.of, v));
    case 'map':
      return (
        typeof value === 'object' &&
        !Array.isArray(value) &&
        Object.values(value).every((v) => fitsHive(type.value, v))
      );
    case 'struct': {
      if (typeof value !== 'object' || Array.isArray(value)) return false;
      return Object.entries(value).every(([key, v]) => {
        const field = type.fields.find(([name]) => name === key.toLowerCase());
        return field === undefined || fitsHive(field[1], v);
      });
    }
  }
}

/** Records as the writer serializes them, from the simulator's bodies (every element type) and edge cases. */
function writtenRecords(): Record<string, unknown>[] {
  const key = streamKey(7, '@TGS#_@TGS#cSCHEMA');
  const raws: RawMessage[] = Array.from({ length: 400 }, (_, i) =>
    generateMessage(key, i + 1, 1_710_000_000 + i),
  );
  raws.push(
    { MsgSeq: 401, MsgTimeStamp: 1_710_000_401, IsPlaceMsg: 2, From_Account: '' },
    {
      MsgSeq: 402,
      MsgTimeStamp: 1_710_000_402,
      MsgBody: [{ MsgType: 'TIMNewElem', MsgContent: { Odd: [1] } }],
    },
  );
  const seenTypes = new Set(
    raws.flatMap((r) =>
      (Array.isArray(r.MsgBody) ? r.MsgBody : []).map((e) => (e as { MsgType: string }).MsgType),
    ),
  );
  for (const type of ELEMENT_TYPES) expect(seenTypes, type).toContain(type);
  return raws.map((raw, i) =>
    JSON.parse(
      serializeRecord(
        toRecord(raw, { sdkAppId: APPS[0] as number, groupId: '@TGS#a', topicId: i % 2 ? 'T' : null }),
      ),
    ),
  );
}

/** Athena's projection renders a date with the table's Java pattern; enough of it for yyyy/MM/dd. */
function formatProjected(pattern: string, dt: string): string {
  const [y, m, d] = dt.split('-');
  return pattern
    .replace('yyyy', y ?? '')
    .replace('MM', m ?? '')
    .replace('dd', d ?? '');
}

function fillTemplate(template: string, sdkAppId: number, dt: string, format: string): string {
  // biome-ignore lint/suspicious/noTemplateCurlyInString: Athena projection placeholders, not a JS template.
  return template.replace('${sdkappid}', String(sdkAppId)).replace('${dt}', formatProjected(format, dt));
}

const ROOT = `s3://${BUCKET}/${PREFIX}/`;
const ZONES = ['UTC', 'Asia/Shanghai', 'Pacific/Kiritimati', 'America/Los_Angeles', 'Asia/Kolkata'];
const INSTANTS = [
  Date.UTC(2024, 0, 1, 0, 0, 0),
  Date.UTC(2024, 1, 29, 15, 59, 59),
  Date.UTC(2024, 1, 29, 16, 0, 0),
  Date.UTC(2024, 2, 10, 10, 30),
  Date.UTC(2024, 11, 31, 23, 59, 59),
  Date.UTC(2026, 5, 15, 9, 0),
].map((ms) => ms / 1000);

describe('ArchiveQuery: the messages table agrees with the writer', () => {
  const { template } = build();
  const table = tableInput(template, 'messages');

  it('has a column for every record key and a record key for every column, with the schema types', () => {
    const columns = table.StorageDescriptor.Columns;
    expect(columns.map((c) => c.Name)).toEqual([...RECORD_KEYS]);
    expect(columns.map((c) => c.Type)).toEqual(RECORD_COLUMNS.map((c) => c.athenaType));
    for (const record of writtenRecords()) {
      expect(Object.keys(record)).toEqual(columns.map((c) => c.Name));
      for (const column of columns) {
        expect(
          fitsHive(parseHiveType(column.Type), record[column.Name]),
          `${column.Name}: ${JSON.stringify(record[column.Name])}`,
        ).toBe(true);
      }
    }
  });

  it('types msg_body so element fields are queryable through the mixed-case MsgContent keys', () => {
    const body = parseHiveType(
      table.StorageDescriptor.Columns.find((c) => c.Name === 'msg_body')?.Type ?? '',
    );
    expect(toPrestoType(body)).toMatch(/^array\(row\(msg_type varchar, msg_content row\(text varchar, /);
    const record = writtenRecords().find((r) => JSON.stringify(r.msg_body).includes('"ImageInfoArray"'));
    expect(record).toBeDefined();
    expect(table.StorageDescriptor.SerdeInfo).toEqual({
      SerializationLibrary: 'org.openx.data.jsonserde.JsonSerDe',
      Parameters: { 'case.insensitive': 'TRUE', 'ignore.malformed.json': 'FALSE', 'dots.in.keys': 'FALSE' },
    });
  });

  it('projects sdkappid from the config and dt as a date from the start to NOW', () => {
    expect(table.PartitionKeys).toEqual([
      expect.objectContaining({ Name: 'sdkappid', Type: 'string' }),
      expect.objectContaining({ Name: 'dt', Type: 'string' }),
    ]);
    expect(table.Parameters).toMatchObject({
      'projection.enabled': 'true',
      'projection.sdkappid.type': 'enum',
      'projection.sdkappid.values': '1400000000,1400000001',
      'projection.dt.type': 'date',
      'projection.dt.format': 'yyyy-MM-dd',
      'projection.dt.range': '2024-01-01,NOW+1DAYS',
      'projection.dt.interval': '1',
      'projection.dt.interval.unit': 'DAYS',
    });
    expect(table.StorageDescriptor.Location).toBe(`${ROOT}messages/`);
  });

  it.each(ZONES)('locates every object the writer puts in %s exactly where projection looks', (zone) => {
    const locationTemplate = table.Parameters['storage.location.template'] as string;
    const format = table.Parameters['projection.dt.format'] as string;
    for (const t of INSTANTS) {
      for (const sdkAppId of APPS) {
        const dt = dateInZone(t, zone);
        const key = messageObjectKey({ sdkAppId, dt, runId: '20240301T000000Z-abc123', part: 7 });
        const folder = `${ROOT}${key.slice(0, key.lastIndexOf('/') + 1)}`;
        expect(fillTemplate(locationTemplate, sdkAppId, dt, format)).toBe(folder);
      }
    }
  });

  it.each(ZONES)('projects far enough ahead that today in %s is never left out', (zone) => {
    const { template: zoned } = zone === 'Asia/Shanghai' ? { template } : build({ timeZone: zone });
    const range = tableInput(zoned, 'messages').Parameters['projection.dt.range'] as string;
    const end = range.split(',')[1];
    // Athena evaluates NOW in UTC; check each hour of a day and a day around DST changes.
    for (let hour = 0; hour < 48; hour++) {
      const t = Date.UTC(2024, 2, 9) / 1000 + hour * 3600;
      const utcToday = dateInZone(t, 'UTC');
      const projectedEnd = end === 'NOW+1DAYS' ? dateInZone(t + 86_400, 'UTC') : utcToday;
      expect(dateInZone(t, zone) <= projectedEnd, `${zone} at ${new Date(t * 1000).toISOString()}`).toBe(
        true,
      );
    }
    // And no wasted day where it is not needed.
    expect(end).toBe(['UTC', 'America/Los_Angeles'].includes(zone) ? 'NOW' : 'NOW+1DAYS');
  });
});

describe('ArchiveQuery: the runs table agrees with the run report', () => {
  const { template } = build();
  const table = tableInput(template, 'runs');

  it('maps every report key (camelCase) to a snake_case column the case-insensitive SerDe finds', () => {
    const identities: IdentityReport = {
      calls: { groupInfo: 1, profiles: 2, members: 3 },
      duringPaging: 1,
      budget: 10,
      otherCalls: 100,
      groupsFromPlanning: 0,
      rollCall: 0,
      rows: { users: 1, groups: 1, members: 1 },
      firstRows: 3,
      pending: { users: 0, groups: 0, members: 0 },
      dropped: 0,
      failedCalls: 0,
      rolledForward: false,
      elapsedMs: 5,
    };
    const callbacks: CallbackMaterializeReport = {
      ...emptyCounts(),
      objects: 1,
      objectsLeft: 0,
      unreadableLines: 0,
      commits: 1,
      rolledForward: false,
      elapsedMs: 5,
    };
    // Every section a run can add (the passes'), so each column has its key.
    const report: StoredRunReport = {
      ...emptyReport('r1', APPS[0] as number, 1_710_000_000_000),
      errors: [{ groupId: '@TGS#a', topicId: null, error: 'x' }],
      calls: { groupMsgGetSimple: 3 },
      fatalError: 'boom',
      identities,
      c2c: emptyC2cReport(),
      callbacks,
      historyFiles: {
        hours: 1,
        hoursLeft: 0,
        filesKept: 1,
        filesRejected: 0,
        messagesIndexed: 2,
        unreadableLines: 0,
        done: true,
      },
    };
    const written = JSON.parse(JSON.stringify(report)) as Record<string, unknown>;
    const columns = table.StorageDescriptor.Columns;
    const serde = table.StorageDescriptor.SerdeInfo.Parameters ?? {};
    const keyOf = (column: string) => serde[`mapping.${column}`] ?? column;
    expect(columns.map((c) => keyOf(c.Name)).sort()).toEqual(
      Object.keys(written)
        .map((k) => k.toLowerCase())
        .sort(),
    );
    for (const column of columns) {
      const key = Object.keys(written).find((k) => k.toLowerCase() === keyOf(column.Name)) as string;
      expect(fitsHive(parseHiveType(column.Type), written[key]), column.Name).toBe(true);
    }
    expect(columns.map((c) => c.Name)).toEqual(RUN_REPORT_COLUMNS.map((c) => c.name));
  });

  it.each(ZONES)('locates run reports written in %s where projection looks', (zone) => {
    for (const t of INSTANTS) {
      const key = runReportKey({
        sdkAppId: APPS[1] as number,
        runId: 'r1',
        startedAtSeconds: t,
        timeZone: zone,
      });
      const dt = dateInZone(t, zone);
      expect(
        fillTemplate(
          table.Parameters['storage.location.template'] as string,
          APPS[1] as number,
          dt,
          'yyyy-MM-dd',
        ),
      ).toBe(`${ROOT}${key.slice(0, key.lastIndexOf('/') + 1)}`);
    }
  });
});

describe('ArchiveQuery: the identity tables agree with the capture', () => {
  const { template } = build();
  const rows: Record<IdentityKind, IdentityRow> = {
    users: {
      sdk_app_id: 1,
      account: 'a',
      nick: 'n',
      image: '',
      status: 'active',
      result_code: null,
      observed_at: 1,
    },
    groups: {
      sdk_app_id: 1,
      group_id: 'g',
      name: null,
      type: null,
      owner_account: null,
      status: 'dissolved',
      error_code: 10010,
      observed_at: 1,
    },
    members: {
      sdk_app_id: 1,
      group_id: 'g',
      account: 'a',
      role: 'Admin',
      name_card: '',
      status: 'member',
      observed_at: 1,
    },
  };

  it.each(IDENTITY_KINDS)(
    '%s: a column per row key, typed to fit, located where the capture writes',
    (kind) => {
      const table = tableInput(template, IDENTITY_TABLES[kind]);
      const columns = table.StorageDescriptor.Columns;
      expect(columns.map((c) => c.Name)).toEqual(Object.keys(rows[kind]));
      const written = JSON.parse(JSON.stringify(rows[kind])) as Record<string, unknown>;
      for (const c of columns) expect(fitsHive(parseHiveType(c.Type), written[c.Name]), c.Name).toBe(true);
      expect(table.StorageDescriptor.SerdeInfo.SerializationLibrary).toBe(
        'org.openx.data.jsonserde.JsonSerDe',
      );
      expect(table.Parameters).toMatchObject({ 'projection.enabled': 'true', compressionType: 'gzip' });
      for (const zone of ZONES) {
        for (const t of INSTANTS) {
          const dt = dateInZone(t, zone);
          const key = identityRowsKey(kind, APPS[0] as number, dt, 7);
          expect(
            fillTemplate(
              table.Parameters['storage.location.template'] as string,
              APPS[0] as number,
              dt,
              'yyyy-MM-dd',
            ),
          ).toBe(`${ROOT}${key.slice(0, key.lastIndexOf('/') + 1)}`);
        }
      }
    },
  );

  it('c2c_messages: a column per row key, typed to fit, located where the one-to-one pass writes', () => {
    const table = tableInput(template, C2C_MESSAGES_TABLE);
    const columns = table.StorageDescriptor.Columns;
    const row = toC2cRecord(
      {
        From_Account: 'b"ob',
        To_Account: 'alice',
        MsgKey: '1_2_3',
        MsgSeq: 7,
        MsgRandom: 9,
        MsgTimeStamp: 1_700_000_000,
        MsgFlagBits: 0,
        MsgBody: [{ MsgType: 'TIMTextElem', MsgContent: { Text: 'hi' } }],
        CloudCustomData: '',
        IsPeerRead: 1,
      },
      { sdkAppId: APPS[0] as number, accounts: ['b"ob', 'alice'], source: 'roam', observedAt: 1_700_000_100 },
    );
    expect(columns.map((c) => c.Name)).toEqual([...C2C_RECORD_KEYS]);
    const written = JSON.parse(serializeC2cRecord(row)) as Record<string, unknown>;
    for (const c of columns) expect(fitsHive(parseHiveType(c.Type), written[c.Name]), c.Name).toBe(true);
    expect(table.Parameters).toMatchObject({ 'projection.enabled': 'true', compressionType: 'gzip' });
    for (const zone of ZONES) {
      for (const t of INSTANTS) {
        const dt = dateInZone(t, zone);
        const key = c2cObjectKey({ sdkAppId: APPS[0] as number, dt, runId: 'r1', part: 3 });
        expect(
          fillTemplate(
            table.Parameters['storage.location.template'] as string,
            APPS[0] as number,
            dt,
            'yyyy-MM-dd',
          ),
        ).toBe(`${ROOT}${key.slice(0, key.lastIndexOf('/') + 1)}`);
      }
    }
  });

  it('renders last_value IGNORE NULLS in each dialect’s own syntax', () => {
    const ctx = { database: 'chat_archive', timeZone: 'UTC' };
    expect(athenaViewSql(USER_NAMES_VIEW, ctx)).toContain('last_value("nick") IGNORE NULLS OVER (');
    expect(duckdbViewSql(USER_NAMES_VIEW, ctx)).toContain('last_value("nick" IGNORE NULLS) OVER (');
    expect(athenaViewSql(USER_NAMES_VIEW, ctx)).not.toContain('"nick" IGNORE NULLS)');
  });
});

describe('ArchiveQuery: views, workgroup, saved queries', () => {
  const { template } = build();

  it.each(VIEWS.map((v) => v.name))(
    'stores %s as an Athena view whose SQL and column types agree',
    (name) => {
      const view = VIEWS.find((v) => v.name === name);
      const input = tableInput(template, name);
      expect(input.TableType).toBe('VIRTUAL_VIEW');
      expect(input.Parameters).toEqual({ presto_view: 'true', comment: 'Presto View' });
      const encoded = /^\/\* Presto View: ([A-Za-z0-9+/=]+) \*\/$/.exec(input.ViewOriginalText ?? '')?.[1];
      const definition = JSON.parse(Buffer.from(encoded ?? '', 'base64').toString('utf8'));
      expect(definition.catalog).toBe('awsdatacatalog');
      expect(definition.schema).toBe('chat_archive');
      expect(definition.originalSql).toBe(
        athenaViewSql(view as (typeof VIEWS)[number], {
          database: 'chat_archive',
          timeZone: 'Asia/Shanghai',
        }),
      );
      // Local times are in the archive zone (the views that show one).
      if (view?.columns.some((c) => c.athena.includes('{zone}')))
        expect(definition.originalSql).toContain("'Asia/Shanghai'");
      // Glue columns (Hive types) and view columns (Presto types) describe the same thing...
      expect(definition.columns).toEqual(
        input.StorageDescriptor.Columns.map((c) => ({
          name: c.Name,
          type: toPrestoType(parseHiveType(c.Type)),
        })),
      );
      // ...and each is CAST to that type in the SQL, so Athena never finds the view stale.
      for (const c of definition.columns)
        expect(definition.originalSql).toContain(` AS ${c.type}) AS "${c.name}"`);
    },
  );

  it('reads only columns the source table has', () => {
    for (const view of VIEWS) {
      const sources = [view.from, ...(view.joins ?? []).map((j) => j.table)].map((t) =>
        tableInput(template, t),
      );
      const known = new Set([
        ...sources.flatMap((source) => source.StorageDescriptor.Columns.map((c) => c.Name)),
        ...sources.flatMap((source) => source.PartitionKeys.map((c) => c.Name)),
        // Struct fields the SQL reaches through a column (`"groups".seen`, `identities.calls.profiles`).
        ...sources.flatMap((source) =>
          source.StorageDescriptor.Columns.flatMap((c) => structFieldNames(parseHiveType(c.Type))),
        ),
        // The previous revision's columns, put beside each revision by the `changes` source.
        ...(view.source === 'changes' ? PREVIOUS_COLUMNS.map((c) => `prev_${c}`) : []),
        // What a view over its own SELECT returns (`messages_with_source`).
        ...(typeof view.source === 'object' && view.source.kind === 'sql' ? view.source.columns : []),
        // A message's time from any revision, put beside the latest by the `latest` source.
        ...(view.source === 'latest' ? [KNOWN_MSG_TIME_COLUMN] : []),
        // An identity table's versions: rank, next row's time, live counts, carried values.
        ...(typeof view.source === 'object' && view.source.kind === 'scd2'
          ? [...SCD2_COLUMNS, ...view.source.carry.map((c) => `known_${c}`)]
          : []),
      ]);
      // Table aliases of a join view qualify column names (`md.status`): drop them.
      const aliases = [view.alias, ...(view.joins ?? []).map((j) => j.alias)].filter(
        (a): a is string => a !== undefined,
      );
      const qualifier = new RegExp(`\\b(${aliases.join('|') || '$^'})\\.`, 'g');
      for (const column of view.columns) {
        const identifiers = column.athena
          .replace(qualifier, '')
          // A lambda's variable is upper case (`E -> E.msg_type`): its fields are not columns.
          .replace(/\b[A-Z]\.[a-z_.]+/g, '')
          .replace(/'[^']*'|\{zone\}/g, '')
          .replace(/"([a-z_]+)"/g, '$1')
          .match(/\b[a-z_][a-z0-9_]*\b(?!\s*\()/g);
        for (const id of identifiers ?? []) expect(known, `${view.name}.${column.name}: ${id}`).toContain(id);
      }
    }
  });

  it('enforces encrypted results, engine v3 and a per-query scan limit', () => {
    template.hasResourceProperties('AWS::Athena::WorkGroup', {
      Name: 'chat-archive',
      WorkGroupConfiguration: {
        EnforceWorkGroupConfiguration: true,
        BytesScannedCutoffPerQuery: 10 * 1024 ** 3,
        EngineVersion: { SelectedEngineVersion: 'Athena engine version 3' },
        ResultConfiguration: {
          EncryptionConfiguration: { EncryptionOption: 'SSE_S3' },
          OutputLocation: Match.objectLike({ 'Fn::Join': Match.anyValue() }),
        },
      },
    });
    template.hasResourceProperties('AWS::S3::Bucket', {
      PublicAccessBlockConfiguration: {
        BlockPublicAcls: true,
        BlockPublicPolicy: true,
        IgnorePublicAcls: true,
        RestrictPublicBuckets: true,
      },
      BucketEncryption: {
        ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }],
      },
      LifecycleConfiguration: {
        Rules: [
          Match.objectLike({
            ExpirationInDays: 30,
            AbortIncompleteMultipartUpload: { DaysAfterInitiation: 1 },
          }),
        ],
      },
    });
    template.hasResourceProperties('AWS::S3::BucketPolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
        ]),
      },
    });
  });

  it('saves every named query, parameterised, plus a view re-create fallback', () => {
    const saved = Object.values(template.findResources('AWS::Athena::NamedQuery')).map(
      (r) => r.Properties as { Name: string; QueryString: string; Database: string },
    );
    for (const query of NAMED_QUERIES) {
      const found = saved.find((s) => s.Name === query.name);
      expect(found?.QueryString).toBe(compiledFor(query, 'athena', { names: true }).sql);
      expect(found?.Database).toBe('chat_archive');
    }
    expect(saved.map((s) => s.Name)).toEqual(
      expect.arrayContaining([
        'create-view-messages_flat',
        'create-view-runs_flat',
        'create-view-messages_named',
      ]),
    );
    // The saved conversation shows names (docs/names.md).
    expect(saved.find((s) => s.Name === 'conversation')?.QueryString).toContain('from_name, from_role');
    expect(saved.find((s) => s.Name === 'create-view-messages_flat')?.QueryString).toMatch(
      /^CREATE OR REPLACE VIEW "chat_archive"\."messages_flat" AS\nSELECT/,
    );
  });

  it('grants query access scoped to the workgroup, the database and the archive prefixes', () => {
    const { template: granted } = build({ timeZone: 'UTC' }, (stack, query) => {
      query.grantQuery(new iam.Role(stack, 'Analyst', { assumedBy: new iam.AccountRootPrincipal() }));
    });
    const policy = JSON.stringify(granted.findResources('AWS::IAM::Policy'));
    expect(policy).toContain('athena:StartQueryExecution');
    expect(policy).toContain(':workgroup/chat-archive');
    expect(policy).toContain(':table/chat_archive/*');
    expect(policy).toContain(`${BUCKET}/${PREFIX}/messages/*`);
    expect(policy).toContain(`${BUCKET}/${PREFIX}/runs/*`);
    // Every table's folder: the name views read the identity rows, the media views the manifest,
    // the callback views the recorded events and the rows materialized from them.
    for (const folder of ['identities/users/', 'media-manifest/', 'callbacks/', 'callback-rows/', 'c2c/']) {
      expect(policy).toContain(`${BUCKET}/${PREFIX}/${folder}`);
    }
  });

  it.each([
    [{ dtStart: '2024-02-30' }, /dtStart must be a real date/],
    [{ sdkAppIds: [] }, /at least one app/],
    [{ sdkAppIds: [0] }, /not a positive integer/],
    [{ databaseName: 'Chat-Archive' }, /databaseName must match/],
    [{ bytesScannedCutoffPerQuery: 1024 }, /at least 10485760/],
    [{ timeZone: 'Mars/Olympus' }, /not a valid IANA time zone/],
    [{ prefix: 'a//b' }, /empty, "\." or "\.\." segment/],
  ] as [Partial<ArchiveQueryProps>, RegExp][])('rejects %j', (over, message) => {
    expect(() => build(over)).toThrow(message);
  });
});

describe('ArchiveQuery: cdk-nag', () => {
  function nagViolations(configure: (stack: Stack) => Partial<ArchiveQueryProps>): string[] {
    const app = new App();
    const stack = new Stack(app, 'NagQuery');
    const bucket = s3.Bucket.fromBucketName(stack, 'Archive', BUCKET);
    new ArchiveQuery(stack, 'Query', {
      bucket,
      prefix: PREFIX,
      sdkAppIds: APPS,
      timeZone: 'UTC',
      dtStart: '2024-01-01',
      ...configure(stack),
    });
    Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
    try {
      app.synth();
    } catch {
      // The report below lists what failed.
    }
    const report = JSON.parse(readFileSync(join(app.outdir, 'validation-report.json'), 'utf8')) as {
      pluginReports: {
        violations: { ruleName: string; violatingConstructs: { constructPath: string }[] }[];
      }[];
    };
    return report.pluginReports.flatMap((p) =>
      p.violations.flatMap((v) => v.violatingConstructs.map((c) => `${v.ruleName} ${c.constructPath}`)),
    );
  }

  it('is clean with the defaults (the results bucket access-log rule is acknowledged with a reason)', () => {
    expect(nagViolations(() => ({}))).toEqual([]);
  });

  it('is clean with access logs and a KMS key for the results', () => {
    expect(
      nagViolations((stack) => {
        const logs = new s3.Bucket(stack, 'Logs', { enforceSSL: true });
        Validations.of(logs).acknowledge({ id: 'AwsSolutions-S1', reason: 'the log bucket itself' });
        return {
          serverAccessLogsBucket: logs,
          resultsEncryptionKey: new kms.Key(stack, 'Key', { enableKeyRotation: true }),
          resultsRetention: Duration.days(7),
        };
      }),
    ).toEqual([]);
  });
});

/** The field names of every struct inside a type, at any depth. */
function structFieldNames(type: HiveType): string[] {
  if (type.kind === 'struct')
    return type.fields.flatMap(([name, field]) => [name, ...structFieldNames(field)]);
  if (type.kind === 'array') return structFieldNames(type.of);
  if (type.kind === 'map') return structFieldNames(type.value);
  return [];
}
