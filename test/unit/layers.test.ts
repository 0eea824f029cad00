/**
 * Acyclic layers (issue 20, deliverable 3). Imports point one way only; `A ← B` means B may import A:
 *
 *   domain ← engine ← adapters / query ← composition ← cli / lambda
 *
 * - `config` (the schema) imports only `domain`, never an adapter. Adapters, composition, cli, lambda
 *   and infra may import it; the engine and the query code take plain options instead.
 * - `query` imports only `domain`; an adapter may import from `query` only the runner port's types
 *   and its errors (test/unit/query-layout.test.ts).
 * - `composition` (functions/composition.ts, the composition root) builds the adapters; the entry
 *   points `cli` and `lambda` call it, so they sit above it. `cli` and `lambda` never import each other.
 * - `simulator` is a test and demo double of the Tencent server: it imports `domain` and `adapters`
 *   (it checks UserSigs with the client's own code), and only `cli` (the demo and simulator commands)
 *   imports it, besides tests and the bench.
 * - `infra` (the CDK app) imports `config`, `domain`, `query` (the tables, views and named queries
 *   it deploys to Glue and Athena) and from `lambda` only `contract.ts` and `lambda-config.ts` (the
 *   names, metrics and environment the stack must match). It never imports a handler, the engine or
 *   an adapter, which would pull the runtime into the CDK app.
 * - No import cycle among the files of `functions/` and `infra/`, type imports included.
 *
 * The table is `MAY_IMPORT` in test/helpers/import-rules.ts. Checked on the real import statements,
 * and the checker itself on synthetic edges that break each rule.
 */
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../helpers/cli.ts';
import {
  importCycles,
  importsOf,
  layerViolations,
  repoImports,
  repoSources,
} from '../helpers/import-rules.ts';

describe('layers', () => {
  it('holds for the repository: no import cycle, no upward arrow', async () => {
    const edges = await repoImports(REPO_ROOT);
    const files = new Set((await repoSources(REPO_ROOT, ['functions', 'infra'])).map((s) => s.file));
    // The scan really sees the edges it rules on, and resolves every local import to a real file.
    expect(files.size).toBeGreaterThan(120);
    expect(
      edges.some((e) => e.from === 'functions/config/schema.ts' && e.to.startsWith('functions/domain/')),
    ).toBe(true);
    expect(edges.some((e) => e.from.startsWith('infra/') && e.to === 'functions/lambda/contract.ts')).toBe(
      true,
    );
    const local = edges.filter((e) => e.to.startsWith('functions/') || e.to.startsWith('infra/'));
    expect(local.length).toBeGreaterThan(400);
    expect(local.filter((e) => !files.has(e.to)).map((e) => `${e.from} -> ${e.to}`)).toEqual([]);
    expect(importCycles(edges)).toEqual([]);
    expect(layerViolations(edges)).toEqual([]);
  });

  it('reports a cycle, type imports included, and a file importing itself', () => {
    const edges = [
      ...importsOf('functions/domain/a.ts', "import { b } from './b.ts';"),
      ...importsOf('functions/domain/b.ts', "import type { C } from './c.ts';"),
      ...importsOf('functions/domain/c.ts', "export type { A } from './a.ts';"),
      ...importsOf('functions/cli/x.ts', "import { x } from './x.ts';\nimport { z } from 'zod';"),
      ...importsOf('functions/cli/y.ts', "import { x } from './x.ts';"),
    ];
    expect(importCycles(edges)).toEqual([
      'import cycle: functions/cli/x.ts',
      'import cycle: functions/domain/a.ts <-> functions/domain/b.ts <-> functions/domain/c.ts',
    ]);
    expect(importCycles(edges.filter((e) => e.from !== 'functions/domain/c.ts'))).toEqual([
      'import cycle: functions/cli/x.ts',
    ]);
  });

  it('reports an upward arrow, a lambda handler in infra, a simulator in production code and an unknown folder', () => {
    const edges = [
      ...importsOf(
        'functions/config/schema.ts',
        "import { HOST_PATTERN } from '../adapters/media/host-policy.ts';",
      ),
      ...importsOf('functions/domain/x.ts', "import type { RunOptions } from '../engine/run-options.ts';"),
      ...importsOf('functions/engine/x.ts', "import type { Config } from '../config/schema.ts';"),
      ...importsOf('functions/composition.ts', "import { main } from './cli/main.ts';"),
      ...importsOf('functions/lambda/x.ts', "import { EXIT } from '../cli/exit-codes.ts';"),
      ...importsOf('infra/constructs/x.ts', "import { handler } from '../../functions/lambda/handler.ts';"),
      ...importsOf('functions/adapters/x.ts', "import { startSimulator } from '../simulator/index.ts';"),
      ...importsOf('functions/widgets/x.ts', "import { isString } from '../domain/json-guards.ts';"),
    ];
    const problems = layerViolations(edges);
    expect(problems).toHaveLength(8);
    expect(problems[0]).toMatch(
      /^functions\/config\/schema\.ts: .*upward arrow: config may import only domain/,
    );
    expect(problems[1]).toContain('domain may import only itself');
    expect(problems[2]).toContain('engine may import only domain');
    expect(problems[3]).toContain('functions/composition.ts');
    expect(problems[4]).toContain('lambda may import only');
    expect(problems[5]).toContain('infra may import from functions/lambda only');
    expect(problems[6]).toContain('adapters may import only');
    expect(problems[7]).toContain('functions/widgets/x.ts: ');
    expect(problems[7]).toContain('a file in no layer');
    // Allowed arrows are not reported: an adapter importing config, infra the lambda contract.
    expect(
      layerViolations([
        ...importsOf(
          'functions/adapters/secrets/x.ts',
          "import type { Config } from '../../config/schema.ts';",
        ),
        ...importsOf('infra/x.ts', "import { ENV } from '../functions/lambda/contract.ts';"),
        ...importsOf('functions/cli/demo.ts', "import { startSimulator } from '../simulator/index.ts';"),
      ]),
    ).toEqual([]);
  });
});
