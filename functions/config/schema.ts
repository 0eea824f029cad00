/**
 * The configuration schema, shared by the CLI, the Lambda and the CDK stack. Validated once, at the
 * edge; every error names the field (dotted path) and says how to fix it.
 */
// A namespace import lets esbuild drop zod's locales from the Lambda bundle (about 350 KB).
import * as z from 'zod';
import { ConfigError } from '../domain/errors.ts';
import { DEFAULT_MEDIA_HOSTS, HOST_PATTERN } from '../domain/media-hosts.ts';
import { IMAGE_SIZE_CLASSES } from '../domain/media-refs.ts';
import { isTimeZone } from '../domain/partition.ts';
import type { DownloadDeadlineOptions } from '../domain/retry-policy.ts';
import { TENCENT_REGION_NAMES } from '../domain/tencent-regions.ts';

/** Where a secret comes from. Secrets are never written into the config itself. */
export const SecretSourceSchema = z.union(
  [
    z.strictObject({
      env: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'must be an environment variable name'),
    }),
    z.strictObject({ file: z.string().min(1) }),
    z.strictObject({
      ssmParameter: z.string().regex(/^\/?[A-Za-z0-9_.\-/]+$/, 'must be an SSM parameter name'),
    }),
  ],
  { error: 'must be one of { "env": "VAR" }, { "file": "path" } or { "ssmParameter": "/name" }' },
);
export type SecretSource = z.infer<typeof SecretSourceSchema>;

/** Documented default of `group_msg_get_simple`; each add-on pack bought in the console adds 100/s. */
const DOCUMENTED_HISTORY_RATE = 200;

/*
 * Defaults are written once, here: each setting's `.default(…)`, and a section left out is parsed
 * from `{}` (`.prefault`), so its defaults come from its settings. Code outside the schema reads the
 * parsed config, or the constants below where it has no config (a command run without `--config`,
 * a client or downloader built without those options).
 */
/** `archive.out`. */
export const DEFAULT_ARCHIVE_OUT = './archive';
/** `archive.timeZone`. */
export const DEFAULT_TIME_ZONE = 'UTC';
/** `apps[].maxConcurrency`: requests in flight per app. */
export const DEFAULT_MAX_CONCURRENCY = 64;
/** `apps[].requestTimeoutMs`. */
export const DEFAULT_REQUEST_TIMEOUT_MS = 10_000;

/*
 * Upper bounds. Every duration becomes a timer or a deadline somewhere, and Node fires a timer of
 * more than 2^31 - 1 ms (24.8 days) after 1 ms instead: each bound below keeps its timers under
 * that, with room to spare. Counts and rates are bounded so a typo cannot ask for the absurd.
 */
/** Requests per second a plan can be configured for (200/s plus 100/s per add-on pack). */
const MAX_RATE = 100_000;
/** Slowest pace: one request per 100 s (the pacer waits up to a few windows of 1 / rate). */
const MIN_RATE = 0.01;
/** Longest wait for one REST answer: 10 minutes. */
const MAX_REQUEST_TIMEOUT_MS = 600_000;
/** Days of history and retention: 100 years, more than any message has (epoch 1970). */
const MAX_DAYS = 36_500;
/** Longest interval between checkpoints: 1 hour. */
const MAX_CHECKPOINT_SECONDS = 3_600;
/** Longest lease: 1 day (a crashed run's lock expires after it). */
const MAX_LEASE_SECONDS = 86_400;
/** Longest deadline of one CLI run (`run.deadlineSeconds`, `--deadline`): 7 days. */
export const MAX_DEADLINE_SECONDS = 604_800;

/** A positive duration or count with an upper bound that its error message names. */
const upTo = (max: number, unit: string) =>
  z
    .number({ error: `must be a positive number of ${unit}, at most ${max}` })
    .positive(`must be a positive number of ${unit}, at most ${max}`)
    .max(max, `must be at most ${max} ${unit}`);

/** A rate in requests per second: at least one request per 100 s, at most `max`. */
const rate = (max: number, tooHigh = `must be at most ${max}/s`) =>
  z
    .number({ error: `must be a number of requests per second from ${MIN_RATE} to ${max}` })
    .min(MIN_RATE, `must be at least ${MIN_RATE} (one request per 100 s)`)
    .max(max, tooHigh);

/** Hosts plain HTTP may go to: this machine only (the simulator, a local proxy). */
const LOOPBACK_HOST = /^(localhost|127(\.\d{1,3}){3}|\[::1\])$/i;

