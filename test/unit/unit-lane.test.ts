/**
 * The fast lane (`npm run test:unit`, CONTRIBUTING.md) stays fast and self-contained: no unit test
 * reaches, directly or through what it imports, the CDK (a synth alone takes seconds), s3rver, or
 * the helper that starts real archive processes. Such a test belongs in test/infra or test/integration.
 */
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { type ImportEdge, importsOf, repoSources } from '../helpers/import-rules.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** What a unit test may not load: the reason for each. */
const FORBIDDEN: readonly [RegExp, string][] = [
  [/^aws-cdk-lib(\/|$)/, 'the CDK (test/infra)'],
  [/^infra\//, 'the CDK app (test/infra)'],
  [/^test\/infra\//, 'the template helpers (test/infra)'],
  [/^test\/helpers\/s3rver\.ts$/, 's3rver (test/integration)'],
  [/^test\/helpers\/process-archive\.ts$/, 'real archive processes (test/integration)'],
];

/** Every module a file reaches through its imports (type-only imports load nothing). */
function reached(start: string, edges: ReadonlyMap<string, readonly ImportEdge[]>): Set<string> {
  const seen = new Set<string>();
  const queue = [start];
  for (let file = queue.shift(); file !== undefined; file = queue.shift()) {
    for (const edge of edges.get(file) ?? []) {
      if (edge.typeOnly || seen.has(edge.to)) continue;
      seen.add(edge.to);
      queue.push(edge.to);
    }
  }
  return seen;
}

/** `file` reaches a forbidden module: one line per finding. */
function laneViolations(
  files: readonly string[],
  edges: ReadonlyMap<string, readonly ImportEdge[]>,
): string[] {
  const found: string[] = [];
  for (const file of files) {
    for (const module of reached(file, edges)) {
      const rule = FORBIDDEN.find(([pattern]) => pattern.test(module));
      if (rule) found.push(`${file} reaches ${module}: ${rule[1]}`);
    }
  }
  return found.sort();
}

describe('the unit lane', () => {
  it('loads no CDK, s3rver or process helper, directly or transitively', async () => {
    const sources = await repoSources(ROOT, ['functions', 'test/unit', 'test/helpers']);
    const edges = new Map(sources.map(({ file, source }) => [file, importsOf(file, source)]));
    const units = sources
      .map((s) => s.file)
      .filter((f) => f.startsWith('test/unit/') && f.endsWith('.test.ts'));
    expect(units.length).toBeGreaterThan(50);
    expect(laneViolations(units, edges)).toEqual([]);
  });

  it('finds a unit test that reaches the CDK through a helper', () => {
    const edge = (from: string, to: string): ImportEdge => ({ from, to, typeOnly: false, statement: '' });
    const edges = new Map([
      ['test/unit/x.test.ts', [edge('test/unit/x.test.ts', 'test/helpers/h.ts')]],
      ['test/helpers/h.ts', [edge('test/helpers/h.ts', 'aws-cdk-lib')]],
    ]);
    expect(laneViolations(['test/unit/x.test.ts'], edges)).toEqual([
      'test/unit/x.test.ts reaches aws-cdk-lib: the CDK (test/infra)',
    ]);
  });
});
