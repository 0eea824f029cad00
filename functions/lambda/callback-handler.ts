/**
 * The callback receiver on AWS (issue 25, docs/callbacks.md): a Lambda behind a Function URL.
 * Tencent cannot sign SigV4, so the URL has no IAM auth; the Sign in the query is the
 * authentication (functions/domain/callback-auth.ts). Each request: the body capped, the app's
 * token from SSM (cached, read only for the app the query names), the engine's decision
 * (functions/engine/callback-receiver.ts), the row into Firehose before the answer, and metrics per
 * outcome. Secrets never reach a log line or an answer.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import middy from '@middy/core';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import { DEFAULT_MAX_BODY_BYTES } from '../adapters/callbacks/receiver-server.ts';
import { systemClock } from '../adapters/system-clock.ts';
import { composeCallbackForwarder, composeLambdaCallbackSink } from '../composition.ts';
import { type Config, parseLambdaEnv } from '../config/schema.ts';
import { CALLBACK_REFUSALS } from '../domain/callback-auth.ts';
import { ConfigError } from '../domain/errors.ts';
import { CallbackReceiver, type CallbackSink, type ReceiverAnswer } from '../engine/callback-receiver.ts';
import {
  APP_DIMENSION,
  ENV,
  METRIC,
  METRICS_NAMESPACE,
  REFUSAL_DIMENSION,
  SERVICE_NAME,
} from './contract.ts';
import { loadLambdaConfig } from './lambda-config.ts';
import { cachedSsm } from './ssm-cache.ts';

/** One app's callback token parameter. */
export interface TokenParameter {
  sdkAppId: number;
  field: string;
  name: string;
  internalKey: string;
}

/**
 * The SSM parameters of the apps' callback tokens.
 * @throws ConfigError naming `apps.N.callbackToken` when a token is not in SSM, or when no app has one
 */
export function callbackTokenParameters(config: Config): TokenParameter[] {
  const parameters: TokenParameter[] = [];
  for (const [index, app] of config.apps.entries()) {
    if (app.callbackToken === undefined) continue;
    const field = `apps.${index}.callbackToken`;
    if (!('ssmParameter' in app.callbackToken)) {
      throw new ConfigError(
        `${field}: the Lambda reads the callback token only from SSM Parameter Store; use { "ssmParameter": "/tencent-chat-archiver/${app.sdkAppId}/callback-token" } and create that SecureString`,
        { field },
      );
    }
    parameters.push({
      sdkAppId: app.sdkAppId,
      field,
      name: app.callbackToken.ssmParameter,
      internalKey: `app${app.sdkAppId}_callbackToken`,
    });
  }
  if (parameters.length === 0) {
    throw new ConfigError(
      'apps.0.callbackToken: the callback receiver needs at least one app with a callbackToken',
      {
        field: 'apps.0.callbackToken',
      },
    );
  }
  return parameters;
}

const TOKENS = Symbol('callbackTokens');
type ContextWithTokens = Context & { [TOKENS]?: ReadonlyMap<number, string> };

/** The token of the app the query names, awaited from middy's store (the others' promises left alone). */
function tokenOfQueriedApp(parameters: readonly TokenParameter[]) {
  return {
    before: async (request: { event: unknown; context: Context; internal: Record<string, unknown> }) => {
      for (const value of Object.values(request.internal)) {
        if (value instanceof Promise) value.catch(() => undefined);
      }
      const queried = (request.event as APIGatewayProxyEventV2).queryStringParameters?.SdkAppid;
      const parameter = parameters.find((p) => String(p.sdkAppId) === queried);
      const tokens = new Map<number, string>();
      if (parameter !== undefined) {
        const value = await request.internal[parameter.internalKey];
        if (typeof value !== 'string' || value.trim() === '') {
          throw new ConfigError(
            `${parameter.field}: SSM parameter ${parameter.name} is empty or not a plain string`,
            {
              field: parameter.field,
            },
          );
        }
        tokens.set(parameter.sdkAppId, value.trim());
      }
      Object.defineProperty(request.context, TOKENS, {
        value: tokens,
        enumerable: false,
        configurable: true,
      });
    },
  };
}

function bodyBytes(event: APIGatewayProxyEventV2): Uint8Array {
  if (event.body === undefined) return new Uint8Array();
  return event.isBase64Encoded ? Buffer.from(event.body, 'base64') : Buffer.from(event.body, 'utf8');
}

function response(answer: ReceiverAnswer): APIGatewayProxyStructuredResultV2 {
  const headers = { 'content-type': answer.contentType ?? 'application/json' };
  if (typeof answer.body === 'string') return { statusCode: answer.status, headers, body: answer.body };
  return {
    statusCode: answer.status,
    headers,
    body: Buffer.from(answer.body).toString('base64'),
    isBase64Encoded: true,
  };
}

