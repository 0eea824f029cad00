/**
 * Reads a SecureString parameter (the Tencent secret key or a ready UserSig) from SSM Parameter
 * Store. The only place the CLI touches SSM; the Lambda reads the same parameter through @middy/ssm.
 */
import { GetParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { ConfigError } from '../../domain/errors.ts';

export async function readSsmParameter(
  name: string,
  field: string,
  client = new SSMClient({}),
): Promise<string> {
  try {
    const out = await client.send(new GetParameterCommand({ Name: name, WithDecryption: true }));
    const value = out.Parameter?.Value;
    if (value === undefined) throw new ConfigError(`${field}: SSM parameter ${name} has no value`, { field });
    return value;
  } catch (error) {
    if (error instanceof ConfigError) throw error;
    const code = (error as { name?: string }).name ?? 'Error';
    const hint =
      code === 'ParameterNotFound'
        ? 'create it with `aws ssm put-parameter --type SecureString --name ...` in the same region'
        : code === 'AccessDeniedException'
          ? 'allow ssm:GetParameter on it (and kms:Decrypt on its key)'
          : 'check the name, region and credentials';
    throw new ConfigError(`${field}: cannot read SSM parameter ${name} (${code}); ${hint}`, {
      field,
      cause: error,
    });
  }
}
