/**
 * Archives a simulator with the real engine, composed exactly as the CLI composes it (config
 * schema, composition root), into a local folder or any store: for tests that need an archive the
 * engine made (transcripts, the audit) rather than one written by hand.
 */
import { createSecretResolver } from '../../functions/adapters/secrets/resolve-secret.ts';
import { systemClock } from '../../functions/adapters/system-clock.ts';
import { composeAppRun, type Runtime, SecretRegistry } from '../../functions/composition.ts';
import { parseConfig } from '../../functions/config/schema.ts';
import type { ObjectStore } from '../../functions/domain/storage.ts';
import type { RunReport } from '../../functions/engine/report.ts';
import { runArchive } from '../../functions/engine/run-archive.ts';
import type { Simulator } from '../../functions/simulator/index.ts';

const KEY_VARIABLE = 'TEST_SIMULATOR_SECRET_KEY';
const silent = { debug() {}, info() {}, warn() {}, error() {} };

export interface EngineArchiveOptions {
  readonly out: string;
  readonly timeZone?: string;
  readonly store?: ObjectStore;
  readonly runId?: string;
}

/** One run of the engine over the simulator's first app; resolves with the run report. */
export async function archiveWithEngine(sim: Simulator, options: EngineArchiveOptions): Promise<RunReport> {
  const app = sim.apps[0];
  if (!app) throw new Error('the simulator has no app');
  const config = parseConfig(
    {
      apps: [
        {
          sdkAppId: app.sdkAppId,
          endpoint: sim.url,
          adminIdentifier: app.adminIdentifier,
          secretKey: { env: KEY_VARIABLE },
          retentionDays: 365,
        },
      ],
      archive: { out: options.out, timeZone: options.timeZone ?? 'UTC' },
    },
    'test config',
  );
  const runtime: Runtime = {
    clock: systemClock,
    random: Math.random,
    logger: silent,
    resolveSecret: createSecretResolver({ [KEY_VARIABLE]: app.secretKey }),
    secrets: new SecretRegistry(),
  };
  const { deps, options: runOptions } = await composeAppRun(config, 0, runtime, {
    ...(options.store ? { store: options.store } : {}),
    ...(options.runId ? { runId: options.runId } : {}),
  });
  return runArchive(deps, runOptions);
}
