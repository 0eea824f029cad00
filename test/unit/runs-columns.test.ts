/**
 * The runs table's nested columns against a stored run report (functions/query/tables.ts): every
 * struct field the Glue table declares is a key of the report with a value of that type, so a
 * renamed key fails here instead of reading as null on Athena. The report is built by the
 * engine's own constructors, and its sections are typed as the engine's (a key missing or extra
 * in the literals fails the typecheck).
 */
import { describe, expect, it } from 'vitest';
import { emptyCounts } from '../../functions/domain/callback-materialize.ts';
import type { JsonValue } from '../../functions/domain/tencent-types.ts';
import { emptyC2cReport, noteSkipped } from '../../functions/engine/c2c-report.ts';
import type { IdentityReport } from '../../functions/engine/identity-capture.ts';
import { emptyReport, runReportJson } from '../../functions/engine/report.ts';
import type { StoredRunReport } from '../../functions/engine/report-format.ts';
import { type HiveType, parseHiveType } from '../../functions/query/hive-types.ts';
import { RUN_REPORT_COLUMNS } from '../../functions/query/tables.ts';

function storedReport(): StoredRunReport {
  const identities: IdentityReport = {
    calls: { groupInfo: 1, profiles: 2, members: 3 },
    duringPaging: 1,
    budget: 10,
    otherCalls: 200,
    groupsFromPlanning: 4,
    rollCall: 5,
    rows: { users: 6, groups: 7, members: 8 },
    firstRows: 9,
    pending: { users: 1, groups: 0, members: 2 },
    dropped: 0,
    failedCalls: 1,
    rolledForward: false,
    elapsedMs: 120,
  };
  const c2c = { ...emptyC2cReport(), messages: 3 };
  noteSkipped(c2c, '["a","b"]', 'account gone');
  const callbacks = {
    ...emptyCounts(),
    objects: 1,
    objectsLeft: 0,
    unreadableLines: 0,
    commits: 1,
    rolledForward: false,
    elapsedMs: 30,
    reconciliation: {
      bothEqual: 5,
      callbackOnly: 1,
      different: 0,
      pullPlaceholder: 0,
      pullOnly: 1,
      lossRate: 1 / 6,
      groups: [
        {
          groupId: 'g',
          topicId: null,
          bothEqual: 0,
          callbackOnly: 1,
          different: 0,
          pullPlaceholder: 0,
          pullOnly: 1,
        },
      ],
      groupsNotListed: 0,
    },
  };
  const historyFiles = {
    hours: 3,
    hoursLeft: 1,
    filesKept: 2,
    filesRejected: 0,
    messagesIndexed: 40,
    unreadableLines: 0,
    done: false,
  };
  const report: StoredRunReport = {
    ...emptyReport('run1', 1400000001, 0),
    identities,
    c2c,
    callbacks,
    historyFiles,
  };
  report.errors.push({ groupId: 'g', topicId: null, error: 'x' });
  report.seqResets.push({ groupId: 'g', topicId: null, highWater: 5, newestSeq: 1, generation: 1 });
  report.quarantinedItems.push({ groupId: 'g', topicId: null, msgSeq: 3, reason: 'r' });
  return report;
}

/** Where a value of the report does not fit the declared type (empty: it fits). */
function misfits(type: HiveType, value: JsonValue | undefined, path: string): string[] {
  if (value === undefined) return [`${path}: no such key in the report`];
  if (value === null) return [];
  if (type.kind === 'primitive') {
    const expected = type.name === 'boolean' ? 'boolean' : type.name === 'string' ? 'string' : 'number';
    return typeof value === expected ? [] : [`${path}: ${typeof value}, declared ${type.name}`];
  }
  if (type.kind === 'array') {
    if (!Array.isArray(value)) return [`${path}: not an array`];
    if (value.length === 0) return [`${path}: empty in the test's report, nothing checked`];
    return value.flatMap((v, i) => misfits(type.of, v, `${path}[${i}]`));
  }
  if (typeof value !== 'object' || Array.isArray(value)) return [`${path}: not an object`];
  if (type.kind === 'map') return Object.values(value).flatMap((v) => misfits(type.value, v, `${path}.*`));
  // The SerDe matches struct fields case-insensitively: the report's camelCase keys.
  const byLowerKey = new Map(Object.entries(value).map(([k, v]) => [k.toLowerCase(), v]));
  return type.fields.flatMap(([name, field]) => misfits(field, byLowerKey.get(name), `${path}.${name}`));
}

describe('the runs table against a stored run report', () => {
  it('declares only struct fields the report has, each with its JSON type', () => {
    const stored = JSON.parse(runReportJson(storedReport())) as Record<string, JsonValue>;
    const nested = RUN_REPORT_COLUMNS.filter((c) => /^(struct|array)</.test(c.type));
    expect(nested.map((c) => c.key)).toEqual(
      expect.arrayContaining(['groups', 'rescan', 'media', 'identities', 'c2c', 'callbacks', 'historyFiles']),
    );
    for (const column of nested) {
      expect(misfits(parseHiveType(column.type), stored[column.key], column.name)).toEqual([]);
    }
  });

  it('names a renamed key (the check is not blind)', () => {
    const identities = RUN_REPORT_COLUMNS.find((c) => c.key === 'identities');
    const renamed = parseHiveType((identities?.type ?? '').replace('firstrows', 'firstsightings'));
    const stored = JSON.parse(runReportJson(storedReport())) as Record<string, JsonValue>;
    expect(misfits(renamed, stored.identities, 'identities')).toEqual([
      'identities.firstsightings: no such key in the report',
    ]);
  });

  it('declares every key of the identity and callback sections (all are counters of the run)', () => {
    const report = storedReport();
    for (const key of ['identities', 'callbacks'] as const) {
      const type = parseHiveType(RUN_REPORT_COLUMNS.find((c) => c.key === key)?.type ?? '');
      const fields = type.kind === 'struct' ? type.fields.map(([name]) => name) : [];
      expect(fields.sort(), key).toEqual(
        Object.keys(report[key] ?? {})
          .map((k) => k.toLowerCase())
          .sort(),
      );
    }
  });
});