/**
 * Why `endpoint` cannot be the REST API's base URL, or undefined when it can: HTTPS (HTTP only to
 * loopback: the UserSig travels in the query string), no user name or password, no query or
 * fragment (the client appends `/v4/<api>?<query>`).
 */
function endpointProblem(text: string): string | undefined {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return 'must be a URL like https://adminapisgp.im.qcloud.com';
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    return `must be an https:// URL like https://adminapisgp.im.qcloud.com, not ${url.protocol}`;
  }
  if (url.protocol === 'http:' && !LOOPBACK_HOST.test(url.hostname)) {
    return 'must use https:// (http:// only to this machine: localhost, 127.0.0.1 or [::1])';
  }
  if (url.username !== '' || url.password !== '') return 'must not hold a user name or password';
  if (url.search !== '' || url.hash !== '') return 'must not have a query (?…) or fragment (#…)';
  return undefined;
}

/** An account (`UserID`) of a one-to-one pair: 1 to 32 characters, as `adminIdentifier`. */
const C2cAccount = z.string({ error: 'must be an account (UserID)' }).min(1, 'must not be empty').max(32);

/**
 * `apps[].c2c`. A pair of an account with itself is refused (no such conversation); a pair listed
 * twice, in either order, or an account listed twice, is kept once (docs/configuration.md).
 */
const C2cSchema = z
  .strictObject({
    accounts: z.array(C2cAccount).optional(),
    pairs: z.array(z.tuple([C2cAccount, C2cAccount])).optional(),
    /**
     * Requests of the one-to-one pass in flight, and pairs paged at once (docs/one-to-one.md): 200/s
     * at round trips of 80 to 100 ms needs 20 or more; a big pair's window is split to use idle ones.
     */
    maxConcurrency: z.number().int().min(1).max(512, 'must be at most 512').default(32),
    /**
     * Pairs from the recorded `C2C.CallbackAfterSendMsg` events (the receiver's
     * `callbacks/sdkappid=<id>/`), each with its newest message time (docs/one-to-one.md).
     */
    fromCallbacks: z.boolean({ error: 'must be true or false' }).default(false),
    /**
     * Pairs from Tencent's hourly C2C files (`get_history`, the last 7 days), each file checked
     * against its stated sizes and MD5s and kept raw under `history-files/` (docs/one-to-one.md).
     */
    fromHistoryFiles: z.boolean({ error: 'must be true or false' }).default(false),
  })
  .superRefine((c2c, ctx) => {
    c2c.pairs?.forEach(([a, b], i) => {
      if (a === b) {
        ctx.addIssue({ code: 'custom', path: ['pairs', i], message: `pairs "${a}" with itself` });
      }
    });
    const witnessed = c2c.fromCallbacks || c2c.fromHistoryFiles;
    if ((c2c.accounts?.length ?? 0) < 2 && (c2c.pairs?.length ?? 0) === 0 && !witnessed) {
      ctx.addIssue({
        code: 'custom',
        path: ['accounts'],
        message: 'name at least two accounts, list pairs, or set fromCallbacks or fromHistoryFiles',
      });
    }
  });

