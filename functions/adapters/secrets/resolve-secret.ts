/**
 * Resolves a configured secret source (environment variable, file or SSM parameter) to its value.
 * Errors name the config field and the source, never the value.
 */
import { readFile } from 'node:fs/promises';
import type { SecretSource } from '../../config/schema.ts';
import { ConfigError } from '../../domain/errors.ts';

export type SecretResolver = (source: SecretSource, field: string) => Promise<string>;

export function createSecretResolver(
  env: Readonly<Record<string, string | undefined>> = process.env,
  readSsm: (name: string, field: string) => Promise<string> = readSsmLazily,
): SecretResolver {
  return async (source, field) => {
    let value: string | undefined;
    if ('env' in source) {
      value = env[source.env];
      if (value === undefined)
        throw new ConfigError(`${field}: environment variable ${source.env} is not set`, { field });
    } else if ('file' in source) {
      value = await readFile(source.file, 'utf8').catch((cause: NodeJS.ErrnoException) => {
        throw new ConfigError(`${field}: cannot read ${source.file} (${cause.code ?? cause.message})`, {
          field,
          cause,
        });
      });
    } else {
      value = await readSsm(source.ssmParameter, field);
    }
    const trimmed = value.trim();
    if (trimmed.length === 0) throw new ConfigError(`${field}: the secret is empty`, { field });
    return trimmed;
  };
}

/** The SSM SDK is loaded only when a secret really comes from SSM (about 12 MB otherwise). */
async function readSsmLazily(name: string, field: string): Promise<string> {
  const { readSsmParameter } = await import('../aws/ssm-parameter.ts');
  return readSsmParameter(name, field);
}
