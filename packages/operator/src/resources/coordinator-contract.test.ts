import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseRunConfig } from '@ringtrain/coordinator';
import { parseTrainingRun } from '../api/validate.js';
import { sampleRunInput } from '../api/sample-run.test-helper.js';
import { coordinatorRunConfig } from './templates.js';

// The ConfigMap's run.json is read by `ringtrain coordinator --config`; this pins the two packages together.
describe('the run configuration handed to the coordinator', () => {
  it('is accepted by the coordinator package’s own schema, for GPU and CPU runs', () => {
    const gpu = parseTrainingRun(sampleRunInput({ spec: { model: { numClasses: 5, pretrained: 's3://models/r18.safetensors' } } }));
    const cpu = parseTrainingRun(sampleRunInput({ spec: { dataset: { ingest: { source: 's3://raw/x', into: 's3://datasets/x' } }, workers: { replicas: 3, image: 'x', gpu: { count: 0 } } } }));
    for (const run of [gpu, cpu]) {
      const config = parseRunConfig(coordinatorRunConfig(run), 'the operator');
      assert.equal(config.workers, run.spec.workers.replicas);
      assert.equal(config.out, run.spec.output.uri);
    }
    assert.equal(parseRunConfig(coordinatorRunConfig(cpu), 'the operator').dataset, 's3://datasets/x');
  });
});
