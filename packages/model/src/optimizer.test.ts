import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from './backend.js';
import { DeviceOptimizer } from './optimizer.js';
import { OptimizerConfigSchema, learningRate, parseTrainingConfig } from './training-config.js';
import type { OptimizerConfig } from './training-config.js';

await initBackend({ log: () => {} }); // RINGTRAIN_BACKEND: the package's test script runs this suite on each backend

/** One parameter `w` on the device, stepped by `DeviceOptimizer` the way the trainer steps the model's. */
function parameter(config: OptimizerConfig, ...initial: number[]) {
  const optimizer = new DeviceOptimizer(config);
  const variable = tf.variable(tf.tensor1d(initial));
  return {
    step(lr: number, ...gradient: number[]): Float32Array {
      optimizer.step(lr, [{ name: 'w', variable }], Float32Array.from(gradient));
      return variable.dataSync() as Float32Array;
    },
    optimizer
  };
}

const close = (actual: number, expected: number): void =>
  assert.ok(Math.abs(actual - expected) < 1e-6 * Math.max(1, Math.abs(expected)), `${actual} vs ${expected}`);

test('SGD with momentum follows torch.optim.SGD: the first step seeds the buffer with the gradient', () => {
  const config = OptimizerConfigSchema.parse({ kind: 'sgd', lr: 0.1, momentum: 0.9, weightDecay: 0.01 });
  const w = parameter(config, 1);
  close(w.step(0.1, 0.5)[0]!, 1 - 0.051); // d = 0.5 + 0.01 = 0.51; buf = 0.51
  close(w.step(0.1, 0.5)[0]!, 0.949 - 0.1 * (0.9 * 0.51 + 0.5 + 0.00949)); // d = 0.5 + 0.01·0.949; buf = 0.9·0.51 + d
});

test('Nesterov SGD steps along d + momentum·buffer', () => {
  const config = OptimizerConfigSchema.parse({ kind: 'sgd', momentum: 0.5, nesterov: true });
  const w = parameter(config, 0);
  close(w.step(1, 1)[0]!, -1.5); // buf = 1, step = 1 + 0.5
  close(w.step(1, 1)[0]!, -3.25); // buf = 1.5, step = 1 + 0.75
});

test('Adam follows torch.optim.Adam (bias-corrected), with L2 or decoupled (AdamW) decay', () => {
  const adam = OptimizerConfigSchema.parse({ kind: 'adam' });
  const w = parameter(adam, 2, -3);
  const first = w.step(1e-3, 0.2, -4);
  close(first[0]!, 2 - 1e-3 * (0.2 / (0.2 + 1e-8)));
  close(first[1]!, -3 + 1e-3);
  const m = 0.9 * 0.02 + 0.1 * 0.4;
  const v = 0.999 * 0.001 * 0.04 + 0.001 * 0.16;
  close(
    w.step(1e-3, 0.4, -4)[0]!,
    2 - 1e-3 - (1e-3 / (1 - 0.81)) * (m / (Math.sqrt(v) / Math.sqrt(1 - 0.999 ** 2) + 1e-8))
  );
  const adamw = parameter(OptimizerConfigSchema.parse({ kind: 'adam', weightDecay: 0.1, decoupled: true }), 1);
  close(adamw.step(0.01, 0)[0]!, 1 * (1 - 0.01 * 0.1));
});

test('Adam keeps its bias correction per parameter: one that joins later starts at step 1, as in torch', () => {
  const optimizer = new DeviceOptimizer(OptimizerConfigSchema.parse({ kind: 'adam' }));
  const head = tf.variable(tf.tensor1d([1]));
  const backbone = tf.variable(tf.tensor1d([1]));
  optimizer.step(0.1, [{ name: 'head', variable: head }], Float32Array.from([1]));
  optimizer.step(0.1, [{ name: 'head', variable: head }], Float32Array.from([1]));
  // Unfrozen: the backbone's first step moves it by lr, exactly as a fresh torch parameter would move.
  optimizer.step(
    0.1,
    [
      { name: 'backbone', variable: backbone },
      { name: 'head', variable: head }
    ],
    Float32Array.from([1, 1])
  );
  close(backbone.dataSync()[0]!, 0.9);
  // 1e-5: TensorFlow's fused kernel forms 1 − β₂ from float32 β₂ (0.00099998713 for 0.999), so its second
  // moment grows 1.3e-5 slower than torch's, whose 1 − β₂ is computed in double; the weight is off by ~3e-6.
  const head3 = head.dataSync()[0]!;
  assert.ok(Math.abs(head3 - 0.7) < 1e-5 * 0.7, `${head3} vs 0.7`);
  const states = optimizer.snapshot();
  assert.deepEqual([states.get('head')?.steps, states.get('backbone')?.steps], [3, 1]);
  // A checkpoint's state restored into a new optimizer continues the same trajectory.
  const resumed = new DeviceOptimizer(optimizer.config);
  for (const [name, state] of states) resumed.restore(name, state);
  const copy = tf.variable(head.clone());
  resumed.step(0.1, [{ name: 'head', variable: copy }], Float32Array.from([0.5]));
  optimizer.step(0.1, [{ name: 'head', variable: head }], Float32Array.from([0.5]));
  assert.deepEqual(copy.dataSync(), head.dataSync());
  tf.dispose([head, backbone, copy]);
  optimizer.dispose();
  resumed.dispose();
});

test('learning-rate schedules: step, cosine and linear warmup', () => {
  const step = parseTrainingConfig({
    numClasses: 2,
    optimizer: { kind: 'sgd', lr: 1 },
    schedule: { kind: 'step', stepSize: 3, gamma: 0.5 }
  });
  assert.deepEqual(
    [0, 2, 3, 6].map((s) => learningRate(step, s)),
    [1, 1, 0.5, 0.25]
  );
  const cosine = parseTrainingConfig({
    numClasses: 2,
    schedule: { kind: 'cosine', totalSteps: 10, minLr: 1e-4 },
    warmupSteps: 4
  });
  close(learningRate(cosine, 0), (1e-4 + ((1e-3 - 1e-4) * (1 + Math.cos(0))) / 2) * 0.25);
  close(learningRate(cosine, 5), 1e-4 + (1e-3 - 1e-4) / 2);
  close(learningRate(cosine, 10), 1e-4);
  close(learningRate(cosine, 50), 1e-4);
  const constant = parseTrainingConfig({ numClasses: 2 });
  assert.deepEqual([constant.optimizer.kind, learningRate(constant, 123)], ['adam', 1e-3]);
});