const AppSchema = z
  .strictObject({
    sdkAppId: z.number({ error: 'must be the numeric SDKAppID from the console' }).int().positive(),
    region: z
      .enum(TENCENT_REGION_NAMES, { error: `must be one of ${TENCENT_REGION_NAMES.join(', ')}` })
      .optional(),
    endpoint: z
      .string({ error: 'must be a URL like https://adminapisgp.im.qcloud.com' })
      .superRefine((text, ctx) => {
        const problem = endpointProblem(text);
        if (problem !== undefined) ctx.addIssue({ code: 'custom', message: problem });
      })
      .optional(),
    useBackupDomain: z.boolean().default(false),
    adminIdentifier: z.string().min(1).max(32).default('administrator'),
    /** The app's secret key, to sign UserSigs. */
    secretKey: SecretSourceSchema.optional(),
    /** Or a ready-made admin UserSig (cannot be renewed by the archiver). */
    userSig: SecretSourceSchema.optional(),
    /** The app's callback token (Chat console, callback configuration), for `npm run receiver` (docs/callbacks.md). */
    callbackToken: SecretSourceSchema.optional(),
    /**
     * Forward mode (docs/callbacks.md): the app's own callback URL, which the receiver forwards
     * each authentic event to after recording it, answering with that server's answer; when it
     * does not answer within `forwardTimeoutMs`, `fail-open` answers OK, `fail-closed` an error.
     */
    callbacks: z
      .strictObject({
        forwardTo: z.string().refine((text) => {
          const url = URL.canParse(text) ? new URL(text) : undefined;
          return (
            (url?.protocol === 'https:' || url?.protocol === 'http:') &&
            url.username === '' &&
            url.hash === ''
          );
        }, "must be an http(s) URL without user name or fragment (the app's existing callback URL)"),
        onForwardFailure: z
          .enum(['fail-open', 'fail-closed'], { error: 'must be "fail-open" or "fail-closed"' })
          .default('fail-open'),
        forwardTimeoutMs: z
          .number()
          .int()
          .min(50)
          .max(1_900, "must be at most 1900 (Tencent waits 2 s for the receiver's answer)")
          .default(1_800),
      })
      .optional(),
    userSigLifetimeSeconds: z
      .number()
      .int()
      .min(3_600, 'should be at least 3600 (Tencent recommends 24 h or more)')
      .max(50 * 365 * 86_400, `must be at most ${50 * 365 * 86_400} (50 years)`)
      .default(86_400),
    /** Your plan's `group_msg_get_simple` limit: 200/s plus 100/s per add-on pack. */
    planRateLimit: z
      .number()
      .int('must be a whole number of requests per second')
      .min(1, 'must be at least 1')
      .max(MAX_RATE, `must be at most ${MAX_RATE}`)
      .default(DOCUMENTED_HISTORY_RATE),
    rateLimits: z
      .strictObject({
        groupMsgGetSimple: rate(MAX_RATE).optional(),
        getGroupInfo: rate(200, 'the documented limit is 200/s').optional(),
        getAppidGroupList: rate(1, 'the documented limit is 1/s').optional(),
        getTopic: rate(200, 'the documented limit is 200/s').optional(),
        getCosSig: rate(MAX_RATE).optional(),
      })
      .prefault({}),
    maxConcurrency: z.number().int().min(1).max(512, 'must be at most 512').default(DEFAULT_MAX_CONCURRENCY),
    requestTimeoutMs: z
      .number()
      .int()
      .min(3_001, 'must exceed the server-side 3 s timeout')
      .max(MAX_REQUEST_TIMEOUT_MS, `must be at most ${MAX_REQUEST_TIMEOUT_MS} (10 minutes)`)
      .default(DEFAULT_REQUEST_TIMEOUT_MS),
    groups: z
      .strictObject({
        /** Archive exactly these groups (no discovery). */
        ids: z.array(z.string().min(1)).min(1).optional(),
        include: z.array(z.string().min(1)).default([]),
        exclude: z.array(z.string().min(1)).default([]),
        types: z.array(z.enum(['Public', 'Private', 'ChatRoom', 'Community', 'Work', 'Meeting'])).default([]),
      })
      .prefault({}),
    withRecalledMsg: z.boolean().default(true),
    /** First run of a group: only this many days back (default: all retained history). */
    initialLookbackDays: upTo(MAX_DAYS, 'days').nullable().default(null),
    /** The plan's history retention in days (7, 30, 60, 90…), for lag and headroom metrics. */
    retentionDays: upTo(MAX_DAYS, 'days').int('must be a whole number of days').default(7),
    /** One-to-one history (docs/one-to-one.md): every pair among `accounts`, and `pairs`. */
    c2c: C2cSchema.optional(),
    /**
     * Tencent's hourly files (`get_history`, the last 7 days) as a second witness
     * (docs/one-to-one.md, Witnesses): `groups` keeps the group files raw under `history-files/`
     * and their message identities under `history-file-messages/`, for reconciliation
     * (docs/querying.md). The C2C files are `c2c.fromHistoryFiles`.
     */
    historyFiles: z
      .strictObject({ groups: z.boolean({ error: 'must be true or false' }).default(false) })
      .prefault({}),
  })
  .superRefine((app, ctx) => {
    if (app.region === undefined && app.endpoint === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['region'],
        message: 'set region (the data center of the app) or endpoint',
      });
    }
    if ((app.secretKey === undefined) === (app.userSig === undefined)) {
      ctx.addIssue({
        code: 'custom',
        path: ['secretKey'],
        message:
          'set exactly one of secretKey (recommended: signs and renews UserSigs) or userSig (a ready-made sig)',
      });
    }
    const rate = app.rateLimits.groupMsgGetSimple;
    if (rate !== undefined && rate > app.planRateLimit) {
      ctx.addIssue({
        code: 'custom',
        path: ['rateLimits', 'groupMsgGetSimple'],
        message: `${rate}/s is above planRateLimit (${app.planRateLimit}/s); raise planRateLimit only if you bought add-on packs`,
      });
    }
  });
