/**
 * Invokes the archiver function with the self-check event (functions/lambda/self-check.ts), so
 * the store probe runs on the function's own role, and returns its answer unchecked: the verdict
 * (functions/domain/deploy-verdicts.ts) checks its shape. A function that threw answers
 * `{ functionError, answer }`, which the verdict shows as it is.
 */
import { InvokeCommand, type LambdaClient } from '@aws-sdk/client-lambda';
import type { SelfCheckEvent } from '../../../domain/deploy-verdicts.ts';

/** @throws the SDK's error when the function could not be invoked (not found, not allowed) */
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
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text) as unknown;
  } catch {
    // Not JSON: shown as text.
  }
  return answer.FunctionError === undefined
    ? parsed
    : { functionError: answer.FunctionError, answer: parsed };
}
