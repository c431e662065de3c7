import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from './backend.js';
import { ResNet18 } from './resnet18.js';
import { resnet18Spec } from './resnet18-spec.js';

await initBackend({ log: () => {} }); // RINGTRAIN_BACKEND: the package's test script runs this suite on each backend

test('ResNet18 has torchvision parameter count: 11,689,512 for 1,000 classes', () => {
  const specs = resnet18Spec(1000);
  const count = specs.filter((s) => s.parameter).reduce((n, s) => n + s.shape.reduce((a, b) => a * b, 1), 0);
  assert.equal(count, 11_689_512);
  assert.equal(specs.filter((s) => s.parameter).length, 62);
  assert.deepEqual(
    specs.slice(0, 8).map((s) => s.name),
    [
      'conv1.weight',
      'bn1.weight',
      'bn1.bias',
      'bn1.running_mean',
      'bn1.running_var',
      'bn1.num_batches_tracked',
      'layer1.0.conv1.weight',
      'layer1.0.bn1.weight'
    ]
  );
  assert.deepEqual(specs.find((s) => s.name === 'layer2.0.downsample.0.weight')?.torchShape, [128, 64, 1, 1]);
  assert.deepEqual(specs.at(-2)?.shape, [512, 1000]);
});

test('forward gives [N, numClasses] logits at any image size, and eval mode leaves running stats alone', () => {
  const model = ResNet18.create({ numClasses: 3, seed: 1 });
  try {
    const before = model.read('layer3.1.bn2.running_mean');
    const logits = tf.tidy(() =>
      model.forward(tf.randomNormal([2, 40, 36, 3], 0, 1, 'float32', 5), { training: false })
    );
    assert.deepEqual(logits.shape, [2, 3]);
    assert.ok([...logits.dataSync()].every(Number.isFinite));
    logits.dispose();
    assert.deepEqual(model.read('layer3.1.bn2.running_mean'), before);
    assert.equal(model.parameterCount(), 11_689_512 - 513 * 1000 + 513 * 3);
  } finally {
    model.dispose();
  }
});

test('training mode updates running statistics with momentum 0.1 and the unbiased variance', () => {
  const model = ResNet18.create({ numClasses: 2, seed: 2 });
  try {
    const images = tf.randomNormal([2, 32, 32, 3], 0, 1, 'float32', 7) as tf.Tensor4D;
    const batchMoments = tf.tidy(() => {
      const stem = tf.conv2d(images, model.variable('conv1.weight') as tf.Tensor4D, 2, [
        [0, 0],
        [3, 3],
        [3, 3],
        [0, 0]
      ]);
      const { mean, variance } = tf.moments(stem, [0, 1, 2]);
      const n = stem.size / 64;
      return [mean.dataSync(), tf.mul(variance, n / (n - 1)).dataSync()] as const;
    });
    tf.tidy(() => model.forward(images, { training: true }));
    images.dispose();
    const mean = model.read('bn1.running_mean');
    const variance = model.read('bn1.running_var');
    for (let c = 0; c < 64; c++) {
      assert.ok(Math.abs(mean[c]! - 0.1 * batchMoments[0][c]!) < 1e-5);
      assert.ok(Math.abs(variance[c]! - (0.9 + 0.1 * batchMoments[1][c]!)) < 1e-4);
    }
    assert.deepEqual([...model.read('bn1.num_batches_tracked')], [1]);
  } finally {
    model.dispose();
  }
});

test('a frozen backbone keeps batch norm in inference mode even when training', () => {
  const model = ResNet18.create({ numClasses: 2, seed: 3 });
  try {
    const before = model.read('bn1.running_var');
    tf.tidy(() => model.forward(tf.ones([1, 32, 32, 3]) as tf.Tensor4D, { training: true, batchNormInference: true }));
    assert.deepEqual(model.read('bn1.running_var'), before);
    assert.deepEqual(
      model.trainable(true).map((s) => s.name),
      ['fc.weight', 'fc.bias']
    );
    assert.equal(model.trainable(false).length, 62);
  } finally {
    model.dispose();
  }
});

test('creating and disposing a model returns every tensor', () => {
  const before = tf.memory().numTensors;
  ResNet18.create({ numClasses: 2, seed: 1 }).dispose();
  assert.equal(tf.memory().numTensors, before);
});
