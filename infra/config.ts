/**
 * The stack's configuration: the archiver config the CLI uses (same schema, same validation) plus
 * a `deploy` section for what exists only in AWS (schedule, bucket, alarms). It comes from the CDK
 * context: `archiver` (an inline object, as in cdk.json) or `archiverConfigFile` (a JSON file,
 * e.g. `npx cdk deploy -c archiverConfigFile=archiver.stack.json`), which wins when both are set.
 *
 * Every error is a ConfigError naming the dotted field, so `cdk synth` fails with the same kind of
 * message as the CLI.
 */
import { readFileSync } from 'node:fs';
import * as z from 'zod';
import { type Config, mediaTempBoundOf, parseConfig } from '../functions/config/schema.ts';
import { ConfigError } from '../functions/domain/errors.ts';
import { DEFAULT_HEADROOM_DAYS } from '../functions/domain/media-manifest.ts';
import { isTimeZone } from '../functions/domain/partition.ts';
import { secretParameters } from '../functions/lambda/lambda-config.ts';

const CLOUDWATCH_LOG_RETENTION_DAYS = [
  1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653,
] as const;

/** Step Functions keeps at most 25,000 events per execution; one loop turn of one app uses ~16. */
const HISTORY_EVENTS_LIMIT = 25_000;
export const HISTORY_EVENTS_PER_ITERATION = 16;

/** The stack name of the default stack, whose query names stay the historical ones. */
export const DEFAULT_STACK_NAME = 'TencentChatArchiver';
const DEFAULT_MAX_ITERATIONS = 48;
/** Apps archived at once by default (deploy.run.maxConcurrentApps). */
export const DEFAULT_MAX_CONCURRENT_APPS = 10;

const days = (max = 36_500) => z.number().int().positive().max(max);

const LifecycleSchema = z
  .strictObject({
    /** Move message files to S3 Standard-IA after this many days (S3 requires at least 30). */
    infrequentAccessAfterDays: days()
      .min(30, 'S3 requires at least 30 days before Standard-IA')
      .nullable()
      .default(30),
    /** Then to Glacier Instant Retrieval (still queryable by Athena). */
    glacierInstantRetrievalAfterDays: days().nullable().default(90),
    /** Then to Glacier Flexible Retrieval: cheaper, but Athena can no longer read those files. */
    glacierFlexibleRetrievalAfterDays: days().nullable().default(null),
    /** Then to Glacier Deep Archive: cheapest, not queryable, restores take up to 48 h. */
    deepArchiveAfterDays: days().nullable().default(null),
    /** Delete replaced or deleted object versions (rolled-back checkpoints, old state) after this. */
    noncurrentVersionExpirationDays: days().nullable().default(30),
  })
  .superRefine((lifecycle, ctx) => {
    // Transitions must come in this order, each later than the one before.
    const steps = [
      'infrequentAccessAfterDays',
      'glacierInstantRetrievalAfterDays',
      'glacierFlexibleRetrievalAfterDays',
      'deepArchiveAfterDays',
    ] as const;
    let previous: { key: string; day: number } | undefined;
    for (const key of steps) {
      const day = lifecycle[key];
      if (day === null) continue;
      const minimum = previous ? previous.day + (previous.key === 'infrequentAccessAfterDays' ? 30 : 1) : 0;
      if (previous && day < minimum) {
        ctx.addIssue({
          code: 'custom',
          path: [key],
          message: `must be at least ${minimum} (after ${previous.key}${previous.key === 'infrequentAccessAfterDays' ? ' + the 30 days S3 requires in Standard-IA' : ''})`,
        });
      }
      previous = { key, day };
    }
  });

