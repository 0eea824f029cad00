/**
 * The composition root: the one place that builds adapters from validated configuration and hands
 * them to the use case. Entry points (CLI, Lambda) call this and nothing else.
 */
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalFolderStore } from './adapters/local-folder/local-folder-store.ts';
import { MediaDownloader } from './adapters/media/downloader.ts';
import { parseAllowedHosts } from './adapters/media/host-policy.ts';
import type { SecretResolver } from './adapters/secrets/resolve-secret.ts';
import { TencentClient } from './adapters/tencent/client.ts';
import { cosSigBatcher } from './adapters/tencent/cos-sig-batcher.ts';
import { TencentHistoryFiles } from './adapters/tencent/history-files.ts';
import { type UserSigProvider, userSigFromKey, userSigFromReadySig } from './adapters/tencent/user-sig.ts';
import { type AppConfig, type Config, downloadDeadlineOf, mediaTempBytesOf } from './config/schema.ts';
import { ByteBudget } from './domain/byte-budget.ts';
import { configPairs } from './domain/c2c-pairs.ts';
import { ConfigError } from './domain/errors.ts';
import type { Clock, HostProcesses, Logger, Random } from './domain/ports.ts';
import type { ObjectStore, StreamingObjectStore } from './domain/storage.ts';
import { CallbackForwarder, type ForwardTarget } from './engine/callback-forwarder.ts';
import { CallbackReceiver, type CallbackSink } from './engine/callback-receiver.ts';
import { CallbackRecorder } from './engine/callback-recorder.ts';
import { withByteBudget } from './engine/media-budget.ts';
import type { ArchiveDeps, ArchiveOptions, RunDeps } from './engine/run-archive.ts';

/** Process-wide services that entry points provide. */
/** The media downloader's temp folder (the Lambda empties it at init: functions/lambda/handler.ts). */
export const MEDIA_TEMP_DIR = join(tmpdir(), 'tencent-chat-archiver-media');

export interface Runtime {
  clock: Clock;
  random: Random;
  logger: Logger;
  resolveSecret: SecretResolver;
  /** Every provider built here registers its secrets, so the logger can mask them. */
  secrets: SecretRegistry;
  /** This host's processes, for the lease's holder (absent: crashed runs are waited out). */
  processes?: HostProcesses;
}

/** The secrets currently in use (keys and UserSigs), for log redaction. */
export class SecretRegistry {
  private readonly sources: (() => Iterable<string>)[] = [];
  public add(source: () => Iterable<string>): void {
    this.sources.push(source);
  }
  public *all(): Iterable<string> {
    for (const source of this.sources) yield* source();
  }
}

/**
 * Open the archive location: a local folder, or `s3://bucket/prefix`. The S3 SDK is loaded only
 * for an S3 location (about 18 MB of a local run's memory otherwise).
 */
export async function openStore(out: string): Promise<StreamingObjectStore> {
  if (out.startsWith('s3://')) {
    const { createS3Client, parseS3Url, S3Store } = await import('./adapters/s3/s3-store.ts');
    const { bucket, prefix } = parseS3Url(out);
    return new S3Store({ client: createS3Client(), bucket, prefix });
  }
  return new LocalFolderStore(out);
}

/** Sign (or load) the admin UserSig for one app. */
export async function userSigFor(app: AppConfig, index: number, runtime: Runtime): Promise<UserSigProvider> {
  const provider = app.secretKey
    ? userSigFromKey({
        sdkAppId: app.sdkAppId,
        key: await runtime.resolveSecret(app.secretKey, `apps.${index}.secretKey`),
        identifier: app.adminIdentifier,
        lifetimeSeconds: app.userSigLifetimeSeconds,
        clock: runtime.clock,
      })
    : userSigFromReadySig({
        userSig: await runtime.resolveSecret(
          app.userSig as NonNullable<AppConfig['userSig']>,
          `apps.${index}.userSig`,
        ),
        sdkAppId: app.sdkAppId,
        identifier: app.adminIdentifier,
        clock: runtime.clock,
        logger: runtime.logger,
      });
  runtime.secrets.add(() => provider.secrets());
  return provider;
}

/** A run id that sorts by start time: `20261125T233807Z-1a2b3c`. */
export function newRunId(clock: Clock): string {
  const stamp = new Date(clock.now())
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z');
  return `${stamp}-${randomBytes(3).toString('hex')}`;
}

