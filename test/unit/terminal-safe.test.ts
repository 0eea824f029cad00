/**
 * What the CLI prints to a terminal: group ids, error texts and log lines come from users and from
 * a server, so control characters (C0, DEL, C1), bidi controls and invisible characters are shown
 * as `\uXXXX`, never sent raw (a title change, a cleared screen, a forged line, reordered text).
 */
import { describe, expect, it } from 'vitest';
import { createConsoleLogger } from '../../functions/adapters/logging/console-logger.ts';
import {
  terminalSafe,
  terminalSafeData,
  terminalSafeJson,
  terminalSafeLines,
} from '../../functions/adapters/logging/terminal-safe.ts';
import { formatRunReports } from '../../functions/cli/archive-command.ts';
import { emptyC2cReport, noteSkipped } from '../../functions/engine/c2c-report.ts';
import { emptyReport } from '../../functions/engine/report.ts';

/** Set the title, clear the screen, forge a log line, and spoof with an override and a C1 CSI. */
const HOSTILE = '@TGS#\u001b]0;pwned\u0007\u001b[2J\nerror forged line\r\u009b31m\u202egnp.exe\u200b\u007f';

/** Any character a terminal would act on or hide. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is the point.
const RAW = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]/;

describe('terminalSafe', () => {
  it('shows C0, DEL, C1, bidi and invisible characters as \\uXXXX, and keeps the rest', () => {
    expect(terminalSafe(HOSTILE)).toBe(
      '@TGS#\\u001b]0;pwned\\u0007\\u001b[2J\\u000aerror forged line\\u000d\\u009b31m\\u202egnp.exe\\u200b\\u007f',
    );
    expect(terminalSafe('收到 👍 café\\x — é')).toBe('收到 👍 café\\x — é');
    expect(terminalSafe('\u061c\u200e\u200f\u2066x\u2069\u2028\ufeff')).toBe(
      '\\u061c\\u200e\\u200f\\u2066x\\u2069\\u2028\\ufeff',
    );
  });

  it('keeps line breaks only where asked (several lines of a message the CLI composed)', () => {
    expect(terminalSafeLines('Invalid config:\n  - run.x: \u001b[31mbad')).toBe(
      'Invalid config:\n  - run.x: \\u001b[31mbad',
    );
  });

  it('keeps JSON the same JSON', () => {
    const value = { id: HOSTILE, n: 1 };
    const json = terminalSafeJson(JSON.stringify(value));
    expect(json).not.toMatch(RAW);
    expect(JSON.parse(json)).toEqual(value);
  });

  it('makes every string of plain data safe, keys included, and leaves other values alone', () => {
    expect(terminalSafeData({ [HOSTILE]: [HOSTILE, 1, null, true], n: 2 })).toEqual({
      [terminalSafe(HOSTILE)]: [terminalSafe(HOSTILE), 1, null, true],
      n: 2,
    });
  });
});

describe('CLI printers', () => {
  it('print the run report with the group ids and errors of a hostile server escaped', () => {
    const report = emptyReport('run1', 1400000000, 0);
    report.groups.failed = 1;
    report.errors.push({ groupId: HOSTILE, topicId: `${HOSTILE}@TOPIC`, error: `refused: ${HOSTILE}` });
    report.seqResets.push({ groupId: HOSTILE, topicId: null, highWater: 9, newestSeq: 2, generation: 1 });
    report.fatalError = HOSTILE;
    const text = formatRunReports([report], '/tmp/archive\u001b[2J');
    expect(text).not.toMatch(RAW);
    expect(text).toContain(`error: ${terminalSafe(HOSTILE)} / ${terminalSafe(HOSTILE)}@TOPIC`);
    expect(text).toContain(`FATAL: ${terminalSafe(HOSTILE)}`);
    expect(text).toContain('archive: /tmp/archive\\u001b[2J\n');
    // The report's own line breaks stay: one line per item, none forged.
    expect(text.split('\n').filter((l) => l.startsWith('error forged'))).toEqual([]);
  });

  it('print a one-to-one pair with hostile account ids escaped (the c2c section of the report)', () => {
    const c2c = { ...emptyC2cReport(), done: true };
    noteSkipped(c2c, JSON.stringify([HOSTILE, 'bob']), `account gone: ${HOSTILE}`);
    const text = formatRunReports([{ ...emptyReport('run1', 1400000000, 0), c2c }], '/tmp/archive');
    expect(text).not.toMatch(RAW);
    expect(text).toContain(
      `one-to-one skipped: ${terminalSafe(JSON.stringify([HOSTILE, 'bob']))}: account gone:`,
    );
    expect(text.split('\n').filter((l) => l.startsWith('error forged'))).toEqual([]);
  });

  it('log one line per message, in text and in JSON', () => {
    for (const format of ['text', 'json'] as const) {
      const lines: string[] = [];
      const logger = createConsoleLogger({ format, write: (line) => lines.push(line) });
      logger.warn(`group ${HOSTILE} failed`, { groupId: HOSTILE });
      expect(lines).toHaveLength(1);
      expect(lines[0]).not.toMatch(RAW);
      expect(lines[0]).not.toContain('\n');
      if (format === 'json') expect(JSON.parse(lines[0] ?? '').groupId).toBe(HOSTILE);
    }
  });
});
