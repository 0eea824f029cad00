/**
 * The CDK app (`cdk.json`: `npx tsx infra/app.ts`). Reads the archiver config from the context
 * (`archiver`, or `-c archiverConfigFile=<file.json>`), validates it and builds the stack.
 * An invalid config stops the synth with the field and the fix (exit code 1), not a stack trace.
 */
import { App } from 'aws-cdk-lib';
import { ConfigError } from '../functions/domain/errors.ts';
import { buildApp } from './build-app.ts';

const app = new App();
try {
  buildApp(app);
} catch (error) {
  if (!(error instanceof ConfigError)) throw error;
  process.stderr.write(`${error.message}\n`);
  process.exit(1);
}
app.synth();
