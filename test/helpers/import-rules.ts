/**
 * The layering rules of the query code, checked on the import statements of the source files.
 * Written by hand because the rules are three lines and the project's linter (Biome) has no
 * path-pattern rule for "only type imports of this one module" (its noRestrictedImports matches
 * module names, not resolved paths, and cannot allow `import type` only).
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
      if (edge.to !== 'functions/query/port.ts') {
        problems.push(`${where} (an adapter may import only the query-runner port, functions/query/port.ts)`);
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

/** Every import edge of every `.ts` file under `root/functions`. */
export async function repoImports(root: string): Promise<ImportEdge[]> {
  const edges: ImportEdge[] = [];
  async function walk(dir: string): Promise<void> {
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) await walk(path);
      else if (entry.name.endsWith('.ts')) {
        const file = relative(root, path).split(/[\\/]/).join('/');
        edges.push(...importsOf(file, await readFile(path, 'utf8')));
      }
    }
  }
  await walk(join(root, 'functions'));
  return edges;
}
