import type { V1Secret } from '@kubernetes/client-node';
import { checkpointsUri, type TrainingRun } from '../api/training-run.js';
import { commonLabels, ownerReference } from './names.js';

/**
 * Per-run object-store credentials, minted by the operator (controller/storage-credentials-minter.ts) for runs
 * on the cluster's own store: temporary keys (STS AssumeRole) whose session policy lets the run's pods read
 * its dataset and weights and write only its own output, checkpoints and ingested dataset. A tenant's pods never
 * hold the store's root credential, so one run cannot read or overwrite another's prefixes.
 */

/** The minted Secret's keys: the files packages/dataset reads from RINGTRAIN_S3_CREDENTIALS_DIR. */
export const STORAGE_CREDENTIAL_KEYS = {
  accessKey: 'AWS_ACCESS_KEY_ID',
  secretKey: 'AWS_SECRET_ACCESS_KEY',
  sessionToken: 'AWS_SESSION_TOKEN'
} as const;

/** When the credentials in the Secret stop working, for people reading it (the operator never reads Secrets). */
export const EXPIRES_ANNOTATION = 'ringtrain.dev/credentials-expire-at';

/** The cluster's own object store, whose admin credential the operator holds (its --store-* flags). */
export interface ManagedStore {
  /** As runs name it in spec.storage.endpoint, e.g. http://ringtrain-minio.ringtrain-system:9000. */
  readonly endpoint: string;
}

export const storageCredentialsSecretName = (run: string) => `${run}-storage`;

/** A place in a bucket: `prefix` is '' for the whole bucket, else a key prefix without slashes at either end. */
export interface S3Location {
  readonly bucket: string;
  readonly prefix: string;
}

/** The bucket and key prefix of an s3:// URI; undefined for other schemes. */
export function s3Location(uri: string): S3Location | undefined {
  const match = /^s3:\/\/([^/]+)\/*(.*)$/i.exec(uri);
  if (!match) return undefined;
  return { bucket: match[1]!, prefix: match[2]!.replace(/\/+$/, '').replace(/\/{2,}/g, '/') };
}

/** What a run's pods read, and what they write (and read back: resuming reads its checkpoints and record). */
export interface RunPrefixes {
  readonly read: readonly S3Location[];
  readonly write: readonly S3Location[];
}

const MANIFEST_OBJECT = /\.(csv|jsonl)$/i;

/**
 * The prefixes a run's pods need, from its spec. Read: the dataset, the ingest's source (the folder of a
 * .csv/.jsonl manifest object: its rows name images beside it), the pretrained weights. Write: the output (model,
 * metrics, TensorBoard, run-record.json), the checkpoints, and the ingest's destination, which the coordinator
 * fills (or finds complete and reads).
 */
export function runPrefixes(run: Pick<TrainingRun, 'spec'>): RunPrefixes {
  const { spec } = run;
  const ingestSource = spec.dataset.ingest?.source;
  const read = [
    spec.dataset.uri,
    ingestSource && MANIFEST_OBJECT.test(ingestSource) ? ingestSource.replace(/\/[^/]*$/, '') : ingestSource,
    spec.model.pretrained
  ];
  const write = [spec.output.uri, checkpointsUri(run), spec.dataset.ingest?.into];
  const locations = (uris: (string | undefined)[]) =>
    dedupe(uris.flatMap((uri) => (uri === undefined ? [] : (s3Location(uri) ?? []))));
  return { read: locations(read), write: locations(write) };
}

function dedupe(locations: S3Location[]): S3Location[] {
  const seen = new Map(locations.map((l) => [`${l.bucket}/${l.prefix}`, l]));
  return [...seen.values()];
}

/** The object ARNs of a location: the object of that exact name (a weights file, a prefix stat) and all beneath. */
function objectArns({ bucket, prefix }: S3Location): string[] {
  return prefix === ''
    ? [`arn:aws:s3:::${bucket}/*`]
    : [`arn:aws:s3:::${bucket}/${prefix}`, `arn:aws:s3:::${bucket}/${prefix}/*`];
}

/** MinIO refuses a longer inline session policy (as AWS STS does, packed). */
export const MAX_SESSION_POLICY_CHARS = 2048;

/**
 * The inline session policy of a run's temporary credentials: what the pods may do is this policy intersected
 * with the parent's (the operator's admin user). Listing is allowed only under the run's own prefixes
 * (s3:prefix condition); writes (and deletes, and multipart uploads) only under its write prefixes.
 * Compact JSON: the policy travels in the STS request and counts against MAX_SESSION_POLICY_CHARS.
 */
export function sessionPolicy(prefixes: RunPrefixes): string {
  const all = dedupe([...prefixes.read, ...prefixes.write]);
  const buckets = [...new Set(all.map((l) => l.bucket))].sort();
  const statements: object[] = [];
  if (prefixes.read.length > 0)
    statements.push({ Effect: 'Allow', Action: ['s3:GetObject'], Resource: prefixes.read.flatMap(objectArns) });
  if (prefixes.write.length > 0)
    statements.push({
      Effect: 'Allow',
      Action: [
        's3:GetObject',
        's3:PutObject',
        's3:DeleteObject',
        's3:AbortMultipartUpload',
        's3:ListMultipartUploadParts'
      ],
      Resource: prefixes.write.flatMap(objectArns)
    });
  for (const bucket of buckets) {
    const mine = all.filter((l) => l.bucket === bucket);
    statements.push({
      Effect: 'Allow',
      Action: ['s3:ListBucket'],
      Resource: [`arn:aws:s3:::${bucket}`],
      ...(mine.some((l) => l.prefix === '')
        ? {}
        : { Condition: { StringLike: { 's3:prefix': mine.flatMap((l) => [l.prefix, `${l.prefix}/*`]) } } })
    });
  }
  // A large object (a checkpoint) goes up in parts, and the client first lists the bucket's unfinished uploads of
  // that key to resume one. S3 and MinIO grant that listing per bucket only, not per prefix: it shows the keys of
  // uploads in progress (names, never contents) in the buckets the run writes to.
  const writeBuckets = [...new Set(prefixes.write.map((l) => l.bucket))].sort();
  if (writeBuckets.length > 0)
    statements.push({
      Effect: 'Allow',
      Action: ['s3:ListBucketMultipartUploads'],
      Resource: writeBuckets.map((b) => `arn:aws:s3:::${b}`)
    });
  // Clients that ask a bucket's region first; no bucket is created or deleted with these keys.
  statements.push({
    Effect: 'Allow',
    Action: ['s3:GetBucketLocation'],
    Resource: buckets.map((b) => `arn:aws:s3:::${b}`)
  });
  return JSON.stringify({ Version: '2012-10-17', Statement: statements });
}

/** Temporary credentials as STS returns them. */
export interface TemporaryCredentials {
  readonly accessKey: string;
  readonly secretKey: string;
  readonly sessionToken: string;
  readonly expiresAt: Date;
}

/** The run's credentials Secret, owned by the run (the garbage collector deletes it with the run). */
export function buildStorageCredentialsSecret(run: TrainingRun, credentials: TemporaryCredentials): V1Secret {
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: {
      name: storageCredentialsSecretName(run.metadata.name),
      namespace: run.metadata.namespace,
      labels: commonLabels(run),
      annotations: { [EXPIRES_ANNOTATION]: credentials.expiresAt.toISOString() },
      ownerReferences: [ownerReference(run)]
    },
    type: 'Opaque',
    stringData: {
      [STORAGE_CREDENTIAL_KEYS.accessKey]: credentials.accessKey,
      [STORAGE_CREDENTIAL_KEYS.secretKey]: credentials.secretKey,
      [STORAGE_CREDENTIAL_KEYS.sessionToken]: credentials.sessionToken
    }
  };
}

