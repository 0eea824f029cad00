/**
 * Invokes the archiver function with the self-check event (functions/lambda/self-check.ts), so
 * the store probe runs on the function's own role, and returns its answer unchecked (the verdict,
 * functions/domain/deploy-verdicts.ts, checks its shape).
 */
import { InvokeCommand, type LambdaClient } from '@aws-sdk/client-lambda';
import type { SelfCheckEvent } from '../../../domain/deploy-verdicts.ts';
import { FunctionErrorAnswer } from '../../errors.ts';

/**
 * @throws FunctionErrorAnswer when the function threw; the SDK's error when it could not be invoked
 */
export async function invokeSelfCheck(client: LambdaClient, functionName: string): Promise<unknown> {
  const event: SelfCheckEvent = { selfCheck: true };
  const answer = await client.send(
    new InvokeCommand({
      FunctionName: functionName,
      InvocationType: 'RequestResponse',
      Payload: new TextEncoder().encode(JSON.stringify(event)),
    }),
  );
  const text = answer.Payload === undefined ? '' : new TextDecoder().decode(answer.Payload);
  if (answer.FunctionError !== undefined) throw new FunctionErrorAnswer(functionName, text);
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}
