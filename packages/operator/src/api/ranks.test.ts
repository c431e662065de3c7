import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MAX_WORLD_SIZE } from '@ringtrain/proto';
import { generateCrd } from './crd.js';
import { globalRank, ranksPerPod, worldSize } from './ranks.js';
import { sampleRunInput } from './sample-run.test-helper.js';
import { parseTrainingRun, validateTrainingRun } from './validate.js';

const workers = (fields: Record<string, unknown>) =>
  sampleRunInput({ spec: { workers: { replicas: 2, image: 'ringtrain:test', ...fields } } });
const errorsOf = (input: unknown, old?: Parameters<typeof validateTrainingRun>[1]) => {
  const result = validateTrainingRun(input, old);
  return result.ok ? [] : result.errors;
};

describe('ranks per worker pod', () => {
  it('default to one per GPU, or one without GPUs, and multiply the pods into the ring', () => {
    const byGpus = parseTrainingRun(workers({ gpu: { count: 4 } })).spec.workers;
    assert.equal(ranksPerPod(byGpus), 4);
    assert.equal(worldSize(byGpus), 8);
    const cpu = parseTrainingRun(workers({ gpu: { count: 0 } })).spec.workers;
    assert.equal(ranksPerPod(cpu), 1);
    assert.equal(worldSize(cpu), 2);
    // The schema's default gpu.count is 1: one rank per pod, as before ranksPerPod existed.
    assert.equal(ranksPerPod(parseTrainingRun(workers({})).spec.workers), 1);
  });

  it('place the ranks of a pod next to each other on the ring: rank = pod × ranksPerPod + local', () => {
    const cpu = parseTrainingRun(workers({ gpu: { count: 0 }, ranksPerPod: 3 })).spec.workers;
    assert.deepEqual(
      [0, 1].flatMap((pod) => [0, 1, 2].map((local) => globalRank(cpu, pod, local))),
      [0, 1, 2, 3, 4, 5]
    );
  });

  it('accept several CPU ranks per pod with gpu.count 0, and exactly one per GPU otherwise', () => {
    assert.deepEqual(errorsOf(workers({ gpu: { count: 0 }, ranksPerPod: 2 })), []);
    assert.deepEqual(errorsOf(workers({ gpu: { count: 2 }, ranksPerPod: 2 })), []);
    const mismatch = errorsOf(workers({ gpu: { count: 2 }, ranksPerPod: 1 }));
    assert.equal(mismatch.length, 1);
    assert.equal(mismatch[0]?.path, 'spec.workers.ranksPerPod');
    // The message names the fix.
    assert.match(mismatch[0]?.message ?? '', /must equal workers\.gpu\.count.*set workers\.gpu\.count: 0/);
  });

  it("refuse a ring larger than the coordinator's bound, counting ranks rather than pods", () => {
    const pods = MAX_WORLD_SIZE / 2;
    assert.deepEqual(errorsOf(workers({ replicas: pods, gpu: { count: 0 }, ranksPerPod: 2 })), []);
    const tooMany = errorsOf(workers({ replicas: pods + 1, gpu: { count: 0 }, ranksPerPod: 2 }));
    assert.deepEqual(
      tooMany.map((e) => e.path),
      ['spec.workers.replicas']
    );
    assert.match(tooMany[0]?.message ?? '', /ring's size and must be at most 256/);
    assert.equal(errorsOf(workers({ gpu: { count: 0 }, ranksPerPod: 17 }))[0]?.path, 'spec.workers.ranksPerPod');
    assert.equal(errorsOf(workers({ gpu: { count: 0 }, ranksPerPod: 0 }))[0]?.path, 'spec.workers.ranksPerPod');
  });

  it('keep the ring size once the run has started: ranksPerPod, and gpu.count when it sets the default', () => {
    const started = parseTrainingRun({ ...workers({ gpu: { count: 0 }, ranksPerPod: 2 }), status: { attempt: 1 } });
    const changed = errorsOf(workers({ gpu: { count: 0 }, ranksPerPod: 4 }), started);
    assert.deepEqual(
      changed.map((e) => e.path),
      ['spec.workers.ranksPerPod']
    );
    const byGpu = parseTrainingRun({ ...workers({ gpu: { count: 1 } }), status: { attempt: 1 } });
    assert.equal(errorsOf(workers({ gpu: { count: 2 } }), byGpu)[0]?.path, 'spec.workers.ranksPerPod');
    // Same ranks per pod, spelled out or defaulted: allowed.
    assert.deepEqual(errorsOf(workers({ gpu: { count: 1 }, ranksPerPod: 1 }), byGpu), []);
    // Not started yet: anything goes.
    const created = parseTrainingRun(workers({ gpu: { count: 0 }, ranksPerPod: 2 }));
    assert.deepEqual(errorsOf(workers({ gpu: { count: 0 }, ranksPerPod: 4 }), created), []);
  });

  it('reach the API server as CEL rules, a field that kubectl explain describes and a printer column', () => {
    const crd = generateCrd() as {
      spec: { versions: { additionalPrinterColumns: { name: string; jsonPath: string }[]; schema: unknown }[] };
    };
    const [version] = crd.spec.versions;
    const schema = version?.schema as {
      openAPIV3Schema: {
        properties: {
          spec: {
            properties: {
              workers: {
                properties: { ranksPerPod: { description: string; minimum: number; maximum: number } };
                'x-kubernetes-validations': { rule: string }[];
              };
            };
          };
        };
      };
    };
    const workersSchema = schema.openAPIV3Schema.properties.spec.properties.workers;
    assert.match(workersSchema.properties.ranksPerPod.description, /torchrun's --nproc-per-node/);
    assert.match(workersSchema.properties.ranksPerPod.description, /Not yet run on a multi-GPU node/);
    assert.deepEqual(
      [workersSchema.properties.ranksPerPod.minimum, workersSchema.properties.ranksPerPod.maximum],
      [1, 16]
    );
    assert.ok(
      workersSchema['x-kubernetes-validations'].some(
        ({ rule }) =>
          rule ===
          'self.replicas * (has(self.ranksPerPod) ? self.ranksPerPod : (self.gpu.count > 0 ? self.gpu.count : 1)) <= 256'
      )
    );
    assert.deepEqual(version?.additionalPrinterColumns.map(({ name, jsonPath }) => `${name}=${jsonPath}`).slice(0, 3), [
      'Phase=.status.phase',
      'Workers=.status.workers',
      'Ranks=.status.ranks'
    ]);
  });
});
