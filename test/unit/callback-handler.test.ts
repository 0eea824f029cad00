/**
 * The AWS callback receiver's handler (functions/lambda/callback-handler.ts), with SSM and Firehose
 * mocked at the SDK level (no local server exists for either).
 */
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { FirehoseClient, PutRecordCommand } from '@aws-sdk/client-firehose';
import { GetParametersCommand, SSMClient } from '@aws-sdk/client-ssm';
import type { APIGatewayProxyEventV2, Context } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { firehoseSink } from '../../functions/adapters/aws/firehose-sink.ts';
import { parseConfig } from '../../functions/config/schema.ts';
import { callbackSign } from '../../functions/domain/callback-auth.ts';
import { CALLBACK_OK } from '../../functions/engine/callback-receiver.ts';
import { callbackTokenParameters, createCallbackHandler } from '../../functions/lambda/callback-handler.ts';

const APP = 1400000001;
const TOKEN = 'a-callback-token-from-ssm';
const PARAMETER = '/tencent-chat-archiver/1400000001/callback-token';
const ssm = mockClient(SSMClient);
const firehose = mockClient(FirehoseClient);
let stdout: string[] = [];

const app = (over: Record<string, unknown> = {}) => ({
  sdkAppId: APP,
  region: 'singapore',
  secretKey: { ssmParameter: '/tencent-chat-archiver/1400000001/secret-key' },
  callbackToken: { ssmParameter: PARAMETER },
  ...over,
});
const env = (apps = [app()]) => ({
  ARCHIVER_CONFIG: JSON.stringify({ apps, archive: { timeZone: 'UTC' } }),
  ARCHIVE_BUCKET: 'bucket',
  CALLBACK_DELIVERY_STREAM: 'callbacks-stream',
});

function context(): Context {
  return {
    callbackWaitsForEmptyEventLoop: true,
    functionName: 'callbacks',
    functionVersion: '$LATEST',
    invokedFunctionArn: 'arn:aws:lambda:us-east-1:123456789012:function:callbacks',
    memoryLimitInMB: '256',
    awsRequestId: randomUUID(),
    logGroupName: '/aws/lambda/callbacks',
    logStreamName: 'stream',
    getRemainingTimeInMillis: () => 10_000,
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}

function request(
  over: { query?: Record<string, string>; body?: string; method?: string } = {},
): APIGatewayProxyEventV2 {
  const time = String(Math.floor(Date.now() / 1000));
  return {
    version: '2.0',
    routeKey: '$default',
    rawPath: '/',
    rawQueryString: '',
    headers: { 'content-type': 'application/json' },
    queryStringParameters: {
      SdkAppid: String(APP),
      CallbackCommand: 'Group.CallbackAfterSendMsg',
      RequestTime: time,
      Sign: callbackSign(TOKEN, time),
      ...over.query,
    },
    requestContext: { http: { method: over.method ?? 'POST' } } as APIGatewayProxyEventV2['requestContext'],
    body: over.body ?? JSON.stringify({ GroupId: 'g', MsgSeq: 1, EventTime: 1 }),
    isBase64Encoded: false,
  };
}

beforeEach(() => {
  ssm.reset();
  firehose.reset();
  ssm.on(GetParametersCommand).resolves({
    Parameters: [{ Name: PARAMETER, Type: 'SecureString', Value: TOKEN, Version: 1 }],
    InvalidParameters: [],
  });
  firehose.on(PutRecordCommand).resolves({ RecordId: 'r1' });
  stdout = [];
  vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => {
    stdout.push(String(chunk));
    return true;
  });
});
afterEach(() => vi.restoreAllMocks());

/**
 * The EMF line that carries `metric`: its dimension sets and values. The per-app alarms
 * (infra/constructs/callback-receiver.ts) watch exactly `service` and `SdkAppId`.
 */
function emfWith(metric: string): { dimensions: string[][]; line: Record<string, unknown> } {
  const lines = stdout
    .join('')
    .split('\n')
    .filter((l) => l.startsWith('{') && l.includes('"_aws"'))
    .map(
      (l) =>
        JSON.parse(l) as Record<string, unknown> & {
          _aws: { CloudWatchMetrics: { Dimensions: string[][] }[] };
        },
    );
  const line = lines.find((l) => metric in l);
  if (line === undefined) throw new Error(`no EMF line with ${metric}`);
  return { dimensions: line._aws.CloudWatchMetrics[0]?.Dimensions ?? [], line };
}

const handler = () =>
  createCallbackHandler({ env: env(), sink: firehoseSink('callbacks-stream', new FirehoseClient({})) });

