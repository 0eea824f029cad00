/**
 * cdk-nag 3 (AwsSolutions and Serverless packs, registered as policy-validation plugins by
 * buildApp) finds nothing unacknowledged, and every acknowledgement is needed and says why.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type App, Validations } from 'aws-cdk-lib';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { AwsSolutionsChecks, type NagPack, ServerlessChecks } from 'cdk-nag';
import type { IConstruct } from 'constructs';
import { describe, expect, it } from 'vitest';
import { build, demoConfig } from './helpers.ts';

interface Report {
  pluginReports: { pluginName: string; violations: { ruleName: string }[] }[];
}

/** Every nag acknowledgement in the tree: rule id (as nag matches it), reason, construct path. */
function acknowledgements(root: IConstruct): { id: string; reason: string; path: string }[] {
  return root.node.findAll().flatMap((node) =>
    node.node.metadata
      .filter((entry) => entry.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY)
      .flatMap((entry) => Object.entries(entry.data as Record<string, string>))
      .map(([id, reason]) => ({ id: id.replace(/^annotation::/i, ''), reason, path: node.node.path }))
      .filter((ack) => /^(AwsSolutions|Serverless)-/.test(ack.id)),
  );
}

/** Run both packs directly on the tree; returns violations and the acknowledged rule ids hit. */
function nag(app: App): { violations: string[]; used: Set<string> } {
  const used = new Set<string>();
  const violations: string[] = [];
  for (const pack of [new AwsSolutionsChecks(), new ServerlessChecks()] as NagPack[]) {
    const probe = pack as unknown as { isAcknowledged(node: IConstruct, id: string): boolean };
    const original = probe.isAcknowledged.bind(pack);
    probe.isAcknowledged = (node, id) => {
      const acknowledged = original(node, id);
      if (acknowledged) used.add(id);
      return acknowledged;
    };
    for (const v of pack.validateScope(app).violations) {
      violations.push(...v.violatingResources.map((r) => `${v.ruleName} at ${r.constructPath}`));
    }
  }
  return { violations, used };
}

describe('cdk-nag', () => {
  it('passes on the synthesized app with zero unacknowledged findings (validation report)', () => {
    const { app } = build();
    let failure: unknown;
    try {
      app.synth();
    } catch (error) {
      failure = error;
    }
    const report: Report = JSON.parse(readFileSync(join(app.outdir, 'validation-report.json'), 'utf8'));
    const violations = report.pluginReports.flatMap((p) =>
      p.violations.map((v) => `${p.pluginName}: ${v.ruleName}`),
    );
    expect(violations).toEqual([]);
    expect(failure).toBeUndefined();
  });

  it('needs every acknowledgement, and each one gives a specific reason', () => {
    const { app } = build();
    const acks = acknowledgements(app);
    const { violations, used } = nag(app);
    expect(violations).toEqual([]);
    expect(acks.length).toBeGreaterThan(0);
    expect(acks.filter((ack) => !used.has(ack.id)).map((ack) => `${ack.id} on ${ack.path}`)).toEqual([]);
    for (const ack of acks) {
      expect(ack.reason.length, `${ack.id}: the reason is too short`).toBeGreaterThan(60);
    }
    // IAM wildcards are acknowledged finding by finding, never for a whole rule.
    expect(acks.filter((a) => a.id === 'AwsSolutions-IAM5')).toEqual([]);
  });

  it('passes for every bucket, secret and alarm option', () => {
    const variants = [
      { bucket: { encryption: 's3', objectLock: { mode: 'GOVERNANCE', days: 30 } } },
      {
        bucket: {
          existingBucketName: 'my-chat-archive',
          existingBucketKmsKeyArn: 'arn:aws:kms:us-east-1:1:key/k',
        },
      },
      { secrets: { kmsKeyArn: 'arn:aws:kms:us-east-1:1:key/ssm' }, alarms: { email: 'ops@example.com' } },
    ];
    for (const deploy of variants) {
      const config = demoConfig();
      config.deploy = { ...config.deploy, ...deploy };
      config.apps.push({ ...config.apps[0], sdkAppId: 1400000001 });
      expect(nag(build(config).app).violations, JSON.stringify(deploy)).toEqual([]);
    }
  });

  it('passes with the callback receiver, and needs each of its acknowledgements', () => {
    const config = demoConfig();
    config.apps = config.apps.map((app) => ({
      ...app,
      callbackToken: { ssmParameter: `/tencent-chat-archiver/${app.sdkAppId}/callback-token` },
    }));
    const { app } = build(config);
    const { violations, used } = nag(app);
    expect(violations).toEqual([]);
    const receiverAcks = acknowledgements(app).filter((ack) => ack.path.includes('/Callbacks/'));
    expect(receiverAcks.length).toBeGreaterThan(0);
    expect(receiverAcks.filter((ack) => !used.has(ack.id)).map((ack) => `${ack.id} on ${ack.path}`)).toEqual(
      [],
    );
  });

  it('does find problems (a bucket with no settings fails the check)', () => {
    const { app, stack } = build();
    new s3.Bucket(stack, 'CarelessBucket');
    expect(nag(app).violations).toEqual(
      expect.arrayContaining([expect.stringMatching(/^AwsSolutions-S1 at .*CarelessBucket/)]),
    );
  });
});
