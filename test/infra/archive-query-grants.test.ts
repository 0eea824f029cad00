/**
 * The query grants of infra/constructs/archive-query.ts: a grant over a view reads the folders of
 * every table the view reads, through the views it reads. The oracle is independent of the views'
 * declarations: the tables each view's Athena SQL names (`"chat_archive"."<table>"`), followed
 * through views, and each table's folder from its Glue location in the synthesized template.
 */
import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { describe, expect, it } from 'vitest';
import { athenaViewSql, VIEWS } from '../../functions/query/views.ts';
import { ArchiveQuery } from '../../infra/constructs/archive-query.ts';

const BUCKET = 'my-archive-bucket';
const PREFIX = 'tenant-a/chat/';
const ROOT = `s3://${BUCKET}/${PREFIX}`;
const CONTEXT = { database: 'chat_archive', timeZone: 'UTC' };

// biome-ignore lint/suspicious/noExplicitAny: CloudFormation JSON.
type Cfn = any;

/** Grants each of `grants` to its own role; returns each role's S3 object and list resources. */
function granted(grants: readonly (readonly string[])[]) {
  const app = new App();
  const stack = new Stack(app, 'GrantTest');
  const bucket = s3.Bucket.fromBucketName(stack, 'Archive', BUCKET);
  const query = new ArchiveQuery(stack, 'Query', {
    bucket,
    prefix: PREFIX,
    sdkAppIds: [1400000000],
    timeZone: 'UTC',
    dtStart: '2024-01-01',
  });
  const roles = grants.map((tables, i) => {
    const role = new iam.Role(stack, `Reader${i}`, { assumedBy: new iam.AccountRootPrincipal() });
    query.grantQueryTables(role, tables);
    return stack.getLogicalId(role.node.defaultChild as iam.CfnRole);
  });
  const template = Template.fromStack(stack);
  const policies = Object.values(template.findResources('AWS::IAM::Policy')) as Cfn[];
  const folders = roles.map((logicalId) => {
    const policy = policies.find((p) => JSON.stringify(p.Properties.Roles).includes(`"${logicalId}"`));
    const statements = policy.Properties.PolicyDocument.Statement as Cfn[];
    const objects = statements.find((s) => s.Sid === 'QueryArchiveObjects');
    const list = statements.find((s) => s.Sid === 'QueryArchiveList');
    const objectFolders = [objects.Resource]
      .flat()
      .map((r: Cfn) => (r['Fn::Join'][1] as Cfn[]).join(''))
      .map((arn: string) => arn.replace(/^arn:.*?:s3:::my-archive-bucket\//, '').replace(/\*$/, ''));
    const listFolders = [list.Condition.StringLike['s3:prefix']]
      .flat()
      .map((p: string) => p.replace(/\*$/, ''));
    return { objects: objectFolders.sort(), list: listFolders.sort() };
  });
  return { template, folders };
}

/** Each table's folder under the archive prefix, from its Glue location. */
function tableFolders(template: Template): Map<string, string> {
  const tables = Object.values(template.findResources('AWS::Glue::Table')) as Cfn[];
  const folders = new Map<string, string>();
  for (const t of tables) {
    const input = t.Properties.TableInput;
    if (input.TableType !== 'EXTERNAL_TABLE') continue;
    const location = String(input.StorageDescriptor.Location);
    expect(location.startsWith(ROOT), location).toBe(true);
    folders.set(input.Name, `${PREFIX}${location.slice(ROOT.length)}`);
  }
  return folders;
}

/** The folders a view reads, from the table names its SQL holds, through the views it names. */
function expectedFolders(name: string, folders: Map<string, string>, seen = new Set<string>()): Set<string> {
  const out = new Set<string>();
  if (seen.has(name)) return out;
  seen.add(name);
  const folder = folders.get(name);
  if (folder !== undefined) return out.add(folder);
  const view = VIEWS.find((v) => v.name === name);
  if (!view) throw new Error(`no table or view ${name}`);
  const sql = athenaViewSql(view, CONTEXT);
  const named = [...sql.matchAll(/"chat_archive"\."([a-z0-9_]+)"/g)].map((m) => m[1] as string);
  for (const read of named) for (const f of expectedFolders(read, folders, seen)) out.add(f);
  return out;
}

describe('ArchiveQuery.grantQueryTables: the folders of what a query reads', () => {
  const grants = VIEWS.map((v) => [v.name]);
  const { template, folders } = granted(grants);
  const byTable = tableFolders(template);

  it.each(VIEWS.map((v, i) => [v.name, i] as const))(
    'a grant over the view %s reads and lists the folders of every table its SQL reads',
    (name, i) => {
      const expected = [...expectedFolders(name, byTable)].sort();
      expect(expected.length).toBeGreaterThan(0);
      expect(folders[i]?.objects).toEqual(expected);
      expect(folders[i]?.list).toEqual(expected);
    },
  );

  it('gives the callback views their folders, asked for alone (the bug: only callback_events did)', () => {
    const at = (view: string) => folders[VIEWS.findIndex((v) => v.name === view)]?.objects;
    expect(at('callback_messages')).toEqual([`${PREFIX}callbacks/`]);
    const withSource = at('messages_with_source') ?? [];
    expect(withSource).toContain(`${PREFIX}messages/`);
    expect(withSource.some((f) => f.startsWith(`${PREFIX}callback-rows/`))).toBe(true);
    expect(at('runs_flat')).toEqual([`${PREFIX}runs/`]);
    // messages_named reads messages_flat and three name views: messages and every identity kind.
    const named = at('messages_named') ?? [];
    expect(named).toContain(`${PREFIX}messages/`);
    expect(named.filter((f) => f.startsWith(`${PREFIX}identities/`))).toHaveLength(3);
  });

  it('grants a table only its own folder, and refuses a name it does not define', () => {
    const { folders: tableOnly } = granted([['messages'], ['callback_events', 'messages']]);
    expect(tableOnly[0]?.objects).toEqual([`${PREFIX}messages/`]);
    expect(tableOnly[1]?.objects).toEqual([`${PREFIX}callbacks/`, `${PREFIX}messages/`]);
    expect(() => granted([['no_such_view']])).toThrow(/no table or view no_such_view/);
  });
});
