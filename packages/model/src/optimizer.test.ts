import { test } from 'node:test';
import assert from 'node:assert/strict';
import { emptyParameterState, optimizerStep } from './optimizer.js';
import { OptimizerConfigSchema, learningRate, parseTrainingConfig } from './training-config.js';

const close = (actual: number, expected: number): void =>
  assert.ok(Math.abs(actual - expected) < 1e-6 * Math.max(1, Math.abs(expected)), `${actual} vs ${expected}`);

test('SGD with momentum follows torch.optim.SGD: the first step seeds the buffer with the gradient', () => {
  const config = OptimizerConfigSchema.parse({ kind: 'sgd', lr: 0.1, momentum: 0.9, weightDecay: 0.01 });
  const w = Float32Array.of(1);
  const state = emptyParameterState();
  optimizerStep(config, 0.1, w, Float32Array.of(0.5), state); // d = 0.5 + 0.01 = 0.51; buf = 0.51
  close(w[0]!, 1 - 0.051);
  optimizerStep(config, 0.1, w, Float32Array.of(0.5), state); // d = 0.5 + 0.01·0.949; buf = 0.9·0.51 + d
  close(w[0]!, 0.949 - 0.1 * (0.9 * 0.51 + 0.5 + 0.00949));
});

test('Nesterov SGD steps along d + momentum·buffer', () => {
  const config = OptimizerConfigSchema.parse({ kind: 'sgd', momentum: 0.5, nesterov: true });
  const w = Float32Array.of(0);
  const state = emptyParameterState();
  optimizerStep(config, 1, w, Float32Array.of(1), state); // buf = 1, step = 1 + 0.5
  close(w[0]!, -1.5);
  optimizerStep(config, 1, w, Float32Array.of(1), state); // buf = 1.5, step = 1 + 0.75
  close(w[0]!, -3.25);
});

test('Adam follows torch.optim.Adam (bias-corrected), with L2 or decoupled (AdamW) decay', () => {
  const adam = OptimizerConfigSchema.parse({ kind: 'adam' });
  const w = Float32Array.of(2, -3);
  const state = emptyParameterState();
  optimizerStep(adam, 1e-3, w, Float32Array.of(0.2, -4), state);
  close(w[0]!, 2 - 1e-3 * (0.2 / (0.2 + 1e-8)));
  close(w[1]!, -3 + 1e-3);
  optimizerStep(adam, 1e-3, w, Float32Array.of(0.4, -4), state);
  const m = 0.9 * 0.02 + 0.1 * 0.4;
  const v = 0.999 * 0.001 * 0.04 + 0.001 * 0.16;
  close(w[0]!, 2 - 1e-3 - (1e-3 / (1 - 0.81)) * (m / (Math.sqrt(v) / Math.sqrt(1 - 0.999 ** 2) + 1e-8)));
  const adamw = OptimizerConfigSchema.parse({ kind: 'adam', weightDecay: 0.1, decoupled: true });
  const v2 = Float32Array.of(1);
  optimizerStep(adamw, 0.01, v2, Float32Array.of(0), emptyParameterState());
  close(v2[0]!, 1 * (1 - 0.01 * 0.1));
});

test('learning-rate schedules: step, cosine and linear warmup', () => {
  const step = parseTrainingConfig({ numClasses: 2, optimizer: { kind: 'sgd', lr: 1 }, schedule: { kind: 'step', stepSize: 3, gamma: 0.5 } });
  assert.deepEqual([0, 2, 3, 6].map((s) => learningRate(step, s)), [1, 1, 0.5, 0.25]);
  const cosine = parseTrainingConfig({ numClasses: 2, schedule: { kind: 'cosine', totalSteps: 10, minLr: 1e-4 }, warmupSteps: 4 });
  close(learningRate(cosine, 0), (1e-4 + (1e-3 - 1e-4) * (1 + Math.cos(0)) / 2) * 0.25);
  close(learningRate(cosine, 5), 1e-4 + (1e-3 - 1e-4) / 2);
  close(learningRate(cosine, 10), 1e-4);
  close(learningRate(cosine, 50), 1e-4);
  const constant = parseTrainingConfig({ numClasses: 2 });
  assert.deepEqual([constant.optimizer.kind, learningRate(constant, 123)], ['adam', 1e-3]);
});
