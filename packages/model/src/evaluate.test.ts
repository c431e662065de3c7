import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from './backend.js';
import { evaluateBatch, predictLogits, softmax } from './evaluate.js';
import { SeededRandom } from './random.js';
import { ResNet18 } from './resnet18.js';

await initBackend({ log: () => {} }); // RINGTRAIN_BACKEND: the package's test script runs this suite on each backend

const SIZE = 16;
const CLASSES = 4;

function images(seed: number, count: number): Float32Array {
  const random = SeededRandom.fromSeed(seed);
  return Float32Array.from({ length: count * SIZE * SIZE * 3 }, () => random.normal());
}

/** The oracle: logits from the model's own forward pass, read back and reduced in float64 here. */
function reference(model: ResNet18, pixels: Float32Array, labels: Int32Array) {
  const logits = tf.tidy(() =>
    model.forward(tf.tensor4d(pixels, [labels.length, SIZE, SIZE, 3]), { training: false }).arraySync()
  );
  let lossSum = 0;
  const predicted: number[] = [];
  logits.forEach((row, index) => {
    const max = Math.max(...row);
    const logSumExp = max + Math.log(row.reduce((sum, value) => sum + Math.exp(value - max), 0));
    lossSum += logSumExp - row[labels[index]!]!;
    predicted.push(row.indexOf(max));
  });
  return { lossSum, predicted };
}

test('evaluateBatch: loss, hits and confusion agree with the forward pass, row = truth and column = prediction', () => {
  const model = ResNet18.create({ numClasses: CLASSES, seed: 3 });
  const count = 12;
  const pixels = images(7, count);
  const labels = Int32Array.from({ length: count }, (_, index) => index % CLASSES);
  const result = evaluateBatch(model, pixels, labels, count, SIZE);
  const expected = reference(model, pixels, labels);
  assert.ok(
    Math.abs(result.lossSum - expected.lossSum) <= 1e-4 * Math.max(1, expected.lossSum),
    `${result.lossSum} vs ${expected.lossSum}`
  );
  const confusion = new Int32Array(CLASSES * CLASSES);
  labels.forEach((truth, index) => confusion[truth * CLASSES + expected.predicted[index]!]!++);
  assert.deepEqual([...result.confusion], [...confusion]);
  assert.equal(result.correct, labels.filter((truth, index) => truth === expected.predicted[index]).length);
  model.dispose();
});

test('evaluateBatch reads only the first count images of a reused, larger loader buffer', () => {
  const model = ResNet18.create({ numClasses: CLASSES, seed: 3 });
  const pixels = images(8, 6);
  const labels = Int32Array.of(0, 1, 2, 3, 0, 1);
  const whole = evaluateBatch(model, pixels.slice(0, 4 * SIZE * SIZE * 3), labels.slice(0, 4), 4, SIZE);
  const part = evaluateBatch(model, pixels, labels, 4, SIZE);
  assert.deepEqual([...part.confusion], [...whole.confusion]);
  assert.equal(
    part.confusion.reduce((sum, value) => sum + value, 0),
    4
  );
  const empty = evaluateBatch(model, pixels, labels, 0, SIZE);
  assert.deepEqual([empty.lossSum, empty.correct, empty.confusion.length], [0, 0, CLASSES * CLASSES]);
  model.dispose();
});

test("predictLogits: one row per image with the forward pass's arg-max; softmax rows sum to 1 and keep the order", () => {
  const model = ResNet18.create({ numClasses: CLASSES, seed: 4 });
  const pixels = images(9, 3);
  const rows = predictLogits(model, pixels, 3, SIZE);
  const { predicted } = reference(model, pixels, Int32Array.of(0, 0, 0));
  assert.equal(rows.length, 3);
  rows.forEach((row, index) => {
    assert.equal(row.length, CLASSES);
    const probabilities = softmax(row);
    assert.ok(Math.abs(probabilities.reduce((sum, value) => sum + value, 0) - 1) < 1e-12);
    assert.equal(row.indexOf(Math.max(...row)), predicted[index]);
    assert.equal(probabilities.indexOf(Math.max(...probabilities)), predicted[index]);
  });
  assert.deepEqual([...softmax(Float32Array.of(1000, 1000))], [0.5, 0.5], 'no overflow');
  model.dispose();
});

test('evaluateBatch: top-5 counts a label among the five largest logits, and is all of them with five classes or fewer', () => {
  const model = ResNet18.create({ numClasses: 8, seed: 5 });
  const count = 16;
  const pixels = images(10, count);
  const labels = Int32Array.from({ length: count }, (_, index) => index % 8);
  const result = evaluateBatch(model, pixels, labels, count, SIZE);
  const logits = predictLogits(model, pixels, count, SIZE);
  const expected = labels.filter(
    (truth, index) => [...logits[index]!].filter((value) => value > logits[index]![truth]!).length < 5
  ).length;
  assert.equal(result.top5Correct, expected);
  assert.ok(result.top5Correct >= result.correct);
  model.dispose();
  const small = ResNet18.create({ numClasses: CLASSES, seed: 3 });
  assert.equal(
    evaluateBatch(
      small,
      pixels,
      Int32Array.from({ length: count }, (_, index) => index % CLASSES),
      count,
      SIZE
    ).top5Correct,
    count
  );
  small.dispose();
});
