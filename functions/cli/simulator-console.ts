/**
 * The console of `npm run simulator`: one command a line on stdin changes the simulated world, as
 * an app's users and admins would between two archive runs (new messages, a recall, a dissolved
 * group). With `--callbacks-to`, each change also sends its signed callback
 * (functions/simulator/callbacks.ts), so a new user can try what docs/callbacks.md describes
 * without writing code.
 */
import { createInterface } from 'node:readline';
import { terminalSafeLines } from '../adapters/logging/terminal-safe.ts';
import type { Simulator } from '../simulator/index.ts';

export const SIMULATOR_CONSOLE_HELP = [
  'Commands (one a line; each change sends its callback with --callbacks-to):',
  '  groups                            the groups: id, type, last seq, dissolved or not',
  '  send <group> [count]              count new messages (default 1) in a group',
  '  recall <group> <seq> [operator]   recall a message, as operator (default its sender)',
  '  dissolve <group>                  dissolve a group: the pull gets 10010 for it from now on',
  '  help                              this list',
].join('\n');

/** A parsed console line. */
export type ConsoleCommand =
  | { kind: 'groups' }
  | { kind: 'help' }
  | { kind: 'send'; groupId: string; count: number }
  | { kind: 'recall'; groupId: string; seq: number; operator: string | undefined }
  | { kind: 'dissolve'; groupId: string }
  | { kind: 'empty' }
  | { kind: 'invalid'; reason: string };

function positiveInteger(text: string | undefined): number | undefined {
  return text !== undefined && /^[1-9]\d{0,8}$/.test(text) ? Number(text) : undefined;
}

/** Parses one line (words split on blanks); never throws. */
export function parseConsoleLine(line: string): ConsoleCommand {
  const [word, ...args] = line
    .trim()
    .split(/\s+/)
    .filter((w) => w !== '');
  if (word === undefined) return { kind: 'empty' };
  if ((word === 'groups' || word === 'help') && args.length === 0) return { kind: word };
  const [groupId, second, third] = args;
  if (word === 'send' && groupId !== undefined && args.length <= 2) {
    const count = second === undefined ? 1 : positiveInteger(second);
    return count === undefined
      ? { kind: 'invalid', reason: `count must be a positive integer, got ${second}` }
      : { kind: 'send', groupId, count };
  }
  if (word === 'recall' && groupId !== undefined && args.length >= 2 && args.length <= 3) {
    const seq = positiveInteger(second);
    return seq === undefined
      ? { kind: 'invalid', reason: `seq must be a positive integer, got ${second}` }
      : { kind: 'recall', groupId, seq, operator: third };
  }
  if (word === 'dissolve' && groupId !== undefined && args.length === 1) return { kind: 'dissolve', groupId };
  return { kind: 'invalid', reason: `not a command: ${line.trim()} (type help)` };
}

function groupLines(sim: Simulator): string[] {
  return sim.groups().map((g) => {
    const notes = [
      g.deleted ? 'dissolved' : undefined,
      g.type === 'AVChatRoom' ? 'keeps no history: not archived' : undefined,
      g.topicsEnabled ? 'topics: not supported by this console' : undefined,
    ].filter((n) => n !== undefined);
    const last = g.nextMsgSeq - 1;
    return `  ${g.groupId}  ${g.type}  last seq ${last}${notes.length > 0 ? `  (${notes.join('; ')})` : ''}`;
  });
}

function send(sim: Simulator, groupId: string, count: number): string {
  const group = sim.groups().find((g) => g.groupId === groupId);
  if (group === undefined || group.deleted) return `no group ${groupId} (type groups)`;
  if (group.topicsEnabled) return `${groupId} is a topic community: this console sends to plain groups`;
  const first = group.nextMsgSeq;
  sim.appendMessages(groupId, count);
  const last = first + count - 1;
  return `sent ${count} message${count === 1 ? '' : 's'} to ${groupId}: seq ${first === last ? first : `${first} to ${last}`}`;
}

/** Applies one command to the simulator; returns what to print. A change the world refuses is reported, not thrown. */
export function applyConsoleCommand(sim: Simulator, command: ConsoleCommand): string {
  try {
    switch (command.kind) {
      case 'empty':
        return '';
      case 'invalid':
        return command.reason;
      case 'help':
        return SIMULATOR_CONSOLE_HELP;
      case 'groups':
        return groupLines(sim).join('\n');
      case 'send':
        return send(sim, command.groupId, command.count);
      case 'recall':
        sim.recallMessage(command.groupId, command.seq, {
          ...(command.operator === undefined ? {} : { operator: command.operator }),
        });
        return `recalled seq ${command.seq} in ${command.groupId}${command.operator === undefined ? '' : ` as ${command.operator}`}`;
      case 'dissolve':
        sim.deleteGroup(command.groupId);
        return `dissolved ${command.groupId}`;
    }
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  }
}

/**
 * Reads commands from `input` until it ends (the simulator keeps running: Ctrl-C stops it),
 * printing each answer to `write`. Returns a function that stops reading.
 */
export function startSimulatorConsole(
  sim: Simulator,
  input: NodeJS.ReadableStream,
  write: (text: string) => void,
): () => void {
  const lines = createInterface({ input, terminal: false });
  lines.on('line', (line) => {
    const answer = applyConsoleCommand(sim, parseConsoleLine(line));
    if (answer !== '') write(`${terminalSafeLines(answer)}\n`);
  });
  return () => lines.close();
}