function recordMetrics(metrics: Metrics, receiver: CallbackReceiver, queriedApp: string | undefined): void {
  const s = receiver.stats;
  if (s.accepted + s.unrecorded > 0 && queriedApp !== undefined) {
    const counts = [
      [METRIC.callbacksAccepted, s.accepted],
      [METRIC.callbacksQuarantined, s.quarantined],
      [METRIC.callbacksUnrecorded, s.unrecorded],
    ] as const;
    // One single metric each: a single metric is published at its addMetric, which also clears
    // its dimensions, so a second addMetric on it would go out without the app's.
    for (const [name, count] of counts) {
      const perApp = metrics.singleMetric();
      perApp.addDimension(APP_DIMENSION, queriedApp);
      perApp.addMetric(name, MetricUnit.Count, count);
    }
  }
  for (const refusal of [...CALLBACK_REFUSALS, 'too-large'] as const) {
    const count = refusal === 'too-large' ? s.tooLarge : s.refused[refusal];
    if (count === 0) continue;
    const refused = metrics.singleMetric();
    refused.addDimension(REFUSAL_DIMENSION, refusal);
    refused.addMetric(METRIC.callbacksRefused, MetricUnit.Count, count);
  }
}

export interface CallbackHandlerOptions {
  env?: Readonly<Record<string, string | undefined>>;
  /** The durable path; default Firehose on `CALLBACK_DELIVERY_STREAM`. */
  sink?: CallbackSink | Promise<CallbackSink>;
  maxBodyBytes?: number;
}

/** Build the handler: the config validated once at init (a bad one fails the init, naming the field). */
export function createCallbackHandler(options: CallbackHandlerOptions = {}) {
  const env = options.env ?? process.env;
  const config = loadLambdaConfig(env);
  const parameters = callbackTokenParameters(config);
  const stream = env[ENV.callbackStream];
  if (options.sink === undefined && (stream === undefined || stream === '')) {
    throw new ConfigError(`${ENV.callbackStream} is not set`, { field: ENV.callbackStream });
  }
  const sink = options.sink ?? composeLambdaCallbackSink(stream as string);
  // Forward mode (apps[].callbacks.forwardTo): the app's own server answers Tencent.
  const forwarding = composeCallbackForwarder(config);
  const cap = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const cacheSeconds = parseLambdaEnv(env)[ENV.secretCacheSeconds];
  const logger = new Logger({ serviceName: SERVICE_NAME });
  const metrics = new Metrics({ namespace: METRICS_NAMESPACE, serviceName: SERVICE_NAME });

  const receive = async (event: APIGatewayProxyEventV2, context: Context) => {
    const tokens = (context as ContextWithTokens)[TOKENS] ?? new Map<number, string>();
    const forwarder = await forwarding;
    const receiver = new CallbackReceiver({
      tokens,
      recorder: await sink,
      clock: systemClock,
      ...(forwarder === undefined ? {} : { forwarder }),
    });
    const body = bodyBytes(event);
    let answer: ReceiverAnswer;
    if (event.requestContext.http.method !== 'POST') {
      answer = { status: 405, body: '{"ActionStatus":"FAIL","ErrorInfo":"POST only","ErrorCode":405}' };
    } else if (body.length > cap) {
      answer = receiver.tooLarge(cap);
    } else {
      const q = event.queryStringParameters ?? {};
      answer = await receiver.handle(
        { sdkAppId: q.SdkAppid, command: q.CallbackCommand, sign: q.Sign, requestTime: q.RequestTime },
        body,
        { rawQuery: event.rawQueryString ?? '', contentType: event.headers?.['content-type'] },
      );
    }
    recordMetrics(metrics, receiver, event.queryStringParameters?.SdkAppid);
    if (receiver.stats.unrecorded > 0)
      logger.error('callback not recorded: answered 500', { status: answer.status });
    return response(answer);
  };

  return middy(receive)
    .use(logMetrics(metrics))
    .use(
      cachedSsm({
        fetchData: Object.fromEntries(parameters.map((p) => [p.internalKey, p.name])),
        maxAgeMs: cacheSeconds * 1000,
      }),
    )
    .use(tokenOfQueriedApp(parameters));
}

/** The function's handler (`functions/lambda/callback-handler.handler`), built on first use. */
let built: ReturnType<typeof createCallbackHandler> | undefined;
export const handler = (event: APIGatewayProxyEventV2, context: Context) => {
  built ??= createCallbackHandler();
  return built(event, context);
};
