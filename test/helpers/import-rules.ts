/**
 * The layering rules, checked on the import statements of the source files: the query code's
 * rules (`layoutViolations`), the direction between layers (`layerViolations`, the table
 * `MAY_IMPORT`; the rule in words is in test/unit/layers.test.ts and docs/architecture.md), and
 * import cycles (`importCycles`, type imports included). Written by hand because the rules are a
 * few lines and the project's linter (Biome) has no path-pattern rule for "only type imports of
 * this one module" (its noRestrictedImports matches module names, not resolved paths, and cannot
 * allow `import type` only).
 */
import { readdir, readFile } from 'node:fs/promises';
import { join, posix, relative } from 'node:path';

/** One import of one file: the resolved repo path (or the bare module name) and whether it is type-only. */
export interface ImportEdge {
  readonly from: string;
  readonly to: string;
  readonly typeOnly: boolean;
  readonly statement: string;
}

/**
 * Every static `import … from`, side-effect `import '…'`, `export … from` and dynamic `import('…')`
 * of `source`, with relative specifiers resolved against `file` (repo-relative, `/`-separated).
 */
export function importsOf(file: string, source: string): ImportEdge[] {
  const edges: ImportEdge[] = [];
  const withoutComments = source.replace(/\/\*[\s\S]*?\*\//g, '').replace(/^\s*\/\/.*$/gm, '');
  const patterns = [
    /\b(import|export)\s+(type\s+)?([^'";]*?)\s*from\s*['"]([^'"]+)['"]/g,
    /\bimport\s*['"]([^'"]+)['"]/g,
    /\bimport\s*\(\s*['"]([^'"]+)['"]\s*\)/g,
  ];
  for (const match of withoutComments.matchAll(patterns[0] as RegExp)) {
    const [statement, , typeKeyword, clause = '', specifier = ''] = match;
    edges.push({
      from: file,
      to: resolve(file, specifier),
      typeOnly: typeKeyword !== undefined || allTypes(clause),
      statement,
    });
  }
  for (const pattern of patterns.slice(1)) {
    for (const match of withoutComments.matchAll(pattern)) {
      edges.push({ from: file, to: resolve(file, match[1] ?? ''), typeOnly: false, statement: match[0] });
    }
  }
  return edges;
}

/** `{ type A, type B }`: every named specifier is a type. */
function allTypes(clause: string): boolean {
  const named = /^\{([\s\S]*)\}$/.exec(clause.trim());
  if (named === null) return false;
  const parts = (named[1] ?? '')
    .split(',')
    .map((p) => p.trim())
    .filter((p) => p.length > 0);
  return parts.length > 0 && parts.every((p) => p.startsWith('type '));
}

function resolve(file: string, specifier: string): string {
  if (!specifier.startsWith('.')) return specifier;
  return posix.normalize(posix.join(posix.dirname(file), specifier));
}

/** The rules; each violation is one readable line. */
export function layoutViolations(edges: readonly ImportEdge[]): string[] {
  const problems: string[] = [];
  for (const edge of edges) {
    const where = `${edge.from}: ${edge.statement.replace(/\s+/g, ' ')}`;
    if (edge.from.startsWith('functions/adapters/') && edge.to.startsWith('functions/query/')) {
      if (edge.to === 'functions/query/errors.ts') {
        // The errors a runner throws for a refused statement are part of the port's contract.
      } else if (edge.to !== 'functions/query/port.ts') {
        problems.push(
          `${where} (an adapter may import only the query-runner port, functions/query/port.ts, and its errors)`,
        );
      } else if (!edge.typeOnly) {
        problems.push(`${where} (an adapter may import only types from the port: use import type)`);
      }
    }
    if (edge.from.startsWith('functions/query/')) {
      for (const layer of [
        'functions/cli/',
        'functions/engine/',
        'functions/adapters/',
        'functions/lambda/',
      ]) {
        if (edge.to.startsWith(layer)) {
          problems.push(`${where} (functions/query/ must not import ${layer}: pass what it needs in)`);
        }
      }
      if (edge.to === 'functions/composition.ts') {
        problems.push(`${where} (functions/query/ must not import the composition root)`);
      }
    }
  }
  return problems;
}

/** The layers: a top-level folder of `functions/` (or `functions/composition.ts`), or `infra`. */
export type Layer =
  | 'domain'
  | 'config'
  | 'engine'
  | 'query'
  | 'adapters'
  | 'simulator'
  | 'composition'
  | 'cli'
  | 'lambda'
  | 'infra';

/** Which layers each layer may import (its own always: only cycles are wrong there). */
export const MAY_IMPORT: Readonly<Record<Layer, readonly Layer[]>> = {
  domain: [],
  config: ['domain'],
  engine: ['domain'],
  query: ['domain'],
  adapters: ['domain', 'config', 'engine', 'query'],
  simulator: ['domain', 'adapters'],
  composition: ['domain', 'config', 'engine', 'query', 'adapters'],
  cli: ['domain', 'config', 'engine', 'query', 'adapters', 'composition', 'simulator'],
  lambda: ['domain', 'config', 'engine', 'query', 'adapters', 'composition'],
  infra: ['domain', 'config', 'query', 'lambda'],
};

/** The only modules of `functions/lambda/` the CDK app may import: the contract and the env reader. */
export const INFRA_LAMBDA_MODULES = ['functions/lambda/contract.ts', 'functions/lambda/lambda-config.ts'];

/** The layer of a repo path, `undefined` for a path outside `functions/` and `infra/` (or a package). */
export function layerOf(file: string): Layer | 'unknown' | undefined {
  if (file.startsWith('infra/')) return 'infra';
  if (file === 'functions/composition.ts') return 'composition';
  const folder = /^functions\/([^/]+)\//.exec(file)?.[1];
  if (folder === undefined) return file.startsWith('functions/') ? 'unknown' : undefined;
  return folder in MAY_IMPORT ? (folder as Layer) : 'unknown';
}

/** Imports against the direction of the layers; each violation is one readable line. */
export function layerViolations(edges: readonly ImportEdge[]): string[] {
  const problems: string[] = [];
  for (const edge of edges) {
    const from = layerOf(edge.from);
    const to = layerOf(edge.to);
    if (from === undefined || to === undefined) continue;
    const where = `${edge.from}: ${edge.statement.replace(/\s+/g, ' ')}`;
    if (from === 'unknown' || to === 'unknown') {
      problems.push(
        `${where} (a file in no layer: add its folder to MAY_IMPORT in test/helpers/import-rules.ts)`,
      );
    } else if (from !== to && !MAY_IMPORT[from].includes(to)) {
      problems.push(
        `${where} (upward arrow: ${from} may import only ${MAY_IMPORT[from].join(', ') || 'itself'})`,
      );
    } else if (from === 'infra' && to === 'lambda' && !INFRA_LAMBDA_MODULES.includes(edge.to)) {
      problems.push(
        `${where} (infra may import from functions/lambda only ${INFRA_LAMBDA_MODULES.join(', ')})`,
      );
    }
  }
  return problems;
}

/** Every import cycle among the repo's own files (type imports included), one line per cycle. */
export function importCycles(edges: readonly ImportEdge[]): string[] {
  const next = new Map<string, string[]>();
  for (const edge of edges) {
    if (layerOf(edge.to) === undefined) continue;
    next.set(edge.from, [...(next.get(edge.from) ?? []), edge.to]);
  }
  // Tarjan's strongly connected components: a component of two or more files, or a file importing
  // itself, is a cycle.
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const cycles: string[] = [];
  const visit = (file: string): void => {
    index.set(file, index.size);
    low.set(file, index.get(file) as number);
    stack.push(file);
    for (const to of next.get(file) ?? []) {
      if (!index.has(to)) {
        visit(to);
        low.set(file, Math.min(low.get(file) as number, low.get(to) as number));
      } else if (stack.includes(to)) {
        low.set(file, Math.min(low.get(file) as number, index.get(to) as number));
      }
    }
    if (low.get(file) !== index.get(file)) return;
    const component = stack.splice(stack.indexOf(file));
    if (component.length > 1 || (next.get(file) ?? []).includes(file)) {
      cycles.push(`import cycle: ${component.sort().join(' <-> ')}`);
    }
  };
  for (const file of next.keys()) if (!index.has(file)) visit(file);
  return cycles.sort();
}

/** Every `.ts` file under `root/<dir>` for each dir, with its text (repo-relative, `/`-separated). */
export async function repoSources(
  root: string,
  dirs: readonly string[],
): Promise<{ file: string; source: string }[]> {
  const sources: { file: string; source: string }[] = [];
  async function walk(dir: string): Promise<void> {
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) await walk(path);
      else if (entry.name.endsWith('.ts')) {
        sources.push({
          file: relative(root, path).split(/[\\/]/).join('/'),
          source: await readFile(path, 'utf8'),
        });
      }
    }
  }
  for (const dir of dirs) await walk(join(root, dir));
  return sources;
}

/** Every import edge of every `.ts` file under `root/functions` and `root/infra`. */
export async function repoImports(root: string): Promise<ImportEdge[]> {
  const sources = await repoSources(root, ['functions', 'infra']);
  return sources.flatMap(({ file, source }) => importsOf(file, source));
}
