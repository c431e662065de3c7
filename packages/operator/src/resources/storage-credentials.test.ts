import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { sampleRunInput } from '../api/sample-run.test-helper.js';
import type { TrainingRunInput } from '../api/training-run.js';
import { parseTrainingRun } from '../api/validate.js';
import {
  mintsCredentials,
  runPrefixes,
  s3Location,
  sessionPolicy,
  storeIdentity,
  withMintedCredentials
} from './storage-credentials.js';

const store = { endpoint: 'http://ringtrain-minio.ringtrain-system.svc:9000' };
const run = (spec: Partial<TrainingRunInput['spec']> = {}) =>
  parseTrainingRun(
    sampleRunInput({ spec: { storage: { endpoint: 'http://ringtrain-minio.ringtrain-system:9000' }, ...spec } })
  );

describe('per-run storage credentials: which prefixes, which policy, which runs', () => {
  it('reads the dataset, the weights and a manifest source’s folder; writes output, checkpoints and the ingest destination', () => {
    assert.deepEqual(runPrefixes(run({ model: { pretrained: 's3://models/resnet18.safetensors' } })), {
      read: [
        { bucket: 'datasets', prefix: 'flowers' },
        { bucket: 'models', prefix: 'resnet18.safetensors' }
      ],
      write: [
        { bucket: 'runs', prefix: 'flowers' },
        { bucket: 'runs', prefix: 'flowers/checkpoints' }
      ]
    });
    const ingesting = run({
      dataset: { ingest: { source: 's3://raw/flowers/labels.csv', into: 's3://datasets/flowers-v2/' } },
      checkpoint: { uri: 's3://ckpt/flowers' }
    });
    assert.deepEqual(runPrefixes(ingesting), {
      read: [{ bucket: 'raw', prefix: 'flowers' }],
      write: [
        { bucket: 'runs', prefix: 'flowers' },
        { bucket: 'ckpt', prefix: 'flowers' },
        { bucket: 'datasets', prefix: 'flowers-v2' }
      ]
    });
  });

  it('the policy names each prefix as a folder, lists only under them, and writes only where the run writes', () => {
    const policy = JSON.parse(sessionPolicy(runPrefixes(run()))) as {
      Statement: { Action: string[]; Resource: string[]; Condition?: unknown }[];
    };
    const [read, write, listDatasets, listRuns, listUploads, location] = policy.Statement;
    assert.deepEqual(read?.Action, ['s3:GetObject']);
    assert.deepEqual(read?.Resource, ['arn:aws:s3:::datasets/flowers', 'arn:aws:s3:::datasets/flowers/*']);
    assert.ok(write?.Action.includes('s3:PutObject'));
    assert.ok(!write?.Resource.some((arn) => arn.includes('datasets')), 'the dataset is read-only');
    assert.deepEqual(listDatasets?.Condition, {
      StringLike: { 's3:prefix': ['flowers', 'flowers/*'] }
    });
    assert.deepEqual(listRuns?.Resource, ['arn:aws:s3:::runs']);
    // Multipart uploads (checkpoints) list the bucket's unfinished uploads: only where the run writes.
    assert.deepEqual(listUploads, {
      Effect: 'Allow',
      Action: ['s3:ListBucketMultipartUploads'],
      Resource: ['arn:aws:s3:::runs']
    });
    assert.deepEqual(location?.Action, ['s3:GetBucketLocation']);
    assert.ok(!JSON.stringify(policy).includes('CreateBucket') && !JSON.stringify(policy).includes('s3:*'));
  });

  it('s3 URIs only, without trailing or doubled slashes', () => {
    assert.deepEqual(s3Location('s3://b//x//y/'), { bucket: 'b', prefix: 'x/y' });
    assert.deepEqual(s3Location('s3://b'), { bucket: 'b', prefix: '' });
    assert.equal(s3Location('https://host/x'), undefined);
  });

  it('mints for runs on the cluster’s store that bring no Secret of their own, whatever Service name form they use', () => {
    assert.equal(storeIdentity('http://Minio.ns.svc.cluster.local:9000'), storeIdentity('http://minio.ns:9000'));
    assert.notEqual(storeIdentity('https://minio.ns:9000'), storeIdentity('http://minio.ns:9000'));
    assert.equal(mintsCredentials(run(), store), true);
    assert.equal(mintsCredentials(run(), undefined), false, 'an operator without --store-credentials-dir');
    const own = run({ storage: { endpoint: store.endpoint, credentialsSecretRef: { name: 'mine' } } });
    assert.equal(mintsCredentials(own, store), false);
    assert.equal(withMintedCredentials(own, store), own);
    assert.equal(mintsCredentials(run({ storage: { endpoint: 'https://s3.eu-west-1.amazonaws.com' } }), store), false);
    assert.equal(mintsCredentials(run({ storage: {} }), store), false, 'AWS S3');
    assert.deepEqual(withMintedCredentials(run(), store).spec.storage?.credentialsSecretRef, {
      name: 'flowers-storage'
    });
  });
});
