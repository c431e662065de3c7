import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from './backend.js';
import { SeededRandom } from './random.js';
import type { UniformSource } from './random.js';
import { applyCropPlan, planEvalResize, planRandomResizedCrop, roundHalfEven } from './transforms.js';

await initBackend({ requested: 'cpu', log: () => {} });

function scripted(values: readonly number[]): UniformSource {
  let i = 0;
  return { uniform: () => values[i++ % values.length]! };
}

test('roundHalfEven rounds like Python', () => {
  assert.deepEqual([0.5, 1.5, 2.5, 2.4999, 2.5001, 3.5, 7].map(roundHalfEven), [0, 2, 2, 2, 3, 4, 7]);
});

test('RandomResizedCrop boxes always lie inside the image with the requested area and ratio', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 2000 }),
      fc.integer({ min: 1, max: 2000 }),
      fc.array(fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }), { minLength: 1, maxLength: 50 }),
      (width, height, draws) => {
        const box = planRandomResizedCrop(width, height, scripted(draws));
        assert.ok(box.left >= 0 && box.top >= 0 && box.width >= 1 && box.height >= 1);
        assert.ok(box.left + box.width <= width && box.top + box.height <= height, JSON.stringify(box));
        assert.ok(Number.isInteger(box.left + box.top + box.width + box.height));
      }
    )
  );
});

test('RandomResizedCrop follows torchvision get_params: area and log-ratio draws, then top, then left', () => {
  // area = 0.08 + 0.5·0.92 = 0.54 of 200×100; log-ratio midpoint → aspect 1: w = h = round(sqrt(10800)) = 104 > 100,
  // so the first attempt fails; the second (area 0.08, aspect 1) gives round(sqrt(1600)) = 40.
  const box = planRandomResizedCrop(200, 100, scripted([0.5, 0.5, 0, 0.5, 0.25, 0.75, 0.2]));
  assert.deepEqual(box, {
    left: Math.floor(0.75 * 161),
    top: Math.floor(0.25 * 61),
    width: 40,
    height: 40,
    flip: true
  });
});

test('RandomResizedCrop falls back to the ratio-clamped central crop after 10 failed attempts', () => {
  // A 1000×10 strip: no box of ≥ 8% area with ratio ≤ 4/3 fits, so: h = 10, w = round(10·4/3) = 13.
  const box = planRandomResizedCrop(1000, 10, scripted([0.99]));
  assert.deepEqual(box, { left: 493, top: 0, width: 13, height: 10, flip: false });
  assert.deepEqual(planRandomResizedCrop(10, 1000, scripted([0.99])).height, 13);
});

test('the same seed gives the same plans; the RNG state resumes the sequence exactly', () => {
  const a = SeededRandom.fromSeed(42);
  const first = Array.from({ length: 5 }, () => planRandomResizedCrop(640, 480, a));
  const saved = a.state();
  const next = planRandomResizedCrop(640, 480, a);
  const b = SeededRandom.fromSeed(42);
  assert.deepEqual(
    Array.from({ length: 5 }, () => planRandomResizedCrop(640, 480, b)),
    first
  );
  assert.deepEqual(planRandomResizedCrop(640, 480, SeededRandom.fromState(saved)), next);
});

test('eval plan is torchvision Resize(size·256/224) + CenterCrop(size)', () => {
  assert.deepEqual(planEvalResize(500, 375, 224), {
    resizeWidth: 341,
    resizeHeight: 256,
    left: 58,
    top: 16,
    size: 224
  });
  assert.deepEqual(planEvalResize(375, 500, 64), { resizeWidth: 73, resizeHeight: 97, left: 4, top: 16, size: 64 });
});

test('applyCropPlan crops, flips and normalises with ImageNet mean and std', () => {
  const pixels = tf.tensor3d(
    Float32Array.from({ length: 4 * 6 * 3 }, (_, i) => i % 256),
    [4, 6, 3]
  );
  const same = applyCropPlan(pixels, { left: 2, top: 1, width: 2, height: 2, flip: false }, 2);
  const flipped = applyCropPlan(pixels, { left: 2, top: 1, width: 2, height: 2, flip: true }, 2);
  const expected = (row: number, col: number, c: number): number =>
    (((row * 6 + col) * 3 + c) / 255 - [0.485, 0.456, 0.406][c]!) / [0.229, 0.224, 0.225][c]!;
  const s = same.arraySync();
  const f = flipped.arraySync();
  for (const c of [0, 1, 2]) {
    assert.ok(Math.abs(s[0]![0]![c]! - expected(1, 2, c)) < 1e-5);
    assert.ok(Math.abs(s[1]![1]![c]! - expected(2, 3, c)) < 1e-5);
    assert.ok(Math.abs(f[0]![0]![c]! - expected(1, 3, c)) < 1e-5);
  }
  assert.throws(
    () => applyCropPlan(pixels, { left: 5, top: 0, width: 2, height: 2, flip: false }, 2),
    /outside the 6×4 image/
  );
  tf.dispose([pixels, same, flipped]);
});