const BucketSchema = z
  .strictObject({
    /** Use this existing bucket instead of creating one (its settings are then yours to manage). */
    existingBucketName: z
      .string()
      .regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, 'must be an S3 bucket name')
      .optional(),
    /** The KMS key ARN of the existing bucket's default encryption, if it uses a customer key. */
    existingBucketKmsKeyArn: z
      .string()
      .regex(/^arn:aws[a-z-]*:kms:/, 'must be a KMS key ARN')
      .optional(),
    /** Key prefix of the archive inside the bucket. */
    prefix: z
      .string()
      .regex(
        /^([A-Za-z0-9_.=-]+\/)*[A-Za-z0-9_.=-]*$/,
        'must be a key prefix such as archive or chat/archive',
      )
      .default('archive'),
    /** `kms`: SSE-KMS with a customer key created by the stack (rotated yearly); `s3`: SSE-S3. */
    encryption: z.enum(['kms', 's3'], { error: 'must be kms or s3' }).default('kms'),
    lifecycle: LifecycleSchema.prefault({}),
    /** Object Lock default retention (WORM) for compliance; only for a bucket the stack creates. */
    objectLock: z
      .strictObject({
        mode: z.enum(['COMPLIANCE', 'GOVERNANCE'], { error: 'must be COMPLIANCE or GOVERNANCE' }),
        days: days(),
      })
      .nullable()
      .default(null),
    /** How long the server access logs are kept. */
    accessLogExpirationDays: days().default(365),
  })
  .superRefine((bucket, ctx) => {
    if (bucket.existingBucketKmsKeyArn !== undefined && bucket.existingBucketName === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['existingBucketKmsKeyArn'],
        message: 'only with existingBucketName',
      });
    }
    if (bucket.existingBucketName !== undefined && bucket.objectLock !== null) {
      ctx.addIssue({
        code: 'custom',
        path: ['objectLock'],
        message:
          'Object Lock can only be set on a bucket the stack creates; configure it on your bucket instead',
      });
    }
  });

/**
 * An EventBridge Scheduler cron: 6 fields, one of day-of-month and day-of-week `?` (Scheduler
 * rejects a cron that sets both, `*` included, or neither, at deploy time).
 */
function cronField(example: string) {
  return z
    .string()
    .regex(
      /^\S+( \S+){5}$/,
      `must have 6 fields: minutes hours day-of-month month day-of-week year, e.g. "${example}"`,
    )
    .refine((cron) => {
      const [, , dayOfMonth, , dayOfWeek] = cron.split(' ');
      return (dayOfMonth === '?') !== (dayOfWeek === '?');
    }, `day-of-month and day-of-week cannot both be set (a * counts as set) nor both be ?: put ? in exactly one of them, e.g. "${example}"`);
}

/** Sundays at 10:00 (schedule time zone): after the nightly run and its deadline check. */
export const DEFAULT_AUDIT_CRON = '0 10 ? * SUN *';

