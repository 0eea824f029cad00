/**
 * The archive bucket: encrypted (SSE-KMS with the stack's customer key, or SSE-S3), versioned,
 * private, TLS-only, access-logged, retained when the stack is deleted, with message files moving
 * to colder tiers on a schedule and optional Object Lock. Or an existing bucket, used as is.
 *
 * Grants are scoped to the archive prefix: the function can read and write `<prefix>*` and list
 * only under it, never the rest of the bucket.
 */
import { Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { normalizeArchivePrefix } from '../../functions/lambda/lambda-config.ts';
import type { DeployConfig } from '../config.ts';

/** Where the function writes large objects in multipart uploads (media files and manifests). */
export const MULTIPART_PREFIXES = ['media/', 'media-manifest/'] as const;

/** What the completeness audit reads (besides listing `media/` for orphans). */
export const AUDIT_READ_PREFIXES = ['state/', 'messages/', 'media-manifest/'] as const;

/** Storage classes a GET reads at once (no restore). */
const INSTANT_CLASSES: readonly s3.StorageClass[] = [
  s3.StorageClass.INFREQUENT_ACCESS,
  s3.StorageClass.GLACIER_INSTANT_RETRIEVAL,
];

export interface ArchiveBucketProps {
  settings: DeployConfig['bucket'];
  /** The customer key for SSE-KMS (used when `settings.encryption` is `kms`). */
  key: kms.IKey;
}

export class ArchiveBucket extends Construct {
  public readonly bucket: s3.IBucket;
  /** `archive/` (or empty): every archive object key starts with it. */
  public readonly prefix: string;
  /** The key objects are encrypted with, when it is a customer key the function must use. */
  public readonly encryptionKey: kms.IKey | undefined;
  /**
   * The stack's key, which objects written while `encryption` was `kms` keep using after a switch
   * to `s3`: the function may still decrypt with it (through S3), so `state.json` stays readable.
   */
  private readonly formerKey: kms.IKey | undefined;
  /** Where the bucket's server access logs go (only for a bucket the stack creates). */
  public readonly accessLogsBucket: s3.IBucket | undefined;

  public constructor(scope: Construct, id: string, props: ArchiveBucketProps) {
    super(scope, id);
    const { settings } = props;
    this.prefix = normalizeArchivePrefix(settings.prefix);
    if (settings.existingBucketName !== undefined) {
      this.bucket = s3.Bucket.fromBucketName(this, 'Bucket', settings.existingBucketName);
      this.encryptionKey =
        settings.existingBucketKmsKeyArn === undefined
          ? undefined
          : kms.Key.fromKeyArn(this, 'ExistingKey', settings.existingBucketKmsKeyArn);
      return;
    }
    const logs = this.createAccessLogsBucket(settings.accessLogExpirationDays);
    const kmsEncrypted = settings.encryption === 'kms';
    this.encryptionKey = kmsEncrypted ? props.key : undefined;
    this.formerKey = kmsEncrypted ? undefined : props.key;
    this.accessLogsBucket = logs;
    this.bucket = new s3.Bucket(this, 'Bucket', {
      ...(kmsEncrypted
        ? // A bucket key makes S3 call KMS once per bucket and hour instead of per object.
          { encryption: s3.BucketEncryption.KMS, encryptionKey: props.key, bucketKeyEnabled: true }
        : { encryption: s3.BucketEncryption.S3_MANAGED }),
      versioned: true,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      enforceSSL: true,
      minimumTLSVersion: 1.2,
      serverAccessLogsBucket: logs,
      serverAccessLogsPrefix: 'archive-bucket/',
      // The archive is the point of the project: deleting the stack must never delete it.
      removalPolicy: RemovalPolicy.RETAIN,
      lifecycleRules: lifecycleRules(settings.lifecycle, this.prefix),
      // Object Lock without a default retention: a default would lock every version of the
      // continuation state, rewritten at every checkpoint, for the whole period. The write-once
      // objects get their retention one by one (ObjectLockRetention, from S3's EventBridge events).
      ...(settings.objectLock === null ? {} : { objectLockEnabled: true }),
    });
    // The bucket policies hold the TLS-only rule and the access-log delivery grant: kept with the
    // buckets, or `cdk destroy` would leave a kept archive open to plain HTTP and unlogged.
    for (const bucket of [this.bucket, logs]) bucket.policy?.applyRemovalPolicy(RemovalPolicy.RETAIN);
    if (settings.objectLock !== null) {
      // S3's native EventBridge switch (CDK's `eventBridgeEnabled` would add a custom resource
      // with a Lambda of its own); ObjectLockRetention listens to these events.
      (this.bucket.node.defaultChild as s3.CfnBucket).notificationConfiguration = {
        eventBridgeConfiguration: { eventBridgeEnabled: true },
      };
    }
  }

  /**
   * Read, write and delete objects under the prefix (the engine's conditional writes need
   * GetObject with PutObject; rollback of an uncommitted checkpoint needs DeleteObject), list only
   * under the prefix, and use the bucket's customer key through S3 only. Media files are
   * streamed in multipart uploads (@aws-sdk/lib-storage): PutObject covers creating, uploading
   * and completing them; aborting one and listing its parts are granted under `media/` and
   * `media-manifest/` only.
   */
  public grantArchiveReadWrite(grantee: iam.IGrantable): void {
    grantee.grantPrincipal.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'ArchiveObjects',
        actions: ['s3:GetObject', 's3:PutObject', 's3:DeleteObject'],
        resources: [this.bucket.arnForObjects(`${this.prefix}*`)],
      }),
    );
    grantee.grantPrincipal.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'ArchiveList',
        actions: ['s3:ListBucket'],
        resources: [this.bucket.bucketArn],
        conditions: { StringLike: { 's3:prefix': [`${this.prefix}*`] } },
      }),
    );
    grantee.grantPrincipal.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'MediaMultipartUploads',
        actions: ['s3:AbortMultipartUpload', 's3:ListMultipartUploadParts'],
        resources: MULTIPART_PREFIXES.map((p) => this.bucket.arnForObjects(`${this.prefix}${p}*`)),
      }),
    );
    this.grantKeysViaS3(grantee, 'Archive');
  }

  /**
   * What the completeness audit needs: read the committed states, the message objects and the
   * media manifests; list those prefixes and `media/` (orphan objects); write its reports under
   * `reportsPrefix` and nowhere else; the bucket's key through S3 only.
   */
  public grantAuditReadWrite(grantee: iam.IGrantable, reportsPrefix: string): void {
    const read = AUDIT_READ_PREFIXES.map((p) => this.bucket.arnForObjects(`${this.prefix}${p}*`));
    grantee.grantPrincipal.addToPrincipalPolicy(
      new iam.PolicyStatement({ sid: 'AuditRead', actions: ['s3:GetObject'], resources: read }),
    );
    grantee.grantPrincipal.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'AuditList',
        actions: ['s3:ListBucket'],
        resources: [this.bucket.bucketArn],
        conditions: {
          StringLike: { 's3:prefix': [...AUDIT_READ_PREFIXES, 'media/'].map((p) => `${this.prefix}${p}*`) },
        },
      }),
    );
    grantee.grantPrincipal.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'AuditReports',
        actions: ['s3:PutObject'],
        resources: [this.bucket.arnForObjects(`${this.prefix}${reportsPrefix}*`)],
      }),
    );
    this.grantKeysViaS3(grantee, 'Audit');
  }

  /**
   * The bucket's customer key (encrypt and decrypt) and the former key (decrypt only), through S3
   * only; statement ids `<sid>Key` and `<sid>FormerKey`.
   */
  private grantKeysViaS3(grantee: iam.IGrantable, sid: string): void {
    const viaS3 = { StringEquals: { 'kms:ViaService': `s3.${Stack.of(this).region}.amazonaws.com` } };
    if (this.encryptionKey !== undefined) {
      grantee.grantPrincipal.addToPrincipalPolicy(
        new iam.PolicyStatement({
          sid: `${sid}Key`,
          actions: ['kms:Decrypt', 'kms:GenerateDataKey'],
          resources: [this.encryptionKey.keyArn],
          conditions: viaS3,
        }),
      );
    }
    if (this.formerKey !== undefined) {
      grantee.grantPrincipal.addToPrincipalPolicy(
        new iam.PolicyStatement({
          sid: `${sid}FormerKey`,
          actions: ['kms:Decrypt'],
          resources: [this.formerKey.keyArn],
          conditions: viaS3,
        }),
      );
    }
  }

  /**
   * How cdk-nag names the `<bucket>/<prefix>*` resource of {@link grantArchiveReadWrite} in its
   * IAM5 (wildcard) finding, so the acknowledgement covers exactly that resource.
   */
  public objectsFindingResource(under = ''): string {
    const bucket = this.bucket.node.defaultChild;
    const arn =
      bucket instanceof s3.CfnBucket
        ? `<${Stack.of(this).getLogicalId(bucket)}.Arn>`
        : `arn:<AWS::Partition>:s3:::${this.bucket.bucketName}`;
    return `${arn}/${this.prefix}${under}*`;
  }

  /** The IAM5 findings of {@link grantArchiveReadWrite}: the prefix and the multipart prefixes. */
  public findingResources(): string[] {
    return ['', ...MULTIPART_PREFIXES].map((under) => this.objectsFindingResource(under));
  }

  private createAccessLogsBucket(expirationDays: number): s3.Bucket {
    const logs = new s3.Bucket(this, 'AccessLogs', {
      // S3 server access logging cannot deliver to an SSE-KMS bucket.
      encryption: s3.BucketEncryption.S3_MANAGED,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      enforceSSL: true,
      minimumTLSVersion: 1.2,
      removalPolicy: RemovalPolicy.RETAIN,
      lifecycleRules: [{ id: 'ExpireAccessLogs', expiration: Duration.days(expirationDays) }],
    });
    return logs;
  }
}

