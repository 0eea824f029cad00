/**
 * `npx tsx bench/audit-scale.ts [messages …]` (default 20000 100000): the completeness audit's cost
 * against the size of the archive, for the figures in docs/audit.md. For each size the simulator
 * holds about that many messages (one app, 20 groups, 30 days, its default element mix), the engine
 * archives them into a local folder, a media manifest names every reference (as if all were
 * copied), and the DuckDB audit runs over the folder. Printed per size: messages (rows), message
 * objects and their bytes (gzip, what Athena scans per query over text files), the number of
 * queries the audit ran, the audit's wall time, and the media step's two ways (the query engine's
 * UNNEST, and GET + gunzip of every message object) timed alone. Then the incremental audit
 * (functions/query/audit/incremental.ts): its first run (every partition, writing the totals: their
 * gzip and JSON bytes), and a second after the newest partition appears (kept back until then, as
 * a new day's): queries, partitions read, their gzip bytes (what Athena scans per query) and wall
 * time. Nothing here is asserted by tests.
 */
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { LocalFolderStore } from '../functions/adapters/local-folder/local-folder-store.ts';
import { systemClock } from '../functions/adapters/system-clock.ts';
import { openArchiveRunner } from '../functions/cli/query-runners.ts';
import { auditTotalsKey } from '../functions/domain/partition.ts';
import { auditArchive } from '../functions/query/audit/audit.ts';
import { readReferences, referencesInObjects } from '../functions/query/audit/media-references.ts';
import { readObjectTargets } from '../functions/query/audit/targets.ts';
import type { QueryRunner } from '../functions/query/port.ts';
import { engineRun, startEngineSimulator } from '../test/helpers/engine.ts';
import { archivedManifestRow } from '../test/helpers/media-fixtures.ts';

const ZONE = 'Asia/Shanghai';
const GROUPS = 20;

/** A runner that counts the queries it is given. */
function counting(runner: QueryRunner): { runner: QueryRunner; queries: () => number } {
  let n = 0;
  return {
    runner: {
      dialect: runner.dialect,
      run: (sql, values) => {
        n++;
        return runner.run(sql, values);
      },
      close: () => runner.close(),
    },
    queries: () => n,
  };
}

/** Archives about `messages` messages into `dir`; returns the app and its message objects. */
async function fillArchive(dir: string, messages: number) {
  const per = Math.max(1, Math.round(messages / GROUPS));
  const sim = await startEngineSimulator({
    seed: 7,
    retentionDays: 365,
    dataset: {
      groups: GROUPS,
      activeFraction: 1,
      messagesPerActiveGroup: [per, per],
      historyDays: 30,
      deletedFraction: 0.01,
      recalledFraction: 0.01,
      typeWeights: { AVChatRoom: 0 },
    },
  });
  try {
    const store = new LocalFolderStore(dir);
    const run = engineRun(sim, store, { timeZone: ZONE });
    await run.run();
    const keys: string[] = [];
    for await (const key of store.list(`messages/sdkappid=${run.sdkAppId}/`)) keys.push(key);
    return { store, sdkAppId: run.sdkAppId, keys };
  } finally {
    await sim.stop();
  }
}

/**
 * The incremental audit: the newest partition kept back, a first audit (all partitions, totals
 * written), the partition back, a second audit (the new partition only).
 */
