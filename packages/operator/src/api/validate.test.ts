import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { describe, it } from 'node:test';
import { parse } from 'yaml';
import { sampleRunInput } from './sample-run.test-helper.js';
import { parseTrainingRun, validateTrainingRun } from './validate.js';

function errorsOf(input: unknown, old?: unknown): string[] {
  const result = validateTrainingRun(input, old === undefined ? undefined : parseTrainingRun(old));
  return result.ok ? [] : result.errors.map((e) => `${e.path}: ${e.message}`);
}

describe('validateTrainingRun', () => {
  it('accepts a minimal run and fills in the defaults the CRD schema also applies', () => {
    const run = parseTrainingRun(sampleRunInput());
    assert.equal(run.spec.model.architecture, 'resnet18');
    // No resourceName: the operator's cluster default (--default-gpu-resource) applies.
    assert.deepEqual(run.spec.workers.gpu, { count: 1 });
    assert.equal(run.spec.hyperparameters.epochs, 10);
    assert.equal(run.spec.runPolicy.backoffLimit, 3);
    assert.equal(run.spec.runPolicy.cleanPodPolicy, 'All');
    assert.equal(run.spec.runPolicy.suspend, false);
    assert.equal(run.spec.checkpoint.everySteps, 500);
    assert.equal(run.spec.runPolicy.progressDeadlineSeconds, 3600, 'every phase has a deadline by default');
    assert.equal(run.spec.runPolicy.terminationGracePeriodSeconds, 120);
    assert.equal(run.spec.workers.cacheSizeLimit, '10Gi');
    assert.deepEqual(
      run.spec.coordinator,
      { resources: { requests: { cpu: '250m', memory: '512Mi' }, limits: { cpu: '2', memory: '2Gi' } } },
      "no image (the workers'), no placement"
    );
  });

  const refused: Array<[string, (spec: ReturnType<typeof sampleRunInput>['spec']) => unknown, RegExp]> = [
    ['numClasses below 2', (s) => ({ ...s, model: { numClasses: 1 } }), /^spec\.model\.numClasses: /],
    ['zero replicas', (s) => ({ ...s, workers: { ...s.workers, replicas: 0 } }), /^spec\.workers\.replicas: /],
    ['missing image', (s) => ({ ...s, workers: { replicas: 1 } }), /^spec\.workers\.image: /],
    [
      'unknown optimizer',
      (s) => ({ ...s, hyperparameters: { optimizer: 'lamb' } }),
      /^spec\.hyperparameters\.optimizer: /
    ],
    [
      'learning rate of 0',
      (s) => ({ ...s, hyperparameters: { learningRate: 0 } }),
      /^spec\.hyperparameters\.learningRate: /
    ],
    [
      'a dataset path without a scheme',
      (s) => ({ ...s, dataset: { uri: '/data/flowers' } }),
      /^spec\.dataset\.uri: .*scheme/
    ],
    [
      'both dataset.uri and dataset.ingest',
      (s) => ({ ...s, dataset: { uri: 's3://a/b', ingest: { source: 's3://raw/x', into: 's3://a/c' } } }),
      /^spec\.dataset: set exactly one/
    ],
    ['neither dataset.uri nor dataset.ingest', (s) => ({ ...s, dataset: {} }), /^spec\.dataset: set exactly one/],
    [
      'freezeBackbone without pretrained weights',
      (s) => ({ ...s, model: { freezeBackbone: true } }),
      /^spec\.model\.freezeBackbone: .*pretrained/
    ],
    [
      'warmup as long as training',
      (s) => ({ ...s, hyperparameters: { epochs: 2, warmupEpochs: 2 } }),
      /^spec\.hyperparameters\.warmupEpochs: /
    ],
    [
      'GPUs given in resources.limits as well',
      (s) => ({ ...s, workers: { ...s.workers, resources: { limits: { 'nvidia.com/gpu': 2 } } } }),
      /^spec\.workers\.resources\.limits: set GPUs with workers\.gpu/
    ],
    [
      'another device plugin’s GPU in resources.limits beside the default one',
      (s) => ({ ...s, workers: { ...s.workers, resources: { limits: { 'amd.com/gpu': 1 } } } }),
      /^spec\.workers\.resources\.limits: set GPUs with workers\.gpu/
    ],
    [
      'the named GPU in resources.limits as well',
      (s) => ({
        ...s,
        workers: {
          ...s.workers,
          gpu: { resourceName: 'example.com/tpu' },
          resources: { limits: { 'example.com/tpu': 1 } }
        }
      }),
      /^spec\.workers\.resources\.limits: set GPUs with workers\.gpu/
    ],
    [
      'a GPU resource name that is not an extended resource name',
      (s) => ({ ...s, workers: { ...s.workers, gpu: { resourceName: 'gpu' } } }),
      /^spec\.workers\.gpu\.resourceName: an extended resource name/
    ],
    [
      'a progress deadline under 30 s',
      (s) => ({ ...s, runPolicy: { progressDeadlineSeconds: 10 } }),
      /^spec\.runPolicy\.progressDeadlineSeconds: /
    ],
    [
      'an unknown cleanPodPolicy',
      (s) => ({ ...s, runPolicy: { cleanPodPolicy: 'Some' } }),
      /^spec\.runPolicy\.cleanPodPolicy: /
    ],
    [
      'a bad env var name',
      (s) => ({ ...s, workers: { ...s.workers, env: [{ name: '1X', value: 'y' }] } }),
      /^spec\.workers\.env\[0\]\.name: /
    ],
    [
      'a volume with two sources',
      (s) => ({
        ...s,
        workers: {
          ...s.workers,
          volumes: [{ name: 'weights', persistentVolumeClaim: { claimName: 'w' }, emptyDir: {} }]
        }
      }),
      /^spec\.workers\.volumes: each of spec\.workers\.volumes needs exactly one of/
    ],
    [
      'a hostPath volume (pruned by the API server, so no source is left)',
      (s) => ({ ...s, workers: { ...s.workers, volumes: [{ name: 'node', hostPath: { path: '/' } }] } }),
      /^spec\.workers\.volumes: each of spec\.workers\.volumes needs exactly one of/
    ],
    [
      "a volume named as one of the operator's",
      (s) => ({ ...s, coordinator: { volumes: [{ name: 'cache', emptyDir: {} }] } }),
      /^spec\.coordinator\.volumes: spec\.coordinator\.volumes may not be named tmp, cache/
    ],
    [
      'two volumes of one name',
      (s) => ({
        ...s,
        workers: {
          ...s.workers,
          volumes: [
            { name: 'a', emptyDir: {} },
            { name: 'a', emptyDir: {} }
          ]
        }
      }),
      /^spec\.workers\.volumes: volume names must be unique/
    ],
    [
      'a mount of a volume the role does not have',
      (s) => ({ ...s, workers: { ...s.workers, volumeMounts: [{ name: 'cache', mountPath: '/data' }] } }),
      /^spec\.workers\.volumeMounts: each of spec\.workers\.volumeMounts must name one of spec\.workers\.volumes/
    ],
    [
      'a mount beneath /cache',
      (s) => ({
        ...s,
        workers: {
          ...s.workers,
          volumes: [{ name: 'weights', persistentVolumeClaim: { claimName: 'w' } }],
          volumeMounts: [{ name: 'weights', mountPath: '/cache/weights' }]
        }
      }),
      /^spec\.workers\.volumeMounts: spec\.workers\.volumeMounts may not mount at or beneath/
    ],
    [
      'a mount over the run configuration',
      (s) => ({
        ...s,
        coordinator: {
          volumes: [{ name: 'conf', configMap: { name: 'c' } }],
          volumeMounts: [{ name: 'conf', mountPath: '/etc/ringtrain' }]
        }
      }),
      /^spec\.coordinator\.volumeMounts: spec\.coordinator\.volumeMounts may not mount at or beneath/
    ],
    [
      "a label of the operator's",
      (s) => ({ ...s, workers: { ...s.workers, labels: { 'ringtrain.dev/run': 'other' } } }),
      /^spec\.workers\.labels: spec\.workers\.labels may not set ringtrain\.dev\/\*/
    ],
    [
      "app.kubernetes.io/instance, the operator's",
      (s) => ({ ...s, coordinator: { labels: { 'app.kubernetes.io/instance': 'x' } } }),
      /^spec\.coordinator\.labels: /
    ],
    [
      "the operator's kube-score annotation",
      (s) => ({ ...s, workers: { ...s.workers, annotations: { 'kube-score/ignore': 'all' } } }),
      /^spec\.workers\.annotations: spec\.workers\.annotations may not set/
    ],
    [
      'a priorityClassName that is not a DNS name',
      (s) => ({ ...s, workers: { ...s.workers, priorityClassName: 'High Priority' } }),
      /^spec\.workers\.priorityClassName: /
    ],
    [
      'an affinity operator Kubernetes does not know',
      (s) => ({
        ...s,
        workers: {
          ...s.workers,
          affinity: {
            nodeAffinity: {
              requiredDuringSchedulingIgnoredDuringExecution: {
                nodeSelectorTerms: [{ matchExpressions: [{ key: 'zone', operator: 'Near' }] }]
              }
            }
          }
        }
      }),
      /^spec\.workers\.affinity\.nodeAffinity\.requiredDuringSchedulingIgnoredDuringExecution\.nodeSelectorTerms\[0\]\.matchExpressions\[0\]\.operator: /
    ],
    [
      'a topology spread without whenUnsatisfiable',
      (s) => ({ ...s, workers: { ...s.workers, topologySpreadConstraints: [{ maxSkew: 1, topologyKey: 'zone' }] } }),
      /^spec\.workers\.topologySpreadConstraints\[0\]\.whenUnsatisfiable: /
    ],
    [
      'a malformed quantity',
      (s) => ({ ...s, workers: { ...s.workers, resources: { requests: { memory: '16 GB' } } } }),
      /^spec\.workers\.resources\.requests\.memory: /
    ],
    [
      'a cache size with a space',
      (s) => ({ ...s, workers: { ...s.workers, cacheSizeLimit: '10 GB' } }),
      /^spec\.workers\.cacheSizeLimit: a size such as 20Gi/
    ],
    [
      'a cache size in millibytes',
      (s) => ({ ...s, workers: { ...s.workers, cacheSizeLimit: '500m' } }),
      /^spec\.workers\.cacheSizeLimit: a size such as 20Gi/
    ],
    [
      'a cache size of 0',
      (s) => ({ ...s, workers: { ...s.workers, cacheSizeLimit: '0Gi' } }),
      /^spec\.workers\.cacheSizeLimit: a size above 0/
    ],
    [
      'a cache size given as a number',
      (s) => ({ ...s, workers: { ...s.workers, cacheSizeLimit: 1e9 } }),
      /^spec\.workers\.cacheSizeLimit: /
    ],
    [
      'a grace period of 0 s',
      (s) => ({ ...s, runPolicy: { terminationGracePeriodSeconds: 0 } }),
      /^spec\.runPolicy\.terminationGracePeriodSeconds: /
    ],
    [
      'a fractional grace period',
      (s) => ({ ...s, runPolicy: { terminationGracePeriodSeconds: 1.5 } }),
      /^spec\.runPolicy\.terminationGracePeriodSeconds: /
    ],
    [
      'a malformed coordinator memory limit',
      (s) => ({ ...s, coordinator: { resources: { limits: { memory: '2 GiB' } } } }),
      /^spec\.coordinator\.resources\.limits\.memory: a quantity/
    ],
    ['an empty coordinator image', (s) => ({ ...s, coordinator: { image: '' } }), /^spec\.coordinator\.image: /],
    [
      'an unknown toleration effect on the coordinator',
      (s) => ({ ...s, coordinator: { tolerations: [{ key: 'x', effect: 'Never' }] } }),
      /^spec\.coordinator\.tolerations\[0\]\.effect: /
    ],
    [
      'an ingest maxResolution below 8 px',
      (s) => ({ ...s, dataset: { ingest: { source: 's3://raw/x', into: 's3://a/c', maxResolution: 4 } } }),
      /^spec\.dataset\.ingest\.maxResolution: /
    ]
  ];
  for (const [what, change, expected] of refused) {
    it(`refuses ${what}, naming the field`, () => {
      const input = sampleRunInput();
      const errors = errorsOf({ ...input, spec: change(input.spec) });
      assert.ok(
        errors.some((e) => expected.test(e)),
        `expected ${expected} among:\n${errors.join('\n')}`
      );
    });
  }

  it('refuses a name too long for the pod names derived from it', () => {
    const errors = errorsOf(sampleRunInput({ name: 'x'.repeat(43) }));
    assert.deepEqual(errors.length, 1);
    assert.match(errors[0] ?? '', /^metadata\.name: .*at most 42/);
  });

  it('allows GPUs in resources.limits when the run asks for no GPUs', () => {
    const input = sampleRunInput();
    const spec = {
      ...input.spec,
      workers: { ...input.spec.workers, gpu: { count: 0 }, resources: { limits: { 'nvidia.com/gpu': 1 } } }
    };
    assert.deepEqual(errorsOf({ ...input, spec }), []);
  });

  it('accepts a GPU resource of another device plugin, named in workers.gpu', () => {
    const input = sampleRunInput();
    const spec = {
      ...input.spec,
      workers: { ...input.spec.workers, gpu: { resourceName: 'gpu.intel.com/i915', count: 2 } }
    };
    assert.deepEqual(errorsOf({ ...input, spec }), []);
  });

  describe('on update', () => {
    const started = { ...sampleRunInput(), status: { attempt: 1, startTime: '2026-11-27T10:00:00Z' } };

    it('refuses a changed model once the run has started', () => {
      const next = { ...started, spec: { ...started.spec, model: { numClasses: 7 } } };
      assert.deepEqual(
        errorsOf(next, started).map((e) => e.split(':')[0]),
        ['spec']
      );
    });

    it('refuses a changed replica count once started, and allows it before', () => {
      const resized = (from: typeof started | ReturnType<typeof sampleRunInput>) => ({
        ...from,
        spec: { ...from.spec, workers: { ...from.spec.workers, replicas: 4 } }
      });
      assert.equal(errorsOf(resized(started), started).length, 1);
      assert.deepEqual(errorsOf(resized(sampleRunInput()), sampleRunInput()), []);
    });

    it('allows suspending a started run (runPolicy stays mutable)', () => {
      const next = { ...started, spec: { ...started.spec, runPolicy: { suspend: true } } };
      assert.deepEqual(errorsOf(next, started), []);
    });

    it('refuses setting or changing managedBy at any time', () => {
      const next = { ...sampleRunInput(), spec: { ...sampleRunInput().spec, managedBy: 'kueue.x-k8s.io/multikueue' } };
      assert.deepEqual(
        errorsOf(next, sampleRunInput()).map((e) => e.split(':')[0]),
        ['spec.managedBy']
      );
    });
  });

  it('accepts every example in deploy/examples', () => {
    const files = readdirSync(new URL('../../../../deploy/examples/', import.meta.url)).filter((f) =>
      f.endsWith('.yaml')
    );
    assert.ok(files.length >= 3);
    for (const file of files) {
      const text = readFileSync(new URL(`../../../../deploy/examples/${file}`, import.meta.url), 'utf8');
      assert.deepEqual(errorsOf(parse(text)), [], file);
    }
  });
});