export type AppConfig = z.output<typeof AppSchema>;

const HostPatternSchema = z
  .string()
  .regex(HOST_PATTERN, 'must be a host name pattern such as cos.*.myqcloud.com, optionally with :port');

/** One allowed media host: a pattern (HTTPS, public addresses only), or a rule that relaxes that. */
const AllowedHostSchema = z.union(
  [
    HostPatternSchema,
    z.strictObject({
      host: HostPatternSchema,
      /** Plain HTTP to this host (tests, the simulator). */
      allowHttp: z.boolean().default(false),
      /** Private, loopback or link-local addresses for this host (tests, the simulator). */
      allowPrivateAddresses: z.boolean().default(false),
    }),
  ],
  {
    error:
      'must be a host pattern such as "cos.*.myqcloud.com", or { "host": "127.0.0.1:8080", "allowHttp": true, "allowPrivateAddresses": true }',
  },
);

/**
 * Default largest media file: the largest documented file is 100 MB (docs/tencent-api.md, Message elements).
 */
const DEFAULT_MEDIA_MAX_BYTES = 200 * 1024 * 1024;

const MediaSchema = z.strictObject({
  /** Copy the media of archived messages into the archive. */
  enabled: z.boolean().default(true),
  allowedHosts: z.array(AllowedHostSchema).default([...DEFAULT_MEDIA_HOSTS]),
  /** Image sizes to copy: the original by default; `large` and `thumbnail` can be added. */
  imageSizes: z
    .array(z.enum(IMAGE_SIZE_CLASSES, { error: `must be one of ${IMAGE_SIZE_CLASSES.join(', ')}` }))
    .min(1, 'list at least one image size, e.g. ["original"]')
    .default(['original']),
  maxBytes: z
    .number()
    .int()
    .min(1, 'must be a positive number of bytes')
    .max(5 * 1024 ** 3, 'must be at most 5 GiB (S3 single-copy limit)')
    .default(DEFAULT_MEDIA_MAX_BYTES),
  /** Downloads in flight at once (they do not use the REST API's rate). */
  concurrency: z.number().int().min(1).max(256, 'must be at most 256').default(16),
  /*
   * The total time of one download, attempts included: min(downloadCapSeconds,
   * downloadFloorSeconds + size / minBytesPerSecond), the declared size or else maxBytes. A server
   * that sends a byte just inside the idle timeout cannot hold a download slot for ever (issue 21).
   * Defaults: 60 s, 64 KiB/s, 30 min (a 100 MB file gets 26 min 26 s).
   */
  downloadFloorSeconds: upTo(3_600, 'seconds').default(60),
  minBytesPerSecond: z
    .number({ error: 'must be a whole number of bytes per second from 1024 to 1073741824' })
    .int('must be a whole number of bytes per second from 1024 to 1073741824')
    .min(1_024, 'must be at least 1024 (1 KiB/s)')
    .max(1024 ** 3, 'must be at most 1073741824 (1 GiB/s)')
    .default(64 * 1024),
  downloadCapSeconds: upTo(86_400, 'seconds').default(1_800),
  /**
   * Bytes of media temp files at once (issue 22): a download reserves its declared size (maxBytes
   * when none is declared) before it starts and gives it back once its temp file is gone. Default
   * concurrency x maxBytes (see mediaTempBytesOf); in the stack it sizes the function's /tmp.
   */
  tempBytes: z
    .number({ error: 'must be a whole number of bytes, e.g. 4294967296 (4 GiB)' })
    .int('must be a whole number of bytes, e.g. 4294967296 (4 GiB)')
    .min(1, 'must be a whole number of bytes, at least 1')
    .optional(),
});
export type MediaConfig = z.output<typeof MediaSchema>;

type MediaTempSettings = Pick<MediaConfig, 'tempBytes' | 'concurrency' | 'maxBytes'>;

/**
 * The byte budget of media downloads in flight: `media.tempBytes`, by default `concurrency` x
 * `maxBytes`, and never more than that (at most `concurrency` downloads of at most `maxBytes` each
 * are in flight, so a larger budget changes nothing).
 */
export function mediaTempBytesOf(media: MediaTempSettings): number {
  const most = media.concurrency * media.maxBytes;
  return Math.min(media.tempBytes ?? most, most);
}

