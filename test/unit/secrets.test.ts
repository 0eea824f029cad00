/**
 * Secret sources: environment variable, file, SSM SecureString. Every failure is a ConfigError that
 * names the config field and the fix, and no error message ever contains the secret value.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  AccessDeniedException,
  GetParameterCommand,
  ParameterNotFound,
  SSMClient,
} from '@aws-sdk/client-ssm';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { readSsmParameter } from '../../functions/adapters/aws/ssm-parameter.ts';
import { createSecretResolver } from '../../functions/adapters/secrets/resolve-secret.ts';
import { ConfigError } from '../../functions/domain/errors.ts';

const SECRET = '5ea1d3c0ffee0b57ac1e5eed5ca1ab1e0ddba11deadbeefcafef00d5eedf00d5';
const FIELD = 'apps.0.secretKey';

async function configError(promise: Promise<unknown>): Promise<ConfigError> {
  const error = await promise.then(
    () => {
      throw new Error('expected a ConfigError');
    },
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ConfigError);
  const configError = error as ConfigError;
  // The secret value never appears in an error message (nor in the stack, which repeats it).
  for (const text of [configError.message, String(configError.stack)]) {
    expect(text).not.toContain(SECRET);
    expect(text).not.toContain(SECRET.slice(0, 16));
  }
  return configError;
}

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'secrets-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const noSsm = async (): Promise<string> => {
  throw new Error('SSM must not be called');
};

describe('createSecretResolver', () => {
  it('reads an environment variable, trimmed', async () => {
    const resolve = createSecretResolver({ TENCENT_IM_SECRET_KEY: `  ${SECRET}\n` }, noSsm);
    await expect(resolve({ env: 'TENCENT_IM_SECRET_KEY' }, FIELD)).resolves.toBe(SECRET);
  });

  it('names the field and the variable when the variable is missing', async () => {
    const resolve = createSecretResolver({ OTHER: SECRET }, noSsm);
    const error = await configError(resolve({ env: 'TENCENT_IM_SECRET_KEY' }, FIELD));
    expect(error.field).toBe(FIELD);
    expect(error.message).toBe(`${FIELD}: environment variable TENCENT_IM_SECRET_KEY is not set`);
  });

  it.each(['', '   \n'])('rejects an empty variable (%j)', async (value) => {
    const resolve = createSecretResolver({ TENCENT_IM_SECRET_KEY: value }, noSsm);
    const error = await configError(resolve({ env: 'TENCENT_IM_SECRET_KEY' }, FIELD));
    expect(error.field).toBe(FIELD);
    expect(error.message).toBe(`${FIELD}: the secret is empty`);
  });

  it('reads a file, trimming the trailing newline', async () => {
    const file = join(dir, 'key');
    await writeFile(file, `${SECRET}\n`);
    await expect(createSecretResolver({}, noSsm)({ file }, FIELD)).resolves.toBe(SECRET);
  });

  it('names the field, the path and the reason when the file is missing or unreadable', async () => {
    const missing = join(dir, 'no-such-key');
    const error = await configError(createSecretResolver({}, noSsm)({ file: missing }, 'apps.2.userSig'));
    expect(error.field).toBe('apps.2.userSig');
    expect(error.message).toBe(`apps.2.userSig: cannot read ${missing} (ENOENT)`);
    const folder = await configError(createSecretResolver({}, noSsm)({ file: dir }, FIELD));
    expect(folder.message).toBe(`${FIELD}: cannot read ${dir} (EISDIR)`);
  });

  it('rejects an empty file', async () => {
    const file = join(dir, 'empty');
    await writeFile(file, '\n');
    const error = await configError(createSecretResolver({}, noSsm)({ file }, FIELD));
    expect(error.message).toBe(`${FIELD}: the secret is empty`);
  });

  it('reads an SSM parameter through the injected reader, passing name and field', async () => {
    const calls: [string, string][] = [];
    const resolve = createSecretResolver({}, async (name, field) => {
      calls.push([name, field]);
      return `${SECRET}\n`;
    });
    await expect(resolve({ ssmParameter: '/chat-archiver/1400000000/secret-key' }, FIELD)).resolves.toBe(
      SECRET,
    );
    expect(calls).toEqual([['/chat-archiver/1400000000/secret-key', FIELD]]);
  });

  it('passes the SSM reader’s ConfigError through, and rejects an empty parameter', async () => {
    const failing = createSecretResolver({}, async (name, field) => {
      throw new ConfigError(`${field}: cannot read SSM parameter ${name} (ParameterNotFound)`, { field });
    });
    const error = await configError(failing({ ssmParameter: '/missing' }, FIELD));
    expect(error.field).toBe(FIELD);
    const empty = createSecretResolver({}, async () => ' ');
    expect((await configError(empty({ ssmParameter: '/blank' }, FIELD))).message).toBe(
      `${FIELD}: the secret is empty`,
    );
  });
});

describe('readSsmParameter', () => {
  const ssm = mockClient(SSMClient);
  const client = new SSMClient({ region: 'ap-southeast-1' });
  afterEach(() => ssm.reset());

  it('reads the SecureString with decryption and returns its value', async () => {
    ssm
      .on(GetParameterCommand)
      .resolves({ Parameter: { Name: '/chat-archiver/key', Type: 'SecureString', Value: SECRET } });
    await expect(readSsmParameter('/chat-archiver/key', FIELD, client)).resolves.toBe(SECRET);
    const calls = ssm.commandCalls(GetParameterCommand);
    expect(calls).toHaveLength(1);
    expect(calls[0]?.args[0].input).toEqual({ Name: '/chat-archiver/key', WithDecryption: true });
  });

  it('uses a default client when none is given', async () => {
    ssm.on(GetParameterCommand).resolves({ Parameter: { Value: SECRET } });
    await expect(readSsmParameter('/chat-archiver/key', FIELD)).resolves.toBe(SECRET);
    expect(ssm.commandCalls(GetParameterCommand)[0]?.args[0].input.WithDecryption).toBe(true);
  });

  it('names the field and the parameter when it has no value', async () => {
    ssm.on(GetParameterCommand).resolves({ Parameter: { Name: '/chat-archiver/key' } });
    const error = await configError(readSsmParameter('/chat-archiver/key', FIELD, client));
    expect(error.field).toBe(FIELD);
    expect(error.message).toBe(`${FIELD}: SSM parameter /chat-archiver/key has no value`);
  });

  it('explains ParameterNotFound: create it in the same region', async () => {
    ssm.on(GetParameterCommand).rejects(new ParameterNotFound({ message: 'not found', $metadata: {} }));
    const error = await configError(readSsmParameter('/chat-archiver/key', FIELD, client));
    expect(error.field).toBe(FIELD);
    expect(error.message).toMatch(
      /^apps\.0\.secretKey: cannot read SSM parameter \/chat-archiver\/key \(ParameterNotFound\)/,
    );
    expect(error.message).toMatch(/aws ssm put-parameter --type SecureString .* in the same region/);
    expect(error.cause).toBeInstanceOf(ParameterNotFound);
  });

  it('explains AccessDeniedException: grant ssm:GetParameter and kms:Decrypt', async () => {
    ssm.on(GetParameterCommand).rejects(
      new AccessDeniedException({
        message: 'User is not authorized',
        Message: 'User is not authorized',
        $metadata: {},
      }),
    );
    const error = await configError(readSsmParameter('/chat-archiver/key', 'apps.1.userSig', client));
    expect(error.field).toBe('apps.1.userSig');
    expect(error.message).toMatch(
      /\(AccessDeniedException\); allow ssm:GetParameter on it \(and kms:Decrypt on its key\)/,
    );
  });

  it('names other failures without repeating the SDK message, which could echo anything', async () => {
    const odd = new Error(`InvalidKeyId: could not decrypt ${SECRET}`);
    odd.name = 'InvalidKeyId';
    ssm.on(GetParameterCommand).rejects(odd);
    const error = await configError(readSsmParameter('/chat-archiver/key', FIELD, client));
    expect(error.message).toBe(
      `${FIELD}: cannot read SSM parameter /chat-archiver/key (InvalidKeyId); check the name, region and credentials`,
    );
  });

  it('reaches the resolver: an SSM source read with the real reader and a mocked client', async () => {
    ssm
      .on(GetParameterCommand, { Name: '/chat-archiver/key' })
      .resolves({ Parameter: { Value: `${SECRET}\n` } });
    ssm
      .on(GetParameterCommand, { Name: '/chat-archiver/other' })
      .rejects(new ParameterNotFound({ message: 'not found', $metadata: {} }));
    const resolve = createSecretResolver({});
    await expect(resolve({ ssmParameter: '/chat-archiver/key' }, FIELD)).resolves.toBe(SECRET);
    const error = await configError(resolve({ ssmParameter: '/chat-archiver/other' }, FIELD));
    expect(error.message).toMatch(/ParameterNotFound/);
  });
});