export const DeploySchema = z.strictObject({
  /** The CloudFormation stack name. */
  stackName: z
    .string()
    .regex(/^[A-Za-z][A-Za-z0-9-]{0,127}$/, 'must be a CloudFormation stack name')
    .default(DEFAULT_STACK_NAME),
  schedule: z
    .strictObject({
      /** EventBridge Scheduler cron: minutes hours day-of-month month day-of-week year. */
      cron: cronField('0 2 * * ? *').default('0 2 * * ? *'),
      /**
       * IANA time zone the cron is read in. Scheduler follows daylight saving time, and a time
       * the spring-forward change skips does not run that day: in a zone with DST, pick a time
       * outside the switch (mostly 00:00-04:00 local), or accept that one night a year is skipped
       * (the next night catches up). The default zone, UTC, has no DST.
       */
      timeZone: z
        .string()
        .refine(isTimeZone, 'must be an IANA time zone such as UTC or Asia/Shanghai')
        .default('UTC'),
      enabled: z.boolean().default(true),
    })
    .prefault({}),
  run: z
    .strictObject({
      /**
       * Invocations per app per execution. An app still behind after them continues in a new
       * execution by itself (no alarm). Default: 48, or fewer when the apps' loops would not fit
       * in one execution's history.
       */
      maxIterations: z.number().int().min(1).max(500).optional(),
      /**
       * Consecutive invocations of one app that archive nothing and leave no fewer groups behind
       * before the app counts as stuck (it stops, and the no-progress alarm fires).
       */
      noProgressInvocations: z.number().int().min(2).max(50).default(3),
      /**
       * Apps archived at once. Each holds one Lambda concurrency slot for up to the function
       * timeout; the others wait for a free branch. At most 40 (an inline Map's concurrent
       * iterations). Lower it when the account's Lambda concurrency is small.
       */
      maxConcurrentApps: z
        .number()
        .int()
        .min(1)
        .max(40, 'must be at most 40 (an inline Map runs at most 40 iterations at once)')
        .default(DEFAULT_MAX_CONCURRENT_APPS),
      /** The function's memory: CPU and network scale with it (media downloads, gzip). */
      memoryMb: z.number().int().min(256).max(10_240).default(1024),
      /** The function's timeout; every invocation pages until shortly before it, then commits. */
      timeoutSeconds: z.number().int().min(120, 'must be at least 120 (2 minutes)').max(900).default(900),
    })
    .prefault({}),
  secrets: z
    .strictObject({
      /** The customer KMS key of the SecureString parameters; omit for the default `aws/ssm` key. */
      kmsKeyArn: z
        .string()
        .regex(/^arn:aws[a-z-]*:kms:/, 'must be a KMS key ARN')
        .optional(),
    })
    .default({}),
  bucket: BucketSchema.prefault({}),
  /**
   * The callback receiver (docs/callbacks.md): deployed when an app has `callbackToken` (an SSM
   * parameter); a Lambda behind a Function URL that puts each authentic event into Firehose.
   */
  callbacks: z
    .strictObject({
      /** The receiver's reserved concurrency: its throttle, and what it can never take from the archiver. */
      reservedConcurrency: z.number().int().min(1).max(1000).default(20),
      /** Forged or stale requests in 5 minutes that raise an alarm. */
      refusedAlarmThreshold: z.number().int().min(1).default(10),
      /** Seconds Firehose buffers before writing an object (60-900): fewer, larger objects when longer. */
      bufferSeconds: z.number().int().min(60).max(900).default(300),
      /**
       * New messages the nightly pull must archive for an app in a day without one recorded
       * callback of that app to raise the silence alarm (callbacks stopped arriving); 0: no alarm.
       */
      silenceAlarmMinMessages: z.number().int().min(0).default(1),
      /**
       * The loss rate (percent: pull-only / (pull-only + matched) messages, summed over a day) above
       * which an app with a callback token raises the loss-rate alarm; 0: no alarm.
       */
      lossRateAlarmPercent: z
        .number()
        .min(0, 'must be a percentage from 0 (no alarm) to 100')
        .max(100, 'must be a percentage from 0 (no alarm) to 100')
        .default(5),
      /**
       * Messages the day's reconciliation must have compared (pull-only plus matched) before the
       * loss-rate alarm judges the rate: a few lost of a handful is noise.
       */
      lossRateAlarmMinMessages: z.number().int().min(1, 'must be at least 1').default(20),
    })
    .prefault({}),
  alarms: z
    .strictObject({
      /** Subscribe this address to the alarm topic (confirm the e-mail AWS sends). */
      email: z.email({ error: 'must be an e-mail address' }).optional(),
      /** A run still in progress at this hour (schedule time zone) raises an alarm. */
      runNotDoneByHour: z.number().int().min(0).max(23).default(8),
      /** Errors (failed groups, failed invocations) per hour that raise an alarm. */
      errorsPerHour: z.number().int().min(1).default(5),
      /** Alarm when unarchived history is this close (days) to Tencent's retention limit. */
      headroomDays: z.number().positive().default(DEFAULT_HEADROOM_DAYS),
    })
    .prefault({}),
  query: z
    .strictObject({
      /** First date the archive can hold (`YYYY-MM-DD`): where Athena's projected `dt` range starts. */
      dtStart: z
        .string()
        .regex(
          /^\d{4}-\d{2}-\d{2}$/,
          'must be a date like 2025-01-01 (the oldest message you expect to archive)',
        )
        .refine((d) => !Number.isNaN(Date.parse(`${d}T00:00:00Z`)), 'must be a real date')
        .default('2025-01-01'),
      /** Default: `chat_archive`, or `chat_archive_<stack name>` for any other stack name. */
      databaseName: z
        .string()
        .regex(/^[a-z][a-z0-9_]{0,254}$/, 'must be lower-case letters, digits and underscores')
        .optional(),
      /** Default: `chat-archive`, or `chat-archive-<stack name>` for any other stack name. */
      workGroupName: z
        .string()
        .regex(/^[A-Za-z0-9._-]{1,128}$/, 'must be letters, digits, dots, dashes or underscores')
        .optional(),
      /** Per-query scan limit of the workgroup, in GB (Athena's minimum is 10 MB). */
      bytesScannedCutoffGb: z.number().min(0.01).default(10),
    })
    .prefault({}),
  audit: z
    .strictObject({
      /**
       * When the stack runs the completeness audit (EventBridge Scheduler cron in
       * `schedule.timeZone`). Weekly by default, after the run deadline hour: each audit scans the
       * whole archive with Athena, so a weekly audit costs a seventh of a nightly one.
       */
      cron: cronField(DEFAULT_AUDIT_CRON).default(DEFAULT_AUDIT_CRON),
      /** false: the audit function and its alarms exist, but the schedule is off. */
      enabled: z.boolean().default(true),
      /** The audit function's memory. */
      memoryMb: z.number().int().min(256).max(10_240).default(1024),
    })
    .prefault({}),
  logRetentionDays: z
    .number()
    .refine(
      (n) => (CLOUDWATCH_LOG_RETENTION_DAYS as readonly number[]).includes(n),
      `must be one of ${CLOUDWATCH_LOG_RETENTION_DAYS.join(', ')}`,
    )
    .default(90),
});
type ParsedDeploy = z.output<typeof DeploySchema>;

