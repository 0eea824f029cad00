/**
 * Named queries: every declared parameter is used and every placeholder declared (in both
 * dialects), parameters are validated with errors that name them, and values only ever reach the
 * SQL as safely quoted literals or bindings.
 */
import { describe, expect, it } from 'vitest';
import { athenaExecutionParameters } from '../../functions/adapters/aws/athena-runner.ts';
import { QueryUsageError } from '../../functions/query/errors.ts';
import {
  compiledFor,
  compileSql,
  NAMED_QUERIES,
  type NamedQuery,
  orderedValues,
  parseParams,
  savedQueryDescription,
} from '../../functions/query/named-queries.ts';
import { thrownAs } from '../helpers/assertions.ts';

describe('NAMED_QUERIES', () => {
  it('covers the common questions', () => {
    expect(NAMED_QUERIES.map((q) => q.name)).toEqual(
      expect.arrayContaining(['conversation', 'text-search', 'daily-volume', 'deleted-recalled']),
    );
    expect(new Set(NAMED_QUERIES.map((q) => q.name)).size).toBe(NAMED_QUERIES.length);
  });

  it.each(
    NAMED_QUERIES.flatMap((q) =>
      [false, true].flatMap((names) => [
        [q.name, 'athena', names, q] as const,
        [q.name, 'duckdb', names, q] as const,
      ]),
    ),
  )(
    '%s (%s, names %s): placeholders are exactly the declared parameters, and no value is pasted in',
    (_name, engine, names, query) => {
      const compiled = compiledFor(query, engine, { names });
      expect(new Set(compiled.order)).toEqual(new Set(query.params.map((p) => p.name)));
      expect(compiled.sql.split('?').length - 1).toBe(compiled.order.length);
      expect(compiled.sql).not.toMatch(/(?<![:\w]):[a-z_]/);
    },
  );

  it('filters every message query by the dt partition, so Athena reads only those days', () => {
    for (const query of NAMED_QUERIES)
      for (const sql of [query.sql, query.namesSql ?? query.sql])
        expect(sql, query.name).toMatch(/WHERE dt BETWEEN :from AND :to/);
  });

  it('has a names variant for every query that shows a sender: the same columns plus the names', () => {
    const withSender = NAMED_QUERIES.filter((q) => /\bsender\b/.test(q.sql.split('\nFROM')[0] ?? ''));
    expect(withSender.map((q) => q.name).sort()).toEqual(
      ['changes', 'conversation', 'deleted-recalled', 'text-search'].sort(),
    );
    for (const query of withSender) {
      expect(query.namesSql, query.name).toMatch(/^SELECT [\s\S]*\bfrom_name, from_role\b/);
      expect(query.namesSql, query.name).toMatch(/\bgroup_name\b/);
      // Without names, the SQL (and so the columns) is exactly the query's own.
      expect(compiledFor(query, 'athena', { names: false }).sql).toBe(compiledFor(query, 'athena').sql);
    }
  });

  it('describes saved queries with their parameters in placeholder order', () => {
    const conversation = NAMED_QUERIES.find((q) => q.name === 'conversation') as NamedQuery;
    expect(savedQueryDescription(conversation)).toContain('Parameters in order: from, to, group_id');
    for (const query of NAMED_QUERIES) expect(savedQueryDescription(query).length).toBeLessThanOrEqual(1024);
  });
});

describe('compileSql', () => {
  it('replaces :name markers in order, leaving casts and times alone', () => {
    expect(compileSql("SELECT x::int, '10:30' FROM t WHERE a = :a AND b = :b_2 OR a = :a")).toEqual({
      sql: "SELECT x::int, '10:30' FROM t WHERE a = ? AND b = ? OR a = ?",
      order: ['a', 'b_2', 'a'],
    });
  });
});

const probe: NamedQuery = {
  name: 'probe',
  description: 'test',
  params: [
    { name: 'n', type: 'integer', description: '' },
    { name: 's', type: 'string', description: '' },
    { name: 'from', type: 'date', description: '' },
    { name: 'to', type: 'date', description: '' },
  ],
  sql: 'SELECT :n, :s, :from, :to',
};

const usageError = (fn: () => unknown) => thrownAs(QueryUsageError, fn);

describe('parseParams', () => {
  const ok = { n: '-42', s: 'hello', from: '2024-02-29', to: '2024-03-01' };

  it('types the values', () => {
    const values = parseParams(probe, ok);
    expect(values.get('n')).toEqual({ type: 'integer', value: -42n });
    expect(values.get('from')).toEqual({ type: 'date', value: '2024-02-29' });
  });

  it.each([
    [{ ...ok, n: '1.5' }, '--params n', /must be a 64-bit integer, got "1.5"/],
    [{ ...ok, n: '9223372036854775808' }, '--params n', /64-bit integer/],
    [{ ...ok, s: '' }, '--params s', /1 to 1000 characters/],
    [{ ...ok, from: '2023-02-29' }, '--params from', /date formatted YYYY-MM-DD, got "2023-02-29"/],
    [{ ...ok, to: '2024/03/01' }, '--params to', /date formatted YYYY-MM-DD/],
    [{ ...ok, from: '2024-03-02' }, '--params from', /2024-03-02 is after to=2024-03-01/],
    [
      { ...ok, extra: '1' },
      '--params extra',
      /"probe" has no such parameter \(it takes n=<integer> s=<string>/,
    ],
    [{ n: '1', s: 'x', from: '2024-01-01' }, '--params to', /missing/],
  ])('rejects %j, naming %s', (raw, field, message) => {
    const error = usageError(() => parseParams(probe, raw));
    expect(error.field).toBe(field);
    expect(error.message).toMatch(message);
  });
});

describe('athenaExecutionParameters', () => {
  it('renders literals that a value cannot break out of', () => {
    const values = parseParams(probe, { n: '7', s: "x' OR '1'='1", from: '2024-01-01', to: '2024-01-02' });
    const params = athenaExecutionParameters(orderedValues(compileSql(probe.sql), values));
    expect(params).toEqual(['7', "'x'' OR ''1''=''1'", "'2024-01-01'", "'2024-01-02'"]);
    // Every quote inside a string literal is doubled: the literal ends only at its last character.
    const literal = params[1] as string;
    expect(literal.slice(1, -1).replaceAll("''", '')).not.toContain("'");
  });
});