/** Everything `runArchive` needs for one app. */
export async function composeAppRun(
  config: Config,
  index: number,
  runtime: Runtime,
  overrides: {
    store?: ObjectStore;
    deadlineMs?: number | null;
    runId?: string;
    onProgress?: RunDeps['onProgress'];
    hardStopAtMs?: number | null;
    /** The stack's `alarms.headroomDays` (the Lambda); default DEFAULT_HEADROOM_DAYS. */
    mediaHeadroomDays?: number;
  } = {},
): Promise<{ deps: ArchiveDeps; options: ArchiveOptions; client: TencentClient }> {
  const app = config.apps[index];
  if (!app) throw new RangeError(`no app at index ${index}`);
  const userSig = await userSigFor(app, index, runtime);
  const client = new TencentClient({
    sdkAppId: app.sdkAppId,
    adminIdentifier: app.adminIdentifier,
    region: app.region,
    endpoint: app.endpoint,
    useBackupDomain: app.useBackupDomain,
    userSig,
    clock: runtime.clock,
    random: runtime.random,
    logger: runtime.logger,
    rateLimits: {
      ...app.rateLimits,
      groupMsgGetSimple: app.rateLimits.groupMsgGetSimple ?? app.planRateLimit,
    },
    maxConcurrency: app.maxConcurrency,
    requestTimeoutMs: app.requestTimeoutMs,
  });
  const store = overrides.store ?? (await openStore(config.archive.out));
  const deadlineMs =
    overrides.deadlineMs !== undefined
      ? overrides.deadlineMs
      : config.run.deadlineSeconds === null
        ? null
        : runtime.clock.now() + config.run.deadlineSeconds * 1000;
  const media = config.media.enabled ? mediaDepsFor(config, client, store, runtime) : undefined;
  const deps: ArchiveDeps = {
    api: client,
    roam: client,
    store,
    clock: runtime.clock,
    logger: runtime.logger,
    apiStats: () => client.stats(),
    ...(overrides.onProgress ? { onProgress: overrides.onProgress } : {}),
    ...(media ? { media } : {}),
    ...(runtime.processes ? { processes: runtime.processes } : {}),
    // Read by the one-to-one pass (c2cForRun in functions/engine/c2c-pass.ts), which runArchive
    // hands these deps to; ArchiveDeps (functions/engine/run-archive.ts) does not name it yet.
    ...(app.c2c?.fromHistoryFiles ? { historyFiles: new TencentHistoryFiles(client) } : {}),
    // The group files (`historyFiles.groups`), fetched by runArchive (functions/engine/history-files.ts).
    ...(app.historyFiles.groups ? { groupHistoryFiles: new TencentHistoryFiles(client) } : {}),
  };
  const options: ArchiveOptions = {
    sdkAppId: app.sdkAppId,
    runId: overrides.runId ?? newRunId(runtime.clock),
    groupIds: app.groups.ids,
    selection: { include: app.groups.include, exclude: app.groups.exclude, types: app.groups.types },
    withRecalledMsg: app.withRecalledMsg,
    timeZone: config.archive.timeZone,
    initialLookbackDays: app.initialLookbackDays,
    flushBytes: Math.round(config.archive.flushMegabytes * 1024 * 1024),
    checkpointIntervalMs: config.run.checkpointSeconds * 1000,
    leaseMs: config.run.leaseSeconds * 1000,
    deadlineMs,
    concurrency: app.maxConcurrency,
    media: {
      enabled: media !== undefined,
      concurrency: config.media.concurrency,
      imageSizes: config.media.imageSizes,
      retentionDays: app.retentionDays,
      ...(overrides.mediaHeadroomDays === undefined ? {} : { headroomDays: overrides.mediaHeadroomDays }),
    },
    rescanDays: config.rescan.days,
    retentionDays: app.retentionDays,
    hardStopAtMs: overrides.hardStopAtMs ?? null,
    identities: { ...config.identities },
    ...(app.c2c
      ? {
          c2c: {
            pairs: configPairs(app.c2c),
            concurrency: app.c2c.maxConcurrency,
            fromCallbacks: app.c2c.fromCallbacks,
            rescanDays: config.rescan.days,
          },
        }
      : {}),
    // An app with a callback token has a receiver recording its callbacks: materialize them.
    ...(app.callbackToken ? { callbacks: {} } : {}),
  };
  return { deps, options, client };
}