/** The deploy settings with every default resolved (names and bounds that depend on others). */
export type DeployConfig = Omit<ParsedDeploy, 'run' | 'query'> & {
  run: Required<ParsedDeploy['run']> & {
    /** The archiver function's `/tmp`, sized for the media downloads in flight (MB). */
    ephemeralStorageMb: number;
  };
  query: Required<ParsedDeploy['query']>;
};

/** Lambda's `/tmp` without media, and what stays free beside the media files (MB). */
export const EPHEMERAL_STORAGE_BASE_MB = 512;
/** The most `/tmp` Lambda gives a function (MB). */
export const EPHEMERAL_STORAGE_MAX_MB = 10_240;
const MIB = 1024 * 1024;

/**
 * The `/tmp` the archiver function needs: the media temp files at their most
 * ({@link mediaTempBoundOf}: the byte budget `media.tempBytes`, by default `media.concurrency` x
 * `media.maxBytes`, that downloads reserve before they start: functions/engine/media-budget.ts),
 * plus {@link EPHEMERAL_STORAGE_BASE_MB} for everything else.
 * @throws ConfigError naming the media setting to lower when that exceeds Lambda's 10,240 MB
 */
export function ephemeralStorageMb(config: Config, source = 'archiver config'): number {
  const media = config.media;
  if (!media.enabled) return EPHEMERAL_STORAGE_BASE_MB;
  const needed = Math.ceil(mediaTempBoundOf(media) / MIB) + EPHEMERAL_STORAGE_BASE_MB;
  if (needed <= EPHEMERAL_STORAGE_MAX_MB) return needed;
  const room = (EPHEMERAL_STORAGE_MAX_MB - EPHEMERAL_STORAGE_BASE_MB) * MIB;
  const tooMuch = `need ${needed} MB of /tmp (with ${EPHEMERAL_STORAGE_BASE_MB} MB to spare), more than the ${EPHEMERAL_STORAGE_MAX_MB} MB Lambda allows`;
  if (media.tempBytes !== undefined) {
    throw new ConfigError(
      `Invalid ${source}:\n  - media.tempBytes: ${media.tempBytes} bytes of media temp files at once ${tooMuch}; lower media.tempBytes to ${room} or less`,
      { field: 'media.tempBytes' },
    );
  }
  const fitting = Math.floor(room / media.maxBytes);
  throw new ConfigError(
    `Invalid ${source}:\n  - media.concurrency, media.maxBytes: ${media.concurrency} downloads in flight x ${media.maxBytes} bytes each ${tooMuch}; lower media.concurrency to ${fitting} or less, or media.maxBytes, or set media.tempBytes (the bytes of downloads in flight at once) to ${room} or less`,
    { field: 'media.concurrency' },
  );
}

/** The archiver config (as the Lambda will see it) and the deploy settings. */
export interface StackConfig {
  /** Validated, for synth-time checks and the stack's own use. */
  config: Config;
  /** What the functions receive (a file in their bundle): the input as written, minus `deploy`. */
  rawConfig: Record<string, unknown>;
  deploy: DeployConfig;
}

/**
 * Validate a stack configuration object.
 * @throws ConfigError naming the first bad field, e.g. `deploy.schedule.timeZone` or `apps.0.secretKey`
 */
export function parseStackConfig(raw: unknown, source = 'archiver config'): StackConfig {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new ConfigError(`Invalid ${source}: must be an object with apps and deploy`, { field: '(root)' });
  }
  const { deploy: rawDeploy, ...rawConfig } = raw as Record<string, unknown>;
  const config = parseConfig(rawConfig, source);
  secretParameters(config);
  const parsed = DeploySchema.safeParse(rawDeploy ?? {});
  if (!parsed.success) {
    const issues = parsed.error.issues.flatMap((issue) =>
      issue.code === 'unrecognized_keys'
        ? issue.keys.map((key) => ({
            field: ['deploy', ...issue.path, key].join('.'),
            message: 'unknown setting',
          }))
        : [{ field: ['deploy', ...issue.path].join('.'), message: issue.message }],
    );
    throw new ConfigError(
      `Invalid ${source}:\n${issues.map((i) => `  - ${i.field}: ${i.message}`).join('\n')}`,
      {
        field: issues[0]?.field ?? 'deploy',
        cause: parsed.error,
      },
    );
  }
  const deploy = resolveDeploy(parsed.data, config.apps.length, source);
  deploy.run.ephemeralStorageMb = ephemeralStorageMb(config, source);
  return { config, rawConfig, deploy };
}