describe('the AWS callback receiver', () => {
  it('puts an authentic event into Firehose before answering OK, and counts it per app', async () => {
    const answer = await handler()(request(), context());
    expect(answer).toMatchObject({ statusCode: 200, body: CALLBACK_OK });
    const puts = firehose.commandCalls(PutRecordCommand);
    expect(puts).toHaveLength(1);
    const input = puts[0]?.args[0].input;
    expect(input?.DeliveryStreamName).toBe('callbacks-stream');
    const row = JSON.parse(new TextDecoder().decode(input?.Record?.Data));
    expect(row).toMatchObject({
      sdk_app_id: APP,
      callback_command: 'Group.CallbackAfterSendMsg',
      quarantined: false,
    });
    const accepted = emfWith('CallbacksAccepted');
    expect(accepted.dimensions).toEqual([['service', 'SdkAppId']]);
    expect(accepted.line).toMatchObject({ SdkAppId: String(APP), CallbacksAccepted: 1 });
    // Each per-app count carries the app (the silence alarm adds accepted and quarantined).
    expect(emfWith('CallbacksQuarantined').line).toMatchObject({
      SdkAppId: String(APP),
      CallbacksQuarantined: 0,
    });
  });

  it('answers 500 (not OK) when Firehose refuses the record', async () => {
    firehose.on(PutRecordCommand).rejects(new Error('ServiceUnavailableException'));
    const answer = await handler()(request(), context());
    expect(answer).toMatchObject({ statusCode: 500 });
    const unrecorded = emfWith('CallbacksUnrecorded');
    expect(unrecorded.dimensions).toEqual([['service', 'SdkAppId']]);
    expect(unrecorded.line).toMatchObject({ SdkAppId: String(APP), CallbacksUnrecorded: 1 });
  });

  it('refuses a forged Sign, an unknown app and a GET without a record, counting refusals by reason', async () => {
    const h = handler();
    const forged = await h(request({ query: { Sign: 'f'.repeat(64) } }), context());
    const other = await h(request({ query: { SdkAppid: '1400000002' } }), context());
    const get = await h(request({ method: 'GET' }), context());
    expect([forged, other, get].map((a) => a.statusCode)).toEqual([401, 401, 405]);
    expect(firehose.commandCalls(PutRecordCommand)).toHaveLength(0);
    const emitted = stdout.join('');
    expect(emitted).toContain('"Refusal":"forged"');
    expect(emitted).toContain('"Refusal":"wrong-app"');
  });

  it('refuses a body over the cap with 413 before any check', async () => {
    const h = createCallbackHandler({
      env: env(),
      sink: firehoseSink('s', new FirehoseClient({})),
      maxBodyBytes: 100,
    });
    const answer = await h(request({ body: 'x'.repeat(101) }), context());
    expect(answer).toMatchObject({ statusCode: 413 });
    expect(firehose.commandCalls(PutRecordCommand)).toHaveLength(0);
  });

  it('reads the token from SSM once (cached), and never writes it to a log line or an answer', async () => {
    const h = handler();
    const answers = [await h(request(), context()), await h(request({ query: { Sign: 'x' } }), context())];
    expect(ssm.commandCalls(GetParametersCommand)).toHaveLength(1);
    expect(JSON.stringify(answers)).not.toContain(TOKEN);
    expect(stdout.join('')).not.toContain(TOKEN);
  });
});

describe('the AWS callback receiver in forward mode (apps[].callbacks)', () => {
  it("records into Firehose, forwards the raw query and body to the app's server, returns its answer; down: fail-closed", async () => {
    const got: { url: string; body: string }[] = [];
    const server = createServer(async (req, res) => {
      let body = '';
      for await (const chunk of req) body += chunk;
      got.push({ url: req.url ?? '', body });
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{"ActionStatus":"OK","ErrorInfo":"no","ErrorCode":1}');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const forwardTo = `http://127.0.0.1:${(server.address() as AddressInfo).port}/cb`;
    try {
      const h = createCallbackHandler({
        env: env([app({ callbacks: { forwardTo, onForwardFailure: 'fail-closed' } })]),
        sink: firehoseSink('callbacks-stream', new FirehoseClient({})),
      });
      const event = { ...request(), rawQueryString: 'SdkAppid=1400000001&Sign=abc&RequestTime=1' };
      const answer = await h(event, context());
      expect(answer).toMatchObject({ statusCode: 200, isBase64Encoded: true });
      expect(Buffer.from(String(answer.body), 'base64').toString()).toBe(
        '{"ActionStatus":"OK","ErrorInfo":"no","ErrorCode":1}',
      );
      expect(got).toEqual([{ url: `/cb?${event.rawQueryString}`, body: event.body }]);
      expect(firehose.commandCalls(PutRecordCommand)).toHaveLength(1);
      await new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      const down = await h(request(), context());
      expect(down).toMatchObject({ statusCode: 502 });
      expect(firehose.commandCalls(PutRecordCommand)).toHaveLength(2);
    } finally {
      server.closeAllConnections();
      server.close();
    }
  });

  it('refuses a forwardTo that is not an http(s) URL, naming the field', () => {
    const parse = (apps: unknown[]) => parseConfig({ apps, archive: { timeZone: 'UTC' } }, 'test');
    expect(() => parse([app({ callbacks: { forwardTo: 'ftp://x.example/cb' } })])).toThrow(
      /apps\.0\.callbacks\.forwardTo/,
    );
    expect(parse([app({ callbacks: { forwardTo: 'https://x.example/cb' } })]).apps[0]?.callbacks).toEqual({
      forwardTo: 'https://x.example/cb',
      onForwardFailure: 'fail-open',
      forwardTimeoutMs: 1800,
    });
  });
});

describe('callbackTokenParameters', () => {
  it('names the field and the fix when a token is not in SSM, or no app has one', () => {
    const parse = (apps: unknown[]) => parseConfig({ apps, archive: { timeZone: 'UTC' } }, 'test');
    expect(() => callbackTokenParameters(parse([app({ callbackToken: { env: 'TOKEN' } })]))).toThrow(
      /apps\.0\.callbackToken: the Lambda reads the callback token only from SSM/,
    );
    expect(() => callbackTokenParameters(parse([app({ callbackToken: undefined })]))).toThrow(
      /apps\.0\.callbackToken: the callback receiver needs at least one app/,
    );
  });
});
