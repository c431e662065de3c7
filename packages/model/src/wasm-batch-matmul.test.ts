import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from './backend.js';

async function products(backend: 'cpu' | 'wasm'): Promise<Float32Array[]> {
  await initBackend({ requested: backend, log: () => {} });
  return tf.tidy(() => {
    const a = tf.randomNormal([2, 5, 3], 0, 1, 'float32', 1);
    const b = tf.randomNormal([2, 3, 4], 0, 1, 'float32', 2);
    const at = tf.randomNormal([2, 3, 5], 0, 1, 'float32', 3);
    const bt = tf.randomNormal([2, 4, 3], 0, 1, 'float32', 4);
    const x = tf.randomNormal([6, 7], 0, 1, 'float32', 5);
    const w = tf.randomNormal([7, 9], 0, 1, 'float32', 6);
    const dense = (p: tf.Tensor, q: tf.Tensor): tf.Scalar =>
      tf.sum(tf.mul(tf.matMul(p as tf.Tensor2D, q as tf.Tensor2D), tf.randomNormal([6, 9], 0, 1, 'float32', 7)));
    const [dx, dw] = tf.grads(dense)([x, w]);
    return [
      tf.matMul(a, b),
      tf.matMul(at, b, true, false),
      tf.matMul(a, bt, false, true),
      tf.matMul(at, bt, true, true),
      tf.matMul(tf.randomNormal([4, 3], 0, 1, 'float32', 8), tf.randomNormal([5, 4], 0, 1, 'float32', 9), true, true),
      dx!,
      dw!
    ].map((t) => t.dataSync() as Float32Array);
  });
}

test('wasm BatchMatMul with transposed operands (and dense-layer gradients) matches the cpu backend', async () => {
  const expected = await products('cpu');
  const before = tf.memory().numTensors;
  const actual = await products('wasm');
  assert.equal(tf.memory().numTensors, before);
  actual.forEach((values, i) => {
    assert.equal(values.length, expected[i]!.length);
    values.forEach((v, j) =>
      assert.ok(Math.abs(v - expected[i]![j]!) < 1e-5, `product ${i} element ${j}: ${v} vs ${expected[i]![j]}`)
    );
  });
});