/**
 * The most bytes the media temp folder holds at once: the budget, or one file of `maxBytes` alone
 * when that is larger (a reservation above the budget runs alone: functions/domain/byte-budget.ts).
 */
export function mediaTempBoundOf(media: MediaTempSettings): number {
  return Math.max(mediaTempBytesOf(media), media.maxBytes);
}

/** The `media` section's defaults (the section parsed from `{}`), for code built without a config. */
export const MEDIA_DEFAULTS: MediaConfig = MediaSchema.parse({});

/** The download time limit of a `media` section, in the downloader's units. */
export function downloadDeadlineOf(
  media: Pick<MediaConfig, 'downloadFloorSeconds' | 'minBytesPerSecond' | 'downloadCapSeconds'>,
): DownloadDeadlineOptions {
  return {
    floorMs: media.downloadFloorSeconds * 1000,
    minBytesPerSecond: media.minBytesPerSecond,
    capMs: media.downloadCapSeconds * 1000,
  };
}

/** Days of history every run re-reads for changes, unless `rescan.days` says otherwise. */
export const DEFAULT_RESCAN_DAYS = 3;

export const ConfigSchema = z.strictObject({
  apps: z
    .array(AppSchema)
    .min(1, 'configure at least one app')
    .superRefine((apps, ctx) => {
      // Two entries of one app would share its state object and lease, and fight over both.
      const first = new Map<number, number>();
      apps.forEach((app, index) => {
        const earlier = first.get(app.sdkAppId);
        if (earlier === undefined) first.set(app.sdkAppId, index);
        else
          ctx.addIssue({
            code: 'custom',
            path: [index, 'sdkAppId'],
            message: `${app.sdkAppId} is already configured as apps.${earlier}; configure each app once (merge the two entries)`,
          });
      });
    }),
  archive: z
    .strictObject({
      /** A local folder, or `s3://bucket/prefix`. */
      out: z.string().min(1).default(DEFAULT_ARCHIVE_OUT),
      /** IANA zone for the `dt=` partitions. */
      timeZone: z
        .string()
        .refine(isTimeZone, 'must be an IANA time zone such as UTC or Asia/Shanghai')
        .default(DEFAULT_TIME_ZONE),
      /** Flush partition buffers at this many uncompressed MB. */
      flushMegabytes: z.number().positive().max(1024, 'must be at most 1024 (MB)').default(64),
    })
    .prefault({}),
  run: z
    .strictObject({
      checkpointSeconds: upTo(MAX_CHECKPOINT_SECONDS, 'seconds').default(60),
      leaseSeconds: upTo(MAX_LEASE_SECONDS, 'seconds').default(180),
      /** Stop starting new pages this many seconds after start (CLI); the Lambda uses its remaining time. */
      deadlineSeconds: upTo(MAX_DEADLINE_SECONDS, 'seconds').nullable().default(null),
    })
    .prefault({}),
  media: MediaSchema.prefault({}),
  /** Names as of message time (docs/names.md, Capture; docs/configuration.md). */
  identities: z
    .strictObject({
      /** Record nicknames, group names, name cards and roles every run. */
      enabled: z.boolean().default(true),
      /** The identity lookups' largest share of a run's API calls; the rest wait for the next run. */
      maxCallShare: z
        .number({ error: 'must be a fraction of the calls, 0 to 0.5' })
        .min(0, 'must be 0 (no lookups) or more')
        .max(0.5, 'must be at most 0.5 (half the calls)')
        .default(0.05),
      /** Lookups of each kind (users, groups, members) kept pending for the next run, at most. */
      maxPending: z
        .number({ error: 'must be a whole number of lookups' })
        .int('must be a whole number of lookups')
        .min(0, 'must be 0 or more')
        .max(10_000_000, 'must be at most 10,000,000')
        .default(100_000),
      /** Identity calls a run may always make, whatever the share (a small run names its senders). */
      minCalls: z
        .number({ error: 'must be a whole number of calls' })
        .int('must be a whole number of calls')
        .min(0, 'must be 0 or more')
        .max(10_000, 'must be at most 10,000')
        .default(4),
    })
    .prefault({}),
  rescan: z
    .strictObject({
      /**
       * Re-read this many days of every target each run (on the server's clock) to record recalls,
       * edits and deletions as new revisions; 0 turns the rescan off. At most each app's retentionDays.
       */
      days: z
        .number({ error: 'must be a whole number of days (0 turns the rescan off)' })
        .int('must be a whole number of days (0 turns the rescan off)')
        .min(0, 'must be 0 (off) or more')
        .max(MAX_DAYS, `must be at most ${MAX_DAYS}`)
        .default(DEFAULT_RESCAN_DAYS),
    })
    .prefault({}),
});
export type Config = z.output<typeof ConfigSchema>;

