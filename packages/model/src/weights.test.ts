import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from './backend.js';
import { ResNet18 } from './resnet18.js';
import { decodeSafetensors, encodeSafetensors, toFloat32 } from './safetensors.js';
import { WeightsMismatchError, loadSafetensorsWeights, permute, saveSafetensorsWeights } from './weights.js';

await initBackend({ requested: 'wasm', log: () => {} });

test('permute by a permutation and then by its inverse is the identity', () => {
  fc.assert(
    fc.property(
      fc.array(fc.integer({ min: 1, max: 4 }), { minLength: 1, maxLength: 4 }).chain((shape) =>
        fc.tuple(fc.constant(shape), fc.shuffledSubarray([...shape.keys()], { minLength: shape.length, maxLength: shape.length })),
      ),
      ([shape, perm]) => {
        const values = Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, (_, i) => i);
        const inverse = perm.map((_, i) => perm.indexOf(i));
        const moved = permute(values, shape, perm);
        assert.deepEqual(permute(moved, perm.map((a) => shape[a]!), inverse), values);
      },
    ),
  );
});

test('OIHW → HWIO puts element [o,i,h,w] at [h,w,i,o]', () => {
  const values = Float32Array.from({ length: 2 * 3 * 2 * 2 }, (_, i) => i);
  const hwio = permute(values, [2, 3, 2, 2], [2, 3, 1, 0]);
  const at = (o: number, i: number, h: number, w: number): number => hwio[((h * 2 + w) * 3 + i) * 2 + o]!;
  assert.equal(at(1, 2, 0, 1), ((1 * 3 + 2) * 2 + 0) * 2 + 1);
});

test('weights survive save → load unchanged, in torchvision layout and key order', () => {
  const model = ResNet18.create({ numClasses: 5, seed: 11 });
  tf.tidy(() => model.forward(tf.randomNormal([2, 32, 32, 3], 0, 1, 'float32', 1), { training: true }));
  const bytes = saveSafetensorsWeights(model, { note: 'x' });
  const file = decodeSafetensors(bytes);
  assert.deepEqual(file.tensors.get('conv1.weight')?.shape, [64, 3, 7, 7]);
  assert.deepEqual(file.tensors.get('fc.weight')?.shape, [5, 512]);
  assert.deepEqual(file.tensors.get('bn1.num_batches_tracked'), { dtype: 'I64', shape: [], data: new Uint8Array([1, 0, 0, 0, 0, 0, 0, 0]) });
  assert.equal(file.metadata.note, 'x');
  // torch's conv1.weight[o=1, i=2, h=3, w=4] is our conv1.weight[h=3, w=4, i=2, o=1].
  const torchConv = toFloat32('conv1.weight', file.tensors.get('conv1.weight')!);
  assert.equal(torchConv[((1 * 3 + 2) * 7 + 3) * 7 + 4], model.read('conv1.weight')[((3 * 7 + 4) * 3 + 2) * 64 + 1]);

  const loaded = loadSafetensorsWeights(bytes, { numClasses: 5 });
  assert.equal(loaded.headReplaced, false);
  for (const spec of model.spec) assert.deepEqual(loaded.model.read(spec.name), model.read(spec.name), spec.name);
  model.dispose();
  loaded.model.dispose();
});

test('a different class count replaces the head and keeps the backbone', () => {
  const model = ResNet18.create({ numClasses: 1000, seed: 1 });
  const loaded = loadSafetensorsWeights(saveSafetensorsWeights(model), { numClasses: 4, seed: 9 });
  assert.equal(loaded.headReplaced, true);
  assert.deepEqual(loaded.model.variable('fc.weight').shape, [512, 4]);
  assert.deepEqual(loaded.model.read('layer4.1.conv2.weight'), model.read('layer4.1.conv2.weight'));
  model.dispose();
  loaded.model.dispose();
});

test('missing, extra and mis-shaped keys are all listed in one error', () => {
  const model = ResNet18.create({ numClasses: 3, seed: 1 });
  const file = decodeSafetensors(saveSafetensorsWeights(model));
  model.dispose();
  file.tensors.delete('layer1.0.bn1.running_var');
  file.tensors.delete('bn1.bias');
  const fcBias = file.tensors.get('fc.bias')!;
  file.tensors.set('module.extra', fcBias);
  file.tensors.set('layer2.0.downsample.0.weight', { dtype: 'F32', shape: [128, 64, 3, 3], data: new Uint8Array(128 * 64 * 9 * 4) });
  const bytes = encodeSafetensors(file.tensors);
  assert.throws(
    () => loadSafetensorsWeights(bytes, { numClasses: 3 }),
    (error: unknown) => {
      assert.ok(error instanceof WeightsMismatchError);
      assert.deepEqual(error.missing, ['bn1.bias', 'layer1.0.bn1.running_var']);
      assert.deepEqual(error.unexpected, ['module.extra']);
      assert.match(error.message, /layer2\.0\.downsample\.0\.weight is \[128,64,3,3\], expected \[128,64,1,1\]/);
      return true;
    },
  );
});
