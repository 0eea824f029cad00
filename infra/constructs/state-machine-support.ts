/**
 * What the project's state machines share: the metric task they publish counts with, and where
 * their logs go.
 */
import { Aws, Duration, Names } from 'aws-cdk-lib';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import type { Construct } from 'constructs';
import { METRICS_NAMESPACE } from '../../functions/lambda/contract.ts';

/** The dimension of the state machines' own metrics: the run state machine's name. */
export const RUN_DIMENSION = 'StateMachine';

/**
 * A log group name under `/aws/vendedlogs/states/`: CloudWatch Logs then needs no resource policy
 * per log group (busy accounts hit that policy's 5,120-character limit otherwise). Unique per
 * stack and construct, so two stacks in one account and region do not collide.
 */
export function vendedLogGroupName(scope: Construct): string {
  return `/aws/vendedlogs/states/${Names.uniqueResourceName(scope, { maxLength: 200, separator: '-' })}`;
}

/**
 * A raw `putMetricData` task (CallAwsService would grant PutMetricData without the namespace
 * condition): one count, dimensioned by the run state machine's name. With `next`, a metric that
 * cannot be sent does not change the outcome (retried, then caught, then on to `next`); without,
 * the state ends the execution and its failure fails it.
 */
export function putMetric(
  scope: Construct,
  id: string,
  metric: { name: string; stateMachineName: string; value: number },
  next?: sfn.IChainable,
): sfn.CustomState {
  const state = new sfn.CustomState(scope, id, {
    stateJson: {
      Type: 'Task',
      Resource: `arn:${Aws.PARTITION}:states:::aws-sdk:cloudwatch:putMetricData`,
      Parameters: {
        Namespace: METRICS_NAMESPACE,
        MetricData: [
          {
            MetricName: metric.name,
            Dimensions: [{ Name: RUN_DIMENSION, Value: metric.stateMachineName }],
            Value: metric.value,
            Unit: 'Count',
          },
        ],
      },
      ResultPath: null,
    },
  });
  state.addRetry({ errors: ['States.ALL'], interval: Duration.seconds(2), maxAttempts: 3, backoffRate: 2 });
  if (next !== undefined) {
    state.addCatch(next, { errors: ['States.ALL'], resultPath: '$.metricError' });
    state.next(next);
  }
  return state;
}

/** A capped exponential backoff, without jitter: its waits are known in advance. */
export interface Backoff {
  intervalSeconds: number;
  backoffRate: number;
  maxDelaySeconds: number;
}

/**
 * The fewest attempts of `backoff` whose waits add up to more than `seconds` (and at least
 * `minAttempts`): a retry that gives up only once that much time has passed. Without jitter:
 * Step Functions' full jitter can make every wait short, and end the retries early.
 */
export function attemptsToOutlast(backoff: Backoff, seconds: number, minAttempts = 1): number {
  let total = 0;
  let attempts = 0;
  while (total <= seconds || attempts < minAttempts) {
    total += Math.min(backoff.intervalSeconds * backoff.backoffRate ** attempts, backoff.maxDelaySeconds);
    attempts++;
  }
  return attempts;
}

/** The retry props of `backoff` for `errors`, outlasting `seconds` (see attemptsToOutlast). */
export function retryOutlasting(
  errors: string[],
  backoff: Backoff,
  seconds: number,
  minAttempts = 1,
): sfn.RetryProps {
  return {
    errors,
    interval: Duration.seconds(backoff.intervalSeconds),
    backoffRate: backoff.backoffRate,
    maxDelay: Duration.seconds(backoff.maxDelaySeconds),
    maxAttempts: attemptsToOutlast(backoff, seconds, minAttempts),
    jitterStrategy: sfn.JitterType.NONE,
  };
}
