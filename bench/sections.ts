/**
 * The bench's sections: the name each is printed under and picked by (`BENCH_ONLY`), in the order
 * `npm run bench` runs them, and what each measures (docs/benchmarks.md uses the same names).
 */
export const SECTIONS = [
  {
    name: 'client-alone',
    measures: 'the client alone: sustained calls/s at the configured limit, over-limit answers',
  },
  {
    name: 'realistic-app',
    measures: '`npm run archive`, realistic app: 2,000 groups, 10% active, ~200k messages',
  },
  { name: 'one-million-messages', measures: '`npm run archive`, one group with 1,000,000 messages' },
  {
    name: 'naive-sequential-pager',
    measures: "a naive sequential pager (one request at a time) on realistic-app's data, time-boxed",
  },
  { name: 'objects-vs-groups', measures: 'objects written vs number of groups for the same data volume' },
  {
    name: 'rescan-run',
    measures:
      'rescan: one group, 600,000 messages over 3 days, 1% changed between two runs (calls, time, RSS)',
  },
  {
    name: 'rescan-memory',
    measures: 'rescan memory: one day of 1,000,000 fingerprints loaded and merged in process',
  },
  {
    name: 'media-copy',
    measures:
      'media: `npm run archive` with one 100 MB file, then the copier alone on one 100 MB file and many small files',
  },
  {
    name: 'many-groups',
    measures:
      'one app with many groups (`BENCH_GROUPS`, default 200,000), 0.2% active: planning, state bytes, RSS',
  },
  {
    name: 'busy-app',
    measures:
      '`npm run archive`, busy app: 2,000 groups, 86% active, topics, ~180k messages over 6 days; traced',
  },
  {
    name: 'busy-50k',
    measures: '`npm run archive`, 50,000 groups at 20 ± 10 ms: a first run, then one with many new messages',
  },
  {
    name: 'identities',
    measures:
      'names (issue 24): identity calls and their share of calls and wall time, realistic app and 1,000,000 groups 5% active (`BENCH_ID_GROUPS`); changed rows on a rerun without changes',
  },
  {
    name: 'receiver',
    measures:
      'callbacks (issue 25): `npm run receiver` under signed load from another process for 60 s: events/s, ack p50/p99, forward mode, peak RSS, lost events',
  },
  {
    name: 'c2c',
    measures:
      'one-to-one (issue 26): `npm run archive`, 2,000 pairs (1 in 50 with thousands of messages), ~150k messages: calls vs minimum, wall vs rate floor, RSS',
  },
] as const;

export type SectionName = (typeof SECTIONS)[number]['name'];

/** A `BENCH_ONLY` value that names no section. */
export class UnknownSectionError extends Error {
  public constructor(public readonly names: readonly string[]) {
    super(
      `BENCH_ONLY names no section ${names.map((n) => `"${n}"`).join(', ')}; the sections are ${SECTIONS.map((s) => s.name).join(', ')}`,
    );
    this.name = 'UnknownSectionError';
  }
}

/**
 * The sections `BENCH_ONLY` picks: a comma-separated list of names (spaces around them ignored),
 * run in the order given; unset or empty runs every section.
 */
export function selectSections(only: string | undefined): SectionName[] {
  const names = (only ?? '')
    .split(',')
    .map((n) => n.trim())
    .filter((n) => n !== '');
  if (names.length === 0) return SECTIONS.map((s) => s.name);
  const unknown = names.filter((n) => !isSectionName(n));
  if (unknown.length > 0) throw new UnknownSectionError(unknown);
  return names as SectionName[];
}

function isSectionName(name: string): name is SectionName {
  return SECTIONS.some((s) => s.name === name);
}
