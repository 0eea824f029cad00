/**
 * The deployed stack as the self-check reads it: its status and outputs (`DescribeStacks`) and
 * every resource (`ListStackResources`, paged: `DescribeStackResources` stops at 100 resources,
 * and a stack of 100 apps has more than 300).
 */
import {
  type CloudFormationClient,
  DescribeStacksCommand,
  type DescribeStacksCommandOutput,
  paginateListStackResources,
} from '@aws-sdk/client-cloudformation';
import type { DeployedStack, StackResource } from '../../../domain/deploy-check.ts';
import { ConfigError } from '../../../domain/errors.ts';

/**
 * @throws ConfigError when the stack does not exist (in this account and region)
 * @throws the SDK's error for anything else (a missing permission, bad credentials)
 */
export async function describeStack(client: CloudFormationClient, stackName: string): Promise<DeployedStack> {
  let described: DescribeStacksCommandOutput;
  try {
    described = await client.send(new DescribeStacksCommand({ StackName: stackName }));
  } catch (error) {
    if (/does not exist/i.test((error as Error).message ?? '')) {
      throw new ConfigError(
        `Stack ${stackName} does not exist in this account and region: check --stack (deploy.stackName, default TencentChatArchiver) and the region (AWS_REGION or --region)`,
        { field: '--stack', cause: error },
      );
    }
    throw error;
  }
  const stack = described.Stacks?.[0];
  const outputs: Record<string, string> = {};
  for (const output of stack?.Outputs ?? []) {
    if (output.OutputKey !== undefined && output.OutputValue !== undefined) {
      outputs[output.OutputKey] = output.OutputValue;
    }
  }
  const resources: StackResource[] = [];
  for await (const page of paginateListStackResources({ client }, { StackName: stackName })) {
    for (const r of page.StackResourceSummaries ?? []) {
      resources.push({
        logicalId: r.LogicalResourceId ?? '',
        physicalId: r.PhysicalResourceId ?? '',
        type: r.ResourceType ?? '',
      });
    }
  }
  return { name: stack?.StackName ?? stackName, status: stack?.StackStatus ?? 'UNKNOWN', outputs, resources };
}
