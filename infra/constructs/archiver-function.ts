/**
 * The archiver function: the middy handler bundled locally by esbuild (no Docker), ESM, Node.js 24
 * on arm64, with a role that can do exactly what the engine does and nothing else.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Duration, Size, Stack, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as nodejs from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { ENV, METRICS_NAMESPACE, SERVICE_NAME } from '../../functions/lambda/contract.ts';
import { secretParameters } from '../../functions/lambda/lambda-config.ts';
import type { StackConfig } from '../config.ts';
import type { ArchiveBucket } from './archive-bucket.ts';

/** The repository root (this file is `infra/constructs/…`). */
const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** esbuild options shared by the stack and the bundle-size test. */
export const BUNDLING: nodejs.BundlingOptions = {
  format: nodejs.OutputFormat.ESM,
  target: 'node22',
  minify: true,
  // A source map would make the asset hash depend on the output folder's depth.
  sourceMap: false,
  mainFields: ['module', 'main'],
  // Some CJS dependencies call require(); ESM bundles have none unless it is made.
  banner: "import { createRequire } from 'module'; const require = createRequire(import.meta.url);",
  // Bundle the AWS SDK too: pinned versions, and smaller than the runtime's full copy to load.
  externalModules: [],
};

/** The archiver config's file in the function bundles (functions/lambda/lambda-config.ts reads it). */
export const CONFIG_FILE_NAME = 'archiver-config.json';

/**
 * {@link BUNDLING}, plus the archiver config as {@link CONFIG_FILE_NAME} beside the bundle: an
 * environment holds at most 4 KB (about 19 apps), a file any number. The asset hash is the
 * bundle's output, so a changed config deploys a new function version. The JSON is written to a
 * temporary file named by its content (the same command, so the same placeholder hash when a test
 * skips bundling) and copied after esbuild ran.
 */
export function bundlingWithConfig(rawConfig: Record<string, unknown>): nodejs.BundlingOptions {
  const json = JSON.stringify(rawConfig);
  const dir = join(tmpdir(), 'tencent-chat-archiver-config');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${createHash('sha256').update(json).digest('hex')}.json`);
  writeFileSync(file, json);
  const quote = (path: string) => `'${path.replaceAll("'", "'\\''")}'`;
  return {
    ...BUNDLING,
    commandHooks: {
      beforeBundling: () => [],
      beforeInstall: () => [],
      afterBundling: (_inputDir: string, outputDir: string) => [
        `cp ${quote(file)} ${quote(join(outputDir, CONFIG_FILE_NAME))}`,
      ],
    },
  };
}

export interface ArchiverFunctionProps {
  stackConfig: StackConfig;
  archive: ArchiveBucket;
  logRetention: logs.RetentionDays;
}

export class ArchiverFunction extends Construct {
  public readonly function: nodejs.NodejsFunction;
  public readonly logGroup: logs.LogGroup;

  public constructor(scope: Construct, id: string, props: ArchiverFunctionProps) {
    super(scope, id);
    const { config, rawConfig, deploy } = props.stackConfig;
    this.logGroup = new logs.LogGroup(this, 'Logs', { retention: props.logRetention });
    const role = new iam.Role(this, 'Role', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: 'tencent-chat-archiver function: its log group, the archive prefix, its SSM parameters',
    });
    // Instead of AWSLambdaBasicExecutionRole (any log group): only this function's.
    this.logGroup.grantWrite(role);
    props.archive.grantArchiveReadWrite(role);
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'SecretParameters',
        // @middy/ssm reads them in one batched GetParameters call.
        actions: ['ssm:GetParameters'],
        resources: secretParameters(config).map((p) => parameterArn(this, p.name)),
      }),
    );
    if (deploy.secrets.kmsKeyArn !== undefined) {
      role.addToPrincipalPolicy(
        new iam.PolicyStatement({
          sid: 'SecretParametersKey',
          actions: ['kms:Decrypt'],
          resources: [deploy.secrets.kmsKeyArn],
          conditions: { StringEquals: { 'kms:ViaService': `ssm.${Stack.of(this).region}.amazonaws.com` } },
        }),
      );
    }

    this.function = new nodejs.NodejsFunction(this, 'Function', {
      description: 'tencent-chat-archiver: archives one Tencent Cloud Chat app per invocation, resumably',
      entry: `${ROOT}functions/lambda/handler.ts`,
      handler: 'handler',
      projectRoot: ROOT,
      depsLockFilePath: `${ROOT}package-lock.json`,
      runtime: lambda.Runtime.NODEJS_24_X,
      architecture: lambda.Architecture.ARM_64,
      memorySize: deploy.run.memoryMb,
      // Default 15 minutes, the most Lambda allows; the handler stops paging well before it
      // (time-budget.ts reads what is left from the Lambda context).
      timeout: Duration.seconds(deploy.run.timeoutSeconds),
      // Media files wait in /tmp between download and upload: room for every download in flight
      // at its largest (infra/config.ts, ephemeralStorageMb).
      ephemeralStorageSize: Size.mebibytes(deploy.run.ephemeralStorageMb),
      role,
      logGroup: this.logGroup,
      loggingFormat: lambda.LoggingFormat.JSON,
      tracing: lambda.Tracing.ACTIVE,
      environment: {
        [ENV.configFile]: CONFIG_FILE_NAME,
        [ENV.bucket]: props.archive.bucket.bucketName,
        [ENV.prefix]: props.archive.prefix,
        [ENV.headroomDays]: String(deploy.alarms.headroomDays),
        POWERTOOLS_SERVICE_NAME: SERVICE_NAME,
        POWERTOOLS_METRICS_NAMESPACE: METRICS_NAMESPACE,
        POWERTOOLS_LOG_LEVEL: 'INFO',
      },
      bundling: bundlingWithConfig(rawConfig),
    });
    for (const resource of props.archive.findingResources()) {
      Validations.of(role).acknowledge({
        id: `AwsSolutions-IAM5[Resource::${resource}]`,
        reason:
          'Object keys are created per run, date and media file (messages/, state/, runs/, media/), so the grant is the archive prefix (multipart clean-up: its media prefixes), not single keys; nothing outside the prefix is readable or writable.',
      });
    }
    Validations.of(role).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason:
        'Only xray:PutTraceSegments and xray:PutTelemetryRecords (active tracing), which support no resource-level permissions.',
    });
    Validations.of(this.function).acknowledge({
      id: 'Serverless-LambdaDLQ',
      reason:
        'Invoked only synchronously by the Step Functions loop, which retries and catches every failure; an asynchronous dead-letter queue would never receive anything.',
    });
  }
}

/** `arn:…:ssm:<region>:<account>:parameter/<name without its leading slash>`. */
function parameterArn(scope: Construct, name: string): string {
  return Stack.of(scope).formatArn({
    service: 'ssm',
    resource: 'parameter',
    resourceName: name.replace(/^\//, ''),
  });
}
