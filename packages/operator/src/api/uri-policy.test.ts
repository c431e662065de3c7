import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { planReconcile } from '../reconcile/plan.js';
import { sampleRunInput } from './sample-run.test-helper.js';
import { DEFAULT_URI_POLICY, uriPolicyViolations } from './uri-policy.js';
import { parseTrainingRun } from './validate.js';

const runWith = (spec: NonNullable<Parameters<typeof sampleRunInput>[0]>['spec']) =>
  parseTrainingRun(sampleRunInput({ ...(spec ? { spec } : {}) }));

describe('which URIs a TrainingRun may name', () => {
  it('by default: s3:// anywhere, with any storage endpoint but a metadata one', () => {
    assert.deepEqual(
      uriPolicyViolations(
        runWith({
          model: { pretrained: 's3://weights/resnet18.safetensors' },
          storage: { endpoint: 'http://ringtrain-minio.ringtrain-system:9000' }
        })
      ),
      []
    );
    assert.deepEqual(DEFAULT_URI_POLICY.schemes, ['s3']);
  });

  it('never file:// (the node disk), and no other scheme unless the cluster allows it', () => {
    const problems = uriPolicyViolations(
      runWith({
        dataset: { uri: 'file:///etc' },
        model: { pretrained: 'https://models.example.com/resnet18.safetensors' }
      })
    );
    assert.equal(problems.length, 2);
    assert.match(problems[0]!, /^spec\.model\.pretrained: https:\/\/ is not allowed .*--allowed-uri-schemes; now: s3/);
    assert.match(problems[1]!, /^spec\.dataset\.uri: file:\/\/ reads the node's disk/);
    const file = uriPolicyViolations(runWith({ dataset: { uri: 'file:///etc' } }), {
      schemes: ['s3', 'file'],
      hosts: []
    });
    assert.equal(file.length, 1, 'even when configured');
  });

  it('file:// weights beneath one of the workers’ own volumeMounts (a PVC of weights), nothing else by file://', () => {
    const withWeights = (pretrained: string) =>
      runWith({
        model: { pretrained },
        workers: {
          replicas: 2,
          image: 'ringtrain:test',
          volumes: [{ name: 'weights', persistentVolumeClaim: { claimName: 'resnet-weights', readOnly: true } }],
          volumeMounts: [{ name: 'weights', mountPath: '/weights/', readOnly: true }]
        }
      });
    assert.deepEqual(uriPolicyViolations(withWeights('file:///weights/resnet18.safetensors')), []);
    for (const outside of [
      'file:///weights',
      'file:///weightsX/resnet18.safetensors',
      'file:///weights/../etc/passwd',
      'file:///etc/passwd',
      'file://node/weights/resnet18.safetensors'
    ])
      assert.match(
        uriPolicyViolations(withWeights(outside))[0] ?? 'allowed',
        /^spec\.model\.pretrained: file:\/\/ reads the node's disk.*beneath one of spec\.workers\.volumeMounts/,
        outside
      );
    assert.match(
      uriPolicyViolations(
        parseTrainingRun(
          sampleRunInput({
            spec: {
              dataset: { uri: 'file:///weights/flowers' },
              workers: {
                replicas: 1,
                image: 'x',
                volumes: [{ name: 'weights', persistentVolumeClaim: { claimName: 'w' } }],
                volumeMounts: [{ name: 'weights', mountPath: '/weights' }]
              }
            }
          })
        )
      )[0] ?? 'allowed',
      /^spec\.dataset\.uri: file:\/\/ reads the node's disk, which no run may do in a cluster; use s3:\/\/$/,
      'the dataset is read by the coordinator and the dataset service too'
    );
  });

  it('https only to the hosts allowed, and never to loopback, link-local or metadata addresses', () => {
    const policy = { schemes: ['s3', 'https'], hosts: ['models.example.com', '169.254.169.254'] };
    const weights = (url: string) => uriPolicyViolations(runWith({ model: { pretrained: url } }), policy);
    assert.deepEqual(weights('https://models.example.com/r.safetensors'), []);
    assert.match(weights('https://other.example.com/r')[0]!, /host other\.example\.com is not allowed/);
    for (const host of [
      '169.254.169.254',
      'metadata.google.internal',
      '127.0.0.1',
      'localhost',
      '[::1]',
      '[fe80::1]',
      '[fd00:ec2::254]',
      '[::ffff:169.254.169.254]'
    ])
      assert.match(weights(`https://${host}/latest/meta-data`)[0] ?? '', /loopback, link-local or metadata/, host);
    const endpoint = uriPolicyViolations(runWith({ storage: { endpoint: 'http://169.254.169.254' } }));
    assert.match(endpoint[0]!, /^spec\.storage\.endpoint: .*link-local or metadata/);
  });

  it('a refused run fails before anything is created, the reason in its status', () => {
    const run = runWith({ model: { pretrained: 'http://169.254.169.254/latest/meta-data/iam/' } });
    const plan = planReconcile(
      run,
      { pods: [], serviceNames: [], secretExists: false, configMapExists: false, networkPolicyExists: false },
      new Date(),
      { token: 't' }
    );
    assert.deepEqual(plan.actions, []);
    assert.equal(plan.status?.phase, 'Failed');
    const failed = plan.status?.conditions?.find((condition) => condition.type === 'Failed');
    assert.equal(failed?.reason, 'URINotAllowed');
    assert.match(failed?.message ?? '', /spec\.model\.pretrained: http:\/\/ is not allowed/);
  });
});
