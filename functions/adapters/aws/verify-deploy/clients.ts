/**
 * The SDK clients of the post-deploy self-check, with region and credentials from the usual AWS
 * environment (or `--region`), and the credential values the command must never print.
 */
import { AthenaClient } from '@aws-sdk/client-athena';
import { CloudFormationClient } from '@aws-sdk/client-cloudformation';
import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { LambdaClient } from '@aws-sdk/client-lambda';
import { SchedulerClient } from '@aws-sdk/client-scheduler';

export interface VerifyDeployClients {
  readonly cloudFormation: CloudFormationClient;
  readonly cloudWatch: CloudWatchClient;
  readonly lambda: LambdaClient;
  readonly scheduler: SchedulerClient;
  readonly athena: AthenaClient;
}

export function createVerifyDeployClients(region?: string): VerifyDeployClients {
  const config = region === undefined ? {} : { region };
  return {
    cloudFormation: new CloudFormationClient(config),
    cloudWatch: new CloudWatchClient(config),
    lambda: new LambdaClient(config),
    scheduler: new SchedulerClient(config),
    athena: new AthenaClient(config),
  };
}

/**
 * The access key id, secret key and session token the clients sign with, to be masked in
 * anything printed; none when they cannot be resolved (the first call then fails and says so).
 */
export async function credentialValues(client: CloudFormationClient): Promise<string[]> {
  try {
    const credentials = await client.config.credentials();
    return [credentials.accessKeyId, credentials.secretAccessKey, credentials.sessionToken ?? ''].filter(
      (v) => v.length > 0,
    );
  } catch {
    return [];
  }
}
