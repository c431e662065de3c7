import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from './backend.js';
import { benchmarkTrainingStep } from './bench-train.js';

await initBackend({ log: () => {} }); // RINGTRAIN_BACKEND: the package's test script runs this suite on each backend

test('the training benchmark reports consistent timings and leaves no tensors behind', async () => {
  const before = tf.memory().numTensors;
  const result = await benchmarkTrainingStep({ imageSize: 32, batchSize: 2, steps: 1, warmupSteps: 0, numClasses: 4 });
  assert.equal(tf.memory().numTensors, before);
  assert.ok(result.stepMs > 0 && result.forwardMs > 0 && result.optimizerMs > 0);
  assert.ok(Math.abs(result.imagesPerSec - 2000 / result.stepMs) < 1e-9);
  assert.ok(Math.abs(result.forwardMs + result.backwardMs + result.optimizerMs - result.stepMs) < 1e-6);
  // ResNet18 has 20 convolutions: a step runs at least their forward and both backward kernels.
  assert.ok(result.kernelsPerStep >= 60, `${result.kernelsPerStep} kernels`);
  assert.ok(result.peakRssBytes > 50 * 2 ** 20, `${result.peakRssBytes} bytes`);
});
