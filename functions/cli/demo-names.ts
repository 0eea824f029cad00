/**
 * The demo's names (issue 24, docs/names.md): a member of a group takes a new name card and the
 * group a new name before run 2, which records both; then the member writes again and run 3
 * archives it. The transcript of that group then shows the old name on the messages before run 2
 * and the new one after, and the demo prints both from the archive's identity rows.
 */
import { terminalSafe } from '../adapters/logging/terminal-safe.ts';
import { identityTimeline } from '../domain/identity-timeline.ts';
import { dateInZone } from '../domain/partition.ts';
import type { Clock } from '../domain/ports.ts';
import type { ObjectStore } from '../domain/storage.ts';
import type { RawMessage } from '../domain/tencent-types.ts';
import { formatTable } from '../query/export-format.ts';
import { findNamedQuery, parseParams, runNamedQuery } from '../query/named-queries.ts';
import { collectRows } from '../query/result.ts';
import { DEFAULT_DATABASE, DEFAULT_WORKGROUP } from '../query/tables.ts';
import { loadIdentities } from '../query/transcript/load-identities.ts';
import type { Simulator } from '../simulator/index.ts';
import { runExportCommand } from './export-command.ts';
import { openArchiveRunner } from './query-runners.ts';
import { runTranscriptCommand } from './transcript-command.ts';

/** Who the demo renamed, and the names before and after. */
export interface DemoRename {
  readonly sdkAppId: number;
  readonly groupId: string;
  readonly account: string;
  readonly before: string;
  readonly after: string;
  readonly groupBefore: string;
  readonly groupAfter: string;
}

