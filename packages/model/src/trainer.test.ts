import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from './backend.js';
import { SeededRandom } from './random.js';
import { decodeSafetensors } from './safetensors.js';
import { Trainer } from './trainer.js';
import type { TrainingBatch } from './trainer.js';
import type { TrainingConfigInput } from './training-config.js';

await initBackend({ log: () => {} }); // RINGTRAIN_BACKEND: the package's test script runs this suite on each backend

const SIZE = 32;

function batch(seed: number, count: number, numClasses = 3): TrainingBatch {
  const random = SeededRandom.fromSeed(seed);
  return {
    images: Float32Array.from({ length: count * SIZE * SIZE * 3 }, () => random.normal()),
    labels: Int32Array.from({ length: count }, () => Math.floor(random.uniform() * numClasses)),
    count
  };
}

const base: TrainingConfigInput = { numClasses: 3, imageSize: SIZE, seed: 5 };

test('gradients come out flat, in state-dict order, and the loss falls when we step on them', () => {
  const trainer = Trainer.create({ ...base, optimizer: { kind: 'sgd', lr: 0.05, momentum: 0.9 } });
  const layout = trainer.gradientLayout();
  assert.equal(layout.length, 62);
  assert.deepEqual([layout[0]!.name, layout[1]!.name, layout.at(-1)!.name], ['conv1.weight', 'bn1.weight', 'fc.bias']);
  assert.equal(layout.at(-1)!.offset + layout.at(-1)!.length, 11_689_512 - 513 * 997);
  const data = batch(1, 4);
  const first = trainer.computeGradients(data);
  assert.equal(first.gradients.length, 11_689_512 - 513 * 997);
  assert.ok(first.loss > 0 && first.correct >= 0 && first.correct <= 4 && first.count === 4);
  trainer.applyGradients(first.gradients);
  for (let i = 0; i < 3; i++) trainer.applyGradients(trainer.computeGradients(data).gradients);
  assert.ok(trainer.computeGradients(data).loss < first.loss, 'loss falls on a repeated batch');
  trainer.dispose();
});

test('micro-batches give the mean gradient of the whole batch (BN statistics per micro-batch, as in torch)', () => {
  const whole = Trainer.create({ ...base, freezeBackbone: true, freezeBatchNorm: true });
  const split = Trainer.create({ ...base, freezeBackbone: true, freezeBatchNorm: true, microBatchSize: 2 });
  // With the backbone's batch norm frozen it uses running statistics, so splitting must not change the result.
  const data = batch(2, 5);
  const a = whole.computeGradients(data);
  const b = split.computeGradients(data);
  assert.ok(Math.abs(a.loss - b.loss) < 1e-5);
  assert.equal(a.correct, b.correct);
  for (let i = 0; i < a.gradients.length; i++) assert.ok(Math.abs(a.gradients[i]! - b.gradients[i]!) < 1e-5);
  whole.dispose();
  split.dispose();
});

test('a frozen backbone trains only fc until the configured epoch, then everything', () => {
  const trainer = Trainer.create({ ...base, freezeBackbone: true, unfreezeAfterEpochs: 1 });
  const conv = trainer.model.read('layer1.0.conv1.weight');
  const runningMean = trainer.model.read('bn1.running_mean');
  const { gradients } = trainer.computeGradients(batch(3, 2));
  assert.equal(gradients.length, 512 * 3 + 3);
  const fcBefore = trainer.model.read('fc.weight');
  trainer.applyGradients(gradients);
  assert.deepEqual(trainer.model.read('layer1.0.conv1.weight'), conv);
  // As the course freezes (requires_grad = False, model in train mode): the backbone's batch norm still
  // normalises with batch statistics, and its running statistics adapt.
  assert.notDeepEqual(trainer.model.read('bn1.running_mean'), runningMean);
  assert.notDeepEqual(trainer.model.read('fc.weight'), fcBefore);
  trainer.setEpoch(1);
  assert.equal(trainer.backboneFrozen, false);
  assert.equal(trainer.computeGradients(batch(3, 2)).gradients.length, 11_689_512 - 513 * 997);
  assert.throws(() => trainer.applyGradients(gradients), /has 1539 values, the current layout needs/);
  trainer.dispose();
  // freezeBatchNorm: the backbone's batch norm in inference mode, its running statistics untouched.
  const fixed = Trainer.create({ ...base, freezeBackbone: true, freezeBatchNorm: true });
  const fixedMean = fixed.model.read('bn1.running_mean');
  fixed.applyGradients(fixed.computeGradients(batch(3, 2)).gradients);
  assert.deepEqual(fixed.model.read('bn1.running_mean'), fixedMean);
  fixed.dispose();
});

test('ranks that apply the same averaged gradient hold bit-identical weights and optimizer state', () => {
  const ranks = [Trainer.create(base), Trainer.create(base)];
  for (let step = 0; step < 2; step++) {
    const results = ranks.map((rank, r) => rank.computeGradients(batch(10 + 2 * step + r, 2)));
    const averaged = results[0]!.gradients.map((g, i) => (g + results[1]!.gradients[i]!) / 2);
    for (const rank of ranks) rank.applyGradients(averaged);
  }
  for (const layout of ranks[0]!.gradientLayout()) {
    assert.deepEqual(ranks[0]!.model.read(layout.name), ranks[1]!.model.read(layout.name), layout.name);
  }
  // Optimizer state (in the checkpoints) is bit-identical too; only rank-local BN statistics differ.
  const [a, b] = ranks.map((rank) => decodeSafetensors(rank.saveCheckpoint()).tensors);
  const optimizerKeys = [...a!.keys()].filter((key) => key.startsWith('optimizer.'));
  assert.equal(optimizerKeys.length, 2 * 62);
  for (const key of optimizerKeys) assert.deepEqual(a!.get(key)!.data, b!.get(key)!.data, key);
  assert.notDeepEqual(a!.get('model.bn1.running_mean')!.data, b!.get('model.bn1.running_mean')!.data);
  for (const rank of ranks) rank.dispose();
});