/**
 * The media downloader for one app: the configured host rules and size limit, temp files in the
 * system temp folder (Lambda: /tmp) within the byte budget ({@link mediaTempBudget}), and
 * `get_cos_sig` through the app's client for URLs that answer 403. A store that cannot stream (a
 * test double) turns media copying off, with a warning.
 */
function mediaDepsFor(
  config: Config,
  client: TencentClient,
  store: ObjectStore,
  runtime: Runtime,
): RunDeps['media'] {
  if (!isStreaming(store)) {
    runtime.logger.warn('media copying is off: this archive store cannot stream large objects');
    return undefined;
  }
  const downloader = new MediaDownloader({
    allowedHosts: parseAllowedHosts(config.media.allowedHosts),
    maxBytes: config.media.maxBytes,
    deadline: downloadDeadlineOf(config.media),
    tempDir: MEDIA_TEMP_DIR,
    clock: runtime.clock,
    random: runtime.random,
    logger: runtime.logger,
    signer: cosSigBatcher(client),
  });
  const fetcher = withByteBudget(downloader, mediaTempBudget(config), config.media.maxBytes);
  return { fetcher, store };
}

/**
 * The bytes of media temp files allowed at once (`media.tempBytes`, default `media.concurrency` x
 * `media.maxBytes`); the stack sizes the function's /tmp from the same setting (infra/config.ts).
 */
export function mediaTempBudget(config: Config): ByteBudget {
  return new ByteBudget(mediaTempBytesOf(config.media));
}

function isStreaming(store: ObjectStore): store is StreamingObjectStore {
  const candidate = store as Partial<StreamingObjectStore>;
  return typeof candidate.putStream === 'function' && typeof candidate.head === 'function';
}

/**
 * The callback receiver for the apps of `config` that have a `callbackToken` (docs/callbacks.md).
 * @throws ConfigError when no app has one
 */
export async function composeReceiver(
  config: Config,
  runtime: Runtime,
  where: { store: ObjectStore; receiverId: string },
): Promise<{
  receiver: CallbackReceiver;
  recorder: CallbackRecorder;
  forwarder: CallbackForwarder | undefined;
  apps: number[];
}> {
  const tokens = new Map<number, string>();
  for (const [index, app] of config.apps.entries()) {
    if (app.callbackToken === undefined) continue;
    const token = await runtime.resolveSecret(app.callbackToken, `apps.${index}.callbackToken`);
    runtime.secrets.add(() => [token]);
    tokens.set(app.sdkAppId, token);
  }
  if (tokens.size === 0) {
    throw new ConfigError(
      'apps.0.callbackToken: no app has a callbackToken; set it to the callback token of the app (Chat console, Callback configuration), e.g. { "env": "TENCENT_CALLBACK_TOKEN" }',
      { field: 'apps.0.callbackToken' },
    );
  }
  const recorder = new CallbackRecorder({
    store: where.store,
    clock: runtime.clock,
    timeZone: config.archive.timeZone,
    receiverId: where.receiverId,
  });
  const forwarder = await composeCallbackForwarder(config);
  const receiver = new CallbackReceiver({
    tokens,
    recorder,
    clock: runtime.clock,
    ...(forwarder === undefined ? {} : { forwarder }),
  });
  return { receiver, recorder, forwarder, apps: [...tokens.keys()] };
}

/** Forward mode for the apps with `apps[].callbacks.forwardTo`; undefined when none has it. */
export async function composeCallbackForwarder(config: Config): Promise<CallbackForwarder | undefined> {
  const targets = new Map<number, ForwardTarget>();
  for (const app of config.apps) {
    if (app.callbacks === undefined) continue;
    targets.set(app.sdkAppId, {
      url: app.callbacks.forwardTo,
      onFailure: app.callbacks.onForwardFailure,
      timeoutMs: app.callbacks.forwardTimeoutMs,
    });
  }
  if (targets.size === 0) return undefined;
  const { httpForwarder } = await import('./adapters/callbacks/http-forwarder.ts');
  return new CallbackForwarder(targets, httpForwarder);
}

/**
 * The AWS callback receiver's durable path: Firehose (functions/adapters/aws/firehose-sink.ts).
 * The SDK is loaded only here, so the archiver's bundle does not carry it.
 */
export async function composeLambdaCallbackSink(streamName: string): Promise<CallbackSink> {
  const { firehoseSink } = await import('./adapters/aws/firehose-sink.ts');
  return firehoseSink(streamName);
}