/**
 * Message files, media files and fingerprint logs move to colder tiers; state, manifests and run
 * reports stay in Standard (read every run). Fingerprint logs only to the tiers that answer a GET
 * at once (Standard-IA, Glacier Instant Retrieval): the rescan reads them, and it cannot wait for
 * a restore.
 */
function lifecycleRules(lifecycle: DeployConfig['bucket']['lifecycle'], prefix: string): s3.LifecycleRule[] {
  const steps: [number | null, s3.StorageClass][] = [
    [lifecycle.infrequentAccessAfterDays, s3.StorageClass.INFREQUENT_ACCESS],
    [lifecycle.glacierInstantRetrievalAfterDays, s3.StorageClass.GLACIER_INSTANT_RETRIEVAL],
    [lifecycle.glacierFlexibleRetrievalAfterDays, s3.StorageClass.GLACIER],
    [lifecycle.deepArchiveAfterDays, s3.StorageClass.DEEP_ARCHIVE],
  ];
  const transitions = steps
    .filter((step): step is [number, s3.StorageClass] => step[0] !== null)
    .map(([day, storageClass]) => ({ storageClass, transitionAfter: Duration.days(day) }));
  const rules: s3.LifecycleRule[] = [
    {
      id: 'ExpireNoncurrentVersions',
      abortIncompleteMultipartUploadAfter: Duration.days(7),
      ...(lifecycle.noncurrentVersionExpirationDays === null
        ? {}
        : {
            noncurrentVersionExpiration: Duration.days(lifecycle.noncurrentVersionExpirationDays),
            expiredObjectDeleteMarker: true,
          }),
    },
  ];
  if (transitions.length > 0) {
    rules.push({ id: 'MessagesToColderTiers', prefix: `${prefix}messages/`, transitions });
    rules.push({ id: 'MediaToColderTiers', prefix: `${prefix}media/`, transitions });
  }
  const readable = transitions.filter((t) => INSTANT_CLASSES.includes(t.storageClass));
  if (readable.length > 0) {
    rules.push({ id: 'FingerprintsToColderTiers', prefix: `${prefix}fingerprints/`, transitions: readable });
  }
  return rules;
}
