/**
 * Bench section `identities` (issue 24, deliverable 6): the identity capture's calls, their share
 * of the run's calls and of its wall time, on the realistic app (2,000 groups, 10% active, ~200k
 * messages) and on one app with many groups, 5% active (`BENCH_ID_GROUPS`, default 1,000,000), and
 * the identity rows written by a rerun with no changes (target 0).
 *
 * In process: runArchive with the real client over HTTP against the simulator (200/s, 80 ± 20 ms),
 * the archive in a temporary folder, identities at their defaults (functions/engine/identity-capture.ts).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalFolderStore } from '../functions/adapters/local-folder/local-folder-store.ts';
import { createConsoleLogger } from '../functions/adapters/logging/console-logger.ts';
import { systemClock } from '../functions/adapters/system-clock.ts';
import { TencentClient } from '../functions/adapters/tencent/client.ts';
import { userSigFromKey } from '../functions/adapters/tencent/user-sig.ts';
import { DEFAULT_IDENTITY_OPTIONS, type IdentityReport } from '../functions/engine/identity-capture.ts';
import type { RunReport } from '../functions/engine/report.ts';
import { type ArchiveOptions, runArchive } from '../functions/engine/run-archive.ts';
import { type DatasetSpec, type Simulator, startSimulator } from '../functions/simulator/index.ts';

const quiet = createConsoleLogger({ level: 'error' });
type Row = (what: string, value: string, note?: string) => void;

function clientFor(sim: Simulator): TencentClient {
  const app = sim.apps[0];
  if (!app) throw new Error('no app');
  return new TencentClient({
    sdkAppId: app.sdkAppId,
    adminIdentifier: app.adminIdentifier,
    endpoint: sim.url,
    userSig: userSigFromKey({
      sdkAppId: app.sdkAppId,
      key: app.secretKey,
      identifier: app.adminIdentifier,
      clock: systemClock,
    }),
    clock: systemClock,
    random: Math.random,
    logger: quiet,
    rateLimits: { groupMsgGetSimple: 200 },
    maxConcurrency: 64,
  });
}

interface Measured {
  report: RunReport;
  identities: IdentityReport;
  /** Every call of the run, the identity calls included. */
  calls: number;
}

async function runOnce(sim: Simulator, dir: string, runId: string): Promise<Measured> {
  const client = clientFor(sim);
  const app = sim.apps[0];
  if (!app) throw new Error('no app');
  const options: ArchiveOptions = {
    sdkAppId: app.sdkAppId,
    runId,
    groupIds: undefined,
    selection: { include: [], exclude: [], types: [] },
    withRecalledMsg: true,
    timeZone: 'UTC',
    initialLookbackDays: null,
    flushBytes: 64 * 1024 * 1024,
    checkpointIntervalMs: 60_000,
    leaseMs: 180_000,
    deadlineMs: null,
    concurrency: 64,
    identities: DEFAULT_IDENTITY_OPTIONS,
  };
  const deps = { api: client, store: new LocalFolderStore(dir), clock: systemClock, logger: quiet };
  const report = await runArchive({ ...deps, apiStats: () => client.stats() }, options);
  const identities = (report as RunReport & { identities?: IdentityReport }).identities;
  if (identities === undefined) throw new Error('the run made no identity report');
  const calls = Object.values(client.stats().requests).reduce((a, b) => a + b, 0);
  return { report, identities, calls };
}

function describeRun(m: Measured): { calls: string; wall: string; rows: string } {
  const { identities: ids, report } = m;
  const idCalls = ids.calls.groupInfo + ids.calls.profiles + ids.calls.members;
  const pct = (a: number, b: number) => `${((a / Math.max(1, b)) * 100).toFixed(2)}%`;
  return {
    calls:
      `${idCalls} of ${m.calls} = ${pct(idCalls, m.calls)} (${ids.duringPaging} while paging; portrait_get ${ids.calls.profiles}, ` +
      `members ${ids.calls.members}, group info ${ids.calls.groupInfo}; ${ids.groupsFromPlanning} group names from planning; ` +
      `budget ${ids.budget}; roll call ${ids.rollCall} groups)`,
    wall: `${(ids.elapsedMs / 1000).toFixed(1)} s of ${(report.elapsedMs / 1000).toFixed(1)} s = ${pct(ids.elapsedMs, report.elapsedMs)}`,
    rows: `users ${ids.rows.users}, groups ${ids.rows.groups}, members ${ids.rows.members}; pending users ${ids.pending.users}, groups ${ids.pending.groups}, members ${ids.pending.members}`,
  };
}

async function scenario(row: Row, label: string, dataset: DatasetSpec, touch: (sim: Simulator) => void) {
  const sim = await startSimulator({
    latencyMs: 80,
    jitterMs: 20,
    dataset,
    seed: 3,
    retentionDays: 3650,
    media: false,
  });
  const dir = await mkdtemp(join(tmpdir(), 'bench-identities-'));
  try {
    process.stderr.write(`identities: ${label}: first run…\n`);
    const first = describeRun(await runOnce(sim, dir, 'bench-ids-1'));
    row(`identities: ${label}: first run: identity calls`, first.calls);
    row(`identities: ${label}: first run: identity wall time after paging`, first.wall);
    row(`identities: ${label}: first run: rows`, first.rows);
    // New messages from the same senders, no name changed.
    touch(sim);
    process.stderr.write(`identities: ${label}: rerun with no name change…\n`);
    const again = await runOnce(sim, dir, 'bench-ids-2');
    const second = describeRun(again);
    row(`identities: ${label}: rerun, no change: identity calls`, second.calls);
    row(`identities: ${label}: rerun, no change: identity wall time after paging`, second.wall);
    const written =
      again.identities.rows.users + again.identities.rows.groups + again.identities.rows.members;
    const changes = written - again.identities.firstRows;
    row(
      `identities: ${label}: rerun, no change: rows of a change`,
      String(changes),
      `(target 0; ${written} rows written, ${again.identities.firstRows} of them first rows: pending lookups of the first run and senders new to a group; ${again.report.messages} new messages)`,
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
    await sim.stop();
  }
}

/** Adds a few messages to the first `count` active groups. */
function appendTo(sim: Simulator, count: number): void {
  let touched = 0;
  for (const g of sim.eachGroup()) {
    if (g.deleted || g.nextMsgSeq <= 1 || g.type === 'AVChatRoom' || g.topicsEnabled) continue;
    sim.appendMessages(g.groupId, 5);
    if (++touched === count) break;
  }
}

export async function identitiesSection(row: Row, scale: number): Promise<void> {
  const messages = 200_000 * scale;
  const active = 200;
  const perGroup = Math.round(messages / active);
  await scenario(
    row,
    'realistic app',
    {
      groups: 2_000,
      activeFraction: 0.1,
      messagesPerActiveGroup: [Math.round(perGroup * 0.5), Math.round(perGroup * 1.5)],
      historyDays: 30,
    },
    (sim) => appendTo(sim, 20),
  );
  const groups = Number(process.env.BENCH_ID_GROUPS ?? '1000000');
  await scenario(
    row,
    `${groups.toLocaleString('en')} groups, 5% active`,
    {
      groups,
      activeFraction: 0.05,
      messagesPerActiveGroup: [1, 30],
      historyDays: 5,
      typeWeights: { Public: 1, Private: 0, ChatRoom: 0, Community: 0, TopicCommunity: 0, AVChatRoom: 0 },
    },
    (sim) => appendTo(sim, 200),
  );
}
