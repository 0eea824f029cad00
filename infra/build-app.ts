/**
 * Builds the archiver stack into a CDK app from the app's context, with cdk-nag (AwsSolutions and
 * Serverless packs) registered as policy-validation plugins: an unacknowledged finding fails the
 * synth. Separate from `app.ts` so tests build exactly what `cdk synth` builds.
 */
import { type App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks, ServerlessChecks } from 'cdk-nag';
import { loadStackConfig } from './config.ts';
import { ArchiverStack } from './stacks/archiver-stack.ts';

/**
 * @throws ConfigError naming the field when the context's archiver config is invalid
 */
export function buildApp(app: App): ArchiverStack {
  const stackConfig = loadStackConfig(app.node);
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app), new ServerlessChecks(app));
  return new ArchiverStack(app, stackConfig.deploy.stackName, {
    stackConfig,
    description: 'tencent-chat-archiver: nightly archive of Tencent Cloud Chat group history into S3',
  });
}
