import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from './backend.js';
import { ResNet18 } from './resnet18.js';
import { loadTfjsModel, saveTfjsModel } from './tfjs-model.js';

await initBackend({ log: () => {} }); // RINGTRAIN_BACKEND: the package's test script runs this suite on each backend

test('a TensorFlow.js model directory round-trips every tensor, and tf.io reads its manifest', async () => {
  const model = ResNet18.create({ numClasses: 3, seed: 4 });
  const files = saveTfjsModel(model, ['cat', 'dog', 'eel']);
  assert.deepEqual(JSON.parse(new TextDecoder().decode(files.get('labels.json'))), ['cat', 'dog', 'eel']);
  const manifest = JSON.parse(new TextDecoder().decode(files.get('model.json')))
    .weightsManifest as tf.io.WeightsManifestConfig;
  assert.ok(manifest[0]!.paths.length > 1);
  for (const path of manifest[0]!.paths) assert.ok(files.get(path)!.length <= 4 * 1024 * 1024);
  // tfjs's own decoder agrees on names, shapes and values.
  const shards = manifest[0]!.paths.map((path) => files.get(path)!);
  const joined = new Uint8Array(shards.reduce((n, s) => n + s.length, 0));
  shards.reduce((at, s) => (joined.set(s, at), at + s.length), 0);
  const decoded = tf.io.decodeWeights(joined.buffer, manifest[0]!.weights);
  assert.deepEqual(decoded['layer4.1.conv2.weight']!.dataSync(), model.read('layer4.1.conv2.weight'));
  tf.dispose(Object.values(decoded));

  const loaded = loadTfjsModel(files);
  for (const spec of model.spec) assert.deepEqual(loaded.read(spec.name), model.read(spec.name), spec.name);
  files.delete(manifest[0]!.paths[1]!);
  assert.throws(() => loadTfjsModel(files), /missing weight shard group1-shard2of/);
  assert.throws(() => saveTfjsModel(model, ['a']), /1 labels for a model with 3 classes/);
  model.dispose();
  loaded.dispose();
});
