/**
 * Cited facts live in the repo (issue 20, deliverable 2): no comment in functions/, infra/ or test/
 * cites a document the repository does not contain. API facts are cited as a heading of
 * docs/tencent-api.md (e.g. "docs/tencent-api.md, Rate limits"); no section sign at all (a section
 * of a standard or of notes is a document the repo does not hold), and every `*.md` named must exist (from the repo root,
 * from docs/, or next to the file). Checked on the real files, and the checker on lines that break
 * each rule.
 */
import { existsSync } from 'node:fs';
import { join, posix } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../helpers/cli.ts';
import { repoSources } from '../helpers/import-rules.ts';

/** Each citation in `source` (the file at repo path `file`) that a reader cannot follow in the repo. */
function unfollowableCitations(
  file: string,
  source: string,
  exists: (repoPath: string) => boolean,
): string[] {
  const problems: string[] = [];
  source.split('\n').forEach((line, i) => {
    const where = `${file}:${i + 1}`;
    if (/\breference\s*\u00a7/i.test(line)) {
      problems.push(
        `${where}: cites "reference \u00a7…" (notes not in the repo): name a docs/tencent-api.md heading`,
      );
    } else {
      if (/\u00a7/.test(line)) {
        problems.push(
          `${where}: a section sign cites a document not in the repo: name a docs/ heading or drop it`,
        );
      }
    }
    for (const doc of line.matchAll(/[\w./-]*[\w-]\.md\b/g)) {
      const name = doc[0];
      if (name.startsWith('//') || line[(doc.index ?? 0) - 1] === ':') continue; // a URL
      const candidates = [name, posix.join('docs', name), posix.join(posix.dirname(file), name)];
      if (!candidates.some((c) => exists(posix.normalize(c)))) {
        problems.push(`${where}: cites ${name}, which the repository does not contain`);
      }
    }
  });
  return problems;
}

describe('doc citations', () => {
  it('holds for the repository: every cited document is in it', async () => {
    const sources = await repoSources(REPO_ROOT, ['functions', 'infra', 'test']);
    expect(sources.length).toBeGreaterThan(200);
    // The scan sees the citations it rules on.
    expect(sources.some((s) => s.source.includes('docs/tencent-api.md, Rate limits'))).toBe(true);
    const exists = (path: string) => existsSync(join(REPO_ROOT, path));
    expect(sources.flatMap((s) => unfollowableCitations(s.file, s.source, exists))).toEqual([]);
  });

  it('names each citation of a document the repo does not contain', () => {
    const SECTION = '\u00a7';
    const MD = '.md';
    const source = [
      `/** At most 200 calls a second (reference ${SECTION}3.3). */`,
      `// The s3rver internals the shim reaches into (toolchain${MD} ${SECTION}4).`,
      ` * Element shapes (${SECTION}5): see docs/no-such-page${MD}.`,
      `/** Counted as documented (docs/tencent-api${MD}, Rate limits). */`,
      `/** \`Retry-After\` as delay-seconds or an HTTP date (RFC 9110 ${SECTION}10.2.3). */`,
      `// See docs/architecture${MD}, README${MD}, and https://github.com/o/r/blob/main/NOTES${MD}.`,
    ].join('\n');
    const exists = (path: string) =>
      ['docs/tencent-api.md', 'docs/architecture.md', 'README.md'].includes(path);
    const problems = unfollowableCitations('functions/domain/x.ts', source, exists);
    expect(problems).toEqual([
      expect.stringMatching(/^functions\/domain\/x\.ts:1: cites "reference/),
      expect.stringMatching(/^functions\/domain\/x\.ts:2: a section sign/),
      expect.stringMatching(/^functions\/domain\/x\.ts:2: cites toolchain\.md/),
      expect.stringMatching(/^functions\/domain\/x\.ts:3: a section sign/),
      expect.stringMatching(/^functions\/domain\/x\.ts:3: cites docs\/no-such-page\.md/),
      expect.stringMatching(/^functions\/domain\/x\.ts:5: a section sign/),
    ]);
  });
});