async function measureIncremental(options: {
  readonly runner: QueryRunner;
  readonly store: LocalFolderStore;
  readonly sdkAppId: number;
  readonly keys: readonly string[];
  readonly dir: string;
}): Promise<Record<string, number>> {
  const { store, sdkAppId, keys, dir } = options;
  const dtOf = (key: string) => /\/dt=([^/]+)\//.exec(key)?.[1] ?? '';
  const newest = keys.map(dtOf).sort().at(-1) ?? '';
  const kept = new Map<string, Uint8Array>();
  for (const key of keys.filter((k) => dtOf(k) === newest)) {
    kept.set(key, (await store.get(key))?.body ?? new Uint8Array());
    await store.delete(key);
  }
  const first = counting(options.runner);
  const t0 = performance.now();
  await auditArchive(first.runner, store, {
    archive: dir,
    timeZone: ZONE,
    nowMs: Date.now(),
    incremental: { full: false },
  });
  const firstMs = performance.now() - t0;
  const totals = (await store.get(auditTotalsKey(sdkAppId)))?.body ?? new Uint8Array();
  let newBytes = 0;
  for (const [key, body] of kept) {
    await store.put(key, body);
    newBytes += body.length;
  }
  const second = counting(options.runner);
  const t1 = performance.now();
  const report = await auditArchive(second.runner, store, {
    archive: dir,
    timeZone: ZONE,
    nowMs: Date.now(),
    incremental: { full: false },
  });
  const secondMs = performance.now() - t1;
  return {
    incrFirstMs: Math.round(firstMs),
    incrFirstQueries: first.queries(),
    totalsGzipBytes: totals.length,
    totalsJsonBytes: gunzipSync(totals).length,
    incrPartitions: report.apps[0]?.partitions?.total ?? 0,
    incrRead: report.apps[0]?.partitions?.read ?? 0,
    incrReadGzipBytes: newBytes,
    incrQueries: second.queries(),
    incrMs: Math.round(secondMs),
    incrUnexplained: report.unexplained,
  };
}

async function measure(messages: number): Promise<Record<string, string | number>> {
  const dir = await mkdtemp(join(tmpdir(), 'audit-scale-'));
  try {
    const { store, sdkAppId, keys } = await fillArchive(dir, messages);
    let bytes = 0;
    for (const key of keys) bytes += (await stat(join(dir, ...key.split('/')))).size;
    // A manifest naming every reference, each with a (one-byte) object: the media checks run whole.
    const refs = await referencesInObjects(store, keys, new Set());
    const rows = [...refs.entries()].map(([key, place], i) => {
      const [, , , elementPath = '', sizeClass = ''] = key.split('|');
      const ref = { groupId: place.groupId, topicId: place.topicId, msgSeq: place.seq, elementPath };
      const objectKey = `media/sha256/${String(i).padStart(64, '0').slice(0, 2)}/${String(i).padStart(64, '0')}`;
      return archivedManifestRow({ ...ref, sizeClass: sizeClass as 'original' }, objectKey, 'image/png', 1);
    });
    for (const row of rows) await store.put(row.object_key as string, new Uint8Array([1]));
    const manifest = rows.map((r) => JSON.stringify(r)).join('\n');
    await store.put(
      `media-manifest/sdkappid=${sdkAppId}/dt=2026-01-01/part-bench-00000.ndjson.gz`,
      gzipSync(`${manifest}\n`),
    );

    const opened = await openArchiveRunner({
      archive: dir,
      timeZone: ZONE,
      clock: systemClock,
      workGroup: 'w',
      database: 'd',
    });
    const { runner, queries } = counting(opened);
    try {
      const t0 = performance.now();
      const report = await auditArchive(runner, store, { archive: dir, timeZone: ZONE, nowMs: Date.now() });
      const auditMs = performance.now() - t0;
      const app = [{ type: 'string' as const, value: String(sdkAppId) }];
      const t1 = performance.now();
      const objectTargets = await readObjectTargets(opened, app);
      const bySql = await readReferences({ runner: opened, app, store, objectTargets, archived: new Set() });
      const sqlMs = performance.now() - t1;
      const t2 = performance.now();
      await referencesInObjects(store, keys, new Set());
      const getMs = performance.now() - t2;
      const incremental = await measureIncremental({ runner: opened, store, sdkAppId, keys, dir });
      return {
        ...incremental,
        messages: report.apps[0]?.rows ?? 0,
        objects: keys.length,
        gzipBytes: bytes,
        bytesPerMillion: Math.round((bytes / (report.apps[0]?.rows ?? 1)) * 1e6),
        queries: queries(),
        auditMs: Math.round(auditMs),
        references: bySql.size,
        mediaSqlMs: Math.round(sqlMs),
        mediaGetAllMs: Math.round(getMs),
        unexplained: report.unexplained,
      };
    } finally {
      runner.close();
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

const sizes = process.argv.slice(2).map(Number);
for (const size of sizes.length > 0 ? sizes : [20_000, 100_000]) {
  console.log(JSON.stringify(await measure(size)));
}
