import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { HyperparametersSchema, runSettingsFromHyperparameters } from './hyperparameters.js';

const noFreeze = { freezeBackbone: false, freezeBatchNorm: false };

describe('hyperparameters', () => {
  it("default to the crash course's recipe: Adam at lr 0.001, batch 32, 10 epochs, constant lr, no weight decay", () => {
    const defaults = HyperparametersSchema.parse({});
    assert.equal(defaults.optimizer, 'adam');
    assert.equal(defaults.learningRate, 0.001);
    assert.equal(defaults.batchSizePerWorker, 32);
    assert.equal(defaults.epochs, 10);
    assert.equal(defaults.schedule, 'constant');
    assert.equal(defaults.weightDecay, 0);
    assert.equal(defaults.labelSmoothing, 0);
    assert.equal(defaults.augment, false);
    assert.equal(defaults.gradientWire, 'f32');
  });

  it('become the run configuration the worker trains with, the schedule left in epochs for the coordinator', () => {
    const settings = runSettingsFromHyperparameters(HyperparametersSchema.parse({}), noFreeze);
    assert.deepEqual(settings.training.optimizer, { kind: 'adam', lr: 0.001, weightDecay: 0 });
    assert.deepEqual(settings.lrSchedule, { kind: 'constant', warmupEpochs: 0 });
    assert.equal(settings.batchSize, 32);
    assert.equal('clipGradNorm' in settings.training, false, 'unset options stay unset');
  });

  it('map AdamW to decoupled Adam, SGD with its momentum, and carry every optional setting through', () => {
    const adamw = runSettingsFromHyperparameters(
      HyperparametersSchema.parse({ optimizer: 'adamw', weightDecay: 0.01 }),
      noFreeze
    );
    assert.deepEqual(adamw.training.optimizer, { kind: 'adam', lr: 0.001, weightDecay: 0.01, decoupled: true });
    const sgd = runSettingsFromHyperparameters(
      HyperparametersSchema.parse({
        optimizer: 'sgd',
        learningRate: 0.1,
        momentum: 0.8,
        clipGradNorm: 1,
        microBatchSize: 8,
        labelSmoothing: 0.1,
        gradientWire: 'bf16',
        loaderThreads: 3,
        augment: true,
        schedule: 'cosine',
        warmupEpochs: 1,
        dropLastBatchBelow: 1
      }),
      { freezeBackbone: true, freezeBatchNorm: false, unfreezeAfterEpochs: 2 }
    );
    assert.deepEqual(sgd.training.optimizer, { kind: 'sgd', lr: 0.1, momentum: 0.8, weightDecay: 0 });
    assert.equal(sgd.training.clipGradNorm, 1);
    assert.equal(sgd.training.microBatchSize, 8);
    assert.equal(sgd.training.labelSmoothing, 0.1);
    assert.equal(sgd.training.unfreezeAfterEpochs, 2);
    assert.equal(sgd.gradientWire, 'bf16');
    assert.equal(sgd.loaderThreads, 3);
    assert.equal(sgd.augment, true);
    assert.equal(sgd.dropLastBatchBelow, 1);
    assert.deepEqual(sgd.lrSchedule, { kind: 'cosine', warmupEpochs: 1 });
  });

  it('refuse values out of bounds with the field named', () => {
    const result = HyperparametersSchema.safeParse({ learningRate: 0, gradientWire: 'fp8' });
    assert.equal(result.success, false);
    const paths = result.error!.issues.map((issue) => issue.path.join('.')).sort();
    assert.deepEqual(paths, ['gradientWire', 'learningRate']);
  });
});
