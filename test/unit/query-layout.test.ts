/**
 * The query code's layout (issue 13, deliverable 5): the query layer defines the query-runner port;
 * the DuckDB and Athena runners are adapters that import nothing from functions/query/ but the
 * port's types and the query errors (errors.ts, which the DuckDB runner throws for a refused
 * statement); functions/query/ imports nothing from the CLI, the engine or the adapters. Checked
 * on the real import statements, and the checker itself on files that break each rule.
 */
import { describe, expect, it } from 'vitest';
import { emptyReport } from '../../functions/engine/report.ts';
import type { StoredRunReport } from '../../functions/engine/report-format.ts';
import { RUN_REPORT_COLUMNS, type RunReportKey } from '../../functions/query/tables.ts';
import { REPO_ROOT } from '../helpers/cli.ts';
import { importsOf, layoutViolations, repoImports } from '../helpers/import-rules.ts';

describe('query code layout', () => {
  it('holds for the repository: adapters use only the port types, query imports no cli/engine/adapter', async () => {
    const edges = await repoImports(REPO_ROOT);
    // The scan really sees the edges it rules on (a broken scanner would find nothing to reject).
    expect(
      edges.some(
        (e) => e.from === 'functions/adapters/duckdb/duckdb-runner.ts' && e.to === 'functions/query/port.ts',
      ),
    ).toBe(true);
    expect(
      edges.some(
        (e) => e.from === 'functions/adapters/aws/athena-runner.ts' && e.to === 'functions/query/port.ts',
      ),
    ).toBe(true);
    expect(edges.filter((e) => e.from.startsWith('functions/query/')).length).toBeGreaterThan(10);
    expect(layoutViolations(edges)).toEqual([]);
  });

  it('names an adapter that imports a query module other than the port, or the port for its values', () => {
    const edges = [
      ...importsOf(
        'functions/adapters/duckdb/x.ts',
        "import { VIEWS } from '../../query/views.ts';\nimport type { QueryRunner } from '../../query/port.ts';",
      ),
      ...importsOf('functions/adapters/aws/y.ts', "import { type Cell, helper } from '../../query/port.ts';"),
      ...importsOf('functions/adapters/aws/z.ts', "const m = await import('../../query/tables.ts');"),
    ];
    const problems = layoutViolations(edges);
    expect(problems).toHaveLength(3);
    expect(problems[0]).toContain('functions/adapters/duckdb/x.ts');
    expect(problems[0]).toContain('only the query-runner port');
    expect(problems[1]).toContain('only types from the port');
    expect(problems[2]).toContain('functions/adapters/aws/z.ts');
  });

  it('names a query module that imports the CLI, the engine, an adapter or the composition root', () => {
    const source = [
      "import { loadConfigFile } from '../cli/load-config.ts';",
      "import type { RunReport } from '../engine/report.ts';",
      "export { DuckDbRunner } from '../adapters/duckdb/duckdb-runner.ts';",
      "import { openStore } from '../composition.ts';",
      "import { sqlString } from './views.ts';",
      "// import { x } from '../engine/commented-out.ts';",
    ].join('\n');
    const problems = layoutViolations(importsOf('functions/query/bad.ts', source));
    expect(problems).toHaveLength(4);
    expect(problems.join('\n')).toMatch(
      /functions\/cli\/[\s\S]*functions\/engine\/[\s\S]*functions\/adapters\/[\s\S]*composition root/,
    );
  });

  it('lists exactly the stored run report keys as runs-table columns (compile time and run time)', () => {
    // Both directions at compile time: a key missing on either side fails `npm run typecheck`.
    const spec: RunReportKey[] = [] as (keyof Required<StoredRunReport>)[];
    const report: (keyof Required<StoredRunReport>)[] = [] as RunReportKey[];
    expect([spec, report]).toEqual([[], []]);
    // The optional keys an empty report does not have: a fatal error, and the passes' sections.
    const keys = new Set<string>([
      ...Object.keys(emptyReport('r', 1, 0)),
      'fatalError',
      'identities',
      'c2c',
      'callbacks',
      'historyFiles',
    ]);
    expect(new Set(RUN_REPORT_COLUMNS.map((c) => c.key))).toEqual(keys);
  });
});