/**
 * Fill in what depends on other settings: the iteration bound that fits one execution's history,
 * and Glue/Athena names unique to the stack (two stacks in one account and region must not share
 * a database or a workgroup).
 * @throws ConfigError naming deploy.run.maxIterations when an explicit bound cannot fit
 */
function resolveDeploy(deploy: ParsedDeploy, apps: number, source: string): DeployConfig {
  const fitting = Math.floor(HISTORY_EVENTS_LIMIT / HISTORY_EVENTS_PER_ITERATION / apps);
  if (deploy.run.maxIterations !== undefined && deploy.run.maxIterations > fitting) {
    throw new ConfigError(
      `Invalid ${source}:\n  - deploy.run.maxIterations: ${deploy.run.maxIterations} iterations x ${apps} apps could exceed the ${HISTORY_EVENTS_LIMIT} history events of one Step Functions execution; lower it to ${fitting} or less, or leave it out (an app still behind continues in a new execution)`,
      { field: 'deploy.run.maxIterations' },
    );
  }
  if (fitting < 1) {
    throw new ConfigError(
      `Invalid ${source}:\n  - apps: ${apps} apps cannot share one Step Functions execution (${HISTORY_EVENTS_LIMIT} history events); deploy one stack per group of apps`,
      { field: 'apps' },
    );
  }
  const suffix = deploy.stackName === DEFAULT_STACK_NAME ? '' : deploy.stackName.toLowerCase();
  return {
    ...deploy,
    run: {
      ...deploy.run,
      maxIterations: deploy.run.maxIterations ?? Math.min(DEFAULT_MAX_ITERATIONS, fitting),
      ephemeralStorageMb: EPHEMERAL_STORAGE_BASE_MB,
    },
    query: {
      ...deploy.query,
      databaseName:
        deploy.query.databaseName ??
        (suffix === '' ? 'chat_archive' : `chat_archive_${suffix.replaceAll('-', '_')}`),
      workGroupName:
        deploy.query.workGroupName ?? (suffix === '' ? 'chat-archive' : `chat-archive-${suffix}`),
    },
  };
}

/** Where the stack config comes from: the CDK context of the app. */
export interface ContextSource {
  tryGetContext(key: string): unknown;
}

/**
 * Read `archiverConfigFile` (a JSON file path) or `archiver` (an object, or a JSON string when
 * given with `-c`) from the CDK context and validate it.
 * @throws ConfigError naming the field (or the context key when neither is set)
 */
export function loadStackConfig(
  node: ContextSource,
  readFile = (p: string) => readFileSync(p, 'utf8'),
): StackConfig {
  const file = node.tryGetContext('archiverConfigFile');
  if (typeof file === 'string' && file !== '') {
    let text: string;
    try {
      text = readFile(file);
    } catch (cause) {
      throw new ConfigError(
        `Cannot read archiverConfigFile ${file}: ${(cause as NodeJS.ErrnoException).code ?? cause}`,
        {
          field: 'archiverConfigFile',
          cause,
        },
      );
    }
    return parseStackConfig(
      parseJson(text, `config file ${file}`, 'archiverConfigFile'),
      `config file ${file}`,
    );
  }
  const inline = node.tryGetContext('archiver');
  if (inline === undefined) {
    throw new ConfigError(
      'No archiver config: set the context key "archiver" in cdk.json, or pass -c archiverConfigFile=<file.json>',
      { field: 'archiver' },
    );
  }
  const raw = typeof inline === 'string' ? parseJson(inline, 'context archiver', 'archiver') : inline;
  return parseStackConfig(raw, 'cdk context "archiver"');
}

function parseJson(text: string, what: string, field: string): unknown {
  try {
    // Notepad and other Windows editors save UTF-8 with a byte order mark, which JSON.parse refuses
    // (the CLI's loader, functions/cli/load-config.ts, tolerates it the same way).
    return JSON.parse(text.replace(/^\uFEFF/, ''));
  } catch (cause) {
    throw new ConfigError(`${what} is not valid JSON: ${(cause as Error).message}`, { field, cause });
  }
}