/** A name that reads plainly in a terminal (the simulator also makes hostile ones). */
const PLAIN = /^[\p{L}\p{N} .'-]{1,40}$/u;

function newest(sim: Simulator, groupId: string): RawMessage | undefined {
  for (const message of sim.groundTruth(groupId)) return message;
  return undefined;
}

/**
 * Gives the latest sender of `groupId` shown by a plain name (not the account) a new name card
 * (`<name> (renamed)`), and the group a new name; undefined when no sender has one.
 */
export function renameASender(sim: Simulator, sdkAppId: number, groupId: string): DemoRename | undefined {
  const members = new Map(sim.identities.members(groupId).map((m) => [m.account, m]));
  const shown = (account: string) => {
    const card = members.get(account)?.nameCard ?? '';
    return card !== '' ? card : sim.identities.nick(account) || account;
  };
  for (const message of sim.groundTruth(groupId)) {
    const account = message.From_Account;
    if (typeof account !== 'string' || !members.has(account)) continue;
    if (shown(account) === account || !PLAIN.test(shown(account))) continue;
    const before = shown(account);
    const after = `${before} (renamed)`;
    sim.identities.setNameCard(groupId, account, after);
    const groupBefore = sim.identities.groupName(groupId);
    const groupAfter = `${groupBefore} (renamed)`;
    sim.identities.renameGroup(groupId, groupAfter);
    return { sdkAppId, groupId, account, before, after, groupBefore, groupAfter };
  }
  return undefined;
}

/** Appends messages to the group one at a time until `account` has written one (at most `max`). */
export function appendUntilSentBy(sim: Simulator, groupId: string, account: string, max = 300): number {
  for (let n = 1; n <= max; n++) {
    sim.appendMessages(groupId, 1);
    if (newest(sim, groupId)?.From_Account === account) return n;
  }
  return max;
}

/** What the demo needs to write and read the transcript. */
export interface DemoNamesContext {
  readonly sim: Simulator;
  readonly store: ObjectStore;
  readonly archive: string;
  readonly timeZone: string;
  readonly clock: Clock;
}

/**
 * Writes the renamed group's transcript into `<archive>-transcripts/` (named after the group) and
 * returns the lines to print: the renamed member's name on their first and last message, as the
 * archive's identity rows give it (docs/names.md), and where the transcript is.
 */
export async function showNames(ctx: DemoNamesContext, rename: DemoRename): Promise<string[]> {
  const mine = [...ctx.sim.groundTruth(rename.groupId)].filter((m) => m.From_Account === rename.account);
  const times = [...ctx.sim.groundTruth(rename.groupId)].map((m) => Number(m.MsgTimeStamp));
  const rows = await loadIdentities(ctx.store, {
    sdkAppIds: [rename.sdkAppId],
    groupId: rename.groupId,
    accounts: new Set([rename.account]),
  });
  const timeline = identityTimeline(rename.groupId, rows);
  const lines = [
    `Names as of message time (docs/names.md): before run 2, ${rename.account}'s name card in ${rename.groupId} was changed and the group renamed; run 2 recorded it.`,
  ];
  for (const message of [mine.at(-1), mine[0]]) {
    if (message === undefined) continue;
    const t = Number(message.MsgTimeStamp);
    const from = timeline.senderAt(rename.account, t);
    const group = timeline.groupAt(t)?.name ?? rename.groupId;
    lines.push(
      `  #${message.MsgSeq} at ${new Date(t * 1000).toISOString()}: "${from.name}" (${from.source}, ${from.role ?? 'no role'}) in "${group}"`,
    );
  }
  const range = {
    from: dateInZone(Math.min(...times), ctx.timeZone),
    to: dateInZone(Math.max(...times), ctx.timeZone),
  };
  const common = [
    '--params',
    `group_id=${rename.groupId}`,
    `from=${range.from}`,
    `to=${range.to}`,
    '--archive',
    ctx.archive,
    '--time-zone',
    ctx.timeZone,
  ];
  const transcript = await runQuietly(ctx, (deps) =>
    runTranscriptCommand([...common, '--out', `${ctx.archive}-transcripts/`], { ...deps, store: ctx.store }),
  );
  lines.push(`Transcript: ${transcript} (open it in a browser)`, '');
  lines.push(...(await exportRows(ctx, rename, range)));
  const csv = `${ctx.archive}-transcripts/conversation.csv`;
  const exported = await runQuietly(ctx, (deps) =>
    runExportCommand(['conversation', ...common, '--out', csv], deps),
  );
  lines.push(`The whole conversation with names: ${exported}`);
  return lines;
}

/** What a command prints, and the deps it prints through. */
interface QuietDeps {
  readonly clock: Clock;
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
  readonly tty: false;
}

/** Runs a command with its output kept: what it printed, or why it failed. */
async function runQuietly(
  ctx: DemoNamesContext,
  command: (deps: QuietDeps) => Promise<number>,
): Promise<string> {
  const output: string[] = [];
  const errors: string[] = [];
  const code = await command({
    clock: ctx.clock,
    stdout: (t) => output.push(t),
    stderr: (t) => errors.push(t),
    tty: false,
  });
  return code === 0 ? output.join('').trim() : `failed (${terminalSafe(errors.join('').trim())})`;
}

/**
 * The renamed member's first and last rows of the `conversation` export with names (DuckDB over
 * the archive), as a table: `from_name`, `from_role` and `group_name` as valid at each message.
 */
async function exportRows(
  ctx: DemoNamesContext,
  rename: DemoRename,
  range: { from: string; to: string },
): Promise<string[]> {
  const query = findNamedQuery('conversation');
  if (query === undefined) return [];
  const runner = await openArchiveRunner({
    archive: ctx.archive,
    timeZone: ctx.timeZone,
    clock: ctx.clock,
    workGroup: DEFAULT_WORKGROUP,
    database: DEFAULT_DATABASE,
  });
  try {
    const params = parseParams(query, { group_id: rename.groupId, ...range });
    const result = await runNamedQuery(runner, query, params, { names: true });
    const rows = await collectRows(result);
    const at = (name: string) => result.columns.findIndex((c) => c.name === name);
    const shown = ['sent_at', 'sender', 'from_name', 'from_role', 'group_name'].map(at).filter((i) => i >= 0);
    const mine = rows.filter((row) => row[at('sender')] === rename.account);
    const picked = [mine[0], mine.at(-1)].filter((row) => row !== undefined);
    return [
      `The export "conversation" with names (npm run export; --no-names leaves them out), ${rename.account}'s first and last rows:`,
      '',
      formatTable(
        shown.flatMap((i) => result.columns[i] ?? []),
        picked.map((row) => shown.map((i) => row[i] ?? null)),
      ),
      '',
    ];
  } finally {
    runner.close();
  }
}
