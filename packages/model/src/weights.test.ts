import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from './backend.js';
import { ResNet18 } from './resnet18.js';
import { decodeSafetensors, encodeSafetensors, toFloat32 } from './safetensors.js';
import type { RawTensor } from './safetensors.js';
import { WeightsMismatchError, loadSafetensorsWeights, permute, saveSafetensorsWeights } from './weights.js';

await initBackend({ log: () => {} }); // RINGTRAIN_BACKEND: the package's test script runs this suite on each backend

test('permute by a permutation and then by its inverse is the identity', () => {
  fc.assert(
    fc.property(
      fc
        .array(fc.integer({ min: 1, max: 4 }), { minLength: 1, maxLength: 4 })
        .chain((shape) =>
          fc.tuple(
            fc.constant(shape),
            fc.shuffledSubarray([...shape.keys()], { minLength: shape.length, maxLength: shape.length })
          )
        ),
      ([shape, perm]) => {
        const values = Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, (_, i) => i);
        const inverse = perm.map((_, i) => perm.indexOf(i));
        const moved = permute(values, shape, perm);
        assert.deepEqual(
          permute(
            moved,
            perm.map((a) => shape[a]!),
            inverse
          ),
          values
        );
      }
    )
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
  assert.deepEqual(file.tensors.get('bn1.num_batches_tracked'), {
    dtype: 'I64',
    shape: [],
    data: new Uint8Array([1, 0, 0, 0, 0, 0, 0, 0])
  });
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

test('transfer learning replaces the head even when the file has as many classes, and keeps the backbone', () => {
  const pretrained = ResNet18.create({ numClasses: 10, seed: 1 });
  const bytes = saveSafetensorsWeights(pretrained);
  const loaded = loadSafetensorsWeights(bytes, { numClasses: 10, replaceHead: true, seed: 9 });
  const fresh = ResNet18.create({ numClasses: 10, seed: 9 });
  assert.equal(loaded.headReplaced, true);
  assert.deepEqual(loaded.model.read('fc.weight'), fresh.read('fc.weight'));
  assert.deepEqual(loaded.model.read('fc.bias'), fresh.read('fc.bias'));
  assert.notDeepEqual(loaded.model.read('fc.weight'), pretrained.read('fc.weight'));
  assert.deepEqual(loaded.model.read('layer4.1.conv2.weight'), pretrained.read('layer4.1.conv2.weight'));
  for (const model of [pretrained, loaded.model, fresh]) model.dispose();
});

test('missing, extra and mis-shaped keys are all listed in one error', () => {
  const model = ResNet18.create({ numClasses: 3, seed: 1 });
  const file = decodeSafetensors(saveSafetensorsWeights(model));
  model.dispose();
  file.tensors.delete('layer1.0.bn1.running_var');
  file.tensors.delete('bn1.bias');
  const fcBias = file.tensors.get('fc.bias')!;
  file.tensors.set('module.extra', fcBias);
  file.tensors.set('layer2.0.downsample.0.weight', {
    dtype: 'F32',
    shape: [128, 64, 3, 3],
    data: new Uint8Array(128 * 64 * 9 * 4)
  });
  const bytes = encodeSafetensors(file.tensors);
  assert.throws(
    () => loadSafetensorsWeights(bytes, { numClasses: 3 }),
    (error: unknown) => {
      assert.ok(error instanceof WeightsMismatchError);
      assert.deepEqual(error.missing, ['bn1.bias', 'layer1.0.bn1.running_var']);
      assert.deepEqual(error.unexpected, ['module.extra']);
      assert.match(error.message, /layer2\.0\.downsample\.0\.weight is \[128,64,3,3\], expected \[128,64,1,1\]/);
      return true;
    }
  );
});

/** A saved model's state dict with `edit` applied to its tensors, encoded again. */
function editedStateDict(
  numClasses: number,
  edit: (tensors: Map<string, RawTensor>) => void
): { model: ResNet18; bytes: Uint8Array } {
  const model = ResNet18.create({ numClasses, seed: 4 });
  tf.tidy(() => model.forward(tf.randomNormal([2, 32, 32, 3], 0, 1, 'float32', 2), { training: true }));
  const file = decodeSafetensors(saveSafetensorsWeights(model));
  edit(file.tensors);
  return { model, bytes: encodeSafetensors(file.tensors) };
}

const withoutBatchCounters = (tensors: Map<string, RawTensor>): void => {
  for (const name of [...tensors.keys()]) if (name.endsWith('.num_batches_tracked')) tensors.delete(name);
};

test('a state dict without num_batches_tracked loads as PyTorch loads it: the counters are 0, every other tensor as saved', () => {
  const { model, bytes } = editedStateDict(3, withoutBatchCounters);
  assert.equal(decodeSafetensors(bytes).tensors.has('bn1.num_batches_tracked'), false);
  const loaded = loadSafetensorsWeights(bytes, { numClasses: 3 });
  for (const spec of model.spec) {
    if (spec.kind === 'bn-num-batches') assert.deepEqual(loaded.model.read(spec.name), Float32Array.of(0), spec.name);
    else assert.deepEqual(loaded.model.read(spec.name), model.read(spec.name), spec.name);
  }
  model.dispose();
  loaded.model.dispose();
});

test('F16 and BF16 tensors load as the float32 values they encode', () => {
  // BF16 everywhere: each float32 cut to its top 16 bits, so the expected value is that float with the low half zeroed.
  const toBf16 = (tensor: RawTensor): RawTensor => {
    const data = new Uint8Array(tensor.data.length / 2);
    for (let i = 0; i < data.length; i += 2) data.set(tensor.data.subarray(i * 2 + 2, i * 2 + 4), i);
    return { dtype: 'BF16', shape: tensor.shape, data };
  };
  // conv1.weight as F16 with known patterns: 1, -0.5, the smallest subnormal 2^-24, 0.333251953125.
  const halves = [0x3c00, 0xb800, 0x0001, 0x3555];
  const halfValues = [1, -0.5, 2 ** -24, 0.333251953125];
  const count = 64 * 3 * 7 * 7;
  const { model, bytes } = editedStateDict(3, (tensors) => {
    withoutBatchCounters(tensors);
    for (const [name, tensor] of tensors) if (tensor.dtype === 'F32') tensors.set(name, toBf16(tensor));
    const data = new Uint8Array(count * 2);
    for (let i = 0; i < count; i++) new DataView(data.buffer).setUint16(i * 2, halves[i % 4]!, true);
    tensors.set('conv1.weight', { dtype: 'F16', shape: [64, 3, 7, 7], data });
  });
  const loaded = loadSafetensorsWeights(bytes, { numClasses: 3 });
  const torchConv1 = Float32Array.from({ length: count }, (_, i) => halfValues[i % 4]!);
  assert.deepEqual(loaded.model.read('conv1.weight'), permute(torchConv1, [64, 3, 7, 7], [2, 3, 1, 0]));
  for (const spec of model.spec) {
    if (spec.name === 'conv1.weight' || spec.kind === 'bn-num-batches') continue;
    const truncated = new Float32Array(model.read(spec.name));
    new Uint32Array(truncated.buffer).forEach((bits, i, all) => (all[i] = bits & 0xffff0000));
    assert.deepEqual(loaded.model.read(spec.name), truncated, spec.name);
  }
  model.dispose();
  loaded.model.dispose();
});

test('without its counters, a state dict missing a conv weight, or with one mis-shaped or of an integer dtype, is still refused', () => {
  const refused = (edit: (tensors: Map<string, RawTensor>) => void): WeightsMismatchError => {
    const { model, bytes } = editedStateDict(3, (tensors) => {
      withoutBatchCounters(tensors);
      edit(tensors);
    });
    model.dispose();
    try {
      loadSafetensorsWeights(bytes, { numClasses: 3 });
    } catch (error) {
      assert.ok(error instanceof WeightsMismatchError);
      return error;
    }
    assert.fail('loaded');
  };
  const missing = refused((tensors) => tensors.delete('layer3.1.conv2.weight'));
  assert.deepEqual(
    [missing.missing, missing.unexpected, missing.misshaped],
    [['layer3.1.conv2.weight'], [], []],
    'only the weight, not the counters'
  );
  assert.match(missing.message, /missing keys: layer3\.1\.conv2\.weight\n/);

  const misshaped = refused((tensors) =>
    tensors.set('layer3.1.conv2.weight', {
      dtype: 'F32',
      shape: [256, 256, 3, 1],
      data: new Uint8Array(256 * 256 * 3 * 4)
    })
  );
  assert.deepEqual(misshaped.missing, []);
  assert.match(
    misshaped.message,
    /mis-shaped tensors: layer3\.1\.conv2\.weight is \[256,256,3,1\], expected \[256,256,3,3\]/
  );

  const integer = refused((tensors) => tensors.set('fc.bias', { dtype: 'I32', shape: [3], data: new Uint8Array(12) }));
  assert.match(integer.message, /tensors of the wrong dtype: fc\.bias is I32, expected F32, F16, BF16 or F64/);
});
