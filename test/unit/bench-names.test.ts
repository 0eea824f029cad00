/**
 * The bench's sections have names that say what they measure (bench/sections.ts): unique,
 * kebab-case, the same in docs/benchmarks.md (its section table lists each one, in run order), and
 * `BENCH_ONLY` picks them by name.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { SECTIONS, selectSections, UnknownSectionError } from '../../bench/sections.ts';

const names = SECTIONS.map((s) => s.name);
const KEBAB = /^[a-z0-9]+(?:-[a-z0-9]+)*$/;

/** The first column of docs/benchmarks.md's section table, backticks removed. */
function documentedSections(markdown: string): string[] {
  const lines = markdown.split('\n');
  const header = lines.findIndex((l) => /^\|\s*section\s*\|/.test(l));
  if (header < 0) return [];
  const rows: string[] = [];
  for (const line of lines.slice(header + 2)) {
    if (!line.startsWith('|')) break;
    rows.push((line.split('|')[1] ?? '').trim().replace(/^`|`$/g, ''));
  }
  return rows;
}

describe('bench section names', () => {
  it('are unique and kebab-case', () => {
    expect(names.length).toBeGreaterThan(0);
    expect(new Set(names).size).toBe(names.length);
    for (const name of names) expect(name).toMatch(KEBAB);
  });

  it('are the rows of the section table in docs/benchmarks.md, and each is mentioned as `name`', () => {
    const markdown = readFileSync(
      fileURLToPath(new URL('../../docs/benchmarks.md', import.meta.url)),
      'utf8',
    );
    expect(documentedSections(markdown)).toEqual(names);
    for (const name of names) expect(markdown).toContain(`\`${name}\``);
  });

  it('the table reader finds no section in a page without the table', () => {
    expect(documentedSections('# Benchmarks\n\n| what | value |\n| --- | --- |\n| a | 1 |\n')).toEqual([]);
  });
});

describe('BENCH_ONLY', () => {
  it('runs every section, in order, when unset or empty', () => {
    expect(selectSections(undefined)).toEqual(names);
    expect(selectSections('')).toEqual(names);
  });

  it('picks a comma-separated list of names in the order given', () => {
    expect(selectSections('rescan-memory, client-alone')).toEqual(['rescan-memory', 'client-alone']);
  });

  it('refuses a name that is no section (a letter of the old names among them), naming the sections', () => {
    expect(() => selectSections('client-alone,B')).toThrow(UnknownSectionError);
    expect(() => selectSections('B')).toThrow(/"B".*client-alone, realistic-app/);
  });
});