/** A whole number of seconds in an environment variable (`"300"`; not `"5m"`, not `""`), up to `max`. */
const envSeconds = (fallback: number, max: number) =>
  z
    .string()
    .regex(/^\d+$/, 'must be a whole number of seconds, such as 300')
    .transform(Number)
    .refine((n) => n <= max, `must be at most ${max} seconds`)
    .optional()
    .transform((n) => n ?? fallback);

/** The Lambda's numeric environment settings (the config itself comes as JSON in ARCHIVER_CONFIG). */
export const LambdaEnvSchema = z.looseObject({
  /** How long a fetched SSM value is reused before it is read again. */
  SECRET_CACHE_SECONDS: envSeconds(300, 86_400),
  /** The stack's `alarms.headroomDays`: pending media this close to retention is counted apart. */
  ALARM_HEADROOM_DAYS: z
    .string()
    .regex(/^\d+(\.\d+)?$/, 'must be a positive number of days, such as 2')
    .transform(Number)
    .refine((n) => n > 0, 'must be a positive number of days, such as 2')
    .refine((n) => n <= MAX_DAYS, `must be at most ${MAX_DAYS} days`)
    .optional(),
});
export type LambdaEnv = z.output<typeof LambdaEnvSchema>;

/**
 * Validate the Lambda's environment settings.
 * @throws ConfigError naming the variable and the fix
 */
export function parseLambdaEnv(env: Readonly<Record<string, string | undefined>>): LambdaEnv {
  const result = LambdaEnvSchema.safeParse(env);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const field = String(issue?.path[0] ?? '(environment)');
  throw new ConfigError(`Invalid environment: ${field}=${JSON.stringify(env[field])}: ${issue?.message}`, {
    field,
    cause: result.error,
  });
}

/**
 * Validate raw configuration (parsed JSON or CDK context).
 * @throws ConfigError naming the first bad field, with every problem listed in the message
 */
export function parseConfig(raw: unknown, source = 'config'): Config {
  const result = ConfigSchema.safeParse(raw);
  if (result.success) {
    assertLeaseCoversCheckpoints(result.data, source);
    assertRescanWithinRetention(result.data, source);
    return result.data;
  }
  // An unknown key is reported at the key itself (`apps.0.secretkey`), with the likely fix.
  const problems = result.error.issues.flatMap((issue) =>
    issue.code === 'unrecognized_keys'
      ? issue.keys.map((key) => ({
          field: [...issue.path, key].join('.'),
          message: 'unknown setting: check its spelling against the README, or remove it',
        }))
      : [{ field: issue.path.join('.'), message: issue.message }],
  );
  const lines = problems.map((p) => `  - ${p.field || '(root)'}: ${p.message}`);
  throw new ConfigError(`Invalid ${source}:\n${lines.join('\n')}`, {
    field: problems[0]?.field ?? '',
    cause: result.error,
  });
}

function assertLeaseCoversCheckpoints(config: Config, source: string): void {
  // Every checkpoint renews the lease; a lease shorter than two checkpoints could lapse mid-run.
  if (config.run.leaseSeconds < 2 * config.run.checkpointSeconds) {
    throw new ConfigError(
      `Invalid ${source}:\n  - run.leaseSeconds: must be at least twice run.checkpointSeconds (${config.run.checkpointSeconds})`,
      { field: 'run.leaseSeconds' },
    );
  }
}

function assertRescanWithinRetention(config: Config, source: string): void {
  // Beyond retention the server shows every message as an IsPlaceMsg 1 placeholder: a rescan there
  // would record expiry as deletion.
  const days = config.rescan.days;
  const shortest = config.apps.reduce(
    (min, app, i) => (app.retentionDays < min.days ? { days: app.retentionDays, i } : min),
    {
      days: Number.POSITIVE_INFINITY,
      i: -1,
    },
  );
  if (days > shortest.days) {
    throw new ConfigError(
      `Invalid ${source}:\n  - rescan.days: ${days} is beyond apps.${shortest.i}.retentionDays (${shortest.days}); ` +
        `set rescan.days to at most ${shortest.days}, or 0 to turn the rescan off`,
      { field: 'rescan.days' },
    );
  }
}
