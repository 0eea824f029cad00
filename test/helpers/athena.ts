/**
 * Athena at the SDK level (aws-sdk-client-mock: no local Athena exists) answering queries by their
 * SQL, the audit's answers for a one-object archive, and that archive: three messages in one
 * object of one day plus the state that names its group. Shared by the transcript/audit command
 * tests and the audit function's handler tests.
 */
import { gzipSync } from 'node:zlib';
import {
  type AthenaClient,
  GetQueryExecutionCommand,
  GetQueryResultsCommand,
  type GetQueryResultsOutput,
  StartQueryExecutionCommand,
} from '@aws-sdk/client-athena';
import type { AwsClientStub } from 'aws-sdk-client-mock';
import { emptyState, serializeState } from '../../functions/domain/continuation.ts';
import { stateKey } from '../../functions/domain/partition.ts';
import { toRecord } from '../../functions/domain/record.ts';
import { serializeRecord } from '../../functions/domain/record-codec.ts';
import type { ObjectStore } from '../../functions/domain/storage.ts';

/** A query's result as the mock returns it: column names and rows of strings. */
export interface SqlAnswer {
  columns: string[];
  rows: string[][];
}

/**
 * Makes `athena` answer each query by its SQL: every query succeeds at once, scanning
 * `scannedBytes` (when given), and `answer(sql)` gives its result (one page).
 */
export function answerBySql(
  athena: AwsClientStub<AthenaClient>,
  answer: (sql: string) => SqlAnswer,
  options: { scannedBytes?: number } = {},
): void {
  const sqlById = new Map<string, string>();
  athena.on(StartQueryExecutionCommand).callsFake((input: { QueryString: string }) => {
    const id = `q${sqlById.size}`;
    sqlById.set(id, input.QueryString);
    return { QueryExecutionId: id };
  });
  athena.on(GetQueryExecutionCommand).callsFake((input: { QueryExecutionId: string }) => ({
    QueryExecution: {
      QueryExecutionId: input.QueryExecutionId,
      StatementType: 'DML',
      Status: { State: 'SUCCEEDED' },
      ...(options.scannedBytes === undefined
        ? {}
        : { Statistics: { DataScannedInBytes: options.scannedBytes } }),
    },
  }));
  athena
    .on(GetQueryResultsCommand)
    .callsFake((input: { QueryExecutionId: string }): GetQueryResultsOutput => {
      const { columns, rows } = answer(sqlById.get(input.QueryExecutionId) ?? '');
      const row = (cells: string[]) => ({ Data: cells.map((c) => ({ VarCharValue: c })) });
      return {
        ResultSet: {
          ResultSetMetadata: { ColumnInfo: columns.map((c) => ({ Name: c, Label: c, Type: 'varchar' })) },
          Rows: [row(columns), ...rows.map(row)],
        },
      };
    });
}

/**
 * The audit's answers for the archive {@link seedThreeMessages} writes: the object at `path` holds
 * seqs 1–3 of `groupId` (topic_id '' stands for NULL: the mock has no nulls; the target is matched
 * by group). With `gap`, seq 2 is missing (two rows, and the gap query names 1 -> 3).
 */
export function auditAnswers(path: string, groupId: string, gap = false): (sql: string) => SqlAnswer {
  return (sql) => {
    if (sql.includes('min(msg_seq) AS first_seq'))
      return {
        columns: ['path', 'group_id', 'topic_id', 'gen', 'first_seq', 'last_seq', 'rows_n', 'revision_rows'],
        rows: [[path, groupId, '', '0', '1', '3', gap ? '2' : '3', '0']],
      };
    if (gap && sql.includes('lead(msg_seq)'))
      return {
        columns: ['group_id', 'topic_id', 'gen', 'msg_seq', 'next_seq'],
        rows: [[groupId, '', '0', '1', '3']],
      };
    return { columns: ['group_id'], rows: [] };
  };
}

/**
 * Writes seqs 1–3 of `groupId` (texts from `text`, sent by `from` at `atMs(seq)`) as one object at
 * `key`, and the app's state with that group archived up to seq 3.
 */
export async function seedThreeMessages(
  store: ObjectStore,
  spec: {
    sdkAppId: number;
    groupId: string;
    key: string;
    from: string;
    text: (seq: number) => string;
    atMs: (seq: number) => number;
    random?: (seq: number) => number;
  },
): Promise<void> {
  const lines = [1, 2, 3].map((seq) =>
    serializeRecord(
      toRecord(
        {
          From_Account: spec.from,
          IsPlaceMsg: 0,
          MsgBody: [{ MsgType: 'TIMTextElem', MsgContent: { Text: spec.text(seq) } }],
          MsgPriority: 1,
          MsgRandom: spec.random?.(seq) ?? seq,
          MsgSeq: seq,
          MsgTimeStamp: spec.atMs(seq) / 1000,
        },
        { sdkAppId: spec.sdkAppId, groupId: spec.groupId, topicId: null },
      ),
    ),
  );
  await store.put(spec.key, gzipSync(`${lines.join('\n')}\n`));
  const state = emptyState(spec.sdkAppId);
  state.targets.push({
    groupId: spec.groupId,
    topicId: null,
    highWater: 3,
    generation: 0,
    highWaterTime: null,
    inProgress: null,
  });
  await store.put(stateKey(spec.sdkAppId), new TextEncoder().encode(serializeState(state)));
}
