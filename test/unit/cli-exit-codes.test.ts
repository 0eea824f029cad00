import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { describe, expect, it } from 'vitest';
import { ERROR_EXIT_CODES, EXIT, exitCodeFor } from '../../functions/cli/exit-codes.ts';
import { ConfigError, GiveUpError } from '../../functions/domain/errors.ts';
import { LeaseHeldError, LeaseLostError, RunFailedError } from '../../functions/engine/errors.ts';
import { emptyReport } from '../../functions/engine/report.ts';
import { QueryUsageError } from '../../functions/query/errors.ts';

/** The codes of the table under `## Exit codes` in docs/cli.md, in the order written. */
function documentedCodes(markdown: string): number[] {
  const section = markdown.split(/^## Exit codes$/m)[1]?.split(/^## /m)[0] ?? '';
  return [...section.matchAll(/^\| *(\d+) *\|/gm)].map((m) => Number(m[1]));
}

describe('exit codes', () => {
  it('docs/cli.md lists exactly the codes of EXIT, each once', () => {
    const documented = documentedCodes(readFileSync('docs/cli.md', 'utf8'));
    expect(new Set(documented).size).toBe(documented.length);
    expect([...documented].sort((a, b) => a - b)).toEqual(Object.values(EXIT).sort((a, b) => a - b));
  });

  it('reads the table under its heading only (a synthetic page)', () => {
    const page =
      '## Other\n\n| 9 | not an exit code |\n\n## Exit codes\n\n| code | meaning |\n| --- | --- |\n| 0 | ok |\n| 78 | config |\n\n## Next\n\n| 5 | no |\n';
    expect(documentedCodes(page)).toEqual([0, 78]);
  });

  it('maps every error the table names to its code, and anything else to 1', () => {
    const report = emptyReport('run', 1400000001, 0);
    const parseError = (() => {
      try {
        parseArgs({ args: ['--nope'], options: {}, strict: true });
      } catch (error) {
        return error;
      }
      return undefined;
    })();
    const cases: [unknown, number][] = [
      [new ConfigError('bad'), 78],
      [new LeaseHeldError('other', 0), 75],
      [new LeaseLostError('lost'), 75],
      [
        new RunFailedError('x', report, { cause: new GiveUpError('fatal-config', 'key', { attempts: 1 }) }),
        78,
      ],
      [new RunFailedError('x', report, { cause: new GiveUpError('fatal', 'bug', { attempts: 1 }) }), 1],
      [new RunFailedError('x', report, { cause: new Error('disk') }), 1],
      [new QueryUsageError('--params'), 2],
      [parseError, 2],
      [new Error('anything'), 1],
      ['a string', 1],
      [null, 1],
    ];
    expect(cases.map(([error]) => exitCodeFor(error))).toEqual(cases.map(([, code]) => code));
  });

  it('maps errors only to documented codes', () => {
    const documented = new Set(documentedCodes(readFileSync('docs/cli.md', 'utf8')));
    for (const row of ERROR_EXIT_CODES) expect(documented.has(row.code), row.errors).toBe(true);
  });
});
