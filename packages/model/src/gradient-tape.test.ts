import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from './backend.js';
import { recordTape } from './gradient-tape.js';

await initBackend({ log: () => {} }); // RINGTRAIN_BACKEND: the package's test script runs this suite on each backend

test('two tapes played back last to first give the gradients tf.grads gives for the whole function', () => {
  const x = tf.tensor2d([
    [0.5, -1.5, 2],
    [-0.25, 1, -3]
  ]);
  const w = tf.variable(tf.tensor2d([[0.3], [-0.7], [1.1]]));
  // h is used twice by the second stage, as a residual block uses its input: its gradient is a sum of two paths.
  const first = (input: tf.Tensor): tf.Tensor => tf.matMul(input, w);
  const second = (h: tf.Tensor): tf.Tensor => tf.sum(tf.add(tf.relu(tf.mul(h, 3)), tf.square(h)));
  const { value, grads } = tf.variableGrads(() => second(first(x)) as tf.Scalar, [w]);

  const one = recordTape(() => first(x));
  const two = recordTape(() => second(one.result));
  assert.equal(two.result.dataSync()[0], value.dataSync()[0]);
  const [dh] = two.tape.backward(two.result, tf.onesLike(two.result), [one.result]);
  const [dw] = one.tape.backward(one.result, dh!, [w]);
  assert.deepEqual(dw!.dataSync(), grads[w.name]!.dataSync());

  const before = tf.memory().numTensors;
  one.tape.dispose();
  two.tape.dispose();
  assert.ok(tf.memory().numTensors < before, 'disposing a tape frees what its ops saved');
  assert.throws(() => one.tape.backward(one.result, dh!, [w]), /already disposed/);
  tf.dispose([x, w, value, ...Object.values(grads), one.result, two.result, dh!, dw!]);
});

test('an input the output does not depend on gets zeros; recording inside another gradient computation is refused', () => {
  const a = tf.scalar(2);
  const b = tf.scalar(5);
  const { result, tape } = recordTape(() => tf.mul(a, a));
  const [da, db] = tape.backward(result, tf.scalar(1), [a, b]);
  assert.equal(da!.dataSync()[0], 4);
  assert.equal(db!.dataSync()[0], 0);
  assert.throws(
    () => tf.grad((x: tf.Tensor) => recordTape(() => tf.mul(x, 2)).result)(a),
    /cannot run inside another gradient computation/
  );
  tape.dispose();
  tf.dispose([a, b, result, da!, db!]);
});
