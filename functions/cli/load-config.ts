import { readFile } from 'node:fs/promises';
import { type Config, parseConfig } from '../config/schema.ts';
import { ConfigError } from '../domain/errors.ts';

/** Read and validate a JSON config file. Errors name the file, the field and the fix. */
export async function loadConfigFile(path: string): Promise<Config> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (cause) {
    throw new ConfigError(
      `Cannot read config file ${path}: ${(cause as NodeJS.ErrnoException).code ?? cause}`,
      {
        field: '--config',
        cause,
      },
    );
  }
  let raw: unknown;
  try {
    // Notepad and other Windows editors save UTF-8 with a byte order mark, which JSON.parse refuses.
    raw = JSON.parse(text.replace(/^\uFEFF/, ''));
  } catch (cause) {
    throw new ConfigError(`Config file ${path} is not valid JSON: ${(cause as Error).message}`, {
      field: '(root)',
      cause,
    });
  }
  // One file can serve the CDK stack too: its `deploy` section is for the stack, not the CLI.
  if (raw !== null && typeof raw === 'object' && !Array.isArray(raw) && 'deploy' in raw) {
    const { deploy: _forTheStack, ...cliConfig } = raw as Record<string, unknown>;
    raw = cliConfig;
  }
  return parseConfig(raw, `config file ${path}`);
}
