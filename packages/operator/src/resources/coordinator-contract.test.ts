import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseRunConfig, resolveRunConfig } from '@ringtrain/coordinator';
import { parseTrainingConfig, type TrainingConfigInput } from '@ringtrain/model';
import { parseTrainingRun } from '../api/validate.js';
import { sampleRunInput } from '../api/sample-run.test-helper.js';
import { buildConfigMap, coordinatorRunConfig } from './templates.js';

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

  it('resolves, with the dataset the coordinator reads, to a training configuration the workers accept, for every optimizer and schedule', () => {
    const dataset = { classes: ['cello', 'flute', 'harp', 'oboe', 'viola'], trainImages: 3840 };
    for (const optimizer of ['sgd', 'adam', 'adamw'] as const) {
      for (const schedule of ['constant', 'cosine', 'step'] as const) {
        const run = parseTrainingRun(sampleRunInput({ spec: { hyperparameters: { optimizer, schedule, warmupEpochs: 1, batchSizePerWorker: 32 }, workers: { replicas: 2, image: 'x', gpu: { count: 0 } } } }));
        const resolved = resolveRunConfig(parseRunConfig(coordinatorRunConfig(run), 'the operator'), dataset);
        const training = parseTrainingConfig(resolved.training as TrainingConfigInput);
        assert.equal(training.numClasses, 5);
        assert.equal(training.optimizer.kind, optimizer === 'sgd' ? 'sgd' : 'adam');
        assert.equal(training.optimizer.lr, run.spec.hyperparameters.learningRate);
        assert.equal(training.schedule.kind, schedule);
        assert.equal(training.warmupSteps, 60, '3,840 images ÷ (2 × 32) = 60 steps in the warmup epoch');
        if (training.optimizer.kind === 'adam') assert.equal(training.optimizer.decoupled, optimizer === 'adamw');
      }
    }
  });

  it("carries the cluster's dataset service to the workers when the operator knows it, and leaves planning local otherwise", () => {
    const run = parseTrainingRun(sampleRunInput());
    assert.equal(parseRunConfig(coordinatorRunConfig(run), 'the operator').datasetService, undefined);
    const map = buildConfigMap(run, { datasetService: 'ringtrain-dataset-service.ringtrain-system:7071' });
    const config = parseRunConfig(JSON.parse(Object.values(map.data ?? {})[0]!) as unknown, 'the ConfigMap');
    assert.equal(config.datasetService, 'ringtrain-dataset-service.ringtrain-system:7071');
  });
});
