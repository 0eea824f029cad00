/**
 * The runs table's sections on DuckDB (issues 24 and 26): the engine archives groups with the
 * identity capture on and one-to-one pairs over the simulator into a temp folder, twice; the run
 * reports it wrote are read back through the local archive's `runs` table and `runs_flat` view
 * (functions/query/local-archive.ts, functions/query/views.ts), and each section and count is the
 * one the run returned.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalFolderStore } from '../../functions/adapters/local-folder/local-folder-store.ts';
import { systemClock } from '../../functions/adapters/system-clock.ts';
import { openArchiveRunner } from '../../functions/cli/query-runners.ts';
import { configPairs } from '../../functions/domain/c2c-pairs.ts';
import { DEFAULT_IDENTITY_OPTIONS } from '../../functions/engine/identity-capture.ts';
import type { StoredRunReport } from '../../functions/engine/report-format.ts';
import { runArchive } from '../../functions/engine/run-archive.ts';
import type { QueryRunner } from '../../functions/query/port.ts';
import { type Cell, collectRows } from '../../functions/query/result.ts';
import type { Simulator } from '../../functions/simulator/index.ts';
import {
  ENGINE_CLIENT_RATES,
  silentLogger,
  startEngineSimulator,
  testRunOptions,
} from '../helpers/engine.ts';
import { clientFor } from '../helpers/tencent.ts';

const ZONE = 'Asia/Shanghai';
const ALICE = 'alice.runs';
const BOB = 'bob.runs';

let sim: Simulator;
let dir = '';
let db: QueryRunner;
const reports: StoredRunReport[] = [];

beforeAll(async () => {
  sim = await startEngineSimulator({
    seed: 2426,
    media: false,
    retentionDays: 30,
    dataset: { groups: 3, activeFraction: 1, messagesPerActiveGroup: [4, 8], historyDays: 1 },
    c2c: { generated: 0, conversations: [{ accounts: [ALICE, BOB], messages: 30 }] },
  });
  dir = await mkdtemp(join(tmpdir(), 'runs-table-'));
  const { client, app } = clientFor(sim, { clock: systemClock, rateLimits: ENGINE_CLIENT_RATES });
  const deps = {
    api: client,
    roam: client,
    store: new LocalFolderStore(dir),
    clock: systemClock,
    logger: silentLogger,
  };
  for (const runId of ['first', 'second']) {
    reports.push(
      await runArchive(deps, {
        ...testRunOptions(app.sdkAppId, { runId, timeZone: ZONE }),
        retentionDays: 30,
        identities: DEFAULT_IDENTITY_OPTIONS,
        c2c: { pairs: configPairs({ pairs: [[BOB, ALICE]] }), concurrency: 1 },
      }),
    );
  }
  db = await openArchiveRunner({
    archive: dir,
    timeZone: ZONE,
    clock: systemClock,
    workGroup: 'wg',
    database: 'db',
  });
});

afterAll(async () => {
  db?.close();
  await sim?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function rowsOf(sql: string): Promise<Record<string, Cell>[]> {
  const result = await db.run(sql);
  const rows = await collectRows(result);
  return rows.map((row) => Object.fromEntries(result.columns.map((c, i) => [c.name, row[i] ?? null])));
}

describe('the runs table with the identity and one-to-one sections, on DuckDB', () => {
  it('ran both passes (the sections are there to read)', () => {
    expect(reports.map((r) => r.done)).toEqual([true, true]);
    const [first, second] = reports;
    expect(first?.c2c?.messages).toBe(30);
    expect(first?.identities?.rows.users).toBeGreaterThan(0);
    // Nothing changed between the two runs: nothing new to archive, no name to write again.
    expect(second?.c2c?.messages).toBe(0);
    expect(second?.identities?.rows).toEqual({ users: 0, groups: 0, members: 0 });
  });

  it('reads each run’s identities and c2c sections as the run returned them', async () => {
    const rows = await rowsOf('SELECT run_id, identities, c2c, callbacks FROM runs ORDER BY started_at_ms');
    expect(rows.map((r) => r.run_id)).toEqual(['first', 'second']);
    rows.forEach((row, i) => {
      expect(JSON.parse(String(row.identities))).toEqual(reports[i]?.identities);
      expect(JSON.parse(String(row.c2c))).toEqual(reports[i]?.c2c);
      // No callback token in this app: no section, a null column.
      expect(row.callbacks).toBeNull();
    });
  });

  it('gives the counts per run in runs_flat', async () => {
    // By run id ('first' < 'second'): started_at is to the second, and two quick runs share one.
    const rows = await rowsOf(
      'SELECT run_id, identity_calls, identity_rows, c2c_pairs_pulled, c2c_messages FROM runs_flat ORDER BY run_id',
    );
    expect(
      rows.map((r) =>
        [r.run_id, r.identity_calls, r.identity_rows, r.c2c_pairs_pulled, r.c2c_messages].map(String),
      ),
    ).toEqual(
      reports.map((r) => {
        const calls = r.identities?.calls;
        const written = r.identities?.rows;
        return [
          r.runId,
          (calls?.groupInfo ?? 0) + (calls?.profiles ?? 0) + (calls?.members ?? 0),
          (written?.users ?? 0) + (written?.groups ?? 0) + (written?.members ?? 0),
          r.c2c?.pairsPulled,
          r.c2c?.messages,
        ].map(String);
      }),
    );
  });
});
