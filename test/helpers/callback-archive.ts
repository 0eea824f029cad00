/**
 * The end-to-end setup of the callback tests with real processes: the simulator sends its signed
 * callbacks to the project's receiver (real HTTP, recording into the archive folder), and
 * `npm run archive` runs as a real process for an app with a `callbackToken` over the same folder.
 * Used by test/integration/callback-acceptance.test.ts and
 * test/integration/callback-reconcile-run.test.ts.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalFolderStore } from '../../functions/adapters/local-folder/local-folder-store.ts';
import type { SimulatorOptions } from '../../functions/simulator/index.ts';
import { startSimulator } from '../../functions/simulator/index.ts';
import { startTestReceiver, type TestReceiver } from './callbacks.ts';
import { type ProcessArchive, startProcessArchive } from './process-archive.ts';

export interface CallbackArchive {
  readonly t: ProcessArchive;
  readonly receiver: TestReceiver;
  readonly archiveDir: string;
}

/** Starts the receiver and the simulator pointed at it, and writes the archive's config. */
export async function startCallbackArchive(
  cleanups: (() => Promise<unknown>)[],
  spec: { tempPrefix: string; token: string; simulator: Omit<SimulatorOptions, 'rateLimits' | 'callbacks'> },
): Promise<CallbackArchive> {
  // The app id the simulator will use, for the receiver that must exist before it.
  const probe = await startSimulator({ media: false });
  const sdkAppId = probe.apps[0]?.sdkAppId as number;
  await probe.stop();
  const dir = await mkdtemp(join(tmpdir(), spec.tempPrefix));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  const archiveDir = join(dir, 'archive');
  const tokenFile = join(dir, 'callback-token');
  await writeFile(tokenFile, spec.token);
  const receiver = await startTestReceiver({
    store: new LocalFolderStore(archiveDir),
    sdkAppId,
    token: spec.token,
  });
  cleanups.push(() => receiver.close());
  const t = await startProcessArchive(cleanups, {
    tempPrefix: `${spec.tempPrefix}run-`,
    simulator: { ...spec.simulator, callbacks: { url: receiver.url, token: spec.token } },
    app: { callbackToken: { file: tokenFile } },
    archive: { out: archiveDir },
  });
  if (t.sdkAppId !== sdkAppId)
    throw new Error(`the simulator changed its app id (${sdkAppId}, then ${t.sdkAppId})`);
  return { t, receiver, archiveDir };
}

/** Every run report stored under `runs/`, as parsed JSON. */
export async function storedRunReports(archiveDir: string): Promise<Record<string, unknown>[]> {
  const store = new LocalFolderStore(archiveDir);
  const reports: Record<string, unknown>[] = [];
  for await (const key of store.list('runs/')) {
    const object = await store.get(key);
    if (object) reports.push(JSON.parse(new TextDecoder().decode(object.body)) as Record<string, unknown>);
  }
  return reports;
}
