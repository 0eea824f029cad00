/**
 * The Lambda's view of the archiver config: the CLI's schema, plus what only holds in Lambda.
 * The CDK stack runs the same checks at synth time, so a config that deploys is one that starts.
 */
import { readFileSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import { type AppConfig, type Config, parseConfig, parseLambdaEnv } from '../config/schema.ts';
import { ConfigError } from '../domain/errors.ts';
import { ENV } from './contract.ts';

/** One SSM parameter the function reads: which app and field it serves, and middy's key for it. */
export interface SecretParameter {
  appIndex: number;
  sdkAppId: number;
  /** The config field, e.g. `apps.0.secretKey`, for error messages. */
  field: string;
  /** The parameter name, e.g. `/tencent-chat-archiver/1400000000/secret-key`. */
  name: string;
  /** The key @middy/ssm stores the value under (letters, digits, `_`). */
  internalKey: string;
}

/**
 * The SSM parameters the config names, one per app (its secret key or ready UserSig).
 * @throws ConfigError naming `apps.N.secretKey` / `apps.N.userSig` when a secret is not in SSM:
 *   the function has no environment variable or file to read a secret from.
 */
export function secretParameters(config: Config): SecretParameter[] {
  return config.apps.map((app, appIndex) => {
    const kind = app.secretKey ? 'secretKey' : 'userSig';
    const field = `apps.${appIndex}.${kind}`;
    const source = app[kind] as NonNullable<AppConfig['secretKey']>;
    if (!('ssmParameter' in source)) {
      throw new ConfigError(
        `${field}: the Lambda reads secrets only from SSM Parameter Store; use { "ssmParameter": "/tencent-chat-archiver/${app.sdkAppId}/secret-key" } and create that SecureString`,
        { field },
      );
    }
    return {
      appIndex,
      sdkAppId: app.sdkAppId,
      field,
      name: source.ssmParameter,
      internalKey: `app${app.sdkAppId}_${kind}`,
    };
  });
}

/** `archive` → `archive/`; `''` stays empty; surrounding slashes are dropped. */
export function normalizeArchivePrefix(prefix: string): string {
  const trimmed = prefix.replace(/^\/+|\/+$/g, '');
  return trimmed === '' ? '' : `${trimmed}/`;
}

/**
 * Read and validate the config the stack bundled with the function (`ARCHIVER_CONFIG_FILE`) or
 * put in the environment (`ARCHIVER_CONFIG`, which wins), pointing `archive.out` at the stack's
 * bucket (the config's own `archive.out` is for the CLI and is ignored here).
 * @throws ConfigError naming the variable or the field
 */
export function loadLambdaConfig(
  env: Readonly<Record<string, string | undefined>>,
  readFile: (path: string) => string = (path) => readFileSync(path, 'utf8'),
): Config {
  // The numeric settings first: a "5m" must fail the init, not become NaN.
  parseLambdaEnv(env);
  const { text, field } = configText(env, readFile);
  const bucket = env[ENV.bucket];
  if (bucket === undefined || bucket === '')
    throw new ConfigError(`${ENV.bucket} is not set`, { field: ENV.bucket });
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (cause) {
    throw new ConfigError(`${field} is not valid JSON`, { field, cause });
  }
  const config = parseConfig(raw, field);
  secretParameters(config);
  config.archive.out = `s3://${bucket}/${normalizeArchivePrefix(env[ENV.prefix] ?? '')}`;
  return config;
}

/** The config's JSON text, and the variable it came through (for error messages). */
function configText(
  env: Readonly<Record<string, string | undefined>>,
  readFile: (path: string) => string,
): { text: string; field: string } {
  const inline = env[ENV.config];
  if (inline !== undefined) return { text: inline, field: ENV.config };
  const file = env[ENV.configFile];
  if (file === undefined || file === '') {
    throw new ConfigError(`${ENV.config} or ${ENV.configFile} is not set`, { field: ENV.config });
  }
  const path = isAbsolute(file) ? file : join(env.LAMBDA_TASK_ROOT ?? process.cwd(), file);
  try {
    return { text: readFile(path), field: ENV.configFile };
  } catch (cause) {
    throw new ConfigError(`${ENV.configFile}: cannot read ${path}`, { field: ENV.configFile, cause });
  }
}
