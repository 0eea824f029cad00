/**
 * The simulator's console (functions/cli/simulator-console.ts): each line parsed into a command,
 * and each command applied through the simulator's controls (a recording fake here; the real
 * simulator and its callbacks in test/integration/callback-new-user.test.ts).
 */
import { describe, expect, it } from 'vitest';
import { applyConsoleCommand, parseConsoleLine } from '../../functions/cli/simulator-console.ts';
import type { Simulator } from '../../functions/simulator/index.ts';

describe('simulator console', () => {
  it.each([
    ['groups', { kind: 'groups' }],
    ['  help ', { kind: 'help' }],
    ['', { kind: 'empty' }],
    ['send @TGS#1A', { kind: 'send', groupId: '@TGS#1A', count: 1 }],
    ['send  @TGS#1A   12', { kind: 'send', groupId: '@TGS#1A', count: 12 }],
    ['recall @TGS#1A 7', { kind: 'recall', groupId: '@TGS#1A', seq: 7, operator: undefined }],
    ['recall @TGS#1A 7 mod', { kind: 'recall', groupId: '@TGS#1A', seq: 7, operator: 'mod' }],
    ['dissolve @TGS#1A', { kind: 'dissolve', groupId: '@TGS#1A' }],
  ])('parses %j', (line, command) => {
    expect(parseConsoleLine(line)).toEqual(command);
  });

  it.each([
    'send @TGS#1A 0',
    'send @TGS#1A -3',
    'send @TGS#1A 2.5',
    'recall @TGS#1A',
    'recall @TGS#1A x',
    'dissolve',
    'dissolve a b',
    'groups now',
    'rm -rf /',
  ])('refuses %j with a reason', (line) => {
    expect(parseConsoleLine(line)).toMatchObject({ kind: 'invalid' });
  });

  it('applies each change through the controls and reports the seqs a send added', () => {
    // Prepare
    const calls: unknown[][] = [];
    const group = {
      groupId: '@TGS#1A',
      type: 'Public',
      nextMsgSeq: 41,
      lastMsgTime: 0,
      deleted: false,
      topicsEnabled: false,
      topics: [],
    };
    const sim = {
      groups: () => [{ ...group }],
      appendMessages: (...args: unknown[]) => calls.push(['append', ...args]),
      recallMessage: (...args: unknown[]) => calls.push(['recall', ...args]),
      deleteGroup: (...args: unknown[]) => {
        calls.push(['delete', ...args]);
        throw new Error('Unknown group @TGS#1A');
      },
    } as unknown as Simulator;

    // Act
    const answers = [
      'send @TGS#1A 3',
      'send @TGS#nope',
      'recall @TGS#1A 42 moderator',
      'recall @TGS#1A 43',
      'dissolve @TGS#1A',
    ].map((line) => applyConsoleCommand(sim, parseConsoleLine(line)));

    // Assess
    expect(answers).toEqual([
      'sent 3 messages to @TGS#1A: seq 41 to 43',
      'no group @TGS#nope (type groups)',
      'recalled seq 42 in @TGS#1A as moderator',
      'recalled seq 43 in @TGS#1A',
      'Unknown group @TGS#1A',
    ]);
    expect(calls).toEqual([
      ['append', '@TGS#1A', 3],
      ['recall', '@TGS#1A', 42, { operator: 'moderator' }],
      ['recall', '@TGS#1A', 43, {}],
      ['delete', '@TGS#1A'],
    ]);
  });
});