test('a run resumed from a checkpoint takes exactly the same next step as one that never stopped', () => {
  const config: TrainingConfigInput = {
    ...base,
    optimizer: { kind: 'adam', weightDecay: 1e-4 },
    schedule: { kind: 'cosine', totalSteps: 10 },
    warmupSteps: 2,
    clipGradNorm: 1,
    labelSmoothing: 0.1
  };
  const original = Trainer.create(config);
  original.applyGradients(original.computeGradients(batch(20, 2)).gradients);
  original.setEpoch(3);
  original.random.uniform();
  const checkpoint = original.saveCheckpoint({ cursor: '{"epoch":3,"seen":2}' });
  const { trainer: resumed, extra } = Trainer.fromCheckpoint(checkpoint);
  assert.deepEqual(extra, { cursor: '{"epoch":3,"seen":2}' });
  assert.deepEqual([resumed.step, resumed.epoch, resumed.random.uniform()], [1, 3, original.random.uniform()]);
  const next = batch(21, 2);
  const a = original.computeGradients(next);
  const b = resumed.computeGradients(next);
  assert.equal(a.loss, b.loss);
  assert.deepEqual(a.gradients, b.gradients);
  original.applyGradients(a.gradients);
  resumed.applyGradients(b.gradients);
  assert.deepEqual(resumed.saveCheckpoint(), original.saveCheckpoint());
  original.dispose();
  resumed.dispose();
});

test('no tensors leak: the live tensor count after many steps equals the count after the first', () => {
  const trainer = Trainer.create({ ...base, optimizer: { kind: 'sgd', lr: 0.01, momentum: 0.9, nesterov: true } });
  const step = (): void => void trainer.applyGradients(trainer.computeGradients(batch(30, 2)).gradients);
  step();
  const afterFirst = tf.memory().numTensors;
  for (let i = 0; i < 15; i++) step();
  assert.equal(tf.memory().numTensors, afterFirst);
  trainer.dispose();
});

test(
  '[slow] no tensors leak over 1,000 steps: the live tensor count after step 1,000 equals the count after step 1',
  { skip: process.env.RINGTRAIN_SKIP_SLOW_TESTS === '1' ? 'RINGTRAIN_SKIP_SLOW_TESTS=1' : false, timeout: 20 * 60_000 },
  () => {
    // 8×8 images keep each step to the fixed cost of the kernels and the 11.7 M-parameter update (~0.25 s here).
    const trainer = Trainer.create({
      numClasses: 3,
      imageSize: 8,
      seed: 1,
      optimizer: { kind: 'sgd', lr: 1e-3, momentum: 0.9 }
    });
    const random = SeededRandom.fromSeed(8);
    const tiny = {
      images: Float32Array.from({ length: 2 * 8 * 8 * 3 }, () => random.normal()),
      labels: Int32Array.of(0, 2),
      count: 2
    };
    trainer.applyGradients(trainer.computeGradients(tiny).gradients);
    const afterFirst = tf.memory();
    for (let step = 2; step <= 1000; step++) trainer.applyGradients(trainer.computeGradients(tiny).gradients);
    const afterLast = tf.memory();
    assert.equal(afterLast.numTensors, afterFirst.numTensors);
    assert.equal(afterLast.numBytes, afterFirst.numBytes);
    assert.equal(trainer.step, 1000);
    trainer.dispose();
  }
);

test('bad batches and configurations are rejected with the reason', () => {
  assert.throws(() => Trainer.create({ numClasses: 0 }), /numClasses: Too small/);
  assert.throws(
    () => Trainer.create({ numClasses: 2, optimizer: { kind: 'rmsprop' } } as unknown as TrainingConfigInput),
    /optimizer/
  );
  const trainer = Trainer.create(base);
  assert.throws(
    () => trainer.computeGradients({ ...batch(1, 2), count: 3 }),
    /6144 values; 3 images of 32×32×3 need 9216/
  );
  assert.throws(
    () => trainer.computeGradients({ ...batch(1, 1), labels: Int32Array.of(7) }),
    /label 7 is outside \[0, 3\)/
  );
  trainer.dispose();
});

test('clipping scales the averaged gradient to the configured norm; a non-finite gradient changes nothing', () => {
  const trainer = Trainer.create({
    ...base,
    freezeBackbone: true,
    clipGradNorm: 0.5,
    optimizer: { kind: 'sgd', lr: 1 }
  });
  const before = [trainer.model.read('fc.weight'), trainer.model.read('fc.bias')];
  const gradient = new Float32Array(512 * 3 + 3).fill(1);
  const { gradNorm } = trainer.applyGradients(gradient);
  assert.ok(Math.abs(gradNorm - Math.sqrt(gradient.length)) < 1e-3);
  const after = [trainer.model.read('fc.weight'), trainer.model.read('fc.bias')];
  let squares = 0;
  after.forEach((values, t) => values.forEach((v, i) => (squares += (v - before[t]![i]!) ** 2)));
  assert.ok(Math.abs(Math.sqrt(squares) - 0.5) < 1e-4, `update norm ${Math.sqrt(squares)}`);
  gradient[7] = Number.NaN;
  assert.throws(() => trainer.applyGradients(gradient), /gradient norm is NaN; refusing to step/);
  assert.deepEqual(trainer.model.read('fc.weight'), after[0]);
  assert.equal(trainer.step, 1);
  trainer.dispose();
});
