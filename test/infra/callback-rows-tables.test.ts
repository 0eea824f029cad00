/**
 * The materialized callback tables (issue 25) as the ArchiveQuery construct synthesizes them,
 * checked against the writer: the Glue columns are exactly the keys of the rows
 * functions/domain/callback-materialize.ts produces, and the projection's location template, filled
 * in, is the folder of the keys it writes.
 */
import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { describe, expect, it } from 'vitest';
import { toCallbackEventRow } from '../../functions/domain/callback-event.ts';
import {
  CALLBACK_ROW_KINDS,
  callbackRowsKey,
  materializeEvents,
} from '../../functions/domain/callback-materialize.ts';
import { CALLBACK_ROW_TABLES } from '../../functions/query/callback-tables.ts';
import { destroyEvent, modifyEvent, recallEvent, sendMsgEvent } from '../../functions/simulator/callbacks.ts';
import { ArchiveQuery } from '../../infra/constructs/archive-query.ts';

const BUCKET = 'my-archive-bucket';
const PREFIX = 'tenant-a/chat';
const APP = 1400000000;
const GROUP = { groupId: '@TGS#rows', type: 'Public' };
// biome-ignore lint/suspicious/noTemplateCurlyInString: Athena projection placeholders, not a JS template.
const SDKAPPID = '${sdkappid}';
// biome-ignore lint/suspicious/noTemplateCurlyInString: Athena projection placeholders, not a JS template.
const DT = '${dt}';

interface GlueTableInput {
  Name: string;
  Parameters: Record<string, string>;
  PartitionKeys: { Name: string }[];
  StorageDescriptor: { Columns: { Name: string }[]; Location: string };
}

function synthesizedTables(): GlueTableInput[] {
  const stack = new Stack(new App(), 'CallbackRowsTest');
  new ArchiveQuery(stack, 'Query', {
    bucket: s3.Bucket.fromBucketName(stack, 'Archive', BUCKET),
    prefix: PREFIX,
    sdkAppIds: [APP],
    timeZone: 'UTC',
    dtStart: '2024-01-01',
  });
  const tables = Object.values(Template.fromStack(stack).findResources('AWS::Glue::Table')) as {
    Properties: { TableInput: GlueTableInput };
  }[];
  return tables.map((t) => t.Properties.TableInput);
}

/** One row of each kind, as the step writes it. */
function writtenRows(): Record<string, Record<string, unknown>> {
  const at = Date.UTC(2026, 11, 7, 3);
  const event = (command: string, body: Record<string, unknown>) =>
    toCallbackEventRow({
      sdkAppId: APP,
      command,
      requestTime: Math.floor(at / 1000),
      receivedAt: at,
      body: new TextEncoder().encode(JSON.stringify({ CallbackCommand: command, ...body, EventTime: at })),
    });
  const message = { MsgSeq: 1, MsgTimeStamp: Math.floor(at / 1000), From_Account: 'a', MsgRandom: 1 };
  const { rows } = materializeEvents(
    [
      event('Group.CallbackAfterSendMsg', sendMsgEvent(GROUP, message)),
      event('Group.CallbackAfterRecallMsg', recallEvent(GROUP, { seqs: [1], operator: 'b' })),
      event('Group.CallbackAfterModifyMsg', modifyEvent(GROUP.groupId, { seq: 1, operator: 'a', body: [] })),
      event(
        'Group.CallbackAfterGroupDestroyed',
        destroyEvent({ ...GROUP, name: 'n', owner: 'a', members: ['a'] }),
      ),
    ],
    new Map(),
    'UTC',
  );
  const byKind = [...rows.values()][0];
  if (byKind === undefined) throw new Error('no rows');
  return Object.fromEntries(
    CALLBACK_ROW_KINDS.map((kind) => [
      kind,
      JSON.parse(JSON.stringify(byKind[kind][0])) as Record<string, unknown>,
    ]),
  );
}

describe('materialized callback tables in the stack', () => {
  const tables = synthesizedTables();
  const rows = writtenRows();

  for (const spec of CALLBACK_ROW_TABLES) {
    it(`${spec.name}: the columns are the row's keys, the projection is the writer's folder`, () => {
      const table = tables.find((t) => t.Name === spec.name);
      if (table === undefined) throw new Error(`no Glue table ${spec.name}`);
      const row = rows[spec.kind];
      expect(table.StorageDescriptor.Columns.map((c) => c.Name).sort()).toEqual(
        Object.keys(row ?? {}).sort(),
      );
      expect(table.PartitionKeys.map((k) => k.Name)).toEqual(['sdkappid', 'dt']);
      const key = callbackRowsKey(spec.kind, APP, '2026-12-07', 3);
      const folder = table.Parameters['storage.location.template']
        ?.replace(SDKAPPID, String(APP))
        .replace(DT, '2026-12-07');
      expect(`s3://${BUCKET}/${PREFIX}/${key}`.startsWith(folder ?? '-')).toBe(true);
      expect(folder).toBe(`s3://${BUCKET}/${PREFIX}/${key.slice(0, key.lastIndexOf('/') + 1)}`);
    });
  }
});