/**
 * Which store an endpoint names, for comparing two: its scheme, host and port, with an in-cluster Service's
 * `.svc` and `.svc.cluster.local` suffixes dropped (http://minio.ns:9000 and http://minio.ns.svc:9000 are one
 * server). AWS S3 (no endpoint) is `aws`.
 */
export function storeIdentity(endpoint: string | undefined): string {
  if (endpoint === undefined) return 'aws';
  try {
    const url = new URL(endpoint);
    const host = url.hostname.toLowerCase().replace(/\.svc(\.cluster\.local)?\.?$/, '');
    const port = url.port || (url.protocol === 'https:' ? '443' : '80');
    return `${url.protocol}//${host}:${port}`;
  } catch {
    return endpoint;
  }
}

/**
 * Whether the operator mints this run's credentials: the run uses the cluster's store (its spec.storage.endpoint
 * is the managed store's) and brings no credentials of its own (spec.storage.credentialsSecretRef, kept for an
 * external S3 with an IAM user per run, docs/operator.md).
 */
export function mintsCredentials(run: Pick<TrainingRun, 'spec'>, store: ManagedStore | undefined): boolean {
  const storage = run.spec.storage;
  return (
    store !== undefined &&
    storage?.credentialsSecretRef === undefined &&
    storage?.endpoint !== undefined &&
    storeIdentity(storage.endpoint) === storeIdentity(store.endpoint)
  );
}

/**
 * The run as its pods are built when the operator mints its credentials: spec.storage.credentialsSecretRef names
 * the minted Secret, so the pod templates mount it at RINGTRAIN_S3_CREDENTIALS_DIR as they would a user's own.
 * Other runs are returned as they are.
 */
export function withMintedCredentials(run: TrainingRun, store: ManagedStore | undefined): TrainingRun {
  if (!mintsCredentials(run, store)) return run;
  return {
    ...run,
    spec: {
      ...run.spec,
      storage: { ...run.spec.storage, credentialsSecretRef: { name: storageCredentialsSecretName(run.metadata.name) } }
    }
  };
}
