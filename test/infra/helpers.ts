/**
 * Builds the stack the way `cdk synth` does (the context of cdk.json, the same buildApp) for
 * template assertions and cdk-nag tests.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { buildApp } from '../../infra/build-app.ts';
import type { ArchiverStack } from '../../infra/stacks/archiver-stack.ts';

/** Synthesized CloudFormation JSON: untyped by nature, read field by field in assertions. */
// biome-ignore lint/suspicious/noExplicitAny: CloudFormation JSON has no static type.
export type Cfn = any;

/** cdk.json's context: feature flags and the demo app's `archiver` config. */
export const CDK_CONTEXT: Record<string, unknown> = JSON.parse(
  readFileSync(new URL('../../cdk.json', import.meta.url), 'utf8'),
).context;

/** A copy of cdk.json's `archiver` config, to modify. */
export function demoConfig(): { apps: Record<string, unknown>[]; deploy: Record<string, Cfn> } & Record<
  string,
  Cfn
> {
  return structuredClone(CDK_CONTEXT.archiver) as never;
}

export interface Built {
  app: App;
  stack: ArchiverStack;
  /** Synthesizes on first use. */
  template: () => Template;
}

/**
 * The app for `archiver` (default: cdk.json's). Without `bundle`, the function gets a placeholder
 * asset (no esbuild run), which keeps a synth at a few milliseconds.
 */
export function build(archiver: unknown = CDK_CONTEXT.archiver, options: { bundle?: boolean } = {}): Built {
  const app = new App({
    outdir: mkdtempSync(join(tmpdir(), 'cdk-test-')),
    context: {
      ...CDK_CONTEXT,
      archiver,
      ...(options.bundle ? {} : { 'aws:cdk:bundling-stacks': [] }),
    },
  });
  const stack = buildApp(app);
  let template: Template | undefined;
  return {
    app,
    stack,
    template: () => {
      template ??= Template.fromStack(stack);
      return template;
    },
  };
}

/** Resources of one type in a template, by logical id. */
export function resourcesOf(template: Template, type: string): Record<string, { Properties: Cfn }> {
  return template.findResources(type) as Record<string, { Properties: Cfn }>;
}

/** The only resource of a type (fails when there are several). */
export function onlyResource(template: Template, type: string): { id: string; Properties: Cfn } {
  const entries = Object.entries(resourcesOf(template, type));
  if (entries.length !== 1) throw new Error(`expected one ${type}, found ${entries.length}`);
  const [id, resource] = entries[0] as [string, { Properties: Cfn }];
  return { id, Properties: resource.Properties };
}
