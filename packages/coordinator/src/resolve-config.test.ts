import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseRunConfig } from '@ringtrain/protocol';
import { resolveRunConfig, RunConfigResolutionError, stepsPerEpoch } from './resolve-config.js';

const base = {
  runId: 'r',
  dataset: 's3://d/x',
  out: 's3://o/x',
  workers: 2,
  partitions: 2,
  epochs: 5,
  batchSize: 32,
  cacheDir: '/cache'
};
const digits = { classes: ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'], trainImages: 3840 };

test('steps per epoch: 3,840 images ÷ global batch 64 = 60, a short last iteration counts unless it is small, and never 0', () => {
  assert.equal(stepsPerEpoch({ workers: 2, batchSize: 32, dropLastBatchBelow: 0.5 }, 3840), 60);
  assert.equal(stepsPerEpoch({ workers: 2, batchSize: 32, dropLastBatchBelow: 0.5 }, 3880), 61);
  assert.equal(
    stepsPerEpoch({ workers: 2, batchSize: 32, dropLastBatchBelow: 0.5 }, 3850),
    60,
    'a last batch of 10 is dropped'
  );
  assert.equal(stepsPerEpoch({ workers: 2, batchSize: 32, dropLastBatchBelow: 0 }, 3850), 61);
  assert.equal(stepsPerEpoch({ workers: 4, batchSize: 64, dropLastBatchBelow: 0.5 }, 10), 1);
});

test('dropLastBatchBelow defaults to half the global batch and is bounded to [0, 1]', () => {
  assert.equal(parseRunConfig({ ...base, training: {} }, 'the test').dropLastBatchBelow, 0.5);
  assert.throws(
    () => parseRunConfig({ ...base, training: {}, dropLastBatchBelow: 1.5 }, 'the test'),
    /dropLastBatchBelow/
  );
});

test('the class count and an epoch-based schedule become the model configuration in steps', () => {
  const config = parseRunConfig(
    { ...base, training: { imageSize: 64 }, lrSchedule: { kind: 'cosine', warmupEpochs: 1 } },
    'the test'
  );
  const resolved = resolveRunConfig(config, digits);
  assert.deepEqual(resolved.training, {
    imageSize: 64,
    numClasses: 10,
    schedule: { kind: 'cosine', totalSteps: 300 },
    warmupSteps: 60
  });
  assert.equal('lrSchedule' in resolved, false, 'workers get steps, not epochs');
  const step = resolveRunConfig(
    parseRunConfig({ ...base, training: {}, lrSchedule: { kind: 'step' } }, 'the test'),
    digits
  );
  assert.deepEqual(step.training.schedule, { kind: 'step', stepSize: 100, gamma: 0.1 });
  assert.equal(step.training.warmupSteps, 0);
});

test('a configuration that leaves nothing to the dataset is unchanged; a class count that disagrees is refused', () => {
  const complete = parseRunConfig({ ...base, training: { numClasses: 10 } }, 'the test');
  assert.deepEqual(resolveRunConfig(complete, digits), complete);
  const wrong = parseRunConfig({ ...base, training: { numClasses: 3 } }, 'the test');
  assert.throws(
    () => resolveRunConfig(wrong, digits),
    (error: Error) =>
      error instanceof RunConfigResolutionError && /numClasses is 3 but s3:\/\/d\/x has 10 classes/.test(error.message)
  );
});
