/**
 * A middy `before` middleware placed after @middy/ssm: it waits for the one parameter this
 * invocation's app needs and hands it to the handler on the context, under a non-enumerable
 * property so that nothing that serialises or logs the context can carry the secret.
 *
 * @middy/ssm fetches every configured parameter in one batched `GetParameters` call and caches
 * them; one app's missing parameter must not fail the others, so only this app's value is
 * awaited and the other promises get a no-op handler (an unawaited rejection would crash Node).
 */
import type { Context } from 'aws-lambda';
import type { Config } from '../config/schema.ts';
import { ConfigError } from '../domain/errors.ts';
import type { ArchiveEvent } from './contract.ts';
import { TransientError } from './errors.ts';
import type { SecretParameter } from './lambda-config.ts';

const SECRETS = Symbol('archiverSecrets');

/** The context as the handler sees it after this middleware. */
export type ContextWithSecrets = Context & { [SECRETS]?: ReadonlyMap<string, string> };

/** The SSM values fetched for this invocation's app, by parameter name. */
export function secretsOf(context: Context): ReadonlyMap<string, string> {
  return (context as ContextWithSecrets)[SECRETS] ?? new Map();
}

/**
 * The app an event names.
 * @throws ConfigError (field `sdkAppId`) for a malformed event or an app not in the config
 */
export function appIndexFor(event: unknown, config: Config): number {
  const sdkAppId = (event as Partial<ArchiveEvent> | null)?.sdkAppId;
  if (typeof sdkAppId !== 'number' || !Number.isSafeInteger(sdkAppId)) {
    throw new ConfigError('The event must be { "sdkAppId": <number> }', { field: 'sdkAppId' });
  }
  const index = config.apps.findIndex((app) => app.sdkAppId === sdkAppId);
  if (index < 0) {
    const known = config.apps.map((a) => a.sdkAppId).join(', ');
    throw new ConfigError(`sdkAppId ${sdkAppId} is not configured (configured: ${known})`, {
      field: 'sdkAppId',
    });
  }
  return index;
}

interface MiddyRequestLike {
  event: unknown;
  context: Context;
  internal: Record<string, unknown>;
}

/** A `before` middleware that rejects a malformed event before anything is fetched. */
export function validateEvent(config: Config) {
  return {
    before: (request: MiddyRequestLike): void => {
      appIndexFor(request.event, config);
    },
  };
}

/** The middleware: resolves the event's app secret from middy's internal store onto the context. */
export function appSecretsFromSsm(config: Config, parameters: readonly SecretParameter[]) {
  return {
    before: async (request: MiddyRequestLike): Promise<void> => {
      for (const value of Object.values(request.internal)) {
        if (value instanceof Promise) value.catch(() => undefined);
      }
      const appIndex = appIndexFor(request.event, config);
      const values = new Map<string, string>();
      for (const parameter of parameters.filter((p) => p.appIndex === appIndex)) {
        values.set(parameter.name, await fetchedValue(request.internal[parameter.internalKey], parameter));
      }
      Object.defineProperty(request.context, SECRETS, {
        value: values,
        enumerable: false,
        configurable: true,
      });
    },
  };
}

async function fetchedValue(fetched: unknown, parameter: SecretParameter): Promise<string> {
  let value: unknown;
  try {
    value = await fetched;
  } catch (error) {
    throw unreadable(parameter, error);
  }
  if (typeof value !== 'string' || value.trim() === '') {
    // @middy/ssm JSON-parses values that look like JSON; a key or UserSig never does.
    throw new ConfigError(
      `${parameter.field}: SSM parameter ${parameter.name} is empty or not a plain string`,
      { field: parameter.field },
    );
  }
  return value;
}

/**
 * A missing or forbidden parameter is configuration (retrying cannot help); anything else
 * (throttling, a network blip) is transient. Messages name the parameter and the fix.
 */
function unreadable(parameter: SecretParameter, error: unknown): Error {
  const text = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  const what = `${parameter.field}: cannot read SSM parameter ${parameter.name}`;
  if (/InvalidParameter|ParameterNotFound/.test(text)) {
    return new ConfigError(
      `${what} (not found); create it in the stack's region: aws ssm put-parameter --type SecureString --name ${parameter.name} --value <secret key>`,
      { field: parameter.field, cause: error },
    );
  }
  if (/AccessDenied|not authorized|KMS/i.test(text)) {
    return new ConfigError(
      `${what} (access denied); the function may read only the parameters named in its config, and decrypt only with the configured key: redeploy after changing either`,
      { field: parameter.field, cause: error },
    );
  }
  return new TransientError(`${what} (${(error as Error)?.name || 'error'}); retry later`, { cause: error });
}
