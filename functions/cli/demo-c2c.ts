/**
 * The demo's one-to-one conversations (issue 26, docs/one-to-one.md): the simulator's
 * conversations are the config's pairs, so every run archives them beside the groups; before run 2
 * one of them gets new messages and one of those is recalled; at the end the demo writes that
 * conversation's transcript (`npm run export -- transcript --conversation a,b`) and prints its path
 * and its last messages from the `c2c-conversation` export, with names as of message time.
 */
import { terminalSafe } from '../adapters/logging/terminal-safe.ts';
import type { Clock } from '../domain/ports.ts';
import type { ObjectStore } from '../domain/storage.ts';
import { C2C_CONVERSATION_QUERY_NAME, conversationParams } from '../query/c2c-queries.ts';
import { formatTable } from '../query/export-format.ts';
import { findNamedQuery, parseParams, runNamedQuery } from '../query/named-queries.ts';
import type { Cell } from '../query/port.ts';
import { collectRows } from '../query/result.ts';
import { DEFAULT_DATABASE, DEFAULT_WORKGROUP } from '../query/tables.ts';
import type { Simulator } from '../simulator/index.ts';
import { openArchiveRunner } from './query-runners.ts';
import { runTranscriptCommand } from './transcript-command.ts';

/** Messages the demo adds to one conversation before run 2 (one of them recalled). */
export const DEMO_C2C_NEW_MESSAGES = 6;

/** The conversation that changed before run 2, and the recalled message. */
export interface DemoC2cChange {
  readonly pair: readonly [string, string];
  readonly added: number;
  readonly recalledKey: string;
}

/** The simulator's conversations, as the config's `c2c.pairs`. */
export function demoPairs(sim: Simulator): [string, string][] {
  return sim.c2c.pairs();
}

/** Adds {@link DEMO_C2C_NEW_MESSAGES} messages to the first conversation and recalls the second newest. */
export function changeAConversation(sim: Simulator): DemoC2cChange | undefined {
  const pair = sim.c2c.pairs()[0];
  if (pair === undefined) return undefined;
  sim.c2c.append(pair[0], pair[1], DEMO_C2C_NEW_MESSAGES);
  const recalledKey = sim.c2c.visible(pair[0], pair[1]).at(-2)?.MsgKey;
  if (recalledKey === undefined) return undefined;
  sim.c2c.recall(pair[0], pair[1], recalledKey);
  return { pair, added: DEMO_C2C_NEW_MESSAGES, recalledKey };
}

/** What the demo prints of the change. */
export function changeLine(change: DemoC2cChange): string {
  const [a, b] = change.pair;
  return `And ${change.added} new one-to-one messages between ${a} and ${b}, one of them recalled.`;
}

/** What the demo needs to write and read the conversation. */
export interface DemoC2cContext {
  readonly store: ObjectStore;
  readonly archive: string;
  readonly timeZone: string;
  readonly clock: Clock;
}

/** How many of the conversation's last messages the demo prints. */
const EXCERPT = 5;

/**
 * Writes the conversation's transcript into `<archive>-transcripts/` (named after the two
 * accounts) and returns the lines to print: where it is, and its last messages as the export has them.
 */
export async function showConversation(ctx: DemoC2cContext, change: DemoC2cChange): Promise<string[]> {
  const flag = JSON.stringify(change.pair);
  const output: string[] = [];
  const errors: string[] = [];
  const code = await runTranscriptCommand(
    [
      '--conversation',
      flag,
      '--archive',
      ctx.archive,
      '--time-zone',
      ctx.timeZone,
      '--out',
      `${ctx.archive}-transcripts/`,
    ],
    {
      clock: ctx.clock,
      stdout: (t) => output.push(t),
      stderr: (t) => errors.push(t),
      tty: false,
      store: ctx.store,
    },
  );
  const written = code === 0 ? output.join('').trim() : `failed (${terminalSafe(errors.join('').trim())})`;
  const [a, b] = change.pair;
  return [
    `One-to-one (docs/one-to-one.md): the conversation of ${a} and ${b} got ${change.added} new messages before run 2, one of them recalled.`,
    `Conversation transcript: ${written} (open it in a browser)`,
    '',
    ...(await lastMessages(ctx, change.pair)),
    'The whole conversation as a file, the pair in either order:',
    `  npm run export -- --conversation ${a},${b} --out conversation.csv`,
  ];
}

/** The conversation's last messages from the `c2c-conversation` export with names, as a table. */
async function lastMessages(ctx: DemoC2cContext, pair: readonly [string, string]): Promise<string[]> {
  const query = findNamedQuery(C2C_CONVERSATION_QUERY_NAME);
  if (query === undefined) return [];
  const runner = await openArchiveRunner({
    archive: ctx.archive,
    timeZone: ctx.timeZone,
    clock: ctx.clock,
    workGroup: DEFAULT_WORKGROUP,
    database: DEFAULT_DATABASE,
  });
  try {
    const result = await runNamedQuery(runner, query, parseParams(query, conversationParams(pair, {})), {
      names: true,
    });
    const rows = await collectRows(result);
    const at = (name: string) => result.columns.findIndex((c) => c.name === name);
    const shown = ['sent_at', 'from_name', 'text', 'is_recalled'].map(at).filter((i) => i >= 0);
    const clip = (cell: Cell): Cell => (cell !== null && cell.length > 60 ? `${cell.slice(0, 57)}...` : cell);
    return [
      `Its last ${EXCERPT} of ${rows.length} messages (npm run export -- --conversation), names as of message time:`,
      '',
      formatTable(
        shown.flatMap((i) => result.columns[i] ?? []),
        rows.slice(-EXCERPT).map((row) => shown.map((i) => clip(row[i] ?? null))),
      ),
      '',
    ];
  } finally {
    runner.close();
  }
}
